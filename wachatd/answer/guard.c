/*
 * guard: the model's answer, checked before a customer sees it (see
 * guard.h).  Here the guard itself, built from the KB and the config, and
 * the check; the hosts in a text are guard_hosts.c's, the system prompt's
 * echo guard_echo.c's, the length guard_cap.c's.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/guard_int.h"


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

int
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


int
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


int
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
