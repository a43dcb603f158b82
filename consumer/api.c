/*
 * api: the agent API on libevent's evhttp.
 *
 * nginx authenticates the agent and sets X-Wachat-Agent; the header is
 * trusted only because the listener is a loopback address or a unix socket
 * that nothing but nginx can reach.  Requests are short: synchronous Redis
 * on the daemon's store link, bounded scans, pipelined reads.  The live
 * feed (server-sent events) reads wachat:feed on ONE async connection that
 * every open stream of this process shares.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "agents.h"
#include "api.h"
#include "log.h"


#define WACHAT_API_BODY_MAX       (64 * 1024)   /* JSON request bodies */
#define WACHAT_API_HARD_MAX       (1024 * 1024) /* evhttp's own 413 */
#define WACHAT_API_HEADERS_MAX    (16 * 1024)
#define WACHAT_API_TIMEOUT_S      30            /* reading a request */
#define WACHAT_API_CLIENTS_MAX    256           /* open event streams */
#define WACHAT_API_KEEPALIVE_S    15
#define WACHAT_API_RETRY_MS       3000          /* the browser's reconnect */
#define WACHAT_API_FEED_BLOCK_MS  5000
#define WACHAT_API_FEED_COUNT     100
#define WACHAT_API_CATCH_UP       1000          /* Last-Event-ID replay */
#define WACHAT_API_SLOW_BYTES     (1024 * 1024) /* unread by a stream */
#define WACHAT_API_LIST_DEFAULT   100
#define WACHAT_API_LIST_MAX       500
#define WACHAT_API_SCAN_MAX       2000          /* conversations looked at */
#define WACHAT_API_PAGE           100
#define WACHAT_API_HISTORY_MAX    500
#define WACHAT_API_CONV_ID_MAX    200
#define WACHAT_API_AGENT_HEADER   "X-Wachat-Agent"

#define WACHAT_API_METHODS                                                  \
    (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT    \
     | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE            \
     | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)


/* a stream entry id, "<ms>-<seq>" */
typedef struct {
    unsigned long long  ms;
    unsigned long long  seq;
} wachat_api_id_t;


typedef struct wachat_api_client_s  wachat_api_client_t;

/* one open event stream */
struct wachat_api_client_s {
    wachat_api_t               *api;
    struct evhttp_request      *req;
    struct evhttp_connection   *conn;
    char                       *agent;
    wachat_api_id_t             after;      /* sent up to here */
    wachat_api_client_t        *prev;
    wachat_api_client_t        *next;
};


struct wachat_api_s {
    struct event_base          *base;
    wachat_store_t             *st;
    wachat_store_addr_t         addr;       /* own copy: the feed link */
    const wachat_config_t      *cfg;
    wachat_api_kick_pt          kick;
    void                       *data;
    char                       *listen;     /* as started, for reloads */
    struct evhttp              *http;
    char                       *unix_path;  /* removed at exit */

    wachat_api_client_t        *clients;
    size_t                      nclients;
    redisAsyncContext          *ac;
    int                         reading;
    int                         closing;
    wachat_api_id_t             cursor;     /* the feed read goes on here */
    struct event               *retry;
    struct event               *keepalive;
};


/* one request being answered */
typedef struct {
    wachat_api_t               *api;
    struct evhttp_request      *req;
    const char                 *method;
    char                       *path;       /* without the query */
    const char                 *query;
    const char                 *who;        /* the header, for logs */
    const wachat_agent_t       *agent;
    char                       *conv;       /* decoded {id} of the path */
} wachat_api_req_t;


typedef void (*wachat_api_handler_pt)(wachat_api_req_t *r);

/* "*" in a path stands for one conversation id */
typedef struct {
    const char                 *path;
    enum evhttp_cmd_type        method;
    wachat_api_handler_pt       handler;
} wachat_api_route_t;


typedef struct {
    const char                 *mode;       /* NULL: any */
    const char                 *agent;      /* NULL: anyone's */
    int                         unread;
    size_t                      limit;
} wachat_api_filter_t;


typedef enum {
    WACHAT_API_FETCH_CONV = 0,  /* HGETALL of the conversation */
    WACHAT_API_FETCH_LAST       /* its last history entry */
} wachat_api_fetch_e;


/*
 * KEYS conv; ARGV agent.  The holder reading the conversation has read
 * what the customer wrote; returns how many messages were unread.
 */
static wachat_lua_t  wachat_api_lua_read = wachat_lua(
    "local c = redis.call('HMGET', KEYS[1], 'mode', 'agent', 'unread')\n"
    "if c[1] ~= 'agent' or c[2] ~= ARGV[1] then return 0 end\n"
    "local n = tonumber(c[3] or '0') or 0\n"
    "if n > 0 then redis.call('HSET', KEYS[1], 'unread', 0) end\n"
    "return n\n");


static void wachat_api_on_request(struct evhttp_request *req, void *arg);
static void wachat_api_me(wachat_api_req_t *r);
static void wachat_api_presence(wachat_api_req_t *r);
static void wachat_api_heartbeat(wachat_api_req_t *r);
static void wachat_api_list(wachat_api_req_t *r);
static void wachat_api_show(wachat_api_req_t *r);
static void wachat_api_reply(wachat_api_req_t *r);
static void wachat_api_take(wachat_api_req_t *r);
static void wachat_api_resolve(wachat_api_req_t *r);
static void wachat_api_events(wachat_api_req_t *r);
static void wachat_api_feed_read(wachat_api_t *api);
static void wachat_api_on_retry(evutil_socket_t fd, short what, void *arg);
static void wachat_api_on_keepalive(evutil_socket_t fd, short what,
    void *arg);


static const wachat_api_route_t  wachat_api_routes[] = {
    { "/api/me",                      EVHTTP_REQ_GET,  wachat_api_me },
    { "/api/presence",                EVHTTP_REQ_POST, wachat_api_presence },
    { "/api/heartbeat",               EVHTTP_REQ_POST, wachat_api_heartbeat },
    { "/api/conversations",           EVHTTP_REQ_GET,  wachat_api_list },
    { "/api/conversations/*",         EVHTTP_REQ_GET,  wachat_api_show },
    { "/api/conversations/*/reply",   EVHTTP_REQ_POST, wachat_api_reply },
    { "/api/conversations/*/take",    EVHTTP_REQ_POST, wachat_api_take },
    { "/api/conversations/*/resolve", EVHTTP_REQ_POST, wachat_api_resolve },
    { "/api/events",                  EVHTTP_REQ_GET,  wachat_api_events },
    { NULL, 0, NULL }
};


/* --- small helpers ------------------------------------------------------ */


static long long
wachat_api_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void
wachat_api_arm(struct event *ev, int ms)
{
    struct timeval  tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    event_add(ev, &tv);
}


static int
wachat_api_id_parse(const char *s, wachat_api_id_t *id)
{
    char  *end;

    if (s == NULL || *s < '0' || *s > '9') {
        return -1;
    }

    errno = 0;
    id->ms = strtoull(s, &end, 10);

    if (errno || *end != '-' || end[1] < '0' || end[1] > '9') {
        return -1;
    }

    id->seq = strtoull(end + 1, &end, 10);

    return errno || *end != '\0' ? -1 : 0;
}


static int
wachat_api_id_cmp(const wachat_api_id_t *a, const wachat_api_id_t *b)
{
    if (a->ms != b->ms) {
        return a->ms < b->ms ? -1 : 1;
    }

    if (a->seq != b->seq) {
        return a->seq < b->seq ? -1 : 1;
    }

    return 0;
}


/* the value of one field of a HGETALL reply or a stream entry */
static const redisReply *
wachat_api_field(const redisReply *kv, const char *name)
{
    size_t  i;

    for (i = 0; kv && kv->type == REDIS_REPLY_ARRAY && i + 1 < kv->elements;
         i += 2)
    {
        if (kv->element[i]->type == REDIS_REPLY_STRING
            && strcmp(kv->element[i]->str, name) == 0
            && kv->element[i + 1]->type == REDIS_REPLY_STRING)
        {
            return kv->element[i + 1];
        }
    }

    return NULL;
}


static const char *
wachat_api_fstr(const redisReply *kv, const char *name)
{
    const redisReply  *v = wachat_api_field(kv, name);

    return v ? v->str : NULL;
}


static const char *
wachat_api_method(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET:     return "GET";
    case EVHTTP_REQ_POST:    return "POST";
    case EVHTTP_REQ_HEAD:    return "HEAD";
    case EVHTTP_REQ_PUT:     return "PUT";
    case EVHTTP_REQ_DELETE:  return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE:   return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH:   return "PATCH";
    }

    return "?";
}


static const char *
wachat_api_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 503: return "Service Unavailable";
    }

    return "Internal Server Error";
}


/* --- JSON out ----------------------------------------------------------- */


/* length of the valid UTF-8 sequence at p, 0 if there is none */
static size_t
wachat_api_utf8_seq(const unsigned char *p, size_t n)
{
    size_t          len, i;
    unsigned char   lo, hi;

    if (p[0] < 0x80) {
        return 1;
    }

    lo = 0x80;
    hi = 0xbf;

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;

    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        lo = p[0] == 0xe0 ? 0xa0 : 0x80;
        hi = p[0] == 0xed ? 0x9f : 0xbf;

    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        lo = p[0] == 0xf0 ? 0x90 : 0x80;
        hi = p[0] == 0xf4 ? 0x8f : 0xbf;

    } else {
        return 0;
    }

    if (n < len || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i < len; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }

    return len;
}


/* what Redis holds is UTF-8 in practice; a stray byte becomes U+FFFD */
static void
wachat_api_gen_bytes(yajl_gen g, const char *s, size_t len)
{
    size_t                i, n, k;
    unsigned char        *fixed;
    const unsigned char  *p = (const unsigned char *) s;

    for (i = 0; i < len; i += n) {
        n = wachat_api_utf8_seq(p + i, len - i);
        if (n == 0) {
            break;
        }
    }

    if (i == len) {
        yajl_gen_string(g, p, len);
        return;
    }

    fixed = malloc(len * 3 + 1);
    if (fixed == NULL) {
        yajl_gen_string(g, (const unsigned char *) "", 0);
        return;
    }

    for (i = 0, k = 0; i < len; i += n) {
        n = wachat_api_utf8_seq(p + i, len - i);

        if (n == 0) {
            memcpy(fixed + k, "\xef\xbf\xbd", 3);
            k += 3;
            n = 1;

        } else {
            memcpy(fixed + k, p + i, n);
            k += n;
        }
    }

    yajl_gen_string(g, fixed, k);
    free(fixed);
}


static void
wachat_api_gen_str(yajl_gen g, const char *s)
{
    if (s == NULL) {
        yajl_gen_null(g);
        return;
    }

    wachat_api_gen_bytes(g, s, strlen(s));
}


static void
wachat_api_kv(yajl_gen g, const char *name, const char *value)
{
    wachat_api_gen_str(g, name);
    wachat_api_gen_str(g, value);
}


static void
wachat_api_kv_reply(yajl_gen g, const char *name, const redisReply *v)
{
    wachat_api_gen_str(g, name);

    if (v == NULL || v->type != REDIS_REPLY_STRING) {
        yajl_gen_null(g);
        return;
    }

    wachat_api_gen_bytes(g, v->str, v->len);
}


static void
wachat_api_kv_int(yajl_gen g, const char *name, long long value)
{
    wachat_api_gen_str(g, name);
    yajl_gen_integer(g, value);
}


static void
wachat_api_kv_bool(yajl_gen g, const char *name, int value)
{
    wachat_api_gen_str(g, name);
    yajl_gen_bool(g, value);
}


/* --- answering ------------------------------------------------------------ */


static void
wachat_api_log(wachat_api_req_t *r, int status, const char *outcome)
{
    wachat_log(WACHAT_LOG_INFO, "api: %.64s %s %.300s: %d %s",
               r->agent ? r->agent->id : (r->who ? r->who : "-"),
               r->method, r->path ? r->path : "?", status, outcome);
}


static void
wachat_api_send(wachat_api_req_t *r, int status, yajl_gen g,
    const char *outcome)
{
    size_t                len;
    struct evbuffer      *out;
    struct evkeyvalq     *h;
    const unsigned char  *buf;

    h = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");

    out = evbuffer_new();

    if (out && g && yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok) {
        evbuffer_add(out, buf, len);
        evbuffer_add(out, "\n", 1);
    }

    evhttp_send_reply(r->req, status, wachat_api_reason(status), out);

    if (out) {
        evbuffer_free(out);
    }

    wachat_api_log(r, status, outcome);
}


static void
wachat_api_error(wachat_api_req_t *r, int status, const char *name,
    const char *message)
{
    yajl_gen  g;

    g = yajl_gen_alloc(NULL);

    if (g) {
        yajl_gen_map_open(g);
        wachat_api_kv(g, "error", name);
        wachat_api_kv(g, "message", message);
        yajl_gen_map_close(g);
    }

    wachat_api_send(r, status, g, name);

    if (g) {
        yajl_gen_free(g);
    }
}


static int
wachat_api_agent_status(wachat_agent_rc_e rc)
{
    switch (rc) {
    case WACHAT_AGENT_OK:           return 200;
    case WACHAT_AGENT_EREDIS:       return 503;
    case WACHAT_AGENT_EUNKNOWN:     return 403;
    case WACHAT_AGENT_ENOCONV:      return 404;
    case WACHAT_AGENT_ENOTASSIGNED: return 403;
    case WACHAT_AGENT_EWINDOW:      return 409;
    case WACHAT_AGENT_EINPUT:       return 400;
    }

    return 500;
}


static void
wachat_api_agent_error(wachat_api_req_t *r, wachat_agent_rc_e rc)
{
    wachat_api_error(r, wachat_api_agent_status(rc),
                     wachat_agent_error_name(rc),
                     wachat_agent_error_text(rc));
}


static void
wachat_api_redis_error(wachat_api_req_t *r)
{
    wachat_log(WACHAT_LOG_WARNING, "api: redis: %s", r->api->st->err);
    wachat_api_agent_error(r, WACHAT_AGENT_EREDIS);
}


/*
 * The request's JSON object, or NULL with the error answered.  The size
 * was checked before routing.
 */
static yajl_val
wachat_api_body(wachat_api_req_t *r)
{
    char             *text, why[256];
    size_t            len;
    yajl_val          v;
    struct evbuffer  *in;

    in = evhttp_request_get_input_buffer(r->req);
    len = evbuffer_get_length(in);

    text = malloc(len + 1);
    if (text == NULL) {
        wachat_api_error(r, 503, "no_memory", "the server is out of memory");
        return NULL;
    }

    evbuffer_copyout(in, text, len);
    text[len] = '\0';

    if (memchr(text, '\0', len) != NULL) {
        free(text);
        wachat_api_error(r, 400, "bad_json", "the body is not valid JSON");
        return NULL;
    }

    v = yajl_tree_parse(text, why, sizeof(why));
    free(text);

    if (v == NULL) {
        wachat_api_error(r, 400, "bad_json", "the body is not valid JSON");
        return NULL;
    }

    if (!YAJL_IS_OBJECT(v)) {
        yajl_tree_free(v);
        wachat_api_error(r, 400, "bad_json", "the body must be a JSON "
                         "object");
        return NULL;
    }

    return v;
}


/* a string member of the body; NULL with the error answered */
static const char *
wachat_api_body_str(wachat_api_req_t *r, yajl_val body, const char *name,
    const char *message)
{
    yajl_val     v;
    const char  *path[2];

    path[0] = name;
    path[1] = NULL;

    v = yajl_tree_get(body, path, yajl_t_string);

    if (v == NULL) {
        wachat_api_error(r, 400, "bad_input", message);
        return NULL;
    }

    return YAJL_GET_STRING(v);
}


/* --- routing ------------------------------------------------------------- */


/* path matches pattern; "*" takes one non-empty segment into *seg */
static int
wachat_api_match(const char *pattern, const char *path, const char **seg,
    size_t *seglen)
{
    size_t  n;

    while (*pattern) {
        if (*pattern == '*') {
            n = strcspn(path, "/");
            if (n == 0) {
                return 0;
            }

            *seg = path;
            *seglen = n;
            path += n;
            pattern++;
            continue;
        }

        if (*pattern++ != *path++) {
            return 0;
        }
    }

    return *path == '\0';
}


/* conversation ids become Redis key names: nothing that could bend one */
static int
wachat_api_conv_ok(const char *id, size_t len)
{
    size_t  i;

    if (len == 0 || len > WACHAT_API_CONV_ID_MAX || strlen(id) != len) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) id[i] <= ' ' || id[i] == '{' || id[i] == '}'
            || id[i] == '/' || id[i] == 0x7f)
        {
            return 0;
        }
    }

    return 1;
}


/* the segment alone: a "%2F" in an id must not become a separator */
static char *
wachat_api_decode(const char *seg, size_t *len)
{
    char  *raw, *id;

    raw = strndup(seg, *len);
    if (raw == NULL) {
        return NULL;
    }

    id = evhttp_uridecode(raw, 0, len);
    free(raw);

    return id;
}


static void
wachat_api_route(wachat_api_req_t *r, enum evhttp_cmd_type method)
{
    size_t                     seglen;
    const char                *seg, *allow;
    const wachat_api_route_t  *rt, *found;

    found = NULL;
    allow = NULL;

    for (rt = wachat_api_routes; rt->path; rt++) {
        seg = NULL;
        seglen = 0;

        if (!wachat_api_match(rt->path, r->path, &seg, &seglen)) {
            continue;
        }

        allow = wachat_api_method(rt->method);

        if (rt->method == method) {
            found = rt;

            if (seg) {
                r->conv = wachat_api_decode(seg, &seglen);
            }

            break;
        }
    }

    if (found == NULL && allow == NULL) {
        wachat_api_error(r, 404, "not_found", "no such API endpoint");
        return;
    }

    if (found == NULL) {
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Allow",
                          allow);
        wachat_api_error(r, 405, "method_not_allowed",
                         "this endpoint does not take that method");
        return;
    }

    if (seg && (r->conv == NULL || !wachat_api_conv_ok(r->conv, seglen))) {
        wachat_api_error(r, 404, "no_conversation",
                         wachat_agent_error_text(WACHAT_AGENT_ENOCONV));
        return;
    }

    found->handler(r);
}


/*
 * nginx may pass the browser's path as is (proxy_pass without a URI part):
 * /agent/api/me is /api/me.  Ids hold no "/", so the first "/api/" is it.
 */
static void
wachat_api_unmount(char *path)
{
    char  *api;

    api = strstr(path, "/api/");

    if (api && api != path) {
        memmove(path, api, strlen(api) + 1);
    }
}


static void
wachat_api_on_request(struct evhttp_request *req, void *arg)
{
    size_t                    len;
    const char               *who;
    wachat_api_t             *api = arg;
    wachat_api_req_t          r;
    enum evhttp_cmd_type      method;
    const struct evhttp_uri  *uri;

    memset(&r, 0, sizeof(wachat_api_req_t));
    r.api = api;
    r.req = req;
    method = evhttp_request_get_command(req);
    r.method = wachat_api_method(method);

    uri = evhttp_request_get_evhttp_uri(req);
    r.path = strdup(uri && evhttp_uri_get_path(uri)
                    ? evhttp_uri_get_path(uri) : "/");
    r.query = uri ? evhttp_uri_get_query(uri) : NULL;

    if (r.path == NULL) {
        evhttp_send_error(req, 503, NULL);
        return;
    }

    wachat_api_unmount(r.path);

    who = evhttp_find_header(evhttp_request_get_input_headers(req),
                             WACHAT_API_AGENT_HEADER);
    r.who = who;

    if (who == NULL || *who == '\0') {
        wachat_api_error(&r, 401, "no_identity", "no agent identity: the "
                         "API is reached through nginx, which "
                         "authenticates agents and sets "
                         WACHAT_API_AGENT_HEADER);
        goto done;
    }

    r.agent = wachat_agent_find(api->cfg, who);

    if (r.agent == NULL) {
        wachat_api_error(&r, 403, "unknown_agent",
                         wachat_agent_error_text(WACHAT_AGENT_EUNKNOWN));
        goto done;
    }

    len = evbuffer_get_length(evhttp_request_get_input_buffer(req));

    if (len > WACHAT_API_BODY_MAX) {
        wachat_api_error(&r, 413, "too_large", "the request body is larger "
                         "than 64 KB");
        goto done;
    }

    wachat_api_route(&r, method);

done:

    free(r.path);
    free(r.conv);
}


/* --- presence ------------------------------------------------------------- */


static void
wachat_api_gen_presence(wachat_api_req_t *r, int me)
{
    yajl_gen     g;
    const char  *p;

    p = wachat_agent_effective_presence(r->api->st, r->api->cfg,
                                        r->agent->id);

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        wachat_api_error(r, 503, "no_memory", "the server is out of memory");
        return;
    }

    yajl_gen_map_open(g);
    wachat_api_kv(g, "id", r->agent->id);

    if (me) {
        wachat_api_kv(g, "name", r->agent->name ? r->agent->name
                                                : r->agent->id);
        wachat_api_kv(g, "email", r->agent->email);
    }

    wachat_api_kv(g, "presence", p);

    if (me) {
        wachat_api_kv_bool(g, "notify", r->agent->notify);
        wachat_api_kv_int(g, "heartbeat_timeout_ms",
                          r->api->cfg->agent_heartbeat_timeout_ms);
    }

    yajl_gen_map_close(g);

    wachat_api_send(r, 200, g, me ? "ok" : p);
    yajl_gen_free(g);
}


static void
wachat_api_me(wachat_api_req_t *r)
{
    wachat_api_gen_presence(r, 1);
}


static void
wachat_api_presence(wachat_api_req_t *r)
{
    yajl_val            body;
    const char         *p;
    wachat_agent_rc_e   rc;

    body = wachat_api_body(r);
    if (body == NULL) {
        return;
    }

    p = wachat_api_body_str(r, body, "presence", "send {\"presence\": "
                            "\"online\"}, \"away\" or \"offline\"");

    if (p == NULL) {
        yajl_tree_free(body);
        return;
    }

    rc = wachat_agent_presence(r->api->st, r->api->cfg, r->agent->id, p);
    yajl_tree_free(body);

    if (rc == WACHAT_AGENT_EINPUT) {
        wachat_api_error(r, 400, "bad_input", "presence is online, away or "
                         "offline");
        return;
    }

    if (rc != WACHAT_AGENT_OK) {
        wachat_api_agent_error(r, rc);
        return;
    }

    wachat_api_gen_presence(r, 0);
}


static void
wachat_api_heartbeat(wachat_api_req_t *r)
{
    wachat_agent_rc_e  rc;

    rc = wachat_agent_heartbeat(r->api->st, r->api->cfg, r->agent->id);

    if (rc != WACHAT_AGENT_OK) {
        wachat_api_agent_error(r, rc);
        return;
    }

    wachat_api_gen_presence(r, 0);
}


/* --- conversations ------------------------------------------------------ */


/*
 * One command per conversation, pipelined on the store's link: a page of
 * a hundred costs one round trip.  want[i] 0 skips ids[i].
 */
static int
wachat_api_fetch(wachat_store_t *st, wachat_api_fetch_e what,
    redisReply **ids, size_t n, const unsigned char *want, redisReply **out)
{
    int      rc;
    void    *rep;
    size_t   i;
    char     key[WACHAT_KEY_MAX];

    memset(out, 0, n * sizeof(redisReply *));

    if (st->c == NULL) {
        /* reconnects, as every store command does */
        freeReplyObject(wachat_store_cmd(st, "PING"));

        if (st->c == NULL) {
            return -1;
        }
    }

    for (i = 0; i < n; i++) {
        if (want && !want[i]) {
            continue;
        }

        if (what == WACHAT_API_FETCH_CONV) {
            wachat_key_conv(key, ids[i]->str);
            rc = redisAppendCommand(st->c, "HGETALL %s", key);

        } else {
            wachat_key_hist(key, ids[i]->str);
            rc = redisAppendCommand(st->c, "XREVRANGE %s + - COUNT 1", key);
        }

        if (rc != REDIS_OK) {
            goto failed;
        }
    }

    for (i = 0; i < n; i++) {
        if (want && !want[i]) {
            continue;
        }

        if (redisGetReply(st->c, &rep) != REDIS_OK) {
            goto failed;
        }

        out[i] = rep;
    }

    return 0;

failed:

    for (i = 0; i < n; i++) {
        freeReplyObject(out[i]);
        out[i] = NULL;
    }

    snprintf(st->err, sizeof(st->err), "redis: %s", st->c->errstr);
    redisFree(st->c);
    st->c = NULL;

    return -1;
}


/* a history entry's time in ms: inbound ones carry WhatsApp's seconds */
static long long
wachat_api_entry_ms(const redisReply *kv)
{
    const char  *dir, *ts;

    dir = wachat_api_fstr(kv, "dir");
    ts = wachat_api_fstr(kv, "ts");

    if (ts == NULL) {
        return 0;
    }

    return dir && strcmp(dir, "in") == 0 ? atoll(ts) * 1000 : atoll(ts);
}


/*
 * The fields every listing of a conversation has, into an open map.  last
 * is its newest history entry (XREVRANGE ... COUNT 1 reply) or NULL.
 */
static void
wachat_api_gen_conv(yajl_gen g, wachat_api_t *api, const char *id,
    const redisReply *c, const redisReply *last, long long now)
{
    long long          closes, unread;
    const char        *mode, *ts;
    const redisReply  *kv, *text;

    mode = wachat_api_fstr(c, "mode");
    ts = wachat_api_fstr(c, "last_in_ts");
    unread = wachat_api_fstr(c, "unread")
             ? atoll(wachat_api_fstr(c, "unread")) : 0;

    wachat_api_kv(g, "id", id);
    wachat_api_kv_reply(g, "name", wachat_api_field(c, "name"));
    wachat_api_kv_reply(g, "wa_id", wachat_api_field(c, "wa_id"));
    wachat_api_kv_reply(g, "user_id", wachat_api_field(c, "user_id"));
    wachat_api_kv_reply(g, "phone_number_id",
                        wachat_api_field(c, "phone_number_id"));
    wachat_api_kv(g, "mode", mode ? mode : "ai");
    wachat_api_kv_reply(g, "agent", wachat_api_field(c, "agent"));
    wachat_api_kv_int(g, "unread", unread > 0 ? unread : 0);

    kv = NULL;

    if (last && last->type == REDIS_REPLY_ARRAY && last->elements > 0
        && last->element[0]->type == REDIS_REPLY_ARRAY
        && last->element[0]->elements == 2)
    {
        kv = last->element[0]->element[1];
    }

    text = wachat_api_field(kv, "text");

    if (text || kv == NULL) {
        wachat_api_kv_reply(g, "last_text", text);

    } else {
        /* an image, a location...: say what it was */
        char  what[64];

        snprintf(what, sizeof(what), "[%s]",
                 wachat_api_fstr(kv, "type") ? wachat_api_fstr(kv, "type")
                                             : "message");
        wachat_api_kv(g, "last_text", what);
    }

    wachat_api_kv_reply(g, "last_dir", wachat_api_field(kv, "dir"));

    wachat_api_gen_str(g, "last_at");
    if (kv) {
        yajl_gen_integer(g, wachat_api_entry_ms(kv));
    } else {
        yajl_gen_null(g);
    }

    if (ts) {
        closes = atoll(ts) * 1000 + api->cfg->window_ms;
        wachat_api_kv_int(g, "window_closes_at", closes);
        wachat_api_kv_int(g, "window_left_ms",
                          closes > now ? closes - now : 0);

    } else {
        wachat_api_gen_str(g, "window_closes_at");
        yajl_gen_null(g);
        wachat_api_kv_int(g, "window_left_ms", 0);
    }

    wachat_api_gen_str(g, "waiting_since");
    if (wachat_api_fstr(c, "waiting_since")) {
        yajl_gen_integer(g, atoll(wachat_api_fstr(c, "waiting_since")));
    } else {
        yajl_gen_null(g);
    }

    wachat_api_gen_str(g, "agent_since");
    if (wachat_api_fstr(c, "agent_since")) {
        yajl_gen_integer(g, atoll(wachat_api_fstr(c, "agent_since")));
    } else {
        yajl_gen_null(g);
    }
}


static int
wachat_api_pass(const wachat_api_filter_t *f, const redisReply *c)
{
    const char  *mode, *agent, *unread;

    if (c == NULL || c->type != REDIS_REPLY_ARRAY || c->elements == 0) {
        return 0;       /* gone, or not committed yet */
    }

    mode = wachat_api_fstr(c, "mode");
    mode = mode ? mode : "ai";

    if (f->mode && strcmp(mode, f->mode) != 0) {
        return 0;
    }

    if (f->agent) {
        agent = wachat_api_fstr(c, "agent");

        if (strcmp(mode, "agent") != 0 || agent == NULL
            || strcmp(agent, f->agent) != 0)
        {
            return 0;
        }
    }

    unread = wachat_api_fstr(c, "unread");

    if (f->unread && (unread == NULL || atoll(unread) <= 0)) {
        return 0;
    }

    return 1;
}


typedef struct {
    char    **ids;
    size_t    n;
    size_t    cap;
} wachat_api_seen_t;


static void
wachat_api_seen_add(wachat_api_seen_t *s, const char *id)
{
    char  **p;

    if (s->n == s->cap) {
        p = realloc(s->ids, (s->cap ? s->cap * 2 : 64) * sizeof(char *));
        if (p == NULL) {
            return;
        }

        s->ids = p;
        s->cap = s->cap ? s->cap * 2 : 64;
    }

    s->ids[s->n] = strdup(id);

    if (s->ids[s->n]) {
        s->n++;
    }
}


static int
wachat_api_seen_has(const wachat_api_seen_t *s, const char *id)
{
    size_t  i;

    for (i = 0; i < s->n; i++) {
        if (strcmp(s->ids[i], id) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
wachat_api_seen_free(wachat_api_seen_t *s)
{
    size_t  i;

    for (i = 0; i < s->n; i++) {
        free(s->ids[i]);
    }

    free(s->ids);
}


/*
 * Whether a conversation of a page is listed.  In the waiting set only
 * those still waiting count (remembered in seen); the ones taken meanwhile
 * are listed by activity, where the waiting ones are not listed again.
 */
static unsigned char
wachat_api_pick(const wachat_api_filter_t *f, const redisReply *c,
    int waiting, wachat_api_seen_t *seen, const char *id)
{
    const char  *mode;

    mode = wachat_api_fstr(c, "mode");

    if (waiting) {
        if (mode == NULL || strcmp(mode, "waiting_agent") != 0) {
            return 0;
        }

        wachat_api_seen_add(seen, id);

    } else if (mode && strcmp(mode, "waiting_agent") == 0
               && wachat_api_seen_has(seen, id))
    {
        return 0;
    }

    return (unsigned char) wachat_api_pass(f, c);
}


/*
 * Lists, in the order of one sorted set, the conversations that pass the
 * filter, a page at a time: wachat:waiting (by when the window closes) or
 * wachat:convs (newest first).
 */
static int
wachat_api_scan(wachat_api_req_t *r, yajl_gen g, const wachat_api_filter_t *f,
    int waiting, wachat_api_seen_t *seen, size_t *listed, long long now)
{
    int             rc, start;
    size_t          i, n, got;
    redisReply     *ids, *convs[WACHAT_API_PAGE], *lasts[WACHAT_API_PAGE];
    unsigned char   want[WACHAT_API_PAGE];
    wachat_store_t *st = r->api->st;

    for (start = 0; start < WACHAT_API_SCAN_MAX && *listed < f->limit;
         start += WACHAT_API_PAGE)
    {
        /* hiredis' format knows no %zu: the bounds are ints */
        ids = wachat_store_cmd(st, "%s %s %d %d",
                               waiting ? "ZRANGE" : "ZREVRANGE",
                               waiting ? WACHAT_KEY_WAITING
                                       : WACHAT_KEY_CONVS,
                               start, start + WACHAT_API_PAGE - 1);

        if (ids == NULL || ids->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(ids);
            return -1;
        }

        got = ids->elements;

        for (n = 0; n < got && n < WACHAT_API_PAGE; n++) {
            if (ids->element[n]->type != REDIS_REPLY_STRING) {
                break;
            }
        }

        rc = n ? wachat_api_fetch(st, WACHAT_API_FETCH_CONV, ids->element, n,
                                  NULL, convs)
               : 0;

        if (rc != 0) {
            freeReplyObject(ids);
            return -1;
        }

        for (i = 0; i < n; i++) {
            want[i] = wachat_api_pick(f, convs[i], waiting, seen,
                                      ids->element[i]->str);
        }

        rc = n ? wachat_api_fetch(st, WACHAT_API_FETCH_LAST, ids->element, n,
                                  want, lasts)
               : 0;

        for (i = 0; rc == 0 && i < n && *listed < f->limit; i++) {
            if (want[i]) {
                yajl_gen_map_open(g);
                wachat_api_gen_conv(g, r->api, ids->element[i]->str,
                                    convs[i], lasts[i], now);
                yajl_gen_map_close(g);
                (*listed)++;
            }
        }

        for (i = 0; i < n; i++) {
            freeReplyObject(convs[i]);
            if (rc == 0) {
                freeReplyObject(lasts[i]);
            }
        }

        freeReplyObject(ids);

        if (rc != 0) {
            return -1;
        }

        if (got < WACHAT_API_PAGE) {
            break;
        }
    }

    return 0;
}


/* the query string into a filter; -1 with the error answered */
static int
wachat_api_filter(wachat_api_req_t *r, struct evkeyvalq *q,
    wachat_api_filter_t *f)
{
    char        *end;
    long         limit;
    const char  *v;

    memset(f, 0, sizeof(wachat_api_filter_t));
    f->limit = WACHAT_API_LIST_DEFAULT;

    if (r->query && evhttp_parse_query_str(r->query, q) != 0) {
        wachat_api_error(r, 400, "bad_input", "the query string is not "
                         "valid");
        return -1;
    }

    f->mode = evhttp_find_header(q, "mode");

    if (f->mode && *f->mode == '\0') {
        f->mode = NULL;
    }

    if (f->mode && strcmp(f->mode, "ai") != 0
        && strcmp(f->mode, "waiting_agent") != 0
        && strcmp(f->mode, "agent") != 0)
    {
        wachat_api_error(r, 400, "bad_input", "mode is ai, waiting_agent or "
                         "agent");
        return -1;
    }

    f->agent = evhttp_find_header(q, "agent");

    if (f->agent && *f->agent == '\0') {
        f->agent = NULL;

    } else if (f->agent && strcmp(f->agent, "me") == 0) {
        f->agent = r->agent->id;
    }

    v = evhttp_find_header(q, "unread");
    f->unread = v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);

    v = evhttp_find_header(q, "limit");

    if (v) {
        errno = 0;
        limit = strtol(v, &end, 10);

        if (errno || *v == '\0' || *end != '\0' || limit < 1) {
            wachat_api_error(r, 400, "bad_input", "limit is a number from 1 "
                             "to 500");
            return -1;
        }

        f->limit = limit > WACHAT_API_LIST_MAX ? WACHAT_API_LIST_MAX
                                               : (size_t) limit;
    }

    return 0;
}


static void
wachat_api_list(wachat_api_req_t *r)
{
    int                   rc;
    size_t                listed;
    yajl_gen              g;
    long long             now;
    struct evkeyvalq      q;
    wachat_api_seen_t     seen;
    wachat_api_filter_t   f;
    char                  outcome[32];

    TAILQ_INIT(&q);

    if (wachat_api_filter(r, &q, &f) != 0) {
        evhttp_clear_headers(&q);
        return;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        evhttp_clear_headers(&q);
        wachat_api_error(r, 503, "no_memory", "the server is out of memory");
        return;
    }

    memset(&seen, 0, sizeof(wachat_api_seen_t));
    now = wachat_api_now_ms();
    listed = 0;

    yajl_gen_array_open(g);

    rc = wachat_api_scan(r, g, &f, 1, &seen, &listed, now);

    if (rc == 0) {
        rc = wachat_api_scan(r, g, &f, 0, &seen, &listed, now);
    }

    yajl_gen_array_close(g);

    if (rc != 0) {
        wachat_api_redis_error(r);

    } else {
        snprintf(outcome, sizeof(outcome), "%zu listed", listed);
        wachat_api_send(r, 200, g, outcome);
    }

    wachat_api_seen_free(&seen);
    yajl_gen_free(g);
    evhttp_clear_headers(&q);
}


/* an outbound entry's delivery: through the wamid it was sent as */
static void
wachat_api_gen_status(yajl_gen g, const redisReply *st, const char *hist_id)
{
    size_t        n;
    char          key[128], status[32], code[32];
    const char   *h, *v, *p;

    snprintf(key, sizeof(key), "h:%s", hist_id);
    h = wachat_api_fstr(st, key);
    code[0] = '\0';

    if (h == NULL) {
        snprintf(status, sizeof(status), "queued");

    } else if (strncmp(h, "failed|", 7) == 0) {
        snprintf(status, sizeof(status), "failed");
        p = h + 7;
        n = strcspn(p, "|");
        snprintf(code, sizeof(code), "%.*s", (int) n, p);

    } else if ((v = wachat_api_fstr(st, h)) == NULL) {
        snprintf(status, sizeof(status), "accepted");

    } else {
        n = strcspn(v, "|");
        snprintf(status, sizeof(status), "%.*s", (int) n, v);

        if (v[n] == '|') {
            p = v + n + 1;
            n = strcspn(p, "|");
            snprintf(code, sizeof(code), "%.*s", (int) n, p);
        }

        if (strcmp(status, "played") == 0) {
            snprintf(status, sizeof(status), "read");
        }
    }

    wachat_api_kv(g, "status", status);

    if (code[0] && strcmp(status, "failed") == 0) {
        wachat_api_kv(g, "error_code", code);
    }
}


static void
wachat_api_gen_entry(yajl_gen g, const redisReply *e, const redisReply *st)
{
    int                 in;
    char                name[16];
    unsigned            k;
    const char         *dir;
    const redisReply   *kv, *b;

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
        || e->element[0]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    kv = e->element[1];
    dir = wachat_api_fstr(kv, "dir");
    in = dir && strcmp(dir, "in") == 0;

    yajl_gen_map_open(g);
    wachat_api_kv(g, "id", e->element[0]->str);
    wachat_api_kv(g, "dir", in ? "in" : "out");
    wachat_api_kv_reply(g, "who", wachat_api_field(kv, "who"));
    wachat_api_kv_int(g, "ts_ms", wachat_api_entry_ms(kv));
    wachat_api_kv_reply(g, "text", wachat_api_field(kv, "text"));

    if (in) {
        wachat_api_kv_reply(g, "type", wachat_api_field(kv, "type"));
        wachat_api_kv_reply(g, "name", wachat_api_field(kv, "name"));
        wachat_api_kv_reply(g, "payload", wachat_api_field(kv, "payload"));

    } else {
        wachat_api_kv(g, "type", wachat_api_field(kv, "button1")
                                 ? "interactive" : "text");
    }

    wachat_api_gen_str(g, "buttons");
    yajl_gen_array_open(g);

    for (k = 1; k <= 3; k++) {
        snprintf(name, sizeof(name), "button%u", k);
        b = wachat_api_field(kv, name);

        if (b) {
            wachat_api_gen_bytes(g, b->str, b->len);
        }
    }

    yajl_gen_array_close(g);

    if (!in) {
        wachat_api_gen_status(g, st, e->element[0]->str);
    }

    yajl_gen_map_close(g);
}


static void
wachat_api_show(wachat_api_req_t *r)
{
    size_t           i;
    yajl_gen         g;
    redisReply      *c, *hist, *st, *x;
    const char      *argv[2];
    wachat_store_t  *s = r->api->st;
    char             key[WACHAT_KEY_MAX];

    /* the holder looking at it has read it */
    wachat_key_conv(key, r->conv);
    argv[0] = key;
    argv[1] = r->agent->id;
    x = wachat_store_eval(s, &wachat_api_lua_read, 1, 2, argv, NULL);

    if (x && x->type == REDIS_REPLY_INTEGER && x->integer > 0) {
        wachat_feed(s, "read", r->conv, "agent", r->agent->id, NULL);
    }

    freeReplyObject(x);

    c = wachat_store_cmd(s, "HGETALL %s", key);

    if (c == NULL || c->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(c);
        wachat_api_redis_error(r);
        return;
    }

    if (c->elements == 0) {
        freeReplyObject(c);
        wachat_api_agent_error(r, WACHAT_AGENT_ENOCONV);
        return;
    }

    wachat_key_hist(key, r->conv);
    hist = wachat_store_cmd(s, "XREVRANGE %s + - COUNT %d", key,
                            WACHAT_API_HISTORY_MAX);
    wachat_key_status(key, r->conv);
    st = wachat_store_cmd(s, "HGETALL %s", key);

    g = yajl_gen_alloc(NULL);

    if (hist == NULL || hist->type != REDIS_REPLY_ARRAY || st == NULL
        || st->type != REDIS_REPLY_ARRAY || g == NULL)
    {
        freeReplyObject(c);
        freeReplyObject(hist);
        freeReplyObject(st);
        if (g) {
            yajl_gen_free(g);
        }
        wachat_api_redis_error(r);
        return;
    }

    yajl_gen_map_open(g);
    wachat_api_gen_conv(g, r->api, r->conv, c, hist, wachat_api_now_ms());

    wachat_api_gen_str(g, "history");
    yajl_gen_array_open(g);

    /* XREVRANGE: newest first, the console reads oldest first */
    for (i = hist->elements; i > 0; i--) {
        wachat_api_gen_entry(g, hist->element[i - 1], st);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    wachat_api_send(r, 200, g, "ok");

    yajl_gen_free(g);
    freeReplyObject(c);
    freeReplyObject(hist);
    freeReplyObject(st);
}


/* {"id": conv, "mode": ..., plus one more pair} */
static void
wachat_api_done(wachat_api_req_t *r, int status, const char *mode,
    const char *k, const char *v)
{
    yajl_gen  g;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        wachat_api_error(r, 503, "no_memory", "the server is out of memory");
        return;
    }

    yajl_gen_map_open(g);
    wachat_api_kv(g, "id", r->conv);

    if (mode) {
        wachat_api_kv(g, "mode", mode);
    }

    if (k) {
        wachat_api_kv(g, k, v);
    }

    yajl_gen_map_close(g);

    wachat_api_send(r, status, g, "ok");
    yajl_gen_free(g);
}


static void
wachat_api_reply(wachat_api_req_t *r)
{
    yajl_gen            g;
    yajl_val            body;
    const char         *text;
    wachat_agent_rc_e   rc;
    char                hist[64];

    body = wachat_api_body(r);
    if (body == NULL) {
        return;
    }

    text = wachat_api_body_str(r, body, "text", "send {\"text\": \"...\"}, "
                               "the message for the customer");

    if (text == NULL) {
        yajl_tree_free(body);
        return;
    }

    hist[0] = '\0';
    rc = wachat_agent_reply(r->api->st, r->api->cfg, r->agent->id, r->conv,
                            text, hist, sizeof(hist));
    yajl_tree_free(body);

    if (rc != WACHAT_AGENT_OK) {
        wachat_api_agent_error(r, rc);
        return;
    }

    /* queued in Redis; the daemon sends it now instead of at its scan */
    if (r->api->kick) {
        r->api->kick(r->api->data, r->conv);
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        wachat_api_error(r, 503, "no_memory", "the server is out of memory");
        return;
    }

    yajl_gen_map_open(g);
    wachat_api_kv_bool(g, "queued", 1);
    wachat_api_kv(g, "hist", hist);
    yajl_gen_map_close(g);

    wachat_api_send(r, 202, g, "queued");
    yajl_gen_free(g);
}


static void
wachat_api_take(wachat_api_req_t *r)
{
    wachat_agent_rc_e  rc;

    rc = wachat_agent_take(r->api->st, r->api->cfg, r->agent->id, r->conv);

    if (rc != WACHAT_AGENT_OK) {
        wachat_api_agent_error(r, rc);
        return;
    }

    wachat_api_done(r, 200, "agent", "agent", r->agent->id);
}


static void
wachat_api_resolve(wachat_api_req_t *r)
{
    wachat_agent_rc_e  rc;

    rc = wachat_agent_resolve(r->api->st, r->api->cfg, r->agent->id,
                              r->conv);

    if (rc != WACHAT_AGENT_OK) {
        wachat_api_agent_error(r, rc);
        return;
    }

    /* the closing text, if any, is queued: send it now */
    if (r->api->kick) {
        r->api->kick(r->api->data, r->conv);
    }

    wachat_api_done(r, 200, "ai", NULL, NULL);
}


/* --- the live feed: server-sent events ---------------------------------- */


static void
wachat_api_write(wachat_api_client_t *c, const char *data, size_t len)
{
    struct evbuffer  *b;

    b = evbuffer_new();
    if (b == NULL) {
        return;
    }

    evbuffer_add(b, data, len);
    evhttp_send_reply_chunk(c->req, b);
    evbuffer_free(b);
}


static void
wachat_api_client_unlink(wachat_api_client_t *c)
{
    wachat_api_t  *api = c->api;

    if (c->prev) {
        c->prev->next = c->next;

    } else {
        api->clients = c->next;
    }

    if (c->next) {
        c->next->prev = c->prev;
    }

    api->nclients--;
}


/* we end the stream (a client too slow to read): evhttp closes it */
static void
wachat_api_client_end(wachat_api_client_t *c, const char *why)
{
    wachat_log(WACHAT_LOG_INFO, "api: %s event stream ended: %s", c->agent,
               why);

    wachat_api_client_unlink(c);
    evhttp_connection_set_closecb(c->conn, NULL, NULL);
    evhttp_send_reply_end(c->req);
    free(c->agent);
    free(c);
}


static int
wachat_api_client_slow(wachat_api_client_t *c)
{
    struct bufferevent  *bev;

    bev = evhttp_connection_get_bufferevent(c->conn);

    return bev && evbuffer_get_length(bufferevent_get_output(bev))
                  > WACHAT_API_SLOW_BYTES;
}


/* the client went away */
static void
wachat_api_on_client_close(struct evhttp_connection *conn, void *arg)
{
    wachat_api_client_t  *c = arg;

    (void) conn;

    wachat_log(WACHAT_LOG_INFO, "api: %s event stream closed", c->agent);

    wachat_api_client_unlink(c);

    /*
     * A reply cut off by the peer leaves the request detached from its
     * connection and ours to free; evhttp_send_reply_end() does that.
     */
    if (evhttp_request_get_connection(c->req) == NULL) {
        evhttp_send_reply_end(c->req);
    }

    free(c->agent);
    free(c);
}


/* "id: ..\nevent: ..\ndata: {..}\n\n" for one wachat:feed entry */
static struct evbuffer *
wachat_api_event_text(const redisReply *e)
{
    size_t                i, len;
    yajl_gen              g;
    const char           *type;
    struct evbuffer      *b;
    const redisReply     *kv;
    const unsigned char  *json;

    kv = e->element[1];
    type = wachat_api_fstr(kv, "type");

    if (type == NULL || type[0] == '\0' || type[strcspn(type, "\r\n")]) {
        type = "message";
    }

    g = yajl_gen_alloc(NULL);
    b = evbuffer_new();

    if (g == NULL || b == NULL) {
        if (g) {
            yajl_gen_free(g);
        }
        if (b) {
            evbuffer_free(b);
        }
        return NULL;
    }

    yajl_gen_map_open(g);

    for (i = 0; kv->type == REDIS_REPLY_ARRAY && i + 1 < kv->elements;
         i += 2)
    {
        if (kv->element[i]->type == REDIS_REPLY_STRING
            && kv->element[i + 1]->type == REDIS_REPLY_STRING)
        {
            wachat_api_gen_bytes(g, kv->element[i]->str, kv->element[i]->len);
            wachat_api_gen_bytes(g, kv->element[i + 1]->str,
                                 kv->element[i + 1]->len);
        }
    }

    yajl_gen_map_close(g);
    yajl_gen_get_buf(g, &json, &len);

    /* yajl escapes control characters: the JSON is one line */
    evbuffer_add_printf(b, "id: %s\nevent: %s\ndata: ", e->element[0]->str,
                        type);
    evbuffer_add(b, json, len);
    evbuffer_add(b, "\n\n", 2);

    yajl_gen_free(g);

    return b;
}


static int
wachat_api_entry_ok(const redisReply *e, wachat_api_id_t *id)
{
    return e->type == REDIS_REPLY_ARRAY && e->elements == 2
           && e->element[0]->type == REDIS_REPLY_STRING
           && e->element[1]->type == REDIS_REPLY_ARRAY
           && wachat_api_id_parse(e->element[0]->str, id) == 0;
}


/* whether the client still needs this entry; from now on it has it */
static int
wachat_api_client_due(wachat_api_client_t *c, const wachat_api_id_t *id)
{
    if (wachat_api_id_cmp(id, &c->after) <= 0) {
        return 0;
    }

    c->after = *id;

    return 1;
}


static void
wachat_api_broadcast(wachat_api_t *api, const redisReply *e)
{
    wachat_api_id_t       id;
    struct evbuffer      *text;
    wachat_api_client_t  *c, *next;

    if (!wachat_api_entry_ok(e, &id)) {
        return;
    }

    if (wachat_api_id_cmp(&id, &api->cursor) > 0) {
        api->cursor = id;
    }

    text = wachat_api_event_text(e);
    if (text == NULL) {
        return;
    }

    for (c = api->clients; c; c = next) {
        next = c->next;

        if (!wachat_api_client_due(c, &id)) {
            continue;
        }

        if (wachat_api_client_slow(c)) {
            wachat_api_client_end(c, "too slow to read");
            continue;
        }

        wachat_api_write(c, (const char *) evbuffer_pullup(text, -1),
                         evbuffer_get_length(text));
    }

    evbuffer_free(text);
}


/* the newest entry of the feed now ("0-0" when it is empty) */
static int
wachat_api_feed_tail(wachat_api_t *api, wachat_api_id_t *id)
{
    redisReply  *r;

    r = wachat_store_cmd(api->st, "XREVRANGE %s + - COUNT 1",
                         WACHAT_KEY_FEED);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }

    memset(id, 0, sizeof(wachat_api_id_t));

    if (r->elements > 0 && !wachat_api_entry_ok(r->element[0], id)) {
        memset(id, 0, sizeof(wachat_api_id_t));
    }

    freeReplyObject(r);

    return 0;
}


/*
 * A browser that reconnects says what it saw last: replay what came
 * after, up to a bound; past it the console is told to reload ("reset").
 * The live feed goes on after the tail (or the last entry replayed).
 */
static void
wachat_api_catch_up(wachat_api_client_t *c, const char *from)
{
    size_t            i;
    wachat_api_id_t   id, tail;
    redisReply       *r, *entries;
    struct evbuffer  *text;
    static const char reset[] = "event: reset\ndata: {}\n\n";

    tail = c->after;

    /* a bogus id from the future must not mute the stream */
    memset(&c->after, 0, sizeof(wachat_api_id_t));
    wachat_api_id_parse(from, &c->after);

    r = wachat_store_cmd(c->api->st, "XREAD COUNT %d STREAMS %s %s",
                         WACHAT_API_CATCH_UP, WACHAT_KEY_FEED, from);

    entries = NULL;

    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1
        && r->element[0]->type == REDIS_REPLY_ARRAY
        && r->element[0]->elements == 2
        && r->element[0]->element[1]->type == REDIS_REPLY_ARRAY)
    {
        entries = r->element[0]->element[1];
    }

    for (i = 0; entries && i < entries->elements; i++) {
        if (!wachat_api_entry_ok(entries->element[i], &id)
            || !wachat_api_client_due(c, &id))
        {
            continue;
        }

        /* at most a thousand small entries: no slow-reader check here */
        text = wachat_api_event_text(entries->element[i]);

        if (text) {
            wachat_api_write(c, (const char *) evbuffer_pullup(text, -1),
                             evbuffer_get_length(text));
            evbuffer_free(text);
        }

        if (wachat_api_id_cmp(&id, &tail) > 0) {
            tail = id;
        }
    }

    if (entries && entries->elements >= WACHAT_API_CATCH_UP) {
        wachat_api_write(c, reset, sizeof(reset) - 1);
    }

    c->after = tail;

    freeReplyObject(r);
}


static void
wachat_api_events(wachat_api_req_t *r)
{
    char                  line[32];
    int                   n;
    wachat_api_t         *api = r->api;
    const char           *last;
    wachat_api_id_t       from;
    struct evkeyvalq     *h;
    wachat_api_client_t  *c;

    if (api->nclients >= WACHAT_API_CLIENTS_MAX) {
        wachat_api_error(r, 503, "too_many_streams", "too many open event "
                         "streams; try again later");
        return;
    }

    c = calloc(1, sizeof(wachat_api_client_t));
    if (c == NULL || (c->agent = strdup(r->agent->id)) == NULL) {
        free(c);
        wachat_api_error(r, 503, "no_memory", "the server is out of memory");
        return;
    }

    if (wachat_api_feed_tail(api, &c->after) != 0) {
        free(c->agent);
        free(c);
        wachat_api_redis_error(r);
        return;
    }

    h = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    /* nginx: pass every event on at once, whatever proxy_buffering says */
    evhttp_add_header(h, "X-Accel-Buffering", "no");

    evhttp_send_reply_start(r->req, 200, "OK");

    c->api = api;
    c->req = r->req;
    c->conn = evhttp_request_get_connection(r->req);
    evhttp_connection_set_closecb(c->conn, wachat_api_on_client_close, c);

    c->next = api->clients;
    if (api->clients) {
        api->clients->prev = c;
    }
    api->clients = c;
    api->nclients++;

    n = snprintf(line, sizeof(line), "retry: %d\n\n", WACHAT_API_RETRY_MS);
    wachat_api_write(c, line, (size_t) n);

    last = evhttp_find_header(evhttp_request_get_input_headers(r->req),
                              "Last-Event-ID");

    if (last && wachat_api_id_parse(last, &from) == 0) {
        wachat_api_catch_up(c, last);
    }

    /* the first stream starts the shared reader at the feed's tail */
    if (api->nclients == 1 && !api->reading) {
        api->cursor = c->after;
    }

    wachat_api_log(r, 200, "event stream");
    wachat_api_feed_read(api);
}


static void
wachat_api_feed_connected(const redisAsyncContext *ac, int status)
{
    wachat_api_t  *api = ac->data;

    if (api == NULL || status == REDIS_OK) {
        return;
    }

    wachat_log(WACHAT_LOG_WARNING, "api: feed: redis connect failed: %s",
               ac->errstr);

    /* hiredis frees the context after this callback */
    api->ac = NULL;
    api->reading = 0;

    if (!api->closing) {
        wachat_api_arm(api->retry, 1000);
    }
}


static void
wachat_api_feed_disconnected(const redisAsyncContext *ac, int status)
{
    wachat_api_t  *api = ac->data;

    if (api == NULL) {
        return;
    }

    api->ac = NULL;
    api->reading = 0;

    if (api->closing) {
        return;
    }

    wachat_log(WACHAT_LOG_WARNING, "api: feed: lost redis (%s)",
               status == REDIS_OK ? "closed" : ac->errstr);

    wachat_api_arm(api->retry, 1000);
}


static void
wachat_api_feed_connect(wachat_api_t *api)
{
    redisAsyncContext  *ac;

    if (api->addr.unix_path) {
        ac = redisAsyncConnectUnix(api->addr.unix_path);

    } else {
        ac = redisAsyncConnect(api->addr.host, api->addr.port);
    }

    if (ac == NULL || ac->err) {
        wachat_log(WACHAT_LOG_WARNING, "api: feed: cannot connect to "
                   "redis: %s", ac ? ac->errstr : "out of memory");
        if (ac) {
            redisAsyncFree(ac);
        }
        wachat_api_arm(api->retry, 1000);
        return;
    }

    ac->data = api;
    api->ac = ac;

    redisLibeventAttach(ac, api->base);
    redisAsyncSetConnectCallback(ac, wachat_api_feed_connected);
    redisAsyncSetDisconnectCallback(ac, wachat_api_feed_disconnected);

    if (api->addr.password) {
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s", api->addr.password);
    }

    if (api->addr.db) {
        redisAsyncCommand(ac, NULL, NULL, "SELECT %d", api->addr.db);
    }
}


static void
wachat_api_on_feed(redisAsyncContext *ac, void *reply, void *data)
{
    size_t             i;
    redisReply        *r = reply, *entries;
    wachat_api_t      *api = data;

    if (ac->data == NULL) {
        return;         /* being freed */
    }

    api->reading = 0;

    if (r == NULL) {
        return;         /* disconnected: the disconnect callback follows */
    }

    if (r->type == REDIS_REPLY_ERROR) {
        wachat_log(WACHAT_LOG_WARNING, "api: feed: XREAD: %s", r->str);
        wachat_api_arm(api->retry, 1000);
        return;
    }

    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1
        && r->element[0]->type == REDIS_REPLY_ARRAY
        && r->element[0]->elements == 2
        && r->element[0]->element[1]->type == REDIS_REPLY_ARRAY)
    {
        entries = r->element[0]->element[1];

        for (i = 0; i < entries->elements; i++) {
            wachat_api_broadcast(api, entries->element[i]);
        }
    }

    wachat_api_feed_read(api);
}


/* one blocking read at a time, only while somebody listens */
static void
wachat_api_feed_read(wachat_api_t *api)
{
    char  cursor[64];

    if (api->closing || api->reading || api->nclients == 0) {
        return;
    }

    if (api->ac == NULL) {
        if (evtimer_pending(api->retry, NULL)) {
            return;
        }

        wachat_api_feed_connect(api);

        if (api->ac == NULL) {
            return;
        }
    }

    snprintf(cursor, sizeof(cursor), "%llu-%llu", api->cursor.ms,
             api->cursor.seq);

    api->reading = 1;

    redisAsyncCommand(api->ac, wachat_api_on_feed, api,
                      "XREAD COUNT %d BLOCK %d STREAMS %s %s",
                      WACHAT_API_FEED_COUNT, WACHAT_API_FEED_BLOCK_MS,
                      WACHAT_KEY_FEED, cursor);
}


static void
wachat_api_on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;

    wachat_api_feed_read(arg);
}


/* proxies and browsers drop a silent stream: a comment now and then */
static void
wachat_api_on_keepalive(evutil_socket_t fd, short what, void *arg)
{
    wachat_api_t         *api = arg;
    wachat_api_client_t  *c, *next;
    static const char     ping[] = ": keepalive\n\n";

    (void) fd;
    (void) what;

    for (c = api->clients; c; c = next) {
        next = c->next;

        if (wachat_api_client_slow(c)) {
            wachat_api_client_end(c, "too slow to read");
            continue;
        }

        wachat_api_write(c, ping, sizeof(ping) - 1);
    }
}


/* --- the listener -------------------------------------------------------- */


/* every address the name stands for must be a loopback one */
static int
wachat_api_loopback(const char *host, char *err, size_t errlen)
{
    int                         rc, ok;
    struct addrinfo             hints, *res, *ai;
    const struct sockaddr_in   *in4;
    const struct sockaddr_in6  *in6;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "api_listen %s: %s", host, gai_strerror(rc));
        return -1;
    }

    ok = res != NULL;

    for (ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            in4 = (const struct sockaddr_in *) (const void *) ai->ai_addr;
            ok = ok && (ntohl(in4->sin_addr.s_addr) >> 24) == 127;

        } else if (ai->ai_family == AF_INET6) {
            in6 = (const struct sockaddr_in6 *) (const void *) ai->ai_addr;
            ok = ok && IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);

        } else {
            ok = 0;
        }
    }

    freeaddrinfo(res);

    if (!ok) {
        snprintf(err, errlen, "api_listen %s is not a loopback address: "
                 "wachatd trusts the " WACHAT_API_AGENT_HEADER " header, so "
                 "only nginx on this host may reach the API; use "
                 "127.0.0.1:<port>, [::1]:<port> or unix:/path", host);
        return -1;
    }

    return 0;
}


/* somebody answers on that socket: another wachatd */
static int
wachat_api_unix_alive(const struct sockaddr_un *sun)
{
    int  fd, alive;

    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        return 0;
    }

    alive = connect(fd, (const struct sockaddr *) sun, sizeof(*sun)) == 0;
    close(fd);

    return alive;
}


static int
wachat_api_listen_unix(wachat_api_t *api, const char *path, char *err,
    size_t errlen)
{
    int                  fd, rc;
    mode_t               old;
    struct stat          sb;
    struct sockaddr_un   sun;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "api_listen unix:%s: the path is too long",
                 path);
        return -1;
    }

    memcpy(sun.sun_path, path, strlen(path) + 1);

    if (lstat(path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode)) {
            snprintf(err, errlen, "api_listen unix:%s exists and is not a "
                     "socket", path);
            return -1;
        }

        if (wachat_api_unix_alive(&sun)) {
            snprintf(err, errlen, "api_listen unix:%s: another process "
                     "listens on it", path);
            return -1;
        }

        unlink(path);       /* left over by a wachatd that died */
    }

    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        snprintf(err, errlen, "api_listen unix:%s: socket: %s", path,
                 strerror(errno));
        return -1;
    }

    /* 0660 from the start: nginx reaches it through the group */
    old = umask(0117);
    rc = bind(fd, (const struct sockaddr *) &sun, sizeof(sun));
    umask(old);

    if (rc != 0 || chmod(path, 0660) != 0 || listen(fd, 128) != 0
        || evutil_make_socket_nonblocking(fd) != 0
        || evutil_make_socket_closeonexec(fd) != 0)
    {
        snprintf(err, errlen, "api_listen unix:%s: %s", path,
                 strerror(errno));
        close(fd);
        if (rc == 0) {
            unlink(path);
        }
        return -1;
    }

    if (evhttp_accept_socket_with_handle(api->http, fd) == NULL) {
        snprintf(err, errlen, "api_listen unix:%s: cannot accept on it",
                 path);
        close(fd);
        unlink(path);
        return -1;
    }

    api->unix_path = strdup(path);

    return 0;
}


static int
wachat_api_listen(wachat_api_t *api, const wachat_addr_t *a, char *err,
    size_t errlen)
{
    if (a->path) {
        return wachat_api_listen_unix(api, a->path, err, errlen);
    }

    if (wachat_api_loopback(a->host, err, errlen) != 0) {
        return -1;
    }

    if (evhttp_bind_socket_with_handle(api->http, a->host,
                                       (ev_uint16_t) a->port) == NULL)
    {
        snprintf(err, errlen, "api_listen %s:%d: cannot listen: %s", a->host,
                 a->port, errno ? strerror(errno) : "address in use?");
        return -1;
    }

    return 0;
}


static char *
wachat_api_listen_spec(const wachat_addr_t *a)
{
    char  buf[1024];

    if (a->path) {
        snprintf(buf, sizeof(buf), "unix:%s", a->path);

    } else if (a->host) {
        snprintf(buf, sizeof(buf), strchr(a->host, ':') ? "[%s]:%d"
                                                        : "%s:%d",
                 a->host, a->port);

    } else {
        buf[0] = '\0';
    }

    return strdup(buf);
}


static int
wachat_api_copy_addr(wachat_store_addr_t *dst, const wachat_store_addr_t *src)
{
    *dst = *src;
    dst->host = src->host ? strdup(src->host) : NULL;
    dst->unix_path = src->unix_path ? strdup(src->unix_path) : NULL;
    dst->password = src->password ? strdup(src->password) : NULL;

    return (src->host && dst->host == NULL)
           || (src->unix_path && dst->unix_path == NULL)
           || (src->password && dst->password == NULL) ? -1 : 0;
}


wachat_api_t *
wachat_api_start(struct event_base *base, wachat_store_t *st,
    const wachat_store_addr_t *redis, const wachat_config_t *cfg,
    wachat_api_kick_pt kick, void *data, char *err, size_t errlen)
{
    wachat_api_t  *api;

    err[0] = '\0';

    if (cfg->api_listen.host == NULL && cfg->api_listen.path == NULL) {
        return NULL;
    }

    api = calloc(1, sizeof(wachat_api_t));
    if (api == NULL) {
        snprintf(err, errlen, "api: out of memory");
        return NULL;
    }

    api->base = base;
    api->st = st;
    api->cfg = cfg;
    api->kick = kick;
    api->data = data;

    api->listen = wachat_api_listen_spec(&cfg->api_listen);
    api->http = evhttp_new(base);
    api->retry = evtimer_new(base, wachat_api_on_retry, api);
    api->keepalive = event_new(base, -1, EV_PERSIST, wachat_api_on_keepalive,
                               api);

    if (wachat_api_copy_addr(&api->addr, redis) != 0 || api->listen == NULL
        || api->http == NULL || api->retry == NULL || api->keepalive == NULL)
    {
        snprintf(err, errlen, "api: out of memory");
        wachat_api_free(api);
        return NULL;
    }

    evhttp_set_gencb(api->http, wachat_api_on_request, api);
    evhttp_set_allowed_methods(api->http, WACHAT_API_METHODS);
    evhttp_set_max_body_size(api->http, WACHAT_API_HARD_MAX);
    evhttp_set_max_headers_size(api->http, WACHAT_API_HEADERS_MAX);
    evhttp_set_timeout(api->http, WACHAT_API_TIMEOUT_S);

    if (wachat_api_listen(api, &cfg->api_listen, err, errlen) != 0) {
        wachat_api_free(api);
        return NULL;
    }

    wachat_api_arm(api->keepalive, WACHAT_API_KEEPALIVE_S * 1000);

    wachat_log(WACHAT_LOG_NOTICE, "api: agent API on %s (%zu agents)",
               api->listen, cfg->agents.n);

    return api;
}


void
wachat_api_reload(wachat_api_t *api, const wachat_config_t *cfg)
{
    char  *spec;

    if (api == NULL) {
        if (cfg->api_listen.host || cfg->api_listen.path) {
            wachat_log(WACHAT_LOG_WARNING, "reload: api_listen takes effect "
                       "at the next restart");
        }
        return;
    }

    spec = wachat_api_listen_spec(&cfg->api_listen);

    if (spec == NULL || strcmp(spec, api->listen) != 0) {
        wachat_log(WACHAT_LOG_WARNING, "reload: api_listen changes take "
                   "effect at the next restart; the API stays on %s",
                   api->listen);
    }

    free(spec);

    /* agents added or removed count from the next request on */
    api->cfg = cfg;
}


void
wachat_api_free(wachat_api_t *api)
{
    wachat_api_client_t  *c, *next;

    if (api == NULL) {
        return;
    }

    api->closing = 1;

    /* evhttp_free() below closes the connections and frees the requests */
    for (c = api->clients; c; c = next) {
        next = c->next;
        evhttp_connection_set_closecb(c->conn, NULL, NULL);
        free(c->agent);
        free(c);
    }

    api->clients = NULL;
    api->nclients = 0;

    if (api->ac) {
        api->ac->data = NULL;
        redisAsyncFree(api->ac);
        api->ac = NULL;
    }

    if (api->retry) {
        event_free(api->retry);
    }

    if (api->keepalive) {
        event_free(api->keepalive);
    }

    if (api->http) {
        evhttp_free(api->http);
    }

    if (api->unix_path) {
        unlink(api->unix_path);
        free(api->unix_path);
    }

    if (api->addr.password) {
        memset(api->addr.password, 0, strlen(api->addr.password));
    }

    wachat_store_addr_free(&api->addr);
    free(api->listen);
    free(api);
}
