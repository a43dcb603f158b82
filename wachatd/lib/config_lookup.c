/*
 * A line's key to its table entry: <name>, <name>_file or <name>_env, and
 * when it names none, the nearest key as a "did you mean" hint; a key set
 * twice is refused.
 */

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/config_int.h"


static const char *wachat_conf_suggest(const char *key, char *buf,
    size_t size);


const wachat_conf_entry_t *
wachat_conf_lookup(const char *key, int *form)
{
    size_t                      i, n, klen;
    const wachat_conf_entry_t  *e;

    klen = strlen(key);

    for (i = 0; i < wachat_conf_nkeys; i++) {
        e = &wachat_conf_table[i];

        if (strcmp(key, e->name) == 0) {
            *form = WACHAT_CONF_FORM_PLAIN;
            return e;
        }

        if (!(e->type->flags & WACHAT_CONF_SECRET)) {
            continue;
        }

        n = strlen(e->name);

        if (klen <= n || strncmp(key, e->name, n) != 0) {
            continue;
        }

        if (strcmp(key + n, "_file") == 0) {
            *form = WACHAT_CONF_FORM_FILE;
            return e;
        }

        if (strcmp(key + n, "_env") == 0) {
            *form = WACHAT_CONF_FORM_ENV;
            return e;
        }
    }

    return NULL;
}


void
wachat_conf_unknown(wachat_conf_ctx_t *ctx, const char *key)
{
    char         show[WACHAT_CONF_SHOW_SIZE], near[64];
    const char  *hint;

    hint = wachat_conf_suggest(key, near, sizeof(near));

    if (hint != NULL) {
        wachat_conf_why(ctx, "unknown key %s (did you mean \"%s\"?)",
                        wachat_conf_show(key, show, sizeof(show)), hint);
    } else {
        wachat_conf_why(ctx, "unknown key %s",
                        wachat_conf_show(key, show, sizeof(show)));
    }
}


/* Optimal string alignment distance, ignoring case, capped at 9. */
static int
wachat_conf_distance(const char *a, const char *b)
{
    int     d[33][33], cost, v;
    size_t  i, j, la, lb;

    la = strlen(a);
    lb = strlen(b);

    if (la > 32 || lb > 32) {
        return 9;
    }

    for (i = 0; i <= la; i++) {
        d[i][0] = (int) i;
    }

    for (j = 0; j <= lb; j++) {
        d[0][j] = (int) j;
    }

    for (i = 1; i <= la; i++) {
        for (j = 1; j <= lb; j++) {
            cost = tolower((unsigned char) a[i - 1])
                   != tolower((unsigned char) b[j - 1]);

            v = d[i - 1][j] + 1;

            if (d[i][j - 1] + 1 < v) {
                v = d[i][j - 1] + 1;
            }

            if (d[i - 1][j - 1] + cost < v) {
                v = d[i - 1][j - 1] + cost;
            }

            if (i > 1 && j > 1 && a[i - 1] == b[j - 2]
                && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
            {
                v = d[i - 2][j - 2] + 1;
            }

            d[i][j] = v;
        }
    }

    return d[la][lb] > 9 ? 9 : d[la][lb];
}


/* The nearest key name, into buf, if near enough to be a typo. */
static const char *
wachat_conf_suggest(const char *key, char *buf, size_t size)
{
    int                         d, best, limit, k;
    char                        name[64];
    size_t                      i;
    const wachat_conf_entry_t  *e;

    best = 9;
    limit = strlen(key) <= 4 ? 1 : 2;

    for (i = 0; i < wachat_conf_nkeys; i++) {
        e = &wachat_conf_table[i];

        for (k = 0; k < 2; k++) {
            if (e->type->flags & WACHAT_CONF_SECRET) {
                snprintf(name, sizeof(name), "%s_%s", e->name,
                         k == 0 ? "file" : "env");
            } else if (k == 0) {
                snprintf(name, sizeof(name), "%s", e->name);
            } else {
                break;
            }

            d = wachat_conf_distance(key, name);

            if (d < best) {
                best = d;
                snprintf(buf, size, "%s", name);
            }
        }
    }

    return best <= limit ? buf : NULL;
}


void
wachat_conf_duplicate(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    int form, const char *key)
{
    size_t  i;

    i = (size_t) (e - wachat_conf_table);

    if (ctx->set_form[i] != form) {
        wachat_conf_why(ctx, "%s: %s_%s is already set at line %d (use one "
                        "of them)", key, e->name,
                        ctx->set_form[i] == WACHAT_CONF_FORM_FILE
                        ? "file" : "env", ctx->set_line[i]);
    } else {
        wachat_conf_why(ctx, "%s: already set at line %d (each key may "
                        "appear once)", key, ctx->set_line[i]);
    }
}
