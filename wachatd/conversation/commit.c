/*
 * commit: an inbound message with its reply (or none), and a delivery
 * status, recorded in the conversation by one script each; then what
 * follows outside the conversation's slot (agents, e-mails, counters).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agents.h"
#include "clients/graph.h"
#include "conversation/conv_int.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "lib/log.h"


#define WACHAT_KV_MAX  (2 * (24 + WACHAT_KB_MAX_BUTTONS))


typedef struct {
    const char  *kv[WACHAT_KV_MAX];
    size_t       n;
    char         name[WACHAT_KB_MAX_BUTTONS][32];   /* "button<n>" */
    char         score[32];
} wachat_kv_t;


typedef struct {
    wachat_kv_t   hist;
    yajl_gen      send;     /* the outbound record, "hist" left open */
    char         *json;
    size_t        len;
} wachat_conv_out_t;


static int wachat_conv_graph(yajl_gen g, const wachat_event_t *ev,
    const char *text, const wachat_reply_t *reply);
static void wachat_conv_committed(wachat_conv_t *cv,
    const wachat_event_t *ev, const wachat_commit_result_t *res,
    wachat_commit_e kind, const char *agent, const wachat_reply_t *reply);
static redisReply *wachat_conv_unreplicated(wachat_conv_t *cv,
    redisReply *r, int unreplicated, wachat_peek_t *peek, const char *what);


/* field, value; an absent value leaves the field out */
static void
wachat_kv_add(wachat_kv_t *kv, const char *name, const char *value)
{
    if (value && kv->n + 2 <= WACHAT_KV_MAX) {
        kv->kv[kv->n++] = name;
        kv->kv[kv->n++] = value;
    }
}


/*
 * One reply as the commit script takes it: its history entry and its
 * outbound record.  buttons come from reply (NULL: a text without).
 */

static int
wachat_conv_out(wachat_conv_out_t *o, wachat_conv_t *cv,
    const wachat_event_t *ev, const char *text, const wachat_reply_t *reply,
    int system, const char *now)
{
    size_t                i, nbuttons, len;
    const unsigned char  *buf;
    const char           *wamid;

    memset(o, 0, sizeof(wachat_conv_out_t));

    wamid = wachat_event_str(ev, ID);
    nbuttons = reply ? reply->nbuttons : 0;

    wachat_kv_add(&o->hist, "dir", "out");
    wachat_kv_add(&o->hist, "who", system ? "system" : "ai");
    wachat_kv_add(&o->hist, "ts", now);
    wachat_kv_add(&o->hist, "text", text);
    wachat_kv_add(&o->hist, "source", reply ? reply->source : "handoff");
    wachat_kv_add(&o->hist, "reply_to", wamid);

    /* how sure, and what it leaned on: the business sees where it fails */
    if (reply && strcmp(reply->source, "handoff") != 0) {
        snprintf(o->hist.score, sizeof(o->hist.score), "%.2f", reply->score);
        wachat_kv_add(&o->hist, "score", o->hist.score);

        if (reply->context[0]) {
            wachat_kv_add(&o->hist, "context", reply->context);
        }
    }

    for (i = 0; i < nbuttons; i++) {
        snprintf(o->hist.name[i], sizeof(o->hist.name[i]), "button%zu",
                 i + 1);
        wachat_kv_add(&o->hist, o->hist.name[i], reply->button_title[i]);
    }

    o->send = yajl_gen_alloc(NULL);
    if (o->send == NULL) {
        return -1;
    }

    yajl_gen_map_open(o->send);
    wachat_json_kv_opt(o->send, "to", ev->customer);
    wachat_json_kv_opt(o->send, "phone_number_id",
                       wachat_event_str(ev, PHONE_NUMBER_ID));
    wachat_json_kv_opt(o->send, "conv", cv->id);
    wachat_json_kv_opt(o->send, "reply_to", wamid);

    if (wachat_conv_graph(o->send, ev, text, reply) != 0) {
        return -1;
    }

    yajl_gen_map_close(o->send);

    if (yajl_gen_get_buf(o->send, &buf, &len) != yajl_gen_status_ok) {
        return -1;
    }

    /* the closing brace gives way to the history id the script adds */
    o->json = malloc(len + 16);
    if (o->json == NULL) {
        return -1;
    }

    memcpy(o->json, buf, len - 1);
    memcpy(o->json + len - 1, ",\"hist\":\"", 9);
    o->len = len - 1 + 9;

    return 0;
}


static void
wachat_conv_out_free(wachat_conv_out_t *o)
{
    if (o->send) {
        yajl_gen_free(o->send);
    }

    free(o->json);
}


/*
 * The Graph request of a reply, built once, here: the sender posts it as
 * it is.  A message Graph would refuse (a bug: the KB's limits are checked
 * at load) is queued as text and buttons instead, and the sender, building
 * it again, dead-letters it with the reason.
 */

static int
wachat_conv_graph(yajl_gen g, const wachat_event_t *ev, const char *text,
    const wachat_reply_t *reply)
{
    size_t                  i, n, blen;
    char                   *body;
    const char             *why;
    wachat_graph_msg_t      msg;
    wachat_graph_button_t   buttons[WACHAT_KB_MAX_BUTTONS];

    n = reply ? reply->nbuttons : 0;

    for (i = 0; i < n; i++) {
        buttons[i].id = reply->button_id[i];
        buttons[i].title = reply->button_title[i];
    }

    memset(&msg, 0, sizeof(wachat_graph_msg_t));
    msg.to = ev->customer;
    msg.text = text;
    msg.reply_to = wachat_event_str(ev, ID);
    msg.buttons = buttons;
    msg.nbuttons = n;

    if (msg.to && wachat_graph_build(&msg, &body, &blen, &why) == 0) {
        wachat_json_kv_bytes(g, "graph", body, blen);
        free(body);
        return 0;
    }

    wachat_json_kv_opt(g, "text", text);
    wachat_json_str(g, "buttons");
    yajl_gen_array_open(g);

    for (i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        wachat_json_kv(g, "id", buttons[i].id);
        wachat_json_kv(g, "title", buttons[i].title);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    return 0;
}


static void
wachat_kv_add_any(void *kv, const char *name, const char *value)
{
    wachat_kv_add(kv, name, value);
}


/* the conversation's fields and the inbound history entry */
static void
wachat_conv_in(const wachat_conv_t *cv, const wachat_event_t *ev,
    const char *now, wachat_kv_t *conv, wachat_kv_t *in)
{
    const char  *wamid, *ts, *name;

    wamid = wachat_event_str(ev, ID);
    ts = wachat_event_str(ev, TS);
    name = wachat_event_str(ev, NAME);

    wachat_kv_add(conv, "phone_number_id",
                  wachat_event_str(ev, PHONE_NUMBER_ID));
    wachat_kv_add(conv, "wa_id", wachat_event_str(ev, FROM));
    wachat_kv_add(conv, "user_id", wachat_event_str(ev, USER_ID));
    wachat_kv_add(conv, "name", name);
    wachat_kv_add(conv, "last_in_ts", ts);
    wachat_kv_add(conv, "last_in_id", wamid);
    wachat_kv_add(conv, "updated", now);

    wachat_kv_add(in, "dir", "in");
    wachat_kv_add(in, "who", "customer");
    wachat_kv_add(in, "id", wamid);
    wachat_kv_add(in, "ts", ts);
    wachat_kv_add(in, "type", wachat_event_str(ev, TYPE));
    wachat_kv_add(in, "text", wachat_event_str(ev, TEXT));
    wachat_kv_add(in, "payload", wachat_event_str(ev, PAYLOAD));
    wachat_kv_add(in, "name", name);

    /* a picture's type, file, download; a location; a reaction's target */
    wachat_conv_media_fields(cv, ev, wachat_kv_add_any, in);
}


/* everything a commit sends, built before the script runs */
typedef struct {
    wachat_kv_t         conv;
    wachat_kv_t         in;
    wachat_conv_out_t   out;
    wachat_conv_out_t   held;
    char                now[32];
    char                done[WACHAT_KEY_MAX];
} wachat_conv_draft_t;


static int
wachat_conv_draft(wachat_conv_draft_t *d, wachat_conv_t *cv,
    const wachat_event_t *ev, const wachat_reply_t *reply,
    wachat_commit_e kind, long long now)
{
    int  handoff;

    memset(d, 0, sizeof(wachat_conv_draft_t));

    handoff = kind == WACHAT_COMMIT_HANDOFF;
    snprintf(d->now, sizeof(d->now), "%lld", now);
    wachat_store_key_done(d->done, cv->id);

    wachat_conv_in(cv, ev, d->now, &d->conv, &d->in);

    /* the language this message told, for the next ones that do not */
    if (cv->lang_new) {
        wachat_kv_add(&d->conv, "lang", cv->lang);
    }

    if (reply
        && wachat_conv_out(&d->out, cv, ev, reply->text, reply,
                           kind != WACHAT_COMMIT_ANSWER, d->now) != 0)
    {
        return -1;
    }

    /* asked again while an agent holds it: the agent is on the way */
    if (handoff
        && wachat_conv_out(&d->held, cv, ev,
                           wachat_conv_text(cv, "handoff_text",
                                            cv->engine->cfg->handoff_text),
                           NULL, 1, d->now) != 0)
    {
        return -1;
    }

    return 0;
}


static void
wachat_conv_draft_free(wachat_conv_draft_t *d)
{
    wachat_conv_out_free(&d->out);
    wachat_conv_out_free(&d->held);
}


static void
wachat_conv_draft_args(wachat_conv_draft_t *d, wachat_conv_t *cv,
    const wachat_event_t *ev, const char *member, size_t mlen, int reply,
    wachat_commit_e kind, const char *agent, wachat_commit_t *c)
{
    int               handoff = kind == WACHAT_COMMIT_HANDOFF
                                || kind == WACHAT_COMMIT_VOICE;
    const char       *wamid;
    wachat_engine_t  *en = cv->engine;

    wamid = wachat_event_str(ev, ID);

    c->member = member;
    c->member_len = mlen;
    c->done_key = d->done;
    c->done_id = wamid ? wamid : ev->stream_id;
    c->feed_id = wamid ? wamid : "";
    c->done_ttl = WACHAT_DEDUP_TTL_DEFAULT;
    c->histmax = en->cfg->history_max;
    c->retention_s = en->cfg->retention_ms / 1000;
    c->conv_kv = d->conv.kv;
    c->nconv = d->conv.n;
    c->in_kv = d->in.kv;
    c->nin = d->in.n;
    c->reply_kv = d->out.hist.kv;
    c->nreply = reply ? d->out.hist.n : 0;
    c->reply_send = d->out.json;
    c->reply_send_len = d->out.len;
    c->handoff = handoff;
    c->agent = agent;
    c->held_kv = d->held.hist.kv;
    c->nheld = handoff ? d->held.hist.n : 0;
    c->held_send = d->held.json;
    c->held_send_len = d->held.len;
    c->limited = kind == WACHAT_COMMIT_LIMITED;
}


/*
 * Commits an inbound message with its reply (or none): the conversation,
 * the history and the outbound queue change together, or not at all.
 * Frees the reply.  The event may point into cv's last reply: it is not
 * used once the commit's own reply replaced it.
 */

void
wachat_conv_commit(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev, wachat_reply_t *reply, wachat_commit_e kind,
    const char *agent)
{
    int                      unreplicated, refused;
    redisReply              *r;
    wachat_commit_t          c;
    wachat_conv_draft_t      d;
    wachat_commit_result_t   res;
    const char              *wamid;
    wachat_engine_t         *en = cv->engine;

    memset(&c, 0, sizeof(wachat_commit_t));
    c.now = wachat_clock_ms();

    if (wachat_conv_draft(&d, cv, ev, reply, kind, c.now) != 0) {
        wachat_conv_draft_free(&d);
        if (reply) {
            wachat_answer_free(reply);
        }
        wachat_conv_schedule(cv, 1000);
        return;
    }

    wachat_conv_draft_args(&d, cv, ev, member, mlen, reply != NULL, kind,
                           agent, &c);

    r = wachat_script_commit(en->store, &cv->ref, WACHAT_LEASE_MS, &c, &res);

    /* read now: what follows may run scripts of its own */
    unreplicated = en->store->unreplicated;
    refused = en->store->refused;

    wachat_conv_draft_free(&d);
    wamid = wachat_event_str(ev, ID);

    if (r == NULL) {
        /*
         * cv->media stays: the message comes back, its media kept (the
         * log and the retry are wachat_conv_after()'s)
         */

    } else if (res.peek.state != WACHAT_PEEK_LOST && !res.committed) {
        en->stats.duplicates++;
        wachat_log(WACHAT_LOG_INFO, "conversation %s: %s already answered",
                   cv->id, wamid ? wamid : ev->stream_id);

    } else if (res.peek.state != WACHAT_PEEK_LOST) {
        wachat_conv_committed(cv, ev, &res, kind, agent, reply);
    }

    if (reply) {
        wachat_answer_free(reply);
    }

    if (r) {
        wachat_conv_media_free(cv);
        wachat_conv_embed_free(cv);
    }

    r = wachat_conv_unreplicated(cv, r, unreplicated, &res.peek, "commit");

    /* committed, not yet on a replica: what waits is the next step */
    cv->peek = res.peek;
    wachat_conv_after_commit(cv, r, unreplicated ? WACHAT_STORE_STEP
                                                 : WACHAT_STORE_COMMIT,
                             refused);
}


/*
 * The script ran on the primary but its WAIT fell short: the event is
 * out of the inbox and will not come back (unless a failover loses the
 * commit, which then runs again), so what follows it was done above, as
 * after any commit.  The next step still waits for a replica: NULL, as
 * after a failed script, and the reply it queued is sent only once a
 * later script's WAIT has the commit on a replica.
 */

static redisReply *
wachat_conv_unreplicated(wachat_conv_t *cv, redisReply *r, int unreplicated,
    wachat_peek_t *peek, const char *what)
{
    if (r == NULL || !unreplicated) {
        return r;
    }

    wachat_log(WACHAT_LOG_WARNING, "conversation %s: %s ran, not yet on a "
               "replica: %s", cv->id, what, cv->engine->store->err);

    freeReplyObject(r);
    memset(peek, 0, sizeof(wachat_peek_t));

    return NULL;
}


static void
wachat_conv_count(wachat_conv_t *cv, const wachat_event_t *ev,
    const wachat_commit_result_t *res, wachat_commit_e kind,
    const wachat_reply_t *reply)
{
    const char       *wamid;
    wachat_engine_t  *en = cv->engine;

    wamid = wachat_event_str(ev, ID);

    if (kind == WACHAT_COMMIT_HANDOFF || kind == WACHAT_COMMIT_VOICE) {
        return;
    }

    if (kind == WACHAT_COMMIT_LIMITED) {
        en->stats.withheld++;
        wachat_log(WACHAT_LOG_INFO, "conversation %s: %s kept, not answered: "
                   "over the customer's answers per minute%s", cv->id,
                   wamid ? wamid : "?",
                   res->queued ? " (notice sent)" : "");
        return;
    }

    if (res->queued == 0) {
        en->stats.silent++;
        return;
    }

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
}


/*
 * What follows a commit outside the conversation's slot: the agents'
 * bookkeeping and the e-mails.  Idempotent or best effort.
 */

static void
wachat_conv_committed(wachat_conv_t *cv, const wachat_event_t *ev,
    const wachat_commit_result_t *res, wachat_commit_e kind,
    const char *agent, const wachat_reply_t *reply)
{
    int               mode, handoff;
    long long         close_ms;
    const char       *waba;
    wachat_engine_t  *en = cv->engine;
    char              score[32];

    handoff = kind == WACHAT_COMMIT_HANDOFF || kind == WACHAT_COMMIT_VOICE;
    wachat_conv_count(cv, ev, res, kind, reply);

    /* the account's id, for its templates, when the config names none */
    waba = wachat_event_str(ev, WABA_ID);

    if (waba && en->cfg->waba_id[0] == '\0' && strcmp(waba, en->waba) != 0
        && strlen(waba) < sizeof(en->waba))
    {
        if (wachat_templates_learn(en->store, waba)) {
            wachat_log(WACHAT_LOG_NOTICE, "the webhooks name WhatsApp "
                       "Business Account %s: its templates are listed",
                       waba);
        }

        snprintf(en->waba, sizeof(en->waba), "%s", waba);
    }

    mode = wachat_mode_lookup(res->mode, strlen(res->mode));

    /*
     * Asked again while an agent holds it, the agent chosen is not the
     * holder: only a hand-over that moved the conversation credits one.
     */
    if (handoff && res->moved && mode == WACHAT_MODE_AGENT && agent) {
        en->stats.handoffs++;
        wachat_log(WACHAT_LOG_NOTICE, "conversation %s: handed over to "
                   "agent %s", cv->id, agent);
        wachat_agent_assigned(en->store, agent, cv->id);
        wachat_agent_feed(en->store, "mode", cv->id, "mode", res->mode, "agent",
                    agent, NULL);

    } else if (handoff && mode == WACHAT_MODE_WAITING_AGENT) {
        en->stats.handoffs++;
        wachat_log(WACHAT_LOG_NOTICE, "conversation %s: asks for a person, "
                   "nobody online", cv->id);

        /* waiting ones are listed by when their 24-hour window closes */
        close_ms = ev->ts * 1000 + en->cfg->window_ms;
        snprintf(score, sizeof(score), "%lld", close_ms);
        freeReplyObject(wachat_redis_cmd(en->store, "ZADD %s %s %s",
                                         WACHAT_KEY_WAITING, score, cv->id));
        wachat_agent_feed(en->store, "mode", cv->id, "mode", res->mode, NULL);

        if (en->notify) {
            en->notify(en->notify_data, WACHAT_NOTIFY_WAITING, cv->id);
        }

    } else if (mode == WACHAT_MODE_AGENT) {
        /* asked again while an agent holds it: asked, credited to nobody */
        if (handoff) {
            en->stats.handoffs++;
        }

        /* the customer wrote to an agent: that is activity */
        snprintf(score, sizeof(score), "%lld", wachat_clock_ms());
        freeReplyObject(wachat_redis_cmd(en->store, "ZADD %s XX %s %s",
                                         WACHAT_KEY_ASSIGNED, score,
                                         cv->id));
    }

    if (res->is_new && en->notify) {
        en->notify(en->notify_data, WACHAT_NOTIFY_NEW_CHAT, cv->id);
    }
}


/*
 * A failed delivery (Meta accepted the reply, then could not deliver it)
 * is surfaced like a send error, in the log and the dead-letter stream.
 */

static void
wachat_conv_undelivered(wachat_conv_t *cv, const char *wamid,
    const char *code)
{
    const char       *explain;
    wachat_engine_t  *en = cv->engine;

    explain = code ? wachat_graph_explain(atol(code)) : NULL;

    wachat_log(WACHAT_LOG_WARNING, "conversation %s: reply %s was not "
               "delivered, error %s%s%s", cv->id, wamid,
               code ? code : "?", explain ? ": " : "",
               explain ? explain : "");

    freeReplyObject(wachat_redis_cmd(en->store, "XADD %s MAXLEN ~ 100000 * "
                                     "conv %s code %s reason %s wamid %s",
                                     en->cfg->dead_stream, cv->id,
                                     code ? code : "-1",
                                     explain ? explain : "delivery failed",
                                     wamid));
    en->stats.dead++;
}


void
wachat_conv_status(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev)
{
    int               applied, unreplicated, refused;
    redisReply       *r;
    wachat_peek_t     peek;
    const char       *wamid, *status, *code;
    wachat_engine_t  *en = cv->engine;

    wamid = wachat_event_str(ev, ID) ? wachat_event_str(ev, ID) : "";
    status = wachat_event_str(ev, STATUS) ? wachat_event_str(ev, STATUS) : "";
    code = wachat_event_str(ev, ERROR_CODE);

    r = wachat_script_status(en->store, &cv->ref, WACHAT_LEASE_MS, member,
                             mlen, wamid, status,
                             wachat_event_str(ev, TS)
                             ? wachat_event_str(ev, TS) : "",
                             code ? code : "", &applied, &peek);

    /* read now, before anything else runs on the link */
    unreplicated = en->store->unreplicated;
    refused = en->store->refused;

    if (r != NULL && peek.state != WACHAT_PEEK_LOST) {
        en->stats.statuses++;

        if (applied && strcmp(status, "failed") == 0) {
            wachat_conv_undelivered(cv, wamid, code);
        }
    }

    r = wachat_conv_unreplicated(cv, r, unreplicated, &peek, "status");

    cv->peek = peek;
    wachat_conv_after(cv, r, unreplicated ? WACHAT_STORE_STEP
                                          : WACHAT_STORE_STATUS, refused);
}
