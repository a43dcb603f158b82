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
                wachat_script_release(en->store, &cv->ref);
                wachat_conv_forget(cv);
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

    wachat_conv_free(cv);
    en->active--;
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
