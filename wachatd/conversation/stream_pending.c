/*
 * stream_pending: the group's pending entries: a dead consumer's taken
 * back, whether a conversation has an older one still out, and the stream
 * trimmed below the oldest entry any group still needs.
 */

#include <stdio.h>
#include <string.h>

#include "conversation/event.h"
#include "lib/log.h"
#include "conversation/stream_int.h"


#define WACHAT_PENDING_PAGE   64
#define WACHAT_PENDING_PAGES  16


static int wachat_stream_pending_is_other(wachat_stream_t *s,
    const char *id, const char *conv_id);
static void wachat_stream_forget_idle(wachat_stream_t *s);
static const redisReply *wachat_stream_info_int(const redisReply *kv,
    const char *name);


/*
 * KEYS stream; ARGV group consumer.  The pending check and the deletion
 * in one step: XGROUP DELCONSUMER drops what the consumer still holds
 * from the pending list, and those entries would never be read again.
 */
static wachat_lua_t  wachat_lua_forget = wachat_lua(
    "local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1,\n"
    "                     ARGV[2])\n"
    "if #p > 0 then return 0 end\n"
    "return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])\n"
    "       >= 0 and 1 or 0\n");


void
wachat_stream_on_reclaim(evutil_socket_t fd, short what, void *arg)
{
    size_t            i;
    redisReply       *r;
    wachat_stream_t  *s = arg;
    char              start[64];

    (void) fd;
    (void) what;

    snprintf(start, sizeof(start), "0-0");

    /* bounded: a few pages per tick, the rest next tick */
    for (i = 0; i < 16 && !s->stopping; i++) {
        r = wachat_redis_cmd(s->store, "XAUTOCLAIM %s %s %s %d %s COUNT 64",
                             s->conf.stream, s->conf.group, s->conf.consumer,
                             s->conf.claim_idle_ms, start);

        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
            if (r && r->type == REDIS_REPLY_ERROR) {
                wachat_log(WACHAT_LOG_WARNING, "stream: XAUTOCLAIM: %s",
                           r->str);
            }
            freeReplyObject(r);
            break;
        }

        if (r->element[1]->type == REDIS_REPLY_ARRAY) {
            s->stats.reclaimed += r->element[1]->elements;
            wachat_stream_entries(s, r->element[1]);
        }

        /* Redis 7: what was deleted while pending is no longer pending */
        if (r->elements >= 3) {
            wachat_stream_deleted(s, r->element[2]);
        }

        snprintf(start, sizeof(start), "%s",
                 r->element[0]->type == REDIS_REPLY_STRING
                 ? r->element[0]->str : "0-0");

        freeReplyObject(r);

        if (strcmp(start, "0-0") == 0) {
            break;
        }
    }

    if (!s->stopping) {
        wachat_stream_arm(s->reclaim, s->conf.claim_idle_ms / 2 + 1);
    }
}


/*
 * The webhook stream would grow for ever: entries every group has read and
 * acknowledged are deleted (each event lives on in its conversation).
 * MINID = the oldest entry some group still needs.
 */

void
wachat_stream_on_trim(evutil_socket_t fd, short what, void *arg)
{
    size_t            i, k;
    redisReply       *groups, *g, *p, *t;
    wachat_stream_t  *s = arg;
    const char       *name, *last;
    char              minid[64];

    (void) fd;
    (void) what;

    minid[0] = '\0';
    groups = wachat_redis_cmd(s->store, "XINFO GROUPS %s", s->conf.stream);

    for (i = 0; groups && groups->type == REDIS_REPLY_ARRAY
                && i < groups->elements; i++)
    {
        g = groups->element[i];
        name = NULL;
        last = NULL;

        for (k = 0; g->type == REDIS_REPLY_ARRAY && k + 1 < g->elements;
             k += 2)
        {
            if (g->element[k + 1]->type != REDIS_REPLY_STRING) {
                continue;
            }

            if (strcmp(g->element[k]->str, "name") == 0) {
                name = g->element[k + 1]->str;

            } else if (strcmp(g->element[k]->str, "last-delivered-id") == 0) {
                last = g->element[k + 1]->str;
            }
        }

        if (name == NULL || last == NULL) {
            minid[0] = '\0';
            break;
        }

        p = wachat_redis_cmd(s->store, "XPENDING %s %s", s->conf.stream,
                             name);

        if (p && p->type == REDIS_REPLY_ARRAY && p->elements >= 2
            && p->element[0]->type == REDIS_REPLY_INTEGER
            && p->element[0]->integer > 0
            && p->element[1]->type == REDIS_REPLY_STRING
            && wachat_event_id_cmp(p->element[1]->str, last) < 0)
        {
            last = p->element[1]->str;
        }

        if (minid[0] == '\0' || wachat_event_id_cmp(last, minid) < 0) {
            snprintf(minid, sizeof(minid), "%s", last);
        }

        freeReplyObject(p);
    }

    freeReplyObject(groups);

    wachat_stream_forget_idle(s);

    if (minid[0] && strcmp(minid, "0-0") != 0) {
        t = wachat_redis_cmd(s->store, "XTRIM %s MINID ~ %s", s->conf.stream,
                             minid);
        if (t && t->type == REDIS_REPLY_INTEGER && t->integer > 0) {
            wachat_log(WACHAT_LOG_DEBUG, "stream: trimmed %lld entries",
                       t->integer);
        }
        freeReplyObject(t);
    }

    if (!s->stopping) {
        wachat_stream_arm(s->trim, WACHAT_TRIM_MS);
    }
}


/*
 * Only the pending entries older than the head can come before it, and
 * only those of the same conversation matter: a consumer that died with a
 * batch in hand holds up its own conversations until the batch is
 * reclaimed, not everyone's.  There are few such entries (a batch in
 * transfer, or a dead consumer's); beyond a page, wait.
 */

int
wachat_stream_is_settled(wachat_stream_t *s, const char *stream_id,
    const char *conv_id)
{
    int          rc, page;
    size_t       i, n;
    redisReply  *r;
    char         start[64], end[64];

    rc = 1;
    snprintf(start, sizeof(start), "-");
    snprintf(end, sizeof(end), "(%s", stream_id);

    for (page = 0; page < WACHAT_PENDING_PAGES && rc == 1; page++) {
        r = wachat_redis_cmd(s->store, "XPENDING %s %s %s %s %d",
                             s->conf.stream, s->conf.group, start, end,
                             WACHAT_PENDING_PAGE);

        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return -1;
        }

        for (i = 0; i < r->elements && rc == 1; i++) {
            if (r->element[i]->type != REDIS_REPLY_ARRAY
                || r->element[i]->elements < 1
                || r->element[i]->element[0]->type != REDIS_REPLY_STRING)
            {
                continue;
            }

            rc = wachat_stream_pending_is_other(s,
                     r->element[i]->element[0]->str, conv_id);
            snprintf(start, sizeof(start), "(%s",
                     r->element[i]->element[0]->str);
        }

        n = r->elements;
        freeReplyObject(r);

        if (n < WACHAT_PENDING_PAGE) {
            return rc;
        }
    }

    /* more older entries pending than we look at: wait, to be safe */
    return rc == 1 ? 0 : rc;
}


/* 1: the pending entry is not of this conversation, 0: it is, -1: error */
static int
wachat_stream_pending_is_other(wachat_stream_t *s, const char *id,
    const char *conv_id)
{
    int              rc;
    redisReply      *e;
    wachat_event_t   ev;

    e = wachat_redis_cmd(s->store, "XRANGE %s %s %s", s->conf.stream, id,
                         id);

    if (e == NULL || e->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(e);
        return -1;
    }

    rc = 1;

    if (e->elements == 1 && e->element[0]->type == REDIS_REPLY_ARRAY
        && e->element[0]->elements == 2
        && e->element[0]->element[0]->type == REDIS_REPLY_STRING
        && wachat_event_decode(&ev, e->element[0]->element[0]->str,
                               e->element[0]->element[1]) == 0
        && strcmp(ev.conv_id, conv_id) == 0)
    {
        rc = 0;
    }

    freeReplyObject(e);

    return rc;
}


int
wachat_stream_is_pending(wachat_stream_t *s, const char *id)
{
    int          rc;
    redisReply  *r;

    r = wachat_redis_cmd(s->store, "XPENDING %s %s %s %s 1", s->conf.stream,
                         s->conf.group, id, id);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        if (r && r->type == REDIS_REPLY_ERROR) {
            snprintf(s->store->err, sizeof(s->store->err), "XPENDING: %s",
                     r->str);
        }
        freeReplyObject(r);
        return -1;
    }

    rc = r->elements > 0;
    freeReplyObject(r);

    return rc;
}


int
wachat_stream_forget_consumer(wachat_stream_t *s, const char *name)
{
    int          rc;
    redisReply  *r;
    const char  *argv[3];

    argv[0] = s->conf.stream;
    argv[1] = s->conf.group;
    argv[2] = name;

    r = wachat_redis_eval(s->store, &wachat_lua_forget, 1, 3, argv, NULL);

    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        if (r && r->type == REDIS_REPLY_ERROR) {
            snprintf(s->store->err, sizeof(s->store->err), "%s", r->str);
        }
        freeReplyObject(r);
        return -1;
    }

    rc = (int) r->integer;
    freeReplyObject(r);

    return rc;
}


/*
 * The consumers of earlier runs (killed, or stopped holding entries) stay
 * in the group once the reclaim took what they held: the ones idle for
 * longer than a live reader ever is (its read blocks, its watchdog then
 * reconnects) go.  A live one taken by mistake loses nothing: it holds
 * nothing, and its next read makes it again.
 */
static void
wachat_stream_forget_idle(wachat_stream_t *s)
{
    size_t              i;
    long long           idle_max;
    redisReply         *r;
    const redisReply   *name, *pending, *idle;

    idle_max = (long long) s->conf.claim_idle_ms + WACHAT_READ_BLOCK_MS
               + 5000;

    r = wachat_redis_cmd(s->store, "XINFO CONSUMERS %s %s", s->conf.stream,
                         s->conf.group);

    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        name = wachat_redis_reply_value(r->element[i], "name");
        pending = wachat_stream_info_int(r->element[i], "pending");
        idle = wachat_stream_info_int(r->element[i], "idle");

        if (name == NULL || pending == NULL || idle == NULL
            || pending->integer != 0 || idle->integer <= idle_max
            || strcmp(name->str, s->conf.consumer) == 0)
        {
            continue;
        }

        if (wachat_stream_forget_consumer(s, name->str) == 1) {
            wachat_log(WACHAT_LOG_INFO, "stream: consumer %s, idle for %lld "
                       "ms and holding nothing, left the group", name->str,
                       idle->integer);
        }
    }

    freeReplyObject(r);
}


/* an integer field of an XINFO entry (a flat field/value array), or NULL */
static const redisReply *
wachat_stream_info_int(const redisReply *kv, const char *name)
{
    size_t  i;

    for (i = 0; kv->type == REDIS_REPLY_ARRAY && i + 1 < kv->elements;
         i += 2)
    {
        if (kv->element[i]->type == REDIS_REPLY_STRING
            && strcmp(kv->element[i]->str, name) == 0)
        {
            return kv->element[i + 1]->type == REDIS_REPLY_INTEGER
                   ? kv->element[i + 1] : NULL;
        }
    }

    return NULL;
}
