/*
 * wachat config: see config.h.
 *
 * Loading: the file, its lines and words, the key each line names (from
 * the table in config_keys.c) and what every key shares before its type's
 * own set function (config_types.c, config_secret.c, config_agents.c)
 * stores the value.  Then the checks across keys (config_check.c).
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wachat_utf8.h"

#include "lib/config_int.h"


#define WACHAT_CONF_FILE_MAX    (16 * 1024 * 1024)
#define WACHAT_CONF_ARGS_MAX    64


static wachat_config_t *wachat_conf_run(const char *file, const char *dir,
    const char *text, size_t len, char *err, size_t errlen);
static char *wachat_conf_dir(const char *path);
static int wachat_conf_defaults(wachat_conf_ctx_t *ctx, char *err,
    size_t errlen);
static int wachat_conf_lines(wachat_conf_ctx_t *ctx, char *text, size_t len,
    char *buf);
static int wachat_conf_line(wachat_conf_ctx_t *ctx, char *line, size_t len,
    char *buf);
static int wachat_conf_check_bytes(wachat_conf_ctx_t *ctx, const char *line,
    size_t len);
static int wachat_conf_split(wachat_conf_ctx_t *ctx, const char *s,
    size_t len, char *buf, char **argv, int *argc);
static int wachat_conf_unescape(wachat_conf_ctx_t *ctx, char c, char *out);
static const wachat_conf_entry_t *wachat_conf_lookup(const char *key,
    int *form);
static void wachat_conf_unknown(wachat_conf_ctx_t *ctx, const char *key);
static int wachat_conf_translation(wachat_conf_ctx_t *ctx, int argc,
    char **argv);
static const char *wachat_conf_suggest(const char *key, char *buf,
    size_t size);
static void wachat_conf_duplicate(wachat_conf_ctx_t *ctx,
    const wachat_conf_entry_t *e, int form, const char *key);
static int wachat_conf_set(wachat_conf_ctx_t *ctx,
    const wachat_conf_entry_t *e, int form, int argc, char **argv);
static void wachat_conf_error(char *err, size_t errlen, const char *file,
    int line, const char *fmt, ...) WACHAT_LOG_PRINTF(5, 6);


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


/* "zh", "es", "zh-Hant", "pt-BR": a language tag, as far as we use them */
static int
wachat_conf_lang_tag(const char *s)
{
    size_t  n, sub;

    n = strspn(s, "abcdefghijklmnopqrstuvwxyz");

    if (n < 2 || n > 3) {
        return 0;
    }

    if (s[n] == '\0') {
        return 1;
    }

    sub = strspn(s + n + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                            "0123456789");

    return s[n] == '-' && sub >= 2 && sub <= 8 && s[n + 1 + sub] == '\0';
}


/* <key>.<lang> "text": a system text in one language */
static int
wachat_conf_translation(wachat_conf_ctx_t *ctx, int argc, char **argv)
{
    int                         form;
    char                        key[64], show[WACHAT_CONF_SHOW_SIZE];
    size_t                      i, n;
    const char                 *lang;
    wachat_text_t              *t, *items;
    wachat_texts_t             *texts;
    const wachat_conf_entry_t  *e;

    lang = strchr(argv[0], '.') + 1;
    n = (size_t) (lang - 1 - argv[0]);
    e = NULL;

    if (n < sizeof(key)) {
        memcpy(key, argv[0], n);
        key[n] = '\0';
        e = wachat_conf_lookup(key, &form);
    }

    if (e == NULL || !(e->flags & WACHAT_CONF_LANG)) {
        wachat_conf_why(ctx, "%s: only the system texts may be given per "
                        "language (fallback_text.zh, handoff_text.es, ...)",
                        wachat_conf_show(argv[0], show, sizeof(show)));
        return -1;
    }

    if (!wachat_conf_lang_tag(lang)) {
        wachat_conf_why(ctx, "%s: \"%s\" is not a language: write en, zh, "
                        "zh-Hant, pt-BR...", argv[0], lang);
        return -1;
    }

    if (argc != 2 || argv[1][0] == '\0') {
        wachat_conf_why(ctx, "%s takes one text (in quotes when it has "
                        "spaces)", argv[0]);
        return -1;
    }

    texts = &ctx->cfg->texts;

    for (i = 0; i < texts->n; i++) {
        if (texts->items[i].key == e->name
            && strcmp(texts->items[i].lang, lang) == 0)
        {
            wachat_conf_why(ctx, "%s is already set at line %d", argv[0],
                            texts->items[i].line);
            return -1;
        }
    }

    items = realloc(texts->items, (texts->n + 1) * sizeof(wachat_text_t));
    if (items == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    texts->items = items;
    t = &items[texts->n];
    t->key = e->name;
    t->lang = wachat_conf_strdup(lang);
    t->value = wachat_conf_strdup(argv[1]);
    t->line = ctx->line;
    texts->n++;

    if (t->lang == NULL || t->value == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    /* the same rules as the key's own value */
    if (e->check && e->check->check(ctx, argv[0], &t->value) != 0) {
        return -1;
    }

    return 0;
}


const char *
wachat_config_text(const wachat_config_t *cfg, const char *key,
    const char *plain, const char *lang)
{
    size_t               i, n;
    const wachat_text_t  *t, *base, *script;

    if (lang == NULL || cfg == NULL) {
        return plain;
    }

    n = strcspn(lang, "-");
    base = script = NULL;

    for (i = 0; i < cfg->texts.n; i++) {
        t = &cfg->texts.items[i];

        if (strcmp(t->key, key) != 0) {
            continue;
        }

        if (strcmp(t->lang, lang) == 0) {
            return t->value;
        }

        if (strlen(t->lang) == n && strncmp(t->lang, lang, n) == 0) {
            base = t;

        } else if (strncmp(t->lang, lang, n) == 0 && t->lang[n] == '-'
                   && script == NULL)
        {
            script = t;
        }
    }

    return base ? base->value : script ? script->value : plain;
}


/* A raw control byte is a mistake, and would not survive a dump. */
static int
wachat_conf_check_bytes(wachat_conf_ctx_t *ctx, const char *line,
    size_t len)
{
    size_t         i;
    unsigned char  c;

    for (i = 0; i < len; i++) {
        c = (unsigned char) line[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            wachat_conf_why(ctx, "control character 0x%02x in the line "
                            "(write \\n or \\t inside quotes)", c);
            return -1;
        }
    }

    if (!wachat_utf8_valid(line, len)) {
        wachat_conf_why(ctx, "the line is not valid UTF-8");
        return -1;
    }

    return 0;
}


/*
 * Words separated by blanks.  Double quotes group, with \" \\ \n \t \r
 * escapes inside; a quoted part may sit inside a word (name="Ann Lee").
 * A word starting with # starts a comment.  Words land in buf, which is
 * as long as the line: unescaping never makes text longer.
 */
static int
wachat_conf_split(wachat_conf_ctx_t *ctx, const char *s, size_t len,
    char *buf, char **argv, int *argc)
{
    int          quoted;
    char        *out;
    const char  *p, *end;

    p = s;
    end = s + len;
    out = buf;
    *argc = 0;

    for ( ;; ) {
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (p == end || *p == '#') {
            return 0;
        }

        if (*argc == WACHAT_CONF_ARGS_MAX) {
            wachat_conf_why(ctx, "more than %d words on one line",
                            WACHAT_CONF_ARGS_MAX);
            return -1;
        }

        argv[(*argc)++] = out;
        quoted = 0;

        while (p < end && (quoted || (*p != ' ' && *p != '\t'))) {

            if (*p == '"') {
                quoted = !quoted;
                p++;
                continue;
            }

            if (quoted && *p == '\\') {
                if (p + 1 == end) {
                    break;
                }

                if (wachat_conf_unescape(ctx, p[1], out++) != 0) {
                    return -1;
                }

                p += 2;
                continue;
            }

            *out++ = *p++;
        }

        if (quoted) {
            wachat_conf_why(ctx, "unterminated quoted value");
            return -1;
        }

        *out++ = '\0';
    }
}


/* The character that \c stands for inside quotes. */
static int
wachat_conf_unescape(wachat_conf_ctx_t *ctx, char c, char *out)
{
    switch (c) {
    case '"':
    case '\\':
        *out = c;
        return 0;
    case 'n':
        *out = '\n';
        return 0;
    case 't':
        *out = '\t';
        return 0;
    case 'r':
        *out = '\r';
        return 0;
    default:
        wachat_conf_why(ctx, "unknown escape \\%c in a quoted value (use "
                        "\\\" \\\\ \\n \\t)", c);
        return -1;
    }
}


static const wachat_conf_entry_t *
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


static void
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


static void
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


/* messages */

const char *
wachat_conf_show(const char *v, char *buf, size_t size)
{
    size_t         i, n, len;
    unsigned char  c;

    len = strlen(v);
    n = 0;
    buf[n++] = '"';

    for (i = 0; i < len && n + 8 < size; i++) {
        c = (unsigned char) v[i];

        /* cut at a character's first byte, never inside it */
        if (i >= WACHAT_CONF_SHOW_MAX && (c & 0xc0) != 0x80) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }

        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char) c;

        } else if (c < 0x20 || c == 0x7f) {
            n += (size_t) snprintf(buf + n, size - n, "\\x%02x", c);

        } else {
            buf[n++] = (char) c;
        }
    }

    buf[n++] = '"';
    buf[n] = '\0';

    return buf;
}


void
wachat_conf_why(wachat_conf_ctx_t *ctx, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(ctx->why, sizeof(ctx->why), fmt, args);
    va_end(args);
}


static void
wachat_conf_error(char *err, size_t errlen, const char *file, int line,
    const char *fmt, ...)
{
    int      n;
    va_list  args;

    if (errlen == 0) {
        return;
    }

    if (line > 0) {
        n = snprintf(err, errlen, "%s:%d: ", file, line);
    } else {
        n = snprintf(err, errlen, "%s: ", file);
    }

    if (n < 0 || (size_t) n >= errlen) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(err + n, errlen - (size_t) n, fmt, args);
    va_end(args);
}


/* memory and files */

char *
wachat_conf_strdup(const char *s)
{
    char    *p;
    size_t   len;

    len = strlen(s);
    p = malloc(len + 1);

    if (p != NULL) {
        memcpy(p, s, len + 1);
    }

    return p;
}


char *
wachat_conf_path(wachat_conf_ctx_t *ctx, const char *v)
{
    char    *p;
    size_t   dlen, vlen;

    if (v[0] == '/' || v[0] == '\0' || ctx->dir == NULL) {
        return wachat_conf_strdup(v);
    }

    while (v[0] == '.' && v[1] == '/') {
        v += 2;
    }

    dlen = strlen(ctx->dir);
    vlen = strlen(v);

    if (dlen > 0 && ctx->dir[dlen - 1] == '/') {
        dlen--;
    }

    p = malloc(dlen + 1 + vlen + 1);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, ctx->dir, dlen);
    p[dlen] = '/';
    memcpy(p + dlen + 1, v, vlen + 1);

    return p;
}


/* volatile: the compiler must not drop a store to memory about to die */
void
wachat_conf_wipe(char *s, size_t len)
{
    size_t          i;
    volatile char  *p;

    p = s;

    for (i = 0; i < len; i++) {
        p[i] = '\0';
    }
}


ssize_t
wachat_conf_read(int fd, char *buf, size_t size)
{
    size_t   len;
    ssize_t  n;

    len = 0;

    while (len < size) {
        n = read(fd, buf + len, size - len);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n == -1) {
            return -1;
        }

        if (n == 0) {
            break;
        }

        len += (size_t) n;
    }

    return (ssize_t) len;
}
