/*
 * kb internals shared by kb.c, kb_lines.c and kb_entry.c (parser),
 * kb_arena.c (memory), kb_text.c (slugs, tokens), kb_lang.c (stemming,
 * folding, synonyms), kb_index.c (term index, lookups), kb_query.c (a
 * customer's text read) and kb_search.c (scoring, ranking).  Not for the
 * rest of the daemon.
 */

#ifndef WACHAT_KB_INT_H
#define WACHAT_KB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "answer/kb.h"


/* arena: everything a KB owns goes away in one wachat_kb_free() */

typedef struct wachat_kb_chunk_s  wachat_kb_chunk_t;

typedef struct {
    wachat_kb_chunk_t  *head;
} wachat_kb_arena_t;

void *wachat_kb_alloc(wachat_kb_arena_t *a, size_t size);
char *wachat_kb_strndup(wachat_kb_arena_t *a, const char *s, size_t len);
void wachat_kb_arena_free(wachat_kb_arena_t *a);


/* string -> index, open addressing; keys are not copied */

typedef struct {
    const char  *key;
    uint32_t     len;
    uint32_t     hash;
    uint32_t     val;
} wachat_kb_slot_t;

typedef struct {
    wachat_kb_slot_t  *slots;
    size_t             cap;         /* a power of two, or 0 */
    size_t             n;
} wachat_kb_map_t;

uint32_t wachat_kb_hash(const char *s, size_t len);
/* 0 added, 1 present (*val set to the old value), -1 out of memory */
int wachat_kb_map_put(wachat_kb_map_t *m, const char *key, size_t len,
    uint32_t *val);
int wachat_kb_map_get(const wachat_kb_map_t *m, const char *key, size_t len,
    uint32_t *val);
void wachat_kb_map_free(wachat_kb_map_t *m);


/* text */

#define WACHAT_KB_SLUG_CHARS  60
#define WACHAT_KB_SLUG_SIZE   (WACHAT_KB_SLUG_CHARS * 4 + 1)

/* the default id of a question; out has WACHAT_KB_SLUG_SIZE bytes */
void wachat_kb_slug(const char *q, size_t len, char *out);

typedef enum {
    WACHAT_KB_TOK_WORD = 0,         /* Latin & co: folded, stemmed; and
                                       synonym groups' first words */
    WACHAT_KB_TOK_UNI,              /* one CJK character */
    WACHAT_KB_TOK_BI,               /* two adjacent CJK characters */
    WACHAT_KB_TOK_NUM,              /* a word with digits: "15", "10am" */
    WACHAT_KB_TOK_TYPO,             /* a WORD the KB has, spelled wrong */
    WACHAT_KB_TOK_GAP,              /* lex->gaps: the words around it are
                                       not next to each other (a stopword
                                       or punctuation between); no term,
                                       but a Chinese function character
                                       that makes one is given (有, 嗎) */
    WACHAT_KB_TOK_SPAN,             /* lex->gaps: the characters the next
                                       term (a synonym's head) stands for;
                                       no term */
    WACHAT_KB_TOK_THES              /* a WORD the KB has, through the
                                       thesaurus (kb_thesaurus.c) */
} wachat_kb_tok_e;

/* a nonzero return stops the tokenizer and is returned by it */
typedef int (*wachat_kb_tok_pt)(void *ctx, const char *term, size_t len,
    wachat_kb_tok_e kind);

struct sb_stemmer;

/* what a tokenizer needs of the language: one per thread (kb_lang.c) */
typedef struct {
    struct sb_stemmer   *stemmer;
    const wachat_kb_t   *kb;        /* its synonyms; NULL: none */
    wachat_kb_t         *build;     /* loading: its words go to surf */
    int                  typos;     /* searching: correct unknown words */
    int                  gaps;      /* searching: report WACHAT_KB_TOK_GAP */
    unsigned             field;     /* loading: 1 question, 2 answer */
} wachat_kb_lex_t;

int wachat_kb_tokenize(const wachat_kb_lex_t *lex, const char *s,
    size_t len, wachat_kb_tok_pt cb, void *ctx);


/* language (kb_lang.c) */

#define WACHAT_KB_SYN_WORD  63      /* bytes of a synonym */
#define WACHAT_KB_TYPO_MIN  5       /* letters of a word that may be a typo */
#define WACHAT_KB_SYN_CJK   4       /* characters of a Chinese synonym */

int wachat_kb_lex_open(wachat_kb_lex_t *lex, const wachat_kb_t *kb);
void wachat_kb_lex_close(wachat_kb_lex_t *lex);

/* Traditional or variant Chinese character -> Simplified; others as is */
uint32_t wachat_kb_fold(uint32_t cp);

/*
 * An ASCII word (lowercased, w[len] writable) as a term: abbreviation
 * spelled out, a typo corrected (lex->typos), stemmed; *out is valid
 * until the next call.  -1 for a stopword, else its kind (WORD, TYPO or
 * NUM).  The synonym group is the caller's (a pair may make one).
 */
int wachat_kb_word(const wachat_kb_lex_t *lex, char *w, size_t len,
    const char **out, size_t *olen);

/*
 * A word that frames a question rather than says what it is about
 * ("do you sell ...", "can I bring ..."): it weighs WACHAT_KB_WEAK of its
 * idf, in the KB and in questions.
 */
#define WACHAT_KB_WEAK  0.5
int wachat_kb_weak(const char *term, size_t len);

/*
 * A word that says when or for whom rather than what ("morning",
 * "friday", "daughter", "friends", "elsewhere"): when the KB does not use
 * it, it is no sign that the question is about something the KB lacks.
 */
int wachat_kb_context(const char *term, size_t len);

/* the head of the group of w (a stem or folded Chinese), or NULL */
const char *wachat_kb_synonym(const wachat_kb_lex_t *lex, const char *w,
    size_t len, size_t *hlen);

/* the KB's own groups (preamble "Synonyms:" lines), then the built-in */
int wachat_kb_synonyms_build(wachat_kb_t *kb, const char *const *own,
    size_t nown);


/* thesaurus (kb_thesaurus.c) */

/*
 * Loading, after the index: the WordNet synonyms of the KB's own words
 * (kb->vocab) that the KB does not use, each mapped to the stem of the
 * KB's word (kb->thes).  Never fails but for memory: a missing or broken
 * WordNet leaves kb->thes empty and says why in kb->thes_note.
 */
int wachat_kb_thesaurus_build(wachat_kb_t *kb);

/* loading: a word of the KB as written (lex->field says where) */
int wachat_kb_vocab_add(const wachat_kb_lex_t *lex, const char *w,
    size_t len);

/* searching: the KB's stem a thesaurus synonym stands for, or NULL */
const char *wachat_kb_thesaurus_word(const wachat_kb_lex_t *lex,
    const char *stem, size_t len, size_t *olen);


/* index */

typedef struct {
    uint32_t  entry;
    uint32_t  tfq;                  /* in the question and Also lines */
    uint32_t  tfa;                  /* in the answer */
} wachat_kb_posting_t;

typedef struct {
    wachat_kb_map_t       terms;    /* term -> term number */
    size_t                nterms;
    uint32_t             *off;      /* nterms + 1 offsets into post */
    wachat_kb_posting_t  *post;
    double               *normq;    /* per entry: BM25 length norms */
    double               *norma;
    uint8_t              *kind;     /* per term: wachat_kb_tok_e, | WEAK */

    /* the question and every Also line apart: their terms, once each */
    size_t                nphr;
    uint32_t             *eph;      /* nentries + 1: entry's first phrasing */
    uint32_t             *poff;     /* nphr + 1: phrasing's first term */
    uint32_t             *pterm;
} wachat_kb_index_t;

#define WACHAT_KB_KIND_WEAK  0x80

int wachat_kb_index_build(wachat_kb_t *kb);
void wachat_kb_index_free(wachat_kb_index_t *ix);


struct wachat_kb_s {
    wachat_kb_arena_t   arena;
    wachat_kb_entry_t  *entries;
    size_t              nentries;
    wachat_kb_map_t     ids;        /* id -> entry number */
    wachat_kb_map_t     syn;        /* synonym -> group number */
    wachat_kb_map_t     surf;       /* ASCII words as written: typo targets */
    const char        **syn_head;   /* group number -> its first word */
    uint32_t            nsyn;
    wachat_kb_map_t     vocab;      /* loading: the KB's words as written,
                                       -> their number in vocab_word */
    const char        **vocab_word;
    uint8_t            *vocab_field;    /* 1 question, 2 answer, or both */
    size_t              nvocab;
    size_t              vocab_cap;
    wachat_kb_map_t     thes;       /* a synonym's stem -> thes_to */
    const char        **thes_to;    /* the KB's stem it stands for */
    size_t              nthes;
    size_t              thes_cap;
    int                 thes_problem;   /* the database could not be read */
    char                thes_note[384];
    wachat_kb_index_t   index;
};


#endif /* WACHAT_KB_INT_H */
