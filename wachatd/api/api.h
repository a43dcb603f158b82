/*
 * api: the agent API, served by wachatd on api_listen (a loopback address
 * or a unix socket) and published by nginx, which authenticates agents
 * (auth_basic or auth_request) and passes the agent's id in the header
 * X-Wachat-Agent.  JSON in and out, and a live feed as server-sent events.
 * Built on libevent's evhttp, on the daemon's one event loop.
 */

#ifndef WACHAT_API_H
#define WACHAT_API_H

#include <event2/event.h>

#include "lib/config.h"
#include "answer/kb.h"
#include "answer/kb_vec.h"
#include "store/store.h"


typedef struct wachat_api_s  wachat_api_t;

/* an agent queued a reply: the daemon should send it now */
typedef void (*wachat_api_kick_pt)(void *data, const char *conv_id);

/* the knowledge base was edited: reload it (after this request) */
typedef void (*wachat_api_reload_pt)(void *data);

/* writes the daemon's metrics, Prometheus text, for GET /metrics */
struct evbuffer;
typedef void (*wachat_api_metrics_pt)(void *data, struct evbuffer *out);


/*
 * NULL when api_listen is empty (no API), or on error with err set (the
 * address is in use, not a loopback address, ...).
 */
wachat_api_t *wachat_api_start(struct event_base *base, wachat_redis_t *st,
    const wachat_redis_addr_t *redis, const wachat_config_t *cfg,
    wachat_api_kick_pt kick, void *data, char *err, size_t errlen);

/*
 * GET /metrics on the listener (not under /api/, and without an agent
 * identity: the listener is loopback or a unix socket only, and nginx does
 * not proxy it).  NULL: 404.
 */
void wachat_api_set_metrics(wachat_api_t *api, wachat_api_metrics_pt fn,
    void *data);

/*
 * The knowledge base the daemon answers with (for "what would the
 * assistant answer?"), and how to reload it after an edit from the
 * console.  Set again at every reload.
 */
void wachat_api_set_kb(wachat_api_t *api, const wachat_kb_t *kb,
    wachat_api_reload_pt reload, void *data);

/* the customers' media it serves at /api/media/<id> (NULL: none) */
struct wachat_media_store_s;
void wachat_api_set_media(wachat_api_t *api,
    struct wachat_media_store_s *media);

/*
 * What ranks a question by meaning too, as the engine does, for "what
 * would the assistant answer?" (NULL vectors: by words alone).
 */
struct wachat_embed_s;
typedef const wachat_kb_vectors_t *(*wachat_api_vectors_pt)(void *data,
    const wachat_kb_t *kb, struct wachat_embed_s **embed);

void wachat_api_set_vectors(wachat_api_t *api, wachat_api_vectors_pt fn,
    void *data);

/* what refreshes the template cache on an agent's demand */
void wachat_api_set_refresh(wachat_api_t *api, void (*refresh)(void *data),
    void *data);

/* on SIGHUP: the new config (agents, texts); the listener stays */
void wachat_api_reload(wachat_api_t *api, const wachat_config_t *cfg);

/*
 * On SIGHUP, new Redis credentials (user, password, sentinel password)
 * taken into the API's own copy of where Redis is: the live feed's link
 * reconnects with them now, its read sent again from where it was.  0, or
 * -1 out of memory (the old ones kept).
 */
int wachat_api_reauth(wachat_api_t *api, const wachat_redis_addr_t *addr);

/* closes the listener and every open event stream */
void wachat_api_free(wachat_api_t *api);


#endif /* WACHAT_API_H */
