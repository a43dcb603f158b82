/*
 * kb text: character classes, slugs and the tokenizer the
 * index and the queries share (so both sides fold text the same way).
 *
 * Tokens: words of Latin and other spaced scripts, ASCII lowercased (also
 * Latin-1, Latin Extended-A, Greek and Cyrillic capitals), fullwidth ASCII
 * folded to ASCII; ASCII words go through kb_lang.c (abbreviations,
 * stopwords and 1-letter words dropped, stemming, synonyms); hyphenated
 * words also give their joined form ("Wi-Fi" -> wi, fi, wifi).  Han, kana
 * and Hangul have no spaces: every character, folded to Simplified, is a
 * unigram and every adjacent pair a bigram, so "營業時間" matches inside
 * "你們的營业时间是什麼", minus a few function characters (的, 是, 嗎...)
 * that would match everything; a synonym ending at a character (up to
 * WACHAT_KB_SYN_CJK of them) adds its group's first word.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/kb_int.h"
#include "wachat_utf8.h"


#define WACHAT_KB_WORD_MAX  64          /* bytes kept of one word */
#define WACHAT_KB_STOP_BIT  0x80000000u     /* in a run: a function character */

enum {
    WACHAT_KB_SEP = 0,
    WACHAT_KB_WORD,
    WACHAT_KB_CJK
};



/* function characters: no unigram, no bigram (sorted code points) */
static const uint32_t  wachat_kb_cjk_stop[] = {
    0x304b, /* か */ 0x304c, /* が */ 0x3067, /* で */ 0x3068, /* と */
    0x306b, /* に */ 0x306d, /* ね */ 0x306e, /* の */ 0x306f, /* は */
    0x3082, /* も */ 0x3088, /* よ */ 0x3092, /* を */ 0x4e00, /* 一 */
    0x4e0e, /* 与 */ 0x4e2a, /* 个 */ 0x4e48, /* 么 */ 0x4e4b, /* 之 */
    0x4e5c, /* 乜 */ 0x4e5f, /* 也 */ 0x4e86, /* 了 */ 0x4ec0, /* 什 */
    0x4ed6, /* 他 */ 0x4ee5, /* 以 */ 0x4eec, /* 们 */ 0x4f1a, /* 会 */
    0x4f60, /* 你 */ 0x4f62, /* 佢 */ 0x4fc2, /* 係 */ 0x500b, /* 個 */
    0x5011, /* 們 */ 0x5187, /* 冇 */ 0x53ef, /* 可 */ 0x5417, /* 吗 */
    0x5427, /* 吧 */ 0x5440, /* 呀 */ 0x5462, /* 呢 */ 0x548c, /* 和 */
    0x5497, /* 咗 */ 0x54a9, /* 咩 */ 0x54cb, /* 哋 */ 0x54e6, /* 哦 */
    0x5514, /* 唔 */ 0x554a, /* 啊 */ 0x554f, /* 問 */ 0x5572, /* 啲 */
    0x5594, /* 喔 */ 0x55ba, /* 喺 */ 0x55ce, /* 嗎 */ 0x55ef, /* 嗯 */
    0x5605, /* 嘅 */ 0x561b, /* 嘛 */ 0x5728, /* 在 */ 0x5979, /* 她 */
    0x5b83, /* 它 */ 0x5c31, /* 就 */ 0x5f88, /* 很 */ 0x600e, /* 怎 */
    0x60a8, /* 您 */ 0x60f3, /* 想 */ 0x6211, /* 我 */ 0x6216, /* 或 */
    0x662f, /* 是 */ 0x6703, /* 會 */ 0x6709, /* 有 */ 0x6837, /* 样 */
    0x6a23, /* 樣 */ 0x6c92, /* 沒 */ 0x6ca1, /* 没 */ 0x7684, /* 的 */
    0x7740, /* 着 */ 0x80fd, /* 能 */ 0x8207, /* 與 */ 0x8457, /* 著 */
    0x8981, /* 要 */ 0x8acb, /* 請 */ 0x8bf7, /* 请 */ 0x8fd9, /* 这 */
    0x9019, /* 這 */ 0x90a3, /* 那 */ 0x90fd, /* 都 */ 0x95ee, /* 问 */
    0x9ebc, /* 麼 */
};


uint32_t
wachat_kb_hash(const char *s, size_t len)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;                        /* FNV-1a */

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char) s[i]) * 16777619u;
    }

    return h;
}


/* capitals of the scripts a small shop's customers are likely to use */
static uint32_t
wachat_kb_lower(uint32_t c)
{
    if (c >= 0xc0 && c <= 0xde && c != 0xd7) {
        return c + 0x20;
    }

    if (c == 0x130) {                       /* İ */
        return 'i';
    }

    if (c == 0x178) {                       /* Ÿ */
        return 0xff;
    }

    if (((c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177))
        && (c & 1) == 0)
    {
        return c + 1;
    }

    if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
        && (c & 1) == 1)
    {
        return c + 1;
    }

    if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) {
        return c + 0x20;
    }

    if (c == 0x386) {                       /* Greek capitals with tonos */
        return 0x3ac;
    }

    if (c >= 0x388 && c <= 0x38a) {
        return c + 0x25;
    }

    if (c == 0x38c || c == 0x38e || c == 0x38f) {
        return c + 0x40 - (c == 0x38c ? 0 : 1);
    }

    if (c >= 0x410 && c <= 0x42f) {
        return c + 0x20;
    }

    if (c >= 0x400 && c <= 0x40f) {
        return c + 0x50;
    }

    return c;
}


/*
 * What the code points from U+0080 up are made of, after case folding: a
 * row covers those below its bound that the rows above do not.
 */
static const struct {
    uint32_t  below;
    int       cls;
} wachat_kb_classes[] = {
    { 0xc0,       WACHAT_KB_SEP },      /* Latin-1 punctuation, signs */
    { 0xd7,       WACHAT_KB_WORD },
    { 0xd8,       WACHAT_KB_SEP },      /* multiplication sign */
    { 0xf7,       WACHAT_KB_WORD },
    { 0xf8,       WACHAT_KB_SEP },      /* division sign */
    { 0x1100,     WACHAT_KB_WORD },
    { 0x1200,     WACHAT_KB_CJK },      /* Hangul jamo */
    { 0x2000,     WACHAT_KB_WORD },
    { 0x2e80,     WACHAT_KB_SEP },      /* punctuation, symbols, arrows */
    { 0x3000,     WACHAT_KB_CJK },      /* radicals */
    { 0x3005,     WACHAT_KB_SEP },      /* CJK punctuation, */
    { 0x3008,     WACHAT_KB_CJK },      /* but 々〆〇 */
    { 0x3040,     WACHAT_KB_SEP },
    { 0x30fb,     WACHAT_KB_CJK },      /* kana, */
    { 0x30fc,     WACHAT_KB_SEP },      /* but the katakana middle dot */
    { 0x3200,     WACHAT_KB_CJK },      /* kana, bopomofo, jamo */
    { 0x3400,     WACHAT_KB_SEP },      /* enclosed, squared units */
    { 0x4dc0,     WACHAT_KB_CJK },
    { 0x4e00,     WACHAT_KB_SEP },      /* hexagrams */
    { 0xa000,     WACHAT_KB_CJK },
    { 0xac00,     WACHAT_KB_WORD },
    { 0xd800,     WACHAT_KB_CJK },      /* Hangul syllables */
    { 0xf900,     WACHAT_KB_SEP },      /* private use */
    { 0xfb00,     WACHAT_KB_CJK },      /* compatibility ideographs */
    { 0xfe00,     WACHAT_KB_WORD },
    { 0xfe70,     WACHAT_KB_SEP },      /* selectors, small forms */
    { 0xfeff,     WACHAT_KB_WORD },
    { 0xff00,     WACHAT_KB_SEP },      /* the BOM */
    { 0xff66,     WACHAT_KB_SEP },
    { 0xffdd,     WACHAT_KB_CJK },      /* halfwidth kana, Hangul */
    { 0x10000,    WACHAT_KB_SEP },      /* specials */
    { 0x1f000,    WACHAT_KB_WORD },
    { 0x1fb00,    WACHAT_KB_SEP },      /* emoji */
    { 0x20000,    WACHAT_KB_WORD },
    { 0x40000,    WACHAT_KB_CJK },
    { 0xe0000,    WACHAT_KB_WORD },
    { UINT32_MAX, WACHAT_KB_SEP }       /* tags, private use */
};


/* folds *cp (case, fullwidth) and says what it is made of */
static int
wachat_kb_class(uint32_t *cp)
{
    size_t    lo, hi, mid;
    uint32_t  c;

    c = *cp;

    if (c >= 0xff01 && c <= 0xff5e) {       /* fullwidth ASCII */
        c -= 0xfee0;
    }

    if (c < 0x80) {
        if (c >= 'A' && c <= 'Z') {
            c += 0x20;
        }

        *cp = c;

        return ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
               ? WACHAT_KB_WORD : WACHAT_KB_SEP;
    }

    *cp = c = wachat_kb_lower(c);

    /* the first row whose bound is above c; the last one is above all */
    lo = 0;
    hi = sizeof(wachat_kb_classes) / sizeof(wachat_kb_classes[0]) - 1;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        if (c < wachat_kb_classes[mid].below) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return wachat_kb_classes[lo].cls;
}


void
wachat_kb_slug(const char *q, size_t len, char *out)
{
    int       dash;
    size_t    i, n, o, chars;
    uint32_t  cp;

    o = 0;
    chars = 0;
    dash = 0;

    for (i = 0; i < len && chars < WACHAT_KB_SLUG_CHARS; i += n) {
        n = wachat_utf8_decode(q + i, len - i, &cp);

        if (n == 0) {
            n = 1;
            dash = (o > 0);
            continue;
        }

        if (cp == '\'' || cp == 0x2019) {   /* "what's" -> whats */
            continue;
        }

        if (wachat_kb_class(&cp) == WACHAT_KB_SEP) {
            dash = (o > 0);
            continue;
        }

        if (dash) {
            if (chars + 2 > WACHAT_KB_SLUG_CHARS) {
                break;
            }

            out[o++] = '-';
            chars++;
            dash = 0;
        }

        o += wachat_utf8_encode(cp, out + o);
        chars++;
    }

    out[o] = '\0';

    if (o == 0) {
        /* "??" or only emoji: still a stable id */
        snprintf(out, WACHAT_KB_SLUG_SIZE, "q-%08x", wachat_kb_hash(q, len));
    }
}


/* tokens */


static int
wachat_kb_u32cmp(const void *a, const void *b)
{
    uint32_t  x, y;

    x = *(const uint32_t *) a;
    y = *(const uint32_t *) b;

    return (x > y) - (x < y);
}


static int
wachat_kb_cjk_is_stop(uint32_t c)
{
    size_t  n;

    n = sizeof(wachat_kb_cjk_stop) / sizeof(wachat_kb_cjk_stop[0]);

    return bsearch(&c, wachat_kb_cjk_stop, n, sizeof(uint32_t),
                   wachat_kb_u32cmp) != NULL;
}


typedef struct {
    const wachat_kb_lex_t  *lex;
    wachat_kb_tok_pt  cb;
    void             *ctx;
    char              w[WACHAT_KB_WORD_MAX + 1];
    size_t            wlen;
    int               wascii;
    int               walpha;
    char              j[WACHAT_KB_WORD_MAX + 1];   /* "wi-fi" -> wifi */
    size_t            jlen;
    int               jascii;
    int               jalpha;
    unsigned          jparts;
    char              held[2 * WACHAT_KB_SYN_WORD + 2];    /* a stem */
    size_t            hlen;
    wachat_kb_tok_e   hkind;        /* WORD, TYPO or THES */
} wachat_kb_tok_t;


/* the held word, as its synonym group's head if it has one */
static int
wachat_kb_flush(wachat_kb_tok_t *t)
{
    size_t       len, hlen;
    const char  *head;

    len = t->hlen;

    if (len == 0) {
        return 0;
    }

    t->hlen = 0;
    head = wachat_kb_synonym(t->lex, t->held, len, &hlen);

    return head ? t->cb(t->ctx, head, hlen, t->hkind)
                : t->cb(t->ctx, t->held, len, t->hkind);
}


/*
 * lex->gaps: the held word, then a gap (the next word is not its
 * neighbour); a function character that makes one is its term
 */
static int
wachat_kb_gap(wachat_kb_tok_t *t, const char *fn, size_t len)
{
    int  rc;

    if (!t->lex->gaps) {
        return 0;
    }

    rc = wachat_kb_flush(t);

    return rc ? rc : t->cb(t->ctx, fn, len, WACHAT_KB_TOK_GAP);
}


/*
 * An ASCII word is held until the next one: the two may be a synonym
 * together ("money back"), which then stands for both.
 */
static int
wachat_kb_emit_word(wachat_kb_tok_t *t, char *w, size_t len, int ascii)
{
    int          rc, kind;
    size_t       olen, hlen;
    const char  *out, *head;

    if (!ascii) {
        return t->cb(t->ctx, w, len, WACHAT_KB_TOK_WORD);
    }

    kind = wachat_kb_word(t->lex, w, len, &out, &olen);

    if (kind < 0) {
        return wachat_kb_gap(t, "", 0);     /* a stopword between */
    }

    if (kind != WACHAT_KB_TOK_NUM && t->hlen > 0
        && olen <= WACHAT_KB_SYN_WORD)
    {
        t->held[t->hlen] = ' ';
        memcpy(t->held + t->hlen + 1, out, olen);
        head = wachat_kb_synonym(t->lex, t->held, t->hlen + 1 + olen, &hlen);

        if (head != NULL) {
            t->hlen = 0;
            return t->cb(t->ctx, head, hlen,
                         kind != WACHAT_KB_TOK_WORD ? (wachat_kb_tok_e) kind
                                                    : t->hkind);
        }
    }

    rc = wachat_kb_flush(t);
    if (rc != 0) {
        return rc;
    }

    if (kind == WACHAT_KB_TOK_NUM || olen > WACHAT_KB_SYN_WORD) {
        return t->cb(t->ctx, out, olen, (wachat_kb_tok_e) kind);
    }

    memcpy(t->held, out, olen);
    t->hlen = olen;
    t->hkind = (wachat_kb_tok_e) kind;

    return 0;
}


/* ends the current word; a hyphen right after one keeps the compound */
static int
wachat_kb_end_word(wachat_kb_tok_t *t, int hyphen)
{
    int  rc;

    if (t->wlen > 0) {
        if (t->jlen + t->wlen <= WACHAT_KB_WORD_MAX) {
            memcpy(t->j + t->jlen, t->w, t->wlen);
            t->jlen += t->wlen;
            t->jascii &= t->wascii;
            t->jalpha &= t->walpha;
            t->jparts++;

        } else {
            t->jalpha = 0;                  /* too long: no joined form */
        }

        rc = wachat_kb_emit_word(t, t->w, t->wlen, t->wascii);

        t->wlen = 0;
        t->wascii = 1;
        t->walpha = 1;

        if (rc != 0) {
            return rc;
        }

        if (hyphen) {
            return 0;
        }
    }

    rc = 0;

    if (t->jparts >= 2 && t->jalpha) {
        rc = wachat_kb_emit_word(t, t->j, t->jlen, t->jascii);
    }

    t->jlen = 0;
    t->jascii = 1;
    t->jalpha = 1;
    t->jparts = 0;

    return rc;
}


/* à..ÿ to their ASCII letter, so "cafe" meets "café" (slugs keep them) */
static uint32_t
wachat_kb_unaccent(uint32_t cp)
{
    static const char  base[] = "aaaaaa_ceeeeiiii_nooooo_ouuuuy_y";

    if (cp >= 0xe0 && cp <= 0xff && base[cp - 0xe0] != '_') {
        return (uint32_t) base[cp - 0xe0];
    }

    return cp;
}


/* a CJK character: its unigram, the bigram with prev, synonyms ending here */
static int
wachat_kb_cjk(wachat_kb_tok_t *t, uint32_t cp, int stop, uint32_t *run,
    size_t *nrun)
{
    int          rc;
    char         buf[WACHAT_KB_SYN_CJK * 4 + 1];
    size_t       u, k, o, hlen;
    uint32_t     prev;
    const char  *head;

    prev = *nrun ? run[*nrun - 1] : 0;

    if (*nrun == WACHAT_KB_SYN_CJK) {
        memmove(run, run + 1, (WACHAT_KB_SYN_CJK - 1) * sizeof(uint32_t));
        (*nrun)--;
    }

    if (stop) {
        u = wachat_utf8_encode(cp, buf);
        rc = wachat_kb_gap(t, buf, u);      /* 嗎, 的: words apart */
        if (rc != 0) {
            return rc;
        }
    }

    /* a function character is no term, but may be part of a synonym */
    run[(*nrun)++] = cp | (stop ? WACHAT_KB_STOP_BIT : 0);
    cp &= ~WACHAT_KB_STOP_BIT;

    if (!stop) {
        u = wachat_utf8_encode(cp, buf);
        rc = t->cb(t->ctx, buf, u, WACHAT_KB_TOK_UNI);
        if (rc != 0) {
            return rc;
        }
    }

    if (!stop && prev != 0 && !(prev & WACHAT_KB_STOP_BIT)) {
        u = wachat_utf8_encode(prev, buf);
        u += wachat_utf8_encode(cp, buf + u);
        rc = t->cb(t->ctx, buf, u, WACHAT_KB_TOK_BI);
        if (rc != 0) {
            return rc;
        }
    }

    /* the synonyms that end here, longest first */
    for (k = *nrun; k > 0; k--) {
        if (k == 1 && stop) {
            break;
        }

        for (o = 0, u = *nrun - k; u < *nrun; u++) {
            o += wachat_utf8_encode(run[u] & ~WACHAT_KB_STOP_BIT, buf + o);
        }

        head = wachat_kb_synonym(t->lex, buf, o, &hlen);

        if (head != NULL) {
            if (t->lex->gaps) {
                rc = t->cb(t->ctx, buf, o, WACHAT_KB_TOK_SPAN);
                if (rc != 0) {
                    return rc;
                }
            }

            rc = t->cb(t->ctx, head, hlen, WACHAT_KB_TOK_WORD);
            if (rc != 0) {
                return rc;
            }
        }
    }

    return 0;
}


int
wachat_kb_tokenize(const wachat_kb_lex_t *lex, const char *s, size_t len,
    wachat_kb_tok_pt cb, void *ctx)
{
    int              cls, rc, stop;
    size_t           i, n, nrun;
    uint32_t         cp, run[WACHAT_KB_SYN_CJK];
    wachat_kb_tok_t  t;

    memset(&t, 0, sizeof(t));
    t.lex = lex;
    t.cb = cb;
    t.ctx = ctx;
    t.wascii = t.walpha = t.jascii = t.jalpha = 1;

    nrun = 0;

    for (i = 0; i < len; i += n) {
        n = wachat_utf8_decode(s + i, len - i, &cp);

        if (n == 0) {
            n = 1;
            cp = 0;                         /* a stray byte separates */
            cls = WACHAT_KB_SEP;

        } else {
            cls = wachat_kb_class(&cp);
        }

        if (cls == WACHAT_KB_WORD) {
            nrun = 0;
            cp = wachat_kb_unaccent(cp);

            if (t.wlen + 4 <= WACHAT_KB_WORD_MAX) {
                t.wascii &= (cp < 0x80);
                t.walpha &= !(cp >= '0' && cp <= '9');
                t.wlen += wachat_utf8_encode(cp, t.w + t.wlen);
            }

            continue;
        }

        rc = wachat_kb_end_word(&t, cls == WACHAT_KB_SEP
                                    && (cp == '-' || cp == 0x2010
                                        || cp == 0x2011));
        if (rc != 0) {
            return rc;
        }

        if (cls == WACHAT_KB_SEP) {
            nrun = 0;

            if (cp != ' ' && cp != '\t' && cp != '-' && cp != 0x2010
                && cp != 0x2011)
            {
                rc = wachat_kb_gap(&t, "", 0);     /* punctuation, a line break */
                if (rc != 0) {
                    return rc;
                }
            }

            continue;
        }

        /* 係 is a function word, its Simplified form 系 is not */
        stop = wachat_kb_cjk_is_stop(cp);
        cp = wachat_kb_fold(cp);
        stop |= wachat_kb_cjk_is_stop(cp);

        rc = wachat_kb_cjk(&t, cp, stop, run, &nrun);
        if (rc != 0) {
            return rc;
        }
    }

    rc = wachat_kb_end_word(&t, 0);

    return rc ? rc : wachat_kb_flush(&t);
}
