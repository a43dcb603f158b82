/*
 * The conversations to list, in the order of one sorted set, a page at a
 * time: each page's conversations and last entries read in one pipeline,
 * kept when they pass the filter and were not listed from the other set.
 */

#include <string.h>

#include "api/api_int.h"
#include "api/api_conv_int.h"
#include "wachat_contract.h"


#define WACHAT_API_SCAN_MAX       2000          /* conversations looked at */
#define WACHAT_API_PAGE           100


typedef enum {
    WACHAT_API_FETCH_CONV = 0,  /* HGETALL of the conversation */
    WACHAT_API_FETCH_LAST       /* its last history entry */
} wachat_api_fetch_e;


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


void
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
int
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
