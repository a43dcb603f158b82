/*
 * agents: human agents and the hand-over.  Presence, assignment, take,
 * reply and resolve, all state in Redis, so wachatd's agent API, wachatctl
 * and several wachatd processes see and change the same thing.
 *
 * Modes of a conversation (field "mode" of wachat:conv:{<id>}):
 *   ai             the assistant answers;
 *   waiting_agent  the customer asked for a person and nobody took it yet;
 *   agent          field "agent" holds the conversation; the AI is silent.
 *
 * Keys (besides the conversation's own, see store.h):
 *   wachat:agent:<id>        hash: presence, heartbeat (ms), since (ms),
 *                            via (console: heartbeats keep it; manual)
 *   wachat:agent:<id>:convs  set: conversations the agent holds (its load)
 *   wachat:assigned          zset: conversation -> last activity (ms), for
 *                            the idle timeout
 *   wachat:waiting           zset: conversation -> when its 24-hour window
 *                            closes (ms), waiting ones listed first
 *   wachat:feed              stream: live events for the console (SSE)
 */

#ifndef WACHAT_AGENTS_H
#define WACHAT_AGENTS_H

#include <stddef.h>

#include <stdio.h>

#include <yajl/yajl_tree.h>

#include "lib/config.h"
#include "store/media.h"
#include "store/store.h"


#define WACHAT_KEY_ASSIGNED  "wachat:assigned"
#define WACHAT_KEY_WAITING   "wachat:waiting"
#define WACHAT_KEY_TEMPLATES "wachat:templates"   /* the cached list */
#define WACHAT_KEY_WABA      "wachat:waba_id"     /* learnt from webhooks */


typedef enum {
    WACHAT_AGENT_OK = 0,
    WACHAT_AGENT_EREDIS,            /* Redis unreachable or erroring */
    WACHAT_AGENT_EUNKNOWN,          /* no such agent in the config */
    WACHAT_AGENT_ENOCONV,           /* no such conversation */
    WACHAT_AGENT_ENOTASSIGNED,      /* held by someone else: take it first */
    WACHAT_AGENT_EWINDOW,           /* > 24 h since the customer wrote */
    WACHAT_AGENT_EINPUT,            /* empty or too long text, bad value */
    WACHAT_AGENT_ETARGET,           /* transfer to an unknown agent, self */
    WACHAT_AGENT_EMEDIA             /* a file WhatsApp does not take (type,
                                       size), or none can be kept */
} wachat_agent_rc_e;


/* "ok", "redis", "unknown_agent", "no_conversation", "not_assigned", ... */
const char *wachat_agent_error_name(wachat_agent_rc_e rc);

/* a sentence an agent understands, for the console and wachatctl */
const char *wachat_agent_error_text(wachat_agent_rc_e rc);

const wachat_agent_t *wachat_agent_find(const wachat_config_t *cfg,
    const char *id);

/*
 * presence.c: online | away | offline; also counts as a heartbeat.  From a
 * console (console 1) it lasts while heartbeats come; else until changed.
 * Coming online offers the agent waiting conversations.
 */
wachat_agent_rc_e wachat_agent_presence(wachat_redis_t *st,
    const wachat_config_t *cfg, const char *id, const char *presence,
    int console);

wachat_agent_rc_e wachat_agent_heartbeat(wachat_redis_t *st,
    const wachat_config_t *cfg, const char *id);

/*
 * "online" only with a heartbeat younger than agent_heartbeat_timeout:
 * a console closed without a goodbye goes offline by itself.
 */
const char *wachat_agent_effective_presence(wachat_redis_t *st,
    const wachat_config_t *cfg, const char *id);

/* conversations the agent may hold at once */
int wachat_agent_capacity(const wachat_config_t *cfg, const wachat_agent_t *a);

/*
 * The online agent with the fewest open conversations and room for one
 * more, round robin among equals.  0 with its id in buf; -1 when nobody
 * online has room.
 */
int wachat_agent_pick(wachat_redis_t *st, const wachat_config_t *cfg,
    char *buf, size_t len);

/*
 * Assigns waiting conversations to the agent, the window that closes first
 * first, while it has room.  How many it got.
 */
size_t wachat_agent_offer(wachat_redis_t *st, const wachat_config_t *cfg,
    const char *id);

/* an agent takes a conversation (from the AI, the queue or a colleague) */
wachat_agent_rc_e wachat_agent_take(wachat_redis_t *st,
    const wachat_config_t *cfg, const char *id, const char *conv_id);

/*
 * reply.c: queues an agent's message to the customer, in the
 * conversation's outbound queue: it is sent like an AI reply (retries,
 * rate limit, dead letters).  Refused unless the agent holds the
 * conversation and the customer wrote within the window.  hist_id
 * (optional) gets the history entry's id.
 */
wachat_agent_rc_e wachat_agent_reply(wachat_redis_t *st,
    const wachat_config_t *cfg, const char *id, const char *conv_id,
    const char *text, char *hist_id, size_t hlen);

/*
 * media.c: an agent's file to the customer.  Checked before anything is
 * uploaded: its type (mime, or else the file name's extension) and size
 * against what WhatsApp takes (graph.h), the caption's length; then kept
 * in the media store and queued like a reply (the sender uploads it and
 * sends it by its media id), with the same holder and window checks.
 * size is what in holds.  On EMEDIA, why says what is wrong.
 */
wachat_agent_rc_e wachat_agent_send_file(wachat_redis_t *st,
    const wachat_config_t *cfg, wachat_media_store_t *ms, const char *id,
    const char *conv_id, FILE *in, size_t size, const char *filename,
    const char *mime, const char *caption, char *hist_id, size_t hlen,
    char *why, size_t whylen);

/*
 * templates.c: the account's approved templates, cached in Redis as
 * {"fetched_ms", "waba_id", "templates": [{"name", "language",
 * "category", "status", "body", "params"}]} (json: the array, as
 * wachat_graph_templates() gives it).  load: NULL when none was fetched.
 */
int wachat_templates_save(wachat_redis_t *st, const char *waba_id,
    const char *json, size_t len);
yajl_val wachat_templates_load(wachat_redis_t *st, long long *fetched_ms);

/*
 * The WABA whose templates are listed: waba_id, else the one learnt from
 * the webhooks (entry[].id, remembered in Redis).  0 with it in buf; -1:
 * none known yet.
 */
int wachat_templates_waba(wachat_redis_t *st, const wachat_config_t *cfg,
    char *buf, size_t len);

/* remembers a WABA id a webhook carried (digits only); 1 when it is new */
int wachat_templates_learn(wachat_redis_t *st, const char *waba_id);

/* the approved template of that name and language in a loaded cache */
yajl_val wachat_template_find(yajl_val root, const char *name,
    const char *language);

/* a string member of a template ("name", "body", ...), or NULL */
const char *wachat_template_str(yajl_val tpl, const char *name);

/* the body with {{n}} replaced by params[n - 1], malloc'ed */
char *wachat_template_render(const char *body, const char *const *params,
    size_t nparams);

/*
 * An agent's template message: the template must be in the cache,
 * approved, in that language, and take exactly nparams body parameters
 * (else EINPUT, and why says what is wrong, before any call).  Queued like
 * a reply, whatever the window: a template is what WhatsApp takes after
 * it.  The agent must hold the conversation (take it first).
 */
wachat_agent_rc_e wachat_agent_send_template(wachat_redis_t *st,
    const wachat_config_t *cfg, const char *id, const char *conv_id,
    const char *name, const char *language, const char *const *params,
    size_t nparams, char *hist_id, size_t hlen, char *why, size_t whylen);

/*
 * Back to the AI, with closing_text to the customer (inside the window).
 * id NULL: the system (idle timeout).  An agent may resolve what it holds
 * or what waits for anyone.
 */
wachat_agent_rc_e wachat_agent_resolve(wachat_redis_t *st,
    const wachat_config_t *cfg, const char *id, const char *conv_id);

/*
 * The agent who holds the conversation hands it to a colleague (declared
 * in the config, online or not); the history gets a note of it.
 */
wachat_agent_rc_e wachat_agent_transfer(wachat_redis_t *st,
    const wachat_config_t *cfg, const char *id, const char *conv_id,
    const char *to);

/*
 * An internal note in the conversation's history: agents see it, the
 * customer and the model never do.  Any agent may write one.
 */
wachat_agent_rc_e wachat_agent_note(wachat_redis_t *st,
    const wachat_config_t *cfg, const char *id, const char *conv_id,
    const char *text);

/* agent_idle_timeout: conversations held without a message either way */
size_t wachat_agent_expire_idle(wachat_redis_t *st,
    const wachat_config_t *cfg);

/*
 * Appends one event to the live feed: type ("message", "reply", "status",
 * "mode", "presence"), the conversation (or NULL), then NULL-terminated
 * field, value pairs.
 */
void wachat_agent_feed(wachat_redis_t *st, const char *type, const char *conv_id,
    ...);

/* bookkeeping of a hand-over to an agent (its load, the idle timeout) */
void wachat_agent_assigned(wachat_redis_t *st, const char *agent,
    const char *conv_id);

/* a conversation that wachatd must look at soon (an agent queued a reply) */
void wachat_agent_kick(wachat_redis_t *st, const char *conv_id);


#endif /* WACHAT_AGENTS_H */
