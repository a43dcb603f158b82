/*
 * kb index: term postings built once at load, and BM25F ranking.
 *
 * Two fields.  The question field is the question plus every Also
 * phrasing; its length norm uses the entry's mean phrasing length, so an
 * entry with many alternative phrasings is not taken for a verbose one.
 * The answer field is plain BM25.  Per term and entry:
 *
 *     tf' = 2 * tfq / normq + tfa / norma      (k1 = 1.2, b = 0.75)
 *     s   = tf' / (k1 + tf')
 *
 * bm25 = sum of idf * s * (k1 + 1) ranks entries that are equally
 * confident.  The confidence says how much of the query an entry covers:
 * per query term, the field's saturation over that of one occurrence in a
 * field of average length (at most 1), the answer's times 0.6 (a word in
 * the answer is weaker evidence than one in a question), the better of the
 * two; summed with idf weights and divided by the sum of idf over all
 * query terms.  Terms the KB never uses weigh as much as the rarest (they
 * are what no entry covers), except unknown CJK bigrams: most straddle two
 * words, and their characters already count as unigrams.  The divisor is
 * at least ln 2, the idf of a term in half the entries, so a query of only
 * common terms cannot look certain.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "answer/kb_int.h"


#define WACHAT_KB_K1         1.2
#define WACHAT_KB_B          0.75
#define WACHAT_KB_WQ         2.0
#define WACHAT_KB_WA         1.0
#define WACHAT_KB_SREF_Q     (WACHAT_KB_WQ / (WACHAT_KB_K1 + WACHAT_KB_WQ))
#define WACHAT_KB_SREF_A     (WACHAT_KB_WA / (WACHAT_KB_K1 + WACHAT_KB_WA))
#define WACHAT_KB_ANSWER_CAP 0.6
#define WACHAT_KB_MAX_QTERMS 256


/* map */

static int
wachat_kb_map_grow(wachat_kb_map_t *m)
{
    size_t             i, j, cap, mask;
    wachat_kb_slot_t  *slots;

    cap = m->cap ? m->cap * 2 : 64;
    mask = cap - 1;

    slots = calloc(cap, sizeof(wachat_kb_slot_t));
    if (slots == NULL) {
        return -1;
    }

    for (i = 0; i < m->cap; i++) {
        if (m->slots[i].key == NULL) {
            continue;
        }

        for (j = m->slots[i].hash & mask; slots[j].key; j = (j + 1) & mask) {
            /* linear probing */
        }

        slots[j] = m->slots[i];
    }

    free(m->slots);
    m->slots = slots;
    m->cap = cap;

    return 0;
}


static wachat_kb_slot_t *
wachat_kb_map_find(const wachat_kb_map_t *m, const char *key, size_t len,
    uint32_t hash)
{
    size_t             i, mask;
    wachat_kb_slot_t  *s;

    mask = m->cap - 1;

    for (i = hash & mask; ; i = (i + 1) & mask) {
        s = &m->slots[i];

        if (s->key == NULL
            || (s->hash == hash && s->len == len
                && memcmp(s->key, key, len) == 0))
        {
            return s;
        }
    }
}


int
wachat_kb_map_put(wachat_kb_map_t *m, const char *key, size_t len,
    uint32_t *val)
{
    uint32_t           hash;
    wachat_kb_slot_t  *s;

    if ((m->n + 1) * 4 > m->cap * 3 && wachat_kb_map_grow(m) != 0) {
        return -1;
    }

    hash = wachat_kb_hash(key, len);
    s = wachat_kb_map_find(m, key, len, hash);

    if (s->key != NULL) {
        *val = s->val;
        return 1;
    }

    s->key = key;
    s->len = (uint32_t) len;
    s->hash = hash;
    s->val = *val;
    m->n++;

    return 0;
}


int
wachat_kb_map_get(const wachat_kb_map_t *m, const char *key, size_t len,
    uint32_t *val)
{
    wachat_kb_slot_t  *s;

    if (m->cap == 0) {
        return 0;
    }

    s = wachat_kb_map_find(m, key, len, wachat_kb_hash(key, len));

    if (s->key == NULL) {
        return 0;
    }

    *val = s->val;
    return 1;
}


void
wachat_kb_map_free(wachat_kb_map_t *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = 0;
    m->n = 0;
}


/* build */

typedef struct {
    uint32_t  term;
    uint32_t  entry;
    uint32_t  field;                /* 0 question, 1 answer */
} wachat_kb_occ_t;


typedef struct {
    wachat_kb_t      *kb;
    wachat_kb_occ_t  *occ;
    size_t            nocc;
    size_t            cap;
    uint32_t          entry;
    uint32_t          field;
    size_t            len[2];       /* tokens of this entry per field */
} wachat_kb_build_t;


static int
wachat_kb_build_tok(void *ctx, const char *term, size_t len,
    wachat_kb_tok_e kind)
{
    char               *copy;
    size_t              cap;
    uint32_t            id;
    wachat_kb_occ_t    *occ;
    wachat_kb_build_t  *b;

    (void) kind;
    b = ctx;

    if (!wachat_kb_map_get(&b->kb->index.terms, term, len, &id)) {
        copy = wachat_kb_strndup(&b->kb->arena, term, len);
        id = (uint32_t) b->kb->index.nterms;

        if (copy == NULL
            || wachat_kb_map_put(&b->kb->index.terms, copy, len, &id) != 0)
        {
            return -1;
        }

        b->kb->index.nterms++;
    }

    if (b->nocc == b->cap) {
        cap = b->cap ? b->cap * 2 : 1024;
        occ = realloc(b->occ, cap * sizeof(wachat_kb_occ_t));
        if (occ == NULL) {
            return -1;
        }

        b->occ = occ;
        b->cap = cap;
    }

    b->occ[b->nocc].term = id;
    b->occ[b->nocc].entry = b->entry;
    b->occ[b->nocc].field = b->field;
    b->nocc++;
    b->len[b->field]++;

    return 0;
}


static int
wachat_kb_field(wachat_kb_build_t *b, uint32_t field, const char *s)
{
    b->field = field;
    return wachat_kb_tokenize(s, strlen(s), wachat_kb_build_tok, b);
}


/* occurrences grouped by term (stable: entries stay ascending), merged */
static int
wachat_kb_postings(wachat_kb_t *kb, wachat_kb_build_t *b)
{
    size_t               i, t, n;
    uint32_t            *count;
    wachat_kb_occ_t     *sorted, *o;
    wachat_kb_index_t   *ix;
    wachat_kb_posting_t *p;

    ix = &kb->index;

    ix->off = wachat_kb_alloc(&kb->arena, (ix->nterms + 1) * sizeof(uint32_t));
    ix->post = wachat_kb_alloc(&kb->arena,
                               (b->nocc + 1) * sizeof(wachat_kb_posting_t));
    count = calloc(ix->nterms + 1, sizeof(uint32_t));
    sorted = calloc(b->nocc + 1, sizeof(wachat_kb_occ_t));

    if (ix->off == NULL || ix->post == NULL || count == NULL
        || sorted == NULL)
    {
        free(count);
        free(sorted);
        return -1;
    }

    for (i = 0; i < b->nocc; i++) {
        count[b->occ[i].term + 1]++;
    }

    for (t = 0; t < ix->nterms; t++) {
        count[t + 1] += count[t];
    }

    for (i = 0; i < b->nocc; i++) {
        sorted[count[b->occ[i].term]++] = b->occ[i];
    }

    /* now count[t] is where term t ends and term t + 1 starts */
    n = 0;

    for (t = 0; t < ix->nterms; t++) {
        ix->off[t] = (uint32_t) n;

        for (i = (t == 0) ? 0 : count[t - 1]; i < count[t]; i++) {
            o = &sorted[i];

            if (n == ix->off[t] || o->entry != ix->post[n - 1].entry) {
                p = &ix->post[n++];
                p->entry = o->entry;
                p->tfq = 0;
                p->tfa = 0;
            }

            if (o->field == 0) {
                ix->post[n - 1].tfq++;

            } else {
                ix->post[n - 1].tfa++;
            }
        }
    }

    ix->off[ix->nterms] = (uint32_t) n;

    free(count);
    free(sorted);

    return 0;
}


int
wachat_kb_index_build(wachat_kb_t *kb)
{
    int                 rc;
    size_t              e, k, phr;
    double              sumq, suma, mean, *lenq, *lena;
    wachat_kb_index_t  *ix;
    wachat_kb_build_t   b;
    wachat_kb_entry_t  *en;

    ix = &kb->index;
    memset(&b, 0, sizeof(b));
    b.kb = kb;

    ix->normq = wachat_kb_alloc(&kb->arena, kb->nentries * sizeof(double));
    ix->norma = wachat_kb_alloc(&kb->arena, kb->nentries * sizeof(double));
    if (ix->normq == NULL || ix->norma == NULL) {
        return -1;
    }

    lenq = ix->normq;               /* lengths first, norms in place */
    lena = ix->norma;
    sumq = 0;
    suma = 0;
    phr = 0;
    rc = 0;

    for (e = 0; e < kb->nentries && rc == 0; e++) {
        en = &kb->entries[e];
        b.entry = (uint32_t) e;
        b.len[0] = 0;
        b.len[1] = 0;

        rc = wachat_kb_field(&b, 0, en->question);

        for (k = 0; k < en->nalso && rc == 0; k++) {
            rc = wachat_kb_field(&b, 0, en->also[k]);
        }

        if (rc == 0) {
            rc = wachat_kb_field(&b, 1, en->answer);
        }

        lenq[e] = (double) b.len[0] / (double) (1 + en->nalso);
        lena[e] = (double) b.len[1];
        sumq += (double) b.len[0];
        suma += (double) b.len[1];
        phr += 1 + en->nalso;
    }

    if (rc == 0) {
        rc = wachat_kb_postings(kb, &b);
    }

    free(b.occ);

    if (rc != 0) {
        return -1;
    }

    mean = sumq / (double) phr;

    for (e = 0; e < kb->nentries; e++) {
        lenq[e] = 1 - WACHAT_KB_B
                  + (mean > 0 ? WACHAT_KB_B * lenq[e] / mean : WACHAT_KB_B);
    }

    mean = suma / (double) kb->nentries;

    for (e = 0; e < kb->nentries; e++) {
        lena[e] = 1 - WACHAT_KB_B
                  + (mean > 0 ? WACHAT_KB_B * lena[e] / mean : WACHAT_KB_B);
    }

    return 0;
}


void
wachat_kb_index_free(wachat_kb_index_t *ix)
{
    wachat_kb_map_free(&ix->terms);     /* the rest lives in the arena */
}


/* search */

typedef struct {
    const wachat_kb_t  *kb;
    size_t              n;
    uint32_t            term[WACHAT_KB_MAX_QTERMS];     /* or UINT32_MAX */
    uint32_t            hash[WACHAT_KB_MAX_QTERMS];     /* of unknown ones */
    wachat_kb_tok_e     kind[WACHAT_KB_MAX_QTERMS];
} wachat_kb_query_t;


static int
wachat_kb_query_tok(void *ctx, const char *term, size_t len,
    wachat_kb_tok_e kind)
{
    size_t              i;
    uint32_t            id, hash;
    wachat_kb_query_t  *q;

    q = ctx;
    hash = 0;

    if (!wachat_kb_map_get(&q->kb->index.terms, term, len, &id)) {
        id = UINT32_MAX;
        hash = wachat_kb_hash(term, len);
    }

    for (i = 0; i < q->n; i++) {
        if (q->term[i] == id && (id != UINT32_MAX || q->hash[i] == hash)) {
            return 0;                       /* each term counts once */
        }
    }

    if (q->n == WACHAT_KB_MAX_QTERMS) {
        return 1;                           /* enough to rank on */
    }

    q->term[q->n] = id;
    q->hash[q->n] = hash;
    q->kind[q->n] = kind;
    q->n++;

    return 0;
}


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
 * Adds what the query's terms give to every entry: conf (the confidence,
 * capped per term) and raw (BM25F).  Returns the idf weight of all the
 * query's terms, the confidence's denominator.
 */
static double
wachat_kb_score(const wachat_kb_t *kb, const wachat_kb_query_t *q,
    double *conf, double *raw)
{
    size_t                      i, k;
    double                      w, tq, ta, s, total;
    const wachat_kb_index_t    *ix;
    const wachat_kb_posting_t  *p;

    ix = &kb->index;
    total = 0;

    for (i = 0; i < q->n; i++) {
        if (q->term[i] == UINT32_MAX) {
            if (q->kind[i] != WACHAT_KB_TOK_BI) {
                total += wachat_kb_idf(kb->nentries, 0);
            }

            continue;
        }

        k = q->term[i];
        w = wachat_kb_idf(kb->nentries, ix->off[k + 1] - ix->off[k]);
        total += w;

        for (p = &ix->post[ix->off[k]]; p < &ix->post[ix->off[k + 1]]; p++)
        {
            tq = WACHAT_KB_WQ * p->tfq / ix->normq[p->entry];
            ta = WACHAT_KB_WA * p->tfa / ix->norma[p->entry];

            s = (tq + ta) / (WACHAT_KB_K1 + tq + ta);
            raw[p->entry] += w * s * (WACHAT_KB_K1 + 1);

            s = fmax(tq / (WACHAT_KB_K1 + tq) / WACHAT_KB_SREF_Q,
                     WACHAT_KB_ANSWER_CAP * ta / (WACHAT_KB_K1 + ta)
                     / WACHAT_KB_SREF_A);
            conf[p->entry] += w * fmin(1.0, s);
        }
    }

    return fmax(total, log(2.0));
}


/* the best max entries with a confidence, best first, into hits */
static size_t
wachat_kb_rank(const wachat_kb_t *kb, const double *conf, const double *raw,
    double total, wachat_kb_hit_t *hits, size_t max)
{
    size_t           i, e, nhits;
    wachat_kb_hit_t  hit;

    nhits = 0;

    for (e = 0; e < kb->nentries; e++) {
        if (conf[e] <= 0) {
            continue;
        }

        hit.entry = &kb->entries[e];
        hit.score = fmin(1.0, conf[e] / total);
        hit.bm25 = raw[e];

        /* insertion into the best max so far */
        if (nhits == max && !wachat_kb_before(&hit, &hits[max - 1])) {
            continue;
        }

        i = (nhits < max) ? nhits++ : max - 1;

        while (i > 0 && wachat_kb_before(&hit, &hits[i - 1])) {
            hits[i] = hits[i - 1];
            i--;
        }

        hits[i] = hit;
    }

    return nhits;
}


size_t
wachat_kb_search(const wachat_kb_t *kb, const char *query, size_t qlen,
    wachat_kb_hit_t *hits, size_t max)
{
    size_t              nhits;
    double              total, *conf, *raw;
    wachat_kb_query_t  *q;

    if (kb == NULL || query == NULL || hits == NULL || max == 0) {
        return 0;
    }

    qlen = qlen > WACHAT_KB_MAX_QUERY ? WACHAT_KB_MAX_QUERY : qlen;

    q = malloc(sizeof(wachat_kb_query_t));
    conf = calloc(2 * kb->nentries, sizeof(double));

    if (q == NULL || conf == NULL) {
        free(q);
        free(conf);
        return 0;
    }

    raw = conf + kb->nentries;
    q->kb = kb;
    q->n = 0;

    (void) wachat_kb_tokenize(query, qlen, wachat_kb_query_tok, q);

    total = wachat_kb_score(kb, q, conf, raw);
    nhits = wachat_kb_rank(kb, conf, raw, total, hits, max);

    free(q);
    free(conf);

    return nhits;
}


/* the loaded KB: lookups, and its end */

void
wachat_kb_free(wachat_kb_t *kb)
{
    if (kb == NULL) {
        return;
    }

    wachat_kb_index_free(&kb->index);
    wachat_kb_map_free(&kb->ids);
    free(kb->entries);
    wachat_kb_arena_free(&kb->arena);
    free(kb);
}


size_t
wachat_kb_count(const wachat_kb_t *kb)
{
    return kb ? kb->nentries : 0;
}


const wachat_kb_entry_t *
wachat_kb_entry(const wachat_kb_t *kb, size_t i)
{
    return (kb && i < kb->nentries) ? &kb->entries[i] : NULL;
}


const wachat_kb_entry_t *
wachat_kb_get(const wachat_kb_t *kb, const char *id)
{
    uint32_t  idx;

    if (kb == NULL || id == NULL
        || !wachat_kb_map_get(&kb->ids, id, strlen(id), &idx))
    {
        return NULL;
    }

    return &kb->entries[idx];
}
