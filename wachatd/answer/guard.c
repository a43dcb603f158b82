/*
 * guard: the model's answer, checked before a customer sees it (see
 * guard.h).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/guard.h"
#include "wachat_utf8.h"


#define WACHAT_GUARD_WORDS_MAX  8192    /* words of a text compared */
#define WACHAT_GUARD_SHARE_MIN  10      /* 4-grams for the share to count */


typedef struct {
    uint64_t  *v;
    size_t     n;
    size_t     cap;
} wachat_guard_vec_t;


typedef struct {
    char    **v;
    size_t    n;
    size_t    cap;
} wachat_guard_set_t;


struct wachat_guard_s {
    int                  links;
    wachat_guard_set_t   hosts;     /* sorted, exact */
    wachat_guard_set_t   suffixes;  /* "*.x" of llm_allowed_domains: x */
    wachat_guard_vec_t   words;     /* the instructions' words, in order */
    wachat_guard_vec_t   grams;     /* their distinct 4-grams, sorted */
};


static const char *const  wachat_guard_names[WACHAT_GUARD_NREASONS] = {
    "pass", "prompt_echo", "foreign_link"
};


const char *
wachat_guard_name(wachat_guard_e reason)
{
    return (unsigned) reason < WACHAT_GUARD_NREASONS
           ? wachat_guard_names[reason] : "?";
}


/* --- small containers ------------------------------------------------- */

static int
wachat_guard_vec_push(wachat_guard_vec_t *w, uint64_t x)
{
    size_t     cap;
    uint64_t  *v;

    if (w->n == w->cap) {
        cap = w->cap ? w->cap * 2 : 64;
        v = realloc(w->v, cap * sizeof(uint64_t));
        if (v == NULL) {
            return -1;
        }

        w->v = v;
        w->cap = cap;
    }

    w->v[w->n++] = x;

    return 0;
}


static int
wachat_guard_cmp_u64(const void *a, const void *b)
{
    uint64_t  x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return x < y ? -1 : x > y;
}


static int
wachat_guard_set_add(wachat_guard_set_t *s, const char *str, size_t len)
{
    size_t   cap;
    char   **v;

    if (s->n == s->cap) {
        cap = s->cap ? s->cap * 2 : 32;
        v = realloc(s->v, cap * sizeof(char *));
        if (v == NULL) {
            return -1;
        }

        s->v = v;
        s->cap = cap;
    }

    s->v[s->n] = strndup(str, len);
    if (s->v[s->n] == NULL) {
        return -1;
    }

    s->n++;

    return 0;
}


static int
wachat_guard_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


static void
wachat_guard_set_free(wachat_guard_set_t *s)
{
    size_t  i;

    for (i = 0; i < s->n; i++) {
        free(s->v[i]);
    }

    free(s->v);
}


/* --- hosts ------------------------------------------------------------ */

static int
wachat_guard_label_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_';
}


/*
 * Browsers (IDNA) read "。", "．" and "｡" in a host as dots: so do we, or
 * "evil。example" would slip through.  Their length in bytes, or 0.
 */
static size_t
wachat_guard_dot(const char *s, size_t len)
{
    if (len >= 3
        && (memcmp(s, "\xe3\x80\x82", 3) == 0
            || memcmp(s, "\xef\xbc\x8e", 3) == 0
            || memcmp(s, "\xef\xbd\xa1", 3) == 0))
    {
        return 3;
    }

    return (len >= 1 && s[0] == '.') ? 1 : 0;
}


static void
wachat_guard_lower(char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z') {
            s[i] = (char) (s[i] - 'A' + 'a');
        }
    }
}


/* a trailing dot and a leading "www." do not make another host */
static int
wachat_guard_emit(const char *h, size_t len, wachat_guard_host_pt cb,
    void *ctx)
{
    char  buf[WACHAT_GUARD_HOST_MAX + 1];

    if (len > WACHAT_GUARD_HOST_MAX) {
        len = WACHAT_GUARD_HOST_MAX;
    }

    memcpy(buf, h, len);
    wachat_guard_lower(buf, len);

    while (len > 0 && buf[len - 1] == '.') {
        len--;
    }

    if (len > 4 && memcmp(buf, "www.", 4) == 0
        && memchr(buf + 4, '.', len - 4))
    {
        memmove(buf, buf + 4, len - 4);
        len -= 4;
    }

    if (len == 0) {
        return 0;
    }

    buf[len] = '\0';

    return cb(ctx, buf, len);
}


/* letters only, 2-63 of them, or punycode ("xn--..."): a top-level domain */
static int
wachat_guard_tld(const char *s, size_t len)
{
    size_t  i;

    if (len >= 5 && memcmp(s, "xn--", 4) == 0) {
        return 1;
    }

    if (len < 2 || len > 63) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) {
            return 0;
        }
    }

    return 1;
}


/* 1.2.3.4, each part 0..255 */
static int
wachat_guard_ipv4(const char *s, size_t len)
{
    size_t  i, parts, digits;
    int     v;

    parts = 0;
    digits = 0;
    v = 0;

    for (i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (digits == 0 || digits > 3 || v > 255) {
                return 0;
            }

            parts++;
            digits = 0;
            v = 0;
            continue;
        }

        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }

        v = v * 10 + (s[i] - '0');
        digits++;
    }

    return parts == 4;
}


/* two labels or more, none empty, a top-level domain last */
static int
wachat_guard_domain(const char *s, size_t len)
{
    size_t  i, start, labels;

    labels = 0;
    start = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            continue;
        }

        if (i == start) {
            return 0;
        }

        labels++;

        if (i == len) {
            return labels >= 2 && wachat_guard_tld(s + start, i - start);
        }

        start = i + 1;
    }

    return 0;
}


/*
 * A run of label characters and dots (dots made '.'), cut at "..", each
 * piece's ends trimmed of dots, hyphens and underscores: a piece that is a
 * domain or an IPv4 address is a host.
 */
static int
wachat_guard_run(const char *s, size_t len, wachat_guard_host_pt cb,
    void *ctx)
{
    int     rc;
    size_t  i, a, b;

    i = 0;

    while (i < len) {
        a = i;
        while (i < len && !(s[i] == '.' && i + 1 < len && s[i + 1] == '.')) {
            i++;
        }

        b = i;
        while (i < len && s[i] == '.') {
            i++;
        }

        while (a < b && !wachat_guard_label_char((unsigned char) s[a])) {
            a++;
        }

        while (b > a && !wachat_guard_label_char((unsigned char) s[b - 1])) {
            b--;
        }

        if (b > a && (wachat_guard_domain(s + a, b - a)
                      || wachat_guard_ipv4(s + a, b - a)))
        {
            rc = wachat_guard_emit(s + a, b - a, cb, ctx);
            if (rc != 0) {
                return rc;
            }
        }
    }

    return 0;
}


/*
 * After "scheme://": the authority's host, whatever its shape, so that
 * http://intranet/ and http://[::1]/ are hosts too.  Its end is the first
 * byte no authority has.
 */
static int
wachat_guard_authority(const char *s, size_t len, wachat_guard_host_pt cb,
    void *ctx)
{
    size_t       i, end;
    const char  *h;

    for (end = 0; end < len; end++) {
        if (strchr("/?#\\ \t\r\n<>\"'`|{}", s[end])
            || (unsigned char) s[end] >= 0x80)
        {
            break;
        }
    }

    h = s;
    for (i = 0; i < end; i++) {
        if (s[i] == '@') {
            h = s + i + 1;          /* user:pass@ is not the host */
        }
    }

    end -= (size_t) (h - s);
    i = 0;

    if (end > 0 && h[0] == '[') {
        while (i < end && h[i] != ']') {
            i++;
        }

        end = i < end ? i + 1 : end;

    } else {
        while (i < end && h[i] != ':') {
            i++;
        }

        end = i;
    }

    return wachat_guard_emit(h, end, cb, ctx);
}


int
wachat_guard_hosts(const char *text, size_t len, wachat_guard_host_pt cb,
    void *ctx)
{
    int     rc, dot;
    char    run[WACHAT_GUARD_HOST_MAX + 1];
    size_t  i, n, d;

    n = 0;
    dot = 0;

    for (i = 0; i <= len; /* void */) {
        d = i < len ? wachat_guard_dot(text + i, len - i) : 0;

        if (i < len && (d || wachat_guard_label_char((unsigned char) text[i])))
        {
            if (n < WACHAT_GUARD_HOST_MAX) {
                run[n++] = d ? '.' : text[i];
            }

            dot |= d != 0;
            i += d ? d : 1;
            continue;
        }

        /*
         * A run longer than any host, with a dot, is reported cut; one
         * before "@" is an e-mail's local part, not a host.
         */
        if (n == WACHAT_GUARD_HOST_MAX && dot) {
            rc = wachat_guard_emit(run, n, cb, ctx);

        } else if (i < len && text[i] == '@') {
            rc = 0;

        } else {
            rc = wachat_guard_run(run, n, cb, ctx);
        }

        if (rc != 0) {
            return rc;
        }

        if (n > 0 && len - i >= 3 && memcmp(text + i, "://", 3) == 0) {
            rc = wachat_guard_authority(text + i + 3, len - i - 3, cb, ctx);
            if (rc != 0) {
                return rc;
            }
        }

        n = 0;
        dot = 0;
        i++;
    }

    return 0;
}


int
wachat_guard_allowed(const wachat_guard_t *g, const char *host, size_t len)
{
    size_t        i, sl;
    const char   *key;
    char          buf[WACHAT_GUARD_HOST_MAX + 1];

    if (!g->links) {
        return 1;
    }

    if (len > WACHAT_GUARD_HOST_MAX) {
        return 0;
    }

    memcpy(buf, host, len);
    buf[len] = '\0';
    key = buf;

    if (bsearch(&key, g->hosts.v, g->hosts.n, sizeof(char *),
                wachat_guard_cmp_str))
    {
        return 1;
    }

    for (i = 0; i < g->suffixes.n; i++) {
        sl = strlen(g->suffixes.v[i]);

        if (len == sl && memcmp(buf, g->suffixes.v[i], sl) == 0) {
            return 1;
        }

        if (len > sl && buf[len - sl - 1] == '.'
            && memcmp(buf + len - sl, g->suffixes.v[i], sl) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* --- words ------------------------------------------------------------ */

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
static int
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
static int
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


/* --- the guard -------------------------------------------------------- */

static int
wachat_guard_add_host(void *ctx, const char *host, size_t len)
{
    return wachat_guard_set_add(ctx, host, len);
}


static int
wachat_guard_add_text(wachat_guard_t *g, const char *s)
{
    return s ? wachat_guard_hosts(s, strlen(s), wachat_guard_add_host,
                                  &g->hosts)
             : 0;
}


static int
wachat_guard_add_kb(wachat_guard_t *g, const wachat_kb_t *kb)
{
    size_t                    i, k;
    int                       rc;
    const wachat_kb_entry_t  *e;

    rc = 0;

    for (i = 0; kb && i < wachat_kb_count(kb); i++) {
        e = wachat_kb_entry(kb, i);
        rc |= wachat_guard_add_text(g, e->question);
        rc |= wachat_guard_add_text(g, e->answer);

        for (k = 0; k < e->nalso; k++) {
            rc |= wachat_guard_add_text(g, e->also[k]);
        }

        for (k = 0; k < e->nbuttons; k++) {
            rc |= wachat_guard_add_text(g, e->buttons[k].title);
        }
    }

    return rc ? -1 : 0;
}


/* "*.x": x and its subdomains; anything else as the scanner reads it */
static int
wachat_guard_add_domain(wachat_guard_t *g, const char *d)
{
    size_t  n, before;

    if (strncmp(d, "*.", 2) == 0) {
        n = strlen(d + 2);
        while (n > 0 && d[2 + n - 1] == '.') {
            n--;
        }

        if (wachat_guard_set_add(&g->suffixes, d + 2, n) != 0) {
            return -1;
        }

        wachat_guard_lower(g->suffixes.v[g->suffixes.n - 1], n);
        return 0;
    }

    before = g->hosts.n;
    if (wachat_guard_add_text(g, d) != 0) {
        return -1;
    }

    /* "localhost", a name without a dot: as written */
    if (g->hosts.n == before) {
        return wachat_guard_emit(d, strlen(d), wachat_guard_add_host,
                                 &g->hosts);
    }

    return 0;
}


static void
wachat_guard_dedup(wachat_guard_set_t *s)
{
    size_t  i, n;

    if (s->n == 0) {
        return;                             /* and s->v may be NULL */
    }

    qsort(s->v, s->n, sizeof(char *), wachat_guard_cmp_str);

    for (i = 0, n = 0; i < s->n; i++) {
        if (n > 0 && strcmp(s->v[n - 1], s->v[i]) == 0) {
            free(s->v[i]);
            continue;
        }

        s->v[n++] = s->v[i];
    }

    s->n = n;
}


static int
wachat_guard_instructions(wachat_guard_t *g, const char *s)
{
    size_t  i, n;

    if (s == NULL) {
        return 0;
    }

    if (wachat_guard_words(s, &g->words) != 0
        || wachat_guard_grams(&g->words, &g->grams) != 0)
    {
        return -1;
    }

    for (i = 0, n = 0; i < g->grams.n; i++) {
        if (n == 0 || g->grams.v[n - 1] != g->grams.v[i]) {
            g->grams.v[n++] = g->grams.v[i];
        }
    }

    g->grams.n = n;

    return 0;
}


wachat_guard_t *
wachat_guard_new(const wachat_guard_conf_t *conf)
{
    int              rc;
    size_t           i;
    wachat_guard_t  *g;

    g = calloc(1, sizeof(wachat_guard_t));
    if (g == NULL) {
        return NULL;
    }

    g->links = conf->links;

    rc = wachat_guard_add_kb(g, conf->kb);
    rc |= wachat_guard_add_text(g, conf->instructions);

    for (i = 0; i < conf->ntexts; i++) {
        rc |= wachat_guard_add_text(g, conf->texts[i]);
    }

    for (i = 0; i < conf->ndomains; i++) {
        rc |= wachat_guard_add_domain(g, conf->domains[i]);
    }

    rc |= wachat_guard_instructions(g, conf->instructions);

    if (rc != 0) {
        wachat_guard_free(g);
        return NULL;
    }

    wachat_guard_dedup(&g->hosts);

    return g;
}


void
wachat_guard_free(wachat_guard_t *g)
{
    if (g == NULL) {
        return;
    }

    wachat_guard_set_free(&g->hosts);
    wachat_guard_set_free(&g->suffixes);
    free(g->words.v);
    free(g->grams.v);
    free(g);
}


typedef struct {
    const wachat_guard_t  *guard;
    char                  *why;
    size_t                 whylen;
} wachat_guard_scan_t;


static int
wachat_guard_foreign(void *ctx, const char *host, size_t len)
{
    wachat_guard_scan_t  *sc = ctx;

    if (wachat_guard_allowed(sc->guard, host, len)) {
        return 0;
    }

    snprintf(sc->why, sc->whylen, "a host no KB entry names: %s", host);

    return 1;
}


/* a short set of instructions is echoed when it is all there */
static int
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


wachat_guard_e
wachat_guard_check(const wachat_guard_t *g, const char *text, char *why,
    size_t whylen)
{
    wachat_guard_scan_t  sc;

    if (whylen > 0) {
        why[0] = '\0';
    }

    if (wachat_guard_echo(g, text, why, whylen)) {
        return WACHAT_GUARD_ECHO;
    }

    sc.guard = g;
    sc.why = why;
    sc.whylen = whylen;

    if (g->links
        && wachat_guard_hosts(text, strlen(text), wachat_guard_foreign, &sc))
    {
        return WACHAT_GUARD_LINK;
    }

    return WACHAT_GUARD_PASS;
}


/* --- the length ------------------------------------------------------- */

/* the end of the last sentence in s[from..to), or 0 */
static size_t
wachat_guard_sentence(const char *s, size_t from, size_t to)
{
    size_t  i;

    for (i = to; i > from; i--) {
        if (s[i - 1] == '\n') {
            return i - 1;
        }

        if (strchr(".!?", s[i - 1]) && i < to
            && (s[i] == ' ' || s[i] == '\n'))
        {
            return i;
        }

        /* 。！？ */
        if (i + 2 <= to
            && (memcmp(s + i - 1, "\xe3\x80\x82", 3) == 0
                || memcmp(s + i - 1, "\xef\xbc\x81", 3) == 0
                || memcmp(s + i - 1, "\xef\xbc\x9f", 3) == 0))
        {
            return i + 2;
        }
    }

    return 0;
}


/* the last space in s[from..to], or to (s[to] is the next byte, or NUL) */
static size_t
wachat_guard_space(const char *s, size_t from, size_t to)
{
    size_t  i;

    for (i = to + 1; i > from; i--) {
        if (s[i - 1] == ' ' || s[i - 1] == '\n') {
            return i - 1;
        }
    }

    return to;
}


char *
wachat_guard_cap(const char *text, size_t max)
{
    int      more;
    char    *out;
    size_t   len, cut;

    len = strlen(text);
    len = wachat_utf8_check(text, len);
    more = 0;

    if (wachat_utf8_count(text, len) > max) {
        cut = wachat_utf8_prefix(text, len, max);
        cut = wachat_guard_sentence(text, cut / 2, cut);

        if (cut == 0 && max > 0) {
            cut = wachat_utf8_prefix(text, len, max - 1);
            cut = wachat_guard_space(text, cut / 2, cut);
            more = 1;
        }

        while (cut > 0 && (text[cut - 1] == ' ' || text[cut - 1] == '\n')) {
            cut--;
        }

        len = cut;
    }

    out = malloc(len + sizeof("\xe2\x80\xa6"));
    if (out == NULL) {
        return NULL;
    }

    memcpy(out, text, len);
    strcpy(out + len, more ? "\xe2\x80\xa6" : "");

    return out;
}
