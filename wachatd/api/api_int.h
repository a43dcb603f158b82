/*
 * api internals shared by api.c (routing), api_listen.c (the listener),
 * api_answer.c (JSON answers), api_access.c (who may call),
 * api_presence.c (the agent), api_conv*.c (its conversations),
 * api_events.c (the live feed as server-sent events), api_kb*.c (the
 * knowledge base), api_insight.c (unanswered questions), api_media.c,
 * api_templates.c and api_tools.c.  Not for the rest of the daemon.
 */

#ifndef WACHAT_API_INT_H
#define WACHAT_API_INT_H

#include <stddef.h>

#include <event2/event.h>
#include <event2/http.h>
#include <hiredis/async.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "agents/agents.h"
#include "api/api.h"
#include "lib/config.h"
#include "lib/json.h"
#include "clients/redis_link.h"
#include "store/media.h"
#include "store/store.h"


/* a stream entry id, "<ms>-<seq>" */
typedef struct {
    unsigned long long  ms;
    unsigned long long  seq;
} wachat_api_id_t;


/* one open event stream; api_events.c alone looks inside */
typedef struct wachat_api_client_s  wachat_api_client_t;


struct wachat_api_s {
    struct event_base          *base;
    wachat_redis_t             *st;
    wachat_redis_addr_t         addr;       /* own copy: the feed link */
    const wachat_config_t      *cfg;
    wachat_api_kick_pt          kick;
    void                       *data;
    wachat_api_metrics_pt       metrics;
    void                       *metrics_data;
    const wachat_kb_t          *kb;         /* the running one */
    wachat_api_vectors_pt       vectors;    /* its vectors, with embed_url */
    void                       *vectors_data;
    wachat_api_reload_pt        reload;
    void                       *reload_data;
    wachat_media_store_t       *media;
    void                      (*refresh)(void *data);
    void                       *refresh_data;
    char                       *listen;     /* as started, for reloads */
    struct evhttp              *http;
    char                       *unix_path;  /* removed at exit */

    wachat_api_client_t        *clients;
    size_t                      nclients;
    wachat_redis_link_t         feed;       /* the live feed's reads */
    int                         reading;
    int                         closing;
    wachat_api_id_t             cursor;     /* the feed read goes on here */
    struct event               *keepalive;
};


/* one request being answered */
typedef struct {
    wachat_api_t               *api;
    struct evhttp_request      *req;
    const char                 *method;
    char                       *path;       /* without the query */
    const char                 *query;
    const char                 *who;        /* the header, for logs */
    const wachat_agent_t       *agent;
    char                       *conv;       /* decoded {id} of the path */
} wachat_api_req_t;


/* nginx's header with the agent's id, trusted because only nginx connects */
#define WACHAT_API_AGENT_HEADER   "X-Wachat-Agent"


/* api.c: evhttp's callback for every request (api_listen.c sets it) */

void wachat_api_on_request(struct evhttp_request *req, void *arg);


/* api.c: helpers */

void wachat_api_arm(struct event *ev, int ms);
/* one field of a HGETALL reply or a stream entry: wachat_reply_*(), store.h */


/*
 * api_answer.c: JSON out is lib/json's; text from Redis or a URL goes through
 * wachat_json_text(), so a stray byte that is not UTF-8 becomes U+FFFD.
 */

/* "name": the reply's string, or null */
void wachat_api_kv_reply(yajl_gen g, const char *name, const redisReply *v);


/* api_answer.c: answering a request, and the log line it leaves */

void wachat_api_log(wachat_api_req_t *r, int status, const char *outcome);
void wachat_api_send(wachat_api_req_t *r, int status, yajl_gen g,
    const char *outcome);
void wachat_api_error(wachat_api_req_t *r, int status, const char *name,
    const char *message);
void wachat_api_agent_error(wachat_api_req_t *r, wachat_agent_rc_e rc);
/*
 * An agent's message (a file, a template) queued or refused: the refusal
 * with why (or the rc's own text), else the daemon kicked and 202 {hist}.
 */
void wachat_api_queued(wachat_api_req_t *r, wachat_agent_rc_e rc,
    const char *why, const char *hist, const char *outcome);
void wachat_api_redis_error(wachat_api_req_t *r);
/* the body's JSON object, or NULL with the error answered */
yajl_val wachat_api_body(wachat_api_req_t *r);
/* a string member of the body; NULL with the error answered */
const char *wachat_api_body_str(wachat_api_req_t *r, yajl_val body,
    const char *name, const char *message);


/*
 * api_access.c: Host, nginx's secret and, for what changes something,
 * JSON from the console's origin (for /metrics: Host and the secret, also
 * as "Authorization: Bearer").  0, or -1 with the refusal answered.
 */
int wachat_api_access(wachat_api_req_t *r, enum evhttp_cmd_type method,
    int metrics);


/* api_presence.c: the handlers of the agent */

void wachat_api_me(wachat_api_req_t *r);
void wachat_api_presence(wachat_api_req_t *r);
void wachat_api_heartbeat(wachat_api_req_t *r);
void wachat_api_agents(wachat_api_req_t *r);


/*
 * the handlers of its conversations: api_conv.c (list), api_conv_show.c
 * (show), api_conv_actions.c (the rest)
 */

void wachat_api_list(wachat_api_req_t *r);
void wachat_api_show(wachat_api_req_t *r);
void wachat_api_reply(wachat_api_req_t *r);
void wachat_api_take(wachat_api_req_t *r);
void wachat_api_resolve(wachat_api_req_t *r);
void wachat_api_transfer(wachat_api_req_t *r);
void wachat_api_note(wachat_api_req_t *r);


/* api_media.c: a customer's media item, from the local store */

void wachat_api_media(wachat_api_req_t *r);

/*
 * POST /api/conversations/{id}/file: an agent's file, the body its bytes
 * (Content-Type: application/octet-stream, which no form of another site
 * can send), X-Wachat-File-Type its type, X-Wachat-File-Name and
 * X-Wachat-Caption percent-encoded UTF-8.  At most WACHAT_API_FILE_MAX
 * (wachatctl send-file takes larger documents).
 */
#define WACHAT_API_FILE_MAX  (16 * 1024 * 1024)

void wachat_api_file(wachat_api_req_t *r);

/* 1 for the path of that endpoint (mounted or not) */
int wachat_api_is_file(const char *path);

/* the media fields of an inbound history entry, into an open map */
void wachat_api_gen_media(yajl_gen g, const redisReply *kv);


/* api_templates.c: the approved templates, and an agent's template */

void wachat_api_templates(wachat_api_req_t *r);
void wachat_api_templates_refresh(wachat_api_req_t *r);
void wachat_api_template(wachat_api_req_t *r);


/* api_insight.c: where the assistant falls short */

void wachat_api_unanswered(wachat_api_req_t *r);
void wachat_api_kb(wachat_api_req_t *r);
void wachat_api_kb_ask(wachat_api_req_t *r);
void wachat_api_kb_add(wachat_api_req_t *r);
void wachat_api_kb_also(wachat_api_req_t *r);
/* 1 when kb_editors lets the agent of r edit the knowledge base */
int wachat_api_kb_editor(wachat_api_req_t *r);


/* api_tools.c: canned replies, the search of every history */

void wachat_api_canned(wachat_api_req_t *r);
void wachat_api_search(wachat_api_req_t *r);


/* api_events.c: the live feed */

void wachat_api_events(wachat_api_req_t *r);
/* api->keepalive: a comment on every stream */
void wachat_api_on_keepalive(evutil_socket_t fd, short what, void *arg);
/* at start: the feed's Redis link, read again when it comes back */
int wachat_api_feed_init(wachat_api_t *api);
/* at exit, before evhttp_free(): forgets the streams, drops the feed link */
void wachat_api_events_close(wachat_api_t *api);


#endif /* WACHAT_API_INT_H */
