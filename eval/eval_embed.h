/*
 * eval_embed: the evaluation's way to an embeddings endpoint (EMBED_URL,
 * EMBED_MODEL, EMBED_KEY in the environment), synchronous: kb_eval is a
 * tool, not the daemon.  The request and the answer are the daemon's own
 * (wachat_embed_build, wachat_embed_parse), and so are the KB's texts.
 */

#ifndef WACHAT_EVAL_EMBED_H
#define WACHAT_EVAL_EMBED_H

#include <stddef.h>

#include "answer/kb_vec.h"


typedef struct {
    const char  *url;           /* the base, as embed_url */
    const char  *model;
    const char  *key;           /* NULL: none */
    double       ms;            /* time spent in calls */
    unsigned     calls;
} eval_embed_t;


/* n texts (at most WACHAT_EMBED_BATCH): *vec malloc'ed; 0, or -1 and why */
int eval_embed(eval_embed_t *e, const char *const *texts, size_t n,
    float **vec, size_t *dim, char *why, size_t whylen);

/* every entry of kb; 0, or -1 and why */
int eval_embed_kb(eval_embed_t *e, const wachat_kb_t *kb,
    wachat_kb_vectors_t *vs, char *why, size_t whylen);


#endif /* WACHAT_EVAL_EMBED_H */
