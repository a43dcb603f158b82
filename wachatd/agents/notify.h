/*
 * notify: e-mail notifications to agents (the mailer).  Who gets what:
 * agents declared with notify=on, when a customer asks for a person and
 * nobody is online (WACHAT_NOTIFY_WAITING), and when a new customer starts
 * a chat (WACHAT_NOTIFY_NEW_CHAT).  At most one e-mail per conversation
 * per notify_period; a conversation still waiting after the period is
 * notified again.
 *
 * The e-mails go out through the SMTP client (clients/smtp.h), retried,
 * and never in the way of a conversation: a failed e-mail is logged,
 * nothing else.
 */

#ifndef WACHAT_NOTIFY_H
#define WACHAT_NOTIFY_H

#include <event2/event.h>

#include "lib/config.h"
#include "store/store.h"


typedef struct wachat_notify_s  wachat_notify_t;


/* what the agents may want an e-mail about (the conversations tell) */
typedef enum {
    WACHAT_NOTIFY_WAITING = 0,      /* asks for a person, nobody online */
    WACHAT_NOTIFY_NEW_CHAT          /* a customer writes for the first time */
} wachat_notify_e;

typedef void (*wachat_notify_pt)(void *data, wachat_notify_e what,
    const char *conv_id);


/* NULL when smtp_url is empty: notifications are off */
wachat_notify_t *wachat_notify_new(struct event_base *base, wachat_redis_t *st,
    const wachat_config_t *cfg);
void wachat_notify_reload(wachat_notify_t *m, const wachat_config_t *cfg);
void wachat_notify_free(wachat_notify_t *m);

/* a wachat_notify_pt for wachat_engine_set_notify(): data is the mailer */
void wachat_notify_send(void *data, wachat_notify_e what,
    const char *conv_id);

/* called every few seconds: conversations still waiting after the period */
void wachat_notify_tick(wachat_notify_t *m);


#endif /* WACHAT_NOTIFY_H */
