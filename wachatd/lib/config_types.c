/*
 * The plain value types of the config: for each one its set, dump, free
 * and doc functions (see wachat_conf_type_t in config_int.h), then the
 * syntax they share: integers, and a value as the file writes it.
 * Durations and sizes (config_units.c), addresses (config_addr.c), lists
 * and canned replies (config_lists.c), secrets and agents have their own
 * files.
 *
 * By the time set runs, config.c has checked the number of words and an
 * empty value for a WACHAT_CONF_NONEMPTY key.
 */

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config_int.h"


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


/* a value as the file would write it */

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
