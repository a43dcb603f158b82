/*
 * wachatd: answers WhatsApp customers from the webhook stream.
 *
 *   wachatd [-c config] [-t [-q]] [-v]
 *
 * The config is -c, else $WACHAT_CONF, else WACHAT_CONF_PATH (built in:
 * /etc/wachat/wachatd.conf for installed builds, conf/wachatd.conf in the
 * tree).  Under systemd (Type=notify) READY=1 is sent once Redis answers,
 * the consumer group exists and the config and knowledge base are loaded;
 * RELOADING=1 / READY=1 frame a SIGHUP reload, STOPPING=1 a stop.
 *
 * One libevent loop drives everything: the stream's blocking read, the
 * conversations' timers and all HTTP through libcurl's multi interface.
 * Signals only set state the loop acts on: SIGHUP reloads the config and
 * the knowledge base (keeping the old ones if the new ones do not load),
 * SIGTERM / SIGINT stop reading, finish what is in flight up to
 * shutdown_timeout, and leave the rest pending in Redis.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#ifdef WACHAT_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "agents/agents.h"
#include "api/api.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "conversation/engine.h"
#include "clients/http.h"
#include "answer/guard.h"
#include "answer/kb.h"
#include "clients/embed.h"
#include "clients/llm.h"
#include "lib/log.h"
#include "lib/version.h"
#include "agents/notify.h"
#include "api/metrics.h"
#include "send/outbound.h"
#include "store/store.h"
#include "conversation/stream.h"


#define WACHAT_ERRLEN    1024


typedef struct {
    const char          *conf_path;
    wachat_config_t     *cfg;
    wachat_kb_t         *kb;
    struct event_base   *base;
    wachat_redis_addr_t  addr;
    wachat_redis_t      *store;
    wachat_http_t       *http;
    wachat_outbound_t   *ob;
    wachat_llm_t        *llm;
    wachat_graph_t      *media_graph;
    wachat_media_store_t *media;
    wachat_stt_t        *stt;
    wachat_embed_t      *embed;
    wachat_guard_t      *guard;
    wachat_engine_t     *engine;
    wachat_stream_t     *stream;
    wachat_api_t        *api;
    wachat_notify_t       *mail;
    wachat_metrics_src_t metrics;
    struct event        *sighup;
    struct event        *sigterm;
    struct event        *sigint;
    struct event        *drain;
    struct event        *stats;
    struct event        *chores;
    long long            drain_deadline;
    unsigned             chores_run;
    int                  templates_busy;    /* a fetch is running */
    char                 templates_waba[40];    /* of the last fetch */
    int                  stopping;
    int                  quiet;
} wachatd_t;


static int wachatd_load(const char *path, wachat_config_t **cfg,
    wachat_kb_t **kb, char *err, size_t errlen);
static void wachatd_on_hup(evutil_socket_t fd, short what, void *arg);
static void wachatd_reload_soon(void *data);
static void wachatd_on_term(evutil_socket_t fd, short what, void *arg);
static void wachatd_on_drain(evutil_socket_t fd, short what, void *arg);
static void wachatd_on_stats(evutil_socket_t fd, short what, void *arg);
static void wachatd_on_chores(evutil_socket_t fd, short what, void *arg);
static void wachatd_teardown(wachatd_t *d);
static int wachatd_wait_loading(wachat_redis_t *st, char *err, size_t len);
static void wachatd_media(wachatd_t *d, const wachat_config_t *cfg);
static void wachatd_templates(void *data);
static wachat_llm_t *wachatd_llm(wachat_http_t *http,
    const wachat_config_t *cfg);
static wachat_embed_t *wachatd_embed(wachat_http_t *http,
    const wachat_config_t *cfg);
static wachat_guard_t *wachatd_guard(const wachat_config_t *cfg,
    const wachat_kb_t *kb);
static void wachatd_notify(const char *state);


static void
wachatd_usage(FILE *out)
{
    fprintf(out,
            "usage: wachatd [-c config] [-t [-q]] [-v]\n"
            "  -c path  config file (default $WACHAT_CONF, else "
            WACHAT_CONF_PATH ")\n"
            "  -t       test the config and the knowledge base, print the\n"
            "           effective config, and exit\n"
            "  -q       with -t: print errors only\n"
            "  -v       print the version and exit\n");
}


/* the command line: -1 to go on, else the exit status */
static int
wachatd_options(int argc, char **argv, wachatd_t *d, int *test)
{
    int  opt;

    d->conf_path = NULL;
    *test = 0;

    while ((opt = getopt(argc, argv, "c:tqvh")) != -1) {
        switch (opt) {
        case 'c':
            d->conf_path = optarg;
            break;
        case 't':
            *test = 1;
            break;
        case 'q':
            d->quiet = 1;
            break;
        case 'v':
            printf("wachatd %s\n", WACHAT_VERSION);
            return 0;
        case 'h':
            wachatd_usage(stdout);
            return 0;
        default:
            wachatd_usage(stderr);
            return 2;
        }
    }

    if (optind < argc) {
        wachatd_usage(stderr);
        return 2;
    }

    d->conf_path = wachat_config_path(d->conf_path);

    return -1;
}


/* -t: the effective configuration, then exit; -q: nothing but errors */
static int
wachatd_test_config(wachatd_t *d)
{
    if (!d->quiet) {
        wachat_config_dump(d->cfg, stdout);
        printf("# knowledge base %s: %zu entries\n", d->cfg->kb,
               wachat_kb_count(d->kb));
        printf("wachatd: the configuration file %s syntax is ok\n"
               "wachatd: configuration file %s test is successful\n",
               d->conf_path, d->conf_path);
    }

    wachat_kb_free(d->kb);
    wachat_config_free(d->cfg);

    return 0;
}


/* copies: the Redis link outlives the config it came from (reloads) */
static void
wachatd_redis_addr(wachatd_t *d)
{
    if (wachat_redis_addr_config(&d->addr, d->cfg, 2000) != 0) {
        wachat_log(WACHAT_LOG_ERROR, "out of memory");
        exit(1);
    }
}


static int
wachatd_redis_changed(const wachat_config_t *a, const wachat_config_t *b)
{
    size_t  i;

    if (a->redis.server.port != b->redis.server.port
        || a->redis_db != b->redis_db
        || a->redis.nsentinels != b->redis.nsentinels
        || strcmp(a->redis.server.host ? a->redis.server.host : "",
                  b->redis.server.host ? b->redis.server.host : "") != 0
        || strcmp(a->redis.server.path ? a->redis.server.path : "",
                  b->redis.server.path ? b->redis.server.path : "") != 0
        || strcmp(a->redis.master ? a->redis.master : "",
                  b->redis.master ? b->redis.master : "") != 0)
    {
        return 1;
    }

    for (i = 0; i < a->redis.nsentinels; i++) {
        if (a->redis.sentinels[i].port != b->redis.sentinels[i].port
            || strcmp(a->redis.sentinels[i].host,
                      b->redis.sentinels[i].host) != 0)
        {
            return 1;
        }
    }

    return 0;
}


/* without a configured one, the consumer is named after host and pid */
static void
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
static int
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
static int
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
    wachatd_templates(d);

    return 0;
}


/* signals become events of the loop; the periodic chores and stats */
static void
wachatd_start_events(wachatd_t *d)
{
    struct timeval  tv;

    d->sighup = evsignal_new(d->base, SIGHUP, wachatd_on_hup, d);
    d->sigterm = evsignal_new(d->base, SIGTERM, wachatd_on_term, d);
    d->sigint = evsignal_new(d->base, SIGINT, wachatd_on_term, d);
    d->drain = evtimer_new(d->base, wachatd_on_drain, d);
    d->stats = event_new(d->base, -1, EV_PERSIST, wachatd_on_stats, d);
    d->chores = event_new(d->base, -1, EV_PERSIST, wachatd_on_chores, d);

    evsignal_add(d->sighup, NULL);
    evsignal_add(d->sigterm, NULL);
    evsignal_add(d->sigint, NULL);

    tv.tv_sec = 60;
    tv.tv_usec = 0;
    event_add(d->stats, &tv);

    tv.tv_sec = 2;
    event_add(d->chores, &tv);
}


int
main(int argc, char **argv)
{
    int        rc, test;
    char       err[WACHAT_ERRLEN];
    wachatd_t  d;

    memset(&d, 0, sizeof(wachatd_t));

    rc = wachatd_options(argc, argv, &d, &test);
    if (rc >= 0) {
        return rc;
    }

    if (wachatd_load(d.conf_path, &d.cfg, &d.kb, err, sizeof(err)) != 0) {
        fprintf(stderr, "%swachatd: %s\n",
                wachat_log_journal_prefix(WACHAT_LOG_ERROR), err);
        return 1;
    }

    if (test) {
        return wachatd_test_config(&d);
    }

    wachat_clock_zone(d.cfg->timezone);

    if (wachat_log_setup(d.cfg->logfile, d.cfg->verbosity, err, sizeof(err))
        != 0)
    {
        fprintf(stderr, "%swachatd: %s\n",
                wachat_log_journal_prefix(WACHAT_LOG_ERROR), err);
        wachatd_teardown(&d);
        return 1;
    }

    /* the packages and the unit run it as "wachat"; root is a mistake */
    if (geteuid() == 0) {
        wachat_log(WACHAT_LOG_WARNING, "running as root: run wachatd as an "
                   "unprivileged user of its own (the packages' systemd unit "
                   "runs it as \"wachat\")");
    }

    signal(SIGPIPE, SIG_IGN);
    srandom((unsigned) time(NULL) ^ (unsigned) getpid());

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        snprintf(err, sizeof(err), "libcurl failed to initialise");
        goto failed;
    }

    wachatd_redis_addr(&d);
    wachatd_consumer_name(&d);

    if (wachatd_start_engine(&d, err, sizeof(err)) != 0
        || wachatd_start_feeds(&d, err, sizeof(err)) != 0)
    {
        goto failed;
    }

    wachatd_start_events(&d);

    wachat_log(WACHAT_LOG_NOTICE, "wachatd %s started: consumer %s of group "
               "%s on stream %s, backend %s, outbound %s, %zu KB entries",
               WACHAT_VERSION, d.cfg->consumer, d.cfg->group, d.cfg->stream,
               d.cfg->backend == WACHAT_BACKEND_KB ? "kb" : "openai",
               d.cfg->outbound == WACHAT_OUTBOUND_SANDBOX ? "sandbox"
                                                          : "graph",
               wachat_kb_count(d.kb));

    wachatd_notify("READY=1\nSTATUS=answering");

    event_base_dispatch(d.base);

    wachatd_on_stats(-1, 0, &d);
    wachat_log(WACHAT_LOG_NOTICE, "wachatd stopped");

    wachatd_teardown(&d);

    return 0;

failed:

    wachat_log(WACHAT_LOG_ERROR, "cannot start: %s", err);
    wachatd_notify("STATUS=cannot start");
    wachatd_teardown(&d);

    return 1;
}


/* also after a failed start: everything that was made, in reverse order */
static void
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


static int
wachatd_load(const char *path, wachat_config_t **cfg, wachat_kb_t **kb,
    char *err, size_t errlen)
{
    *cfg = wachat_config_load(path, err, errlen);
    if (*cfg == NULL) {
        return -1;
    }

    *kb = wachat_kb_load((*cfg)->kb, err, errlen);
    if (*kb == NULL) {
        wachat_config_free(*cfg);
        *cfg = NULL;
        return -1;
    }

    return 0;
}


/* an agent edited the knowledge base: reload once this request is done */
static void
wachatd_reload_soon(void *data)
{
    wachatd_t       *d = data;
    struct timeval   now = { 0, 0 };

    if (event_base_once(d->base, -1, EV_TIMEOUT, wachatd_on_hup, d, &now)
        != 0)
    {
        wachat_log(WACHAT_LOG_ERROR, "cannot schedule the reload after a "
                   "knowledge base edit: send SIGHUP");
    }
}


static void
wachatd_on_hup(evutil_socket_t fd, short what, void *arg)
{
    char              err[WACHAT_ERRLEN];
    wachatd_t        *d = arg;
    wachat_kb_t      *kb;
    wachat_guard_t   *guard;
    wachat_embed_t   *embed;
    wachat_config_t  *cfg;

    (void) fd;
    (void) what;

    if (d->stopping) {
        return;
    }

    wachatd_notify("RELOADING=1");

    if (wachatd_load(d->conf_path, &cfg, &kb, err, sizeof(err)) != 0) {
        wachat_log(WACHAT_LOG_ERROR, "reload failed, keeping the running "
                   "config and knowledge base: %s", err);
        wachatd_notify("READY=1\nSTATUS=answering (the last reload failed)");
        return;
    }

    if (strcmp(cfg->stream, d->cfg->stream) != 0
        || strcmp(cfg->group, d->cfg->group) != 0
        || wachatd_redis_changed(cfg, d->cfg))
    {
        wachat_log(WACHAT_LOG_WARNING, "reload: redis, stream and group "
                   "changes take effect at the next restart");
    }

    /* the identity of this consumer must not change under the stream */
    free(cfg->consumer);
    cfg->consumer = strdup(d->cfg->consumer);

    if (wachat_log_setup(cfg->logfile, cfg->verbosity, err, sizeof(err))
        != 0)
    {
        wachat_log(WACHAT_LOG_ERROR, "reload: %s", err);
    }

    wachat_clock_zone(cfg->timezone);

    wachat_engine_configure(d->engine, cfg, kb);
    wachat_outbound_reload(d->ob, cfg);
    wachat_api_reload(d->api, cfg);

    /* smtp_url may have been set or removed */
    if (d->mail && cfg->smtp_url[0] != '\0') {
        wachat_notify_reload(d->mail, cfg);

    } else {
        wachat_notify_free(d->mail);
        d->mail = wachat_notify_new(d->base, d->store, cfg);
    }

    wachat_engine_set_notify(d->engine, d->mail ? wachat_notify_send : NULL,
                             d->mail);

    wachatd_media(d, cfg);

    /* calls in flight do not refer to the old client */
    wachat_llm_free(d->llm);
    d->llm = wachatd_llm(d->http, cfg);
    wachat_engine_set_llm(d->engine, d->llm);

    /* built from the new KB and texts: a new KB may name new hosts */
    guard = wachatd_guard(cfg, kb);
    wachat_engine_set_guard(d->engine, guard);
    wachat_guard_free(d->guard);
    d->guard = guard;

    /* the new KB's vectors: the unchanged entries' come from the cache */
    embed = wachatd_embed(d->http, cfg);
    wachat_engine_set_embed(d->engine, embed);
    wachat_embed_free(d->embed);
    d->embed = embed;

    wachat_api_set_kb(d->api, kb, wachatd_reload_soon, d);
    wachat_kb_free(d->kb);
    wachat_config_free(d->cfg);
    d->kb = kb;
    d->cfg = cfg;

    wachat_log(WACHAT_LOG_NOTICE, "reloaded %s: %zu KB entries",
               d->conf_path, wachat_kb_count(kb));
    wachatd_notify("READY=1\nSTATUS=answering");

    wachatd_templates(d);

    wachat_engine_kick(d->engine);
}


/*
 * The customers' media: the store (opened once; on reload only its bounds
 * change), the Graph client that downloads (whatever outbound says: a
 * sandbox with a token still keeps what customers send) and the
 * transcription client.  Calls in flight do not refer to the old clients.
 */

static void
wachatd_media(wachatd_t *d, const wachat_config_t *cfg)
{
    char                  err[WACHAT_ERRLEN];
    const char           *why;
    wachat_graph_conf_t   gc;
    wachat_stt_conf_t     sc;

    if (d->media == NULL) {
        d->media = wachat_media_store_open(cfg->media_dir,
                                           cfg->media_max_bytes,
                                           cfg->media_max_age_ms, err,
                                           sizeof(err));
        if (d->media == NULL) {
            wachat_log(WACHAT_LOG_ERROR, "media: %s: customers' media will "
                       "be recorded as not downloaded", err);
        }

    } else {
        if (strcmp(cfg->media_dir, d->cfg->media_dir) != 0) {
            wachat_log(WACHAT_LOG_WARNING, "reload: media_dir changes take "
                       "effect at the next restart");
        }

        wachat_media_store_limits(d->media, cfg->media_max_bytes,
                                  cfg->media_max_age_ms);
    }

    wachat_graph_free(d->media_graph);
    d->media_graph = NULL;

    if (cfg->graph_token.value) {
        gc.api_url = cfg->graph_api_url;
        gc.token = cfg->graph_token.value;
        gc.timeout_ms = cfg->graph_timeout_ms;
        why = NULL;
        d->media_graph = wachat_graph_new(d->http, &gc, &why);

        if (d->media_graph == NULL) {
            wachat_log(WACHAT_LOG_ERROR, "media: %s: customers' media will "
                       "not be downloaded", why ? why : "unusable");
        }
    }

    wachat_stt_free(d->stt);
    d->stt = NULL;

    if (cfg->stt_url[0]) {
        sc.url = cfg->stt_url;
        sc.model = cfg->stt_model;
        sc.key = cfg->stt_key.value;
        sc.timeout_ms = cfg->stt_timeout_ms;
        why = NULL;
        d->stt = wachat_stt_new(d->http, &sc, &why);

        if (d->stt == NULL) {
            wachat_log(WACHAT_LOG_ERROR, "stt: %s: voice notes go to a "
                       "person untranscribed", why ? why : "unusable");
        }
    }

    wachat_engine_set_media(d->engine, d->media_graph, d->media, d->stt);
    wachat_outbound_set_media(d->ob, d->media);
}


/* the account's approved templates, into the cache every process reads */
static void
wachatd_templates_done(void *data, const wachat_graph_reply_t *reply,
    const char *json, size_t len)
{
    long         code;
    const char  *explain;
    wachatd_t   *d = data;

    d->templates_busy = 0;

    if (d->stopping) {
        return;
    }

    if (reply->result == WACHAT_GRAPH_OK && json) {
        if (wachat_templates_save(d->store, d->templates_waba, json, len)
            == 0)
        {
            wachat_log(WACHAT_LOG_INFO, "templates of WABA %s fetched",
                       d->templates_waba);
        }
        return;
    }

    code = reply->code;
    explain = code >= 0 ? wachat_graph_explain(code) : NULL;

    wachat_log(WACHAT_LOG_WARNING, "templates of WABA %s not fetched: HTTP "
               "%ld, code %ld: %s%s%s", d->templates_waba, reply->http_status,
               code, reply->message ? reply->message : "-",
               explain ? " \xe2\x80\x94 " : "", explain ? explain : "");
}


static void
wachatd_templates(void *data)
{
    wachatd_t  *d = data;
    char        waba[40];

    /* waba_id, or the one the webhooks named */
    if (d->stopping || d->templates_busy
        || wachat_templates_waba(d->store, d->cfg, waba, sizeof(waba)) != 0)
    {
        return;
    }

    snprintf(d->templates_waba, sizeof(d->templates_waba), "%s", waba);

    if (d->media_graph == NULL) {
        wachat_log(WACHAT_LOG_WARNING, "templates: no Graph token to list "
                   "them with (graph_token_file)");
        return;
    }

    if (wachat_graph_templates(d->media_graph, waba,
                               wachatd_templates_done, d) == 0)
    {
        d->templates_busy = 1;
    }
}


static wachat_llm_t *
wachatd_llm(wachat_http_t *http, const wachat_config_t *cfg)
{
    const char         *why;
    wachat_llm_t       *llm;
    wachat_llm_conf_t   lc;

    if (cfg->backend != WACHAT_BACKEND_OPENAI) {
        return NULL;
    }

    memset(&lc, 0, sizeof(wachat_llm_conf_t));
    lc.url = cfg->llm_url;
    lc.model = cfg->llm_model;
    lc.key = cfg->llm_key.value;
    lc.system_prompt = cfg->llm_system_prompt;
    lc.timeout_ms = cfg->llm_timeout_ms;
    lc.max_tokens = cfg->llm_max_tokens;
    lc.temperature = cfg->llm_temperature;

    why = NULL;
    llm = wachat_llm_new(http, &lc, &why);

    if (llm == NULL) {
        wachat_log(WACHAT_LOG_ERROR, "llm: %s: answering from the knowledge "
                   "base only", why ? why : "unusable configuration");
    }

    return llm;
}


/*
 * The openai backend's guard: hosts the KB and the config's own texts
 * name are allowed in the model's answers, and the system prompt is what
 * they must not repeat.  NULL (out of memory): the KB answers alone.
 */

/* hybrid retrieval's client: NULL without embed_url (words alone) */
static wachat_embed_t *
wachatd_embed(wachat_http_t *http, const wachat_config_t *cfg)
{
    const char           *why;
    wachat_embed_t       *embed;
    wachat_embed_conf_t   ec;

    if (cfg->embed_url[0] == '\0') {
        return NULL;
    }

    memset(&ec, 0, sizeof(wachat_embed_conf_t));
    ec.url = cfg->embed_url;
    ec.model = cfg->embed_model;
    ec.key = cfg->embed_key.value;
    ec.timeout_ms = cfg->embed_timeout_ms;
    why = NULL;

    embed = wachat_embed_new(http, &ec, &why);

    if (embed == NULL) {
        wachat_log(WACHAT_LOG_ERROR, "embed: %s: ranking the knowledge base "
                   "by words alone", why ? why : "unusable");
    }

    return embed;
}


static wachat_guard_t *
wachatd_guard(const wachat_config_t *cfg, const wachat_kb_t *kb)
{
    wachat_guard_t       *g;
    wachat_guard_conf_t   gc;
    const char           *texts[4];

    if (cfg->backend != WACHAT_BACKEND_OPENAI) {
        return NULL;
    }

    texts[0] = cfg->fallback_text;
    texts[1] = cfg->handoff_text;
    texts[2] = cfg->handoff_offline_text;
    texts[3] = cfg->closing_text;

    memset(&gc, 0, sizeof(wachat_guard_conf_t));
    gc.kb = kb;
    gc.instructions = cfg->llm_system_prompt;
    gc.texts = texts;
    gc.ntexts = 4;
    gc.domains = (const char *const *) cfg->llm_allowed_domains.items;
    gc.ndomains = cfg->llm_allowed_domains.n;
    gc.links = cfg->llm_check_links;

    g = wachat_guard_new(&gc);

    if (g == NULL) {
        wachat_log(WACHAT_LOG_ERROR, "llm: out of memory for the answer "
                   "guard: answering from the knowledge base only");
    }

    return g;
}


static void
wachatd_on_term(evutil_socket_t fd, short what, void *arg)
{
    struct timeval   tv;
    wachatd_t       *d = arg;

    (void) fd;
    (void) what;

    if (d->stopping) {
        wachat_log(WACHAT_LOG_WARNING, "second signal: stopping now");
        event_base_loopbreak(d->base);
        return;
    }

    d->stopping = 1;
    wachatd_notify("STOPPING=1");
    d->drain_deadline = wachat_clock_mono_ms() + d->cfg->shutdown_timeout_ms;

    wachat_log(WACHAT_LOG_NOTICE, "stopping: finishing %zu conversations "
               "in flight (up to %lld ms)", wachat_engine_active(d->engine),
               d->cfg->shutdown_timeout_ms);

    wachat_stream_stop(d->stream);
    wachat_engine_drain(d->engine);

    tv.tv_sec = 0;
    tv.tv_usec = 0;
    evtimer_add(d->drain, &tv);
}


static void
wachatd_on_drain(evutil_socket_t fd, short what, void *arg)
{
    struct timeval   tv;
    wachatd_t       *d = arg;

    (void) fd;
    (void) what;

    if (wachat_engine_active(d->engine) == 0
        && wachat_http_running(d->http) == 0)
    {
        event_base_loopbreak(d->base);
        return;
    }

    if (wachat_clock_mono_ms() >= d->drain_deadline) {
        wachat_log(WACHAT_LOG_WARNING, "shutdown_timeout reached with %zu "
                   "conversations in flight: they stay in Redis for the "
                   "next start", wachat_engine_active(d->engine));
        event_base_loopbreak(d->base);
        return;
    }

    tv.tv_sec = 0;
    tv.tv_usec = 50000;
    evtimer_add(d->drain, &tv);
}


static void
wachatd_on_stats(evutil_socket_t fd, short what, void *arg)
{
    wachatd_t                    *d = arg;
    const wachat_engine_stats_t  *es;
    const wachat_stream_stats_t  *ss;

    (void) fd;
    (void) what;

    es = wachat_engine_stats(d->engine);
    ss = wachat_stream_stats(d->stream);

    wachat_log(WACHAT_LOG_INFO, "stats: read %llu, ignored %llu, reclaimed "
               "%llu, answered %llu, silent %llu, withheld %llu, duplicates "
               "%llu, statuses %llu, sent %llu, retried %llu, dead %llu, "
               "active %zu",
               ss->read, ss->ignored, ss->reclaimed, es->answered,
               es->silent, es->withheld, es->duplicates, es->statuses,
               es->sent, es->retried, es->dead,
               wachat_engine_active(d->engine));
}


/* what no event triggers: conversations left idle by their agent */
static void
wachatd_on_chores(evutil_socket_t fd, short what, void *arg)
{
    size_t      n;
    wachatd_t  *d = arg;
    char        max[32];

    (void) fd;
    (void) what;

    if (d->stopping) {
        return;
    }

    /* the listing of conversations forgets those retention deleted */
    snprintf(max, sizeof(max), "%lld",
             wachat_clock_ms() - d->cfg->retention_ms);
    freeReplyObject(wachat_redis_cmd(d->store, "ZREMRANGEBYSCORE %s -inf %s",
                                     WACHAT_KEY_CONVS, max));

    n = wachat_agent_expire_idle(d->store, d->cfg);

    /*
     * The templates, every hour (chores come every 2 s); and as soon as the
     * webhooks named the account, when the config does not
     */
    if (d->chores_run % 1800 == 1799
        || (d->templates_waba[0] == '\0' && d->cfg->waba_id[0] == '\0'))
    {
        wachatd_templates(d);
    }

    /* media_max_age passes even when nothing new comes in */
    if (d->media && ++d->chores_run % 30 == 0) {
        wachat_media_store_evict(d->media);
    }

    if (d->mail) {
        wachat_notify_tick(d->mail);
    }

    if (n) {
        wachat_log(WACHAT_LOG_NOTICE, "%zu conversation(s) idle for "
                   "agent_idle_timeout went back to the AI", n);
    }
}


/* systemd's notification socket; nothing without one, or without systemd */
static void
wachatd_notify(const char *state)
{
#ifdef WACHAT_HAVE_SYSTEMD
    (void) sd_notify(0, state);
#else
    (void) state;
#endif
}
