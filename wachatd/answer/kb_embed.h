/*
 * kb_embed: the knowledge base's entry vectors (kb_vec.h), computed by the
 * embeddings endpoint when a KB is loaded or reloaded, on the event loop,
 * and cached in Redis by content so that a reload or a restart embeds
 * only the entries that changed.
 *
 * The cache is one hash, WACHAT_KB_EMBED_KEY: field the hex SHA-256 of
 * the model's name and the entry's text (wachat_kb_vec_key), value the
 * vector as dim floats (4 bytes each, this machine's order).  Once every
 * entry has its vector the fields no entry of this KB names are deleted,
 * so the hash holds one field per entry of the KB loaded last.
 *
 * Until every entry has its vector (the endpoint down, slow, or answering
 * nonsense) wachat_kb_embed_vectors() gives NULL and questions are ranked
 * by words alone; a failed round is tried again after 5 s, then 10, 20...
 * at most every 5 minutes.  The failure is logged once at warning, the
 * recovery at notice.
 */

#ifndef WACHAT_KB_EMBED_H
#define WACHAT_KB_EMBED_H

#include "answer/kb_vec.h"
#include "clients/embed.h"
#include "clients/redis.h"


#define WACHAT_KB_EMBED_KEY  "wachat:kbvec"


struct event_base;


/* counted across reloads: the caller keeps them */
typedef struct {
    unsigned long long  cached;     /* entry vectors read from the cache */
    unsigned long long  embedded;   /* entry vectors the endpoint made */
    unsigned long long  calls;      /* requests for entries answered */
    unsigned long long  failures;   /* requests for entries failed */
} wachat_kb_embed_stats_t;


typedef struct wachat_kb_embed_s  wachat_kb_embed_t;


/*
 * Starts on kb (which must live until wachat_kb_embed_free()): the cache
 * is read now, what it lacks is asked for on the loop.  NULL when out of
 * memory (the KB is ranked by words alone).
 */
wachat_kb_embed_t *wachat_kb_embed_start(struct event_base *base,
    wachat_redis_t *store, wachat_embed_t *embed, const wachat_kb_t *kb,
    double boost, wachat_kb_embed_stats_t *stats);

/* the vectors of kb, once all are there; NULL before, or for another KB */
const wachat_kb_vectors_t *wachat_kb_embed_vectors(
    const wachat_kb_embed_t *ke, const wachat_kb_t *kb);

/*
 * What the cache has of the entries named by keys (hex SHA-256, one per
 * entry of vs), read into vs; how many (wachatctl ask reads them too).
 */
size_t wachat_kb_embed_read_cache(wachat_redis_t *store, char (*keys)[65],
    wachat_kb_vectors_t *vs);

/*
 * A question's vector has dim numbers and the KB's another: the model
 * behind embed_model has changed and the cache is of the old one.  Every
 * entry is embedded again (meanwhile questions are ranked by words), unless
 * that is under way already.
 */
void wachat_kb_embed_redo(wachat_kb_embed_t *ke, size_t dim);

/* a call in flight is let go: its answer is dropped */
void wachat_kb_embed_free(wachat_kb_embed_t *ke);


#endif /* WACHAT_KB_EMBED_H */
