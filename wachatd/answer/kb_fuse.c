/*
 * kb_fuse: the word ranking fused with the meaning ranking into passages
 * and a confidence (kb_vec.h).
 */

#include <stdlib.h>
#include <string.h>

#include "answer/kb_vec.h"


void
wachat_kb_fuse_default(wachat_kb_fuse_t *f)
{
    f->k = WACHAT_KB_FUSE_K;
    f->words = WACHAT_KB_FUSE_WORDS;
    f->agree = WACHAT_KB_FUSE_AGREE;
    f->boost = WACHAT_KB_FUSE_BOOST;
    f->doubt = WACHAT_KB_FUSE_DOUBT;
    f->doubt_rank = WACHAT_KB_FUSE_DOUBT_RANK;
}


typedef struct {
    size_t  entry;
    double  cos;
    double  rrf;
    double  conf;
    double  bm25;
    size_t  lex_rank;           /* from 1; 0: not found by the words */
    size_t  sem_rank;           /* from 1 */
} wachat_kb_fused_t;


static int
wachat_kb_by_cos(const void *a, const void *b)
{
    const wachat_kb_fused_t  *x = a, *y = b;

    if (x->cos != y->cos) {
        return x->cos < y->cos ? 1 : -1;
    }

    return x->entry < y->entry ? -1 : x->entry > y->entry;
}


static int
wachat_kb_by_rrf(const void *a, const void *b)
{
    const wachat_kb_fused_t  *x = a, *y = b;

    if (x->rrf != y->rrf) {
        return x->rrf < y->rrf ? 1 : -1;
    }

    if (x->conf != y->conf) {
        return x->conf < y->conf ? 1 : -1;
    }

    return x->entry < y->entry ? -1 : x->entry > y->entry;
}


/* no vectors to fuse them with: the lexical hits as they are */
static size_t
wachat_kb_fuse_lexical(const wachat_kb_hit_t *lex, size_t nlex,
    wachat_kb_hit_t *hits, size_t max)
{
    size_t  n;

    n = nlex < max ? nlex : max;

    if (hits != lex) {
        memmove(hits, lex, n * sizeof(wachat_kb_hit_t));
    }

    return n;
}


/* every entry's cosine with the question (both normalised: the dot) */
static void
wachat_kb_fuse_cosines(wachat_kb_fused_t *fu, size_t n,
    const wachat_kb_vectors_t *vs, const float *q, size_t dim)
{
    size_t        e, k;
    double        dot;
    const float  *row;

    for (e = 0; e < n; e++) {
        row = vs->vec + e * dim;
        dot = 0;

        for (k = 0; k < dim; k++) {
            dot += (double) row[k] * q[k];
        }

        fu[e].entry = e;
        fu[e].cos = dot;
    }
}


/* the words' rank, confidence and BM25 of the entries they found */
static void
wachat_kb_fuse_words(wachat_kb_fused_t *fu, size_t n,
    const wachat_kb_entry_t *first, const wachat_kb_hit_t *lex, size_t nlex)
{
    size_t  i, e;

    for (i = 0; i < nlex && i < WACHAT_KB_FUSE_DEPTH; i++) {
        e = (size_t) (lex[i].entry - first);

        if (e < n && fu[e].lex_rank == 0) {
            fu[e].lex_rank = i + 1;
            fu[e].conf = lex[i].score;
            fu[e].bm25 = lex[i].bm25;
        }
    }
}


/* fu in the meaning's order: its first is clearly first, no tie */
static int
wachat_kb_fuse_clear_first(const wachat_kb_fused_t *fu, size_t n)
{
    return n == 1 || fu[0].cos > fu[1].cos;
}


/*
 * Reciprocal rank fusion, fu in the meaning's order: each entry's rank by
 * meaning and its fused score; an entry the words did not find ranks, for
 * them, right after the last they did.
 */
static void
wachat_kb_fuse_rrf(wachat_kb_fused_t *fu, size_t n, const wachat_kb_fuse_t *f,
    size_t nlex)
{
    size_t  i, depth;

    depth = nlex < WACHAT_KB_FUSE_DEPTH ? nlex : WACHAT_KB_FUSE_DEPTH;

    for (i = 0; i < n; i++) {
        /* equals share a rank: a tie says nothing, the words decide */
        fu[i].sem_rank = i && fu[i].cos == fu[i - 1].cos ? fu[i - 1].sem_rank
                                                         : i + 1;
        fu[i].rrf = 1.0 / (f->k + (double) fu[i].sem_rank)
                    + f->words / (f->k + (double) (fu[i].lex_rank
                                                   ? fu[i].lex_rank
                                                   : depth + 1));
    }
}


/* where the firsts are (n: nowhere): they stay among the passages */
static void
wachat_kb_fuse_firsts(const wachat_kb_fused_t *fu, size_t n, size_t *must)
{
    size_t  i;

    must[0] = wachat_kb_fuse_clear_first(fu, n) ? fu[0].entry : n;
    must[1] = n;

    for (i = 0; i < n; i++) {
        if (fu[i].lex_rank == 1) {
            must[1] = fu[i].entry;
        }
    }
}


/*
 * The words' confidence, in the meaning's order: up for the clear first
 * by meaning, down for the words' first far down by meaning, within 0..1.
 */
static void
wachat_kb_fuse_confidence(wachat_kb_fused_t *fu, size_t n,
    const wachat_kb_fuse_t *f)
{
    size_t  i;

    /* clearly first by meaning (and first by words, if asked) */
    if (wachat_kb_fuse_clear_first(fu, n)
        && (!f->agree || fu[0].lex_rank == 1))
    {
        fu[0].conf += f->boost;
    }

    for (i = 0; i < n; i++) {
        if (fu[i].lex_rank == 1 && fu[i].sem_rank > f->doubt_rank) {
            fu[i].conf -= f->doubt;
        }

        fu[i].conf = fu[i].conf < 0 ? 0 : fu[i].conf > 1 ? 1 : fu[i].conf;
    }
}


/* the most confident, the first of equals in the fused order */
static size_t
wachat_kb_fuse_top(const wachat_kb_fused_t *fu, size_t n)
{
    size_t  i, top;

    top = 0;

    for (i = 1; i < n; i++) {
        if (fu[i].conf > fu[top].conf) {
            top = i;
        }
    }

    return top;
}


/*
 * The passages, out of them, into sel: the fused order, but the most
 * confident entry (the kb backend's answer), the words' first and the
 * meaning's first are among them whatever the other ranking says.
 */
static void
wachat_kb_fuse_select(const wachat_kb_fused_t *fu, size_t n, size_t top,
    const size_t *must, unsigned char *sel, size_t out)
{
    size_t  i, ns;

    ns = 0;

    for (i = 0; i < n && ns < out; i++) {
        if (i == top || fu[i].entry == must[0] || fu[i].entry == must[1]) {
            sel[i] = 1;
            ns++;
        }
    }

    for (i = 0; i < n && ns < out; i++) {
        if (!sel[i]) {
            sel[i] = 1;
            ns++;
        }
    }
}


/* the passages into hits in the fused order; -1 out of memory */
static int
wachat_kb_fuse_passages(const wachat_kb_fused_t *fu, size_t n,
    const size_t *must, const wachat_kb_entry_t *first, wachat_kb_hit_t *hits,
    size_t out, size_t *best)
{
    size_t          i, k, top;
    unsigned char  *sel;

    sel = calloc(n, 1);
    if (sel == NULL) {
        return -1;
    }

    top = wachat_kb_fuse_top(fu, n);
    wachat_kb_fuse_select(fu, n, top, must, sel, out);

    for (i = 0, k = 0; i < n && k < out; i++) {
        if (!sel[i]) {
            continue;
        }

        hits[k].entry = first + fu[i].entry;
        hits[k].score = fu[i].conf;
        hits[k].bm25 = fu[i].bm25;

        if (i == top) {
            *best = k;
        }

        k++;
    }

    free(sel);

    return 0;
}


size_t
wachat_kb_fuse(const wachat_kb_t *kb, const wachat_kb_vectors_t *vs,
    const wachat_kb_fuse_t *f, const wachat_kb_hit_t *lex, size_t nlex,
    const float *q, size_t dim, wachat_kb_hit_t *hits, size_t max,
    size_t *best)
{
    size_t                    n, out, must[2];
    wachat_kb_fused_t        *fu;
    const wachat_kb_entry_t  *first;

    *best = 0;
    n = kb ? wachat_kb_count(kb) : 0;

    if (q == NULL || !wachat_kb_vectors_ready(vs) || vs->n != n
        || vs->dim != dim || n == 0)
    {
        return wachat_kb_fuse_lexical(lex, nlex, hits, max);
    }

    fu = calloc(n, sizeof(wachat_kb_fused_t));
    if (fu == NULL) {
        return wachat_kb_fuse_lexical(lex, nlex, hits, max);
    }

    first = wachat_kb_entry(kb, 0);
    wachat_kb_fuse_cosines(fu, n, vs, q, dim);
    wachat_kb_fuse_words(fu, n, first, lex, nlex);

    qsort(fu, n, sizeof(wachat_kb_fused_t), wachat_kb_by_cos);
    wachat_kb_fuse_rrf(fu, n, f, nlex);
    wachat_kb_fuse_firsts(fu, n, must);
    wachat_kb_fuse_confidence(fu, n, f);

    qsort(fu, n, sizeof(wachat_kb_fused_t), wachat_kb_by_rrf);
    out = n < max ? n : max;

    if (wachat_kb_fuse_passages(fu, n, must, first, hits, out, best) != 0) {
        free(fu);
        return wachat_kb_fuse_lexical(lex, nlex, hits, max);
    }

    free(fu);

    return out;
}


size_t
wachat_kb_hybrid(const wachat_kb_t *kb, const wachat_kb_vectors_t *vs,
    const float *q, size_t dim, const char *query, size_t qlen,
    wachat_kb_hit_t *hits, size_t max, size_t *best)
{
    size_t            nlex;
    wachat_kb_hit_t   lex[WACHAT_KB_FUSE_DEPTH];
    wachat_kb_fuse_t  f;

    *best = 0;

    if (q == NULL || !wachat_kb_vectors_ready(vs) || vs->dim != dim) {
        return wachat_kb_search(kb, query, qlen, hits, max);
    }

    nlex = wachat_kb_search(kb, query, qlen, lex, WACHAT_KB_FUSE_DEPTH);
    wachat_kb_fuse_default(&f);
    f.boost = vs->boost;

    return wachat_kb_fuse(kb, vs, &f, lex, nlex, q, dim, hits, max, best);
}
