/*
 * stream_int: the stream reader's private parts, shared by stream.c (start,
 * stop, the read loop on its link, the group, the scan), stream_batch.c
 * (a batch into the inboxes, what belongs to none set aside) and
 * stream_pending.c (reclaim, the settled check, trim).
 */

#ifndef WACHAT_STREAM_INT_H
#define WACHAT_STREAM_INT_H

#include <event2/event.h>

#include "clients/redis_link.h"
#include "conversation/stream.h"
#include "store/scripts.h"


#define WACHAT_TRIM_MS        10000
#define WACHAT_READ_BLOCK_MS  2000


struct wachat_stream_s {
    struct event_base          *base;
    wachat_redis_t             *store;
    wachat_stream_conf_t        conf;
    wachat_redis_link_t         link;       /* the blocking reads */
    struct event               *reclaim;
    struct event               *scan;
    struct event               *trim;
    struct event               *watchdog;
    int                         stopping;
    int                         reading;
    int                         caught_up;  /* the backlog read at start */
    int                         own;        /* reading this consumer's
                                               pending entries again */
    char                        own_after[64];  /* from this id on */
    wachat_stream_stats_t       stats;
};


/* stream.c */

void wachat_stream_arm(struct event *ev, int ms);


/* stream_batch.c */

/*
 * The entries of one XREADGROUP or XAUTOCLAIM reply, into the inboxes.
 * -1: some stay pending, for a reason a later try may pass (Redis' answer,
 * a key every transfer writes); they are this consumer's to read again.
 */
int wachat_stream_entries(wachat_stream_t *s, const redisReply *entries);

/*
 * The ids XAUTOCLAIM names as deleted while pending (Redis 7 takes them off
 * the pending list and returns them apart): each set aside in the parked
 * stream, with nothing but its id and why.
 */
void wachat_stream_deleted(wachat_stream_t *s, const redisReply *ids);


/* stream_pending.c: the timers' callbacks */

void wachat_stream_on_reclaim(evutil_socket_t fd, short what, void *arg);
void wachat_stream_on_trim(evutil_socket_t fd, short what, void *arg);

/* the entry id is pending in the group: 1, 0, or -1 on a Redis error */
int wachat_stream_is_pending(wachat_stream_t *s, const char *id);

/* a consumer that holds nothing leaves the group (1 gone, 0 not, -1) */
int wachat_stream_forget_consumer(wachat_stream_t *s, const char *name);


#endif /* WACHAT_STREAM_INT_H */
