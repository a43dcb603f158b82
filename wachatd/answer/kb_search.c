/*
 * kb search: a customer's text against the index (kb_index.c).
 *
 * The text is read into terms, and the words it is about, by kb_query.c.
 *
 * Per term and entry (BM25F, k1 = 1.2, the question field weighs 2):
 *
 *     tf' = 2 * tfq / normq + tfa / norma
 *     s   = tf' / (k1 + tf')
 *
 * bm25 = sum of idf * s * (k1 + 1) ranks entries that are equally
 * confident.  The coverage says how much of the query an entry covers:
 * per query term, the field's saturation over that of one occurrence in a
 * field of average length (at most 1), the answer's times 0.6 (a word in
 * the answer is weaker evidence than one in a question), the better of the
 * two; summed with idf weights and divided by the sum of idf over all
 * query terms.  Terms the KB never uses weigh as much as the rarest (they
 * are what no entry covers), except unknown CJK bigrams (most straddle
 * two words, and their characters already count as unigrams) and numbers
 * (a quantity says little of the topic: "a table for 8"), characters a
 * Chinese synonym stands for (自行车 is bike: 自 is explained) and words of
 * time, people and vagueness ("morning", "daughter", "elsewhere",
 * kb_lang.c: they say when or for whom, not what).  The divisor is at
 * least ln 2, the idf of a term in half the entries, so a query of only
 * common terms cannot look certain.
 *
 * Focus: an entry that has the known word that only modifies the one the
 * question is about (kb_query.c: "bike" of "bike lights") answers
 * something else: its confidence is multiplied by WACHAT_KB_FOCUS.
 *
 * Object: an entry that lacks one of the words of a frame verb's object
 * (kb_query.c: "helmets" of "do you sell helmets"), in its question, Also
 * lines or answer, has at best the verb: its confidence is multiplied by
 * WACHAT_KB_OBJECT.
 *
 * Characters only: an entry that shares nothing with the question but
 * single Chinese characters (no pair, no synonym, no word) has its
 * confidence multiplied by WACHAT_KB_CHARS: a character is no word.
 *
 * Off its phrasings: an entry whose question and Also lines the customer's
 * text shares less than a fifth of (by idf) is found through its answer
 * alone ("how's the weather" and an answer that closes in a typhoon; "book
 * bikes for Sunday" and the tours, which run on Sundays): its confidence
 * is multiplied by WACHAT_KB_ANSWER_ONLY.
 */

#include <math.h>
#include <stdlib.h>

#include "answer/kb_query_int.h"

#ifdef WACHAT_KB_TRACE
#include <stdio.h>
#endif


#define WACHAT_KB_K1         1.2
#define WACHAT_KB_WQ         2.0
#define WACHAT_KB_WA         1.0
#define WACHAT_KB_SREF_Q     (WACHAT_KB_WQ / (WACHAT_KB_K1 + WACHAT_KB_WQ))
#define WACHAT_KB_SREF_A     (WACHAT_KB_WA / (WACHAT_KB_K1 + WACHAT_KB_WA))
#define WACHAT_KB_ANSWER_CAP 0.6
#define WACHAT_KB_RERANK     8          /* entries looked at again */
#define WACHAT_KB_PHRASING   0.3        /* its share of the confidence */
#define WACHAT_KB_FOCUS      0.8        /* an entry that has only the
                                           modifier of an unknown word */
#define WACHAT_KB_OBJECT     0.8        /* an entry that lacks the object
                                           of a frame verb */
#define WACHAT_KB_OFF_PHRASING 0.2      /* below: the question is not near
                                           any of the entry's phrasings */
#define WACHAT_KB_ANSWER_ONLY  0.8      /* and its confidence is this */
#define WACHAT_KB_CHARS      0.5        /* an entry that shares single
                                           Chinese characters only */


static double
wachat_kb_idf(size_t n, size_t df)
{
    return log(1.0 + ((double) n - (double) df + 0.5) / ((double) df + 0.5));
}


/* hit a ranks before hit b */
static int
wachat_kb_before(const wachat_kb_hit_t *a, const wachat_kb_hit_t *b)
{
    if (a->score != b->score) {
        return a->score > b->score;
    }

    if (a->bm25 != b->bm25) {
        return a->bm25 > b->bm25;
    }

    return a->entry < b->entry;
}


/*
 * Adds what the query's terms give to every entry: conf (the coverage,
 * capped per term), raw (BM25F) and words (nonzero when a term other than
 * a single Chinese character matches).  Returns the idf weight of all the
 * query's terms, the coverage's denominator.
 */
static double
wachat_kb_score(const wachat_kb_t *kb, const wachat_kb_query_t *q,
    double *conf, double *raw, double *words)
{
    size_t                      i, k;
    double                      w, tq, ta, s, total;
    const wachat_kb_index_t    *ix;
    const wachat_kb_posting_t  *p;

    ix = &kb->index;
    total = 0;

    for (i = 0; i < q->n; i++) {
        if (q->term[i] == UINT32_MAX) {
            if ((q->kind[i] == WACHAT_KB_TOK_WORD
                 || q->kind[i] == WACHAT_KB_TOK_UNI) && !q->ctx[i])
            {
                total += q->wt[i] * wachat_kb_idf(kb->nentries, 0);
            }

            continue;
        }

        k = q->term[i];
        w = q->wt[i] * wachat_kb_idf(kb->nentries, ix->off[k + 1] - ix->off[k]);
        total += w;

        for (p = &ix->post[ix->off[k]]; p < &ix->post[ix->off[k + 1]]; p++)
        {
            tq = WACHAT_KB_WQ * p->tfq / ix->normq[p->entry];
            ta = WACHAT_KB_WA * p->tfa / ix->norma[p->entry];

            s = (tq + ta) / (WACHAT_KB_K1 + tq + ta);
            raw[p->entry] += q->fac[i] * w * s * (WACHAT_KB_K1 + 1);

            s = fmax(tq / (WACHAT_KB_K1 + tq) / WACHAT_KB_SREF_Q,
                     WACHAT_KB_ANSWER_CAP * ta / (WACHAT_KB_K1 + ta)
                     / WACHAT_KB_SREF_A);
            conf[p->entry] += q->fac[i] * w * fmin(1.0, s);
            words[p->entry] += q->kind[i] != WACHAT_KB_TOK_UNI;
        }
    }

    return fmax(total, log(2.0));
}


/* the largest share of one of the entry's phrasings the query has */
static double
wachat_kb_phrasing(const wachat_kb_t *kb, const wachat_kb_query_t *q,
    size_t e)
{
    size_t                    p, k, i;
    double                    w, has, all, best;
    uint32_t                  t;
    const wachat_kb_index_t  *ix;

    ix = &kb->index;
    best = 0;

    for (p = ix->eph[e]; p < ix->eph[e + 1]; p++) {
        has = 0;
        all = 0;

        for (k = ix->poff[p]; k < ix->poff[p + 1]; k++) {
            t = ix->pterm[k];
            w = wachat_kb_idf(kb->nentries, ix->off[t + 1] - ix->off[t])
                * ((ix->kind[t] & WACHAT_KB_KIND_WEAK) ? WACHAT_KB_WEAK : 1);
            all += w;

            for (i = 0; i < q->n; i++) {
                if (q->term[i] == ix->pterm[k]) {
                    has += w * q->fac[i];
                    break;
                }
            }
        }

        if (all > 0 && has / all > best) {
            best = has / all;
        }
    }

    return best;
}


/* 1 when entry e has the KB term t (a walk of t's postings) */
static int
wachat_kb_entry_has(const wachat_kb_index_t *ix, uint32_t t, size_t e)
{
    const wachat_kb_posting_t  *p;

    for (p = &ix->post[ix->off[t]]; p < &ix->post[ix->off[t + 1]]; p++) {
        if (p->entry == e) {
            return 1;
        }
    }

    return 0;
}


/*
 * 1 when the entry has a word that, in the question, only modifies a word
 * the KB does not know ("do you sell bike lights" and "Do you sell
 * bikes?"; "do you rent kayaks" and "Do you rent electric bikes?"): the
 * entry is about the modifier, the question about the unknown word.
 */
static int
wachat_kb_unfocused(const wachat_kb_t *kb, const wachat_kb_query_t *q,
    size_t e)
{
    size_t  h;

    for (h = 0; h < q->nheads; h++) {
        if (wachat_kb_entry_has(&kb->index, q->term[q->mod[h]], e)) {
            return 1;
        }
    }

    return 0;
}


/*
 * 1 when the entry lacks a word of the object of a frame verb ("do you
 * sell helmets" and "Do you sell bikes?"): it has the verb, not the thing.
 */
static int
wachat_kb_objectless(const wachat_kb_t *kb, const wachat_kb_query_t *q,
    size_t e)
{
    size_t  i;

    for (i = 0; i < q->n; i++) {
        if (q->obj[i] && !q->ctx[i]
            && (q->term[i] == UINT32_MAX
                || !wachat_kb_entry_has(&kb->index, q->term[i], e)))
        {
            return 1;
        }
    }

    return 0;
}


/* hit into the best max so far (nhits of them); their new number */
static size_t
wachat_kb_insert(wachat_kb_hit_t *hits, size_t nhits, size_t max,
    const wachat_kb_hit_t *hit)
{
    size_t  i;

    if (nhits == max && !wachat_kb_before(hit, &hits[max - 1])) {
        return nhits;
    }

    i = (nhits < max) ? nhits++ : max - 1;

    while (i > 0 && wachat_kb_before(hit, &hits[i - 1])) {
        hits[i] = hits[i - 1];
        i--;
    }

    hits[i] = *hit;

    return nhits;
}


/*
 * The WACHAT_KB_RERANK entries that cover most of the query, then ranked
 * again with the phrasing they match best: the best max into hits.
 */
static size_t
wachat_kb_rank(const wachat_kb_t *kb, const wachat_kb_query_t *q,
    const double *conf, const double *raw, const double *words,
    double total, wachat_kb_hit_t *hits, size_t max)
{
    size_t           i, e, n, nhits;
    double           phr;
    wachat_kb_hit_t  hit, cand[WACHAT_KB_RERANK];

    n = 0;

    for (e = 0; e < kb->nentries; e++) {
        if (conf[e] <= 0) {
            continue;
        }

        hit.entry = &kb->entries[e];
        hit.score = fmin(1.0, conf[e] / total);
        hit.bm25 = raw[e];
        n = wachat_kb_insert(cand, n, WACHAT_KB_RERANK, &hit);
    }

    nhits = 0;

    for (i = 0; i < n; i++) {
        hit = cand[i];
        e = (size_t) (hit.entry - kb->entries);
#ifdef WACHAT_KB_TRACE
        fprintf(stderr, "C\t%s\t%.4f\t%.4f\t%.4f\n", hit.entry->id, hit.score,
                wachat_kb_phrasing(kb, q, e), hit.bm25);
#endif
        phr = wachat_kb_phrasing(kb, q, e);
        hit.score = (1 - WACHAT_KB_PHRASING) * hit.score
                    + WACHAT_KB_PHRASING * phr;

        if (phr < WACHAT_KB_OFF_PHRASING) {
            hit.score *= WACHAT_KB_ANSWER_ONLY;
        }

        if (wachat_kb_unfocused(kb, q, e)) {
            hit.score *= WACHAT_KB_FOCUS;
        }

        if (wachat_kb_objectless(kb, q, e)) {
            hit.score *= WACHAT_KB_OBJECT;
        }

        if (words[e] == 0) {
            hit.score *= WACHAT_KB_CHARS;
        }

        nhits = wachat_kb_insert(hits, nhits, max, &hit);
    }

    return nhits;
}


size_t
wachat_kb_search(const wachat_kb_t *kb, const char *query, size_t qlen,
    wachat_kb_hit_t *hits, size_t max)
{
    size_t              nhits;
    double              total, *conf, *raw, *words;
    wachat_kb_query_t  *q;

    if (kb == NULL || query == NULL || hits == NULL || max == 0) {
        return 0;
    }

    qlen = qlen > WACHAT_KB_MAX_QUERY ? WACHAT_KB_MAX_QUERY : qlen;

    q = malloc(sizeof(wachat_kb_query_t));
    conf = calloc(3 * kb->nentries, sizeof(double));

    if (q == NULL || conf == NULL
        || wachat_kb_query_read(q, kb, query, qlen) != 0)
    {
        free(q);
        free(conf);
        return 0;
    }

    raw = conf + kb->nentries;
    words = raw + kb->nentries;

    total = wachat_kb_score(kb, q, conf, raw, words);
    nhits = wachat_kb_rank(kb, q, conf, raw, words, total, hits, max);

    free(q);
    free(conf);

    return nhits;
}
