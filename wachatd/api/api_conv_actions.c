/*
 * What an agent does to a conversation, over HTTP: reply, transfer, note,
 * take, resolve.  agents.c makes the change; these handlers read the
 * request and answer {"id", "mode", ...}.
 */

#include "api/api_int.h"
#include "api/api_conv_int.h"
#include "wachat_contract.h"


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
    wachat_json_kv_text(g, "id", r->conv);

    if (mode) {
        wachat_json_kv_text(g, "mode", mode);
    }

    if (k) {
        wachat_json_kv_text(g, k, v);
    }

    yajl_gen_map_close(g);

    wachat_api_send(r, status, g, "ok");
    yajl_gen_free(g);
}


void
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
    wachat_json_kv_bool(g, "queued", 1);
    wachat_json_kv_text(g, "hist", hist);
    yajl_gen_map_close(g);

    wachat_api_send(r, 202, g, "queued");
    yajl_gen_free(g);
}


void
wachat_api_transfer(wachat_api_req_t *r)
{
    yajl_val            body;
    const char         *to;
    wachat_agent_rc_e   rc;

    body = wachat_api_body(r);
    if (body == NULL) {
        return;
    }

    to = wachat_api_body_str(r, body, "to", "send {\"to\": \"<agent id>\"}, "
                             "the colleague who takes it over");

    if (to == NULL) {
        yajl_tree_free(body);
        return;
    }

    rc = wachat_agent_transfer(r->api->st, r->api->cfg, r->agent->id,
                               r->conv, to);

    if (rc != WACHAT_AGENT_OK) {
        yajl_tree_free(body);
        wachat_api_agent_error(r, rc);
        return;
    }

    wachat_api_done(r, 200, WACHAT_MODE_NAME_AGENT, "agent", to);
    yajl_tree_free(body);
}


void
wachat_api_note(wachat_api_req_t *r)
{
    yajl_val            body;
    const char         *text;
    wachat_agent_rc_e   rc;

    body = wachat_api_body(r);
    if (body == NULL) {
        return;
    }

    text = wachat_api_body_str(r, body, "text", "send {\"text\": \"...\"}, "
                               "the note for the other agents");

    if (text == NULL) {
        yajl_tree_free(body);
        return;
    }

    rc = wachat_agent_note(r->api->st, r->api->cfg, r->agent->id, r->conv,
                           text);
    yajl_tree_free(body);

    if (rc != WACHAT_AGENT_OK) {
        wachat_api_agent_error(r, rc);
        return;
    }

    wachat_api_done(r, 201, NULL, NULL, NULL);
}


void
wachat_api_take(wachat_api_req_t *r)
{
    wachat_agent_rc_e  rc;

    rc = wachat_agent_take(r->api->st, r->api->cfg, r->agent->id, r->conv);

    if (rc != WACHAT_AGENT_OK) {
        wachat_api_agent_error(r, rc);
        return;
    }

    wachat_api_done(r, 200, WACHAT_MODE_NAME_AGENT, "agent", r->agent->id);
}


void
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

    wachat_api_done(r, 200, WACHAT_MODE_NAME_AI, NULL, NULL);
}
