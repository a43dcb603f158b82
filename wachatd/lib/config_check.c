/*
 * Checks of the config: of one value as it is set (URLs, e-mail
 * addresses: the entry's check), then, once the file is read, defaults
 * that depend on the machine and rules across keys.  A failed rule blames
 * the line of the key that asks for the missing one.
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config_int.h"
#include "lib/hours.h"
#include "wachat_utf8.h"


typedef int (*wachat_conf_rule_pt)(wachat_conf_ctx_t *ctx);


static int wachat_conf_check_http_url(wachat_conf_ctx_t *ctx,
    const char *name, void *field);
static int wachat_conf_check_smtp_url(wachat_conf_ctx_t *ctx,
    const char *name, void *field);
static int wachat_conf_check_timezone(wachat_conf_ctx_t *ctx,
    const char *name, void *field);
static int wachat_conf_check_button_title(wachat_conf_ctx_t *ctx,
    const char *name, void *field);
static int wachat_conf_check_body_text(wachat_conf_ctx_t *ctx,
    const char *name, void *field);
static int wachat_conf_check_working_hours(wachat_conf_ctx_t *ctx,
    const char *name, void *field);
static int wachat_conf_check_file_path(wachat_conf_ctx_t *ctx,
    const char *name, void *field);
static int wachat_conf_check_digits(wachat_conf_ctx_t *ctx,
    const char *name, void *field);
static int wachat_conf_default_consumer(wachat_conf_ctx_t *ctx);
static int wachat_conf_rule_backend(wachat_conf_ctx_t *ctx);
static int wachat_conf_rule_outbound(wachat_conf_ctx_t *ctx);
static int wachat_conf_rule_streams(wachat_conf_ctx_t *ctx);
static int wachat_conf_rule_notify(wachat_conf_ctx_t *ctx);
static int wachat_conf_rule_smtp(wachat_conf_ctx_t *ctx);
static int wachat_conf_rule_api(wachat_conf_ctx_t *ctx);
static int wachat_conf_rule_embed(wachat_conf_ctx_t *ctx);


const wachat_conf_check_t  wachat_conf_http_url = {
    wachat_conf_check_http_url, "URL"
};

const wachat_conf_check_t  wachat_conf_smtp_url = {
    wachat_conf_check_smtp_url, "URL"
};

const wachat_conf_check_t  wachat_conf_email = {
    wachat_conf_check_email, "e-mail address"
};

const wachat_conf_check_t  wachat_conf_timezone = {
    wachat_conf_check_timezone, "time zone"
};

const wachat_conf_check_t  wachat_conf_button_title = {
    wachat_conf_check_button_title, "button title"
};

const wachat_conf_check_t  wachat_conf_body_text = {
    wachat_conf_check_body_text, "text, up to 1024 characters"
};

const wachat_conf_check_t  wachat_conf_working_hours = {
    wachat_conf_check_working_hours, "schedule"
};

const wachat_conf_check_t  wachat_conf_file_path = {
    wachat_conf_check_file_path, "path"
};

const wachat_conf_check_t  wachat_conf_digits = {
    wachat_conf_check_digits, "digits"
};


/* in this order, once every line is read */
static const wachat_conf_rule_pt  wachat_conf_rules[] = {
    wachat_conf_default_consumer,
    wachat_conf_rule_backend,
    wachat_conf_rule_outbound,
    wachat_conf_rule_streams,
    wachat_conf_rule_notify,
    wachat_conf_rule_smtp,
    wachat_conf_rule_api,
    wachat_conf_rule_embed
};


/* one value */

static int
wachat_conf_check_url(wachat_conf_ctx_t *ctx, const char *name, char *v,
    const char *s1, const char *s2)
{
    char         show[WACHAT_CONF_SHOW_SIZE];
    size_t       len, n;

    if (v[0] == '\0') {
        return 0;
    }

    n = strncmp(v, s1, strlen(s1)) == 0 ? strlen(s1)
        : strncmp(v, s2, strlen(s2)) == 0 ? strlen(s2) : 0;

    if (n == 0 || v[n] == '\0' || v[n] == '/'
        || strcspn(v, " \t\r\n\"<>\\") != strlen(v))
    {
        wachat_conf_why(ctx, "%s: %s is not a %s or %s URL", name,
                        wachat_conf_show(v, show, sizeof(show)), s1, s2);
        return -1;
    }

    /* a base URL: paths are appended with their own "/" */
    len = strlen(v);

    while (len > n + 1 && v[len - 1] == '/') {
        v[--len] = '\0';
    }

    return 0;
}


/* an id of Meta's that goes into a URL path: digits, or nothing */
static int
wachat_conf_check_digits(wachat_conf_ctx_t *ctx, const char *name,
    void *field)
{
    char         show[WACHAT_CONF_SHOW_SIZE];
    const char  *v = *(char **) field;

    if (strspn(v, "0123456789") != strlen(v) || strlen(v) > 32) {
        wachat_conf_why(ctx, "%s: %s is not an id of 1-32 digits", name,
                        wachat_conf_show(v, show, sizeof(show)));
        return -1;
    }

    return 0;
}


static int
wachat_conf_check_http_url(wachat_conf_ctx_t *ctx, const char *name,
    void *field)
{
    return wachat_conf_check_url(ctx, name, *(char **) field, "http://",
                                 "https://");
}


static int
wachat_conf_check_smtp_url(wachat_conf_ctx_t *ctx, const char *name,
    void *field)
{
    return wachat_conf_check_url(ctx, name, *(char **) field, "smtp://",
                                 "smtps://");
}


/* user@domain, nothing that could break out of a mail header */
int
wachat_conf_check_email(wachat_conf_ctx_t *ctx, const char *name,
    void *field)
{
    char        show[WACHAT_CONF_SHOW_SIZE];
    const char  *v, *at;

    v = *(const char **) field;

    if (v[0] == '\0') {
        return 0;
    }

    at = strchr(v, '@');

    if (at == NULL || at == v || at[1] == '\0' || strchr(at + 1, '@')
        || strcspn(v, " \t\r\n\"<>(),;:\\[]") != strlen(v))
    {
        wachat_conf_why(ctx, "%s: %s is not an e-mail address", name,
                        wachat_conf_show(v, show, sizeof(show)));
        return -1;
    }

    return 0;
}


static int
wachat_conf_check_working_hours(wachat_conf_ctx_t *ctx, const char *name,
    void *field)
{
    char  why[128];

    if (wachat_hours_check(*(const char **) field, why, sizeof(why)) != 0) {
        wachat_conf_why(ctx, "%s: %s", name, why);
        return -1;
    }

    return 0;
}


/* at most max characters (not bytes), a limit of WhatsApp's for what */
static int
wachat_conf_check_chars(wachat_conf_ctx_t *ctx, const char *name,
    void *field, size_t max, const char *what)
{
    char         show[WACHAT_CONF_SHOW_SIZE];
    const char  *v;

    v = *(const char **) field;

    if (wachat_utf8_count(v, strlen(v)) > max) {
        wachat_conf_why(ctx, "%s: %s is longer than %zu characters, "
                        "WhatsApp's limit for %s", name,
                        wachat_conf_show(v, show, sizeof(show)), max, what);
        return -1;
    }

    return 0;
}


/* WhatsApp refuses a reply button whose title is longer */
static int
wachat_conf_check_button_title(wachat_conf_ctx_t *ctx, const char *name,
    void *field)
{
    return wachat_conf_check_chars(ctx, name, field, 20, "a button title");
}


/*
 * A text sent with reply buttons is an interactive message's body, which
 * WhatsApp refuses longer: every such reply would be dead-lettered.
 */
static int
wachat_conf_check_body_text(wachat_conf_ctx_t *ctx, const char *name,
    void *field)
{
    return wachat_conf_check_chars(ctx, name, field, 1024,
                                   "the text of a message with buttons");
}


/* UTC, or a zone of the tz database this machine has (Area/City) */
static int
wachat_conf_check_timezone(wachat_conf_ctx_t *ctx, const char *name,
    void *field)
{
    char         path[512], show[WACHAT_CONF_SHOW_SIZE];
    const char  *v;

    v = *(const char **) field;

    if (strcmp(v, "UTC") == 0) {
        return 0;
    }

    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", v);

    if (v[0] == '\0' || v[0] == '/' || strstr(v, "..") != NULL
        || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789/_+-") != strlen(v)
        || access(path, R_OK) != 0)
    {
        wachat_conf_why(ctx, "%s: %s is not a time zone of this machine "
                        "(UTC, or a name under /usr/share/zoneinfo such as "
                        "Europe/Berlin; package tzdata)", name,
                        wachat_conf_show(v, show, sizeof(show)));
        return -1;
    }

    return 0;
}


/* a relative path starts at the config file's directory */
static int
wachat_conf_check_file_path(wachat_conf_ctx_t *ctx, const char *name,
    void *field)
{
    char  *p, **v;

    (void) name;

    v = field;
    p = wachat_conf_path(ctx, *v);

    if (p == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    free(*v);
    *v = p;

    return 0;
}


/* across keys */

int
wachat_conf_finish(wachat_conf_ctx_t *ctx)
{
    size_t  i;

    ctx->line = 0;

    for (i = 0; i < sizeof(wachat_conf_rules) / sizeof(wachat_conf_rules[0]);
         i++)
    {
        if (wachat_conf_rules[i](ctx) != 0) {
            return -1;
        }
    }

    return 0;
}


/* The line that set the key stored at this offset; 0: the default. */
static int
wachat_conf_line_of(const wachat_conf_ctx_t *ctx, size_t offset)
{
    size_t  i;

    for (i = 0; i < wachat_conf_nkeys; i++) {
        if (wachat_conf_table[i].offset == offset) {
            return ctx->set_line[i];
        }
    }

    return 0;
}


/* <hostname>-<pid>: unique per process, as the group needs */
static int
wachat_conf_default_consumer(wachat_conf_ctx_t *ctx)
{
    char              host[256];
    size_t            len;
    wachat_config_t  *cfg;

    cfg = ctx->cfg;

    if (cfg->consumer != NULL) {
        return 0;
    }

    if (gethostname(host, sizeof(host)) != 0) {
        snprintf(host, sizeof(host), "wachatd");
    }

    host[sizeof(host) - 1] = '\0';
    len = strlen(host) + 24;

    cfg->consumer = malloc(len);
    if (cfg->consumer == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    snprintf(cfg->consumer, len, "%s-%ld", host, (long) getpid());

    return 0;
}


static int
wachat_conf_rule_backend(wachat_conf_ctx_t *ctx)
{
    wachat_config_t  *cfg;

    cfg = ctx->cfg;
    ctx->line = wachat_conf_line_of(ctx, WACHAT_CONF_F(backend));

    if (cfg->backend != WACHAT_BACKEND_OPENAI) {
        return 0;
    }

    if (cfg->llm_url[0] == '\0') {
        wachat_conf_why(ctx, "backend openai needs llm_url (the base URL of "
                        "an OpenAI-compatible API)");
        return -1;
    }

    if (cfg->llm_model[0] == '\0') {
        wachat_conf_why(ctx, "backend openai needs llm_model");
        return -1;
    }

    return 0;
}


/* an endpoint without a model would embed with the server's whim */
static int
wachat_conf_rule_embed(wachat_conf_ctx_t *ctx)
{
    wachat_config_t  *cfg;

    cfg = ctx->cfg;

    if (cfg->embed_url[0] == '\0' && cfg->embed_model[0] == '\0') {
        return 0;
    }

    if (cfg->embed_url[0] == '\0') {
        ctx->line = wachat_conf_line_of(ctx, WACHAT_CONF_F(embed_model));
        wachat_conf_why(ctx, "embed_model needs embed_url (the base URL of "
                        "an OpenAI-compatible embeddings API)");
        return -1;
    }

    if (cfg->embed_model[0] == '\0') {
        ctx->line = wachat_conf_line_of(ctx, WACHAT_CONF_F(embed_url));
        wachat_conf_why(ctx, "embed_url needs embed_model (the embeddings "
                        "model's name)");
        return -1;
    }

    return 0;
}


static int
wachat_conf_rule_outbound(wachat_conf_ctx_t *ctx)
{
    wachat_config_t  *cfg;

    cfg = ctx->cfg;
    ctx->line = wachat_conf_line_of(ctx, WACHAT_CONF_F(outbound));

    if (cfg->outbound == WACHAT_OUTBOUND_GRAPH
        && cfg->graph_token.value == NULL)
    {
        wachat_conf_why(ctx, "outbound graph%s needs graph_token_file or "
                        "graph_token_env (or use \"outbound sandbox\" to "
                        "try without Meta)",
                        ctx->line == 0 ? " (the default)" : "");
        return -1;
    }

    return 0;
}


/* sandbox replies read back as events would answer themselves */
static int
wachat_conf_rule_streams(wachat_conf_ctx_t *ctx)
{
    int               a, b, c;
    wachat_config_t  *cfg;

    cfg = ctx->cfg;

    a = wachat_conf_line_of(ctx, WACHAT_CONF_F(outbox_stream));
    b = wachat_conf_line_of(ctx, WACHAT_CONF_F(dead_stream));
    c = wachat_conf_line_of(ctx, WACHAT_CONF_F(stream));

    ctx->line = a > b ? a : b;

    if (c > ctx->line) {
        ctx->line = c;
    }

    if (strcmp(cfg->outbox_stream, cfg->stream) == 0
        || strcmp(cfg->dead_stream, cfg->stream) == 0
        || strcmp(cfg->dead_stream, cfg->outbox_stream) == 0)
    {
        wachat_conf_why(ctx, "stream, outbox_stream and dead_stream must be "
                        "three different streams");
        return -1;
    }

    return 0;
}


static int
wachat_conf_rule_notify(wachat_conf_ctx_t *ctx)
{
    char                   show[WACHAT_CONF_SHOW_SIZE];
    size_t                 i;
    const wachat_agent_t  *a;

    for (i = 0; i < ctx->cfg->agents.n; i++) {
        a = &ctx->cfg->agents.items[i];

        if (a->notify && ctx->cfg->smtp_url[0] == '\0') {
            ctx->line = a->line;
            wachat_conf_why(ctx, "agent %s has notify=on but smtp_url is "
                            "not set",
                            wachat_conf_show(a->id, show, sizeof(show)));
            return -1;
        }
    }

    return 0;
}


static int
wachat_conf_rule_smtp(wachat_conf_ctx_t *ctx)
{
    wachat_config_t  *cfg;

    cfg = ctx->cfg;
    ctx->line = wachat_conf_line_of(ctx, WACHAT_CONF_F(smtp_url));

    if (cfg->smtp_url[0] != '\0' && cfg->smtp_from[0] == '\0') {
        wachat_conf_why(ctx, "smtp_url needs smtp_from (the sender "
                        "address)");
        return -1;
    }

    ctx->line = wachat_conf_line_of(ctx, WACHAT_CONF_F(smtp_password));

    if (cfg->smtp_password.value != NULL && cfg->smtp_user[0] == '\0') {
        wachat_conf_why(ctx, "smtp_password needs smtp_user");
        return -1;
    }

    return 0;
}


/*
 * On a TCP port any local user can reach the API, and the API believes
 * X-Wachat-Agent: only the secret nginx adds tells nginx from them.  A unix
 * socket is guarded by its mode, so there the secret is optional.
 */

#define WACHAT_API_SECRET_MIN  16

static int
wachat_conf_rule_api(wachat_conf_ctx_t *ctx)
{
    wachat_config_t  *cfg;

    cfg = ctx->cfg;
    ctx->line = wachat_conf_line_of(ctx, WACHAT_CONF_F(api_secret));

    if (cfg->api_secret.value != NULL
        && strlen(cfg->api_secret.value) < WACHAT_API_SECRET_MIN)
    {
        wachat_conf_why(ctx, "api_secret (%s) is shorter than %d characters: "
                        "make one with \"openssl rand -hex 32\"",
                        cfg->api_secret.source, WACHAT_API_SECRET_MIN);
        return -1;
    }

    ctx->line = wachat_conf_line_of(ctx, WACHAT_CONF_F(api_listen));

    if (cfg->api_listen.host != NULL && cfg->api_secret.value == NULL) {
        wachat_conf_why(ctx, "api_listen on host:port needs api_secret_file "
                        "(the file nginx's wachat_api_secret_file reads): "
                        "without it any local user could pose as any agent; "
                        "or listen on unix:/path");
        return -1;
    }

    return 0;
}
