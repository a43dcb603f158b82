/*
 * outbound: committed replies to the Graph API, or to the sandbox stream.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "wachat_contract.h"
#include "clients/graph.h"
#include "lib/json.h"
#include "lib/log.h"
#include "send/outbound.h"


struct wachat_outbound_s {
    wachat_outbound_stats_t  stats;
    const wachat_config_t  *cfg;
    wachat_redis_t         *store;
    wachat_http_t          *http;
    wachat_graph_t         *graph;      /* NULL in sandbox mode */
    wachat_media_store_t   *media;      /* agents' files to upload */
};


/*
 * KEYS outbox marker; ARGV ttl, maxlen, field, value, ...  The sandbox
 * stands in for Meta, which cannot deduplicate; here the marker makes a
 * resend after a crash harmless, so a test can count replies exactly.
 * (The two keys are in different slots: sandbox mode is not for Redis
 * Cluster.)
 */
static wachat_lua_t  wachat_lua_sandbox = wachat_lua(
    "local id = redis.call('GET', KEYS[2])\n"
    "if id then return id end\n"
    "local a = {KEYS[1], 'MAXLEN', '~', ARGV[2], '*'}\n"
    "for i = 3, #ARGV do a[#a + 1] = ARGV[i] end\n"
    "id = redis.call('XADD', unpack(a))\n"
    "redis.call('SET', KEYS[2], id, 'EX', ARGV[1])\n"
    "return id\n");


typedef struct {
    wachat_send_done_pt   done;
    void                 *data;
    unsigned              attempt;
    wachat_outbound_t    *ob;
    char                  hist[WACHAT_SEND_HIST_MAX];

    /* an agent's file: uploaded first, then sent by its media id */
    char                 *to;
    char                 *pnid;
    char                 *kind;
    char                 *caption;
    char                 *filename;
} wachat_outbound_call_t;


/*
 * A queued reply: where it goes and, built once when it was committed,
 * the Graph request body ("graph").  Replies queued without one (an
 * agent's, or by an older wachatd) carry text and buttons, and the body
 * is built here.
 */
typedef struct {
    yajl_val                root;
    const char             *to;
    const char             *pnid;
    const char             *reply_to;
    const char             *conv;
    const char             *hist;
    const char             *graph;
    const char             *text;
    size_t                  nbuttons;
    wachat_graph_button_t   buttons[WACHAT_GRAPH_BUTTONS_MAX];

    /* an agent's file, kept in media_dir: "media": {local, kind, mime,
       name, caption} */
    const char             *media_local;
    const char             *media_kind;
    const char             *media_mime;
    const char             *media_name;
    const char             *media_caption;
} wachat_outbound_msg_t;


static const char *
wachat_outbound_field(yajl_val obj, const char *name)
{
    const char  *path[2];

    path[0] = name;
    path[1] = NULL;

    return wachat_json_get_str(obj, path);
}


static void
wachat_outbound_buttons(wachat_outbound_msg_t *m, yajl_val buttons)
{
    size_t    i;
    yajl_val  b;

    for (i = 0; buttons && i < buttons->u.array.len
                && m->nbuttons < WACHAT_GRAPH_BUTTONS_MAX; i++)
    {
        b = buttons->u.array.values[i];
        m->buttons[m->nbuttons].id = wachat_outbound_field(b, "id");
        m->buttons[m->nbuttons].title = wachat_outbound_field(b, "title");

        if (m->buttons[m->nbuttons].id && m->buttons[m->nbuttons].title) {
            m->nbuttons++;
        }
    }
}


static int
wachat_outbound_parse(const char *json, size_t len, wachat_outbound_msg_t *m)
{
    yajl_val     media;
    const char  *buttons[] = { "buttons", NULL };
    const char  *media_p[] = { "media", NULL };

    memset(m, 0, sizeof(wachat_outbound_msg_t));

    m->root = wachat_json_parse(json, len);
    if (m->root == NULL) {
        return -1;
    }

    m->to = wachat_outbound_field(m->root, "to");
    m->pnid = wachat_outbound_field(m->root, "phone_number_id");
    m->reply_to = wachat_outbound_field(m->root, "reply_to");
    m->conv = wachat_outbound_field(m->root, "conv");
    m->hist = wachat_outbound_field(m->root, "hist");
    m->graph = wachat_outbound_field(m->root, "graph");
    m->text = wachat_outbound_field(m->root, "text");

    wachat_outbound_buttons(m, yajl_tree_get(m->root, buttons,
                                             yajl_t_array));

    media = yajl_tree_get(m->root, media_p, yajl_t_object);

    if (media) {
        m->media_local = wachat_outbound_field(media, "local");
        m->media_kind = wachat_outbound_field(media, "kind");
        m->media_mime = wachat_outbound_field(media, "mime");
        m->media_name = wachat_outbound_field(media, "name");
        m->media_caption = wachat_outbound_field(media, "caption");

        if (m->media_local == NULL || m->media_kind == NULL
            || m->media_mime == NULL)
        {
            m->media_local = NULL;
        }
    }

    if (m->to == NULL || m->pnid == NULL
        || (m->graph == NULL && m->text == NULL && m->media_local == NULL))
    {
        yajl_tree_free(m->root);
        m->root = NULL;
        return -1;
    }

    return 0;
}


/* the request body: as committed, or built from an old-style record */
static int
wachat_outbound_body(const wachat_outbound_msg_t *m, char **body,
    size_t *blen, const char **why)
{
    char                id[WACHAT_GRAPH_MEDIA_ID_MAX + 32];
    wachat_graph_msg_t  msg;

    /* the sandbox uploads nothing: a made-up media id stands for it */
    if (m->media_local) {
        snprintf(id, sizeof(id), "sandbox-%s", m->media_local);
        return wachat_graph_build_media(m->to, m->media_kind, id,
                                        m->media_caption, m->media_name,
                                        body, blen, why);
    }

    if (m->graph) {
        *blen = strlen(m->graph);
        *body = strdup(m->graph);
        *why = "out of memory";
        return *body ? 0 : -1;
    }

    memset(&msg, 0, sizeof(wachat_graph_msg_t));
    msg.to = m->to;
    msg.text = m->text;
    msg.reply_to = m->reply_to;
    msg.buttons = m->buttons;
    msg.nbuttons = m->nbuttons;

    return wachat_graph_build(&msg, body, blen, why);
}


/*
 * Meta echoes biz_opaque_callback_data in the statuses of the message it
 * accepted.  The reply's history id there lets a status record the reply as
 * sent when the send's own answer was lost (a timeout, a crash before the
 * record): the transfer script does, so the reply is not sent again
 * (script_transfer.c).  The body is a JSON object: the tag goes first.
 */
static int
wachat_outbound_tag(char **body, size_t *blen, const char *hist)
{
    int     n;
    char    tag[WACHAT_SEND_HIST_MAX + 64];
    char   *tagged;

    if (hist == NULL || hist[0] == '\0' || *blen < 2 || (*body)[0] != '{') {
        return 0;
    }

    n = snprintf(tag, sizeof(tag), "\"biz_opaque_callback_data\":\""
                 WACHAT_SEND_TAG "%s\",", hist);
    if (n < 0 || (size_t) n >= sizeof(tag)) {
        return 0;
    }

    tagged = malloc(*blen + (size_t) n + 1);
    if (tagged == NULL) {
        return -1;
    }

    tagged[0] = '{';
    memcpy(tagged + 1, tag, (size_t) n);
    memcpy(tagged + 1 + n, *body + 1, *blen - 1);
    tagged[*blen + (size_t) n] = '\0';

    free(*body);
    *body = tagged;
    *blen += (size_t) n;

    return 0;
}


static int wachat_outbound_upload(wachat_outbound_t *ob,
    const wachat_outbound_msg_t *m, wachat_outbound_call_t *call,
    wachat_send_done_pt done, void *data);
static int wachat_outbound_now(const wachat_outbound_msg_t *m,
    wachat_send_e result, const char *reason, const char *why,
    wachat_send_done_pt done, void *data);


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
wachat_outbound_new(const wachat_config_t *cfg, wachat_redis_t *store,
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
wachat_outbound_set_media(wachat_outbound_t *ob, wachat_media_store_t *media)
{
    ob->media = media;
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
wachat_outbound_call_free(wachat_outbound_call_t *call)
{
    free(call->to);
    free(call->pnid);
    free(call->kind);
    free(call->caption);
    free(call->filename);
    free(call);
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
    memcpy(res.hist, call->hist, sizeof(res.hist));

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
    wachat_outbound_call_free(call);
}


/* the agent's file is uploaded: now the message, by its media id */
static void
wachat_outbound_uploaded(void *data, const wachat_graph_reply_t *reply)
{
    int                      rc;
    char                    *body;
    size_t                   blen;
    const char              *why;
    wachat_send_result_t     res;
    wachat_outbound_call_t  *call = data;
    wachat_outbound_t       *ob = call->ob;

    if (reply->result != WACHAT_GRAPH_OK || reply->wamid == NULL) {
        /* retried, dead-lettered or kept as a send would be */
        wachat_outbound_graph_done(call, reply);
        return;
    }

    memset(&res, 0, sizeof(wachat_send_result_t));
    snprintf(res.hist, sizeof(res.hist), "%s", call->hist);
    res.code = -1;

    if (wachat_graph_build_media(call->to, call->kind, reply->wamid,
                                 call->caption, call->filename, &body, &blen,
                                 &why) != 0)
    {
        res.result = WACHAT_SEND_PERMANENT;
        snprintf(res.reason, sizeof(res.reason), "cannot build the media "
                 "message: %s", why);
        call->done(call->data, &res);
        wachat_outbound_call_free(call);
        return;
    }

    rc = wachat_outbound_tag(&body, &blen, call->hist) == 0 && ob->graph
         ? wachat_graph_send_json(ob->graph, call->pnid, body, blen,
                                  wachat_outbound_graph_done, call)
         : -1;
    free(body);

    if (rc != 0) {
        res.result = WACHAT_SEND_RETRY;
        res.retry_ms = 1000;
        snprintf(res.reason, sizeof(res.reason), "the media message could "
                 "not be sent after its upload");
        call->done(call->data, &res);
        wachat_outbound_call_free(call);
    }
}


/* what a person would read, taken from the request: text, buttons */
static yajl_val
wachat_outbound_shown(const wachat_outbound_msg_t *m, const char *body,
    size_t blen, const char **text, size_t *nbuttons)
{
    yajl_val  req, v;

    static const char  *text_path[] = { "text", "body", NULL };
    static const char  *body_path[] = { "interactive", "body", "text", NULL };
    static const char  *buttons_path[] = { "interactive", "action",
                                           "buttons", NULL };

    *text = m->text;
    *nbuttons = m->nbuttons;

    req = m->graph ? wachat_json_parse(body, blen) : NULL;
    if (req == NULL) {
        return NULL;
    }

    *text = wachat_json_get_str(req, text_path);
    if (*text == NULL) {
        *text = wachat_json_get_str(req, body_path);
    }

    v = yajl_tree_get(req, buttons_path, yajl_t_array);
    *nbuttons = v ? v->u.array.len : 0;

    return req;
}


static int
wachat_outbound_sandbox(wachat_outbound_t *ob, const wachat_outbound_msg_t *m,
    const char *body, size_t blen, wachat_send_done_pt done, void *data)
{
    int                    i;
    size_t                 nbuttons;
    yajl_val               req;
    redisReply            *r;
    const char            *argv[16], *text;
    size_t                 argvlen[16];
    wachat_send_result_t   res;
    char                   nb[16], maxlen[16], marker[WACHAT_KEY_MAX];

    req = wachat_outbound_shown(m, body, blen, &text, &nbuttons);

    snprintf(nb, sizeof(nb), "%zu", nbuttons);
    snprintf(maxlen, sizeof(maxlen), "%d", WACHAT_OUTBOX_MAXLEN);
    snprintf(marker, sizeof(marker), "wachat:sandbox:{%s}:%s",
             m->conv ? m->conv : "", m->hist ? m->hist : "");

    argv[0] = ob->cfg->outbox_stream;
    argv[1] = marker;
    argv[2] = "86400";
    argv[3] = maxlen;
    argv[4] = "to";
    argv[5] = m->to;
    argv[6] = "phone_number_id";
    argv[7] = m->pnid;
    argv[8] = "text";
    argv[9] = text ? text : "";
    argv[10] = "buttons";
    argv[11] = nb;
    argv[12] = "reply_to";
    argv[13] = m->reply_to ? m->reply_to : "";
    argv[14] = "graph_request";
    argv[15] = body;

    for (i = 0; i < 15; i++) {
        argvlen[i] = strlen(argv[i]);
    }

    argvlen[15] = blen;

    r = wachat_redis_eval(ob->store, &wachat_lua_sandbox, 2, 16, argv,
                          argvlen);

    yajl_tree_free(req);

    memset(&res, 0, sizeof(wachat_send_result_t));
    snprintf(res.hist, sizeof(res.hist), "%s", m->hist ? m->hist : "");

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


/* a result known before any call: done() at once, with the reply's hist */
static int
wachat_outbound_now(const wachat_outbound_msg_t *m, wachat_send_e result,
    const char *reason, const char *why, wachat_send_done_pt done,
    void *data)
{
    wachat_send_result_t  res;

    memset(&res, 0, sizeof(wachat_send_result_t));
    res.result = result;
    snprintf(res.reason, sizeof(res.reason), "%s%s", reason, why ? why : "");
    snprintf(res.hist, sizeof(res.hist), "%s", m && m->hist ? m->hist : "");

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
    wachat_outbound_msg_t    m;
    wachat_outbound_call_t  *call;

    if (wachat_outbound_parse(reply_json, len, &m) != 0) {
        return wachat_outbound_now(NULL, WACHAT_SEND_PERMANENT,
                                   "unreadable reply record", NULL, done,
                                   data);
    }

    why = NULL;

    if (wachat_outbound_body(&m, &body, &blen, &why) != 0) {
        /* the KB checks the limits at load: this is a bug, not a retry */
        rc = wachat_outbound_now(&m, WACHAT_SEND_PERMANENT,
                                 "cannot build message: ", why ? why : "?",
                                 done, data);
        yajl_tree_free(m.root);
        return rc;
    }

    if (ob->cfg->outbound == WACHAT_OUTBOUND_SANDBOX) {
        /* the request as it would go to Meta, tag included */
        rc = wachat_outbound_tag(&body, &blen, m.hist) == 0
             ? wachat_outbound_sandbox(ob, &m, body, blen, done, data) : -1;
        free(body);
        yajl_tree_free(m.root);
        return rc;
    }

    if (ob->graph == NULL) {
        rc = wachat_outbound_now(&m, WACHAT_SEND_TOKEN, "no usable Graph "
                                 "API configuration (graph_api_url, "
                                 "graph_token_file)", NULL, done, data);
        free(body);
        yajl_tree_free(m.root);
        return rc;
    }

    call = calloc(1, sizeof(wachat_outbound_call_t));
    if (call == NULL) {
        free(body);
        yajl_tree_free(m.root);
        return -1;
    }

    call->done = done;
    call->data = data;
    call->attempt = attempt > 0 ? (unsigned) attempt : 0;
    call->ob = ob;
    snprintf(call->hist, sizeof(call->hist), "%s", m.hist ? m.hist : "");

    if (m.media_local) {
        rc = wachat_outbound_upload(ob, &m, call, done, data);
        free(body);
        yajl_tree_free(m.root);
        return rc;
    }

    rc = wachat_outbound_tag(&body, &blen, call->hist) == 0
         ? wachat_graph_send_json(ob->graph, m.pnid, body, blen,
                                  wachat_outbound_graph_done, call)
         : -1;

    free(body);
    yajl_tree_free(m.root);

    if (rc != 0) {
        wachat_outbound_call_free(call);
        return -1;
    }

    return 0;
}


/*
 * An agent's file goes up first (POST /{phone-number-id}/media), then the
 * message by the id Meta gave it.  Each attempt uploads again: an upload's
 * id is good for 30 days, but a retry may come after a reload with
 * another token, and one upload more is cheaper than a stale id.
 */
static int
wachat_outbound_upload(wachat_outbound_t *ob, const wachat_outbound_msg_t *m,
    wachat_outbound_call_t *call, wachat_send_done_pt done, void *data)
{
    char  path[WACHAT_MEDIA_PATH_MAX];

    if (ob->media == NULL
        || wachat_media_store_path(ob->media, m->media_local, path,
                                   sizeof(path)) != 0)
    {
        wachat_outbound_call_free(call);
        return wachat_outbound_now(m, WACHAT_SEND_PERMANENT, "the agent's "
                                   "file is no longer in media_dir: ",
                                   m->media_local, done, data);
    }

    call->to = strdup(m->to);
    call->pnid = strdup(m->pnid);
    call->kind = strdup(m->media_kind);
    call->caption = m->media_caption ? strdup(m->media_caption) : NULL;
    call->filename = m->media_name ? strdup(m->media_name) : NULL;

    if (call->to == NULL || call->pnid == NULL || call->kind == NULL
        || wachat_graph_media_upload(ob->graph, m->pnid, path, m->media_mime,
                                     m->media_name, wachat_outbound_uploaded,
                                     call) != 0)
    {
        wachat_outbound_call_free(call);
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
