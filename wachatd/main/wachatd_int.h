/*
 * wachatd's private parts: the daemon's one state (wachatd_t) and what its
 * files share: wachatd.c (options, -t, main), wachatd_start.c (start and
 * teardown), wachatd_clients.c (the clients built from the config),
 * wachatd_reload.c (SIGHUP) and wachatd_events.c (signals, timers, systemd).
 * Not for wachatctl or the rooms below.
 */

#ifndef WACHAT_WACHATD_INT_H
#define WACHAT_WACHATD_INT_H

#include <stddef.h>

#include <event2/event.h>

#include "agents/notify.h"
#include "answer/guard.h"
#include "answer/kb.h"
#include "api/api.h"
#include "api/metrics.h"
#include "clients/embed.h"
#include "clients/http.h"
#include "clients/llm.h"
#include "conversation/engine.h"
#include "conversation/stream.h"
#include "lib/config.h"
#include "send/outbound.h"
#include "store/store.h"


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


/* wachatd_start.c: the start, in main's order, and the teardown */
int wachatd_load(const char *path, wachat_config_t **cfg,
    wachat_kb_t **kb, char *err, size_t errlen);
void wachatd_redis_addr(wachatd_t *d);
void wachatd_consumer_name(wachatd_t *d);
int wachatd_start_engine(wachatd_t *d, char *err, size_t errlen);
int wachatd_start_feeds(wachatd_t *d, char *err, size_t errlen);
void wachatd_teardown(wachatd_t *d);

/* wachatd_clients.c: built from a config, at the start and on reload */
void wachatd_media(wachatd_t *d, const wachat_config_t *cfg);
void wachatd_templates(void *data);

/* the engine's KB vectors and embeddings client, for the agent API */
const wachat_kb_vectors_t *wachatd_vectors(void *data, const wachat_kb_t *kb,
    wachat_embed_t **embed);
wachat_llm_t *wachatd_llm(wachat_http_t *http,
    const wachat_config_t *cfg);
wachat_embed_t *wachatd_embed(wachat_http_t *http,
    const wachat_config_t *cfg);
wachat_guard_t *wachatd_guard(const wachat_config_t *cfg,
    const wachat_kb_t *kb);

/* wachatd_reload.c: SIGHUP, and a reload after an agent's KB edit */
void wachatd_on_hup(evutil_socket_t fd, short what, void *arg);
void wachatd_reload_soon(void *data);

/* wachatd_events.c: signals as loop events, stats, chores, systemd */
void wachatd_start_events(wachatd_t *d);
void wachatd_on_stats(evutil_socket_t fd, short what, void *arg);
void wachatd_notify(const char *state);


#endif /* WACHAT_WACHATD_INT_H */
