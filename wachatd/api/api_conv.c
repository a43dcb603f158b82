/*
 * api conv: the agent's conversations (list, show, reply, take, resolve).
 * Here the listing and its filter, and the fields every listing of a
 * conversation has; the scan of the sorted sets is api_conv_scan.c's, one
 * conversation's history api_conv_show.c's, what an agent does to it
 * api_conv_actions.c's.
 *
 * Requests are short: synchronous Redis on the daemon's store link,
 * bounded scans, pipelined reads.  What a take or a reply changes is
 * agents.c's business; these handlers turn it into HTTP and JSON.
 */

#include <string.h>

#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

#include "api/api_int.h"
#include "api/api_conv_int.h"
#include "lib/clock.h"
#include "wachat_contract.h"


#define WACHAT_API_LIST_DEFAULT   100
#define WACHAT_API_LIST_MAX       500


/* --- conversations ------------------------------------------------------ */


/* "name": the number a field holds, or null without the field */
static void
wachat_api_kv_num(yajl_gen g, const char *name, const char *v)
{
    wachat_json_str(g, name);

    if (v) {
        yajl_gen_integer(g, atoll(v));

    } else {
        yajl_gen_null(g);
    }
}


/*
 * "last_text", "last_dir", "last_at": the newest history entry, from an
 * XREVRANGE ... COUNT 1 reply (or NULL).
 */
static void
wachat_api_gen_last(yajl_gen g, const redisReply *last)
{
    const redisReply  *kv, *text;

    kv = NULL;

    if (last && last->type == REDIS_REPLY_ARRAY && last->elements > 0
        && last->element[0]->type == REDIS_REPLY_ARRAY
        && last->element[0]->elements == 2)
    {
        kv = last->element[0]->element[1];
    }

    text = wachat_redis_reply_value(kv, "text");

    if (text || kv == NULL) {
        wachat_api_kv_reply(g, "last_text", text);

    } else {
        /* an image, a location...: say what it was */
        char         what[64];
        const char  *type = wachat_redis_reply_field(kv, "type");

        snprintf(what, sizeof(what), "[%s]", type ? type : "message");
        wachat_json_kv_text(g, "last_text", what);
    }

    wachat_api_kv_reply(g, "last_dir", wachat_redis_reply_value(kv, "dir"));

    wachat_json_str(g, "last_at");
    if (kv) {
        yajl_gen_integer(g, wachat_store_entry_ms(kv));
    } else {
        yajl_gen_null(g);
    }
}


/*
 * The fields every listing of a conversation has, into an open map.  last
 * is its newest history entry (XREVRANGE ... COUNT 1 reply) or NULL.
 */
void
wachat_api_gen_conv(yajl_gen g, wachat_api_t *api, const char *id,
    const redisReply *c, const redisReply *last, long long now)
{
    long long    closes, unread;
    const char  *mode, *ts;

    mode = wachat_redis_reply_field(c, "mode");
    ts = wachat_redis_reply_field(c, "last_in_ts");
    unread = wachat_redis_reply_field(c, "unread")
             ? atoll(wachat_redis_reply_field(c, "unread")) : 0;

    wachat_json_kv_text(g, "id", id);
    wachat_api_kv_reply(g, "name", wachat_redis_reply_value(c, "name"));
    wachat_api_kv_reply(g, "wa_id", wachat_redis_reply_value(c, "wa_id"));
    wachat_api_kv_reply(g, "user_id", wachat_redis_reply_value(c, "user_id"));
    wachat_api_kv_reply(g, "phone_number_id",
                        wachat_redis_reply_value(c, "phone_number_id"));
    wachat_json_kv_text(g, "mode", mode ? mode : WACHAT_MODE_NAME_AI);
    wachat_api_kv_reply(g, "agent", wachat_redis_reply_value(c, "agent"));
    wachat_json_kv_int(g, "unread", unread > 0 ? unread : 0);

    wachat_api_gen_last(g, last);

    if (ts) {
        closes = atoll(ts) * 1000 + api->cfg->window_ms;
        wachat_json_kv_int(g, "window_closes_at", closes);
        wachat_json_kv_int(g, "window_left_ms",
                           closes > now ? closes - now : 0);

    } else {
        wachat_json_str(g, "window_closes_at");
        yajl_gen_null(g);
        wachat_json_kv_int(g, "window_left_ms", 0);
    }

    wachat_api_kv_num(g, "waiting_since",
                      wachat_redis_reply_field(c, "waiting_since"));
    wachat_api_kv_num(g, "agent_since", wachat_redis_reply_field(c, "agent_since"));
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

    if (f->mode && wachat_mode_lookup(f->mode, strlen(f->mode)) < 0) {
        wachat_api_error(r, 400, "bad_input", "mode is " WACHAT_MODE_NAME_AI
                         ", " WACHAT_MODE_NAME_WAITING_AGENT " or "
                         WACHAT_MODE_NAME_AGENT);
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


void
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
    now = wachat_clock_ms();
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
