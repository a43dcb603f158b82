/*
 * wachat llm: OpenAI-compatible chat completions client (see llm.h).
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "clients/llm.h"
#include "lib/buf.h"
#include "lib/json.h"


#define WACHAT_LLM_TIMEOUT  30000


struct wachat_llm_s {
    wachat_http_t      *http;
    wachat_llm_conf_t   conf;       /* model: api's; system_prompt ours */
    wachat_http_api_t   api;        /* {url}/chat/completions */
};


typedef struct {
    wachat_llm_done_pt   done;
    void                *data;
    long                 timeout_ms;
} wachat_llm_call_t;


/* --- request body ----------------------------------------------------- */

/* {"role": role, "content": text} */
static int
wachat_llm_gen_message(yajl_gen g, const char *role, const char *text)
{
    int  rc = 0;

    rc |= yajl_gen_map_open(g);
    rc |= wachat_json_put_kv(g, "role", role);
    rc |= wachat_json_put_kv(g, "content", text);
    rc |= yajl_gen_map_close(g);

    return rc;
}


/* The passages as one text: "### title\ntext" blocks, best first. */
static char *
wachat_llm_passages(const wachat_llm_prompt_t *p)
{
    size_t        i;
    wachat_buf_t  b = WACHAT_BUF_INIT;

    if (p->npassages == 0) {
        wachat_buf_str(&b, "Knowledge base passages: none matched the "
                       "customer's message.");
        return wachat_buf_detach(&b, NULL);
    }

    wachat_buf_str(&b, "Knowledge base passages:");

    for (i = 0; i < p->npassages; i++) {
        wachat_buf_str(&b, "\n\n### ");
        wachat_buf_str(&b, p->passages[i].title ? p->passages[i].title : "");
        wachat_buf_str(&b, "\n");
        wachat_buf_str(&b, p->passages[i].text ? p->passages[i].text : "");
    }

    return wachat_buf_detach(&b, NULL);
}


/* a number for yajl_gen_number(): "%g" keeps 0.2 as 0.2 */
static int
wachat_llm_gen_double(yajl_gen g, double d)
{
    char  num[32];
    int   n;

    n = snprintf(num, sizeof(num), "%g", d);
    if (n <= 0 || (size_t) n >= sizeof(num) || strchr(num, ',')) {
        return -1;
    }

    return yajl_gen_number(g, num, (size_t) n) == yajl_gen_status_ok
           ? 0 : -1;
}


/* what a prompt must have; NULL, or why not */
static const char *
wachat_llm_check(const wachat_llm_conf_t *conf, const wachat_llm_prompt_t *p)
{
    size_t  i;

    if (conf == NULL || conf->model == NULL || conf->model[0] == '\0') {
        return "no model";
    }

    if (p == NULL || p->question == NULL) {
        return "no question";
    }

    if (conf->temperature >= 0 && !isfinite(conf->temperature)) {
        return "bad temperature";
    }

    for (i = 0; i < p->nhistory; i++) {
        if (p->history[i].text == NULL) {
            return "a history turn without text";
        }
    }

    return NULL;
}


/*
 * {"role": "user", "content": [{"type": "text", "text": question},
 * {"type": "image_url", "image_url": {"url": url}}]}
 */
static int
wachat_llm_gen_picture(yajl_gen g, const char *question, const char *url)
{
    int  rc = 0;

    rc |= yajl_gen_map_open(g);
    rc |= wachat_json_put_kv(g, "role", "user");
    rc |= wachat_json_put_str(g, "content");
    rc |= yajl_gen_array_open(g);
    rc |= yajl_gen_map_open(g);
    rc |= wachat_json_put_kv(g, "type", "text");
    rc |= wachat_json_put_kv(g, "text", question);
    rc |= yajl_gen_map_close(g);
    rc |= yajl_gen_map_open(g);
    rc |= wachat_json_put_kv(g, "type", "image_url");
    rc |= wachat_json_put_str(g, "image_url");
    rc |= yajl_gen_map_open(g);
    rc |= wachat_json_put_kv(g, "url", url);
    rc |= yajl_gen_map_close(g);
    rc |= yajl_gen_map_close(g);
    rc |= yajl_gen_array_close(g);
    rc |= yajl_gen_map_close(g);

    return rc;
}


/* the body's object; nonzero when yajl refused a part */
static int
wachat_llm_gen_body(yajl_gen g, const wachat_llm_conf_t *conf,
    const wachat_llm_prompt_t *p, const char *passages)
{
    size_t       i;
    int          rc = 0;
    const char  *role;

    rc |= yajl_gen_map_open(g);
    rc |= wachat_json_put_kv(g, "model", conf->model);

    rc |= wachat_json_put_str(g, "messages");
    rc |= yajl_gen_array_open(g);

    if (conf->system_prompt && conf->system_prompt[0]) {
        rc |= wachat_llm_gen_message(g, "system", conf->system_prompt);
    }

    rc |= wachat_llm_gen_message(g, "system", passages);

    for (i = 0; i < p->nhistory; i++) {
        role = p->history[i].role == WACHAT_LLM_ASSISTANT ? "assistant"
                                                          : "user";
        rc |= wachat_llm_gen_message(g, role, p->history[i].text);
    }

    if (p->image_url) {
        rc |= wachat_llm_gen_picture(g, p->question, p->image_url);

    } else {
        rc |= wachat_llm_gen_message(g, "user", p->question);
    }

    rc |= yajl_gen_array_close(g);

    if (conf->max_tokens > 0) {
        rc |= wachat_json_put_str(g, "max_tokens");
        rc |= yajl_gen_integer(g, conf->max_tokens);
    }

    if (conf->temperature >= 0) {
        rc |= wachat_json_put_str(g, "temperature");
        rc |= wachat_llm_gen_double(g, conf->temperature);
    }

    rc |= wachat_json_put_str(g, "stream");
    rc |= yajl_gen_bool(g, 0);
    rc |= yajl_gen_map_close(g);

    return rc;
}


int
wachat_llm_build(const wachat_llm_conf_t *conf,
    const wachat_llm_prompt_t *p, char **json, size_t *len,
    const char **why)
{
    int          rc;
    char        *passages;
    yajl_gen     g;
    const char  *bad;

    bad = wachat_llm_check(conf, p);
    if (bad) {
        *why = bad;
        return -1;
    }

    passages = wachat_llm_passages(p);
    g = wachat_json_gen_strict();
    if (passages == NULL || g == NULL) {
        free(passages);

        if (g) {
            yajl_gen_free(g);
        }

        *why = "out of memory";
        return -1;
    }

    rc = wachat_llm_gen_body(g, conf, p, passages);
    free(passages);

    if (rc != 0) {
        yajl_gen_free(g);
        *why = "cannot generate the JSON body (invalid UTF-8 in a text?)";
        return -1;
    }

    if (wachat_json_gen_finish(g, 0, json, len) != 0) {
        *why = "out of memory";
        return -1;
    }

    return 0;
}


/* --- answer ----------------------------------------------------------- */

static int
wachat_llm_fail(wachat_llm_result_t *res, const char *why)
{
    res->ok = 0;
    free(res->error);
    res->error = strdup(why);

    return 0;
}


static int
wachat_llm_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}


/* The answer without surrounding blanks and a leading think block. */
static char *
wachat_llm_clean(const char *s)
{
    const char  *end;
    size_t       n;
    char        *out;

    while (wachat_llm_is_space(*s)) {
        s++;
    }

    if (strncmp(s, "<think>", 7) == 0) {
        end = strstr(s, "</think>");
        if (end == NULL) {
            return NULL;                /* all reasoning, no answer */
        }

        s = end + 8;
        while (wachat_llm_is_space(*s)) {
            s++;
        }
    }

    n = strlen(s);
    while (n > 0 && wachat_llm_is_space(s[n - 1])) {
        n--;
    }

    out = malloc(n + 1);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\0';
    }

    return out;
}


int
wachat_llm_parse(long status, const char *body, size_t len,
    wachat_llm_result_t *res)
{
    static const char  *choices_p[] = { "choices", NULL };
    static const char  *content_p[] = { "message", "content", NULL };
    static const char  *finish_p[] = { "finish_reason", NULL };
    static const char  *emsg_p[] = { "error", "message", NULL };
    yajl_val            root, v, choice;
    char                why[256];

    memset(res, 0, sizeof(*res));
    res->http_status = status;

    root = wachat_json_parse(body, len);

    if (status != 200) {
        /* OpenAI-style {"error": {"message": ...}} says why */
        v = yajl_tree_get(root, emsg_p, yajl_t_string);
        snprintf(why, sizeof(why), "HTTP %ld%s%s", status, v ? ": " : "",
                 v ? v->u.string : "");
        wachat_llm_fail(res, why);
        goto done;
    }

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        wachat_llm_fail(res, "the answer is not a JSON object");
        goto done;
    }

    v = yajl_tree_get(root, choices_p, yajl_t_array);
    if (v == NULL || v->u.array.len == 0) {
        wachat_llm_fail(res, "no choices in the answer");
        goto done;
    }

    choice = v->u.array.values[0];

    v = yajl_tree_get(choice, finish_p, yajl_t_string);
    if (v) {
        res->finish_reason = strdup(v->u.string);
    }

    v = yajl_tree_get(choice, content_p, yajl_t_string);
    if (v == NULL) {
        wachat_llm_fail(res, "no choices[0].message.content in the answer");
        goto done;
    }

    res->content = wachat_llm_clean(v->u.string);
    if (res->content == NULL || res->content[0] == '\0') {
        wachat_llm_fail(res, res->content ? "empty content"
                                          : "only a <think> block, no answer");
        free(res->content);
        res->content = NULL;
        goto done;
    }

    res->ok = 1;

done:
    yajl_tree_free(root);

    return res->ok;
}


void
wachat_llm_result_free(wachat_llm_result_t *res)
{
    free(res->content);
    free(res->error);
    free(res->finish_reason);
    res->content = res->error = res->finish_reason = NULL;
}


/* --- calls ------------------------------------------------------------ */

wachat_llm_t *
wachat_llm_new(wachat_http_t *http, const wachat_llm_conf_t *conf,
    const char **why)
{
    wachat_llm_t  *l;

    if (http == NULL || conf == NULL) {
        *why = "no http client or config";
        return NULL;
    }

    *why = wachat_http_api_check("llm", "LLM", conf->url, conf->model,
                                 conf->key);
    if (*why != NULL) {
        return NULL;
    }

    l = calloc(1, sizeof(*l));
    if (l == NULL) {
        *why = "out of memory";
        return NULL;
    }

    l->http = http;
    l->conf = *conf;
    l->conf.url = NULL;
    l->conf.key = NULL;
    l->conf.model = NULL;
    l->conf.system_prompt = conf->system_prompt
                            ? strdup(conf->system_prompt) : NULL;
    if (l->conf.timeout_ms <= 0) {
        l->conf.timeout_ms = WACHAT_LLM_TIMEOUT;
    }

    if ((conf->system_prompt && l->conf.system_prompt == NULL)
        || wachat_http_api_init(&l->api, conf->url, "/chat/completions",
                                conf->model, conf->key) != 0)
    {
        wachat_llm_free(l);
        *why = "out of memory";
        return NULL;
    }

    l->conf.model = l->api.model;

    return l;
}


void
wachat_llm_free(wachat_llm_t *l)
{
    if (l == NULL) {
        return;
    }

    wachat_http_api_free(&l->api);
    free((char *) l->conf.system_prompt);
    free(l);
}


static void
wachat_llm_on_done(void *data, const wachat_http_resp_t *resp)
{
    wachat_llm_call_t    *c = data;
    wachat_llm_result_t   res;
    char                  why[320];

    if (resp->error == WACHAT_HTTP_DONE) {
        wachat_llm_parse(resp->status, resp->body, resp->body_len, &res);
    } else {
        memset(&res, 0, sizeof(res));
        res.http_status = resp->status;

        if (resp->error == WACHAT_HTTP_ETIMEOUT) {
            res.timed_out = 1;
            snprintf(why, sizeof(why), "timeout after %ld ms",
                     c->timeout_ms);
        } else {
            snprintf(why, sizeof(why), "%s: %s",
                     wachat_http_err_name(resp->error), resp->error_text);
        }

        res.error = strdup(why);
    }

    res.total_ms = resp->total_ms;

    c->done(c->data, &res);

    wachat_llm_result_free(&res);
    free(c);
}


int
wachat_llm_complete(wachat_llm_t *l, const wachat_llm_prompt_t *p,
    wachat_llm_done_pt done, void *data)
{
    const char         *headers[3];
    const char         *why;
    wachat_http_req_t   req;
    wachat_llm_call_t  *c;
    char               *json;
    size_t              len;
    int                 rc;

    if (l == NULL || done == NULL
        || wachat_llm_build(&l->conf, p, &json, &len, &why) != 0)
    {
        return -1;
    }

    c = malloc(sizeof(*c));
    if (c == NULL) {
        free(json);
        return -1;
    }

    c->done = done;
    c->data = data;
    c->timeout_ms = l->conf.timeout_ms;

    headers[0] = "Content-Type: application/json";
    headers[1] = l->api.auth;
    headers[2] = NULL;

    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = l->api.endpoint;
    req.headers = headers;
    req.body = json;
    req.body_len = len;
    req.timeout_ms = l->conf.timeout_ms;

    rc = wachat_http_request(l->http, &req, wachat_llm_on_done, c);
    free(json);

    if (rc != 0) {
        free(c);
    }

    return rc;
}
