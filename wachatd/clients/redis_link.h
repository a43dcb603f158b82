/*
 * redis_link: an asynchronous Redis connection on the event loop, for the
 * blocking reads (the webhook stream's XREADGROUP, the live feed's XREAD):
 * connects with AUTH and SELECT, says when it went down, and reconnects
 * after a pause when its user asks again.  The pause starts at
 * WACHAT_REDIS_RETRY_MS and doubles with each failure in a row, up to
 * WACHAT_REDIS_RETRY_MAX_MS (redis.h); an AUTH or SELECT that Redis refuses
 * is logged (once per try) and ends the connection, so the same pause
 * applies.  The pause starts over once the user's command had an answer
 * that is no error (wachat_redis_link_ok).
 *
 * A blocking read holds its connection, so each reader has its own link;
 * the short commands of the processing path use the synchronous one
 * (clients/redis.h).  Command callbacks find ac->data NULL while a link is
 * being freed: they must then do nothing.
 */

#ifndef WACHAT_REDIS_LINK_H
#define WACHAT_REDIS_LINK_H

#include <event2/event.h>
#include <hiredis/async.h>

#include "clients/redis.h"


/* the link went down (its reads are gone) / the pause is over */
typedef void (*wachat_link_pt)(void *data);


typedef struct {
    struct event_base          *base;
    const wachat_redis_addr_t  *addr;
    const char                 *name;       /* in the log: "stream" */
    wachat_link_pt              down;
    wachat_link_pt              retry;
    void                       *data;
    redisAsyncContext          *ac;         /* NULL while down */
    struct event               *timer;
    int                         retry_ms;   /* the next pause; 0: the first */
    int                         pause_ms;   /* the one armed last */
    int                         refused;    /* AUTH or SELECT refused: said */
    int                         closing;
} wachat_redis_link_t;


int wachat_redis_link_init(wachat_redis_link_t *l, struct event_base *base,
    const wachat_redis_addr_t *addr, const char *name, wachat_link_pt down,
    wachat_link_pt retry, void *data);

/* the context, connecting first if needed; NULL while down */
redisAsyncContext *wachat_redis_link_get(wachat_redis_link_t *l);

/* 1 while a reconnect waits for its pause */
int wachat_redis_link_waiting(wachat_redis_link_t *l);

/*
 * retry() after the pause (an error reply to back off from); a pause
 * already running is kept.  Each one is longer than the last until
 * wachat_redis_link_ok().
 */
void wachat_redis_link_pause(wachat_redis_link_t *l);

/*
 * The user's command had an answer that is no error: the next pause is
 * the first again.  Not on the setup's answers: a link whose AUTH passes
 * but whose reads fail (an ACL user without XREADGROUP, a replica's
 * READONLY) must back off too, not reconnect every second for ever.
 */
void wachat_redis_link_ok(wachat_redis_link_t *l);

/*
 * Close after the commands sent (down() follows), to reconnect after the
 * pause; last: for good (shutdown), quietly.  Or at once: drop.
 */
void wachat_redis_link_disconnect(wachat_redis_link_t *l, int last);
void wachat_redis_link_drop(wachat_redis_link_t *l);

/*
 * The credentials in the addr the link was given changed (a reload): a
 * connection is freed now, as by drop (down() follows; a blocking read in
 * flight gets no answer, so it must be one that can be sent again), and
 * retry() is called from the loop at once, not after a pause: a pause
 * already running is cut short and the next one is the first again.  A
 * link that is down and not waiting (nobody reads) stays so: its next
 * connect uses them.
 */
void wachat_redis_link_renew(wachat_redis_link_t *l);

/* shutdown: freed at once, no callback, no reconnect */
void wachat_redis_link_close(wachat_redis_link_t *l);


#endif /* WACHAT_REDIS_LINK_H */
