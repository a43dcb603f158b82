/*
 * kb query: a customer's text as kb_query.c reads it (its terms, and the
 * words it is about) for the scoring and ranking of kb_search.c.  Not
 * for the rest of the kb: kb_int.h is that.
 */

#ifndef WACHAT_KB_QUERY_INT_H
#define WACHAT_KB_QUERY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "answer/kb_int.h"


#define WACHAT_KB_MAX_QTERMS 256
#define WACHAT_KB_MAX_HEADS  16
#define WACHAT_KB_RUN        32         /* characters of a run followed */
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


/*
 * Reads the text (at most WACHAT_KB_MAX_QTERMS terms) into q; -1 when the
 * language cannot be opened (kb_lang.c), q then unusable.
 */
int wachat_kb_query_read(wachat_kb_query_t *q, const wachat_kb_t *kb,
    const char *text, size_t len);


#endif /* WACHAT_KB_QUERY_INT_H */
