/*
 * engine: the conversations this consumer works on, their timers and
 * leases (see engine.h for the guarantees; step.c takes it from there).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conversation/conv_int.h"
#include "lib/log.h"


const long  wachat_engine_llm_buckets_ms[WACHAT_LLM_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 30000, -1
};


static void wachat_conv_on_timer(evutil_socket_t fd, short what, void *arg);
static void wachat_conv_on_renew(evutil_socket_t fd, short what, void *arg);
static void wachat_conv_free(wachat_conv_t *cv);
static long wachat_conv_backoff_base(int attempt);
static void wachat_conv_store_why(wachat_conv_t *cv, int refused, char *buf,
    size_t len);
static unsigned long wachat_engine_hash(const char *s);
static wachat_conv_t *wachat_engine_find(wachat_engine_t *en, const char *id,
    int create);


wachat_engine_t *
wachat_engine_new(struct event_base *base, wachat_redis_t *store,
    wachat_outbound_t *ob, const char *owner)
{
    wachat_engine_t  *en;

    en = calloc(1, sizeof(wachat_engine_t));
    if (en == NULL) {
        return NULL;
    }

    en->base = base;
    en->store = store;
    en->ob = ob;
    en->owner = strdup(owner);

    if (en->owner == NULL) {
        free(en);
        return NULL;
    }

    return en;
}


void
wachat_engine_free(wachat_engine_t *en)
{
    size_t          i;
    wachat_conv_t  *cv, *next;

    if (en == NULL) {
        return;
    }

    for (i = 0; i < WACHAT_BUCKETS; i++) {
        for (cv = en->buckets[i]; cv; cv = next) {
            next = cv->next;
            wachat_conv_free(cv);
        }
    }

    wachat_kb_embed_free(en->kbe);
    free(en->owner);
    free(en);
}


void
wachat_engine_configure(wachat_engine_t *en, const wachat_config_t *cfg,
    const wachat_kb_t *kb)
{
    en->cfg = cfg;
    en->kb = kb;

    /*
     * The conversations' refs point here, so a reload must not free them;
     * and like the stream reader's, they change only at a restart.
     */
    if (en->stream_name[0] == '\0') {
        snprintf(en->stream_name, sizeof(en->stream_name), "%s",
                 cfg->stream);
        snprintf(en->group_name, sizeof(en->group_name), "%s", cfg->group);
    }

    en->limits.rate_per_s = cfg->rate_limit;
    en->limits.answers_per_min = cfg->customer_answers_per_minute;
    en->limits.answers_burst = cfg->customer_answers_burst;
}


void
wachat_engine_set_stream(wachat_engine_t *en, wachat_stream_t *s)
{
    en->stream = s;
}


void
wachat_engine_set_llm(wachat_engine_t *en, wachat_llm_t *llm)
{
    en->llm = llm;
}


void
wachat_engine_set_media(wachat_engine_t *en, wachat_graph_t *graph,
    wachat_media_store_t *store, wachat_stt_t *stt)
{
    en->media_graph = graph;
    en->media_store = store;
    en->stt = stt;
}


const wachat_kb_vectors_t *
wachat_engine_vectors(wachat_engine_t *en, const wachat_kb_t *kb,
    wachat_embed_t **embed)
{
    *embed = en->embed;

    return en->embed ? wachat_kb_embed_vectors(en->kbe, kb) : NULL;
}


void
wachat_engine_set_embed(wachat_engine_t *en, wachat_embed_t *embed)
{
    wachat_kb_embed_free(en->kbe);
    en->embed = embed;
    en->kbe = wachat_kb_embed_start(en->base, en->store, embed, en->kb,
                                    en->cfg->embed_kb_boost,
                                    &en->stats.kbvec);
}


void
wachat_engine_set_guard(wachat_engine_t *en, wachat_guard_t *guard)
{
    en->guard = guard;
}


void
wachat_engine_set_notify(wachat_engine_t *en, wachat_notify_pt notify,
    void *data)
{
    en->notify = notify;
    en->notify_data = data;
}


void
wachat_engine_close(wachat_engine_t *en)
{
    en->closing = 1;

    /* a call in flight is cancelled by the HTTP client's end: let go */
    wachat_kb_embed_free(en->kbe);
    en->kbe = NULL;
}


/*
 * After a reload: conversations waiting on a timer (a refused token, a
 * backoff) try again now, with the new configuration.
 */

void
wachat_engine_kick(wachat_engine_t *en)
{
    size_t          i;
    wachat_conv_t  *cv;

    for (i = 0; i < WACHAT_BUCKETS; i++) {
        for (cv = en->buckets[i]; cv; cv = cv->next) {
            if (!cv->busy) {
                cv->attempt = 0;
                wachat_conv_schedule(cv, 0);
            }
        }
    }
}


const wachat_engine_stats_t *
wachat_engine_stats(wachat_engine_t *en)
{
    return &en->stats;
}


void
wachat_engine_work(void *data, const char *conv_id)
{
    wachat_conv_t    *cv;
    wachat_engine_t  *en = data;

    if (en->draining) {
        return;
    }

    cv = wachat_engine_find(en, conv_id, 1);
    if (cv == NULL) {
        wachat_log(WACHAT_LOG_ERROR, "out of memory for conversation %s",
                   conv_id);
        return;
    }

    /* a peek that found nothing left is older than this news */
    if (!cv->busy && cv->peeked && cv->peek.state == WACHAT_PEEK_IDLE) {
        wachat_conv_drop_peek(cv);
    }

    if (!cv->busy && !evtimer_pending(cv->timer, NULL)) {
        wachat_conv_schedule(cv, 0);
    }
}


void
wachat_engine_take(void *data, const char *conv_id, redisReply *peek)
{
    wachat_conv_t      *cv;
    wachat_conv_ref_t   ref;
    wachat_engine_t    *en = data;

    cv = en->draining ? NULL : wachat_engine_find(en, conv_id, 1);

    if (cv == NULL) {
        /* taken for us while we stop (or out of memory): given back */
        freeReplyObject(peek);
        wachat_conv_ref_init(&ref, conv_id, en->owner, en->stream_name,
                             en->group_name, &en->limits);
        wachat_script_release(en->store, &ref);
        return;
    }

    if (cv->busy) {
        freeReplyObject(peek);      /* ours already: the call goes on */
        return;
    }

    evtimer_del(cv->timer);

    if (wachat_script_peek(peek, &cv->peek) != 0) {
        freeReplyObject(peek);
        wachat_conv_drop_peek(cv);  /* the next step asks again */

    } else {
        wachat_conv_keep_peek(cv, peek);
        wachat_conv_store_ok(cv, WACHAT_STORE_STEP);
    }

    wachat_conv_schedule(cv, 0);
}


const wachat_limits_t *
wachat_engine_limits(wachat_engine_t *en)
{
    return &en->limits;
}


/*
 * Shutdown: conversations waiting for their turn give their lease back at
 * once; the ones with a send in flight finish it (the caller waits for
 * wachat_engine_active() to reach 0, up to shutdown_timeout).
 */

void
wachat_engine_drain(wachat_engine_t *en)
{
    size_t          i;
    wachat_conv_t  *cv, *next;

    en->draining = 1;

    for (i = 0; i < WACHAT_BUCKETS; i++) {
        for (cv = en->buckets[i]; cv; cv = next) {
            next = cv->next;

            if (!cv->busy) {
                (void) wachat_conv_stopping(cv);
            }
        }
    }
}


size_t
wachat_engine_active(wachat_engine_t *en)
{
    return en->active;
}


static unsigned long
wachat_engine_hash(const char *s)
{
    unsigned long  h = 5381;

    while (*s) {
        h = h * 33 + (unsigned char) *s++;
    }

    return h % WACHAT_BUCKETS;
}


static wachat_conv_t *
wachat_engine_find(wachat_engine_t *en, const char *id, int create)
{
    unsigned long   h;
    wachat_conv_t  *cv;

    h = wachat_engine_hash(id);

    for (cv = en->buckets[h]; cv; cv = cv->next) {
        if (strcmp(cv->id, id) == 0) {
            return cv;
        }
    }

    if (!create || strlen(id) >= WACHAT_CONV_ID_MAX) {
        return NULL;
    }

    cv = calloc(1, sizeof(wachat_conv_t));
    if (cv == NULL) {
        return NULL;
    }

    cv->timer = evtimer_new(en->base, wachat_conv_on_timer, cv);
    cv->renew = event_new(en->base, -1, EV_PERSIST, wachat_conv_on_renew,
                          cv);

    if (cv->timer == NULL || cv->renew == NULL) {
        if (cv->timer) {
            event_free(cv->timer);
        }
        free(cv);
        return NULL;
    }

    cv->engine = en;
    snprintf(cv->id, sizeof(cv->id), "%s", id);
    wachat_conv_ref_init(&cv->ref, cv->id, en->owner, en->stream_name,
                         en->group_name, &en->limits);
    cv->next = en->buckets[h];
    en->buckets[h] = cv;
    en->active++;

    return cv;
}


void
wachat_conv_forget(wachat_conv_t *cv)
{
    wachat_conv_t   **pp;
    wachat_engine_t  *en = cv->engine;

    for (pp = &en->buckets[wachat_engine_hash(cv->id)]; *pp; pp = &(*pp)->next) {
        if (*pp == cv) {
            *pp = cv->next;
            break;
        }
    }

    if (cv->store_failures > 0) {
        en->stats.store_backoff--;
    }

    wachat_conv_free(cv);
    en->active--;
}


/*
 * Stopping (SIGTERM): what waits (a queued reply, one to try again) stays
 * in Redis, and the lease is given back now, so that another consumer
 * goes on at once rather than after the lease (60 s).  1: cv is forgotten.
 */

int
wachat_conv_stopping(wachat_conv_t *cv)
{
    wachat_engine_t  *en = cv->engine;

    if (!en->draining) {
        return 0;
    }

    wachat_script_release(en->store, &cv->ref);
    wachat_conv_forget(cv);

    return 1;
}


static void
wachat_conv_free(wachat_conv_t *cv)
{
    event_free(cv->timer);
    event_free(cv->renew);
    freeReplyObject(cv->peeked);
    freeReplyObject(cv->pending);
    free(cv->head);
    free(cv->unrecorded);
    wachat_conv_media_free(cv);
    wachat_conv_embed_free(cv);
    free(cv);
}


/*
 * The next step runs from the event loop, so a busy conversation never
 * starves the others.  Right away, it may use what the last script saw
 * next; later, it asks Redis again.
 */

void
wachat_conv_schedule(wachat_conv_t *cv, long ms)
{
    struct timeval  tv;

    if (ms > 0) {
        wachat_conv_drop_peek(cv);
    }

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    evtimer_add(cv->timer, &tv);
}


/*
 * While a call is in flight (an LLM answer, a Graph send waiting for a
 * slot), nothing else renews the lease: this does, so a long call cannot
 * let another consumer take the conversation and send twice.
 */

void
wachat_conv_set_busy(wachat_conv_t *cv, int busy)
{
    struct timeval  tv;

    cv->busy = busy;

    if (busy) {
        tv.tv_sec = WACHAT_RENEW_MS / 1000;
        tv.tv_usec = (WACHAT_RENEW_MS % 1000) * 1000;
        event_add(cv->renew, &tv);

    } else {
        event_del(cv->renew);
    }
}


static void
wachat_conv_on_renew(evutil_socket_t fd, short what, void *arg)
{
    wachat_conv_t  *cv = arg;

    (void) fd;
    (void) what;

    if (cv->busy
        && wachat_script_renew(cv->engine->store, &cv->ref, WACHAT_LEASE_MS)
           == 0)
    {
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: lease lost while a "
                   "call was in flight; its result will not be committed",
                   cv->id);
    }
}


static void
wachat_conv_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;

    wachat_conv_step(arg);
}


void
wachat_conv_keep_peek(wachat_conv_t *cv, redisReply *r)
{
    if (cv->peeked != r) {
        freeReplyObject(cv->peeked);
    }

    cv->peeked = r;
}


void
wachat_conv_drop_peek(wachat_conv_t *cv)
{
    freeReplyObject(cv->peeked);
    cv->peeked = NULL;
    memset(&cv->peek, 0, sizeof(wachat_peek_t));
}


static long
wachat_conv_backoff_base(int attempt)
{
    long  base;

    base = (long) WACHAT_BACKOFF_MS << (attempt < 5 ? attempt : 5);

    return base < WACHAT_BACKOFF_MAX ? base : WACHAT_BACKOFF_MAX;
}


long
wachat_conv_backoff(int attempt, long at_least)
{
    long  base;

    base = wachat_conv_backoff_base(attempt);

    /* jitter: many conversations hit by one outage do not retry in step */
    base = base / 2 + random() % (base / 2 + 1);

    return base > at_least ? base : at_least;
}


/* what a failed store script leaves where it was, for the log */
static const char  *wachat_conv_store_kept[] = {
    "the conversation's events stay in its inbox, its replies in its "
        "outbound queue",
    "the message stays in its inbox and is answered once this works",
    "the status stays in its inbox and is recorded once this works",
    "the reply went out; its record is kept here and done before "
        "anything else of the conversation"
};

static const char  *wachat_conv_store_names[] = {
    "step", "commit", "status", "the record of a sent reply"
};


void
wachat_conv_store_failed(wachat_conv_t *cv, wachat_conv_store_e what,
    int refused)
{
    long              delay;
    char              why[768], name[320];
    wachat_engine_t  *en = cv->engine;

    if (what == WACHAT_STORE_RECORD && cv->unrecorded) {
        snprintf(name, sizeof(name), "the record of sent reply %s",
                 cv->unrecorded);

    } else {
        snprintf(name, sizeof(name), "%s", wachat_conv_store_names[what]);
    }

    if (cv->store_failures == 0) {
        en->stats.store_backoff++;
    }

    if (refused) {
        en->stats.store_refused++;

    } else {
        en->stats.store_failed++;
    }

    delay = wachat_conv_backoff(cv->store_failures, 0);
    cv->store_failures++;
    cv->store_failed = what;

    if (cv->store_failures == 1) {
        wachat_conv_store_why(cv, refused, why, sizeof(why));
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: %s failed: %s; "
                   "nothing is lost: %s; retrying in %.1f s, then less "
                   "often, up to every %d s, until it works",
                   cv->id, name, why, wachat_conv_store_kept[what],
                   delay / 1000.0,
                   WACHAT_BACKOFF_MAX / 1000);

    } else if (wachat_conv_backoff_base(cv->store_failures - 1)
                   == WACHAT_BACKOFF_MAX
               && wachat_conv_backoff_base(cv->store_failures - 2)
                   < WACHAT_BACKOFF_MAX)
    {
        /* once, when the delay reaches its longest */
        wachat_conv_store_why(cv, refused, why, sizeof(why));
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: %s still failing "
                   "after %d tries: %s; %s; retrying about every %d s",
                   cv->id, name, cv->store_failures, why,
                   wachat_conv_store_kept[what],
                   WACHAT_BACKOFF_MAX / 1000);

    } else {
        wachat_log(WACHAT_LOG_DEBUG, "conversation %s: %s failed again "
                   "(%d in a row): %s; retrying in %.1f s", cv->id, name,
                   cv->store_failures, en->store->err, delay / 1000.0);
    }

    wachat_conv_schedule(cv, delay);
}


/*
 * Why a store script failed, for the log: Redis' error, and for one that
 * failed on its data, the key of the wrong type when one is (one more
 * round trip, only for the lines that name it).
 */

static void
wachat_conv_store_why(wachat_conv_t *cv, int refused, char *buf, size_t len)
{
    char              err[sizeof(cv->engine->store->err)];
    char              key[256];
    wachat_engine_t  *en = cv->engine;

    snprintf(err, sizeof(err), "%s", en->store->err);

    if (!refused) {
        snprintf(buf, len, "%s", err);
        return;
    }

    if (wachat_script_wrong_key(en->store, &cv->ref, key, sizeof(key)) == 1) {
        snprintf(buf, len, "%s (%s): fix or delete that key", key, err);

    } else {
        snprintf(buf, len, "%s (an error of the conversation's own data)",
                 err);
    }

    /* the script's error stays the link's last word */
    snprintf(en->store->err, sizeof(en->store->err), "%s", err);
}


void
wachat_conv_store_ok(wachat_conv_t *cv, wachat_conv_store_e what)
{
    wachat_engine_t  *en = cv->engine;

    if (cv->store_failures == 0) {
        return;
    }

    if (what == WACHAT_STORE_STEP && cv->store_failed != WACHAT_STORE_STEP
        && cv->peek.state == WACHAT_PEEK_WORK)
    {
        return;     /* the script that failed is still to come */
    }

    wachat_log(WACHAT_LOG_NOTICE, "conversation %s: store works again "
               "after %d failure%s", cv->id, cv->store_failures,
               cv->store_failures == 1 ? "" : "s");

    cv->store_failures = 0;
    en->stats.store_backoff--;
}
