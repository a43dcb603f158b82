/*
 * templates: the account's approved message templates, cached in Redis
 * for every process (wachatd refreshes them, wachatctl and the console
 * read them), and an agent's template message: checked against the
 * template before the call, queued like a reply, outside the window too.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "agents/agents_int.h"
#include "clients/graph.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "lib/log.h"
#include "wachat_contract.h"
#include "wachat_utf8.h"


#define WACHAT_TEMPLATE_PARAMS_MAX  32


/*
 * KEYS conv hist outq; ARGV agent text now histmax conv_id name language
 * graph.  The holder is checked in the same step as the queuing; the
 * window is not: a template is what WhatsApp takes outside it.
 */
static wachat_lua_t  wachat_agent_lua_template = wachat_lua(
    "local c = redis.call('HMGET', KEYS[1], 'mode', 'agent', 'wa_id',\n"
    "                     'user_id', 'phone_number_id')\n"
    "if not c[5] then return redis.error_reply('no_conversation') end\n"
    "if c[1] ~= '" WACHAT_MODE_NAME_AGENT "' or c[2] ~= ARGV[1] then\n"
    "  return redis.error_reply('not_assigned')\n"
    "end\n"
    "local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*',\n"
    "  'dir', 'out', 'who', 'agent:' .. ARGV[1], 'ts', ARGV[3],\n"
    "  'type', 'template', 'template', ARGV[6], 'template_lang', ARGV[7],\n"
    "  'text', ARGV[2])\n"
    "redis.call('RPUSH', KEYS[3], cjson.encode({to = c[3] or c[4],\n"
    "  phone_number_id = c[5], conv = ARGV[5], graph = ARGV[8],\n"
    "  hist = id}))\n"
    "redis.call('HSET', KEYS[1], 'agent_active', ARGV[3], 'unread', 0)\n"
    "return id\n");


int
wachat_templates_save(wachat_redis_t *st, const char *waba_id,
    const char *json, size_t len)
{
    int                   rc;
    size_t                n;
    yajl_gen              g;
    redisReply           *r;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return -1;
    }

    yajl_gen_map_open(g);
    wachat_json_kv_int(g, "fetched_ms", wachat_clock_ms());
    wachat_json_kv(g, "waba_id", waba_id);
    wachat_json_str(g, "templates");
    /* the array as the client made it: valid JSON, spliced in as is */
    yajl_gen_null(g);
    yajl_gen_map_close(g);

    if (yajl_gen_get_buf(g, &buf, &n) != yajl_gen_status_ok || n < 6) {
        yajl_gen_free(g);
        return -1;
    }

    /* ...,"templates":null} -> ...,"templates":<json>} */
    r = wachat_redis_cmd(st, "SET %s %b%b}", WACHAT_KEY_TEMPLATES, buf,
                         n - 5, json, len);
    rc = r && r->type == REDIS_REPLY_STATUS ? 0 : -1;
    freeReplyObject(r);
    yajl_gen_free(g);

    return rc;
}


int
wachat_templates_waba(wachat_redis_t *st, const wachat_config_t *cfg,
    char *buf, size_t len)
{
    redisReply  *r;

    if (cfg->waba_id[0]) {
        snprintf(buf, len, "%s", cfg->waba_id);
        return 0;
    }

    r = wachat_redis_cmd(st, "GET %s", WACHAT_KEY_WABA);

    if (r && r->type == REDIS_REPLY_STRING && r->len > 0 && r->len <= 32
        && strspn(r->str, "0123456789") == r->len)
    {
        snprintf(buf, len, "%s", r->str);
        freeReplyObject(r);
        return 0;
    }

    freeReplyObject(r);

    return -1;
}


int
wachat_templates_learn(wachat_redis_t *st, const char *waba_id)
{
    int          n;
    redisReply  *r;

    n = waba_id ? (int) strlen(waba_id) : 0;

    if (n == 0 || n > 32 || strspn(waba_id, "0123456789") != (size_t) n) {
        return 0;
    }

    r = wachat_redis_cmd(st, "SET %s %s GET", WACHAT_KEY_WABA, waba_id);
    n = r && (r->type == REDIS_REPLY_NIL
              || (r->type == REDIS_REPLY_STRING
                  && strcmp(r->str, waba_id) != 0));
    freeReplyObject(r);

    return n;
}


yajl_val
wachat_templates_load(wachat_redis_t *st, long long *fetched_ms)
{
    yajl_val     root;
    redisReply  *r;

    static const char  *ms_p[] = { "fetched_ms", NULL };

    r = wachat_redis_cmd(st, "GET %s", WACHAT_KEY_TEMPLATES);
    root = r && r->type == REDIS_REPLY_STRING
           ? wachat_json_parse(r->str, r->len) : NULL;
    freeReplyObject(r);

    if (fetched_ms) {
        yajl_val  v = root ? yajl_tree_get(root, ms_p, yajl_t_number) : NULL;

        *fetched_ms = v && YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : 0;
    }

    return root;
}


const char *
wachat_template_str(yajl_val tpl, const char *name)
{
    const char  *path[2];

    path[0] = name;
    path[1] = NULL;

    return wachat_json_get_str(tpl, path);
}


yajl_val
wachat_template_find(yajl_val root, const char *name, const char *language)
{
    size_t       i;
    yajl_val     list, t;
    const char  *n, *l, *status;

    static const char  *list_p[] = { "templates", NULL };

    list = root ? yajl_tree_get(root, list_p, yajl_t_array) : NULL;

    for (i = 0; list && i < list->u.array.len; i++) {
        t = list->u.array.values[i];
        n = wachat_template_str(t, "name");
        l = wachat_template_str(t, "language");
        status = wachat_template_str(t, "status");

        if (n && l && strcmp(n, name) == 0 && strcmp(l, language) == 0
            && (status == NULL || strcmp(status, "APPROVED") == 0))
        {
            return t;
        }
    }

    return NULL;
}


char *
wachat_template_render(const char *body, const char *const *params,
    size_t nparams)
{
    char          *out, *end;
    size_t         len, cap, k, n;
    unsigned long  i;
    const char    *p, *v;

    cap = strlen(body) + 1;
    for (k = 0; k < nparams; k++) {
        cap += strlen(params[k]);
    }

    out = malloc(cap);
    if (out == NULL) {
        return NULL;
    }

    len = 0;

    for (p = body; *p; ) {
        if (p[0] == '{' && p[1] == '{') {
            i = strtoul(p + 2, &end, 10);

            if (end != p + 2 && strncmp(end, "}}", 2) == 0 && i >= 1
                && i <= nparams)
            {
                v = params[i - 1];
                n = strlen(v);

                /* each {{n}} may come more than once: room as it goes */
                if (len + n + strlen(end + 2) + 1 > cap) {
                    cap = len + n + strlen(end + 2) + 1 + cap;
                    end = realloc(out, cap);
                    if (end == NULL) {
                        free(out);
                        return NULL;
                    }
                    out = end;
                }

                memcpy(out + len, v, n);
                len += n;
                p = strstr(p, "}}") + 2;
                continue;
            }
        }

        if (len + 2 > cap) {
            cap *= 2;
            end = realloc(out, cap);
            if (end == NULL) {
                free(out);
                return NULL;
            }
            out = end;
        }

        out[len++] = *p++;
    }

    out[len] = '\0';

    return out;
}


/*
 * The template's body, when the cache has it approved in that language and
 * params fit it (as many as it takes, none empty, all UTF-8); else NULL,
 * and why says what is wrong.
 */
static const char *
wachat_agent_template_body(yajl_val root, const char *name,
    const char *language, const char *const *params, size_t nparams,
    char *why, size_t whylen)
{
    size_t       i, want;
    yajl_val     tpl;
    const char  *body;

    tpl = wachat_template_find(root, name, language);

    if (tpl == NULL) {
        snprintf(why, whylen, "no approved template \"%.100s\" in language "
                 "%.20s%s (wachatctl templates lists them)", name, language,
                 root ? "" : ": the templates were not fetched yet (set "
                             "waba_id, or wait for a webhook that names "
                             "the account)");
        return NULL;
    }

    body = wachat_template_str(tpl, "body");
    body = body ? body : "";
    want = wachat_graph_template_params(body);

    if (nparams != want) {
        snprintf(why, whylen, "template \"%.100s\" takes %zu body "
                 "parameter%s ({{1}}%s), %zu given", name, want,
                 want == 1 ? "" : "s", want > 1 ? "..{{n}}" : "", nparams);
        return NULL;
    }

    for (i = 0; i < nparams; i++) {
        if (params[i] == NULL || params[i][0] == '\0'
            || !wachat_utf8_valid(params[i], strlen(params[i])))
        {
            snprintf(why, whylen, "parameter {{%zu}} is empty or not UTF-8",
                     i + 1);
            return NULL;
        }
    }

    return body;
}


/*
 * The message as the history keeps it (the body, rendered) and as the
 * Graph API takes it (to the conversation's customer): *text and *json,
 * malloc'ed.
 */
static wachat_agent_rc_e
wachat_agent_template_build(wachat_redis_t *st, const char *conv_id,
    const char *body, const char *name, const char *language,
    const char *const *params, size_t nparams, char **text, char **json,
    char *why, size_t whylen)
{
    size_t       blen;
    redisReply  *c;
    const char  *bad, *to;
    char         key[WACHAT_KEY_MAX];

    /* the address comes from the conversation: built after the read */
    wachat_store_key_conv(key, conv_id);
    c = wachat_redis_cmd(st, "HMGET %s wa_id user_id", key);

    bad = NULL;
    *json = NULL;
    *text = wachat_template_render(body, params, nparams);

    if (c == NULL || c->type != REDIS_REPLY_ARRAY || c->elements != 2) {
        freeReplyObject(c);
        free(*text);
        return WACHAT_AGENT_EREDIS;
    }

    to = c->element[0]->type == REDIS_REPLY_STRING ? c->element[0]->str
         : c->element[1]->type == REDIS_REPLY_STRING ? c->element[1]->str
         : "";

    if (*text == NULL
        || wachat_graph_build_template(to, name, language, params, nparams,
                                       json, &blen, &bad) != 0)
    {
        snprintf(why, whylen, "%s", bad ? bad : "out of memory");
        freeReplyObject(c);
        free(*text);
        return WACHAT_AGENT_EINPUT;
    }

    freeReplyObject(c);

    return WACHAT_AGENT_OK;
}


wachat_agent_rc_e
wachat_agent_send_template(wachat_redis_t *st, const wachat_config_t *cfg,
    const char *id, const char *conv_id, const char *name,
    const char *language, const char *const *params, size_t nparams,
    char *hist_id, size_t hlen, char *why, size_t whylen)
{
    char                 *json, *text;
    yajl_val              root;
    const char           *body;
    wachat_agent_rc_e     rc;
    wachat_agent_send_t   s;

    why[0] = '\0';

    if (wachat_agent_find(cfg, id) == NULL) {
        return WACHAT_AGENT_EUNKNOWN;
    }

    if (name == NULL || language == NULL || nparams > WACHAT_TEMPLATE_PARAMS_MAX)
    {
        snprintf(why, whylen, "a template name, a language and at most %d "
                 "parameters", WACHAT_TEMPLATE_PARAMS_MAX);
        return WACHAT_AGENT_EINPUT;
    }

    root = wachat_templates_load(st, NULL);
    body = wachat_agent_template_body(root, name, language, params, nparams,
                                      why, whylen);

    rc = body == NULL ? WACHAT_AGENT_EINPUT
                      : wachat_agent_template_build(st, conv_id, body, name,
                                                    language, params, nparams,
                                                    &text, &json, why,
                                                    whylen);
    yajl_tree_free(root);

    if (rc != WACHAT_AGENT_OK) {
        return rc;
    }

    wachat_agent_send_open(&s, cfg, id, conv_id, text,
                           WACHAT_AGENT_SEND_ANYTIME);
    wachat_agent_send_arg(&s, name);
    wachat_agent_send_arg(&s, language);
    wachat_agent_send_arg(&s, json);

    rc = wachat_agent_send_run(st, &s, &wachat_agent_lua_template, hist_id,
                               hlen);
    free(text);
    free(json);

    if (rc != WACHAT_AGENT_OK) {
        return rc;
    }

    wachat_log(WACHAT_LOG_INFO, "conversation %s: agent %s sends template "
               "%s (%s)", conv_id, id, name, language);

    return WACHAT_AGENT_OK;
}
