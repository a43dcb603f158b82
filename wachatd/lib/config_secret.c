/*
 * The secret type of the config: never inline, always <name>_file <path>
 * (the file's content, trailing newlines removed; a file that any user may
 * read is refused) or <name>_env <VARIABLE>.  Messages name the file or
 * variable, never the value; the dump shows where a secret comes from.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/config_int.h"


static int wachat_conf_secret_env(wachat_conf_ctx_t *ctx,
    const wachat_conf_entry_t *e, const char *v, char **value, size_t *len);
static int wachat_conf_secret_file(wachat_conf_ctx_t *ctx,
    const wachat_conf_entry_t *e, const char *v, char **value, size_t *len);
static int wachat_conf_secret_open(wachat_conf_ctx_t *ctx,
    const wachat_conf_entry_t *e, const char *v, struct stat *st);
static int wachat_conf_secret_value(wachat_conf_ctx_t *ctx,
    const wachat_conf_entry_t *e, const char *v, char *value, size_t len);
static void wachat_conf_secret_free(void *field);


static int
wachat_conf_secret_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    void *field, int argc, char **argv)
{
    int               rc;
    char             *value, *source, *path;
    size_t            len;
    const char       *v, *key;
    wachat_secret_t  *s;

    (void) argc;

    v = argv[0];
    key = ctx->form == WACHAT_CONF_FORM_FILE ? "file" : "env";
    value = NULL;
    len = 0;

    if (v[0] == '\0') {
        wachat_conf_why(ctx, "%s_%s: must not be empty", e->name, key);
        return -1;
    }

    /* a file named relatively sits beside the config */
    path = ctx->form == WACHAT_CONF_FORM_FILE ? wachat_conf_path(ctx, v)
                                              : wachat_conf_strdup(v);
    if (path == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    v = path;

    rc = ctx->form == WACHAT_CONF_FORM_ENV
         ? wachat_conf_secret_env(ctx, e, v, &value, &len)
         : wachat_conf_secret_file(ctx, e, v, &value, &len);

    if (rc != 0 || wachat_conf_secret_value(ctx, e, v, value, len) != 0) {
        free(path);
        return -1;
    }

    len = strlen(key) + 1 + strlen(v) + 1;
    source = malloc(len);
    if (source == NULL) {
        wachat_conf_wipe(value, strlen(value));
        free(value);
        free(path);
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    snprintf(source, len, "%s %s", key, v);
    free(path);

    s = field;
    wachat_conf_secret_free(s);

    s->value = value;
    s->source = source;

    return 0;
}


static int
wachat_conf_secret_env(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    const char *v, char **value, size_t *len)
{
    char         show[WACHAT_CONF_SHOW_SIZE];
    const char  *env;

    if (!(isalpha((unsigned char) v[0]) || v[0] == '_')
        || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789_") != strlen(v))
    {
        wachat_conf_why(ctx, "%s_env: %s is not a variable name", e->name,
                        wachat_conf_show(v, show, sizeof(show)));
        return -1;
    }

    env = getenv(v);

    if (env == NULL) {
        wachat_conf_why(ctx, "%s_env: environment variable %s is not set",
                        e->name, v);
        return -1;
    }

    *value = wachat_conf_strdup(env);
    if (*value == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    *len = strlen(*value);

    return 0;
}


static int
wachat_conf_secret_file(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    const char *v, char **value, size_t *len)
{
    int          fd;
    char        *p;
    ssize_t      n;
    struct stat  st;

    fd = wachat_conf_secret_open(ctx, e, v, &st);
    if (fd == -1) {
        return -1;
    }

    p = malloc((size_t) st.st_size + 1);
    if (p == NULL) {
        close(fd);
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    n = wachat_conf_read(fd, p, (size_t) st.st_size);

    if (n == -1) {
        wachat_conf_why(ctx, "%s_file: cannot read %s: %s", e->name, v,
                        strerror(errno));
        wachat_conf_wipe(p, (size_t) st.st_size);
        free(p);
        close(fd);
        return -1;
    }

    close(fd);

    p[n] = '\0';
    *value = p;
    *len = (size_t) n;

    return 0;
}


/* O_NONBLOCK: a FIFO must not hang the load; it is refused here */
static int
wachat_conf_secret_open(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    const char *v, struct stat *st)
{
    int  fd;

    fd = open(v, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd == -1) {
        wachat_conf_why(ctx, "%s_file: cannot open %s: %s", e->name, v,
                        strerror(errno));
        return -1;
    }

    if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode)) {
        wachat_conf_why(ctx, "%s_file: %s is not a regular file", e->name,
                        v);
        close(fd);
        return -1;
    }

    /* only its owner, the user wachatd runs as, may read or change it */
    if (st->st_mode & (S_IRWXG | S_IRWXO)) {
        wachat_conf_why(ctx, "%s_file: %s is readable or writable by %s "
                        "(mode %04o); run chmod go-rwx on it", e->name, v,
                        (st->st_mode & S_IRWXO) ? "every user" : "its group",
                        (unsigned) (st->st_mode & 07777));
        close(fd);
        return -1;
    }

    if (st->st_size > WACHAT_CONF_SECRET_MAX) {
        wachat_conf_why(ctx, "%s_file: %s is larger than %d bytes", e->name,
                        v, WACHAT_CONF_SECRET_MAX);
        close(fd);
        return -1;
    }

    return fd;
}


/*
 * Trailing newlines go; what is left must be one line with no NUL (a file
 * may hold one), as it goes into HTTP headers and protocol lines.  Frees
 * value on error.
 */
static int
wachat_conf_secret_value(wachat_conf_ctx_t *ctx,
    const wachat_conf_entry_t *e, const char *v, char *value, size_t len)
{
    size_t       i;
    const char  *key, *what;

    key = ctx->form == WACHAT_CONF_FORM_FILE ? "file" : "env";
    what = ctx->form == WACHAT_CONF_FORM_FILE ? "file" : "variable";

    while (len > 0 && (value[len - 1] == '\n' || value[len - 1] == '\r')) {
        value[--len] = '\0';
    }

    if (len == 0) {
        wachat_conf_why(ctx, "%s_%s: %s %s is empty", e->name, key, what, v);
        free(value);
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (value[i] == '\n' || value[i] == '\r' || value[i] == '\0') {
            wachat_conf_why(ctx, "%s_%s: the secret in %s %s has more than "
                            "one line or a NUL byte", e->name, key, what, v);
            wachat_conf_wipe(value, len);
            free(value);
            return -1;
        }
    }

    return 0;
}


/* "file /p" -> graph_token_file /p: the source, never the value */
static void
wachat_conf_secret_dump(const wachat_conf_entry_t *e, const void *field,
    FILE *out)
{
    char                    buf[256];
    size_t                  k;
    const wachat_secret_t  *secret;

    secret = field;
    wachat_secret_describe(secret, buf, sizeof(buf));

    if (secret->value == NULL) {
        fprintf(out, "# %s: %s\n", e->name, buf);
        return;
    }

    k = strcspn(secret->source, " ");
    fprintf(out, "%s_%-*.*s ", e->name, (int) (23 - strlen(e->name)),
            (int) k, secret->source);
    wachat_conf_put_value(out, secret->source + k + 1);
    fprintf(out, "  # %s\n", buf);
}


static void
wachat_conf_secret_free(void *field)
{
    wachat_secret_t  *secret;

    secret = field;

    if (secret->value != NULL) {
        wachat_conf_wipe(secret->value, strlen(secret->value));
    }

    free(secret->value);
    free(secret->source);
    memset(secret, 0, sizeof(wachat_secret_t));
}


static void
wachat_conf_secret_doc(const wachat_conf_entry_t *e, char *buf, size_t size)
{
    (void) e;

    snprintf(buf, size, "secret: a file or a variable");
}


const wachat_conf_type_t  wachat_conf_secret_type = {
    wachat_conf_secret_set, wachat_conf_secret_dump, wachat_conf_secret_free,
    wachat_conf_secret_doc, WACHAT_CONF_SECRET
};


const char *
wachat_secret_describe(const wachat_secret_t *secret, char *buf,
    size_t size)
{
    if (secret->value == NULL || secret->source == NULL) {
        snprintf(buf, size, "<not set>");
    } else {
        snprintf(buf, size, "<secret from %s>", secret->source);
    }

    return buf;
}
