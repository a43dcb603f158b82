/*
 * api templates: the account's approved templates (from the cache wachatd
 * keeps in Redis), a refresh on demand, and an agent's template message:
 * what the console offers once the 24-hour window has closed.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "api/api_int.h"


#define WACHAT_API_TEMPLATE_PARAMS  32


/* GET /api/templates: the cache as it is, or an empty list */
void
wachat_api_templates(wachat_api_req_t *r)
{
    redisReply        *c;
    struct evbuffer   *out;
    struct evkeyvalq  *h;

    c = wachat_redis_cmd(r->api->st, "GET %s", WACHAT_KEY_TEMPLATES);

    if (c == NULL || (c->type != REDIS_REPLY_STRING
                      && c->type != REDIS_REPLY_NIL))
    {
        freeReplyObject(c);
        wachat_api_redis_error(r);
        return;
    }

    out = evbuffer_new();
    if (out == NULL) {
        freeReplyObject(c);
        wachat_api_error(r, 503, "no_memory", "the server is out of memory");
        return;
    }

    /* written by wachat_templates_save(): our own JSON */
    if (c->type == REDIS_REPLY_STRING) {
        evbuffer_add(out, c->str, c->len);

    } else {
        /* waba_id is digits (checked at load): no escaping needed */
        if (r->api->cfg->waba_id[0]) {
            evbuffer_add_printf(out, "{\"fetched_ms\":null,\"waba_id\":"
                                "\"%s\",\"templates\":[]}",
                                r->api->cfg->waba_id);
        } else {
            evbuffer_add_printf(out, "{\"fetched_ms\":null,\"waba_id\":"
                                "null,\"templates\":[]}");
        }
    }

    evbuffer_add(out, "\n", 1);
    freeReplyObject(c);

    h = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(r->req, 200, "OK", out);
    evbuffer_free(out);

    wachat_api_log(r, 200, "templates");
}


/* POST /api/templates/refresh: wachatd asks the Graph API again */
void
wachat_api_templates_refresh(wachat_api_req_t *r)
{
    yajl_gen  g;
    char      waba[40];

    if (r->api->refresh == NULL
        || wachat_templates_waba(r->api->st, r->api->cfg, waba, sizeof(waba))
           != 0)
    {
        wachat_api_error(r, 409, "no_waba_id", "templates need waba_id in "
                         "wachatd's config (the WhatsApp Business Account "
                         "id), or a webhook that names the account");
        return;
    }

    r->api->refresh(r->api->refresh_data);

    g = yajl_gen_alloc(NULL);

    if (g) {
        yajl_gen_map_open(g);
        wachat_json_kv_bool(g, "refreshing", 1);
        yajl_gen_map_close(g);
    }

    wachat_api_send(r, 202, g, "templates refresh");

    if (g) {
        yajl_gen_free(g);
    }
}


/*
 * POST /api/conversations/{id}/template {"name", "language", "params":
 * ["...", ...]}: checked against the template before the call.
 */
void
wachat_api_template(wachat_api_req_t *r)
{
    size_t              i, n;
    yajl_val            body, list;
    const char         *name, *lang, *params[WACHAT_API_TEMPLATE_PARAMS];
    wachat_agent_rc_e   rc;
    char                hist[64], why[512];

    static const char  *params_p[] = { "params", NULL };

    body = wachat_api_body(r);
    if (body == NULL) {
        return;
    }

    name = wachat_api_body_str(r, body, "name", "give the template's "
                               "\"name\"");
    lang = name ? wachat_api_body_str(r, body, "language", "give the "
                                      "template's \"language\"")
                : NULL;

    if (name == NULL || lang == NULL) {
        yajl_tree_free(body);
        return;
    }

    list = yajl_tree_get(body, params_p, yajl_t_array);
    n = list ? list->u.array.len : 0;

    if (n > WACHAT_API_TEMPLATE_PARAMS) {
        yajl_tree_free(body);
        wachat_api_error(r, 400, "bad_input", "too many parameters");
        return;
    }

    for (i = 0; i < n; i++) {
        if (!YAJL_IS_STRING(list->u.array.values[i])) {
            yajl_tree_free(body);
            wachat_api_error(r, 400, "bad_input", "\"params\" must be "
                             "strings");
            return;
        }

        params[i] = YAJL_GET_STRING(list->u.array.values[i]);
    }

    hist[0] = '\0';
    rc = wachat_agent_send_template(r->api->st, r->api->cfg, r->agent->id,
                                    r->conv, name, lang, params, n, hist,
                                    sizeof(hist), why, sizeof(why));
    yajl_tree_free(body);

    wachat_api_queued(r, rc, why, hist, "template queued");
}
