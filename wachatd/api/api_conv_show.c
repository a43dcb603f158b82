/*
 * One conversation's history for the agent who reads it: its fields, each
 * entry with its delivery status, and what the customer wrote marked read.
 */

#include <string.h>

#include "api/api_int.h"
#include "api/api_conv_int.h"
#include "clients/graph.h"
#include "lib/clock.h"
#include "wachat_contract.h"


#define WACHAT_API_HISTORY_MAX    500


/*
 * KEYS conv; ARGV agent.  The holder reading the conversation has read
 * what the customer wrote; returns how many messages were unread.
 */
static wachat_lua_t  wachat_api_lua_read = wachat_lua(
    "local c = redis.call('HMGET', KEYS[1], 'mode', 'agent', 'unread')\n"
    "if c[1] ~= '" WACHAT_MODE_NAME_AGENT "' or c[2] ~= ARGV[1] then "
    "return 0 end\n"
    "local n = tonumber(c[3] or '0') or 0\n"
    "if n > 0 then redis.call('HSET', KEYS[1], 'unread', 0) end\n"
    "return n\n");


/* an outbound entry's delivery: through the wamid it was sent as */
static void
wachat_api_gen_status(yajl_gen g, const redisReply *st, const char *hist_id)
{
    size_t        n;
    char          key[128], status[32], code[32];
    const char   *h, *v, *p;

    snprintf(key, sizeof(key), "h:%s", hist_id);
    h = wachat_redis_reply_field(st, key);
    code[0] = '\0';

    /* the wamid it was sent as: what a customer's reaction names */
    if (h && strncmp(h, "failed|", 7) != 0) {
        wachat_json_kv_text(g, "wamid", h);
    }

    if (h == NULL) {
        snprintf(status, sizeof(status), "queued");

    } else if (strncmp(h, "failed|", 7) == 0) {
        snprintf(status, sizeof(status), "failed");
        p = h + 7;
        n = strcspn(p, "|");
        snprintf(code, sizeof(code), "%.*s", (int) n, p);

    } else if ((v = wachat_redis_reply_field(st, h)) == NULL) {
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

    wachat_json_kv_text(g, "status", status);

    if (code[0] && strcmp(status, "failed") == 0) {
        wachat_json_kv_text(g, "error_code", code);

        /* 131047, 132001, ...: what it means, for the agent */
        if (wachat_graph_explain(atol(code))) {
            wachat_json_kv_text(g, "error_text",
                                wachat_graph_explain(atol(code)));
        }
    }
}


static void
wachat_api_gen_entry(yajl_gen g, const redisReply *e, const redisReply *st)
{
    int                 in, note;
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
    dir = wachat_redis_reply_field(kv, "dir");
    in = dir && strcmp(dir, "in") == 0;
    note = dir && strcmp(dir, "note") == 0;

    yajl_gen_map_open(g);
    wachat_json_kv_text(g, "id", e->element[0]->str);
    wachat_json_kv_text(g, "dir", in ? "in" : note ? "note" : "out");
    wachat_api_kv_reply(g, "who", wachat_redis_reply_value(kv, "who"));
    wachat_json_kv_int(g, "ts_ms", wachat_store_entry_ms(kv));
    wachat_api_kv_reply(g, "text", wachat_redis_reply_value(kv, "text"));

    if (in) {
        /* the wamid: what a reaction names */
        wachat_api_kv_reply(g, "wamid", wachat_redis_reply_value(kv, "id"));
        wachat_api_kv_reply(g, "type", wachat_redis_reply_value(kv, "type"));
        wachat_api_kv_reply(g, "name", wachat_redis_reply_value(kv, "name"));
        wachat_api_kv_reply(g, "payload", wachat_redis_reply_value(kv, "payload"));
        wachat_api_gen_media(g, kv);

    } else if (note) {
        wachat_json_kv_text(g, "type", "note");
        wachat_api_kv_reply(g, "to", wachat_redis_reply_value(kv, "to"));

    } else {
        /* an agent's file says what it is; a reply is text or buttons */
        if (wachat_redis_reply_field(kv, "type")) {
            wachat_api_kv_reply(g, "type", wachat_redis_reply_value(kv, "type"));

        } else {
            wachat_json_kv_text(g, "type",
                                wachat_redis_reply_value(kv, "button1")
                                ? "interactive" : "text");
        }

        wachat_api_gen_media(g, kv);

        /* where an AI reply came from: the business sees where it fails */
        wachat_api_kv_reply(g, "source", wachat_redis_reply_value(kv, "source"));
        wachat_api_kv_reply(g, "context",
                            wachat_redis_reply_value(kv, "context"));
        wachat_json_str(g, "score");

        if (wachat_redis_reply_field(kv, "score")) {
            wachat_json_score(g, atof(wachat_redis_reply_field(kv, "score")));

        } else {
            yajl_gen_null(g);
        }
    }

    wachat_json_str(g, "buttons");
    yajl_gen_array_open(g);

    for (k = 1; k <= 3; k++) {
        snprintf(name, sizeof(name), "button%u", k);
        b = wachat_redis_reply_value(kv, name);

        if (b) {
            wachat_json_text(g, b->str, b->len);
        }
    }

    yajl_gen_array_close(g);

    if (!in && !note) {
        wachat_api_gen_status(g, st, e->element[0]->str);
    }

    yajl_gen_map_close(g);
}


void
wachat_api_show(wachat_api_req_t *r)
{
    size_t           i;
    yajl_gen         g;
    redisReply      *c, *hist, *st, *x;
    const char      *argv[2];
    wachat_redis_t  *s = r->api->st;
    char             key[WACHAT_KEY_MAX];

    /* the holder looking at it has read it */
    wachat_store_key_conv(key, r->conv);
    argv[0] = key;
    argv[1] = r->agent->id;
    x = wachat_redis_eval(s, &wachat_api_lua_read, 1, 2, argv, NULL);

    if (x && x->type == REDIS_REPLY_INTEGER && x->integer > 0) {
        wachat_agent_feed(s, "read", r->conv, "agent", r->agent->id, NULL);
    }

    freeReplyObject(x);

    c = wachat_redis_cmd(s, "HGETALL %s", key);

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

    wachat_store_key_hist(key, r->conv);
    hist = wachat_redis_cmd(s, "XREVRANGE %s + - COUNT %d", key,
                            WACHAT_API_HISTORY_MAX);
    wachat_store_key_status(key, r->conv);
    st = wachat_redis_cmd(s, "HGETALL %s", key);

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
    wachat_api_gen_conv(g, r->api, r->conv, c, hist, wachat_clock_ms());

    wachat_json_str(g, "history");
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
