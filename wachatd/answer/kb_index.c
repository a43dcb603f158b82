/*
 * kb index: term postings built once at load (the search is kb_search.c).
 *
 * Two fields.  The question field is the question plus every Also
 * phrasing; its length norm uses the entry's mean phrasing length, so an
 * entry with many alternative phrasings is not taken for a verbose one.
 * The answer field is plain BM25's: normq and norma are the fields'
 * 1 - b + b * length / mean length (b = 0.75).
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "answer/kb_int.h"


#define WACHAT_KB_B          0.75


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
    uint32_t  phr;                  /* the phrasing, in the question field */
} wachat_kb_occ_t;


typedef struct {
    wachat_kb_t      *kb;
    wachat_kb_lex_t   lex;
    wachat_kb_occ_t  *occ;
    size_t            nocc;
    size_t            cap;
    uint32_t          entry;
    uint32_t          field;
    uint32_t          phr;          /* phrasings so far */
    size_t            len[2];       /* tokens of this entry per field */
    uint8_t          *kind;         /* per term */
    size_t            kind_cap;
} wachat_kb_build_t;


static int
wachat_kb_build_tok(void *ctx, const char *term, size_t len,
    wachat_kb_tok_e kind)
{
    char               *copy;
    size_t              cap;
    uint8_t            *kinds;
    uint32_t            id;
    wachat_kb_occ_t    *occ;
    wachat_kb_build_t  *b;

    b = ctx;

    if (!wachat_kb_map_get(&b->kb->index.terms, term, len, &id)) {
        copy = wachat_kb_strndup(&b->kb->arena, term, len);
        id = (uint32_t) b->kb->index.nterms;

        if (copy == NULL
            || wachat_kb_map_put(&b->kb->index.terms, copy, len, &id) != 0)
        {
            return -1;
        }

        if (id == b->kind_cap) {
            cap = b->kind_cap ? b->kind_cap * 2 : 1024;
            kinds = realloc(b->kind, cap);
            if (kinds == NULL) {
                return -1;
            }

            b->kind = kinds;
            b->kind_cap = cap;
        }

        b->kind[id] = (uint8_t) kind
                      | (wachat_kb_weak(term, len) ? WACHAT_KB_KIND_WEAK : 0);
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
    b->occ[b->nocc].phr = b->phr;
    b->nocc++;
    b->len[b->field]++;

    return 0;
}


static int
wachat_kb_field(wachat_kb_build_t *b, uint32_t field, const char *s)
{
    int  rc;

    b->field = field;
    b->lex.field = field ? 2 : 1;
    rc = wachat_kb_tokenize(&b->lex, s, strlen(s), wachat_kb_build_tok, b);
    b->phr += (field == 0);

    return rc;
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


/*
 * Every phrasing's terms, once each (the occurrences of the question
 * field are in phrasing order), and the terms' kinds.
 */
static int
wachat_kb_phrasings(wachat_kb_t *kb, wachat_kb_build_t *b)
{
    size_t              i, k, n;
    uint32_t            p, e;
    wachat_kb_occ_t    *o;
    wachat_kb_index_t  *ix;

    ix = &kb->index;
    ix->nphr = b->phr;
    ix->eph = wachat_kb_alloc(&kb->arena, (kb->nentries + 1) * sizeof(uint32_t));
    ix->poff = wachat_kb_alloc(&kb->arena, (b->phr + 1) * sizeof(uint32_t));
    ix->pterm = wachat_kb_alloc(&kb->arena, (b->nocc + 1) * sizeof(uint32_t));
    ix->kind = wachat_kb_alloc(&kb->arena, ix->nterms + 1);

    if (ix->eph == NULL || ix->poff == NULL || ix->pterm == NULL
        || ix->kind == NULL)
    {
        return -1;
    }

    if (ix->nterms > 0) {
        memcpy(ix->kind, b->kind, ix->nterms);
    }

    n = 0;
    p = 0;
    e = 0;
    ix->eph[0] = 0;
    ix->poff[0] = 0;

    for (i = 0; i < b->nocc; i++) {
        o = &b->occ[i];

        if (o->field != 0) {
            continue;
        }

        while (p < o->phr) {
            ix->poff[++p] = (uint32_t) n;
        }

        while (e < o->entry) {
            ix->eph[++e] = p;
        }

        for (k = ix->poff[p]; k < n && ix->pterm[k] != o->term; k++) {
            /* once each */
        }

        if (k == n) {
            ix->pterm[n++] = o->term;
        }
    }

    while (p < b->phr) {
        ix->poff[++p] = (uint32_t) n;
    }

    while (e < kb->nentries) {
        ix->eph[++e] = p;
    }

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
    if (ix->normq == NULL || ix->norma == NULL
        || wachat_kb_lex_open(&b.lex, kb) != 0)
    {
        return -1;
    }

    b.lex.build = kb;

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

    if (rc == 0) {
        rc = wachat_kb_phrasings(kb, &b);
    }

    free(b.occ);
    free(b.kind);
    wachat_kb_lex_close(&b.lex);

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


/* the loaded KB: lookups, and its end */

void
wachat_kb_free(wachat_kb_t *kb)
{
    if (kb == NULL) {
        return;
    }

    wachat_kb_index_free(&kb->index);
    wachat_kb_map_free(&kb->ids);
    wachat_kb_map_free(&kb->syn);
    wachat_kb_map_free(&kb->surf);
    wachat_kb_map_free(&kb->vocab);
    wachat_kb_map_free(&kb->thes);
    free(kb->vocab_word);
    free(kb->vocab_field);
    free(kb->thes_to);
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
