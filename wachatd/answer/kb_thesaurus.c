/*
 * kb thesaurus: a general English thesaurus limited to the KB's own
 * vocabulary (issue 15), from WordNet 3.0 as Debian's wordnet-base ships
 * it (/usr/share/wordnet).
 *
 * At load, after the index: for every word the KB uses as written
 * (kb->vocab), its base form is looked up in WordNet's index files (a
 * binary search: they are sorted), and the other lemmas of its first
 * WACHAT_KB_THES_SENSES synsets (the most frequent senses first) become
 * synonyms of the KB's word: a customer's "hire" stands for the KB's
 * "rent".  Only single lowercase words, never a stopword, never a word
 * the KB itself uses (its own meaning wins), and a word in two KB words'
 * synsets stays with the first in the KB's order.  A synonym counts less
 * than the word itself (WACHAT_KB_THES in kb_query.c).
 *
 * Read at run time, not built in: the KB is the business's and changes
 * with every edit, the database is 23 MB that only a KB's few hundred
 * words are looked up in (mmap: a load touches a few pages), and an
 * operator turns it off or points it elsewhere without a rebuild.  A
 * missing or broken file never stops a load: the KB matches by its words
 * alone and kb->thes_note says why.
 *
 * The format (wndb(5)): index.POS lines
 *
 *     lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt
 *         synset_offset [synset_offset...]
 *
 * sorted by lemma, after a licence whose lines begin with two spaces;
 * data.POS lines start at their synset_offset (a byte offset):
 *
 *     synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id...]
 *         p_cnt ...
 *
 * w_cnt two hex digits, lex_id one; an adjective's word may end with a
 * marker such as "(a)"; spaces within a lemma are underscores.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "answer/kb_int.h"


#define WACHAT_KB_THES_SENSES  1        /* synsets of a word looked at */
#define WACHAT_KB_THES_MIN     3        /* letters of a word, and of a
                                           synonym */
#define WACHAT_KB_THES_WORDS   64       /* words of a synset looked at */
#define WACHAT_KB_THES_FIELDS  3        /* the KB's words from its
                                           phrasings (1), answers (2) */


typedef struct {
    const char  *name;
    int          use;                   /* its words' synonyms are taken */
} wachat_kb_thes_pos_t;


/* nouns and verbs: adjectives and adverbs bring more noise than help */
static const wachat_kb_thes_pos_t  wachat_kb_thes_pos[] = {
    { "noun", 1 },
    { "verb", 1 },
    { "adj", 0 },
    { "adv", 0 },
};

#define WACHAT_KB_THES_NPOS \
    (sizeof(wachat_kb_thes_pos) / sizeof(wachat_kb_thes_pos[0]))


/* WordNet's own detachment rules (morphy), per part of speech */
static const char *const  wachat_kb_thes_noun_rules[][2] = {
    { "s", "" }, { "ses", "s" }, { "xes", "x" }, { "zes", "z" },
    { "ches", "ch" }, { "shes", "sh" }, { "men", "man" }, { "ies", "y" },
    { NULL, NULL }
};

static const char *const  wachat_kb_thes_verb_rules[][2] = {
    { "s", "" }, { "ies", "y" }, { "es", "e" }, { "es", "" },
    { "ed", "e" }, { "ed", "" }, { "ing", "e" }, { "ing", "" },
    { NULL, NULL }
};

static const char *const  wachat_kb_thes_adj_rules[][2] = {
    { "er", "" }, { "est", "" }, { "er", "e" }, { "est", "e" },
    { NULL, NULL }
};


typedef struct {
    const char  *p;
    size_t       len;
} wachat_kb_thes_file_t;


typedef struct {
    wachat_kb_thes_file_t  index[WACHAT_KB_THES_NPOS];
    wachat_kb_thes_file_t  data[WACHAT_KB_THES_NPOS];
    int                    broken;      /* a data line not where it should */
} wachat_kb_wordnet_t;


static char  wachat_kb_thes_dir[1024];


void
wachat_kb_thesaurus_use(const char *dir)
{
    if (dir == NULL || strlen(dir) >= sizeof(wachat_kb_thes_dir)) {
        dir = "";
    }

    strcpy(wachat_kb_thes_dir, dir);
}


const char *
wachat_kb_thesaurus_note(const wachat_kb_t *kb, int *problem)
{
    *problem = 0;

    if (kb == NULL) {
        return "";
    }

    *problem = kb->thes_problem;

    return kb->thes_note;
}


/* loading: a word the KB uses, as written, and where */
int
wachat_kb_vocab_add(const wachat_kb_lex_t *lex, const char *w, size_t len)
{
    char         *copy;
    void         *p;
    size_t        i, cap;
    uint32_t      val;
    wachat_kb_t  *kb;

    kb = lex->build;

    if (len < WACHAT_KB_THES_MIN || len > WACHAT_KB_SYN_WORD) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (w[i] < 'a' || w[i] > 'z') {
            return 0;
        }
    }

    if (wachat_kb_map_get(&kb->vocab, w, len, &val)) {
        kb->vocab_field[val] |= (uint8_t) lex->field;
        return 0;
    }

    if (kb->nvocab == kb->vocab_cap) {
        cap = kb->vocab_cap ? kb->vocab_cap * 2 : 256;

        p = realloc(kb->vocab_word, cap * sizeof(char *));
        if (p == NULL) {
            return -1;
        }

        kb->vocab_word = p;

        p = realloc(kb->vocab_field, cap);
        if (p == NULL) {
            return -1;
        }

        kb->vocab_field = p;
        kb->vocab_cap = cap;
    }

    copy = wachat_kb_strndup(&kb->arena, w, len);
    val = (uint32_t) kb->nvocab;

    if (copy == NULL || wachat_kb_map_put(&kb->vocab, copy, len, &val) < 0) {
        return -1;
    }

    kb->vocab_word[kb->nvocab] = copy;
    kb->vocab_field[kb->nvocab] = (uint8_t) lex->field;
    kb->nvocab++;

    return 0;
}


/* searching */
const char *
wachat_kb_thesaurus_word(const wachat_kb_lex_t *lex, const char *stem,
    size_t len, size_t *olen)
{
    uint32_t  v;

    if (lex->kb == NULL || lex->kb->nthes == 0
        || !wachat_kb_map_get(&lex->kb->thes, stem, len, &v))
    {
        return NULL;
    }

    *olen = strlen(lex->kb->thes_to[v]);

    return lex->kb->thes_to[v];
}


/* the database: each file mapped, or left empty when it cannot be */

static int
wachat_kb_thes_map(wachat_kb_thes_file_t *f, const char *dir,
    const char *kind, const char *pos, char *note, size_t nlen)
{
    int          fd, e;
    void        *p;
    char         path[1200];
    struct stat  st;

    snprintf(path, sizeof(path), "%s/%s.%s", dir, kind, pos);

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        snprintf(note, nlen, "%.200s: %s", path, strerror(e));
        return -1;
    }

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
        snprintf(note, nlen, "%.200s: not a WordNet file", path);
        close(fd);
        return -1;
    }

    p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    e = errno;
    close(fd);

    if (p == MAP_FAILED) {
        snprintf(note, nlen, "%.200s: %s", path, strerror(e));
        return -1;
    }

    f->p = p;
    f->len = (size_t) st.st_size;

    return 0;
}


static void
wachat_kb_thes_close(wachat_kb_wordnet_t *wn)
{
    size_t  i;

    for (i = 0; i < WACHAT_KB_THES_NPOS; i++) {
        if (wn->index[i].p != NULL) {
            munmap((void *) wn->index[i].p, wn->index[i].len);
        }

        if (wn->data[i].p != NULL) {
            munmap((void *) wn->data[i].p, wn->data[i].len);
        }
    }
}


/* the parts of speech in use, both files of each; 0 when one is there */
static int
wachat_kb_thes_open(wachat_kb_wordnet_t *wn, const char *dir, char *note,
    size_t nlen)
{
    int          n;
    size_t       i;
    struct stat  st;

    memset(wn, 0, sizeof(*wn));

    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(note, nlen, "%.200s: no such directory (install the Debian "
                 "package wordnet-base)", dir);
        return -1;
    }

    n = 0;

    for (i = 0; i < WACHAT_KB_THES_NPOS; i++) {
        if (!wachat_kb_thes_pos[i].use) {
            continue;
        }

        if (wachat_kb_thes_map(&wn->index[i], dir, "index",
                               wachat_kb_thes_pos[i].name, note, nlen) != 0
            || wachat_kb_thes_map(&wn->data[i], dir, "data",
                                  wachat_kb_thes_pos[i].name, note, nlen)
               != 0)
        {
            return -1;              /* all or nothing: one note, one state */
        }

        n++;
    }

    return n > 0 ? 0 : -1;
}


/* the index line of a lemma: a binary search over lines */
static const char *
wachat_kb_thes_find(const wachat_kb_thes_file_t *f, const char *w,
    size_t len, size_t *llen)
{
    int          cmp;
    size_t       lo, hi, mid, s, e, k, n;
    const char  *p, *nl;

    p = f->p;
    lo = 0;
    hi = f->len;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        for (s = mid; s > lo && p[s - 1] != '\n'; s--) {
            /* void */
        }

        nl = memchr(p + s, '\n', f->len - s);
        e = nl ? (size_t) (nl - p) : f->len;

        for (k = s; k < e && p[k] != ' '; k++) {
            /* void */
        }

        n = k - s;
        cmp = memcmp(w, p + s, len < n ? len : n);
        cmp = cmp ? cmp : (len > n) - (len < n);

        if (cmp == 0) {
            *llen = e - s;
            return p + s;
        }

        if (cmp < 0) {
            hi = s;

        } else {
            lo = e + 1;
        }
    }

    return NULL;
}


/* the next space-separated field of [*p, end) */
static const char *
wachat_kb_thes_field(const char **p, const char *end, size_t *len)
{
    const char  *s;

    while (*p < end && **p == ' ') {
        (*p)++;
    }

    s = *p;

    while (*p < end && **p != ' ' && **p != '\n') {
        (*p)++;
    }

    *len = (size_t) (*p - s);

    return s;
}


/* a field as a number in base 10 or 16; -1 when it is not one */
static long
wachat_kb_thes_num(const char *s, size_t len, int base)
{
    int     d;
    long    v;
    size_t  i;

    if (len == 0 || len > 9) {
        return -1;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            d = s[i] - '0';

        } else if (base == 16 && s[i] >= 'a' && s[i] <= 'f') {
            d = s[i] - 'a' + 10;

        } else {
            return -1;
        }

        v = v * base + d;
    }

    return v;
}


/* the synset offsets of an index line, most frequent sense first */
static size_t
wachat_kb_thes_senses(const char *line, size_t llen, long *off, size_t max)
{
    long         nsyn, nptr, i;
    size_t       n, len;
    const char  *p, *end, *f;

    p = line;
    end = line + llen;

    wachat_kb_thes_field(&p, end, &len);                /* lemma */
    wachat_kb_thes_field(&p, end, &len);                /* pos */
    f = wachat_kb_thes_field(&p, end, &len);
    nsyn = wachat_kb_thes_num(f, len, 10);
    f = wachat_kb_thes_field(&p, end, &len);
    nptr = wachat_kb_thes_num(f, len, 10);

    if (nsyn <= 0 || nptr < 0) {
        return 0;
    }

    /* pointers, sense counts; a hostile count stops at the line's end */
    for (i = 0; i < nptr + 2 && p < end; i++) {
        wachat_kb_thes_field(&p, end, &len);
    }

    for (n = 0; n < max && (long) n < nsyn; n++) {
        f = wachat_kb_thes_field(&p, end, &len);
        off[n] = wachat_kb_thes_num(f, len, 10);

        if (off[n] < 0 || len != 8) {
            break;
        }
    }

    return n;
}


/* the base form of w that the index has, WordNet's morphy rules */
static const char *
wachat_kb_thes_base(const wachat_kb_thes_file_t *f, size_t pos,
    const char *w, size_t len, char *buf, size_t *llen)
{
    size_t               k, n, m;
    const char          *line;
    const char *const  (*r)[2];

    line = wachat_kb_thes_find(f, w, len, llen);
    if (line != NULL) {
        return line;
    }

    r = pos == 0 ? wachat_kb_thes_noun_rules
        : pos == 1 ? wachat_kb_thes_verb_rules
        : pos == 2 ? wachat_kb_thes_adj_rules : NULL;

    for (k = 0; r != NULL && r[k][0] != NULL; k++) {
        n = strlen(r[k][0]);
        m = strlen(r[k][1]);

        if (len <= n || memcmp(w + len - n, r[k][0], n) != 0
            || len - n + m > WACHAT_KB_SYN_WORD)
        {
            continue;
        }

        memcpy(buf, w, len - n);
        memcpy(buf + len - n, r[k][1], m);

        line = wachat_kb_thes_find(f, buf, len - n + m, llen);
        if (line != NULL) {
            return line;
        }
    }

    return NULL;
}


typedef struct {
    wachat_kb_t      *kb;
    wachat_kb_lex_t   lex;
    const char       *to;               /* the KB word's stem, arena */
    size_t            tolen;
} wachat_kb_thes_build_t;


/* one lemma of a synset: a synonym of the KB's word, unless the KB has it */
static int
wachat_kb_thes_add(wachat_kb_thes_build_t *b, const char *lemma, size_t len)
{
    int           kind;
    char          w[WACHAT_KB_SYN_WORD + 1], *copy;
    size_t        i, slen, hlen, cap;
    uint32_t      id, val;
    const char   *stem, *head, **to;
    wachat_kb_t  *kb;

    kb = b->kb;

    /* an adjective's marker: "(a)", "(p)", "(ip)" */
    for (i = 0; i < len && lemma[i] != '('; i++) {
        /* void */
    }

    len = i;

    if (len < WACHAT_KB_THES_MIN || len > WACHAT_KB_SYN_WORD) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (lemma[i] < 'a' || lemma[i] > 'z') {
            return 0;               /* a name, a phrase, a compound */
        }
    }

    memcpy(w, lemma, len);

    kind = wachat_kb_word(&b->lex, w, len, &stem, &slen);
    if (kind != WACHAT_KB_TOK_WORD) {
        return 0;                   /* a stopword or a chat spelling */
    }

    if ((slen == b->tolen && memcmp(stem, b->to, slen) == 0)
        || wachat_kb_map_get(&kb->index.terms, stem, slen, &id)
        || wachat_kb_map_get(&kb->thes, stem, slen, &val))
    {
        return 0;
    }

    /* a synonym group's word that leads to the KB already */
    head = wachat_kb_synonym(&b->lex, stem, slen, &hlen);
    if (head != NULL && wachat_kb_map_get(&kb->index.terms, head, hlen, &id)) {
        return 0;
    }

    if (kb->nthes == kb->thes_cap) {
        cap = kb->thes_cap ? kb->thes_cap * 2 : 256;

        to = realloc(kb->thes_to, cap * sizeof(char *));
        if (to == NULL) {
            return -1;
        }

        kb->thes_to = to;
        kb->thes_cap = cap;
    }

    copy = wachat_kb_strndup(&kb->arena, stem, slen);
    val = (uint32_t) kb->nthes;

    if (copy == NULL || wachat_kb_map_put(&kb->thes, copy, slen, &val) < 0) {
        return -1;
    }

    kb->thes_to[kb->nthes++] = b->to;

    return 0;
}


/* the lemmas of the synset at off in a data file */
static int
wachat_kb_thes_synset(wachat_kb_thes_build_t *b, wachat_kb_wordnet_t *wn,
    size_t pos, long off)
{
    int                           rc;
    long                          nw, i;
    size_t                        len;
    const char                   *p, *end, *f, *nl;
    const wachat_kb_thes_file_t  *d;

    d = &wn->data[pos];

    if (off < 0 || (size_t) off + 9 > d->len) {
        wn->broken = 1;
        return 0;
    }

    p = d->p + off;
    nl = memchr(p, '\n', d->len - (size_t) off);
    end = nl ? nl : d->p + d->len;

    f = wachat_kb_thes_field(&p, end, &len);

    if (len != 8 || wachat_kb_thes_num(f, len, 10) != off
        || (off > 0 && d->p[off - 1] != '\n'))
    {
        wn->broken = 1;             /* not the line the index points to */
        return 0;
    }

    wachat_kb_thes_field(&p, end, &len);                /* lex_filenum */
    wachat_kb_thes_field(&p, end, &len);                /* ss_type */
    f = wachat_kb_thes_field(&p, end, &len);
    nw = wachat_kb_thes_num(f, len, 16);

    if (nw <= 0) {
        wn->broken = 1;
        return 0;
    }

    for (i = 0; i < nw && i < WACHAT_KB_THES_WORDS; i++) {
        f = wachat_kb_thes_field(&p, end, &len);
        if (len == 0) {
            wn->broken = 1;
            return 0;
        }

        rc = wachat_kb_thes_add(b, f, len);
        if (rc != 0) {
            return rc;
        }

        wachat_kb_thes_field(&p, end, &len);            /* lex_id */
    }

    return 0;
}


/* every synonym of one KB word */
static int
wachat_kb_thes_word(wachat_kb_thes_build_t *b, wachat_kb_wordnet_t *wn,
    const char *w)
{
    int          rc;
    char         buf[WACHAT_KB_SYN_WORD + 1];
    long         off[WACHAT_KB_THES_SENSES];
    size_t       pos, len, llen, n, i;
    const char  *line;

    len = strlen(w);

    for (pos = 0; pos < WACHAT_KB_THES_NPOS; pos++) {
        if (wn->index[pos].p == NULL) {
            continue;
        }

        line = wachat_kb_thes_base(&wn->index[pos], pos, w, len, buf, &llen);
        if (line == NULL) {
            continue;
        }

        n = wachat_kb_thes_senses(line, llen, off, WACHAT_KB_THES_SENSES);

        for (i = 0; i < n; i++) {
            rc = wachat_kb_thes_synset(b, wn, pos, off[i]);
            if (rc != 0) {
                return rc;
            }
        }
    }

    return 0;
}


int
wachat_kb_thesaurus_build(wachat_kb_t *kb)
{
    int                     rc, kind;
    char                    w[WACHAT_KB_SYN_WORD + 1];
    size_t                  v, len, slen;
    const char             *stem;
    wachat_kb_wordnet_t     wn;
    wachat_kb_thes_build_t  b;

    rc = 0;

    if (wachat_kb_thes_dir[0] == '\0' || kb->nvocab == 0) {
        goto done;
    }

    if (wachat_kb_thes_open(&wn, wachat_kb_thes_dir, kb->thes_note,
                            sizeof(kb->thes_note)) != 0)
    {
        kb->thes_problem = 1;
        wachat_kb_thes_close(&wn);
        goto done;
    }

    memset(&b, 0, sizeof(b));
    b.kb = kb;

    if (wachat_kb_lex_open(&b.lex, kb) != 0) {
        wachat_kb_thes_close(&wn);
        rc = -1;
        goto done;
    }

    for (v = 0; v < kb->nvocab && rc == 0 && !wn.broken; v++) {
        len = strlen(kb->vocab_word[v]);
        memcpy(w, kb->vocab_word[v], len);

        if (!(kb->vocab_field[v] & WACHAT_KB_THES_FIELDS)) {
            continue;
        }

        kind = wachat_kb_word(&b.lex, w, len, &stem, &slen);
        if (kind != WACHAT_KB_TOK_WORD || wachat_kb_context(stem, slen)) {
            continue;
        }

        b.to = wachat_kb_strndup(&kb->arena, stem, slen);
        b.tolen = slen;

        rc = b.to ? wachat_kb_thes_word(&b, &wn, kb->vocab_word[v]) : -1;
    }

    wachat_kb_lex_close(&b.lex);
    wachat_kb_thes_close(&wn);

    if (wn.broken) {
        /* a half-read database would make the answers depend on where */
        wachat_kb_map_free(&kb->thes);
        kb->nthes = 0;
        kb->thes_problem = 1;
        snprintf(kb->thes_note, sizeof(kb->thes_note), "%.200s: a data file "
                 "does not match its index (not WordNet 3.0's format?)",
                 wachat_kb_thes_dir);

    } else if (rc == 0) {
        snprintf(kb->thes_note, sizeof(kb->thes_note), "%zu synonyms of "
                 "the KB's %zu words from %.200s", kb->nthes, kb->nvocab,
                 wachat_kb_thes_dir);
    }

done:

    wachat_kb_map_free(&kb->vocab);
    free(kb->vocab_word);
    free(kb->vocab_field);
    kb->vocab_word = NULL;
    kb->vocab_field = NULL;
    kb->nvocab = 0;
    kb->vocab_cap = 0;

    return rc;
}
