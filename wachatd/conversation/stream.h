/*
 * stream: reads the webhook stream as one consumer of the group and moves
 * each event into its conversation's inbox, then acknowledges it.
 *
 * Why inboxes: several wachatd may share the group, and XREADGROUP hands
 * consecutive events of one conversation to different consumers.  An event
 * is acknowledged only once it sits in the inbox (a sorted set ordered by
 * stream id), and a conversation's head is processed only when no older
 * event of the same conversation is still pending in the group, so the
 * order of a conversation never depends on who read what.
 */

#ifndef WACHAT_STREAM_H
#define WACHAT_STREAM_H

#include <event2/event.h>

#include "store/scripts.h"


typedef struct wachat_stream_s  wachat_stream_t;

/* a conversation may have work: try to process it */
typedef void (*wachat_stream_work_pt)(void *data, const char *conv_id);


/*
 * A conversation of a batch that nobody held was taken for this consumer
 * by the transfer itself: peek is its first step (the callee owns it).
 */
typedef void (*wachat_stream_take_pt)(void *data, const char *conv_id,
    redisReply *peek);


typedef struct {
    const char             *stream;
    const char             *group;
    const char             *consumer;
    int                     claim_idle_ms;  /* reclaim a dead reader's */
    int                     scan_ms;        /* look for orphaned work */
    int                     lease_ms;       /* of a conversation taken */
    const wachat_limits_t  *limits;         /* the peeks' limits */
    wachat_stream_work_pt   work;
    wachat_stream_take_pt   take;
    void                   *data;
} wachat_stream_conf_t;


/* the reader's link keeps addr: it must outlive the stream */
wachat_stream_t *wachat_stream_start(struct event_base *base,
    wachat_redis_t *store, const wachat_redis_addr_t *addr,
    const wachat_stream_conf_t *conf, char *err, size_t errlen);

/*
 * The credentials in that addr changed (a reload): the read in flight is
 * dropped and sent again at once on a new connection that uses them.
 * Nothing is lost: it reads with ">", so what Redis has not handed out
 * stays in the stream, and what it handed out as the connection went stays
 * pending for this consumer, taken back after claim_idle.
 */
void wachat_stream_reauth(wachat_stream_t *s);

/* stop reading new events (shutdown); what is read is transferred */
void wachat_stream_stop(wachat_stream_t *s);
void wachat_stream_free(wachat_stream_t *s);

/*
 * 1 if no event of this conversation older than stream_id is still pending
 * in the group, i.e. nothing of it can come before this event any more;
 * 0 if it must wait; -1 on a Redis error.
 */
int wachat_stream_is_settled(wachat_stream_t *s, const char *stream_id,
    const char *conv_id);

/* counters for logs and metrics */
typedef struct {
    unsigned long long  read;
    unsigned long long  transferred;
    unsigned long long  ignored;        /* kind=other and foreign */
    unsigned long long  reclaimed;
    unsigned long long  parked;         /* their own transfer failed */
    unsigned long long  confirmed;      /* replies recorded as sent from
                                           Meta's status (their send's
                                           answer was lost) */
} wachat_stream_stats_t;

const wachat_stream_stats_t *wachat_stream_stats(wachat_stream_t *s);


#endif /* WACHAT_STREAM_H */
