/*
 * embed_sync: the tools' way to an embeddings endpoint (make eval's
 * EMBED_URL, wachatctl ask with the config's embed_url), synchronous: a
 * tool waits for its answer, the daemon never does (clients/embed.h).
 * The request and the answer are the daemon's own (wachat_embed_build,
 * wachat_embed_parse), and so are the KB's texts.
 */

#ifndef WACHAT_EMBED_SYNC_H
#define WACHAT_EMBED_SYNC_H

#include <stddef.h>

#include "answer/kb_vec.h"


typedef struct {
    const char  *url;           /* the base, as embed_url */
    const char  *model;
    const char  *key;           /* NULL: none */
    long         timeout_ms;    /* of one call; 0: two minutes */
    double       ms;            /* time spent in calls */
    unsigned     calls;
} wachat_embed_sync_t;


/* n texts (at most WACHAT_EMBED_BATCH): *vec malloc'ed; 0, or -1 and why */
int wachat_embed_sync(wachat_embed_sync_t *e, const char *const *texts, size_t n,
    float **vec, size_t *dim, char *why, size_t whylen);

/* the entries of kb that vs (initialised for kb) lacks; 0, or -1 and why */
int wachat_embed_sync_kb(wachat_embed_sync_t *e, const wachat_kb_t *kb,
    wachat_kb_vectors_t *vs, char *why, size_t whylen);


#endif /* WACHAT_EMBED_SYNC_H */
