/*
 * graph_templates: the approved message templates of a WhatsApp Business
 * Account (whatsapp-cloud-api.md 4.5), every page, reduced to what an
 * agent needs to pick one and fill it in (see graph.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "clients/graph.h"
#include "clients/graph_int.h"
#include "lib/json.h"


#define WACHAT_GRAPH_TEMPLATE_PAGES  20     /* 100 each: 2000 templates */


typedef struct {
    wachat_http_t                   *http;
    char                            *auth;
    char                            *origin;
    long                             timeout_ms;
    yajl_gen                         out;       /* the array so far */
    int                              pages;
    wachat_graph_templates_done_pt   done;
    void                            *data;
} wachat_graph_tpl_t;


static void wachat_graph_tpl_page(void *data, const wachat_http_resp_t *resp);


static void
wachat_graph_tpl_free(wachat_graph_tpl_t *t)
{
    wachat_http_bearer_free(t->auth);
    free(t->origin);

    if (t->out) {
        yajl_gen_free(t->out);
    }

    free(t);
}


static void
wachat_graph_tpl_finish(wachat_graph_tpl_t *t, wachat_graph_reply_t *r)
{
    size_t                len;
    const unsigned char  *buf;

    buf = NULL;
    len = 0;

    if (r->result == WACHAT_GRAPH_OK) {
        yajl_gen_array_close(t->out);

        if (yajl_gen_get_buf(t->out, &buf, &len) != yajl_gen_status_ok) {
            buf = NULL;
            r->result = WACHAT_GRAPH_RETRY;
        }
    }

    t->done(t->data, r, (const char *) buf, len);
    wachat_graph_tpl_free(t);
}


/* the BODY component's text, or NULL */
static const char *
wachat_graph_tpl_body(yajl_val tpl)
{
    size_t       i;
    yajl_val     comps, c;
    const char  *type;

    static const char  *comps_p[] = { "components", NULL };
    static const char  *type_p[] = { "type", NULL };
    static const char  *text_p[] = { "text", NULL };

    comps = yajl_tree_get(tpl, comps_p, yajl_t_array);

    for (i = 0; comps && i < comps->u.array.len; i++) {
        c = comps->u.array.values[i];
        type = wachat_json_get_str(c, type_p);

        if (type && strcasecmp(type, "BODY") == 0) {
            return wachat_json_get_str(c, text_p);
        }
    }

    return NULL;
}


static void
wachat_graph_tpl_add(wachat_graph_tpl_t *t, yajl_val list)
{
    size_t       i;
    yajl_val     tpl;
    const char  *name, *lang, *body, *status;

    static const char  *name_p[] = { "name", NULL };
    static const char  *lang_p[] = { "language", NULL };
    static const char  *cat_p[] = { "category", NULL };
    static const char  *status_p[] = { "status", NULL };

    for (i = 0; i < list->u.array.len; i++) {
        tpl = list->u.array.values[i];
        name = wachat_json_get_str(tpl, name_p);
        lang = wachat_json_get_str(tpl, lang_p);
        status = wachat_json_get_str(tpl, status_p);
        body = wachat_graph_tpl_body(tpl);

        if (name == NULL || lang == NULL) {
            continue;
        }

        yajl_gen_map_open(t->out);
        wachat_json_kv(t->out, "name", name);
        wachat_json_kv(t->out, "language", lang);
        wachat_json_kv_opt(t->out, "category",
                           wachat_json_get_str(tpl, cat_p));
        wachat_json_kv(t->out, "status", status ? status : "APPROVED");
        wachat_json_kv(t->out, "body", body ? body : "");
        wachat_json_kv_int(t->out, "params",
                           (long long) wachat_graph_template_params(body));
        yajl_gen_map_close(t->out);
    }
}


static int
wachat_graph_tpl_get(wachat_graph_tpl_t *t, const char *url)
{
    const char         *headers[2];
    wachat_http_req_t   req;

    headers[0] = t->auth;
    headers[1] = NULL;

    memset(&req, 0, sizeof(wachat_http_req_t));
    req.url = url;
    req.headers = headers;
    req.timeout_ms = t->timeout_ms;

    return wachat_http_request(t->http, &req, wachat_graph_tpl_page, t);
}


static void
wachat_graph_tpl_page(void *data, const wachat_http_resp_t *resp)
{
    yajl_val              root, list;
    const char           *next;
    wachat_graph_tpl_t   *t = data;
    wachat_graph_reply_t  r;

    static const char  *data_p[] = { "data", NULL };
    static const char  *next_p[] = { "paging", "next", NULL };

    /* an answer without "id" is no error: its result says what it is */
    wachat_graph_parse(WACHAT_GRAPH_OP_CHECK,
                       resp->error == WACHAT_HTTP_DONE ? resp->status : 0,
                       resp->body, resp->body_len,
                       resp->error == WACHAT_HTTP_DONE
                       ? NULL : resp->error_text, &r);

    root = NULL;
    list = NULL;

    if (resp->error == WACHAT_HTTP_DONE && resp->status == 200) {
        root = wachat_json_parse(resp->body, resp->body_len);
        list = root ? yajl_tree_get(root, data_p, yajl_t_array) : NULL;
    }

    if (list == NULL) {
        if (r.result == WACHAT_GRAPH_OK) {
            r.result = WACHAT_GRAPH_PERMANENT;
        }

        wachat_graph_tpl_finish(t, &r);
        wachat_graph_reply_free(&r);
        yajl_tree_free(root);
        return;
    }

    wachat_graph_reply_free(&r);
    memset(&r, 0, sizeof(wachat_graph_reply_t));
    r.result = WACHAT_GRAPH_OK;
    r.http_status = resp->status;
    r.code = -1;
    r.subcode = -1;

    wachat_graph_tpl_add(t, list);

    /* the next page, on the same origin (or https) as the token's */
    next = wachat_json_get_str(root, next_p);

    if (next && ++t->pages < WACHAT_GRAPH_TEMPLATE_PAGES
        && wachat_http_check_token(next) == 0
        && (strncmp(next, "https://", 8) == 0
            || strncmp(next, t->origin, strlen(t->origin)) == 0)
        && wachat_graph_tpl_get(t, next) == 0)
    {
        yajl_tree_free(root);
        return;
    }

    yajl_tree_free(root);
    wachat_graph_tpl_finish(t, &r);
}


int
wachat_graph_templates(wachat_graph_t *g, const char *waba_id,
    wachat_graph_templates_done_pt done, void *data)
{
    int                  rc;
    char                *url;
    size_t               n, o;
    wachat_graph_tpl_t  *t;

    if (g == NULL || done == NULL || waba_id == NULL || waba_id[0] == '\0'
        || strspn(waba_id, "0123456789") != strlen(waba_id))
    {
        return -1;
    }

    t = calloc(1, sizeof(wachat_graph_tpl_t));
    n = strlen(g->api_url) + strlen(waba_id) + 160;
    url = malloc(n);

    if (t == NULL || url == NULL) {
        free(t);
        free(url);
        return -1;
    }

    t->http = g->http;
    t->timeout_ms = g->timeout_ms;
    t->done = done;
    t->data = data;
    t->auth = strdup(g->auth);
    t->out = yajl_gen_alloc(NULL);

    /* "scheme://host[:port]/" of the API */
    o = strstr(g->api_url, "://") ? (size_t) (strstr(g->api_url, "://")
                                              - g->api_url) + 3 : 0;
    o += strcspn(g->api_url + o, "/");
    t->origin = malloc(o + 2);

    if (t->auth == NULL || t->out == NULL || t->origin == NULL) {
        wachat_graph_tpl_free(t);
        free(url);
        return -1;
    }

    memcpy(t->origin, g->api_url, o);
    t->origin[o] = '/';
    t->origin[o + 1] = '\0';

    yajl_gen_array_open(t->out);

    snprintf(url, n, "%s/%s/message_templates?status=APPROVED&limit=100"
             "&fields=name,language,status,category,components",
             g->api_url, waba_id);

    rc = wachat_graph_tpl_get(t, url);
    free(url);

    if (rc != 0) {
        wachat_graph_tpl_free(t);
    }

    return rc;
}
