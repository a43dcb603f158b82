/*
 * conv: the conversation worker (see conv.h for the guarantees).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "agents/agents.h"
#include "answer/answer.h"
#include "lib/clock.h"
#include "conversation/conv.h"
#include "clients/graph.h"
#include "conversation/event.h"
#include "lib/log.h"


#define WACHAT_BUCKETS        1024
#define WACHAT_LEASE_MS       60000
#define WACHAT_DONE_TTL       (8 * 86400)  /* Meta retries for 7 days */
#define WACHAT_UNSETTLED_MS   50
#define WACHAT_RENEW_MS       (WACHAT_LEASE_MS / 3)
#define WACHAT_TOKEN_WAIT_MS  60000
#define WACHAT_BACKOFF_MAX    30000


typedef struct wachat_conv_s  wachat_conv_t;

struct wachat_conv_s {
    wachat_conv_t    *next;
    wachat_engine_t  *engine;
    struct event     *timer;
    struct event     *renew;        /* keeps the lease while busy */
    int               busy;         /* a send or LLM call is in flight */
    int               attempt;      /* of the outbound head */
    char             *head;         /* the outbound head being sent */
    size_t            head_len;
    char             *pending;      /* inbox member waiting for the LLM */
    size_t            pending_len;
    char             *unrecorded;   /* wamid of the head, sent, to record */
    char              id[WACHAT_CONV_ID_MAX];
};


struct wachat_engine_s {
    struct event_base        *base;
    wachat_store_t           *store;
    wachat_stream_t          *stream;
    wachat_outbound_t        *ob;
    wachat_llm_t             *llm;
    wachat_notify_pt          notify;
    void                     *notify_data;
    const wachat_config_t    *cfg;
    const wachat_kb_t        *kb;
    char                     *owner;
    int                       draining;
    int                       closing;      /* callbacks do nothing */
    size_t                    active;
    wachat_engine_stats_t     stats;
    wachat_conv_t            *buckets[WACHAT_BUCKETS];
};


const long  wachat_llm_buckets_ms[WACHAT_LLM_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 30000, -1
};


static wachat_conv_t *wachat_conv_find(wachat_engine_t *en, const char *id,
    int create);
static void wachat_conv_forget(wachat_conv_t *cv);
static void wachat_conv_schedule(wachat_conv_t *cv, long ms);
static void wachat_conv_on_timer(evutil_socket_t fd, short what, void *arg);
static void wachat_conv_on_renew(evutil_socket_t fd, short what, void *arg);
static void wachat_conv_set_busy(wachat_conv_t *cv, int busy);
static void wachat_conv_step(wachat_conv_t *cv);
static int wachat_conv_lease(wachat_conv_t *cv);
static int wachat_conv_peek(wachat_conv_t *cv, redisReply **peek);
static void wachat_conv_release(wachat_conv_t *cv, int force);
static int wachat_conv_send_head(wachat_conv_t *cv,
    const redisReply *peeked);
static long wachat_conv_rate(wachat_conv_t *cv);
static int wachat_conv_record(wachat_conv_t *cv);
static void wachat_conv_sent(void *data, const wachat_send_result_t *res);
static void wachat_conv_dead(wachat_conv_t *cv, const char *hist,
    long code, const char *reason);
static void wachat_conv_message(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev);
static int wachat_conv_ask_llm(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev, const wachat_question_t *q);
static void wachat_conv_llm_done(void *data, const wachat_llm_result_t *res);
static void wachat_conv_commit(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev, wachat_reply_t *reply,
    int handoff, const char *agent);
static void wachat_conv_committed(wachat_conv_t *cv,
    const wachat_event_t *ev, long long queued, const char *mode,
    int is_new, int handoff, const char *agent,
    const wachat_reply_t *reply);
static void wachat_conv_gen_reply(yajl_gen g, wachat_conv_t *cv,
    const wachat_event_t *ev, const char *text, const wachat_reply_t *reply,
    int system, const char *now);
static int wachat_conv_is_handoff(const wachat_config_t *cfg,
    const wachat_question_t *q);
static void wachat_conv_handoff(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev);
static void wachat_conv_status(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev);


wachat_engine_t *
wachat_engine_new(struct event_base *base, wachat_store_t *store,
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
            event_free(cv->timer);
            event_free(cv->renew);
            free(cv->head);
            free(cv->pending);
            free(cv->unrecorded);
            free(cv);
        }
    }

    free(en->owner);
    free(en);
}


void
wachat_engine_configure(wachat_engine_t *en, const wachat_config_t *cfg,
    const wachat_kb_t *kb)
{
    en->cfg = cfg;
    en->kb = kb;
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

    cv = wachat_conv_find(en, conv_id, 1);
    if (cv == NULL) {
        wachat_log(WACHAT_LOG_ERROR, "out of memory for conversation %s",
                   conv_id);
        return;
    }

    if (!cv->busy && !evtimer_pending(cv->timer, NULL)) {
        wachat_conv_schedule(cv, 0);
    }
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
                wachat_conv_release(cv, 1);
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
wachat_hash(const char *s)
{
    unsigned long  h = 5381;

    while (*s) {
        h = h * 33 + (unsigned char) *s++;
    }

    return h % WACHAT_BUCKETS;
}


static wachat_conv_t *
wachat_conv_find(wachat_engine_t *en, const char *id, int create)
{
    unsigned long   h;
    wachat_conv_t  *cv;

    h = wachat_hash(id);

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
    cv->next = en->buckets[h];
    en->buckets[h] = cv;
    en->active++;

    return cv;
}


static void
wachat_conv_forget(wachat_conv_t *cv)
{
    wachat_conv_t   **pp;
    wachat_engine_t  *en = cv->engine;

    for (pp = &en->buckets[wachat_hash(cv->id)]; *pp; pp = &(*pp)->next) {
        if (*pp == cv) {
            *pp = cv->next;
            break;
        }
    }

    event_free(cv->timer);
    event_free(cv->renew);
    free(cv->head);
    free(cv->pending);
    free(cv->unrecorded);
    free(cv);
    en->active--;
}


static void
wachat_conv_schedule(wachat_conv_t *cv, long ms)
{
    struct timeval  tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    evtimer_add(cv->timer, &tv);
}


/*
 * While a call is in flight (an LLM answer, a Graph send waiting for a
 * slot), nothing else renews the lease: this does, so a long call cannot
 * let another consumer take the conversation and send twice.
 */

static void
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

    if (cv->busy && wachat_conv_lease(cv) == 0) {
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


/*
 * One step: renew the lease, then the oldest committed reply, else the
 * inbox head.  Each step ends by scheduling the next through the event
 * loop, so a busy conversation never starves the others.
 */

static void
wachat_conv_step(wachat_conv_t *cv)
{
    int                settled, rc;
    size_t             mlen;
    redisReply        *peek, *r, *head;
    const redisReply  *out, *first;
    wachat_event_t     ev;
    const char        *kind, *member;
    wachat_engine_t   *en = cv->engine;
    char               key[WACHAT_KEY_MAX];

    if (cv->busy) {
        return;
    }

    /* the lease, and the heads of both queues, in one round trip */
    rc = wachat_conv_peek(cv, &peek);

    if (rc == 0) {
        wachat_conv_forget(cv);         /* another consumer has it */
        return;
    }

    if (rc < 0) {
        wachat_conv_schedule(cv, 1000);
        return;
    }

    out = peek->element[1];
    first = peek->element[2];

    if (cv->unrecorded) {
        /* recording pops the outq: what was peeked is stale */
        freeReplyObject(peek);
        peek = NULL;
        out = NULL;
        first = NULL;

        if (wachat_conv_record(cv) < 0) {
            return;
        }

        if (cv->unrecorded) {
            wachat_conv_schedule(cv, 1000);
            return;
        }
    }

    rc = wachat_conv_send_head(cv, out);

    if (rc != 0) {
        freeReplyObject(peek);
        if (rc < 0) {
            wachat_conv_schedule(cv, 1000);
        }
        return;         /* busy, or waiting: the send callback goes on */
    }

    if (en->draining) {
        freeReplyObject(peek);
        wachat_conv_release(cv, 1);
        wachat_conv_forget(cv);
        return;
    }

    wachat_key_inbox(key, cv->id);

    r = NULL;

    if (first == NULL) {
        r = wachat_store_cmd(en->store, "ZRANGE %s 0 0", key);

        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            wachat_log(WACHAT_LOG_WARNING, "conversation %s: %s", cv->id,
                       r ? r->str : en->store->err);
            freeReplyObject(r);
            wachat_conv_schedule(cv, 1000);
            return;
        }

        first = r->elements ? r->element[0] : NULL;
    }

    if (first == NULL || first->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        freeReplyObject(peek);
        wachat_conv_release(cv, 0);
        return;
    }

    member = first->str;
    mlen = first->len;

    if (wachat_event_from_member(&ev, member, mlen) != 0) {
        wachat_log(WACHAT_LOG_ERROR, "conversation %s: unreadable inbox "
                   "entry dropped", cv->id);
        freeReplyObject(wachat_store_cmd(en->store, "ZREM %s %b", key,
                                         member, mlen));
        freeReplyObject(r);
        freeReplyObject(peek);
        wachat_conv_schedule(cv, 0);
        return;
    }

    settled = wachat_stream_is_settled(en->stream, ev.stream_id, cv->id);

    if (settled != 1) {
        /* an older event may still be on its way to this inbox */
        wachat_event_free(&ev);
        freeReplyObject(r);
        freeReplyObject(peek);
        wachat_conv_schedule(cv, settled == 0 ? WACHAT_UNSETTLED_MS : 1000);
        return;
    }

    /*
     * An older event may have landed in the inbox (and left the pending
     * list) between the two reads: the head must still be the same.  The
     * transfer adds to the inbox before it acknowledges, so this is enough.
     */
    head = wachat_store_cmd(en->store, "ZRANGE %s 0 0", key);

    if (head == NULL || head->type != REDIS_REPLY_ARRAY
        || head->elements != 1
        || head->element[0]->len != mlen
        || memcmp(head->element[0]->str, member, mlen) != 0)
    {
        freeReplyObject(head);
        wachat_event_free(&ev);
        freeReplyObject(r);
        freeReplyObject(peek);
        wachat_conv_schedule(cv, 0);
        return;
    }

    freeReplyObject(head);

    kind = wachat_event_get(&ev, "kind");

    if (kind && strcmp(kind, "status") == 0) {
        wachat_conv_status(cv, member, mlen, &ev);

    } else {
        wachat_conv_message(cv, member, mlen, &ev);
    }

    wachat_event_free(&ev);
    freeReplyObject(r);
    freeReplyObject(peek);

    /* the handlers may have forgotten cv (lease lost): they say so */
}


/*
 * The STEP script: 1 with *peek = {1, outq head, inbox head} (the caller
 * frees it), 0: someone else's, -1: Redis trouble.
 */
static int
wachat_conv_peek(wachat_conv_t *cv, redisReply **peek)
{
    redisReply       *r;
    const char       *argv[5];
    wachat_engine_t  *en = cv->engine;
    char              lease[WACHAT_KEY_MAX], outq[WACHAT_KEY_MAX];
    char              inbox[WACHAT_KEY_MAX], ms[32];

    *peek = NULL;

    wachat_key_lease(lease, cv->id);
    wachat_key_outq(outq, cv->id);
    wachat_key_inbox(inbox, cv->id);
    snprintf(ms, sizeof(ms), "%d", WACHAT_LEASE_MS);

    argv[0] = lease;
    argv[1] = outq;
    argv[2] = inbox;
    argv[3] = en->owner;
    argv[4] = ms;

    r = wachat_store_script(en->store, WACHAT_SCRIPT_STEP, 3, 5, argv, NULL);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1
        || r->element[0]->type != REDIS_REPLY_INTEGER
        || (r->element[0]->integer == 1 && r->elements != 3))
    {
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: lease: %s", cv->id,
                   r == NULL ? en->store->err
                   : r->type == REDIS_REPLY_ERROR ? r->str
                   : "unexpected reply");
        freeReplyObject(r);
        return -1;
    }

    if (r->element[0]->integer != 1) {
        freeReplyObject(r);
        return 0;
    }

    *peek = r;
    return 1;
}


/* renews the lease: 1 ours, 0 someone else's, -1 Redis trouble */
static int
wachat_conv_lease(wachat_conv_t *cv)
{
    int          rc;
    redisReply  *peek;

    rc = wachat_conv_peek(cv, &peek);
    freeReplyObject(peek);

    return rc;
}


static void
wachat_conv_release(wachat_conv_t *cv, int force)
{
    redisReply       *r;
    const char       *argv[5];
    wachat_engine_t  *en = cv->engine;
    char              inbox[WACHAT_KEY_MAX], outq[WACHAT_KEY_MAX];
    char              lease[WACHAT_KEY_MAX];

    wachat_key_inbox(inbox, cv->id);
    wachat_key_outq(outq, cv->id);
    wachat_key_lease(lease, cv->id);

    argv[0] = inbox;
    argv[1] = outq;
    argv[2] = lease;
    argv[3] = en->owner;
    argv[4] = force ? "1" : "0";

    r = wachat_store_script(en->store, WACHAT_SCRIPT_RELEASE, 3, 5, argv,
                            NULL);

    if (force) {
        freeReplyObject(r);
        return;
    }

    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        wachat_conv_schedule(cv, 1000);
        return;
    }

    if (r->integer == 0) {
        freeReplyObject(r);
        wachat_conv_schedule(cv, 0);    /* work arrived meanwhile */
        return;
    }

    if (r->integer == 1) {
        /* a transfer that races this re-adds it and calls us again */
        freeReplyObject(wachat_store_cmd(en->store, "SREM %s %s",
                                         WACHAT_KEY_READY, cv->id));
    }

    freeReplyObject(r);
    wachat_conv_forget(cv);
}


/*
 * Meta caps a business number's throughput (80 messages/s by default);
 * every consumer draws from one bucket per number in Redis.  Returns the
 * ms to wait, 0 to send now.  Redis trouble does not hold replies back.
 */

static long
wachat_conv_rate(wachat_conv_t *cv)
{
    long              wait;
    size_t            n;
    redisReply       *r;
    const char       *argv[3];
    wachat_engine_t  *en = cv->engine;
    char              key[WACHAT_KEY_MAX], rate[32], burst[32];

    if (en->cfg->rate_limit <= 0) {
        return 0;
    }

    n = strcspn(cv->id, ":");
    snprintf(key, sizeof(key), "wachat:rate:{%.*s}", (int) n, cv->id);
    snprintf(rate, sizeof(rate), "%d", en->cfg->rate_limit);
    snprintf(burst, sizeof(burst), "%d", en->cfg->rate_limit);

    argv[0] = key;
    argv[1] = rate;
    argv[2] = burst;

    r = wachat_store_script(en->store, WACHAT_SCRIPT_RATE, 1, 3, argv, NULL);

    wait = (r && r->type == REDIS_REPLY_INTEGER) ? (long) r->integer : 0;
    freeReplyObject(r);

    return wait;
}


/*
 * 0: nothing to send; 1: a send is in flight or waits; -1: Redis trouble.
 * peeked: the outq head the STEP script read (string or nil), or NULL to
 * read it here.
 */
static int
wachat_conv_send_head(wachat_conv_t *cv, const redisReply *peeked)
{
    long               wait;
    redisReply        *r;
    const redisReply  *h;
    wachat_engine_t   *en = cv->engine;
    char               key[WACHAT_KEY_MAX];

    r = NULL;
    h = peeked;

    if (h == NULL) {
        wachat_key_outq(key, cv->id);
        r = wachat_store_cmd(en->store, "LINDEX %s 0", key);
        h = r;
    }

    if (h == NULL || (h->type != REDIS_REPLY_STRING
                      && h->type != REDIS_REPLY_NIL))
    {
        freeReplyObject(r);
        return -1;
    }

    if (h->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);
        return 0;
    }

    wait = wachat_conv_rate(cv);

    if (wait > 0) {
        /* over the number's rate: the reply stays first in line */
        freeReplyObject(r);
        wachat_conv_schedule(cv, wait);
        return 1;
    }

    free(cv->head);
    cv->head = malloc(h->len + 1);

    if (cv->head == NULL) {
        freeReplyObject(r);
        return -1;
    }

    memcpy(cv->head, h->str, h->len);
    cv->head[h->len] = '\0';
    cv->head_len = h->len;
    freeReplyObject(r);

    wachat_conv_set_busy(cv, 1);

    if (wachat_outbound_send(en->ob, cv->head, cv->head_len, cv->attempt,
                             wachat_conv_sent, cv)
        != 0)
    {
        wachat_conv_set_busy(cv, 0);
        return -1;
    }

    return 1;
}


/* the "hist" id the commit script stored in a reply, for status records */
static char *
wachat_reply_hist(const char *json)
{
    char         *id;
    yajl_val      root, v;
    const char   *path[] = { "hist", NULL };

    root = yajl_tree_parse(json, NULL, 0);
    if (root == NULL) {
        return strdup("");
    }

    v = yajl_tree_get(root, path, yajl_t_string);
    id = strdup((v && v->u.string) ? v->u.string : "");

    yajl_tree_free(root);

    return id;
}


static long
wachat_backoff(int attempt, long at_least)
{
    long  base;

    base = 1000L << (attempt < 5 ? attempt : 5);
    if (base > WACHAT_BACKOFF_MAX) {
        base = WACHAT_BACKOFF_MAX;
    }

    /* jitter: many conversations hit by one outage do not retry in step */
    base = base / 2 + random() % (base / 2 + 1);

    return base > at_least ? base : at_least;
}


/*
 * Records the head of the outbound queue as sent with cv->unrecorded, its
 * wamid.  0: recorded (or moot: the head changed), cv->unrecorded cleared;
 * also 0 with cv->unrecorded kept when Redis cannot take it now; -1: the
 * lease is lost, cv is forgotten.
 */

static int
wachat_conv_record(wachat_conv_t *cv)
{
    char             *hist;
    redisReply       *r;
    const char       *argv[9];
    wachat_engine_t  *en = cv->engine;
    char              outq[WACHAT_KEY_MAX], st[WACHAT_KEY_MAX];
    char              conv[WACHAT_KEY_MAX], lease[WACHAT_KEY_MAX];
    char              now[32];

    hist = wachat_reply_hist(cv->head);
    if (hist == NULL) {
        return 0;
    }

    wachat_key_outq(outq, cv->id);
    wachat_key_status(st, cv->id);
    wachat_key_conv(conv, cv->id);
    wachat_key_lease(lease, cv->id);
    snprintf(now, sizeof(now), "%lld", wachat_clock_ms());

    argv[0] = outq;
    argv[1] = st;
    argv[2] = conv;
    argv[3] = lease;
    argv[4] = en->owner;
    argv[5] = cv->head;
    argv[6] = cv->unrecorded;
    argv[7] = hist;
    argv[8] = now;

    r = wachat_store_script(en->store, WACHAT_SCRIPT_SENT, 4, 9, argv, NULL);
    free(hist);

    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: reply %s sent, not "
                   "yet recorded (%s): kept, retrying the record",
                   cv->id, cv->unrecorded, r ? r->str : en->store->err);
        freeReplyObject(r);
        return 0;
    }

    if (r->integer == -1) {
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: reply %s sent "
                   "after this consumer lost the lease; the new owner may "
                   "send it again", cv->id, cv->unrecorded);
        freeReplyObject(r);
        wachat_conv_forget(cv);
        return -1;
    }

    freeReplyObject(r);
    free(cv->unrecorded);
    cv->unrecorded = NULL;

    return 0;
}


static void
wachat_conv_sent(void *data, const wachat_send_result_t *res)
{
    char             *hist;
    long              delay;
    wachat_conv_t    *cv = data;
    wachat_engine_t  *en = cv->engine;

    wachat_conv_set_busy(cv, 0);

    if (en->closing) {
        return;         /* forced stop: the reply stays queued in Redis */
    }

    hist = wachat_reply_hist(cv->head);
    if (hist == NULL) {
        wachat_conv_schedule(cv, 1000);
        return;
    }

    switch (res->result) {

    case WACHAT_SEND_OK:
        en->stats.sent++;
        cv->attempt = 0;

        wachat_feed(en->store, "status", cv->id, "id", res->wamid,
                    "hist", hist, "status", "accepted", NULL);

        /*
         * Meta has it: from here on the reply must be recorded, never sent
         * again.  If Redis cannot take the record now, it is kept and
         * retried before anything else of this conversation.
         */
        free(cv->unrecorded);
        cv->unrecorded = strdup(res->wamid);

        if (cv->unrecorded == NULL) {
            wachat_conv_schedule(cv, 1000);
            break;
        }

        if (wachat_conv_record(cv) < 0) {
            free(hist);
            return;     /* cv is forgotten: the lease is lost */
        }

        wachat_conv_schedule(cv, cv->unrecorded ? 1000 : 0);
        break;

    case WACHAT_SEND_RETRY:
        cv->attempt++;

        if (cv->attempt > en->cfg->graph_max_retries) {
            wachat_conv_dead(cv, hist, res->code, res->reason);
            cv->attempt = 0;
            wachat_conv_schedule(cv, 0);
            break;
        }

        en->stats.retried++;
        delay = wachat_backoff(cv->attempt, res->retry_ms);

        wachat_log(WACHAT_LOG_WARNING, "conversation %s: send failed (%s), "
                   "retry %d/%d in %ld ms", cv->id, res->reason, cv->attempt,
                   en->cfg->graph_max_retries, delay);

        wachat_conv_schedule(cv, delay);
        break;

    case WACHAT_SEND_TOKEN:
        wachat_log(WACHAT_LOG_ERROR, "conversation %s: the Graph API "
                   "refused the access token (%s). The reply is kept: fix "
                   "graph_token_file with a permanent System User token and "
                   "reload (kill -HUP); retrying every %d s meanwhile",
                   cv->id, res->reason, WACHAT_TOKEN_WAIT_MS / 1000);
        wachat_conv_schedule(cv, WACHAT_TOKEN_WAIT_MS);
        break;

    default:
        wachat_conv_dead(cv, hist, res->code, res->reason);
        cv->attempt = 0;
        wachat_conv_schedule(cv, 0);
        break;
    }

    free(hist);
}


/*
 * What finally fails goes to the dead-letter stream with its reason, first,
 * and only then leaves the queue: a crash in between duplicates a dead
 * letter, never loses a reply.
 */

static void
wachat_conv_dead(wachat_conv_t *cv, const char *hist, long code,
    const char *reason)
{
    redisReply       *r;
    const char       *argv[8];
    wachat_engine_t  *en = cv->engine;
    char              outq[WACHAT_KEY_MAX], st[WACHAT_KEY_MAX];
    char              lease[WACHAT_KEY_MAX], codebuf[32], now[32];

    snprintf(codebuf, sizeof(codebuf), "%ld", code);
    snprintf(now, sizeof(now), "%lld", wachat_clock_ms());

    wachat_log(WACHAT_LOG_ERROR, "conversation %s: reply dead-lettered: %s",
               cv->id, reason);

    r = wachat_store_cmd(en->store, "XADD %s MAXLEN ~ 100000 * conv %s "
                         "code %s reason %s reply %b", en->cfg->dead_stream, cv->id, codebuf,
                         reason, cv->head, cv->head_len);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return;         /* kept in the queue: retried on the next step */
    }

    freeReplyObject(r);

    wachat_key_outq(outq, cv->id);
    wachat_key_status(st, cv->id);
    wachat_key_lease(lease, cv->id);

    argv[0] = outq;
    argv[1] = st;
    argv[2] = lease;
    argv[3] = en->owner;
    argv[4] = cv->head;
    argv[5] = hist;
    argv[6] = codebuf;
    argv[7] = now;

    r = wachat_store_script(en->store, WACHAT_SCRIPT_DROP, 3, 8, argv, NULL);

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        wachat_log(WACHAT_LOG_ERROR, "conversation %s: recording the dead "
                   "letter failed: %s", cv->id, r ? r->str : en->store->err);
    }

    freeReplyObject(r);

    en->stats.dead++;
}


static void
wachat_gen_str(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *) s, strlen(s));
}


static void
wachat_gen_kv(yajl_gen g, const char *k, const char *v)
{
    if (v) {
        wachat_gen_str(g, k);
        wachat_gen_str(g, v);
    }
}


static void
wachat_conv_message(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev)
{
    int                 has_reply;
    long long           ts, now;
    wachat_reply_t      reply;
    wachat_question_t   q;
    const char         *wamid;
    wachat_engine_t    *en = cv->engine;

    wamid = wachat_event_get(ev, "id");
    now = wachat_clock_ms();
    ts = wachat_event_get(ev, "ts") ? atoll(wachat_event_get(ev, "ts")) : 0;

    q.type = wachat_event_get(ev, "type");
    q.text = wachat_event_get(ev, "text");
    q.payload = wachat_event_get(ev, "payload");

    /* the 24-hour window counts from the customer's own message */
    if (ts > 0 && now / 1000 - ts > en->cfg->window_ms / 1000) {
        wachat_log(WACHAT_LOG_NOTICE, "conversation %s: message %s is older "
                   "than the customer service window, not answered",
                   cv->id, wamid ? wamid : "?");
        wachat_conv_commit(cv, member, mlen, ev, NULL, 0, NULL);
        return;
    }

    if (wachat_conv_is_handoff(en->cfg, &q)) {
        wachat_conv_handoff(cv, member, mlen, ev);
        return;
    }

    if (q.type && wachat_answerable(q.type)) {
        wachat_outbound_mark_read(en->ob,
                                  wachat_event_get(ev, "phone_number_id"),
                                  wamid);
    }

    if (en->llm && en->cfg->backend == WACHAT_BACKEND_OPENAI
        && wachat_conv_ask_llm(cv, member, mlen, ev, &q) == 0)
    {
        return;         /* busy until the model answers */
    }

    has_reply = wachat_answer_kb(en->kb, en->cfg->kb_min_score,
                                 en->cfg->fallback_text, &q, &reply);
    if (has_reply < 0) {
        wachat_conv_schedule(cv, 1000);
        return;
    }

    wachat_conv_commit(cv, member, mlen, ev, has_reply ? &reply : NULL, 0,
                       NULL);
}


/*
 * "/live_agent" (or a configured phrase), or the hand-over button: the
 * text alone, case and surrounding spaces aside.
 */

static int
wachat_conv_is_handoff(const wachat_config_t *cfg, const wachat_question_t *q)
{
    size_t       i, len;
    const char  *t;

    if (q->payload && strcmp(q->payload, WACHAT_KB_LIVE_AGENT) == 0) {
        return 1;
    }

    if (q->text == NULL) {
        return 0;
    }

    t = q->text;
    while (*t == ' ' || *t == '\t' || *t == '\n') {
        t++;
    }

    len = strlen(t);
    while (len && (t[len - 1] == ' ' || t[len - 1] == '\t'
                   || t[len - 1] == '\n'))
    {
        len--;
    }

    for (i = 0; i < cfg->handoff_commands.n; i++) {
        if (strlen(cfg->handoff_commands.items[i]) == len
            && strncasecmp(cfg->handoff_commands.items[i], t, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * The customer asked for a person: an online agent gets the conversation,
 * or it waits for one; either way the customer is told what happens next.
 */

static void
wachat_conv_handoff(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev)
{
    int               online;
    wachat_reply_t    reply;
    wachat_engine_t  *en = cv->engine;
    char              agent[128];

    online = wachat_agent_pick(en->store, en->cfg, agent, sizeof(agent)) == 0;

    memset(&reply, 0, sizeof(wachat_reply_t));
    reply.text = strdup(online ? en->cfg->handoff_text
                               : en->cfg->handoff_offline_text);
    snprintf(reply.source, sizeof(reply.source), "handoff");

    if (reply.text == NULL) {
        wachat_conv_schedule(cv, 1000);
        return;
    }

    wachat_conv_commit(cv, member, mlen, ev, &reply, 1,
                       online ? agent : NULL);
}


/*
 * The openai backend: the model answers, grounded on the best KB passages
 * and the last turns of the conversation.  0: asked, the answer comes to
 * wachat_conv_llm_done(); -1: not a question for the model (a button
 * naming an entry, a message without text) or it could not be asked.
 */

static int
wachat_conv_ask_llm(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev, const wachat_question_t *q)
{
    size_t                 i, n, nturns;
    redisReply            *r;
    wachat_kb_hit_t        hits[8];
    wachat_llm_turn_t      turns[64];
    wachat_llm_prompt_t    prompt;
    wachat_llm_passage_t   passages[8];
    wachat_engine_t       *en = cv->engine;
    const char            *dir, *text;
    char                   key[WACHAT_KEY_MAX];
    int                    k;

    (void) ev;

    if (q->type == NULL || !wachat_answerable(q->type)
        || q->text == NULL || *q->text == '\0'
        || (q->payload && wachat_kb_get(en->kb, q->payload)))
    {
        return -1;
    }

    n = en->cfg->llm_passages;
    n = wachat_kb_search(en->kb, q->text, strlen(q->text), hits,
                         n < 8 ? n : 8);

    for (i = 0; i < n; i++) {
        passages[i].title = hits[i].entry->question;
        passages[i].text = hits[i].entry->answer;
    }

    /* the last turns, oldest first; this message is not in them yet */
    nturns = 0;
    wachat_key_hist(key, cv->id);

    r = wachat_store_cmd(en->store, "XREVRANGE %s + - COUNT %d", key,
                         en->cfg->llm_history < 64 ? en->cfg->llm_history
                                                   : 64);

    if (r && r->type == REDIS_REPLY_ARRAY) {
        for (k = (int) r->elements - 1; k >= 0; k--) {
            dir = wachat_reply_field(r->element[k]->element[1], "dir");
            text = wachat_reply_field(r->element[k]->element[1], "text");

            if (dir && text) {
                turns[nturns].role = strcmp(dir, "in") == 0
                                     ? WACHAT_LLM_USER : WACHAT_LLM_ASSISTANT;
                turns[nturns].text = text;
                nturns++;
            }
        }
    }

    memset(&prompt, 0, sizeof(wachat_llm_prompt_t));
    prompt.passages = passages;
    prompt.npassages = n;
    prompt.history = turns;
    prompt.nhistory = nturns;
    prompt.question = q->text;

    free(cv->pending);
    cv->pending = malloc(mlen + 1);

    if (cv->pending == NULL) {
        freeReplyObject(r);
        return -1;
    }

    memcpy(cv->pending, member, mlen);
    cv->pending[mlen] = '\0';
    cv->pending_len = mlen;
    wachat_conv_set_busy(cv, 1);

    /* the prompt is copied into the request: r may go now */
    if (wachat_llm_complete(en->llm, &prompt, wachat_conv_llm_done, cv)
        != 0)
    {
        wachat_conv_set_busy(cv, 0);
        free(cv->pending);
        cv->pending = NULL;
        freeReplyObject(r);
        return -1;
    }

    freeReplyObject(r);

    return 0;
}


static void
wachat_conv_llm_done(void *data, const wachat_llm_result_t *res)
{
    int                       has_reply;
    size_t                    i, n, max, cut;
    wachat_reply_t            reply;
    wachat_event_t            ev;
    wachat_kb_hit_t           hit;
    wachat_question_t         q;
    wachat_conv_t            *cv = data;
    wachat_engine_t          *en = cv->engine;

    wachat_conv_set_busy(cv, 0);

    if (en->closing) {
        return;         /* forced stop: the message stays in the inbox */
    }

    en->stats.llm_calls++;
    en->stats.llm_failures += res->ok ? 0 : 1;
    en->stats.llm_ms_sum += res->total_ms > 0 ? res->total_ms : 0;

    for (i = 0; i < WACHAT_LLM_BUCKETS; i++) {
        if (wachat_llm_buckets_ms[i] < 0
            || res->total_ms <= wachat_llm_buckets_ms[i])
        {
            en->stats.llm_le[i]++;
            break;
        }
    }

    if (wachat_event_from_member(&ev, cv->pending, cv->pending_len) != 0) {
        wachat_conv_schedule(cv, 0);
        return;
    }

    q.type = wachat_event_get(&ev, "type");
    q.text = wachat_event_get(&ev, "text");
    q.payload = wachat_event_get(&ev, "payload");

    memset(&reply, 0, sizeof(wachat_reply_t));

    if (res->ok) {
        /* buttons of the entry the answer rests on may ride along */
        n = wachat_kb_search(en->kb, q.text, strlen(q.text), &hit, 1);
        max = WACHAT_GRAPH_TEXT_MAX;

        if (n == 1 && hit.score >= en->cfg->kb_min_score
            && hit.entry->nbuttons)
        {
            max = WACHAT_GRAPH_BUTTON_BODY_MAX;

            for (i = 0; i < hit.entry->nbuttons; i++) {
                reply.button_id[i] = strdup(hit.entry->buttons[i].id);
                reply.button_title[i] = strdup(hit.entry->buttons[i].title);
                reply.nbuttons++;
            }
        }

        cut = wachat_graph_clip(res->content, max);
        reply.text = strndup(res->content, cut);
        snprintf(reply.source, sizeof(reply.source), "llm");
        reply.score = n ? hit.score : 0;
        has_reply = reply.text ? 1 : -1;

    } else {
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: the model did not "
                   "answer (%s), answering from the knowledge base", cv->id,
                   res->error ? res->error : "?");

        has_reply = wachat_answer_kb(en->kb, en->cfg->kb_min_score,
                                     en->cfg->fallback_text, &q, &reply);
    }

    if (has_reply < 0) {
        wachat_reply_free(&reply);
        wachat_event_free(&ev);
        wachat_conv_schedule(cv, 1000);
        return;
    }

    wachat_conv_commit(cv, cv->pending, cv->pending_len, &ev,
                       has_reply ? &reply : NULL, 0, NULL);

    wachat_event_free(&ev);

    /* commit may have forgotten cv (lease lost): it is not touched after */
}


/*
 * One reply as the commit script takes it: its history entry and what the
 * sender needs.  buttons come from reply (NULL: a text without buttons).
 */

static void
wachat_conv_gen_reply(yajl_gen g, wachat_conv_t *cv, const wachat_event_t *ev,
    const char *text, const wachat_reply_t *reply, int system,
    const char *now)
{
    size_t       i, nbuttons;
    const char  *wamid, *to;
    char         name[32];

    wamid = wachat_event_get(ev, "id");
    to = wachat_event_get(ev, "from");

    if (to == NULL) {
        to = wachat_event_get(ev, "user_id");
    }

    nbuttons = reply ? reply->nbuttons : 0;

    yajl_gen_map_open(g);

    wachat_gen_str(g, "hist");
    yajl_gen_map_open(g);
    wachat_gen_kv(g, "dir", "out");
    wachat_gen_kv(g, "who", system ? "system" : "ai");
    wachat_gen_kv(g, "ts", now);
    wachat_gen_kv(g, "text", text);
    wachat_gen_kv(g, "source", reply ? reply->source : "handoff");
    wachat_gen_kv(g, "reply_to", wamid);
    for (i = 0; i < nbuttons; i++) {
        snprintf(name, sizeof(name), "button%zu", i + 1);
        wachat_gen_kv(g, name, reply->button_title[i]);
    }
    yajl_gen_map_close(g);

    wachat_gen_str(g, "send");
    yajl_gen_map_open(g);
    wachat_gen_kv(g, "to", to);
    wachat_gen_kv(g, "phone_number_id",
                  wachat_event_get(ev, "phone_number_id"));
    wachat_gen_kv(g, "conv", cv->id);
    wachat_gen_kv(g, "reply_to", wamid);
    wachat_gen_kv(g, "text", text);
    wachat_gen_str(g, "buttons");
    yajl_gen_array_open(g);
    for (i = 0; i < nbuttons; i++) {
        yajl_gen_map_open(g);
        wachat_gen_kv(g, "id", reply->button_id[i]);
        wachat_gen_kv(g, "title", reply->button_title[i]);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    yajl_gen_map_close(g);
}


/*
 * Commits an inbound message with its reply (or none): the conversation,
 * the history and the outbound queue change together, or not at all.
 * Frees the reply.
 */

static void
wachat_conv_commit(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev, wachat_reply_t *reply, int handoff,
    const char *agent)
{
    int                   has_reply;
    size_t                i, jlen;
    long long             now;
    yajl_gen              g;
    redisReply           *r;
    const unsigned char  *json;
    const char           *argv[12], *wamid, *text, *to, *type, *payload;
    size_t                argvlen[12];
    wachat_engine_t      *en = cv->engine;
    char                  keys[7][WACHAT_KEY_MAX], nowbuf[32], ttl[32];
    char                  histmax[32];

    has_reply = reply != NULL;
    wamid = wachat_event_get(ev, "id");
    text = wachat_event_get(ev, "text");
    type = wachat_event_get(ev, "type");
    payload = wachat_event_get(ev, "payload");
    to = wachat_event_get(ev, "from");

    if (to == NULL) {
        to = wachat_event_get(ev, "user_id");
    }

    now = wachat_clock_ms();

    snprintf(nowbuf, sizeof(nowbuf), "%lld", now);

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        if (has_reply) {
            wachat_reply_free(reply);
        }
        wachat_conv_schedule(cv, 1000);
        return;
    }

    yajl_gen_map_open(g);

    wachat_gen_str(g, "conv");
    yajl_gen_map_open(g);
    wachat_gen_kv(g, "phone_number_id", wachat_event_get(ev,
                                                         "phone_number_id"));
    wachat_gen_kv(g, "wa_id", wachat_event_get(ev, "from"));
    wachat_gen_kv(g, "user_id", wachat_event_get(ev, "user_id"));
    wachat_gen_kv(g, "name", wachat_event_get(ev, "name"));
    wachat_gen_kv(g, "last_in_ts", wachat_event_get(ev, "ts"));
    wachat_gen_kv(g, "last_in_id", wamid);
    wachat_gen_kv(g, "updated", nowbuf);
    yajl_gen_map_close(g);

    wachat_gen_str(g, "in");
    yajl_gen_map_open(g);
    wachat_gen_kv(g, "dir", "in");
    wachat_gen_kv(g, "who", "customer");
    wachat_gen_kv(g, "id", wamid);
    wachat_gen_kv(g, "ts", wachat_event_get(ev, "ts"));
    wachat_gen_kv(g, "type", type);
    wachat_gen_kv(g, "text", text);
    wachat_gen_kv(g, "payload", payload);
    wachat_gen_kv(g, "name", wachat_event_get(ev, "name"));
    yajl_gen_map_close(g);

    wachat_gen_str(g, "replies");
    yajl_gen_array_open(g);

    if (has_reply) {
        wachat_conv_gen_reply(g, cv, ev, reply->text, reply, handoff, nowbuf);
    }
    yajl_gen_array_close(g);

    /* conversations nobody touches for this long disappear */
    wachat_gen_str(g, "retention");
    yajl_gen_integer(g, en->cfg->retention_ms / 1000);

    if (handoff) {
        wachat_gen_str(g, "handoff");
        yajl_gen_bool(g, 1);
        wachat_gen_kv(g, "agent", agent);
        wachat_gen_kv(g, "now", nowbuf);

        /* asked again while an agent holds it: the agent is on the way */
        wachat_gen_str(g, "held");
        yajl_gen_array_open(g);
        wachat_conv_gen_reply(g, cv, ev, en->cfg->handoff_text, NULL, 1,
                              nowbuf);
        yajl_gen_array_close(g);
    }

    yajl_gen_map_close(g);

    yajl_gen_get_buf(g, &json, &jlen);

    wachat_key_conv(keys[0], cv->id);
    wachat_key_hist(keys[1], cv->id);
    wachat_key_inbox(keys[2], cv->id);
    wachat_key_outq(keys[3], cv->id);
    wachat_key_done(keys[4], cv->id, wamid ? wamid : ev->stream_id);
    wachat_key_status(keys[5], cv->id);
    wachat_key_lease(keys[6], cv->id);
    snprintf(ttl, sizeof(ttl), "%d", WACHAT_DONE_TTL);
    snprintf(histmax, sizeof(histmax), "%d", en->cfg->history_max);

    for (i = 0; i < 7; i++) {
        argv[i] = keys[i];
        argvlen[i] = strlen(keys[i]);
    }

    argv[7] = en->owner;
    argvlen[7] = strlen(en->owner);
    argv[8] = member;
    argvlen[8] = mlen;
    argv[9] = ttl;
    argvlen[9] = strlen(ttl);
    argv[10] = histmax;
    argvlen[10] = strlen(histmax);
    argv[11] = (const char *) json;
    argvlen[11] = jlen;

    r = wachat_store_script(en->store, WACHAT_SCRIPT_COMMIT, 7, 12, argv,
                            argvlen);

    yajl_gen_free(g);

    if (r && r->type == REDIS_REPLY_INTEGER && r->integer == -1) {
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: lease lost, "
                   "another consumer goes on", cv->id);
        freeReplyObject(r);
        if (has_reply) {
            wachat_reply_free(reply);
        }
        wachat_conv_forget(cv);
        return;
    }

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 4
        || r->element[0]->type != REDIS_REPLY_INTEGER
        || r->element[1]->type != REDIS_REPLY_INTEGER
        || r->element[2]->type != REDIS_REPLY_STRING
        || r->element[3]->type != REDIS_REPLY_INTEGER)
    {
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: commit failed: %s",
                   cv->id, r && r->type == REDIS_REPLY_ERROR
                           ? r->str : en->store->err);
        freeReplyObject(r);
        if (has_reply) {
            wachat_reply_free(reply);
        }
        wachat_conv_schedule(cv, 1000);
        return;
    }

    if (r->element[0]->integer == 0) {
        en->stats.duplicates++;
        wachat_log(WACHAT_LOG_INFO, "conversation %s: %s already answered",
                   cv->id, wamid ? wamid : ev->stream_id);

    } else {
        wachat_conv_committed(cv, ev, r->element[1]->integer,
                              r->element[2]->str,
                              r->element[3]->integer == 1, handoff, agent,
                              reply);
    }

    freeReplyObject(r);

    if (has_reply) {
        wachat_reply_free(reply);
    }

    wachat_conv_schedule(cv, 0);
}


/*
 * What follows a commit outside the conversation's slot: the live feed,
 * the agents' bookkeeping and the e-mails.  Idempotent or best effort.
 */

static void
wachat_conv_committed(wachat_conv_t *cv, const wachat_event_t *ev,
    long long queued, const char *mode, int is_new, int handoff,
    const char *agent, const wachat_reply_t *reply)
{
    long long         close_ms;
    const char       *wamid, *ts;
    wachat_engine_t  *en = cv->engine;
    char              score[32];

    wamid = wachat_event_get(ev, "id");
    ts = wachat_event_get(ev, "ts");

    if (queued > 0 && !handoff) {
        en->stats.answered++;

        if (reply && strncmp(reply->source, "kb:", 3) == 0) {
            en->stats.from_kb++;

        } else if (reply && strcmp(reply->source, "llm") == 0) {
            en->stats.from_llm++;

        } else if (reply && strcmp(reply->source, "fallback") == 0) {
            en->stats.from_fallback++;
        }
        wachat_log(WACHAT_LOG_INFO, "conversation %s: %s answered from %s "
                   "(score %.2f)", cv->id, wamid ? wamid : "?",
                   reply ? reply->source : "?", reply ? reply->score : 0);

    } else if (!handoff) {
        en->stats.silent++;
    }

    wachat_feed(en->store, "message", cv->id, "id", wamid ? wamid : "",
                "mode", mode, NULL);

    if (handoff && strcmp(mode, "agent") == 0 && agent) {
        en->stats.handoffs++;
        wachat_log(WACHAT_LOG_NOTICE, "conversation %s: handed over to "
                   "agent %s", cv->id, agent);
        wachat_agent_assigned(en->store, agent, cv->id);
        wachat_feed(en->store, "mode", cv->id, "mode", "agent", "agent",
                    agent, NULL);

    } else if (handoff && strcmp(mode, "waiting_agent") == 0) {
        en->stats.handoffs++;
        wachat_log(WACHAT_LOG_NOTICE, "conversation %s: asks for a person, "
                   "nobody online", cv->id);

        /* waiting ones are listed by when their 24-hour window closes */
        close_ms = (ts ? atoll(ts) : 0) * 1000 + en->cfg->window_ms;
        snprintf(score, sizeof(score), "%lld", close_ms);
        freeReplyObject(wachat_store_cmd(en->store, "ZADD %s %s %s",
                                         WACHAT_KEY_WAITING, score, cv->id));
        wachat_feed(en->store, "mode", cv->id, "mode", "waiting_agent",
                    NULL);

        if (en->notify) {
            en->notify(en->notify_data, WACHAT_NOTIFY_WAITING, cv->id);
        }

    } else if (strcmp(mode, "agent") == 0) {
        /* the customer wrote to an agent: that is activity */
        snprintf(score, sizeof(score), "%lld", wachat_clock_ms());
        freeReplyObject(wachat_store_cmd(en->store, "ZADD %s XX %s %s",
                                         WACHAT_KEY_ASSIGNED, score,
                                         cv->id));
    }

    if (is_new && en->notify) {
        en->notify(en->notify_data, WACHAT_NOTIFY_NEW_CHAT, cv->id);
    }
}


static void
wachat_conv_status(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev)
{
    redisReply       *r;
    const char       *argv[10], *status, *code, *explain;
    size_t            argvlen[10];
    wachat_engine_t  *en = cv->engine;
    char              st[WACHAT_KEY_MAX], inbox[WACHAT_KEY_MAX];
    char              lease[WACHAT_KEY_MAX], conv[WACHAT_KEY_MAX];
    int               i;

    wachat_key_status(st, cv->id);
    wachat_key_inbox(inbox, cv->id);
    wachat_key_lease(lease, cv->id);

    status = wachat_event_get(ev, "status");
    code = wachat_event_get(ev, "error_code");

    wachat_key_conv(conv, cv->id);

    argv[0] = st;
    argv[1] = inbox;
    argv[2] = conv;
    argv[3] = lease;
    argv[4] = en->owner;
    argv[5] = member;
    argv[6] = wachat_event_get(ev, "id") ? wachat_event_get(ev, "id") : "";
    argv[7] = status ? status : "";
    argv[8] = wachat_event_get(ev, "ts") ? wachat_event_get(ev, "ts") : "";
    argv[9] = code ? code : "";

    for (i = 0; i < 10; i++) {
        argvlen[i] = (i == 5) ? mlen : strlen(argv[i]);
    }

    r = wachat_store_script(en->store, WACHAT_SCRIPT_STATUS, 4, 10, argv,
                            argvlen);

    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: status: %s", cv->id,
                   r ? r->str : en->store->err);
        freeReplyObject(r);
        wachat_conv_schedule(cv, 1000);
        return;
    }

    if (r->integer == -1) {
        freeReplyObject(r);
        wachat_conv_forget(cv);
        return;
    }

    en->stats.statuses++;

    if (r->integer == 1) {
        /* the console's ticks follow without a reload */
        wachat_feed(en->store, "status", cv->id, "id", argv[6],
                    "status", argv[7], "error_code", argv[9], NULL);
    }

    if (status && strcmp(status, "failed") == 0 && r->integer == 1) {
        /*
         * Meta accepted the reply, then could not deliver it: surfaced
         * like a send error, in the log and the dead-letter stream.
         */
        explain = code ? wachat_graph_explain(atol(code)) : NULL;

        wachat_log(WACHAT_LOG_WARNING, "conversation %s: reply %s was not "
                   "delivered, error %s%s%s", cv->id, argv[6],
                   code ? code : "?", explain ? ": " : "",
                   explain ? explain : "");

        freeReplyObject(wachat_store_cmd(en->store, "XADD %s MAXLEN ~ 100000 * "
                        "conv %s code %s reason %s wamid %s", en->cfg->dead_stream,
                        cv->id, code ? code : "-1",
                        explain ? explain : "delivery failed",
                        argv[6]));
        en->stats.dead++;
    }

    freeReplyObject(r);
    wachat_conv_schedule(cv, 0);
}
