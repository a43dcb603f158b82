/*
 * api conv: the agent's conversations (list, show, reply, take, resolve).
 *
 * Requests are short: synchronous Redis on the daemon's store link,
 * bounded scans, pipelined reads.  What a take or a reply changes is
 * agents.c's business; these handlers turn it into HTTP and JSON.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

#include "api/api_int.h"
#include "clients/graph.h"
#include "lib/clock.h"
#include "wachat_contract.h"


#define WACHAT_API_LIST_DEFAULT   100
#define WACHAT_API_LIST_MAX       500
#define WACHAT_API_SCAN_MAX       2000          /* conversations looked at */
#define WACHAT_API_PAGE           100
#define WACHAT_API_HISTORY_MAX    500


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
    "if c[1] ~= '" WACHAT_MODE_NAME_AGENT "' or c[2] ~= ARGV[1] then "
    "return 0 end\n"
    "local n = tonumber(c[3] or '0') or 0\n"
    "if n > 0 then redis.call('HSET', KEYS[1], 'unread', 0) end\n"
    "return n\n");


/* --- conversations ------------------------------------------------------ */


/*
 * One command per conversation, pipelined on the store's link: a page of
 * a hundred costs one round trip.  want[i] 0 skips ids[i].
 */
static int
wachat_api_fetch(wachat_redis_t *st, wachat_api_fetch_e what,
    redisReply **ids, size_t n, const unsigned char *want, redisReply **out)
{
    int      rc;
    void    *rep;
    size_t   i;
    char     key[WACHAT_KEY_MAX];

    memset(out, 0, n * sizeof(redisReply *));

    if (st->c == NULL) {
        /* reconnects, as every store command does */
        freeReplyObject(wachat_redis_cmd(st, "PING"));

        if (st->c == NULL) {
            return -1;
        }
    }

    /* replies of posted commands come first on the link */
    if (wachat_redis_drain(st) != 0) {
        goto failed;
    }

    for (i = 0; i < n; i++) {
        if (want && !want[i]) {
            continue;
        }

        if (what == WACHAT_API_FETCH_CONV) {
            wachat_store_key_conv(key, ids[i]->str);
            rc = redisAppendCommand(st->c, "HGETALL %s", key);

        } else {
            wachat_store_key_hist(key, ids[i]->str);
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
    st->unread = 0;

    return -1;
}


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
static void
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


static int
wachat_api_pass(const wachat_api_filter_t *f, const redisReply *c)
{
    const char  *mode, *agent, *unread;

    if (c == NULL || c->type != REDIS_REPLY_ARRAY || c->elements == 0) {
        return 0;       /* gone, or not committed yet */
    }

    mode = wachat_redis_reply_field(c, "mode");
    mode = mode ? mode : WACHAT_MODE_NAME_AI;

    if (f->mode && strcmp(mode, f->mode) != 0) {
        return 0;
    }

    if (f->agent) {
        agent = wachat_redis_reply_field(c, "agent");

        if (strcmp(mode, WACHAT_MODE_NAME_AGENT) != 0 || agent == NULL
            || strcmp(agent, f->agent) != 0)
        {
            return 0;
        }
    }

    unread = wachat_redis_reply_field(c, "unread");

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

    mode = wachat_redis_reply_field(c, "mode");

    if (waiting) {
        if (mode == NULL || strcmp(mode, WACHAT_MODE_NAME_WAITING_AGENT) != 0)
        {
            return 0;
        }

        wachat_api_seen_add(seen, id);

    } else if (mode && strcmp(mode, WACHAT_MODE_NAME_WAITING_AGENT) == 0
               && wachat_api_seen_has(seen, id))
    {
        return 0;
    }

    return (unsigned char) wachat_api_pass(f, c);
}


/*
 * One page of a sorted set of conversations: the reply, with *n its first
 * entries that are ids; NULL when Redis failed.
 */
static redisReply *
wachat_api_page(wachat_redis_t *st, int waiting, int start, size_t *n)
{
    redisReply  *ids;

    /* hiredis' format knows no %zu: the bounds are ints */
    ids = wachat_redis_cmd(st, "%s %s %d %d",
                           waiting ? "ZRANGE" : "ZREVRANGE",
                           waiting ? WACHAT_KEY_WAITING : WACHAT_KEY_CONVS,
                           start, start + WACHAT_API_PAGE - 1);

    if (ids == NULL || ids->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(ids);
        return NULL;
    }

    for (*n = 0; *n < ids->elements && *n < WACHAT_API_PAGE; (*n)++) {
        if (ids->element[*n]->type != REDIS_REPLY_STRING) {
            break;
        }
    }

    return ids;
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
    wachat_redis_t *st = r->api->st;

    for (start = 0; start < WACHAT_API_SCAN_MAX && *listed < f->limit;
         start += WACHAT_API_PAGE)
    {
        ids = wachat_api_page(st, waiting, start, &n);
        if (ids == NULL) {
            return -1;
        }

        got = ids->elements;

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
