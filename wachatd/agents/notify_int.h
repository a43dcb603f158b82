/*
 * notify internals shared by notify.c (who gets an e-mail about one
 * conversation, the mailer), notify_compose.c (the e-mail's text),
 * notify_queue.c (the e-mail handed to the SMTP client) and
 * notify_digest.c (many conversations in one e-mail).
 */

#ifndef WACHAT_NOTIFY_INT_H
#define WACHAT_NOTIFY_INT_H

#include "agents/notify.h"
#include "clients/smtp.h"
#include "lib/buf.h"


#define WACHAT_NOTIFY_CONCURRENCY   4
#define WACHAT_NOTIFY_HISTORY       5       /* last messages in the body */
#define WACHAT_NOTIFY_TICK_SCAN     100     /* waiting ones looked at */
#define WACHAT_NOTIFY_TICK_SEND     10      /* reminders per tick, at most */
#define WACHAT_NOTIFY_NAME_MAX      64      /* bytes of a customer's name */
#define WACHAT_NOTIFY_TEXT_MAX      600     /* bytes of one message shown */


typedef struct {
    char  *id;
    char  *email;
    int    policy;                  /* wachat_notify_policy_e, not off */
} wachat_notify_agent_t;


/* one e-mail in the SMTP client's hands: what its log line says */
typedef struct {
    char        *to;
    char        *conv_id;
    const char  *what;              /* "asks for a person", ... */
} wachat_notify_job_t;


/* what the customer's conversation hash says, sanitised for the e-mail */
typedef struct {
    char        name[WACHAT_NOTIFY_NAME_MAX + 8];
    char        number[72];         /* "+16505551234" or a user id */
    char        mode[32];
    long long   last_in_ms;         /* 0: unknown */
    long long   waiting_since_ms;   /* 0: unknown */
} wachat_notify_conv_t;


struct wachat_notify_s {
    wachat_redis_t          *st;
    wachat_smtp_t           *smtp;
    const wachat_config_t   *cfg;       /* who is online; reload swaps it */
    wachat_notify_agent_t   *agents;    /* those with notify on */
    size_t                   nagents;
    char                    *console_url;
    long long                period_ms;
    long long                window_ms;
    long long                digest_period_ms;
    int                      digest_after;
    long                     tick_from; /* where the next tick looks */
};


/* notify_compose.c */

/* the conversation id as one URL fragment segment */
void wachat_notify_add_url(wachat_buf_t *b, const char *s);
void wachat_notify_add_duration(wachat_buf_t *b, long long ms);
/* "Sheena Nelson (+16505551234)", or just the number without a name */
void wachat_notify_add_customer(wachat_buf_t *b,
    const wachat_notify_conv_t *c);
/* the conversation hash, sanitised; -1 when it cannot be read */
int wachat_notify_load(wachat_notify_t *m, const char *conv_id,
    wachat_notify_conv_t *c);
/* the part every agent's copy shares, as plain UTF-8 with LF line ends */
void wachat_notify_body(wachat_notify_t *m, wachat_buf_t *b,
    const char *conv_id, const wachat_notify_conv_t *c, wachat_notify_e what,
    int still, long long now);
/* "[wachat] ", the customer, and what: a new chat, a hand-over, a reminder */
void wachat_notify_subject(wachat_buf_t *b, const wachat_notify_conv_t *c,
    wachat_notify_e what, int still);
/* the body with this agent's signature; NULL when out of memory */
char *wachat_notify_message(wachat_notify_t *m,
    const wachat_notify_agent_t *a, const char *subject,
    const wachat_buf_t *body, long long now, size_t *len);


/* notify_queue.c */

/* hands msg (freed in any case) to the SMTP client */
void wachat_notify_queue(wachat_notify_t *m, const wachat_notify_agent_t *a,
    const char *conv_id, const char *what, char *msg, size_t len);


/* notify_digest.c */

/*
 * Whether this e-mail to the agent goes now (1) or into its digest (0):
 * past notify_digest_after e-mails within notify_digest_period the rest
 * wait for one e-mail at the end of the period.  Redis failing: now.
 */
int wachat_notify_gate(wachat_notify_t *m, const wachat_notify_agent_t *a,
    const char *kind, const char *conv_id);
/* every tick: the digests whose period is over */
void wachat_notify_digests(wachat_notify_t *m);


#endif /* WACHAT_NOTIFY_INT_H */
