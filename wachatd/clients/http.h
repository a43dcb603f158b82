/*
 * wachat http: non-blocking HTTP client on the daemon's one event loop.
 *
 * libcurl's multi interface driven by libevent: curl tells us which sockets
 * to watch and when to wake it (socket and timer callbacks), libevent calls
 * back, curl_multi_socket_action() moves the transfers on.  Nothing here ever
 * blocks, so a 30 s LLM call holds up nothing but its own caller.
 *
 * At most max_concurrent transfers run at once; the rest wait in a FIFO
 * queue and start, in order, as running ones finish.
 *
 * Callback contract: done is called exactly once for every request that
 * wachat_http_request() accepted (returned 0), never from inside
 * wachat_http_request() itself, and never for a refused request (-1).
 * wachat_http_free() calls done with WACHAT_HTTP_ECANCELLED for everything
 * still running or queued, so callers can always release their data there.
 */

#ifndef WACHAT_HTTP_H
#define WACHAT_HTTP_H

#include <stddef.h>
#include <stdio.h>

struct event_base;


/* Responses larger than this are refused (WACHAT_HTTP_ETOOBIG). */
#define WACHAT_HTTP_MAX_BODY      (1024 * 1024)

/* Used when max_concurrent is 0. */
#define WACHAT_HTTP_CONCURRENCY   64


typedef struct wachat_http_s  wachat_http_t;


typedef enum {
    WACHAT_HTTP_DONE = 0,       /* a response came: look at status */
    WACHAT_HTTP_ETIMEOUT,       /* timeout_ms passed first */
    WACHAT_HTTP_ECONNECT,       /* could not resolve or connect */
    WACHAT_HTTP_ETOOBIG,        /* body above the limit: discarded */
    WACHAT_HTTP_ECANCELLED,     /* wachat_http_free() while pending */
    WACHAT_HTTP_EFAILED         /* anything else curl reported */
} wachat_http_err_e;


typedef struct {
    const char          *method;    /* "GET", "POST", ...; NULL: GET */
    const char          *url;
    /* "Name: value" lines, NULL-terminated; NULL for none */
    const char *const   *headers;
    const char          *body;      /* sent as is; NULL: no body */
    size_t               body_len;
    long                 timeout_ms;    /* whole transfer; 0: 30 s */
    /*
     * The body of the answer goes to sink instead of memory when sink is
     * set (a media file: the caller opened it, and closes it after done);
     * resp->body is then "" and resp->body_len the bytes written.
     * max_body: the largest answer taken, 0: WACHAT_HTTP_MAX_BODY.
     */
    FILE                *sink;
    size_t               max_body;
} wachat_http_req_t;


typedef struct {
    wachat_http_err_e    error;     /* not DONE: status/body unusable */
    long                 status;    /* HTTP status; 0 if none */
    const char          *body;      /* NUL-terminated, never NULL */
    size_t               body_len;
    const char          *error_text;    /* "" when error is DONE */
    long                 total_ms;  /* start of transfer to its end */
    long                 queued_ms; /* time spent waiting for a slot */
} wachat_http_resp_t;


/* resp and everything it points to live only during the call. */
typedef void (*wachat_http_done_pt)(void *data,
    const wachat_http_resp_t *resp);


wachat_http_t *wachat_http_new(struct event_base *base,
    size_t max_concurrent);

/*
 * Everything in req is copied: the caller may free it on return.  The
 * timeout counts from when the transfer starts, not from queueing, and
 * not while the loop is held up (see http_xfer.c: wachat_http_on_deadline).
 * Returns 0 when accepted, -1 on bad input, out of memory or while
 * wachat_http_free() runs.
 */
int wachat_http_request(wachat_http_t *http, const wachat_http_req_t *req,
    wachat_http_done_pt done, void *data);

/*
 * A transfer of another protocol (an SMTP delivery) on the same loop, under
 * the same callback contract.  setup(data, easy) sets the protocol's
 * options on the CURL easy handle (void * here, so this header needs no
 * curl.h): URL, CURLOPT_PROTOCOLS_STR, upload and the like; it returns 0,
 * or -1 to refuse the request.  It runs before wachat_http_transfer()
 * returns.  This module then sets what it owns: timeout_ms (0: 30 s) with
 * the connect timeout, no signals, its private pointer, error buffer and
 * write callback (a reply body, if any, up to the limit).  Nothing is
 * copied: what setup handed to curl must live until done.  In done,
 * resp->status is curl's CURLINFO_RESPONSE_CODE: for SMTP, the last reply
 * code (e.g. 250, 451, 550).
 */
typedef int (*wachat_http_setup_pt)(void *data, void *easy);

int wachat_http_transfer(wachat_http_t *http, long timeout_ms,
    wachat_http_setup_pt setup, wachat_http_done_pt done, void *data);

/* Transfers running and queued: lets a shutdown wait for a drain. */
size_t wachat_http_running(const wachat_http_t *http);
size_t wachat_http_queued(const wachat_http_t *http);

/*
 * Cancels everything (done gets WACHAT_HTTP_ECANCELLED, in start order,
 * then queue order) and frees.  Must not be called from a done callback.
 */
void wachat_http_free(wachat_http_t *http);

/* "done", "timeout", ... for logs */
const char *wachat_http_err_name(wachat_http_err_e err);


/* --- for the JSON API clients on top (graph.c, llm.c) ------------------- */

/*
 * 0 when s is non-empty printable ASCII without spaces: fits a header line
 * and a URL path; -1 otherwise (also for NULL).
 */
int wachat_http_check_token(const char *s);

/* "Authorization: Bearer <token>", malloc'ed; NULL when out of memory */
char *wachat_http_bearer(const char *token);

/* wipes the header (the token should not linger in freed memory), frees */
void wachat_http_bearer_free(char *header);

/* an OpenAI-compatible endpoint (llm.c, stt.c, embed.c): our copies */
typedef struct {
    char  *endpoint;    /* url + path, one slash whatever the config says */
    char  *model;
    char  *auth;        /* wachat_http_bearer(key); NULL: no key */
} wachat_http_api_t;

/*
 * Such an endpoint's config checked: NULL when it will do, else why, naming
 * the keys <name>_url and <name>_model and "the <what> key" (a static
 * buffer, good until the next call).
 */
const char *wachat_http_api_check(const char *name, const char *what,
    const char *url, const char *model, const char *key);

/* url, model and key (NULL or "": none) copied; 0, or -1 out of memory */
int wachat_http_api_init(wachat_http_api_t *api, const char *url,
    const char *path, const char *model, const char *key);
void wachat_http_api_free(wachat_http_api_t *api);


#endif /* WACHAT_HTTP_H */
