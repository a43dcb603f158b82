/*
 * wachat smtp: an SMTP client on the daemon's event loop.
 *
 * Each message goes to one recipient as its own libcurl SMTP transfer,
 * through an HTTP client instance of its own (wachat_http_transfer()): a
 * slow or dead mail server never takes a slot that other calls wait for,
 * and wachat_smtp_free() cancels its own transfers only.  A failed attempt
 * is tried again after a back-off (1 s, then 3 s), unless the server gave
 * its final word (a 5xx reply); the result is reported once.
 *
 * It knows servers, addresses and messages; whom a message is for and why
 * is the caller's business.  wachat_smtp_format() builds the RFC 5322
 * message: a non-ASCII subject becomes RFC 2047 encoded words, the text is
 * sent quoted-printable, so no byte of it can end a header line or the
 * message.
 *
 * Callback contract: done is called exactly once for every message
 * wachat_smtp_send() accepted (WACHAT_SMTP_OK), never from inside
 * wachat_smtp_send() itself; wachat_smtp_free() calls it, failed, for
 * everything still in flight or waiting for a retry.
 */

#ifndef WACHAT_SMTP_H
#define WACHAT_SMTP_H

#include <stddef.h>

struct event_base;


#define WACHAT_SMTP_ATTEMPTS     3
#define WACHAT_SMTP_MAX_QUEUED   256        /* in flight or being retried */


typedef struct wachat_smtp_s  wachat_smtp_t;


/* The server messages are sent with; strings are copied. */
typedef struct {
    const char  *url;           /* smtp:// or smtps://; NULL or "": none */
    const char  *from;          /* bare address */
    const char  *user;          /* NULL or "": no authentication */
    const char  *password;
} wachat_smtp_conf_t;


typedef enum {
    WACHAT_SMTP_OK = 0,         /* accepted: done will be called */
    WACHAT_SMTP_ENOSERVER,      /* no usable server configured */
    WACHAT_SMTP_EFULL,          /* WACHAT_SMTP_MAX_QUEUED already */
    WACHAT_SMTP_ENOMEM,
    WACHAT_SMTP_ESTART          /* the first transfer could not start */
} wachat_smtp_rc_e;


/* In a done callback the strings live only during the call. */
typedef struct {
    int          ok;
    int          attempts;
    const char  *error;         /* why not; "" when ok */
    long         code;          /* the server's last reply code, 0: none */
} wachat_smtp_result_t;


typedef void (*wachat_smtp_done_pt)(void *data,
    const wachat_smtp_result_t *res);


/* One message, for wachat_smtp_format(). */
typedef struct {
    const char  *from;          /* bare addresses */
    const char  *to;
    const char  *subject;       /* UTF-8 */
    const char  *text;          /* UTF-8 with LF line ends */
    size_t       text_len;
    long long    now_ms;        /* its Date and Message-ID */
} wachat_smtp_msg_t;


/* 1 when an address can go into a header and an SMTP command */
int wachat_smtp_address_ok(const char *address);

/*
 * The message with CRLF line ends, malloc'ed (*len bytes); NULL when out
 * of memory.
 */
char *wachat_smtp_format(const wachat_smtp_msg_t *msg, size_t *len);


wachat_smtp_t *wachat_smtp_new(struct event_base *base,
    size_t max_concurrent);

/*
 * The server for the messages sent from now on; those already queued keep
 * the one they were queued with.  0; -1 out of memory, -2 a from address
 * that is not usable (wachat_smtp_address_ok()): no server then.
 */
int wachat_smtp_configure(wachat_smtp_t *smtp, const wachat_smtp_conf_t *conf);

/* the server's URL and from address; NULL when there is none */
const char *wachat_smtp_url(const wachat_smtp_t *smtp);
const char *wachat_smtp_from(const wachat_smtp_t *smtp);

/* messages in flight or waiting for a retry */
size_t wachat_smtp_queued(const wachat_smtp_t *smtp);

/*
 * Sends msg (len bytes, from wachat_smtp_format()) to the bare address to.
 * Takes msg: it is freed in any case.
 */
wachat_smtp_rc_e wachat_smtp_send(wachat_smtp_t *smtp, const char *to,
    char *msg, size_t len, wachat_smtp_done_pt done, void *data);

/* Cancels everything (done: failed) and frees. */
void wachat_smtp_free(wachat_smtp_t *smtp);


#endif /* WACHAT_SMTP_H */
