/*
 * conv: processes conversations, one at a time each, in stream order.
 *
 * A conversation is worked on by the consumer that holds its lease (a Redis
 * key with an expiry).  The worker first delivers what was committed but
 * not yet sent (its outbound queue), then takes the inbox head: a message
 * is answered and the inbound record, the reply and the "done" marker of
 * its wamid are committed by one script; a status updates the history
 * monotonically.  A second delivery of one wamid finds the marker and adds
 * nothing; a worker that crashed is replaced when its lease expires, and
 * the replacement resends only what was committed and not recorded as sent.
 */

#ifndef WACHAT_CONV_H
#define WACHAT_CONV_H

#include <event2/event.h>

#include "agents/notify.h"
#include "lib/config.h"
#include "answer/guard.h"
#include "answer/kb.h"
#include "clients/graph.h"
#include "clients/llm.h"
#include "answer/kb_embed.h"
#include "clients/stt.h"
#include "send/outbound.h"
#include "store/media.h"
#include "store/store.h"
#include "conversation/stream.h"


typedef struct wachat_engine_s  wachat_engine_t;


/* a conversation's lease: renewed at every step, a third of it when busy */
#define WACHAT_ENGINE_LEASE_MS  60000


#define WACHAT_LLM_BUCKETS  9

typedef struct {
    unsigned long long  answered;       /* messages committed with a reply */
    unsigned long long  silent;         /* committed without a reply */
    unsigned long long  duplicates;     /* already done */
    unsigned long long  statuses;
    unsigned long long  sent;
    unsigned long long  retried;
    unsigned long long  dead;
    unsigned long long  handoffs;
    unsigned long long  withheld;       /* over a customer's limit */
    /* replies by where they came from */
    unsigned long long  from_kb;
    unsigned long long  from_llm;
    unsigned long long  from_fallback;
    /* customers' media items: kept, failed for good, retries */
    unsigned long long  media_kept;
    unsigned long long  media_failed;
    unsigned long long  media_retries;
    unsigned long long  transcribed;
    unsigned long long  transcribe_failed;
    /* the model: calls, failures, latency histogram (cumulative at output) */
    unsigned long long  llm_calls;
    unsigned long long  llm_failures;
    unsigned long long  llm_ms_sum;
    unsigned long long  llm_le[WACHAT_LLM_BUCKETS];
    /* model answers the guard refused, by wachat_guard_e */
    unsigned long long  llm_refused[WACHAT_GUARD_NREASONS];
    /*
     * hybrid retrieval (embed_url): the KB's vectors; questions embedded,
     * failed; questions ranked by words alone though embed_url is set
     * (the endpoint failed, or the KB is not embedded yet)
     */
    wachat_kb_embed_stats_t  kbvec;
    unsigned long long  embedded;
    unsigned long long  embed_failed;
    unsigned long long  embed_lexical;
    /*
     * conversations' store scripts that failed, each tried again with
     * backoff: on the conversation's own data (a key of the wrong type),
     * or Redis' (down, a replica short); and the conversations waiting
     * for such a retry now (a gauge)
     */
    unsigned long long  store_refused;
    unsigned long long  store_failed;
    unsigned long long  store_backoff;
} wachat_engine_stats_t;


/* upper bounds of the LLM latency buckets, in ms (the last is +Inf) */
extern const long  wachat_engine_llm_buckets_ms[WACHAT_LLM_BUCKETS];


wachat_engine_t *wachat_engine_new(struct event_base *base,
    wachat_redis_t *store, wachat_outbound_t *ob, const char *owner);
void wachat_engine_free(wachat_engine_t *en);

/* the current config and KB; both must live until the next call */
void wachat_engine_configure(wachat_engine_t *en,
    const wachat_config_t *cfg, const wachat_kb_t *kb);
void wachat_engine_set_stream(wachat_engine_t *en, wachat_stream_t *s);

/*
 * The customers' media: the Graph client that downloads them (NULL: no
 * token, every download is recorded as failed), the local store (NULL:
 * none could be opened) and the transcription client (NULL: no stt_url);
 * the clients are replaced on reload.
 */
void wachat_engine_set_media(wachat_engine_t *en, wachat_graph_t *graph,
    wachat_media_store_t *store, wachat_stt_t *stt);

/* the openai backend's client (NULL: kb only); replaced on reload */
void wachat_engine_set_llm(wachat_engine_t *en, wachat_llm_t *llm);

/*
 * The embeddings client (NULL: no embed_url), replaced on reload: the
 * vectors of the current KB are computed again (those of unchanged
 * entries come from the cache).  After wachat_engine_configure().
 */
void wachat_engine_set_embed(wachat_engine_t *en, wachat_embed_t *embed);

/*
 * What ranks questions by meaning for kb, as the engine ranks them: its
 * embeddings client into *embed and the KB's vectors; NULL while there
 * are none (no embed_url, not yet computed, another KB).
 */
const wachat_kb_vectors_t *wachat_engine_vectors(wachat_engine_t *en,
    const wachat_kb_t *kb, wachat_embed_t **embed);

/* what checks the model's answers; without one the model is not asked */
void wachat_engine_set_guard(wachat_engine_t *en, wachat_guard_t *guard);

/* who to tell about hand-overs and new chats (NULL: nobody) */
void wachat_engine_set_notify(wachat_engine_t *en, wachat_notify_pt notify,
    void *data);

/* after a reload: retry what waits on a timer now */
void wachat_engine_kick(wachat_engine_t *en);

/* before freeing the HTTP client at exit: its callbacks must do nothing */
void wachat_engine_close(wachat_engine_t *en);

/* stream callback: the conversation may have work */
void wachat_engine_work(void *en, const char *conv_id);

/* stream callback: the transfer took the conversation for us, with peek */
void wachat_engine_take(void *en, const char *conv_id, redisReply *peek);

/* the limits the conversations' scripts apply, kept across reloads */
const wachat_limits_t *wachat_engine_limits(wachat_engine_t *en);

/* shutdown: take no new conversation; how many are still in flight */
void wachat_engine_drain(wachat_engine_t *en);
size_t wachat_engine_active(wachat_engine_t *en);

const wachat_engine_stats_t *wachat_engine_stats(wachat_engine_t *en);


#endif /* WACHAT_CONV_H */
