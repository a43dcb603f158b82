/*
 * The value types of the config: for each one its set, dump, free and doc
 * functions (see wachat_conf_type_t in config_int.h), then the syntax of
 * durations, sizes and addresses they share.  Secrets and agents have
 * their own files.
 *
 * By the time set runs, config.c has checked the number of words and an
 * empty value for a WACHAT_CONF_NONEMPTY key.
 */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/config_int.h"


static int wachat_conf_parse_duration(const char *v, long long *ms);
static int wachat_conf_parse_size(const char *v, long long *bytes);


/* string */

static int
wachat_conf_string_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    void *field, int argc, char **argv)
{
    char  *s;

    (void) e;
    (void) argc;

    s = wachat_conf_strdup(argv[0]);
    if (s == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    free(*(char **) field);
    *(char **) field = s;

    return 0;
}


static void
wachat_conf_string_dump(const wachat_conf_entry_t *e, const void *field,
    FILE *out)
{
    wachat_conf_put_key(out, e->name);
    wachat_conf_put_value(out, *(char *const *) field);
    fputc('\n', out);
}


static void
wachat_conf_string_free(void *field)
{
    free(*(char **) field);
    *(char **) field = NULL;
}


/* a checked string says what the check accepts: "URL", "e-mail address" */
static void
wachat_conf_string_doc(const wachat_conf_entry_t *e, char *buf, size_t size)
{
    snprintf(buf, size, "%s", e->check != NULL ? e->check->what : "string");
}


const wachat_conf_type_t  wachat_conf_string_type = {
    wachat_conf_string_set, wachat_conf_string_dump,
    wachat_conf_string_free, wachat_conf_string_doc, 0
};


/* int */

static int
wachat_conf_int_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    void *field, int argc, char **argv)
{
    char       show[WACHAT_CONF_SHOW_SIZE];
    long long  n;

    (void) argc;

    wachat_conf_show(argv[0], show, sizeof(show));

    if (wachat_conf_parse_int(argv[0], &n) != 0) {
        wachat_conf_why(ctx, "%s: %s is not an integer", e->name, show);
        return -1;
    }

    if (n < e->min || n > e->max) {
        wachat_conf_why(ctx, "%s: %s is out of range (%.0f..%.0f)",
                        e->name, show, e->min, e->max);
        return -1;
    }

    *(int *) field = (int) n;

    return 0;
}


static void
wachat_conf_int_dump(const wachat_conf_entry_t *e, const void *field,
    FILE *out)
{
    wachat_conf_put_key(out, e->name);
    fprintf(out, "%d\n", *(const int *) field);
}


static void
wachat_conf_int_doc(const wachat_conf_entry_t *e, char *buf, size_t size)
{
    snprintf(buf, size, "integer, %.0f..%.0f", e->min, e->max);
}


const wachat_conf_type_t  wachat_conf_int_type = {
    wachat_conf_int_set, wachat_conf_int_dump, NULL, wachat_conf_int_doc, 0
};


/* float */

static int
wachat_conf_float_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    void *field, int argc, char **argv)
{
    char        *end, show[WACHAT_CONF_SHOW_SIZE];
    double       f;
    const char  *v;

    (void) argc;

    v = argv[0];
    wachat_conf_show(v, show, sizeof(show));

    /* plain decimal only: strtod would also take "inf" and hex */
    errno = 0;
    f = strtod(v, &end);

    if (v[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(f)
        || strspn(v, "0123456789.eE+-") != strlen(v))
    {
        wachat_conf_why(ctx, "%s: %s is not a number", e->name, show);
        return -1;
    }

    if (f < e->min || f > e->max) {
        wachat_conf_why(ctx, "%s: %s is out of range (%g..%g)",
                        e->name, show, e->min, e->max);
        return -1;
    }

    *(double *) field = f;

    return 0;
}


static void
wachat_conf_float_dump(const wachat_conf_entry_t *e, const void *field,
    FILE *out)
{
    wachat_conf_put_key(out, e->name);
    fprintf(out, "%g\n", *(const double *) field);
}


static void
wachat_conf_float_doc(const wachat_conf_entry_t *e, char *buf, size_t size)
{
    snprintf(buf, size, "number, %g..%g", e->min, e->max);
}


const wachat_conf_type_t  wachat_conf_float_type = {
    wachat_conf_float_set, wachat_conf_float_dump, NULL,
    wachat_conf_float_doc, 0
};


/* duration: milliseconds in a long long; min and max in milliseconds */

static int
wachat_conf_duration_set(wachat_conf_ctx_t *ctx,
    const wachat_conf_entry_t *e, void *field, int argc, char **argv)
{
    char       show[WACHAT_CONF_SHOW_SIZE], lo[32], hi[32];
    long long  n;

    (void) argc;

    wachat_conf_show(argv[0], show, sizeof(show));

    if (wachat_conf_parse_duration(argv[0], &n) != 0) {
        wachat_conf_why(ctx, "%s: %s is not a duration (use 500ms, 20s, "
                        "2m)", e->name, show);
        return -1;
    }

    if (n < e->min || n > e->max) {
        wachat_conf_fmt_duration((long long) e->min, lo, sizeof(lo));
        wachat_conf_fmt_duration((long long) e->max, hi, sizeof(hi));
        wachat_conf_why(ctx, "%s: %s is out of range (%s..%s)", e->name,
                        show, lo, hi);
        return -1;
    }

    *(long long *) field = n;

    return 0;
}


static void
wachat_conf_duration_dump(const wachat_conf_entry_t *e, const void *field,
    FILE *out)
{
    char  buf[32];

    wachat_conf_fmt_duration(*(const long long *) field, buf, sizeof(buf));
    wachat_conf_put_key(out, e->name);
    fprintf(out, "%s\n", buf);
}


static void
wachat_conf_duration_doc(const wachat_conf_entry_t *e, char *buf,
    size_t size)
{
    char  lo[32], hi[32];

    wachat_conf_fmt_duration((long long) e->min, lo, sizeof(lo));
    wachat_conf_fmt_duration((long long) e->max, hi, sizeof(hi));
    snprintf(buf, size, "duration, %s..%s", lo, hi);
}


const wachat_conf_type_t  wachat_conf_duration_type = {
    wachat_conf_duration_set, wachat_conf_duration_dump, NULL,
    wachat_conf_duration_doc, 0
};


/* size: bytes in a size_t */

static int
wachat_conf_size_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    void *field, int argc, char **argv)
{
    char       show[WACHAT_CONF_SHOW_SIZE], lo[32], hi[32];
    long long  n;

    (void) argc;

    wachat_conf_show(argv[0], show, sizeof(show));

    if (wachat_conf_parse_size(argv[0], &n) != 0) {
        wachat_conf_why(ctx, "%s: %s is not a size (use 4096, 64k, 1mb, "
                        "1g)", e->name, show);
        return -1;
    }

    if (n < e->min || n > e->max) {
        wachat_conf_fmt_size((long long) e->min, lo, sizeof(lo));
        wachat_conf_fmt_size((long long) e->max, hi, sizeof(hi));
        wachat_conf_why(ctx, "%s: %s is out of range (%s..%s)", e->name,
                        show, lo, hi);
        return -1;
    }

    *(size_t *) field = (size_t) n;

    return 0;
}


static void
wachat_conf_size_dump(const wachat_conf_entry_t *e, const void *field,
    FILE *out)
{
    char  buf[32];

    wachat_conf_fmt_size((long long) *(const size_t *) field, buf,
                         sizeof(buf));
    wachat_conf_put_key(out, e->name);
    fprintf(out, "%s\n", buf);
}


static void
wachat_conf_size_doc(const wachat_conf_entry_t *e, char *buf, size_t size)
{
    char  lo[32], hi[32];

    wachat_conf_fmt_size((long long) e->min, lo, sizeof(lo));
    wachat_conf_fmt_size((long long) e->max, hi, sizeof(hi));
    snprintf(buf, size, "size, %s..%s", lo, hi);
}


const wachat_conf_type_t  wachat_conf_size_type = {
    wachat_conf_size_set, wachat_conf_size_dump, NULL,
    wachat_conf_size_doc, 0
};


/* bool: yes/no, also on/off, in an int */

static int
wachat_conf_bool_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    void *field, int argc, char **argv)
{
    char        show[WACHAT_CONF_SHOW_SIZE];
    const char  *v;

    (void) argc;

    v = argv[0];

    if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0) {
        *(int *) field = 1;
        return 0;
    }

    if (strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0) {
        *(int *) field = 0;
        return 0;
    }

    wachat_conf_why(ctx, "%s: %s is not yes or no (also on, off)", e->name,
                    wachat_conf_show(v, show, sizeof(show)));

    return -1;
}


static void
wachat_conf_bool_dump(const wachat_conf_entry_t *e, const void *field,
    FILE *out)
{
    wachat_conf_put_key(out, e->name);
    fprintf(out, "%s\n", *(const int *) field ? "yes" : "no");
}


static void
wachat_conf_bool_doc(const wachat_conf_entry_t *e, char *buf, size_t size)
{
    (void) e;

    snprintf(buf, size, "yes | no");
}


const wachat_conf_type_t  wachat_conf_bool_type = {
    wachat_conf_bool_set, wachat_conf_bool_dump, NULL, wachat_conf_bool_doc,
    0
};


/* enum: the index of one of e->values, in an int */

static int
wachat_conf_enum_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    void *field, int argc, char **argv)
{
    int        i;
    char       show[WACHAT_CONF_SHOW_SIZE];
    long long  n;

    (void) argc;

    for (i = 0; e->values[i] != NULL; i++) {
        if (strcmp(argv[0], e->values[i]) == 0) {
            *(int *) field = i;
            return 0;
        }
    }

    n = snprintf(ctx->why, sizeof(ctx->why), "%s: %s is not one of ",
                 e->name, wachat_conf_show(argv[0], show, sizeof(show)));

    for (i = 0; e->values[i] != NULL && n < (long long) sizeof(ctx->why);
         i++)
    {
        n += snprintf(ctx->why + n, sizeof(ctx->why) - (size_t) n, "%s%s",
                      i > 0 ? ", " : "", e->values[i]);
    }

    return -1;
}


static void
wachat_conf_enum_dump(const wachat_conf_entry_t *e, const void *field,
    FILE *out)
{
    wachat_conf_put_key(out, e->name);
    fprintf(out, "%s\n", e->values[*(const int *) field]);
}


static void
wachat_conf_enum_doc(const wachat_conf_entry_t *e, char *buf, size_t size)
{
    int     i;
    size_t  n;

    n = 0;
    buf[0] = '\0';

    for (i = 0; e->values[i] != NULL && n < size; i++) {
        n += (size_t) snprintf(buf + n, size - n, "%s%s",
                               i > 0 ? " | " : "", e->values[i]);
    }
}


const wachat_conf_type_t  wachat_conf_enum_type = {
    wachat_conf_enum_set, wachat_conf_enum_dump, NULL, wachat_conf_enum_doc,
    0
};


/* addr: host:port, [v6]:port or unix:/path; "" leaves it unset */

static void
wachat_conf_addr_free(void *field)
{
    wachat_addr_t  *addr;

    addr = field;
    free(addr->host);
    free(addr->path);
    memset(addr, 0, sizeof(wachat_addr_t));
}


static int
wachat_conf_addr_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    void *field, int argc, char **argv)
{
    char           show[WACHAT_CONF_SHOW_SIZE], *path;
    wachat_addr_t  addr;

    (void) argc;

    memset(&addr, 0, sizeof(addr));

    if (argv[0][0] != '\0' && wachat_conf_parse_addr(argv[0], &addr) != 0) {
        wachat_conf_why(ctx, "%s: %s is not host:port or unix:/path",
                        e->name, wachat_conf_show(argv[0], show,
                                                  sizeof(show)));
        return -1;
    }

    /* unix:api.sock sits beside the config, as every relative path */
    if (addr.path != NULL) {
        path = wachat_conf_path(ctx, addr.path);
        if (path == NULL) {
            wachat_conf_addr_free(&addr);
            wachat_conf_why(ctx, "out of memory");
            return -1;
        }

        free(addr.path);
        addr.path = path;
    }

    wachat_conf_addr_free(field);
    *(wachat_addr_t *) field = addr;

    return 0;
}


static void
wachat_conf_addr_dump(const wachat_conf_entry_t *e, const void *field,
    FILE *out)
{
    char  buf[256];

    wachat_conf_fmt_addr(field, buf, sizeof(buf));
    wachat_conf_put_key(out, e->name);
    wachat_conf_put_value(out, buf);
    fputc('\n', out);
}


static void
wachat_conf_addr_doc(const wachat_conf_entry_t *e, char *buf, size_t size)
{
    (void) e;

    snprintf(buf, size, "address");
}


const wachat_conf_type_t  wachat_conf_addr_type = {
    wachat_conf_addr_set, wachat_conf_addr_dump, wachat_conf_addr_free,
    wachat_conf_addr_doc, 0
};


/* list: one or more words */

static void
wachat_conf_list_free(void *field)
{
    size_t          i;
    wachat_list_t  *list;

    list = field;

    for (i = 0; i < list->n; i++) {
        free(list->items[i]);
    }

    free(list->items);
    memset(list, 0, sizeof(wachat_list_t));
}


static int
wachat_conf_list_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    void *field, int argc, char **argv)
{
    int            i;
    wachat_list_t  list;

    if (argc == 0) {
        wachat_conf_why(ctx, "%s: missing value", e->name);
        return -1;
    }

    list.n = 0;
    list.items = calloc((size_t) argc, sizeof(char *));
    if (list.items == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    for (i = 0; i < argc; i++) {
        if (argv[i][0] == '\0') {
            wachat_conf_list_free(&list);
            wachat_conf_why(ctx, "%s: an empty word is not allowed",
                            e->name);
            return -1;
        }

        list.items[i] = wachat_conf_strdup(argv[i]);
        if (list.items[i] == NULL) {
            wachat_conf_list_free(&list);
            wachat_conf_why(ctx, "out of memory");
            return -1;
        }

        list.n++;
    }

    wachat_conf_list_free(field);
    *(wachat_list_t *) field = list;

    return 0;
}


static void
wachat_conf_list_dump(const wachat_conf_entry_t *e, const void *field,
    FILE *out)
{
    size_t                i;
    const wachat_list_t  *list;

    list = field;

    /* a list without a default may be empty; "key" alone would not load */
    if (list->n == 0) {
        fprintf(out, "# %s: none\n", e->name);
        return;
    }

    wachat_conf_put_key(out, e->name);

    for (i = 0; i < list->n; i++) {
        if (i > 0) {
            fputc(' ', out);
        }

        wachat_conf_put_value(out, list->items[i]);
    }

    fputc('\n', out);
}


static void
wachat_conf_list_doc(const wachat_conf_entry_t *e, char *buf, size_t size)
{
    (void) e;

    snprintf(buf, size, "words");
}


const wachat_conf_type_t  wachat_conf_list_type = {
    wachat_conf_list_set, wachat_conf_list_dump, wachat_conf_list_free,
    wachat_conf_list_doc, WACHAT_CONF_WORDS
};


/*
 * canned: "canned <name> <text>", one line per reply an agent inserts with
 * "/<name>"; kept as a list of name, text, name, text...
 */

static int
wachat_conf_canned_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    void *field, int argc, char **argv)
{
    char            show[WACHAT_CONF_SHOW_SIZE];
    size_t          i, n;
    char          **items;
    wachat_list_t  *list;

    list = field;
    n = strlen(argv[0]);

    if (argc != 2 || argv[1][0] == '\0') {
        wachat_conf_why(ctx, "%s: takes <name> \"<text>\"", e->name);
        return -1;
    }

    if (n == 0 || n > 32
        || strspn(argv[0], "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
    {
        wachat_conf_why(ctx, "%s: name %s must be 1 to 32 of a-z, 0-9, _ "
                        "or -", e->name,
                        wachat_conf_show(argv[0], show, sizeof(show)));
        return -1;
    }

    for (i = 0; i < list->n; i += 2) {
        if (strcmp(list->items[i], argv[0]) == 0) {
            wachat_conf_why(ctx, "%s: %s is already defined", e->name,
                            argv[0]);
            return -1;
        }
    }

    items = realloc(list->items, (list->n + 2) * sizeof(char *));
    if (items == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    list->items = items;
    items[list->n] = wachat_conf_strdup(argv[0]);
    items[list->n + 1] = wachat_conf_strdup(argv[1]);
    list->n += 2;

    if (items[list->n - 2] == NULL || items[list->n - 1] == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    return 0;
}


static void
wachat_conf_canned_dump(const wachat_conf_entry_t *e, const void *field,
    FILE *out)
{
    size_t                i;
    const wachat_list_t  *list;

    list = field;

    if (list->n == 0) {
        fprintf(out, "# %s: none\n", e->name);
    }

    for (i = 0; i + 1 < list->n; i += 2) {
        wachat_conf_put_key(out, e->name);
        wachat_conf_put_value(out, list->items[i]);
        fputc(' ', out);
        wachat_conf_put_value(out, list->items[i + 1]);
        fputc('\n', out);
    }
}


static void
wachat_conf_canned_doc(const wachat_conf_entry_t *e, char *buf, size_t size)
{
    (void) e;

    snprintf(buf, size, "`<name> \"<text>\"`, one line each");
}


const wachat_conf_type_t  wachat_conf_canned_type = {
    wachat_conf_canned_set, wachat_conf_canned_dump, wachat_conf_list_free,
    wachat_conf_canned_doc, WACHAT_CONF_WORDS
};


/* value syntax */

int
wachat_conf_parse_int(const char *v, long long *out)
{
    char       *end;
    long long   n;

    if (v[0] != '-' && !isdigit((unsigned char) v[0])) {
        return -1;
    }

    errno = 0;
    n = strtoll(v, &end, 10);

    if (errno != 0 || end == v || *end != '\0') {
        return -1;
    }

    *out = n;
    return 0;
}


/* <digits><unit>, unit ms, s, m, h or d; a bare 0 is allowed too */
static int
wachat_conf_parse_duration(const char *v, long long *ms)
{
    size_t      digits, i;
    long long   n, unit;
    const char  *u;

    static const struct {
        const char  *name;
        long long    ms;
    } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
        { "d", 86400000 }
    };

    digits = strspn(v, "0123456789");

    if (digits == 0 || digits > 12) {
        return -1;
    }

    n = strtoll(v, NULL, 10);
    u = v + digits;

    if (*u == '\0') {
        if (n != 0) {
            return -1;
        }

        *ms = 0;
        return 0;
    }

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(u, units[i].name) == 0) {
            unit = units[i].ms;

            if (n > LLONG_MAX / unit) {
                return -1;
            }

            *ms = n * unit;
            return 0;
        }
    }

    return -1;
}


/* <digits>[unit], unit k, kb, m, mb, g or gb, all powers of 1024 */
static int
wachat_conf_parse_size(const char *v, long long *bytes)
{
    size_t      digits;
    long long   n, unit;
    const char  *u;

    digits = strspn(v, "0123456789");

    if (digits == 0 || digits > 15) {
        return -1;
    }

    n = strtoll(v, NULL, 10);
    u = v + digits;

    if (*u == '\0' || strcasecmp(u, "b") == 0) {
        unit = 1;

    } else if (strcasecmp(u, "k") == 0 || strcasecmp(u, "kb") == 0) {
        unit = 1024;

    } else if (strcasecmp(u, "m") == 0 || strcasecmp(u, "mb") == 0) {
        unit = 1024 * 1024;

    } else if (strcasecmp(u, "g") == 0 || strcasecmp(u, "gb") == 0) {
        unit = 1024 * 1024 * 1024;

    } else {
        return -1;
    }

    if (n > LLONG_MAX / unit) {
        return -1;
    }

    *bytes = n * unit;
    return 0;
}


/* "unix:/path", "host:port" or "[v6]:port"; fills addr only on success */
int
wachat_conf_parse_addr(const char *v, wachat_addr_t *addr)
{
    char        *host, *path;
    size_t       hlen;
    long long    port;
    const char  *colon, *h;

    if (strncmp(v, "unix:", 5) == 0) {
        if (v[5] == '\0') {
            return -1;
        }

        path = wachat_conf_strdup(v + 5);
        if (path == NULL) {
            return -1;
        }

        addr->host = NULL;
        addr->port = 0;
        addr->path = path;
        return 0;
    }

    if (v[0] == '[') {
        colon = strstr(v, "]:");
        if (colon == NULL) {
            return -1;
        }

        h = v + 1;
        hlen = (size_t) (colon - h);
        colon++;

        if (memchr(h, ']', hlen) != NULL) {
            return -1;
        }

    } else {
        colon = strrchr(v, ':');
        if (colon == NULL) {
            return -1;
        }

        h = v;
        hlen = (size_t) (colon - v);

        /* a bare IPv6 address is ambiguous: ask for brackets */
        if (memchr(h, ':', hlen) != NULL) {
            return -1;
        }
    }

    if (hlen == 0 || strcspn(h, " \t/[") < hlen) {
        return -1;
    }

    if (strspn(colon + 1, "0123456789") != strlen(colon + 1)
        || wachat_conf_parse_int(colon + 1, &port) != 0
        || port < 1 || port > 65535)
    {
        return -1;
    }

    host = malloc(hlen + 1);
    if (host == NULL) {
        return -1;
    }

    memcpy(host, h, hlen);
    host[hlen] = '\0';

    addr->host = host;
    addr->port = (int) port;
    addr->path = NULL;

    return 0;
}


/* formatting, as the file would write it */

void
wachat_conf_fmt_duration(long long ms, char *buf, size_t size)
{
    if (ms == 0) {
        snprintf(buf, size, "0s");

    } else if (ms % 3600000 == 0) {
        snprintf(buf, size, "%lldh", ms / 3600000);

    } else if (ms % 60000 == 0) {
        snprintf(buf, size, "%lldm", ms / 60000);

    } else if (ms % 1000 == 0) {
        snprintf(buf, size, "%llds", ms / 1000);

    } else {
        snprintf(buf, size, "%lldms", ms);
    }
}


void
wachat_conf_fmt_size(long long bytes, char *buf, size_t size)
{
    if (bytes != 0 && bytes % (1024 * 1024 * 1024) == 0) {
        snprintf(buf, size, "%lldgb", bytes / (1024 * 1024 * 1024));

    } else if (bytes != 0 && bytes % (1024 * 1024) == 0) {
        snprintf(buf, size, "%lldmb", bytes / (1024 * 1024));

    } else if (bytes != 0 && bytes % 1024 == 0) {
        snprintf(buf, size, "%lldkb", bytes / 1024);

    } else {
        snprintf(buf, size, "%lld", bytes);
    }
}


void
wachat_conf_fmt_addr(const wachat_addr_t *a, char *buf, size_t size)
{
    if (a->path != NULL) {
        snprintf(buf, size, "unix:%s", a->path);

    } else if (a->host == NULL) {
        buf[0] = '\0';

    } else if (strchr(a->host, ':') != NULL) {
        snprintf(buf, size, "[%s]:%d", a->host, a->port);

    } else {
        snprintf(buf, size, "%s:%d", a->host, a->port);
    }
}


void
wachat_conf_put_key(FILE *out, const char *name)
{
    fprintf(out, "%-24s ", name);
}


void
wachat_conf_put_value(FILE *out, const char *v)
{
    const char  *p;

    if (v[0] != '\0' && strcspn(v, " \t\r\n\"\\#") == strlen(v)) {
        fputs(v, out);
        return;
    }

    fputc('"', out);

    for (p = v; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        default:
            fputc(*p, out);
        }
    }

    fputc('"', out);
}


int
wachat_config_duration(const char *v, long long *ms)
{
    return wachat_conf_parse_duration(v, ms);
}
