/*
 * The config's values with a unit: durations (milliseconds, written
 * 500ms, 30s, 5m, 2h, 7d) and sizes (bytes, written 512k, 16m, 1g, powers
 * of 1024): their types, their syntax and how the file writes them back.
 */

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config_int.h"


static int wachat_conf_parse_duration(const char *v, long long *ms);
static int wachat_conf_parse_size(const char *v, long long *bytes);


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


/* value syntax */

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


int
wachat_config_duration(const char *v, long long *ms)
{
    return wachat_conf_parse_duration(v, ms);
}
