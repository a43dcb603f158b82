/*
 * kb query: a customer's text read for the search (kb_search.c): its
 * terms, and the words the question is about.
 *
 * The text is tokenized like the KB (kb_text.c, kb_lang.c), typos
 * corrected: a corrected word counts 0.8 of a match, and so does a
 * thesaurus synonym (kb_thesaurus.c).  Each term counts once, with the
 * best of its matches.
 *
 * Focus: a word the KB does not know right after one it knows, with no
 * stopword or punctuation between ("bike lights", "rent kayaks", "repair
 * class"), is most likely what the question is about, the known word
 * only its modifier or verb: the pair is a head and its modifier.  In
 * Chinese, the last character of a run (before a function character,
 * punctuation or the end) when the KB lacks it, its pair with the one
 * before and any synonym ending there, and has the one before: 單車燈
 * (bike light), 蛋糕班 (cake class).
 *
 * Object: the words right after a verb that frames a question ("sell",
 * "buy", "rent", "bring": kb_lang.c), stopwords between allowed, words of
 * time and people and numbers not counted, are what the question asks
 * about ("do you sell helmets", "can I bring my dog").
 *
 * A Chinese verb's object: after 有, 冇 or 沒, a run that ends with a frame
 * verb ("有冇單車褲賣", do you have X to sell) has the characters before
 * the verb as its object, and the last of them as a head (褲 of 單車褲).
 */

#include <math.h>
#include <string.h>

#include "answer/kb_query_int.h"


#define WACHAT_KB_TYPO       0.8        /* a typo's match */
#define WACHAT_KB_THES       0.8        /* a thesaurus synonym's match */
#define WACHAT_KB_CJK_OBJECT 4          /* characters of a verb's object */


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


int
wachat_kb_query_read(wachat_kb_query_t *q, const wachat_kb_t *kb,
    const char *text, size_t len)
{
    size_t           i;
    wachat_kb_lex_t  lex;

    if (wachat_kb_lex_open(&lex, kb) != 0) {
        return -1;
    }

    lex.typos = 1;
    lex.gaps = 1;

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

    (void) wachat_kb_tokenize(&lex, text, len, wachat_kb_query_tok, q);
    wachat_kb_lex_close(&lex);
    wachat_kb_focus_end(q);

    return 0;
}
