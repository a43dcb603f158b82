/*
 * wachatd's start and its teardown: the Redis address and the consumer's
 * name, the engine and what feeds it, Redis still loading its dataset,
 * and everything freed again in reverse order.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "main/wachatd_int.h"


static int wachatd_wait_loading(wachat_redis_t *st, char *err, size_t len);


int
wachatd_load(const char *path, wachat_config_t **cfg, wachat_kb_t **kb,
    char *err, size_t errlen)
{
    int          problem;
    const char  *note;

    *cfg = wachat_config_load(path, err, errlen);
    if (*cfg == NULL) {
        return -1;
    }

    wachat_kb_thesaurus_use((*cfg)->kb_thesaurus);

    *kb = wachat_kb_load((*cfg)->kb, err, errlen);
    if (*kb == NULL) {
        wachat_config_free(*cfg);
        *cfg = NULL;
        return -1;
    }

    note = wachat_kb_thesaurus_note(*kb, &problem);

    if (problem) {
        wachat_log(WACHAT_LOG_WARNING, "kb_thesaurus %s: matching the "
                   "knowledge base by its words alone", note);

    } else if (note[0] != '\0') {
        wachat_log(WACHAT_LOG_INFO, "kb_thesaurus: %s", note);
    }

    return 0;
}


/* copies: the Redis link outlives the config it came from (reloads) */
void
wachatd_redis_addr(wachatd_t *d)
{
    if (wachat_redis_addr_config(&d->addr, d->cfg, 2000) != 0) {
        wachat_log(WACHAT_LOG_ERROR, "out of memory");
        exit(1);
    }
}


/* without a configured one, the consumer is named after host and pid */
void
wachatd_consumer_name(wachatd_t *d)
{
    char  host[256], name[320];

    if (d->cfg->consumer && *d->cfg->consumer != '\0') {
        return;
    }

    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(name, sizeof(name), "%s-%d", host, (int) getpid());
    free(d->cfg->consumer);
    d->cfg->consumer = strdup(name);
}


/* the conversation engine and what it works with */
int
wachatd_start_engine(wachatd_t *d, char *err, size_t errlen)
{
    d->base = event_base_new();
    d->store = wachat_redis_open(&d->addr, err, errlen);

    if (d->base == NULL || d->store == NULL
        || wachatd_wait_loading(d->store, err, errlen) != 0)
    {
        return -1;
    }

    d->http = wachat_http_new(d->base, (size_t) d->cfg->concurrency);
    d->ob = d->http ? wachat_outbound_new(d->cfg, d->store, d->http) : NULL;
    d->engine = d->ob ? wachat_engine_new(d->base, d->store, d->ob,
                                          d->cfg->consumer)
                      : NULL;

    if (d->engine == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    wachat_engine_configure(d->engine, d->cfg, d->kb);

    d->llm = wachatd_llm(d->http, d->cfg);
    wachat_engine_set_llm(d->engine, d->llm);

    d->guard = wachatd_guard(d->cfg, d->kb);
    wachat_engine_set_guard(d->engine, d->guard);

    d->embed = wachatd_embed(d->http, d->cfg);
    wachat_engine_set_embed(d->engine, d->embed);

    wachatd_media(d, d->cfg);

    return 0;
}


/* the stream reader, the e-mails and the agent API around the engine */
int
wachatd_start_feeds(wachatd_t *d, char *err, size_t errlen)
{
    wachat_stream_conf_t  sc;

    memset(&sc, 0, sizeof(wachat_stream_conf_t));
    sc.stream = d->cfg->stream;
    sc.group = d->cfg->group;
    sc.consumer = d->cfg->consumer;
    sc.claim_idle_ms = (int) d->cfg->claim_idle_ms;
    sc.scan_ms = 1000;
    sc.lease_ms = WACHAT_ENGINE_LEASE_MS;
    sc.limits = wachat_engine_limits(d->engine);
    sc.work = wachat_engine_work;
    sc.take = wachat_engine_take;
    sc.data = d->engine;

    d->stream = wachat_stream_start(d->base, d->store, &d->addr, &sc, err,
                                    errlen);
    if (d->stream == NULL) {
        return -1;
    }

    wachat_engine_set_stream(d->engine, d->stream);

    /* e-mails to agents: off (NULL) without smtp_url */
    d->mail = wachat_notify_new(d->base, d->store, d->cfg);
    wachat_engine_set_notify(d->engine, d->mail ? wachat_notify_send : NULL,
                             d->mail);

    /* an agent's reply is sent at once: the engine works the conversation */
    err[0] = '\0';
    d->api = wachat_api_start(d->base, d->store, &d->addr, d->cfg,
                              wachat_engine_work, d->engine, err, errlen);
    if (d->api == NULL && err[0] != '\0') {
        return -1;
    }

    d->metrics.engine = d->engine;
    d->metrics.stream = d->stream;
    d->metrics.ob = d->ob;
    d->metrics.store = d->store;
    d->metrics.cfg = &d->cfg;
    wachat_api_set_metrics(d->api, wachat_metrics_write, &d->metrics);
    wachat_api_set_kb(d->api, d->kb, wachatd_reload_soon, d);
    wachat_api_set_media(d->api, d->media);
    wachat_api_set_refresh(d->api, wachatd_templates, d);
    wachat_api_set_vectors(d->api, wachatd_vectors, d);
    wachatd_templates(d);

    return 0;
}


/*
 * A Redis that is still loading its dataset (after a restart, a big AOF can
 * take minutes) answers LOADING to everything: that is worth waiting for,
 * not a reason to exit (a supervisor restarting wachatd in a loop would
 * soon give up).  Anything else is reported at once.
 */

#define WACHATD_LOADING_POLL_MS   200
#define WACHATD_LOADING_LOG_MS    30000

static int
wachatd_wait_loading(wachat_redis_t *st, char *err, size_t len)
{
    long long         since, logged;
    redisReply       *r;
    struct timespec   ts;

    since = wachat_clock_mono_ms();
    logged = 0;

    for ( ;; ) {
        r = wachat_redis_cmd(st, "PING");
        if (r == NULL) {
            snprintf(err, len, "%s", st->err);
            return -1;
        }

        if (r->type != REDIS_REPLY_ERROR) {
            freeReplyObject(r);
            break;
        }

        if (strncmp(r->str, "LOADING", 7) != 0) {
            snprintf(err, len, "redis PING: %s", r->str);
            freeReplyObject(r);
            return -1;
        }

        if (logged == 0
            || wachat_clock_mono_ms() - logged >= WACHATD_LOADING_LOG_MS)
        {
            wachat_log(WACHAT_LOG_WARNING, "waiting for redis to finish "
                       "loading its dataset: %s", r->str);
            logged = wachat_clock_mono_ms();
        }

        freeReplyObject(r);

        ts.tv_sec = 0;
        ts.tv_nsec = WACHATD_LOADING_POLL_MS * 1000000L;
        nanosleep(&ts, NULL);
    }

    if (logged) {
        wachat_log(WACHAT_LOG_NOTICE, "redis finished loading after %lld ms",
                   wachat_clock_mono_ms() - since);
    }

    return 0;
}


/* also after a failed start: everything that was made, in reverse order */
void
wachatd_teardown(wachatd_t *d)
{
    struct event  **ev, **events[] = { &d->sighup, &d->sigterm, &d->sigint,
                                       &d->drain, &d->stats, &d->chores,
                                       NULL };
    size_t          i;

    /* open event streams and the listener go first: they use the store */
    wachat_api_free(d->api);
    wachat_notify_free(d->mail);

    /* HTTP calls still running are cancelled: their callbacks do nothing */
    if (d->engine) {
        wachat_engine_close(d->engine);
    }

    if (d->http) {
        wachat_http_free(d->http);
    }

    wachat_llm_free(d->llm);
    wachat_embed_free(d->embed);
    wachat_graph_free(d->media_graph);
    wachat_stt_free(d->stt);
    wachat_media_store_close(d->media);

    if (d->stream) {
        wachat_stream_free(d->stream);
    }

    if (d->engine) {
        wachat_engine_free(d->engine);
    }

    wachat_guard_free(d->guard);

    if (d->ob) {
        wachat_outbound_free(d->ob);
    }

    if (d->store) {
        wachat_redis_close(d->store);
    }

    if (d->addr.password) {
        memset(d->addr.password, 0, strlen(d->addr.password));
    }

    wachat_redis_addr_free(&d->addr);

    for (i = 0; events[i]; i++) {
        ev = events[i];

        if (*ev) {
            event_free(*ev);
            *ev = NULL;
        }
    }

    if (d->base) {
        event_base_free(d->base);
    }

    wachat_kb_free(d->kb);
    wachat_config_free(d->cfg);
    curl_global_cleanup();
    wachat_log_close();
}
