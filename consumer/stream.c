/*
 * stream: XREADGROUP on an async connection, transfer into inboxes,
 * XAUTOCLAIM of what a dead consumer left, and the scan for orphaned work.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "event.h"
#include "log.h"
#include "stream.h"


#define WACHAT_READ_COUNT     64
#define WACHAT_READ_BLOCK_MS  2000


struct wachat_stream_s {
    struct event_base          *base;
    wachat_store_t             *store;
    const wachat_store_addr_t  *addr;
    wachat_stream_conf_t        conf;
    redisAsyncContext          *ac;
    struct event               *reconnect;
    struct event               *reclaim;
    struct event               *scan;
    int                         stopping;
    int                         reading;
    wachat_stream_stats_t       stats;
};


static void wachat_stream_connect(wachat_stream_t *s);
static void wachat_stream_connected(const redisAsyncContext *ac, int status);
static void wachat_stream_disconnected(const redisAsyncContext *ac,
    int status);
static void wachat_stream_read(wachat_stream_t *s);
static void wachat_stream_on_read(redisAsyncContext *ac, void *r,
    void *data);
static int wachat_stream_create_group(wachat_stream_t *s);
static void wachat_stream_entries(wachat_stream_t *s,
    const redisReply *entries);
static int wachat_stream_transfer(wachat_stream_t *s,
    const redisReply *entry);
static void wachat_stream_on_reconnect(evutil_socket_t fd, short what,
    void *arg);
static void wachat_stream_on_reclaim(evutil_socket_t fd, short what,
    void *arg);
static void wachat_stream_on_scan(evutil_socket_t fd, short what,
    void *arg);
static void wachat_stream_arm(struct event *ev, int ms);


wachat_stream_t *
wachat_stream_start(struct event_base *base, wachat_store_t *store,
    const wachat_store_addr_t *addr, const wachat_stream_conf_t *conf,
    char *err, size_t errlen)
{
    wachat_stream_t  *s;

    s = calloc(1, sizeof(wachat_stream_t));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    s->base = base;
    s->store = store;
    s->addr = addr;
    s->conf = *conf;

    /* own copies: a reload frees the config these came from */
    s->conf.stream = strdup(conf->stream);
    s->conf.group = strdup(conf->group);
    s->conf.consumer = strdup(conf->consumer);

    if (s->conf.stream == NULL || s->conf.group == NULL
        || s->conf.consumer == NULL)
    {
        snprintf(err, errlen, "out of memory");
        wachat_stream_free(s);
        return NULL;
    }

    s->reconnect = evtimer_new(base, wachat_stream_on_reconnect, s);
    s->reclaim = evtimer_new(base, wachat_stream_on_reclaim, s);
    s->scan = evtimer_new(base, wachat_stream_on_scan, s);

    if (s->reconnect == NULL || s->reclaim == NULL || s->scan == NULL) {
        snprintf(err, errlen, "out of memory");
        wachat_stream_free(s);
        return NULL;
    }

    if (wachat_stream_create_group(s) != 0) {
        snprintf(err, errlen, "%s", s->store->err);
        wachat_stream_free(s);
        return NULL;
    }

    wachat_stream_connect(s);

    /* at start: take back at once what this consumer name left pending */
    wachat_stream_arm(s->reclaim, 0);
    wachat_stream_arm(s->scan, 0);

    return s;
}


void
wachat_stream_stop(wachat_stream_t *s)
{
    s->stopping = 1;

    evtimer_del(s->reconnect);
    evtimer_del(s->reclaim);
    evtimer_del(s->scan);

    if (s->ac && !s->reading) {
        redisAsyncDisconnect(s->ac);
    }
}


void
wachat_stream_free(wachat_stream_t *s)
{
    if (s == NULL) {
        return;
    }

    s->stopping = 1;

    if (s->ac) {
        s->ac->data = NULL;
        redisAsyncFree(s->ac);
        s->ac = NULL;
    }

    if (s->reconnect) {
        event_free(s->reconnect);
    }

    if (s->reclaim) {
        event_free(s->reclaim);
    }

    if (s->scan) {
        event_free(s->scan);
    }

    free((char *) s->conf.stream);
    free((char *) s->conf.group);
    free((char *) s->conf.consumer);
    free(s);
}


const wachat_stream_stats_t *
wachat_stream_stats(wachat_stream_t *s)
{
    return &s->stats;
}


static void
wachat_stream_arm(struct event *ev, int ms)
{
    struct timeval  tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    evtimer_add(ev, &tv);
}


static void
wachat_stream_connect(wachat_stream_t *s)
{
    redisAsyncContext  *ac;

    if (s->addr->unix_path) {
        ac = redisAsyncConnectUnix(s->addr->unix_path);

    } else {
        ac = redisAsyncConnect(s->addr->host, s->addr->port);
    }

    if (ac == NULL || ac->err) {
        wachat_log(WACHAT_LOG_WARNING, "stream: cannot connect to redis: %s",
                   ac ? ac->errstr : "out of memory");
        if (ac) {
            redisAsyncFree(ac);
        }
        wachat_stream_arm(s->reconnect, 1000);
        return;
    }

    ac->data = s;
    s->ac = ac;

    redisLibeventAttach(ac, s->base);
    redisAsyncSetConnectCallback(ac, wachat_stream_connected);
    redisAsyncSetDisconnectCallback(ac, wachat_stream_disconnected);

    if (s->addr->password) {
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s", s->addr->password);
    }

    if (s->addr->db) {
        redisAsyncCommand(ac, NULL, NULL, "SELECT %d", s->addr->db);
    }

    wachat_stream_read(s);
}


static void
wachat_stream_connected(const redisAsyncContext *ac, int status)
{
    wachat_stream_t  *s = ac->data;

    if (s == NULL) {
        return;
    }

    if (status != REDIS_OK) {
        wachat_log(WACHAT_LOG_WARNING, "stream: redis connect failed: %s, "
                   "retrying", ac->errstr);
        s->ac = NULL;
        s->reading = 0;

        if (!s->stopping) {
            wachat_stream_arm(s->reconnect, 1000);
        }
    }
}


static void
wachat_stream_disconnected(const redisAsyncContext *ac, int status)
{
    wachat_stream_t  *s = ac->data;

    if (s == NULL) {
        return;
    }

    s->ac = NULL;
    s->reading = 0;

    if (s->stopping) {
        return;
    }

    wachat_log(WACHAT_LOG_WARNING, "stream: lost redis (%s), reconnecting",
               status == REDIS_OK ? "closed" : ac->errstr);

    wachat_stream_arm(s->reconnect, 1000);
}


static void
wachat_stream_on_reconnect(evutil_socket_t fd, short what, void *arg)
{
    wachat_stream_t  *s = arg;

    (void) fd;
    (void) what;

    if (s->ac == NULL && !s->stopping) {
        wachat_stream_connect(s);
    }
}


static void
wachat_stream_read(wachat_stream_t *s)
{
    if (s->stopping || s->ac == NULL || s->reading) {
        return;
    }

    s->reading = 1;

    redisAsyncCommand(s->ac, wachat_stream_on_read, s,
                      "XREADGROUP GROUP %s %s COUNT %d BLOCK %d STREAMS %s >",
                      s->conf.group, s->conf.consumer, WACHAT_READ_COUNT,
                      WACHAT_READ_BLOCK_MS, s->conf.stream);
}


static void
wachat_stream_on_read(redisAsyncContext *ac, void *r, void *data)
{
    size_t            i;
    redisReply       *reply = r;
    wachat_stream_t  *s = data;

    if (ac->data == NULL) {
        return;         /* being freed */
    }

    s->reading = 0;

    if (reply == NULL) {
        return;         /* disconnected: the disconnect callback follows */
    }

    if (reply->type == REDIS_REPLY_ERROR) {

        if (strncmp(reply->str, "NOGROUP", 7) == 0) {
            /* the stream or group was deleted under us: recreate */
            wachat_log(WACHAT_LOG_WARNING, "stream: %s", reply->str);

            if (wachat_stream_create_group(s) != 0) {
                wachat_log(WACHAT_LOG_ERROR, "stream: %s", s->store->err);
            }

        } else {
            wachat_log(WACHAT_LOG_ERROR, "stream: XREADGROUP: %s",
                       reply->str);
        }

        if (!s->stopping) {
            wachat_stream_arm(s->reconnect, 1000);
        }

        /* read again after the pause, on this connection */
        redisAsyncDisconnect(ac);
        return;
    }

    if (reply->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i < reply->elements; i++) {
            if (reply->element[i]->type == REDIS_REPLY_ARRAY
                && reply->element[i]->elements == 2)
            {
                wachat_stream_entries(s, reply->element[i]->element[1]);
            }
        }
    }

    if (s->stopping) {
        redisAsyncDisconnect(ac);
        return;
    }

    wachat_stream_read(s);
}


static int
wachat_stream_create_group(wachat_stream_t *s)
{
    redisReply  *r;

    /* from 0: events queued before the first start are answered too */
    r = wachat_store_cmd(s->store, "XGROUP CREATE %s %s 0 MKSTREAM",
                         s->conf.stream, s->conf.group);
    if (r == NULL) {
        return -1;
    }

    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0)
    {
        snprintf(s->store->err, sizeof(s->store->err),
                 "XGROUP CREATE %s %s: %s", s->conf.stream, s->conf.group,
                 r->str);
        freeReplyObject(r);
        return -1;
    }

    freeReplyObject(r);

    return 0;
}


static void
wachat_stream_entries(wachat_stream_t *s, const redisReply *entries)
{
    size_t  i;

    if (entries->type != REDIS_REPLY_ARRAY) {
        return;
    }

    for (i = 0; i < entries->elements; i++) {
        s->stats.read++;

        if (wachat_stream_transfer(s, entries->element[i]) != 0) {
            /* stays pending: the reclaim timer brings it back */
            wachat_log(WACHAT_LOG_WARNING, "stream: transfer failed: %s",
                       s->store->err);
        }
    }
}


/*
 * Inbox first, acknowledgement second: a crash in between leaves the entry
 * pending, it is reclaimed and transferred again, and ZADD of the same
 * member is a no-op.
 */

static int
wachat_stream_transfer(wachat_stream_t *s, const redisReply *entry)
{
    int              rc;
    char            *member;
    size_t           mlen;
    double           score;
    redisReply      *r;
    wachat_event_t   ev;
    char             conv[WACHAT_CONV_ID_MAX], key[WACHAT_KEY_MAX];
    char             scorebuf[32];
    const char      *v, *kind;

    if (wachat_event_from_reply(&ev, entry) != 0) {
        snprintf(s->store->err, sizeof(s->store->err), "malformed entry");
        return -1;
    }

    rc = -1;
    member = NULL;
    kind = wachat_event_get(&ev, "kind");
    v = wachat_event_get(&ev, "v");

    if (v == NULL || wachat_event_conv_id(&ev, conv, sizeof(conv)) != 0
        || strcmp(v, "1") != 0)
    {
        /*
         * kind=other (account updates, unexpected shapes) and events of
         * an unknown contract version: nothing to answer, logged once.
         */
        wachat_log(WACHAT_LOG_NOTICE, "stream: %s event %s (v=%s, type=%s) "
                   "is not for a conversation, acknowledged",
                   kind ? kind : "?", ev.stream_id, v ? v : "?",
                   wachat_event_get(&ev, "type") ? wachat_event_get(&ev, "type")
                                                 : "?");
        s->stats.ignored++;
        goto ack;
    }

    member = wachat_event_to_member(&ev, &mlen, &score);
    if (member == NULL) {
        snprintf(s->store->err, sizeof(s->store->err), "out of memory");
        goto done;
    }

    snprintf(scorebuf, sizeof(scorebuf), "%.0f", score);
    wachat_key_inbox(key, conv);

    r = wachat_store_cmd(s->store, "ZADD %s NX %s %b", key, scorebuf,
                         member, mlen);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        goto done;
    }

    freeReplyObject(r);

    r = wachat_store_cmd(s->store, "SADD %s %s", WACHAT_KEY_READY, conv);
    freeReplyObject(r);

    if (kind && strcmp(kind, "message") == 0) {
        r = wachat_store_cmd(s->store, "ZADD %s %s %s", WACHAT_KEY_CONVS,
                             scorebuf, conv);
        freeReplyObject(r);
    }

    s->stats.transferred++;

ack:

    r = wachat_store_cmd(s->store, "XACK %s %s %s", s->conf.stream,
                         s->conf.group, ev.stream_id);
    if (r != NULL && r->type != REDIS_REPLY_ERROR) {
        rc = 0;
    }

    freeReplyObject(r);

    if (rc == 0 && member) {
        s->conf.work(s->conf.data, conv);
    }

done:

    free(member);
    wachat_event_free(&ev);

    return rc;
}


static void
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
        r = wachat_store_cmd(s->store, "XAUTOCLAIM %s %s %s %d %s COUNT 64",
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
 * Conversations whose owner died keep their work in Redis; the ready set
 * names them.  Ask for each to be tried: a live lease makes it a no-op.
 */

static void
wachat_stream_on_scan(evutil_socket_t fd, short what, void *arg)
{
    size_t            i;
    redisReply       *r;
    wachat_stream_t  *s = arg;

    (void) fd;
    (void) what;

    r = wachat_store_cmd(s->store, "SRANDMEMBER %s 256", WACHAT_KEY_READY);

    if (r && r->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i < r->elements; i++) {
            if (r->element[i]->type == REDIS_REPLY_STRING) {
                s->conf.work(s->conf.data, r->element[i]->str);
            }
        }
    }

    freeReplyObject(r);

    if (!s->stopping) {
        wachat_stream_arm(s->scan, s->conf.scan_ms);
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
    int              rc;
    size_t           i;
    redisReply      *r, *e;
    wachat_event_t   ev;
    char             end[64], conv[WACHAT_CONV_ID_MAX];

    snprintf(end, sizeof(end), "(%s", stream_id);

    r = wachat_store_cmd(s->store, "XPENDING %s %s - %s 64", s->conf.stream,
                         s->conf.group, end);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }

    if (r->elements == 0) {
        freeReplyObject(r);
        return 1;
    }

    if (r->elements == 64) {
        freeReplyObject(r);
        return 0;
    }

    rc = 1;

    for (i = 0; i < r->elements && rc == 1; i++) {
        if (r->element[i]->type != REDIS_REPLY_ARRAY
            || r->element[i]->elements < 1
            || r->element[i]->element[0]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        e = wachat_store_cmd(s->store, "XRANGE %s %s %s", s->conf.stream,
                             r->element[i]->element[0]->str,
                             r->element[i]->element[0]->str);

        if (e == NULL || e->type != REDIS_REPLY_ARRAY) {
            rc = -1;

        } else if (e->elements == 1
                   && wachat_event_from_reply(&ev, e->element[0]) == 0)
        {
            if (wachat_event_conv_id(&ev, conv, sizeof(conv)) == 0
                && strcmp(conv, conv_id) == 0)
            {
                rc = 0;
            }

            wachat_event_free(&ev);
        }

        freeReplyObject(e);
    }

    freeReplyObject(r);

    return rc;
}
