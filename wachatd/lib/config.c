/*
 * wachat config: see config.h.
 *
 * Loading: the file, its lines (words: config_words.c) and the key each
 * line names (config_lookup.c, from the table in config_keys.c), and what
 * every key shares before its type's own set function (config_types.c and
 * the files it names) stores the value.  Then the checks across keys
 * (config_check.c).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/config_int.h"


#define WACHAT_CONF_FILE_MAX    (16 * 1024 * 1024)


static wachat_config_t *wachat_conf_run(const char *file, const char *dir,
    const char *text, size_t len, char *err, size_t errlen);
static char *wachat_conf_dir(const char *path);
static int wachat_conf_defaults(wachat_conf_ctx_t *ctx, char *err,
    size_t errlen);
static int wachat_conf_lines(wachat_conf_ctx_t *ctx, char *text, size_t len,
    char *buf);
static int wachat_conf_line(wachat_conf_ctx_t *ctx, char *line, size_t len,
    char *buf);
static int wachat_conf_set(wachat_conf_ctx_t *ctx,
    const wachat_conf_entry_t *e, int form, int argc, char **argv);


/* loading */

const char *
wachat_config_path(const char *option)
{
    const char  *env;

    if (option != NULL) {
        return option;
    }

    env = getenv("WACHAT_CONF");

    return env != NULL && env[0] != '\0' ? env : WACHAT_CONF_PATH;
}


wachat_config_t *
wachat_config_load(const char *path, char *err, size_t errlen)
{
    int               fd;
    char             *text, *dir;
    ssize_t           len;
    struct stat       st;
    wachat_config_t  *cfg;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }

    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }

    /* whoever may write it decides where secrets are read from */
    if (st.st_mode & S_IWOTH) {
        snprintf(err, errlen, "%s: writable by every user (mode %04o); run "
                 "chmod o-w on it", path, (unsigned) (st.st_mode & 07777));
        close(fd);
        return NULL;
    }

    if (st.st_size > WACHAT_CONF_FILE_MAX) {
        snprintf(err, errlen, "%s: larger than %d bytes", path,
                 WACHAT_CONF_FILE_MAX);
        close(fd);
        return NULL;
    }

    text = malloc((size_t) st.st_size + 1);
    if (text == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return NULL;
    }

    /* the file may change under us: read what is there, within bounds */
    len = wachat_conf_read(fd, text, (size_t) st.st_size);

    if (len == -1) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        free(text);
        close(fd);
        return NULL;
    }

    close(fd);

    dir = wachat_conf_dir(path);
    if (dir == NULL) {
        snprintf(err, errlen, "%s: cannot tell its directory: %s", path,
                 strerror(errno));
        free(text);
        return NULL;
    }

    cfg = wachat_conf_run(path, dir, text, (size_t) len, err, errlen);
    free(text);
    free(dir);

    return cfg;
}


/* the absolute directory of the file: "conf/w.conf" -> "$PWD/conf" */
static char *
wachat_conf_dir(const char *path)
{
    char        *dir, *cwd;
    size_t       len, clen;
    const char  *slash;

    slash = strrchr(path, '/');
    len = slash == NULL ? 0 : slash == path ? 1 : (size_t) (slash - path);

    if (path[0] == '/') {
        dir = malloc(len + 1);
        if (dir == NULL) {
            return NULL;
        }

        memcpy(dir, path, len);
        dir[len] = '\0';
        return dir;
    }

    cwd = getcwd(NULL, 0);
    if (cwd == NULL) {
        return NULL;
    }

    clen = strlen(cwd);
    dir = malloc(clen + 1 + len + 1);

    if (dir != NULL) {
        memcpy(dir, cwd, clen);

        if (len > 0) {
            dir[clen++] = '/';
            memcpy(dir + clen, path, len);
        }

        dir[clen + len] = '\0';
    }

    free(cwd);

    return dir;
}


wachat_config_t *
wachat_config_parse(const char *name, const char *text, size_t len,
    char *err, size_t errlen)
{
    return wachat_conf_run(name, NULL, text, len, err, errlen);
}


static wachat_config_t *
wachat_conf_run(const char *file, const char *dir, const char *text,
    size_t len, char *err, size_t errlen)
{
    int                 set_line[WACHAT_CONF_KEYS_MAX];
    int                 set_form[WACHAT_CONF_KEYS_MAX];
    char               *copy, *buf;
    wachat_config_t    *cfg;
    wachat_conf_ctx_t   ctx;

    cfg = calloc(1, sizeof(wachat_config_t));
    copy = malloc(len + 1);
    buf = malloc(len + 1);

    if (cfg == NULL || copy == NULL || buf == NULL) {
        snprintf(err, errlen, "%s: out of memory", file);
        goto failed;
    }

    memset(set_line, 0, sizeof(set_line));
    memset(set_form, 0, sizeof(set_form));

    ctx.cfg = cfg;
    ctx.file = file;
    ctx.dir = dir;
    ctx.line = 0;
    ctx.form = WACHAT_CONF_FORM_PLAIN;
    ctx.set_line = set_line;
    ctx.set_form = set_form;

    cfg->path = wachat_conf_strdup(file);
    if (cfg->path == NULL) {
        snprintf(err, errlen, "%s: out of memory", file);
        goto failed;
    }

    if (wachat_conf_defaults(&ctx, err, errlen) != 0) {
        goto failed;
    }

    /* editors on some systems start a UTF-8 file with a BOM */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3;
        len -= 3;
    }

    memcpy(copy, text, len);
    copy[len] = '\0';

    if (wachat_conf_lines(&ctx, copy, len, buf) != 0
        || wachat_conf_finish(&ctx) != 0)
    {
        wachat_conf_error(err, errlen, file, ctx.line, "%s", ctx.why);
        goto failed;
    }

    free(copy);
    free(buf);

    return cfg;

failed:

    free(copy);
    free(buf);
    wachat_config_free(cfg);

    return NULL;
}


/* Defaults, through the same parser as the file. */
static int
wachat_conf_defaults(wachat_conf_ctx_t *ctx, char *err, size_t errlen)
{
    char                       *argv[1];
    size_t                      i;
    const wachat_conf_entry_t  *e;

    for (i = 0; i < wachat_conf_nkeys; i++) {
        e = &wachat_conf_table[i];

        if (e->dflt == NULL) {
            continue;
        }

        argv[0] = (char *) e->dflt;

        if (wachat_conf_set(ctx, e, WACHAT_CONF_FORM_PLAIN, 1, argv) != 0) {
            snprintf(err, errlen, "built-in default of %s: %s", e->name,
                     ctx->why);
            return -1;
        }
    }

    return 0;
}


/* Every line of text, which ends in a NUL; ctx->line counts them. */
static int
wachat_conf_lines(wachat_conf_ctx_t *ctx, char *text, size_t len, char *buf)
{
    char  *line, *end, *nl;

    line = text;
    end = text + len;

    while (line < end) {
        ctx->line++;

        nl = memchr(line, '\n', (size_t) (end - line));
        if (nl == NULL) {
            nl = end;
        }

        if (wachat_conf_line(ctx, line, (size_t) (nl - line), buf) != 0) {
            return -1;
        }

        line = nl + 1;
    }

    return 0;
}


/* One line: checks its bytes, splits it, finds the key, sets it. */
static int
wachat_conf_line(wachat_conf_ctx_t *ctx, char *line, size_t len, char *buf)
{
    int                         argc, form;
    char                       *argv[WACHAT_CONF_ARGS_MAX];
    size_t                      i;
    const wachat_conf_entry_t  *e;

    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }

    if (wachat_conf_check_bytes(ctx, line, len) != 0
        || wachat_conf_split(ctx, line, len, buf, argv, &argc) != 0)
    {
        return -1;
    }

    if (argc == 0) {
        return 0;
    }

    if (strchr(argv[0], '.') != NULL) {
        return wachat_conf_translation(ctx, argc, argv);
    }

    e = wachat_conf_lookup(argv[0], &form);

    if (e == NULL) {
        wachat_conf_unknown(ctx, argv[0]);
        return -1;
    }

    if ((e->type->flags & WACHAT_CONF_SECRET)
        && form == WACHAT_CONF_FORM_PLAIN)
    {
        /* never echo the value: it is the secret */
        wachat_conf_why(ctx, "%s: secrets are not accepted inline; use "
                        "%s_file <path> or %s_env <VARIABLE>",
                        e->name, e->name, e->name);
        return -1;
    }

    i = (size_t) (e - wachat_conf_table);

    if (ctx->set_line[i] != 0 && !(e->flags & WACHAT_CONF_REPEAT)) {
        wachat_conf_duplicate(ctx, e, form, argv[0]);
        return -1;
    }

    if (wachat_conf_set(ctx, e, form, argc - 1, argv + 1) != 0) {
        return -1;
    }

    ctx->set_line[i] = ctx->line;
    ctx->set_form[i] = form;

    return 0;
}


/*
 * What every type shares: how many words, and "" for a key that needs a
 * value; then the type's own set, then the entry's check.
 */
static int
wachat_conf_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    int form, int argc, char **argv)
{
    void        *field;
    const char  *suffix;

    field = (char *) ctx->cfg + e->offset;
    ctx->form = form;

    if (!(e->type->flags & WACHAT_CONF_WORDS)) {
        suffix = form == WACHAT_CONF_FORM_FILE ? "_file"
                 : form == WACHAT_CONF_FORM_ENV ? "_env" : "";

        if (argc == 0) {
            wachat_conf_why(ctx, "%s%s: missing value", e->name, suffix);
            return -1;
        }

        if (argc > 1) {
            wachat_conf_why(ctx, "%s%s: takes one value, got %d (quote a "
                            "value that contains spaces)", e->name, suffix,
                            argc);
            return -1;
        }

        if (argv[0][0] == '\0' && (e->flags & WACHAT_CONF_NONEMPTY)) {
            wachat_conf_why(ctx, "%s: must not be empty", e->name);
            return -1;
        }
    }

    if (e->type->set(ctx, e, field, argc, argv) != 0) {
        return -1;
    }

    if (e->check != NULL && e->check->check(ctx, e->name, field) != 0) {
        return -1;
    }

    return 0;
}


void
wachat_config_free(wachat_config_t *cfg)
{
    size_t                      i;
    const wachat_conf_entry_t  *e;

    if (cfg == NULL) {
        return;
    }

    for (i = 0; i < wachat_conf_nkeys; i++) {
        e = &wachat_conf_table[i];

        if (e->type->free != NULL) {
            e->type->free((char *) cfg + e->offset);
        }
    }

    for (i = 0; i < cfg->texts.n; i++) {
        free(cfg->texts.items[i].lang);
        free(cfg->texts.items[i].value);
    }

    free(cfg->texts.items);
    free(cfg->path);
    free(cfg);
}
