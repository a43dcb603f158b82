/*
 * An echo of the system prompt: a text's words as hashes, their 4-grams,
 * the longest run of the instructions' words found in order, and the rule
 * that makes it an echo.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/guard_int.h"
#include "wachat_utf8.h"


#define WACHAT_GUARD_WORDS_MAX  8192    /* words of a text compared */
#define WACHAT_GUARD_SHARE_MIN  10      /* 4-grams for the share to count */


#define WACHAT_GUARD_FNV_BASIS  0xcbf29ce484222325ULL
#define WACHAT_GUARD_FNV_PRIME  0x100000001b3ULL


/* punctuation and spaces beyond ASCII separate words */
static int
wachat_guard_punct(uint32_t cp)
{
    return cp == 0xa0 || (cp >= 0x2000 && cp <= 0x206f)
           || (cp >= 0x3000 && cp <= 0x303f)
           || (cp >= 0xff01 && cp <= 0xff0f) || (cp >= 0xff1a && cp <= 0xff20)
           || (cp >= 0xff3b && cp <= 0xff40) || (cp >= 0xff5b && cp <= 0xff65);
}


static uint64_t
wachat_guard_fnv(uint64_t h, const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char) s[i]) * WACHAT_GUARD_FNV_PRIME;
    }

    return h;
}


/*
 * A text's words as hashes: ASCII letters and digits folded to lower case,
 * letters of other alphabets kept, each CJK character (from U+2E80) a word
 * of its own, as Chinese has no spaces.
 */
int
wachat_guard_words(const char *s, wachat_guard_vec_t *w)
{
    int        in;
    char       c;
    size_t     i, n, len;
    uint32_t   cp;
    uint64_t   h;

    len = strlen(s);
    in = 0;
    cp = 0;
    h = WACHAT_GUARD_FNV_BASIS;

    for (i = 0; i <= len && w->n < WACHAT_GUARD_WORDS_MAX; i += n) {
        n = i < len ? wachat_utf8_decode(s + i, len - i, &cp) : 1;

        if (i < len && n > 0
            && ((cp < 0x80 && ((cp | 0x20) - 'a' < 26 || cp - '0' < 10))
                || (cp >= 0x80 && cp < 0x2e80 && !wachat_guard_punct(cp))))
        {
            c = (char) (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
            h = cp < 0x80 ? wachat_guard_fnv(h, &c, 1)
                          : wachat_guard_fnv(h, s + i, n);
            in = 1;
            continue;
        }

        if (in && wachat_guard_vec_push(w, h) != 0) {
            return -1;
        }

        in = 0;
        h = WACHAT_GUARD_FNV_BASIS;

        if (i < len && n > 0 && cp >= 0x2e80 && !wachat_guard_punct(cp)
            && wachat_guard_vec_push(w, wachat_guard_fnv(h, s + i, n)) != 0)
        {
            return -1;
        }

        n = n ? n : 1;
    }

    return 0;
}


/* the 4-grams of words: one hash each, in order */
int
wachat_guard_grams(const wachat_guard_vec_t *w, wachat_guard_vec_t *g)
{
    size_t    i, k;
    uint64_t  h;

    for (i = 0; i + 4 <= w->n; i++) {
        h = WACHAT_GUARD_FNV_BASIS;

        for (k = 0; k < 4; k++) {
            h = (h ^ w->v[i + k]) * WACHAT_GUARD_FNV_PRIME;
        }

        if (wachat_guard_vec_push(g, h) != 0) {
            return -1;
        }
    }

    qsort(g->v, g->n, sizeof(uint64_t), wachat_guard_cmp_u64);

    return 0;
}


/* the longest run of a's words found in b in the same order */
static size_t
wachat_guard_longest(const wachat_guard_vec_t *a, const wachat_guard_vec_t *b,
    uint32_t *row)
{
    size_t    i, j, best;
    uint32_t  diag, up;

    best = 0;
    memset(row, 0, (a->n + 1) * sizeof(uint32_t));

    for (j = 0; j < b->n; j++) {
        diag = 0;

        for (i = 0; i < a->n; i++) {
            up = row[i + 1];
            row[i + 1] = a->v[i] == b->v[j] ? diag + 1 : 0;
            diag = up;

            if (row[i + 1] > best) {
                best = row[i + 1];
            }
        }
    }

    return best;
}


int
wachat_guard_overlap(const wachat_guard_t *g, const char *text, size_t *run,
    double *share)
{
    int                  rc;
    size_t               i, found;
    uint32_t            *row;
    wachat_guard_vec_t   w = { NULL, 0, 0 }, grams = { NULL, 0, 0 };

    *run = 0;
    *share = 0;

    if (g->words.n == 0) {
        return 0;
    }

    row = malloc((g->words.n + 1) * sizeof(uint32_t));
    rc = -1;

    if (row == NULL || wachat_guard_words(text, &w) != 0
        || wachat_guard_grams(&w, &grams) != 0)
    {
        goto done;
    }

    *run = wachat_guard_longest(&g->words, &w, row);

    found = 0;
    for (i = 0; i < g->grams.n; i++) {
        found += bsearch(&g->grams.v[i], grams.v, grams.n, sizeof(uint64_t),
                         wachat_guard_cmp_u64) != NULL;
    }

    *share = g->grams.n ? (double) found / g->grams.n : 0;
    rc = 0;

done:
    free(row);
    free(w.v);
    free(grams.v);

    return rc;
}


/* a short set of instructions is echoed when it is all there */
int
wachat_guard_echo(const wachat_guard_t *g, const char *text, char *why,
    size_t whylen)
{
    size_t  run, need;
    double  share;

    if (g->words.n < WACHAT_GUARD_RUN_MIN) {
        return 0;
    }

    if (wachat_guard_overlap(g, text, &run, &share) != 0) {
        snprintf(why, whylen, "out of memory");
        return 1;
    }

    need = g->words.n < WACHAT_GUARD_RUN ? g->words.n : WACHAT_GUARD_RUN;

    if (run < need
        && (g->grams.n < WACHAT_GUARD_SHARE_MIN || share < WACHAT_GUARD_SHARE))
    {
        return 0;
    }

    snprintf(why, whylen, "it repeats the instructions (%zu words in a row, "
             "%.0f%% of their 4-grams)", run, share * 100);

    return 1;
}
