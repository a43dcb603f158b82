/*
 * kb search: a customer's text against the index (kb_index.c).
 *
 * The text is tokenized like the KB (kb_text.c, kb_lang.c), typos
 * corrected: a corrected word counts 0.8 of a match.
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
 * Focus: a word the KB does not know right after one it knows, with no
 * stopword or punctuation between ("bike lights", "rent kayaks", "repair
 * class"), is most likely what the question is about, the known word
 * only its modifier or verb.  An entry that has the known word answers
 * something else: its confidence is multiplied by WACHAT_KB_FOCUS.  In
 * Chinese, the last character of a run (before a function character,
 * punctuation or the end) when the KB lacks it, its pair with the one
 * before and any synonym ending there, and has the one before: 單車燈
 * (bike light), 蛋糕班 (cake class).
 *
 * Object: the words right after a verb that frames a question ("sell",
 * "buy", "rent", "bring": kb_lang.c), stopwords between allowed, words of
 * time and people and numbers not counted, are what the question asks
 * about ("do you sell helmets", "can I bring my dog").  An entry that
 * lacks one of them (in its question, Also lines or answer) has at best
 * the verb: its confidence is multiplied by WACHAT_KB_OBJECT.
 *
 * A Chinese verb's object: after 有, 冇 or 沒, a run that ends with a frame
 * verb ("有冇單車褲賣", do you have X to sell) has the characters before
 * the verb as its object, and the last of them as a head (褲 of 單車褲).
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
#include <string.h>

#include "answer/kb_int.h"

#ifdef WACHAT_KB_TRACE
#include <stdio.h>
#endif


#define WACHAT_KB_K1         1.2
#define WACHAT_KB_WQ         2.0
#define WACHAT_KB_WA         1.0
#define WACHAT_KB_SREF_Q     (WACHAT_KB_WQ / (WACHAT_KB_K1 + WACHAT_KB_WQ))
#define WACHAT_KB_SREF_A     (WACHAT_KB_WA / (WACHAT_KB_K1 + WACHAT_KB_WA))
#define WACHAT_KB_ANSWER_CAP 0.6
#define WACHAT_KB_TYPO       0.8        /* a typo's match */
#define WACHAT_KB_THES       0.8        /* a thesaurus synonym's match */
#define WACHAT_KB_MAX_QTERMS 256
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
#define WACHAT_KB_MAX_HEADS  16
#define WACHAT_KB_RUN        32         /* characters of a run followed */
#define WACHAT_KB_CJK_OBJECT 4          /* characters of a verb's object */
#define WACHAT_KB_NONE       SIZE_MAX


typedef struct {
    const wachat_kb_t  *kb;
    size_t              n;
    uint32_t            term[WACHAT_KB_MAX_QTERMS];     /* or UINT32_MAX */
    uint32_t            hash[WACHAT_KB_MAX_QTERMS];     /* of unknown ones */
    wachat_kb_tok_e     kind[WACHAT_KB_MAX_QTERMS];
    double              fac[WACHAT_KB_MAX_QTERMS];      /* 1, or a typo's */
    double              wt[WACHAT_KB_MAX_QTERMS];       /* 1, or weak */
    uint8_t             ctx[WACHAT_KB_MAX_QTERMS];      /* unknown context */
    uint8_t             obj[WACHAT_KB_MAX_QTERMS];      /* a frame's object */

    /* "do you sell helmets": the words after a frame verb */
    int                 frame;      /* 0, 1 after the verb, 2 in its object */

    /* unknown words right after a word: head[i] modified by mod[i] */
    size_t              last;       /* the word just before, or NONE */
    size_t              lastu;      /* the Chinese character before */
    size_t              ring[WACHAT_KB_SYN_CJK];    /* the last ones' terms,
                                                       NONE: a gap */
    size_t              pmod;       /* a Chinese head if the run ends */
    size_t              phead;      /* or NONE */
    size_t              nheads;
    size_t              mod[WACHAT_KB_MAX_HEADS];
    size_t              head[WACHAT_KB_MAX_HEADS];

    /* "有冇單車褲賣": a frame verb at the end of a run of characters */
    size_t              run[WACHAT_KB_RUN];     /* the characters' terms */
    uint8_t             known[WACHAT_KB_RUN];   /* a known pair or synonym
                                                   ends at the character */
    size_t              nrun;
    size_t              spanned;    /* characters of the synonym to come */
    int                 exist;      /* the run follows 有, 冇, 沒: "有冇 X 賣" */
    size_t              vfrom;      /* the verb's characters in run, */
    size_t              vto;        /* or vto 0 */
} wachat_kb_query_t;


static void
wachat_kb_focus_add(wachat_kb_query_t *q, size_t mod, size_t head)
{
    if (q->nheads < WACHAT_KB_MAX_HEADS) {
        q->mod[q->nheads] = mod;
        q->head[q->nheads] = head;
        q->nheads++;
    }
}


/*
 * A run after 有, 冇 or 沒 that ends with a frame verb ("有冇單車褲賣",
 * "有冇電動車租": do you have X to sell, to rent): the characters before
 * the verb are its object, and the last of them, unknown right after a
 * known one, is the head (褲 of 單車褲) as if the run ended there.  One
 * that begins with the verb ("有冇賣單車手套") has the characters after
 * it as its object.  Not any run: in "腳踏車點租" (how to rent a bike) 點
 * is no object, nor is 使唔使帶證件 in "租單車使唔使帶證件".
 */
static void
wachat_kb_verb_end(wachat_kb_query_t *q)
{
    size_t  k, c, m;

    if (!q->exist || q->vto == 0) {
        return;
    }

    /* "有冇賣單車手套": the verb first, what is sold after it */
    if (q->vfrom == 0 && q->vto < q->nrun) {
        for (k = q->vto; k < q->nrun && k < q->vto + WACHAT_KB_CJK_OBJECT;
             k++)
        {
            q->obj[q->run[k]] = 1;
        }

        return;
    }

    if (q->vto != q->nrun || q->vfrom == 0) {
        return;
    }

    k = q->vfrom > WACHAT_KB_CJK_OBJECT ? q->vfrom - WACHAT_KB_CJK_OBJECT : 0;

    for ( /* void */ ; k < q->vfrom; k++) {
        q->obj[q->run[k]] = 1;
    }

    if (q->vfrom >= 2) {
        c = q->run[q->vfrom - 1];
        m = q->run[q->vfrom - 2];

        if (q->term[c] == UINT32_MAX && q->term[m] != UINT32_MAX
            && !q->known[q->vfrom - 1])
        {
            wachat_kb_focus_add(q, m, c);
        }
    }
}


/* the run of Chinese characters has ended: its last one is a head */
static void
wachat_kb_focus_end(wachat_kb_query_t *q)
{
    if (q->phead != WACHAT_KB_NONE) {
        wachat_kb_focus_add(q, q->pmod, q->phead);
        q->phead = WACHAT_KB_NONE;
    }

    wachat_kb_verb_end(q);
    q->nrun = 0;
    q->vto = 0;
    q->exist = 0;
    q->lastu = WACHAT_KB_NONE;
}


/* 有, 冇, 沒, 没: a run after one may say what is had, or not */
static int
wachat_kb_existential(const char *s, size_t len)
{
    return len == 3
           && (memcmp(s, "有", 3) == 0 || memcmp(s, "冇", 3) == 0
               || memcmp(s, "沒", 3) == 0 || memcmp(s, "没", 3) == 0);
}


static void
wachat_kb_ring(wachat_kb_query_t *q, size_t i)
{
    memmove(q->ring, q->ring + 1, (WACHAT_KB_SYN_CJK - 1) * sizeof(size_t));
    q->ring[WACHAT_KB_SYN_CJK - 1] = i;
}


/*
 * A Chinese synonym stands for its last characters (自行车 for bike):
 * those the KB lacks are explained, not unknown, and weigh nothing.
 * Returns how many characters it stands for.
 */
static size_t
wachat_kb_spanned(wachat_kb_query_t *q, const char *s, size_t len)
{
    size_t  i, chars, k;

    for (i = 0, chars = 0; i < len; i++) {
        chars += ((unsigned char) s[i] & 0xc0) != 0x80;
    }

    for (k = 0; k < chars && k < WACHAT_KB_SYN_CJK; k++) {
        i = q->ring[WACHAT_KB_SYN_CJK - 1 - k];

        if (i != WACHAT_KB_NONE && q->term[i] == UINT32_MAX) {
            q->ctx[i] = 1;
        }
    }

    return chars;
}


/*
 * A stopword or punctuation: the words around it are not next to each
 * other, a run of Chinese characters ends, and so does a frame verb's
 * object (not the stopwords before it: "rent a kayak").
 */
static void
wachat_kb_query_gap(wachat_kb_query_t *q, const char *s, size_t len)
{
    q->frame = (q->frame == 2) ? 0 : q->frame;
    q->last = WACHAT_KB_NONE;
    wachat_kb_focus_end(q);
    q->exist = wachat_kb_existential(s, len);
    wachat_kb_ring(q, WACHAT_KB_NONE);
}


/* a typo's or a thesaurus synonym's match counts less; both are words */
static double
wachat_kb_query_fac(wachat_kb_tok_e *kind)
{
    if (*kind == WACHAT_KB_TOK_TYPO) {
        *kind = WACHAT_KB_TOK_WORD;
        return WACHAT_KB_TYPO;
    }

    if (*kind == WACHAT_KB_TOK_THES) {
        *kind = WACHAT_KB_TOK_WORD;
        return WACHAT_KB_THES;
    }

    return 1;
}


/*
 * The term's index in the query, added the first time: each term counts
 * once, with the best of its matches.  WACHAT_KB_NONE when the query has
 * all the terms it keeps.
 */
static size_t
wachat_kb_query_term(wachat_kb_query_t *q, const char *term, size_t len,
    wachat_kb_tok_e kind, double fac)
{
    size_t    i;
    uint32_t  id, hash;

    hash = 0;

    if (!wachat_kb_map_get(&q->kb->index.terms, term, len, &id)) {
        id = UINT32_MAX;
        hash = wachat_kb_hash(term, len);
    }

    for (i = 0; i < q->n; i++) {
        if (q->term[i] == id && (id != UINT32_MAX || q->hash[i] == hash)) {
            q->fac[i] = fmax(q->fac[i], fac);
            return i;
        }
    }

    if (q->n == WACHAT_KB_MAX_QTERMS) {
        return WACHAT_KB_NONE;
    }

    i = q->n++;
    q->term[i] = id;
    q->hash[i] = hash;
    q->kind[i] = kind;
    q->fac[i] = fac;
    q->wt[i] = wachat_kb_weak(term, len) ? WACHAT_KB_WEAK : 1;
    q->ctx[i] = id == UINT32_MAX && kind == WACHAT_KB_TOK_WORD
                && wachat_kb_context(term, len);
    q->obj[i] = 0;

    return i;
}


/*
 * "do you sell helmets": a frame verb (a weak word) opens its object, the
 * words after it but those of time and people; numbers leave it open,
 * Chinese characters close it.
 */
static void
wachat_kb_query_frame(wachat_kb_query_t *q, size_t i, const char *term,
    size_t len, wachat_kb_tok_e kind)
{
    if (kind == WACHAT_KB_TOK_WORD) {
        if (q->wt[i] < 1) {
            q->frame = 1;

        } else if (q->frame && !wachat_kb_context(term, len)) {
            q->obj[i] = 1;
            q->frame = 2;
        }

    } else if (kind != WACHAT_KB_TOK_NUM) {
        q->frame = 0;
    }
}


/*
 * 單車燈 (bike light), 蛋糕班 (cake class): the last character of a
 * run, unknown, right after a known one, and no known pair or synonym
 * with it, is the head
 */
static void
wachat_kb_query_char(wachat_kb_query_t *q, size_t i)
{
    q->last = WACHAT_KB_NONE;
    q->phead = WACHAT_KB_NONE;              /* not the last */

    if (q->nrun < WACHAT_KB_RUN) {
        q->known[q->nrun] = 0;
        q->run[q->nrun++] = i;
    }

    if (q->term[i] == UINT32_MAX && q->lastu != WACHAT_KB_NONE
        && q->term[q->lastu] != UINT32_MAX)
    {
        q->pmod = q->lastu;
        q->phead = i;
    }

    q->lastu = i;
    wachat_kb_ring(q, i);
}


/* a known pair or synonym: the character it ends at is no head */
static void
wachat_kb_query_known(wachat_kb_query_t *q, wachat_kb_tok_e kind)
{
    q->phead = WACHAT_KB_NONE;

    if (q->nrun > 0 && (kind != WACHAT_KB_TOK_WORD || q->spanned)) {
        q->known[q->nrun - 1] = 1;
    }
}


/*
 * A word: a synonym standing for the run's last characters (a frame
 * verb's says where the verb is), else the run's end; unknown right after
 * a known word, it is what the question is about ("bike lights").
 */
static void
wachat_kb_query_word(wachat_kb_query_t *q, size_t i)
{
    if (q->spanned) {
        if (q->wt[i] < 1 && q->spanned <= q->nrun) {
            q->vfrom = q->nrun - q->spanned;        /* a frame verb */
            q->vto = q->nrun;
        }

        q->spanned = 0;

    } else if (q->nrun > 0) {
        wachat_kb_focus_end(q);             /* a word ends the run */
    }

    if (q->term[i] == UINT32_MAX && !q->ctx[i] && q->last != WACHAT_KB_NONE
        && q->term[q->last] != UINT32_MAX)
    {
        wachat_kb_focus_add(q, q->last, i);
    }

    q->last = i;
}


static int
wachat_kb_query_tok(void *ctx, const char *term, size_t len,
    wachat_kb_tok_e kind)
{
    size_t              i;
    double              fac;
    wachat_kb_query_t  *q;

    q = ctx;

    if (kind == WACHAT_KB_TOK_GAP) {
        wachat_kb_query_gap(q, term, len);
        return 0;
    }

    if (kind == WACHAT_KB_TOK_SPAN) {
        q->spanned = wachat_kb_spanned(q, term, len);
        return 0;
    }

    fac = wachat_kb_query_fac(&kind);

    i = wachat_kb_query_term(q, term, len, kind, fac);
    if (i == WACHAT_KB_NONE) {
        return 1;                           /* enough to rank on */
    }

    wachat_kb_query_frame(q, i, term, len, kind);

    if (kind == WACHAT_KB_TOK_UNI) {
        wachat_kb_query_char(q, i);
        return 0;
    }

    if (kind == WACHAT_KB_TOK_NUM) {
        q->last = WACHAT_KB_NONE;
        wachat_kb_focus_end(q);             /* a number ends a run */
        return 0;
    }

    if (q->term[i] != UINT32_MAX) {
        wachat_kb_query_known(q, kind);
    }

    if (kind != WACHAT_KB_TOK_WORD) {
        q->last = WACHAT_KB_NONE;           /* a pair */
        return 0;
    }

    wachat_kb_query_word(q, i);

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
    size_t              i, nhits;
    double              total, *conf, *raw, *words;
    wachat_kb_lex_t     lex;
    wachat_kb_query_t  *q;

    if (kb == NULL || query == NULL || hits == NULL || max == 0) {
        return 0;
    }

    qlen = qlen > WACHAT_KB_MAX_QUERY ? WACHAT_KB_MAX_QUERY : qlen;

    q = malloc(sizeof(wachat_kb_query_t));
    conf = calloc(3 * kb->nentries, sizeof(double));

    if (q == NULL || conf == NULL || wachat_kb_lex_open(&lex, kb) != 0) {
        free(q);
        free(conf);
        return 0;
    }

    lex.typos = 1;
    lex.gaps = 1;

    raw = conf + kb->nentries;
    words = raw + kb->nentries;
    q->kb = kb;
    q->n = 0;
    q->last = WACHAT_KB_NONE;
    q->lastu = WACHAT_KB_NONE;
    q->phead = WACHAT_KB_NONE;
    q->nheads = 0;
    q->frame = 0;
    q->nrun = 0;
    q->spanned = 0;
    q->vto = 0;
    q->exist = 0;

    for (i = 0; i < WACHAT_KB_SYN_CJK; i++) {
        q->ring[i] = WACHAT_KB_NONE;
    }

    (void) wachat_kb_tokenize(&lex, query, qlen, wachat_kb_query_tok, q);
    wachat_kb_lex_close(&lex);
    wachat_kb_focus_end(q);

    total = wachat_kb_score(kb, q, conf, raw, words);
    nhits = wachat_kb_rank(kb, q, conf, raw, words, total, hits, max);

    free(q);
    free(conf);

    return nhits;
}
