/*
 * outbound: committed replies to the Graph API, or to the sandbox stream.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "clients/graph.h"
#include "lib/log.h"
#include "send/outbound.h"


struct wachat_outbound_s {
    wachat_outbound_stats_t  stats;
    const wachat_config_t  *cfg;
    wachat_store_t         *store;
    wachat_http_t          *http;
    wachat_graph_t         *graph;      /* NULL in sandbox mode */
};


typedef struct {
    wachat_send_done_pt   done;
    void                 *data;
    unsigned              attempt;
    wachat_outbound_t    *ob;
} wachat_outbound_call_t;


typedef struct {
    yajl_val                root;
    const char             *to;
    const char             *pnid;
    const char             *text;
    const char             *reply_to;
    const char             *conv;
    const char             *hist;
    size_t                  nbuttons;
    wachat_graph_button_t   buttons[WACHAT_GRAPH_BUTTONS_MAX];
} wachat_outbound_msg_t;


static const char *
wachat_json_str(yajl_val obj, const char *name)
{
    yajl_val     v;
    const char  *path[2];

    path[0] = name;
    path[1] = NULL;

    v = yajl_tree_get(obj, path, yajl_t_string);

    return v ? v->u.string : NULL;
}


static int
wachat_outbound_parse(const char *json, wachat_outbound_msg_t *m)
{
    size_t       i;
    yajl_val     buttons, b;
    const char  *path[] = { "buttons", NULL };

    memset(m, 0, sizeof(wachat_outbound_msg_t));

    m->root = yajl_tree_parse(json, NULL, 0);
    if (m->root == NULL) {
        return -1;
    }

    m->to = wachat_json_str(m->root, "to");
    m->pnid = wachat_json_str(m->root, "phone_number_id");
    m->text = wachat_json_str(m->root, "text");
    m->reply_to = wachat_json_str(m->root, "reply_to");
    m->conv = wachat_json_str(m->root, "conv");
    m->hist = wachat_json_str(m->root, "hist");

    buttons = yajl_tree_get(m->root, path, yajl_t_array);

    for (i = 0; buttons && i < buttons->u.array.len
                && m->nbuttons < WACHAT_GRAPH_BUTTONS_MAX; i++)
    {
        b = buttons->u.array.values[i];
        m->buttons[m->nbuttons].id = wachat_json_str(b, "id");
        m->buttons[m->nbuttons].title = wachat_json_str(b, "title");

        if (m->buttons[m->nbuttons].id && m->buttons[m->nbuttons].title) {
            m->nbuttons++;
        }
    }

    if (m->to == NULL || m->pnid == NULL || m->text == NULL) {
        yajl_tree_free(m->root);
        m->root = NULL;
        return -1;
    }

    return 0;
}


static wachat_graph_t *
wachat_outbound_graph(const wachat_config_t *cfg, wachat_http_t *http)
{
    const char           *why;
    wachat_graph_t       *g;
    wachat_graph_conf_t   gc;

    if (cfg->outbound != WACHAT_OUTBOUND_GRAPH) {
        return NULL;
    }

    gc.api_url = cfg->graph_api_url;
    gc.token = cfg->graph_token.value;
    gc.timeout_ms = cfg->graph_timeout_ms;

    g = wachat_graph_new(http, &gc, &why);

    if (g == NULL) {
        wachat_log(WACHAT_LOG_ERROR, "graph: %s", why ? why : "unusable");
    }

    return g;
}


wachat_outbound_t *
wachat_outbound_new(const wachat_config_t *cfg, wachat_store_t *store,
    wachat_http_t *http)
{
    wachat_outbound_t  *ob;

    ob = calloc(1, sizeof(wachat_outbound_t));
    if (ob == NULL) {
        return NULL;
    }

    ob->cfg = cfg;
    ob->store = store;
    ob->http = http;
    ob->graph = wachat_outbound_graph(cfg, http);

    return ob;
}


void
wachat_outbound_free(wachat_outbound_t *ob)
{
    if (ob == NULL) {
        return;
    }

    wachat_graph_free(ob->graph);
    free(ob);
}


void
wachat_outbound_reload(wachat_outbound_t *ob, const wachat_config_t *cfg)
{
    /* calls in flight do not refer to the old client: safe to replace */
    wachat_graph_free(ob->graph);

    ob->cfg = cfg;
    ob->graph = wachat_outbound_graph(cfg, ob->http);
}


static void
wachat_outbound_graph_done(void *data, const wachat_graph_reply_t *reply)
{
    long                     backoff;
    wachat_send_result_t     res;
    wachat_outbound_call_t  *call = data;
    const char              *explain;

    if ((unsigned) reply->result < 5) {
        call->ob->stats.graph[reply->result]++;
    }

    memset(&res, 0, sizeof(wachat_send_result_t));
    res.code = reply->code;     /* -1: none; 0 is a real code */

    explain = reply->code >= 0 ? wachat_graph_explain(reply->code) : NULL;

    snprintf(res.reason, sizeof(res.reason), "%s: HTTP %ld, code %ld: %s%s%s",
             wachat_graph_result_name(reply->result), reply->http_status,
             reply->code, reply->message ? reply->message : "-",
             explain ? " — " : "", explain ? explain : "");

    switch (reply->result) {

    case WACHAT_GRAPH_OK:
        res.result = WACHAT_SEND_OK;
        snprintf(res.wamid, sizeof(res.wamid), "%s",
                 reply->wamid ? reply->wamid : "");
        break;

    case WACHAT_GRAPH_RETRY:
    case WACHAT_GRAPH_PACE:
        if (call->attempt + 1 >= wachat_graph_max_attempts(reply->code,
                                                           reply->result))
        {
            res.result = WACHAT_SEND_PERMANENT;
            break;
        }

        res.result = WACHAT_SEND_RETRY;
        backoff = wachat_graph_backoff_ms(call->attempt, reply->result);
        res.retry_ms = backoff > 0 ? backoff : 1000;
        break;

    case WACHAT_GRAPH_TOKEN:
        res.result = WACHAT_SEND_TOKEN;
        break;

    default:
        res.result = WACHAT_SEND_PERMANENT;
        break;
    }

    call->done(call->data, &res);
    free(call);
}


static int
wachat_outbound_sandbox(wachat_outbound_t *ob, const wachat_outbound_msg_t *m,
    const char *body, size_t blen, wachat_send_done_pt done, void *data)
{
    int                    i;
    char                   nb[16], marker[WACHAT_KEY_MAX];
    redisReply            *r;
    const char            *argv[15];
    size_t                 argvlen[15];
    wachat_send_result_t   res;

    snprintf(nb, sizeof(nb), "%zu", m->nbuttons);
    snprintf(marker, sizeof(marker), "wachat:sandbox:{%s}:%s",
             m->conv ? m->conv : "", m->hist ? m->hist : "");

    argv[0] = ob->cfg->outbox_stream;
    argv[1] = marker;
    argv[2] = "86400";
    argv[3] = "to";
    argv[4] = m->to;
    argv[5] = "phone_number_id";
    argv[6] = m->pnid;
    argv[7] = "text";
    argv[8] = m->text;
    argv[9] = "buttons";
    argv[10] = nb;
    argv[11] = "reply_to";
    argv[12] = m->reply_to ? m->reply_to : "";
    argv[13] = "graph_request";
    argv[14] = body;

    for (i = 0; i < 14; i++) {
        argvlen[i] = strlen(argv[i]);
    }

    argvlen[14] = blen;

    r = wachat_store_script(ob->store, WACHAT_SCRIPT_SANDBOX, 2, 15, argv,
                            argvlen);

    memset(&res, 0, sizeof(wachat_send_result_t));

    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        res.result = WACHAT_SEND_RETRY;
        res.retry_ms = 1000;
        snprintf(res.reason, sizeof(res.reason), "sandbox outbox: %s",
                 r ? r->str : ob->store->err);

    } else {
        /* a wamid-like id, so statuses and history look as in production */
        ob->stats.sandbox++;
        res.result = WACHAT_SEND_OK;
        snprintf(res.wamid, sizeof(res.wamid), "wamid.sandbox.%s", r->str);
    }

    freeReplyObject(r);
    done(data, &res);

    return 0;
}


int
wachat_outbound_send(wachat_outbound_t *ob, const char *reply_json,
    size_t len, int attempt, wachat_send_done_pt done, void *data)
{
    int                      rc;
    char                    *body;
    size_t                   blen;
    const char              *why;
    wachat_graph_msg_t       msg;
    wachat_send_result_t     res;
    wachat_outbound_msg_t    m;
    wachat_outbound_call_t  *call;

    (void) len;

    if (wachat_outbound_parse(reply_json, &m) != 0) {
        memset(&res, 0, sizeof(wachat_send_result_t));
        res.result = WACHAT_SEND_PERMANENT;
        snprintf(res.reason, sizeof(res.reason), "unreadable reply record");
        done(data, &res);
        return 0;
    }

    memset(&msg, 0, sizeof(wachat_graph_msg_t));
    msg.to = m.to;
    msg.text = m.text;
    msg.reply_to = m.reply_to;
    msg.buttons = m.buttons;
    msg.nbuttons = m.nbuttons;

    if (wachat_graph_build(&msg, &body, &blen, &why) != 0) {
        /* the KB checks the limits at load: this is a bug, not a retry */
        memset(&res, 0, sizeof(wachat_send_result_t));
        res.result = WACHAT_SEND_PERMANENT;
        snprintf(res.reason, sizeof(res.reason), "cannot build message: %s",
                 why ? why : "?");
        yajl_tree_free(m.root);
        done(data, &res);
        return 0;
    }

    if (ob->cfg->outbound == WACHAT_OUTBOUND_SANDBOX) {
        rc = wachat_outbound_sandbox(ob, &m, body, blen, done, data);
        free(body);
        yajl_tree_free(m.root);
        return rc;
    }

    if (ob->graph == NULL) {
        free(body);
        yajl_tree_free(m.root);
        memset(&res, 0, sizeof(wachat_send_result_t));
        res.result = WACHAT_SEND_TOKEN;
        snprintf(res.reason, sizeof(res.reason), "no usable Graph API "
                 "configuration (graph_api_url, graph_token_file)");
        done(data, &res);
        return 0;
    }

    call = malloc(sizeof(wachat_outbound_call_t));
    if (call == NULL) {
        free(body);
        yajl_tree_free(m.root);
        return -1;
    }

    call->done = done;
    call->data = data;
    call->attempt = attempt > 0 ? (unsigned) attempt : 0;
    call->ob = ob;

    rc = wachat_graph_send_json(ob->graph, m.pnid, body, blen,
                                wachat_outbound_graph_done, call);

    free(body);
    yajl_tree_free(m.root);

    if (rc != 0) {
        free(call);
        return -1;
    }

    return 0;
}


static void
wachat_outbound_read_done(void *data, const wachat_graph_reply_t *reply)
{
    (void) data;

    if (reply->result != WACHAT_GRAPH_OK) {
        wachat_log(WACHAT_LOG_INFO, "graph: mark as read failed: HTTP %ld, "
                   "code %ld: %s", reply->http_status, reply->code,
                   reply->message ? reply->message : "-");
    }
}


void
wachat_outbound_mark_read(wachat_outbound_t *ob, const char *pnid,
    const char *wamid)
{
    if (ob->graph == NULL || !ob->cfg->mark_read || pnid == NULL
        || wamid == NULL)
    {
        return;
    }

    /* best effort: the reply does not wait for it */
    (void) wachat_graph_mark_read(ob->graph, pnid, wamid, 1,
                                  wachat_outbound_read_done, NULL);
}


const wachat_outbound_stats_t *
wachat_outbound_stats(wachat_outbound_t *ob)
{
    return &ob->stats;
}
