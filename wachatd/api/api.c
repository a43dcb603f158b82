/*
 * api: the agent API on libevent's evhttp: the plumbing of a request and
 * its routing.  The listener is in api_listen.c, the JSON answers every
 * handler shares in api_answer.c; the handlers are in api_conv.c (the
 * agent, its conversations) and api_events.c (the live feed).
 *
 * nginx authenticates the agent and sets X-Wachat-Agent; the header is
 * trusted only from nginx: the listener is a loopback address or a unix
 * socket, and api_access.c checks the secret nginx adds and the Host.
 */

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "api/api_int.h"


#define WACHAT_API_BODY_MAX       (64 * 1024)   /* JSON request bodies */
#define WACHAT_API_CONV_ID_MAX    200


typedef void (*wachat_api_handler_pt)(wachat_api_req_t *r);

/* "*" in a path stands for one conversation id */
typedef struct {
    const char                 *path;
    enum evhttp_cmd_type        method;
    wachat_api_handler_pt       handler;
} wachat_api_route_t;


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


void
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
