/*
 * kb_embed: entry vectors computed at load, cached in Redis (kb_embed.h).
 */

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "answer/kb_embed.h"
#include "lib/log.h"


#define WACHAT_KB_EMBED_RETRY_MS      5000
#define WACHAT_KB_EMBED_RETRY_MAX_MS  300000
#define WACHAT_KB_EMBED_MIN_TIMEOUT   30000


struct wachat_kb_embed_s {
    struct event_base        *base;
    struct event             *retry;
    wachat_redis_t           *store;
    wachat_embed_t           *embed;
    const wachat_kb_t        *kb;
    wachat_kb_embed_stats_t  *stats;
    wachat_kb_vectors_t       vs;
    char                    **texts;    /* per entry */
    char                    (*keys)[65];
    size_t                    next;     /* first entry maybe still to do */
    long                      backoff_ms;
    int                       inflight;
    int                       orphan;   /* freed while a call ran */
    int                       failing;  /* logged: quiet until it works */
    int                       reset;    /* the cache was of another dim */
    size_t                    cached;
    size_t                    embedded;
};


static void wachat_kb_embed_next(wachat_kb_embed_t *ke);
static void wachat_kb_embed_on_retry(evutil_socket_t fd, short what,
    void *arg);
static void wachat_kb_embed_done(void *data,
    const wachat_embed_result_t *res);


static void
wachat_kb_embed_release(wachat_kb_embed_t *ke)
{
    size_t  i;

    if (ke->retry) {
        event_free(ke->retry);
    }

    for (i = 0; ke->texts && i < ke->vs.n; i++) {
        free(ke->texts[i]);
    }

    free(ke->texts);
    free(ke->keys);
    wachat_kb_vectors_free(&ke->vs);
    free(ke);
}


void
wachat_kb_embed_free(wachat_kb_embed_t *ke)
{
    if (ke == NULL) {
        return;
    }

    if (ke->inflight) {
        ke->orphan = 1;
        return;
    }

    wachat_kb_embed_release(ke);
}


const wachat_kb_vectors_t *
wachat_kb_embed_vectors(const wachat_kb_embed_t *ke, const wachat_kb_t *kb)
{
    if (ke == NULL || ke->kb != kb || !wachat_kb_vectors_ready(&ke->vs)) {
        return NULL;
    }

    return &ke->vs;
}


/*
 * What the cache has of the entries named by keys (hex, 64 each), in one
 * HMGET, into vs; how many.  A vector of another dimension (another
 * model's) is left out, to be made again.
 */
size_t
wachat_kb_embed_read_cache(wachat_redis_t *store, char (*keys)[65],
    wachat_kb_vectors_t *vs)
{
    size_t             i, n, dim, got;
    size_t            *lens;
    const char       **argv;
    redisReply        *r, *v;

    n = vs->n;
    argv = malloc((n + 2) * sizeof(char *));
    lens = malloc((n + 2) * sizeof(size_t));

    if (argv == NULL || lens == NULL) {
        free(argv);
        free(lens);
        return 0;
    }

    argv[0] = "HMGET";
    lens[0] = 5;
    argv[1] = WACHAT_KB_EMBED_KEY;
    lens[1] = sizeof(WACHAT_KB_EMBED_KEY) - 1;

    for (i = 0; i < n; i++) {
        argv[i + 2] = keys[i];
        lens[i + 2] = 64;
    }

    r = wachat_redis_argv(store, (int) n + 2, argv, lens);
    free(argv);
    free(lens);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != n) {
        freeReplyObject(r);
        return 0;
    }

    got = 0;

    for (i = 0; i < n; i++) {
        v = r->element[i];

        if (v->type != REDIS_REPLY_STRING || v->len == 0
            || v->len % sizeof(float) != 0)
        {
            continue;
        }

        dim = v->len / sizeof(float);

        if (wachat_kb_vectors_set(vs, i, (const float *) v->str, dim) == 0) {
            got++;
        }
    }

    freeReplyObject(r);

    return got;
}


/*
 * Every entry embedded again, from new rows: 0, or -1 out of memory (the
 * old rows kept, as they were).
 */
static int
wachat_kb_embed_anew(wachat_kb_embed_t *ke)
{
    wachat_kb_vectors_t  fresh;

    if (wachat_kb_vectors_init(&fresh, ke->vs.n) != 0) {
        return -1;
    }

    fresh.boost = ke->vs.boost;
    wachat_kb_vectors_free(&ke->vs);
    ke->vs = fresh;
    ke->reset = 1;
    ke->next = 0;
    ke->cached = 0;
    ke->embedded = 0;
    evtimer_del(ke->retry);
    wachat_kb_embed_next(ke);

    return 0;
}


void
wachat_kb_embed_redo(wachat_kb_embed_t *ke, size_t dim)
{
    if (ke == NULL || ke->inflight || !wachat_kb_vectors_ready(&ke->vs)
        || ke->vs.dim == dim)
    {
        return;
    }

    wachat_log(WACHAT_LOG_NOTICE, "knowledge base vectors: the model now "
               "gives %zu dimensions, the knowledge base's have %zu: "
               "embedding every entry again", dim, ke->vs.dim);

    (void) wachat_kb_embed_anew(ke);
}


wachat_kb_embed_t *
wachat_kb_embed_start(struct event_base *base, wachat_redis_t *store,
    wachat_embed_t *embed, const wachat_kb_t *kb, double boost,
    wachat_kb_embed_stats_t *stats)
{
    char                *text;
    size_t               i, n;
    wachat_kb_embed_t   *ke;

    n = kb ? wachat_kb_count(kb) : 0;

    if (embed == NULL || n == 0) {
        return NULL;
    }

    ke = calloc(1, sizeof(wachat_kb_embed_t));
    if (ke == NULL) {
        return NULL;
    }

    ke->base = base;
    ke->store = store;
    ke->embed = embed;
    ke->kb = kb;
    ke->stats = stats;
    ke->backoff_ms = WACHAT_KB_EMBED_RETRY_MS;
    ke->texts = calloc(n, sizeof(char *));
    ke->keys = calloc(n, sizeof(*ke->keys));
    ke->retry = evtimer_new(base, wachat_kb_embed_on_retry, ke);

    if (ke->texts == NULL || ke->keys == NULL || ke->retry == NULL
        || wachat_kb_vectors_init(&ke->vs, n) != 0)
    {
        ke->vs.n = ke->texts ? n : 0;
        wachat_kb_embed_release(ke);
        return NULL;
    }

    ke->vs.boost = boost;

    for (i = 0; i < n; i++) {
        text = malloc(WACHAT_EMBED_MAX_TEXT);
        if (text == NULL) {
            wachat_kb_embed_release(ke);
            return NULL;
        }

        wachat_kb_vec_text(wachat_kb_entry(kb, i), text,
                           WACHAT_EMBED_MAX_TEXT);
        wachat_kb_vec_key(wachat_embed_model(embed), text, ke->keys[i]);
        ke->texts[i] = text;
    }

    if (store) {
        ke->cached = wachat_kb_embed_read_cache(store, ke->keys, &ke->vs);
    }

    stats->cached += ke->cached;
    wachat_kb_embed_next(ke);

    return ke;
}


/* the fields no entry of this KB names go: one field per entry */
static void
wachat_kb_embed_prune(wachat_kb_embed_t *ke)
{
    size_t        i, j, dead;
    const char   *argv[2 + 64];
    size_t        lens[2 + 64];
    redisReply   *r;

    r = wachat_redis_cmd(ke->store, "HKEYS %s", WACHAT_KB_EMBED_KEY);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return;
    }

    argv[0] = "HDEL";
    lens[0] = 4;
    argv[1] = WACHAT_KB_EMBED_KEY;
    lens[1] = sizeof(WACHAT_KB_EMBED_KEY) - 1;
    dead = 0;

    for (i = 0; i < r->elements; i++) {
        for (j = 0; j < ke->vs.n; j++) {
            if (r->element[i]->len == 64
                && memcmp(r->element[i]->str, ke->keys[j], 64) == 0)
            {
                break;
            }
        }

        if (j < ke->vs.n) {
            continue;
        }

        argv[2 + dead] = r->element[i]->str;
        lens[2 + dead] = r->element[i]->len;

        if (++dead == 64 || i + 1 == r->elements) {
            freeReplyObject(wachat_redis_argv(ke->store, (int) dead + 2,
                                              argv, lens));
            dead = 0;
        }
    }

    if (dead) {
        freeReplyObject(wachat_redis_argv(ke->store, (int) dead + 2, argv,
                                          lens));
    }

    freeReplyObject(r);
}


/* the next batch of entries without a vector, or the end */
static void
wachat_kb_embed_next(wachat_kb_embed_t *ke)
{
    size_t       n, i;
    long         timeout;
    const char  *texts[WACHAT_EMBED_BATCH];

    while (ke->next < ke->vs.n && ke->vs.have[ke->next]) {
        ke->next++;
    }

    if (ke->next == ke->vs.n) {
        if (ke->failing) {
            wachat_log(WACHAT_LOG_NOTICE, "knowledge base vectors: the "
                       "embeddings endpoint answers again");
        }

        wachat_log(WACHAT_LOG_NOTICE, "knowledge base vectors: %zu entries, "
                   "%zu from the cache, %zu embedded (%zu dimensions, model "
                   "%s): ranking by words and meaning", ke->vs.n, ke->cached,
                   ke->embedded, ke->vs.dim, wachat_embed_model(ke->embed));

        if (ke->store) {
            wachat_kb_embed_prune(ke);
        }

        return;
    }

    n = 0;

    for (i = ke->next; i < ke->vs.n && n < WACHAT_EMBED_BATCH; i++) {
        if (!ke->vs.have[i]) {
            texts[n++] = ke->texts[i];
        }
    }

    timeout = 10 * wachat_embed_timeout(ke->embed);
    timeout = timeout > WACHAT_KB_EMBED_MIN_TIMEOUT
              ? timeout : WACHAT_KB_EMBED_MIN_TIMEOUT;

    if (wachat_embed_request(ke->embed, texts, n, timeout,
                             wachat_kb_embed_done, ke) != 0)
    {
        wachat_embed_result_t  res;

        memset(&res, 0, sizeof(res));
        res.error = "embeddings: the request could not start";
        ke->inflight = 1;
        wachat_kb_embed_done(ke, &res);
        return;
    }

    ke->inflight = 1;
}


static void
wachat_kb_embed_on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;

    wachat_kb_embed_next(arg);
}


/* the new vectors into the cache, one HSET */
static void
wachat_kb_embed_write(wachat_kb_embed_t *ke, const size_t *idx, size_t n)
{
    size_t        i, k;
    const char   *argv[2 + 2 * WACHAT_EMBED_BATCH];
    size_t        lens[2 + 2 * WACHAT_EMBED_BATCH];

    argv[0] = "HSET";
    lens[0] = 4;
    argv[1] = WACHAT_KB_EMBED_KEY;
    lens[1] = sizeof(WACHAT_KB_EMBED_KEY) - 1;

    for (i = 0, k = 2; i < n; i++) {
        argv[k] = ke->keys[idx[i]];
        lens[k++] = 64;
        argv[k] = (const char *) (ke->vs.vec + idx[i] * ke->vs.dim);
        lens[k++] = ke->vs.dim * sizeof(float);
    }

    freeReplyObject(wachat_redis_argv(ke->store, (int) k, argv, lens));
}


static void
wachat_kb_embed_done(void *data, const wachat_embed_result_t *res)
{
    size_t              i, n, idx[WACHAT_EMBED_BATCH];
    const char         *why;
    struct timeval      tv;
    wachat_kb_embed_t  *ke = data;

    ke->inflight = 0;

    if (ke->orphan) {
        wachat_kb_embed_release(ke);
        return;
    }

    why = res->ok ? NULL : res->error;
    n = 0;

    for (i = ke->next; res->ok && i < ke->vs.n && n < res->n; i++) {
        if (ke->vs.have[i]) {
            continue;
        }

        /* the cache's vectors are another dimension: all made again */
        if (ke->vs.dim && ke->vs.dim != res->dim && !ke->reset) {
            wachat_log(WACHAT_LOG_NOTICE, "knowledge base vectors: the "
                       "model gives %zu dimensions, the cache had %zu: "
                       "embedding every entry again", res->dim, ke->vs.dim);

            if (wachat_kb_embed_anew(ke) == 0) {
                return;
            }

            why = "out of memory";
            n = 0;
            break;
        }

        if (wachat_kb_vectors_set(&ke->vs, i, res->vec + n * res->dim,
                                  res->dim) != 0)
        {
            why = "embeddings: a vector of zeros";
            break;
        }

        idx[n++] = i;
    }

    if (why == NULL && n) {
        ke->stats->calls++;
        ke->embedded += n;
        ke->stats->embedded += n;

        if (ke->store) {
            wachat_kb_embed_write(ke, idx, n);
        }

        ke->backoff_ms = WACHAT_KB_EMBED_RETRY_MS;
        wachat_kb_embed_next(ke);
        return;
    }

    ke->stats->failures++;

    if (!ke->failing) {
        wachat_log(WACHAT_LOG_WARNING, "knowledge base vectors: %s: ranking "
                   "by words alone until the embeddings endpoint answers "
                   "(trying again in %ld s)", why ? why : "no vector",
                   ke->backoff_ms / 1000);
        ke->failing = 1;
    }

    tv.tv_sec = ke->backoff_ms / 1000;
    tv.tv_usec = (ke->backoff_ms % 1000) * 1000;
    evtimer_add(ke->retry, &tv);

    ke->backoff_ms *= 2;

    if (ke->backoff_ms > WACHAT_KB_EMBED_RETRY_MAX_MS) {
        ke->backoff_ms = WACHAT_KB_EMBED_RETRY_MAX_MS;
    }
}
