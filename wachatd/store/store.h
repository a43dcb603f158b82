/*
 * store: where wachatd keeps things in Redis: the key of each thing, and
 * (scripts.h) the scripts that change a conversation.
 */

#ifndef WACHAT_STORE_H
#define WACHAT_STORE_H

#include "clients/redis.h"


/*
 * Keys.  One conversation = one business number + one customer; all its
 * keys carry the hash tag {<phone_number_id>:<customer>}, so they share a
 * Redis Cluster slot.  The conversation scripts (scripts.h) also touch a
 * few shared keys (the ready set, the stream, the live feed, the number's
 * rate bucket) in the same atomic step: Redis Cluster is not a target
 * (Sentinel is, for high availability), a single primary takes the load.
 */
#define WACHAT_KEY_MAX  512

void wachat_store_key_conv(char *buf, const char *conv_id);    /* hash  */
void wachat_store_key_hist(char *buf, const char *conv_id);    /* stream */
void wachat_store_key_status(char *buf, const char *conv_id);  /* hash  */
void wachat_store_key_inbox(char *buf, const char *conv_id);   /* zset  */
void wachat_store_key_outq(char *buf, const char *conv_id);    /* list  */
void wachat_store_key_lease(char *buf, const char *conv_id);   /* string */

/*
 * The wamids (or stream ids) committed in a conversation, scored by when:
 * a redelivery finds its own and adds nothing.  Kept for the dedup TTL,
 * and at most WACHAT_DONE_MAX of them, so one customer's messages cost one
 * key of bounded size rather than one key each.
 */
void wachat_store_key_done(char *buf, const char *conv_id);    /* zset */
#define WACHAT_DONE_MAX  1000

/* the business number's send-rate bucket: one per number, all its customers */
void wachat_store_key_rate(char *buf, const char *conv_id);   /* hash */

#define WACHAT_KEY_READY   "wachat:ready"       /* set of conv ids with work */
#define WACHAT_KEY_CONVS   "wachat:convs"       /* zset conv id -> last ms */
#define WACHAT_KEY_FEED     "wachat:feed"        /* the consoles' live feed */
#define WACHAT_FEED_MAXLEN  10000
#define WACHAT_KEY_DEAD    "wachat:dead"        /* stream of failed sends */


/*
 * A history entry's time in ms (its XRANGE field/value array): inbound
 * entries carry WhatsApp's seconds, everything else ours in ms.  0: none.
 */
long long wachat_store_entry_ms(const redisReply *kv);


#endif /* WACHAT_STORE_H */
