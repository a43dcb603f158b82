/*
 * api_answer: the JSON answers every handler shares (the reply, an error,
 * a queued message) and the request body read as JSON; apart from
 * routing, as the handlers need only these.
 */

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "api/api_int.h"
#include "lib/log.h"


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
