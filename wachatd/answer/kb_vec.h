/*
 * kb_vec: the knowledge base's entries as vectors of meaning (an
 * embeddings model's), and their fusion with the word ranking of
 * wachat_kb_search().  Pure: no Redis, no network (kb_embed.h fetches and
 * caches the vectors), so the fusion has its own unit test.
 *
 * What an entry's vector is made of: its question, its Also phrasings and
 * its answer, in that order, cut at WACHAT_EMBED_MAX_TEXT bytes.  The
 * phrasings are how customers ask; the answer has the words of what the
 * entry is about that nobody put in a phrasing ("money back" in a refund
 * answer), and a question about a detail ("do you take cards") meets the
 * answer that states it.
 *
 * The fusion (wachat_kb_hybrid):
 *
 *   - the word ranking: up to WACHAT_KB_FUSE_DEPTH hits with a score;
 *   - the meaning ranking: every entry by the cosine of its vector with
 *     the question's, equal cosines sharing a rank (a model that cannot
 *     tell the entries apart leaves the words' order as it is);
 *   - reciprocal rank fusion, words x 1 / (k + rank) + 1 / (k + rank),
 *     ranks from 1; an entry the words did not find at all ranks, for
 *     them, just after the last one they found.  The fused order is the
 *     order of the passages given to the model (openai backend), except
 *     that the words' first, the meaning's clear first (its cosine above
 *     the second's) and the most confident entry are always among them
 *     (as far as max allows): a weak model cannot push out what the words
 *     were sure of.
 *   - the confidence, for the kb backend's decision, stays the words'
 *     (kb_min_score keeps its meaning): the entry the meaning ranks first,
 *     clearly, and the words first too (agree), gains WACHAT_KB_FUSE_BOOST;
 *     the words' first loses WACHAT_KB_FUSE_DOUBT when the meaning ranks
 *     it below WACHAT_KB_FUSE_DOUBT_RANK.  So the vectors recover an entry
 *     the words found near the threshold, and cast doubt on one the words
 *     found by chance; an entry the words did not find at all is never
 *     answered with confidence, it only reaches the model as a passage.
 *     The knobs are a design, not yet measured on a real model
 *     (docs/answer-quality.md); make eval tries others.
 */

#ifndef WACHAT_KB_VEC_H
#define WACHAT_KB_VEC_H

#include <stddef.h>

#include "answer/kb.h"


#define WACHAT_KB_FUSE_DEPTH       20
#define WACHAT_KB_FUSE_K           10.0
#define WACHAT_KB_FUSE_WORDS       1.0
#define WACHAT_KB_FUSE_AGREE       1
#define WACHAT_KB_FUSE_BOOST       0.0
#define WACHAT_KB_FUSE_DOUBT       0.10
#define WACHAT_KB_FUSE_DOUBT_RANK  3


/* one vector per entry of one KB, all of one dimension, length 1 */
typedef struct {
    size_t          n;          /* entries */
    size_t          dim;        /* 0 while none is known */
    float          *vec;        /* n x dim; NULL while dim is 0 */
    unsigned char  *have;       /* n: 1 when the entry's row is set */
    size_t          nhave;
    double          boost;      /* the fusion's, for this KB (embed_kb_boost) */
} wachat_kb_vectors_t;


/* the fusion's knobs (make eval tries others); wachat_kb_fuse_default() */
typedef struct {
    double  k;
    double  words;              /* weight of the words' ranking */
    int     agree;              /* boost only the words' first too */
    double  boost;
    double  doubt;
    size_t  doubt_rank;
} wachat_kb_fuse_t;


/* the text embedded for an entry into buf (NUL-terminated); its length */
size_t wachat_kb_vec_text(const wachat_kb_entry_t *e, char *buf,
    size_t size);

/* the cache's name of a vector: hex SHA-256 of model "\n" text; out[65] */
void wachat_kb_vec_key(const char *model, const char *text, char *out);

/* n entries, no vector yet; -1 out of memory */
int wachat_kb_vectors_init(wachat_kb_vectors_t *vs, size_t n);
void wachat_kb_vectors_free(wachat_kb_vectors_t *vs);

/*
 * Sets entry i's vector (dim floats, normalised here).  The first one
 * sets the dimension; another dimension later is refused (-1), as is a
 * vector of zeros.
 */
int wachat_kb_vectors_set(wachat_kb_vectors_t *vs, size_t i,
    const float *v, size_t dim);

/* every entry has its vector */
int wachat_kb_vectors_ready(const wachat_kb_vectors_t *vs);

void wachat_kb_fuse_default(wachat_kb_fuse_t *f);

/*
 * The fusion of lexical hits (nlex of them, best first, as
 * wachat_kb_search() gives them) with the question's vector q (dim
 * floats, normalised) over vs: up to max hits in the fused order, each
 * with the adjusted confidence in score (bm25 is the words' own); returns
 * how many.  *best is set to the index, among them, of the hit the kb
 * backend answers with if its score is high enough (the highest score,
 * the fused order between equals).  vs must be ready and of q's
 * dimension, and kb the KB whose entries vs has (else: the lexical hits,
 * as they are).
 */
size_t wachat_kb_fuse(const wachat_kb_t *kb, const wachat_kb_vectors_t *vs,
    const wachat_kb_fuse_t *f, const wachat_kb_hit_t *lex, size_t nlex,
    const float *q, size_t dim, wachat_kb_hit_t *hits, size_t max,
    size_t *best);

/*
 * wachat_kb_search() then wachat_kb_fuse() with the defaults; q NULL or
 * vs not ready: wachat_kb_search() alone (*best 0).
 */
size_t wachat_kb_hybrid(const wachat_kb_t *kb, const wachat_kb_vectors_t *vs,
    const float *q, size_t dim, const char *query, size_t qlen,
    wachat_kb_hit_t *hits, size_t max, size_t *best);


#endif /* WACHAT_KB_VEC_H */
