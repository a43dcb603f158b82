/*
 * stream: XREADGROUP on an async connection, transfer into inboxes,
 * XAUTOCLAIM of what a dead consumer left, and the scan for orphaned work.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/async.h>

#include "clients/redis_link.h"
#include "conversation/event.h"
#include "lib/log.h"
#include "conversation/stream.h"
#include "store/scripts.h"


#define WACHAT_READ_COUNT     64
#define WACHAT_READ_BLOCK_MS  2000
#define WACHAT_TRIM_MS        10000
#define WACHAT_PENDING_PAGE   64
#define WACHAT_PENDING_PAGES  16
#define WACHAT_SIDE_MAXLEN    "10000"
#define WACHAT_KEY_PARKED     "wachat:parked"   /* unknown contract versions */
#define WACHAT_KEY_OTHER      "wachat:other"    /* kind=other, for operators */


struct wachat_stream_s {
    struct event_base          *base;
    wachat_redis_t             *store;
    wachat_stream_conf_t        conf;
    wachat_redis_link_t         link;       /* the blocking reads */
    struct event               *reclaim;
    struct event               *scan;
    struct event               *trim;
    struct event               *watchdog;
    int                         stopping;
    int                         reading;
    wachat_stream_stats_t       stats;
};


static void wachat_stream_read(wachat_stream_t *s);
static void wachat_stream_down(void *data);
static void wachat_stream_retry(void *data);
static void wachat_stream_on_read(redisAsyncContext *ac, void *r,
    void *data);
static int wachat_stream_create_group(wachat_stream_t *s);
static int wachat_stream_start_group(wachat_stream_t *s);
static void wachat_stream_entries(wachat_stream_t *s,
    const redisReply *entries);
static int wachat_stream_set_aside(wachat_stream_t *s,
    const wachat_event_t *ev, const redisReply *fields);
static void wachat_stream_on_reclaim(evutil_socket_t fd, short what,
    void *arg);
static void wachat_stream_on_scan(evutil_socket_t fd, short what,
    void *arg);
static void wachat_stream_arm(struct event *ev, int ms);
static void wachat_stream_on_trim(evutil_socket_t fd, short what, void *arg);
static void wachat_stream_on_watchdog(evutil_socket_t fd, short what,
    void *arg);
static int wachat_stream_pending_is_other(wachat_stream_t *s,
    const char *id, const char *conv_id);


wachat_stream_t *
wachat_stream_start(struct event_base *base, wachat_redis_t *store,
    const wachat_redis_addr_t *addr, const wachat_stream_conf_t *conf,
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

    if (wachat_redis_link_init(&s->link, base, addr, "stream",
                               wachat_stream_down, wachat_stream_retry, s)
        != 0)
    {
        snprintf(err, errlen, "out of memory");
        wachat_stream_free(s);
        return NULL;
    }

    s->reclaim = evtimer_new(base, wachat_stream_on_reclaim, s);
    s->scan = evtimer_new(base, wachat_stream_on_scan, s);
    s->trim = evtimer_new(base, wachat_stream_on_trim, s);
    s->watchdog = evtimer_new(base, wachat_stream_on_watchdog, s);

    if (s->reclaim == NULL || s->scan == NULL
        || s->trim == NULL || s->watchdog == NULL)
    {
        snprintf(err, errlen, "out of memory");
        wachat_stream_free(s);
        return NULL;
    }

    if (wachat_stream_start_group(s) != 0) {
        snprintf(err, errlen, "%s", s->store->err);
        wachat_stream_free(s);
        return NULL;
    }

    wachat_stream_read(s);

    /* at start: take back at once what this consumer name left pending */
    wachat_stream_arm(s->reclaim, 0);
    wachat_stream_arm(s->scan, 0);
    wachat_stream_arm(s->trim, WACHAT_TRIM_MS);

    return s;
}


void
wachat_stream_stop(wachat_stream_t *s)
{
    s->stopping = 1;

    evtimer_del(s->reclaim);
    evtimer_del(s->scan);
    evtimer_del(s->trim);
    evtimer_del(s->watchdog);

    /* a read in flight ends the link when its answer comes */
    if (!s->reading) {
        wachat_redis_link_disconnect(&s->link, 1);
    }
}


void
wachat_stream_free(wachat_stream_t *s)
{
    if (s == NULL) {
        return;
    }

    s->stopping = 1;

    wachat_redis_link_close(&s->link);

    if (s->reclaim) {
        event_free(s->reclaim);
    }

    if (s->scan) {
        event_free(s->scan);
    }

    if (s->trim) {
        event_free(s->trim);
    }

    if (s->watchdog) {
        event_free(s->watchdog);
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
wachat_stream_down(void *data)
{
    wachat_stream_t  *s = data;

    s->reading = 0;
    evtimer_del(s->watchdog);
}


static void
wachat_stream_retry(void *data)
{
    wachat_stream_read(data);
}


static void
wachat_stream_read(wachat_stream_t *s)
{
    redisAsyncContext  *ac;

    if (s->stopping || s->reading) {
        return;
    }

    ac = wachat_redis_link_get(&s->link);
    if (ac == NULL) {
        return;         /* the link retries after its pause */
    }

    s->reading = 1;

    /*
     * hiredis 0.14 has no reply timeout: a Redis host gone without a reset
     * would leave this read waiting for ever while everything else looks
     * healthy.  No answer within BLOCK + 5 s: drop the link, reconnect.
     */
    wachat_stream_arm(s->watchdog, WACHAT_READ_BLOCK_MS + 5000);

    redisAsyncCommand(ac, wachat_stream_on_read, s,
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
    evtimer_del(s->watchdog);

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

        /* read again after the pause, on a new connection */
        wachat_redis_link_disconnect(&s->link, 0);
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
        wachat_redis_link_disconnect(&s->link, 1);
        return;
    }

    wachat_stream_read(s);
}


/*
 * At start, a Redis that restarted since the daemon's LOADING wait may be
 * loading again, and a primary whose replica is not back yet refuses
 * writes (min-replicas-to-write: NOREPLICAS): the group waits for either
 * (up to a minute) rather than the daemon exiting.  Nothing else runs
 * yet, so the pause holds up nobody.
 */
static int
wachat_stream_start_group(wachat_stream_t *s)
{
    int               i;
    struct timespec   ts = { 0, 100 * 1000000L };

    for (i = 0; i < 600; i++) {
        if (wachat_stream_create_group(s) == 0) {
            return 0;
        }

        if (strstr(s->store->err, ": LOADING") == NULL
            && strstr(s->store->err, ": NOREPLICAS") == NULL)
        {
            return -1;
        }

        if (i == 0) {
            wachat_log(WACHAT_LOG_WARNING, "stream: redis %s, waiting to "
                       "create the group",
                       strstr(s->store->err, ": LOADING")
                       ? "is loading its dataset again"
                       : "takes no write until a replica is in sync");
        }

        nanosleep(&ts, NULL);
    }

    return -1;
}


static int
wachat_stream_create_group(wachat_stream_t *s)
{
    redisReply  *r;

    /* from 0: events queued before the first start are answered too */
    r = wachat_redis_cmd(s->store, "XGROUP CREATE %s %s 0 MKSTREAM",
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


/*
 * A batch of read entries: each is decoded once, to find its
 * conversation; the ones that belong to none are set aside first; then one
 * script moves the batch into the inboxes, acknowledges it and takes the
 * conversations nobody holds (their first step comes with them).  An entry
 * that fails (cannot be read or set aside) stays pending alone, the rest
 * go on; the reclaim timer brings it back.
 */

typedef struct {
    size_t               n;
    wachat_event_t      *ev;
    const char         **ids;
    const char         **convs;
    int                 *message;
    const redisReply   **fields;
} wachat_stream_batch_t;


static int
wachat_stream_batch_add(wachat_stream_t *s, wachat_stream_batch_t *b,
    const redisReply *e)
{
    wachat_event_t  *ev = &b->ev[b->n];

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
        || e->element[0]->type != REDIS_REPLY_STRING
        || wachat_event_decode(ev, e->element[0]->str, e->element[1]) != 0)
    {
        wachat_log(WACHAT_LOG_WARNING, "stream: transfer failed: "
                   "malformed entry");
        return -1;
    }

    if (ev->conv_id[0] == '\0'
        && wachat_stream_set_aside(s, ev, e->element[1]) != 0)
    {
        wachat_log(WACHAT_LOG_WARNING, "stream: transfer of %s failed: %s",
                   ev->stream_id, s->store->err);
        return -1;
    }

    b->ids[b->n] = ev->stream_id;
    b->convs[b->n] = ev->conv_id[0] ? ev->conv_id : NULL;
    b->message[b->n] = ev->kind == WACHAT_KIND_MESSAGE;
    b->fields[b->n] = e->element[1];
    b->n++;

    return 0;
}


static void
wachat_stream_entries(wachat_stream_t *s, const redisReply *entries)
{
    size_t                  i, n;
    wachat_transfer_t       t;
    wachat_stream_batch_t   b;

    if (entries->type != REDIS_REPLY_ARRAY || entries->elements == 0) {
        return;
    }

    n = entries->elements;
    b.n = 0;
    b.ev = malloc(n * sizeof(wachat_event_t));
    b.ids = malloc(n * sizeof(char *));
    b.convs = malloc(n * sizeof(char *));
    b.message = malloc(n * sizeof(int));
    b.fields = malloc(n * sizeof(redisReply *));

    if (b.ev == NULL || b.ids == NULL || b.convs == NULL || b.message == NULL
        || b.fields == NULL)
    {
        wachat_log(WACHAT_LOG_WARNING, "stream: transfer failed: out of "
                   "memory");
        goto done;
    }

    for (i = 0; i < n; i++) {
        s->stats.read++;
        (void) wachat_stream_batch_add(s, &b, entries->element[i]);
    }

    t.stream = s->conf.stream;
    t.group = s->conf.group;
    t.owner = s->conf.consumer;
    t.lease_ms = s->conf.lease_ms;
    memset(&t.limits, 0, sizeof(wachat_limits_t));
    if (s->conf.limits) {
        t.limits = *s->conf.limits;
    }
    t.n = b.n;
    t.ids = b.ids;
    t.convs = b.convs;
    t.message = b.message;
    t.fields = b.fields;

    if (b.n == 0
        || wachat_script_transfer(s->store, &t, s->conf.take, s->conf.data)
           != 0)
    {
        if (b.n) {
            wachat_log(WACHAT_LOG_WARNING, "stream: transfer failed: %s",
                       s->store->err);
        }
        goto done;
    }

    for (i = 0; i < b.n; i++) {
        if (b.convs[i]) {
            s->stats.transferred++;
            s->conf.work(s->conf.data, b.convs[i]);

        } else {
            s->stats.ignored++;
        }
    }

done:

    free(b.ev);
    free(b.ids);
    free(b.convs);
    free(b.message);
    free(b.fields);
}


/*
 * A contract version this wachatd does not know (a newer module during a
 * rolling upgrade) is parked, not lost; kind=other (account updates,
 * unexpected shapes) has nothing to answer and is kept for operators.
 * Either way the copy comes before the acknowledgement.
 */

static int
wachat_stream_set_aside(wachat_stream_t *s, const wachat_event_t *ev,
    const redisReply *fields)
{
    int           argc, rc;
    size_t        i;
    redisReply   *r;
    const char   *key, *v, *kind, *type;
    const char   *argv[10 + 2 * 32];
    size_t        argvlen[10 + 2 * 32];

    key = ev->known ? WACHAT_KEY_OTHER : WACHAT_KEY_PARKED;

    argc = 0;
    argv[argc++] = "XADD";
    argv[argc++] = key;
    argv[argc++] = "MAXLEN";
    argv[argc++] = "~";
    argv[argc++] = WACHAT_SIDE_MAXLEN;
    argv[argc++] = "*";
    argv[argc++] = "event";
    argv[argc++] = ev->stream_id;

    if (ev->refused) {
        argv[argc++] = "reason";
        argv[argc++] = ev->refused;
    }

    for (i = 0; i < (size_t) argc; i++) {
        argvlen[i] = strlen(argv[i]);
    }

    for (i = 0; fields && fields->type == REDIS_REPLY_ARRAY
                && i + 1 < fields->elements && argc + 2 <= 10 + 2 * 32;
         i += 2)
    {
        if (fields->element[i]->type != REDIS_REPLY_STRING
            || fields->element[i + 1]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        argv[argc] = fields->element[i]->str;
        argvlen[argc++] = fields->element[i]->len;
        argv[argc] = fields->element[i + 1]->str;
        argvlen[argc++] = fields->element[i + 1]->len;
    }

    r = wachat_redis_argv(s->store, argc, argv, argvlen);
    rc = (r && r->type == REDIS_REPLY_STRING) ? 0 : -1;

    if (rc == 0) {
        v = wachat_event_str(ev, V);
        kind = wachat_event_str(ev, KIND);
        type = wachat_event_str(ev, TYPE);

        wachat_log(ev->known && ev->refused == NULL ? WACHAT_LOG_NOTICE
                                                    : WACHAT_LOG_WARNING,
                   "stream: %s event %s (v=%s, type=%s) is not for a "
                   "conversation%s%s: kept in %s", kind ? kind : "?",
                   ev->stream_id, v ? v : "?", type ? type : "?",
                   ev->refused ? ", " : "",
                   ev->refused ? ev->refused : "", key);
    }

    freeReplyObject(r);

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

    r = wachat_redis_cmd(s->store, "SRANDMEMBER %s 256", WACHAT_KEY_READY);

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


static void
wachat_stream_on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    wachat_stream_t  *s = arg;

    (void) fd;
    (void) what;

    if (!s->reading) {
        return;
    }

    wachat_log(WACHAT_LOG_WARNING, "stream: no answer to XREADGROUP for "
               "%d ms, reconnecting", WACHAT_READ_BLOCK_MS + 5000);

    wachat_redis_link_drop(&s->link);
}


/*
 * The webhook stream would grow for ever: entries every group has read and
 * acknowledged are deleted (each event lives on in its conversation).
 * MINID = the oldest entry some group still needs.
 */

static void
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
