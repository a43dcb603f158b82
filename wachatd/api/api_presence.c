/*
 * api presence: the agent itself (me, presence, heartbeat) and its
 * colleagues (agents).  What a
 * presence means is agents.c's business; these handlers turn it into HTTP
 * and JSON.
 */

#include "api/api_int.h"


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
    wachat_json_kv_text(g, "id", r->agent->id);

    if (me) {
        wachat_json_kv_text(g, "name", r->agent->name ? r->agent->name
                                                      : r->agent->id);
        wachat_json_kv_text(g, "email", r->agent->email);
    }

    wachat_json_kv_text(g, "presence", p);

    if (me) {
        wachat_json_kv_bool(g, "notify", r->agent->notify);
        wachat_json_kv_int(g, "heartbeat_timeout_ms",
                           r->api->cfg->agent_heartbeat_timeout_ms);
    }

    yajl_gen_map_close(g);

    wachat_api_send(r, 200, g, me ? "ok" : p);
    yajl_gen_free(g);
}


void
wachat_api_me(wachat_api_req_t *r)
{
    wachat_api_gen_presence(r, 1);
}


void
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

    /* the console says so: its heartbeats then keep the presence */
    rc = wachat_agent_presence(r->api->st, r->api->cfg, r->agent->id, p,
                               YAJL_IS_TRUE(yajl_tree_get(body,
                                   (const char *[]) { "console", NULL },
                                   yajl_t_true)));
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


void
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


/* the colleagues: who is there, how busy, for a transfer */
void
wachat_api_agents(wachat_api_req_t *r)
{
    size_t                 i;
    yajl_gen               g;
    redisReply            *x;
    const wachat_agent_t  *a;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        wachat_api_error(r, 503, "no_memory", "the server is out of memory");
        return;
    }

    yajl_gen_map_open(g);
    wachat_json_str(g, "agents");
    yajl_gen_array_open(g);

    for (i = 0; i < r->api->cfg->agents.n; i++) {
        a = &r->api->cfg->agents.items[i];

        x = wachat_redis_cmd(r->api->st, "SCARD wachat:agent:%s:convs",
                             a->id);

        yajl_gen_map_open(g);
        wachat_json_kv_text(g, "id", a->id);
        wachat_json_kv_text(g, "name", a->name ? a->name : a->id);
        wachat_json_kv_text(g, "presence",
                            wachat_agent_effective_presence(r->api->st,
                                                            r->api->cfg,
                                                            a->id));
        wachat_json_kv_int(g, "holds", x && x->type == REDIS_REPLY_INTEGER
                                       ? x->integer : 0);
        wachat_json_kv_int(g, "capacity",
                           wachat_agent_capacity(r->api->cfg, a));
        yajl_gen_map_close(g);

        freeReplyObject(x);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    wachat_api_send(r, 200, g, "ok");
    yajl_gen_free(g);
}
