/*
 * api: the agent API on libevent's evhttp: the listener, the plumbing of a
 * request, routing, and the JSON answers every handler shares.  The
 * handlers are in api_conv.c (the agent, its conversations) and
 * api_events.c (the live feed).
 *
 * nginx authenticates the agent and sets X-Wachat-Agent; the header is
 * trusted only from nginx: the listener is a loopback address or a unix
 * socket, and api_access.c checks the secret nginx adds and the Host.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/buffer.h>

#include "api/api_int.h"
#include "lib/log.h"


#define WACHAT_API_BODY_MAX       (64 * 1024)   /* JSON request bodies */
#define WACHAT_API_HARD_MAX       (WACHAT_API_FILE_MAX + 4096)
                                                /* evhttp's own 413 */
#define WACHAT_API_HEADERS_MAX    (16 * 1024)
#define WACHAT_API_TIMEOUT_S      30            /* reading a request */
#define WACHAT_API_KEEPALIVE_S    15            /* event streams */
#define WACHAT_API_CONV_ID_MAX    200
#define WACHAT_API_AGENT_HEADER   "X-Wachat-Agent"

#define WACHAT_API_METHODS                                                  \
    (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT    \
     | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE            \
     | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)


typedef void (*wachat_api_handler_pt)(wachat_api_req_t *r);

/* "*" in a path stands for one conversation id */
typedef struct {
    const char                 *path;
    enum evhttp_cmd_type        method;
    wachat_api_handler_pt       handler;
} wachat_api_route_t;


static void wachat_api_on_request(struct evhttp_request *req, void *arg);


static const wachat_api_route_t  wachat_api_routes[] = {
    { "/api/me",                      EVHTTP_REQ_GET,  wachat_api_me },
    { "/api/presence",                EVHTTP_REQ_POST, wachat_api_presence },
    { "/api/heartbeat",               EVHTTP_REQ_POST, wachat_api_heartbeat },
    { "/api/agents",                  EVHTTP_REQ_GET,  wachat_api_agents },
    { "/api/unanswered",              EVHTTP_REQ_GET,  wachat_api_unanswered },
    { "/api/canned",                  EVHTTP_REQ_GET,  wachat_api_canned },
    { "/api/search",                  EVHTTP_REQ_GET,  wachat_api_search },
    { "/api/kb",                      EVHTTP_REQ_GET,  wachat_api_kb },
    { "/api/kb/ask",                  EVHTTP_REQ_GET,  wachat_api_kb_ask },
    { "/api/kb/entries",              EVHTTP_REQ_POST, wachat_api_kb_add },
    { "/api/kb/also",                 EVHTTP_REQ_POST, wachat_api_kb_also },
    { "/api/conversations",           EVHTTP_REQ_GET,  wachat_api_list },
    { "/api/conversations/*",         EVHTTP_REQ_GET,  wachat_api_show },
    { "/api/conversations/*/reply",   EVHTTP_REQ_POST, wachat_api_reply },
    { "/api/conversations/*/take",    EVHTTP_REQ_POST, wachat_api_take },
    { "/api/conversations/*/resolve", EVHTTP_REQ_POST, wachat_api_resolve },
    { "/api/conversations/*/transfer", EVHTTP_REQ_POST,
      wachat_api_transfer },
    { "/api/conversations/*/note",    EVHTTP_REQ_POST, wachat_api_note },
    { "/api/conversations/*/file",    EVHTTP_REQ_POST, wachat_api_file },
    { "/api/events",                  EVHTTP_REQ_GET,  wachat_api_events },
    { "/api/media/*",                 EVHTTP_REQ_GET,  wachat_api_media },
    { "/api/templates",               EVHTTP_REQ_GET,  wachat_api_templates },
    { "/api/templates/refresh",       EVHTTP_REQ_POST,
      wachat_api_templates_refresh },
    { "/api/conversations/*/template", EVHTTP_REQ_POST,
      wachat_api_template },
    { NULL, 0, NULL }
};


/* --- small helpers ------------------------------------------------------ */


void
wachat_api_arm(struct event *ev, int ms)
{
    struct timeval  tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    event_add(ev, &tv);
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
    case 201: return "Created";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 421: return "Misdirected Request";
    case 503: return "Service Unavailable";
    }

    return "Internal Server Error";
}


/* --- JSON out ----------------------------------------------------------- */


void
wachat_api_kv_reply(yajl_gen g, const char *name, const redisReply *v)
{
    wachat_json_str(g, name);

    if (v == NULL || v->type != REDIS_REPLY_STRING) {
        yajl_gen_null(g);
        return;
    }

    wachat_json_text(g, v->str, v->len);
}


/* --- answering ------------------------------------------------------------ */


void
wachat_api_log(wachat_api_req_t *r, int status, const char *outcome)
{
    wachat_log(WACHAT_LOG_INFO, "api: %.64s %s %.300s: %d %s",
               r->agent ? r->agent->id : (r->who ? r->who : "-"),
               r->method, r->path ? r->path : "?", status, outcome);
}


void
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


void
wachat_api_error(wachat_api_req_t *r, int status, const char *name,
    const char *message)
{
    yajl_gen  g;

    g = yajl_gen_alloc(NULL);

    if (g) {
        yajl_gen_map_open(g);
        wachat_json_kv_text(g, "error", name);
        wachat_json_kv_text(g, "message", message);
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
    case WACHAT_AGENT_ETARGET:      return 400;
    case WACHAT_AGENT_EMEDIA:       return 400;
    }

    return 500;
}


void
wachat_api_agent_error(wachat_api_req_t *r, wachat_agent_rc_e rc)
{
    wachat_api_error(r, wachat_api_agent_status(rc),
                     wachat_agent_error_name(rc),
                     wachat_agent_error_text(rc));
}


void
wachat_api_queued(wachat_api_req_t *r, wachat_agent_rc_e rc, const char *why,
    const char *hist, const char *outcome)
{
    yajl_gen  g;

    if (rc != WACHAT_AGENT_OK) {
        if (why[0]) {
            wachat_api_error(r, 400, wachat_agent_error_name(rc), why);

        } else {
            wachat_api_agent_error(r, rc);
        }
        return;
    }

    if (r->api->kick) {
        r->api->kick(r->api->data, r->conv);
    }

    g = yajl_gen_alloc(NULL);

    if (g) {
        yajl_gen_map_open(g);
        wachat_json_kv_text(g, "hist", hist);
        yajl_gen_map_close(g);
    }

    wachat_api_send(r, 202, g, outcome);

    if (g) {
        yajl_gen_free(g);
    }
}


void
wachat_api_redis_error(wachat_api_req_t *r)
{
    wachat_log(WACHAT_LOG_WARNING, "api: redis: %s", r->api->st->err);
    wachat_api_agent_error(r, WACHAT_AGENT_EREDIS);
}


/*
 * The request's JSON object, or NULL with the error answered.  The size
 * was checked before routing.
 */
yajl_val
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
const char *
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


void
wachat_api_set_vectors(wachat_api_t *api, wachat_api_vectors_pt fn,
    void *data)
{
    if (api) {
        api->vectors = fn;
        api->vectors_data = data;
    }
}


void
wachat_api_set_kb(wachat_api_t *api, const wachat_kb_t *kb,
    wachat_api_reload_pt reload, void *data)
{
    if (api) {
        api->kb = kb;
        api->reload = reload;
        api->reload_data = data;
    }
}


void
wachat_api_set_refresh(wachat_api_t *api, void (*refresh)(void *data),
    void *data)
{
    if (api) {
        api->refresh = refresh;
        api->refresh_data = data;
    }
}


void
wachat_api_set_media(wachat_api_t *api, wachat_media_store_t *media)
{
    if (api) {
        api->media = media;
    }
}


void
wachat_api_set_metrics(wachat_api_t *api, wachat_api_metrics_pt fn,
    void *data)
{
    if (api) {
        api->metrics = fn;
        api->metrics_data = data;
    }
}


static void
wachat_api_serve_metrics(wachat_api_req_t *r, enum evhttp_cmd_type method)
{
    struct evbuffer  *out;

    if (method != EVHTTP_REQ_GET) {
        wachat_api_error(r, 405, "method_not_allowed", "GET /metrics");
        return;
    }

    out = evbuffer_new();
    if (out == NULL) {
        evhttp_send_error(r->req, 503, NULL);
        return;
    }

    r->api->metrics(r->api->metrics_data, out);

    evhttp_add_header(evhttp_request_get_output_headers(r->req),
                      "Content-Type", "text/plain; version=0.0.4");
    evhttp_send_reply(r->req, 200, "OK", out);
    evbuffer_free(out);
}


static void
wachat_api_on_request(struct evhttp_request *req, void *arg)
{
    int                       metrics;
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

    metrics = strcmp(r.path, "/metrics") == 0 && api->metrics;

    if (wachat_api_access(&r, method, metrics) != 0) {
        goto done;
    }

    if (metrics) {
        wachat_api_serve_metrics(&r, method);
        goto done;
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

    /* a file (the bytes themselves) may be larger than any JSON */
    if (len > WACHAT_API_BODY_MAX && !wachat_api_is_file(r.path)) {
        wachat_api_error(&r, 413, "too_large", "the request body is larger "
                         "than 64 KB");
        goto done;
    }

    wachat_api_route(&r, method);

done:

    free(r.path);
    free(r.conv);
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
wachat_api_copy_addr(wachat_redis_addr_t *dst, const wachat_redis_addr_t *src)
{
    return wachat_redis_addr_copy(dst, src);
}


wachat_api_t *
wachat_api_start(struct event_base *base, wachat_redis_t *st,
    const wachat_redis_addr_t *redis, const wachat_config_t *cfg,
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
    api->keepalive = event_new(base, -1, EV_PERSIST, wachat_api_on_keepalive,
                               api);

    if (wachat_api_copy_addr(&api->addr, redis) != 0 || api->listen == NULL
        || api->http == NULL || api->keepalive == NULL
        || wachat_api_feed_init(api) != 0)
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
    if (api == NULL) {
        return;
    }

    wachat_api_events_close(api);

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

    wachat_redis_addr_free(&api->addr);
    free(api->listen);
    free(api);
}
