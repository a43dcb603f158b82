/*
 * stream: XREADGROUP on an async connection, transfer into inboxes,
 * XAUTOCLAIM of what a dead consumer left, and the scan for orphaned work.
 *
 * Here: start and stop, the read loop on its own link with its watchdog,
 * the group created, and the scan; a read batch goes on in stream_batch.c,
 * the group's pending entries in stream_pending.c.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/async.h>

#include "lib/log.h"
#include "conversation/stream_int.h"


#define WACHAT_READ_COUNT     64
#define WACHAT_SCAN_WAIT_MS   5000      /* the first scan, at the latest */


static void wachat_stream_read(wachat_stream_t *s);
static void wachat_stream_own_again(wachat_stream_t *s);
static void wachat_stream_down(void *data);
static void wachat_stream_retry(void *data);
static size_t wachat_stream_take(wachat_stream_t *s,
    const redisReply *reply, int *pending);
static void wachat_stream_on_read(redisAsyncContext *ac, void *r,
    void *data);
static int wachat_stream_create_group(wachat_stream_t *s);
static int wachat_stream_start_group(wachat_stream_t *s);
static void wachat_stream_on_scan(evutil_socket_t fd, short what,
    void *arg);
static void wachat_stream_on_watchdog(evutil_socket_t fd, short what,
    void *arg);


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
    wachat_stream_own_again(s);

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

    /*
     * At start: take back at once what this consumer name left pending.
     * The scan of waiting conversations begins once the backlog is read
     * (WACHAT_SCAN_WAIT_MS at the latest): a status that arrived while no
     * wachatd ran may record a reply a dead process sent (Meta's echo of
     * its tag, script_transfer.c), which must happen before the reply's
     * conversation, taken by the scan, sends it again.
     */
    wachat_stream_arm(s->reclaim, 0);
    wachat_stream_arm(s->scan, WACHAT_SCAN_WAIT_MS);
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

    /*
     * Stopped after a run: each start names a new consumer (host and pid),
     * so one that holds nothing leaves the group rather than stay in it
     * for ever.  What it still holds keeps it there, for a reclaim.
     */
    if (s->stopping
        && wachat_stream_forget_consumer(s, s->conf.consumer) < 0)
    {
        wachat_log(WACHAT_LOG_WARNING, "stream: leaving the group: %s",
                   s->store->err);
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


void
wachat_stream_reauth(wachat_stream_t *s)
{
    if (!s->stopping) {
        wachat_redis_link_renew(&s->link);
    }
}


const wachat_stream_stats_t *
wachat_stream_stats(wachat_stream_t *s)
{
    return &s->stats;
}


void
wachat_stream_arm(struct event *ev, int ms)
{
    struct timeval  tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    evtimer_add(ev, &tv);
}


/*
 * Entries delivered to this consumer and not yet in their inboxes stay in
 * its pending list: a read whose reply the link lost on the way (dropped,
 * timed out, a reload's new credentials), or a restart under the same
 * consumer name.  The next read takes them again, by id (XREADGROUP ... 0)
 * rather than after claim_idle.
 */
static void
wachat_stream_own_again(wachat_stream_t *s)
{
    s->own = 1;
    snprintf(s->own_after, sizeof(s->own_after), "0");
}


static void
wachat_stream_down(void *data)
{
    wachat_stream_t  *s = data;

    s->reading = 0;
    evtimer_del(s->watchdog);
    wachat_stream_own_again(s);
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

    if (s->own || !s->caught_up) {
        /* its own pending entries, or the backlog at start: no BLOCK */
        redisAsyncCommand(ac, wachat_stream_on_read, s,
                          "XREADGROUP GROUP %s %s COUNT %d STREAMS %s %s",
                          s->conf.group, s->conf.consumer, WACHAT_READ_COUNT,
                          s->conf.stream, s->own ? s->own_after : ">");
        return;
    }

    redisAsyncCommand(ac, wachat_stream_on_read, s,
                      "XREADGROUP GROUP %s %s COUNT %d BLOCK %d STREAMS %s >",
                      s->conf.group, s->conf.consumer, WACHAT_READ_COUNT,
                      WACHAT_READ_BLOCK_MS, s->conf.stream);
}


/*
 * The entries of a read, into their inboxes: how many there were, and
 * (*pending) whether some stay pending for a reason a later try may pass.
 * Reading its own pending entries, the last one's id is where the next
 * page starts.
 */
static size_t
wachat_stream_take(wachat_stream_t *s, const redisReply *reply, int *pending)
{
    size_t             i, n;
    const redisReply  *entries, *last;

    n = 0;
    *pending = 0;

    for (i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_ARRAY
            || reply->element[i]->elements != 2)
        {
            continue;
        }

        entries = reply->element[i]->element[1];
        n += entries->elements;
        *pending |= wachat_stream_entries(s, entries) != 0;

        if (s->own && entries->elements) {
            last = entries->element[entries->elements - 1];

            if (last->type == REDIS_REPLY_ARRAY && last->elements >= 1
                && last->element[0]->type == REDIS_REPLY_STRING
                && last->element[0]->len < sizeof(s->own_after))
            {
                memcpy(s->own_after, last->element[0]->str,
                       last->element[0]->len + 1);

            } else {
                s->own_after[0] = '\0';    /* no next page to ask for */
            }
        }
    }

    return n;
}


static void
wachat_stream_on_read(redisAsyncContext *ac, void *r, void *data)
{
    int               pending;
    size_t            n;
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

    n = wachat_stream_take(s, reply, &pending);

    if (pending && !s->stopping) {
        /*
         * Redis took the read but not the transfer (out of memory, the
         * other link down, a key every transfer writes broken): these
         * entries are read again by id after the link's pause, which grows
         * while it goes on, rather than after claim_idle.
         */
        wachat_stream_own_again(s);
        wachat_redis_link_pause(&s->link);
        return;
    }

    wachat_redis_link_ok(&s->link);

    if (s->own) {
        /* the next page of this consumer's pending entries, or done */
        s->own = n == WACHAT_READ_COUNT && s->own_after[0] != '\0';

    } else if (!s->caught_up && n < WACHAT_READ_COUNT) {
        s->caught_up = 1;
        wachat_stream_arm(s->scan, 0);
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
