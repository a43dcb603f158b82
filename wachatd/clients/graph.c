/*
 * graph: the WhatsApp Graph API client: calls, answers and their
 * classification (see graph.h; the request bodies are graph_build.c's).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "clients/graph.h"
#include "clients/graph_int.h"
#include "lib/json.h"
#include "wachat_utf8.h"


#define WACHAT_GRAPH_TIMEOUT      20000
#define WACHAT_GRAPH_PHONE_ID_MAX 32

#define WACHAT_GRAPH_RETRY_BASE   1000
#define WACHAT_GRAPH_RETRY_CAP    60000
#define WACHAT_GRAPH_RETRY_FLOOR  100
#define WACHAT_GRAPH_PACE_CAP     (15 * 60 * 1000)


/* What a call in flight needs: nothing of the wachat_graph_t. */
typedef struct {
    wachat_graph_op_e      op;
    wachat_graph_done_pt   done;
    void                  *data;
} wachat_graph_call_t;


/* --- classification --------------------------------------------------- */

wachat_graph_result_e
wachat_graph_classify(long code, long status)
{
    switch (code) {

    /* transient on Meta's side, or a throughput limit: back off */
    case 1:
    case 2:
    case 4:
    case 80007:
    case 130429:
    case 131000:
    case 131016:
    case 131057:
    case 133004:
        return WACHAT_GRAPH_RETRY;

    case 131056:
        return WACHAT_GRAPH_PACE;

    case 0:
    case 190:
        return WACHAT_GRAPH_TOKEN;

    case -1:
        /* no error code in the body: only the status is left */
        if (status == 0 || status == 429 || status >= 500) {
            return WACHAT_GRAPH_RETRY;
        }

        if (status == 401) {
            return WACHAT_GRAPH_TOKEN;
        }

        return WACHAT_GRAPH_PERMANENT;

    default:
        /* an unknown code with a 5xx is Meta's trouble, not ours */
        if (wachat_graph_explain(code) == NULL && status >= 500) {
            return WACHAT_GRAPH_RETRY;
        }

        return WACHAT_GRAPH_PERMANENT;
    }
}


const char *
wachat_graph_result_name(wachat_graph_result_e r)
{
    switch (r) {
    case WACHAT_GRAPH_OK:
        return "ok";
    case WACHAT_GRAPH_RETRY:
        return "retry";
    case WACHAT_GRAPH_PACE:
        return "pace";
    case WACHAT_GRAPH_TOKEN:
        return "token";
    case WACHAT_GRAPH_PERMANENT:
        return "permanent";
    }

    return "?";
}


/* xorshift64*: jitter needs spread, not secrecy */
static uint64_t
wachat_graph_random(void)
{
    static uint64_t  s;
    struct timespec  ts;

    if (s == 0) {
        clock_gettime(CLOCK_REALTIME, &ts);
        s = ((uint64_t) ts.tv_nsec << 20) ^ (uint64_t) ts.tv_sec
            ^ ((uint64_t) getpid() << 40);
        s |= 1;
    }

    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;

    return s * 0x2545F4914F6CDD1DULL;
}


long
wachat_graph_backoff_ms(unsigned attempt, wachat_graph_result_e r)
{
    long      cap, ms;
    uint64_t  span;

    switch (r) {

    case WACHAT_GRAPH_RETRY:
        cap = WACHAT_GRAPH_RETRY_BASE;
        while (attempt-- > 0 && cap < WACHAT_GRAPH_RETRY_CAP) {
            cap *= 2;
        }

        if (cap > WACHAT_GRAPH_RETRY_CAP) {
            cap = WACHAT_GRAPH_RETRY_CAP;
        }

        span = (uint64_t) (cap - WACHAT_GRAPH_RETRY_FLOOR + 1);

        return WACHAT_GRAPH_RETRY_FLOOR
               + (long) (wachat_graph_random() % span);

    case WACHAT_GRAPH_PACE:
        ms = 1000;
        while (attempt-- > 0 && ms < WACHAT_GRAPH_PACE_CAP) {
            ms *= 4;
        }

        if (ms > WACHAT_GRAPH_PACE_CAP) {
            ms = WACHAT_GRAPH_PACE_CAP;
        }

        return ms + (long) (wachat_graph_random() % (uint64_t) (ms / 10 + 1));

    default:
        return -1;
    }
}


unsigned
wachat_graph_max_attempts(long code, wachat_graph_result_e r)
{
    switch (r) {
    case WACHAT_GRAPH_RETRY:
        /* "something went wrong": worth a few tries, not a dozen */
        return code == 131000 ? 3 : 8;
    case WACHAT_GRAPH_PACE:
        return 6;
    default:
        return 1;
    }
}


/* --- answers ---------------------------------------------------------- */

static char *
wachat_graph_tree_str(yajl_val v, const char **path)
{
    yajl_val  s = yajl_tree_get(v, path, yajl_t_string);

    return s ? strdup(s->u.string) : NULL;
}


static long
wachat_graph_tree_int(yajl_val v, const char **path)
{
    yajl_val  n = yajl_tree_get(v, path, yajl_t_number);

    return (n && YAJL_IS_INTEGER(n)) ? (long) YAJL_GET_INTEGER(n) : -1;
}


static int
wachat_graph_parse_error(yajl_val root, wachat_graph_reply_t *r)
{
    static const char  *err_p[] = { "error", NULL };
    static const char  *code_p[] = { "error", "code", NULL };
    static const char  *sub_p[] = { "error", "error_subcode", NULL };
    static const char  *msg_p[] = { "error", "message", NULL };
    static const char  *type_p[] = { "error", "type", NULL };
    static const char  *trace_p[] = { "error", "fbtrace_id", NULL };
    static const char  *det_p[] = { "error", "error_data", "details", NULL };

    if (yajl_tree_get(root, err_p, yajl_t_object) == NULL) {
        return 0;
    }

    r->code = wachat_graph_tree_int(root, code_p);
    r->subcode = wachat_graph_tree_int(root, sub_p);
    r->message = wachat_graph_tree_str(root, msg_p);
    r->err_type = wachat_graph_tree_str(root, type_p);
    r->fbtrace_id = wachat_graph_tree_str(root, trace_p);
    r->details = wachat_graph_tree_str(root, det_p);

    return 1;
}


/* 1 when the answer carries what op promises */
static int
wachat_graph_parse_success(yajl_val root, wachat_graph_reply_t *r)
{
    static const char  *msgs_p[] = { "messages", NULL };
    static const char  *id_p[] = { "id", NULL };
    static const char  *ok_p[] = { "success", NULL };
    static const char  *phone_p[] = { "display_phone_number", NULL };
    static const char  *name_p[] = { "verified_name", NULL };
    yajl_val            v;

    switch (r->op) {

    case WACHAT_GRAPH_OP_SEND:
        v = yajl_tree_get(root, msgs_p, yajl_t_array);
        if (v == NULL || v->u.array.len == 0) {
            return 0;
        }

        v = yajl_tree_get(v->u.array.values[0], id_p, yajl_t_string);
        if (v == NULL || v->u.string[0] == '\0') {
            return 0;
        }

        r->wamid = strdup(v->u.string);
        return r->wamid != NULL;

    case WACHAT_GRAPH_OP_READ:
        return YAJL_IS_TRUE(yajl_tree_get(root, ok_p, yajl_t_true));

    case WACHAT_GRAPH_OP_CHECK:
        if (yajl_tree_get(root, id_p, yajl_t_string) == NULL) {
            return 0;
        }

        r->phone = wachat_graph_tree_str(root, phone_p);
        r->verified_name = wachat_graph_tree_str(root, name_p);
        return 1;
    }

    return 0;
}


static const char *
wachat_graph_op_wants(wachat_graph_op_e op)
{
    switch (op) {
    case WACHAT_GRAPH_OP_SEND:
        return "messages[0].id";
    case WACHAT_GRAPH_OP_READ:
        return "\"success\": true";
    case WACHAT_GRAPH_OP_CHECK:
        return "an id";
    }

    return "?";
}


wachat_graph_result_e
wachat_graph_parse(wachat_graph_op_e op, long status, const char *body,
    size_t len, const char *transport_error, wachat_graph_reply_t *r)
{
    yajl_val   root;
    char       why[160];

    memset(r, 0, sizeof(*r));
    r->op = op;
    r->http_status = status;
    r->code = -1;
    r->subcode = -1;

    root = wachat_json_parse(body, len);
    if (root && YAJL_IS_OBJECT(root)) {
        if (wachat_graph_parse_error(root, r)) {
            r->result = wachat_graph_classify(r->code, status);

            if (r->message == NULL) {
                r->message = strdup("error object without a message");
            }

            yajl_tree_free(root);
            return r->result;
        }

        if (status >= 200 && status <= 299
            && wachat_graph_parse_success(root, r))
        {
            r->result = WACHAT_GRAPH_OK;
            yajl_tree_free(root);
            return r->result;
        }
    }

    if (status == 0) {
        snprintf(why, sizeof(why), "no answer: %s",
                 transport_error ? transport_error : "network error");
    } else if (status >= 200 && status <= 299) {
        snprintf(why, sizeof(why), "HTTP %ld without %s%s%s: is"
                 " graph_api_url right?", status, wachat_graph_op_wants(op),
                 transport_error ? ": " : "",
                 transport_error ? transport_error : "");
    } else {
        snprintf(why, sizeof(why), "HTTP %ld without a Graph error"
                 " object%s%s", status, transport_error ? ": " : "",
                 transport_error ? transport_error : "");
    }

    r->message = strdup(why);
    r->result = wachat_graph_classify(-1, status);

    yajl_tree_free(root);

    return r->result;
}


void
wachat_graph_reply_free(wachat_graph_reply_t *r)
{
    free(r->wamid);
    free(r->message);
    free(r->details);
    free(r->err_type);
    free(r->fbtrace_id);
    free(r->phone);
    free(r->verified_name);
    r->wamid = r->message = r->details = r->err_type = NULL;
    r->fbtrace_id = r->phone = r->verified_name = NULL;
}


/* --- calls ------------------------------------------------------------ */

wachat_graph_t *
wachat_graph_new(wachat_http_t *http, const wachat_graph_conf_t *conf,
    const char **why)
{
    wachat_graph_t  *g;
    size_t           n;

    if (http == NULL || conf == NULL) {
        *why = "no http client or config";
        return NULL;
    }

    if (wachat_http_check_token(conf->api_url) != 0) {
        *why = "graph_api_url is empty or has spaces or control characters";
        return NULL;
    }

    if (wachat_http_check_token(conf->token) != 0) {
        *why = "the Graph token is empty or has spaces or control"
               " characters (a stray newline in the token file?)";
        return NULL;
    }

    g = calloc(1, sizeof(*g));
    if (g == NULL) {
        *why = "out of memory";
        return NULL;
    }

    g->http = http;
    g->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms
                                         : WACHAT_GRAPH_TIMEOUT;
    g->api_url = strdup(conf->api_url);
    g->auth = wachat_http_bearer(conf->token);
    if (g->api_url == NULL || g->auth == NULL) {
        wachat_graph_free(g);
        *why = "out of memory";
        return NULL;
    }

    /* "{api_url}/" + id: one slash whatever the config says */
    n = strlen(g->api_url);
    while (n > 0 && g->api_url[n - 1] == '/') {
        g->api_url[--n] = '\0';
    }

    return g;
}


void
wachat_graph_free(wachat_graph_t *g)
{
    if (g == NULL) {
        return;
    }

    wachat_http_bearer_free(g->auth);
    free(g->api_url);
    free(g);
}


static void
wachat_graph_on_done(void *data, const wachat_http_resp_t *resp)
{
    wachat_graph_call_t   *c = data;
    wachat_graph_reply_t   r;
    const char            *terr = NULL;

    if (resp->error != WACHAT_HTTP_DONE) {
        terr = resp->error_text;
    }

    wachat_graph_parse(c->op, resp->error == WACHAT_HTTP_ETOOBIG
                              || resp->error == WACHAT_HTTP_DONE
                              ? resp->status : 0,
                       resp->body, resp->body_len, terr, &r);
    r.total_ms = resp->total_ms;

    c->done(c->data, &r);

    wachat_graph_reply_free(&r);
    free(c);
}


/* phone number ids are digits: nothing else gets into the URL path */
static int
wachat_graph_check_phone_id(const char *id)
{
    size_t  n;

    if (id == NULL) {
        return -1;
    }

    n = strspn(id, "0123456789");

    return (n > 0 && n <= WACHAT_GRAPH_PHONE_ID_MAX && id[n] == '\0')
           ? 0 : -1;
}


static int
wachat_graph_call(wachat_graph_t *g, wachat_graph_op_e op, const char *method,
    const char *phone_number_id, const char *suffix, const char *json,
    size_t len, wachat_graph_done_pt done, void *data)
{
    const char           *headers[3];
    wachat_http_req_t     req;
    wachat_graph_call_t  *c;
    char                 *url;
    size_t                n;
    int                   rc;

    if (g == NULL || done == NULL
        || wachat_graph_check_phone_id(phone_number_id) != 0)
    {
        return -1;
    }

    n = strlen(g->api_url) + strlen(phone_number_id) + strlen(suffix) + 2;
    url = malloc(n);
    c = malloc(sizeof(*c));
    if (url == NULL || c == NULL) {
        free(url);
        free(c);
        return -1;
    }

    snprintf(url, n, "%s/%s%s", g->api_url, phone_number_id, suffix);

    c->op = op;
    c->done = done;
    c->data = data;

    headers[0] = g->auth;
    headers[1] = json ? "Content-Type: application/json" : NULL;
    headers[2] = NULL;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.headers = headers;
    req.body = json;
    req.body_len = json ? len : 0;
    req.timeout_ms = g->timeout_ms;

    rc = wachat_http_request(g->http, &req, wachat_graph_on_done, c);
    free(url);

    if (rc != 0) {
        free(c);
    }

    return rc;
}


int
wachat_graph_send_json(wachat_graph_t *g, const char *phone_number_id,
    const char *json, size_t len, wachat_graph_done_pt done, void *data)
{
    if (json == NULL || len == 0) {
        return -1;
    }

    return wachat_graph_call(g, WACHAT_GRAPH_OP_SEND, "POST", phone_number_id,
                             "/messages", json, len, done, data);
}


int
wachat_graph_mark_read(wachat_graph_t *g, const char *phone_number_id,
    const char *wamid, int typing, wachat_graph_done_pt done, void *data)
{
    const char  *why;
    char        *json;
    size_t       len;
    int          rc;

    if (wachat_graph_build_read(wamid, typing, &json, &len, &why) != 0) {
        return -1;
    }

    rc = wachat_graph_call(g, WACHAT_GRAPH_OP_READ, "POST", phone_number_id,
                           "/messages", json, len, done, data);
    free(json);

    return rc;
}


int
wachat_graph_check(wachat_graph_t *g, const char *phone_number_id,
    wachat_graph_done_pt done, void *data)
{
    return wachat_graph_call(g, WACHAT_GRAPH_OP_CHECK, "GET", phone_number_id,
                             "", NULL, 0, done, data);
}
