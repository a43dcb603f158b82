/*
 * message: what an inbound message gets.  Too old for the 24-hour window:
 * nothing; a request for a person: the hand-over; otherwise an answer from
 * the knowledge base, or from the model grounded on it (openai backend),
 * once the guard has let it through.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agents/agents.h"
#include "clients/graph.h"
#include "answer/lang.h"
#include "answer/answer_preview.h"
#include "answer/smalltalk.h"
#include "conversation/conv_int.h"
#include "lib/clock.h"
#include "lib/log.h"


static int wachat_conv_is_handoff(const wachat_config_t *cfg,
    const wachat_question_t *q);
static void wachat_conv_withhold(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev);
static void wachat_conv_handoff(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev);
static void wachat_conv_voice(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev);
static void wachat_conv_unread(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev);
static int wachat_conv_ask_llm(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev, const wachat_question_t *q);
static void wachat_conv_llm_done(void *data, const wachat_llm_result_t *res);


/* a voice note's transcript is the question, as if it had been typed */
static void
wachat_conv_question(const wachat_conv_t *cv, const wachat_event_t *ev,
    wachat_question_t *q)
{
    q->type = wachat_event_str(ev, TYPE);
    q->text = wachat_event_str(ev, TEXT);
    q->payload = wachat_event_str(ev, PAYLOAD);

    if (cv->media && cv->media->transcript) {
        q->type = "text";
        q->text = cv->media->transcript;
    }

    /* llm_vision: a picture without words still goes to the model */
    if ((q->text == NULL || q->text[0] == '\0')
        && wachat_conv_media_picture(cv))
    {
        q->text = "(a picture, without a caption)";
    }
}


/*
 * What the assistant cannot read gets media_reply_text rather than
 * silence: a sticker, a location, a contact card, an unsupported message,
 * a picture, video or document without a caption.  Audio has its own way
 * (wachat_conv_voice), a reaction none.
 */
static int
wachat_conv_unreadable_type(const wachat_question_t *q)
{
    static const char  *types[] = {
        "sticker", "location", "contacts", "unsupported", NULL
    };

    const char  **t;

    if (q->type == NULL) {
        return 0;
    }

    for (t = types; *t; t++) {
        if (strcmp(*t, q->type) == 0) {
            return 1;
        }
    }

    return (strcmp(q->type, "image") == 0 || strcmp(q->type, "video") == 0
            || strcmp(q->type, "document") == 0)
           && (q->text == NULL || q->text[0] == '\0');
}


/* the language the message tells, if any ("ok", a sticker tell none) */
static void
wachat_conv_language(wachat_conv_t *cv, const wachat_question_t *q)
{
    const char  *lang;

    lang = q->text ? wachat_lang_detect(q->text, strlen(q->text)) : NULL;
    cv->lang_new = lang != NULL;
    cv->lang_known = lang != NULL;
    snprintf(cv->lang, sizeof(cv->lang), "%s", lang ? lang : "");
}


/*
 * The customer's language: this message's, else the one remembered for
 * the conversation, read only when a text needs it (so a message that
 * gets no system text costs no read).  NULL when none is known.
 */
static const char *
wachat_conv_lang(wachat_conv_t *cv)
{
    redisReply  *r;

    if (!cv->lang_known) {
        r = wachat_redis_cmd(cv->engine->store, "HGET %s lang",
                             cv->ref.conv);
        snprintf(cv->lang, sizeof(cv->lang), "%s",
                 r && r->type == REDIS_REPLY_STRING ? r->str : "");
        freeReplyObject(r);
        cv->lang_known = 1;
    }

    return cv->lang[0] ? cv->lang : NULL;
}


/* a system text in the customer's language (config <key>.<lang>) */
const char *
wachat_conv_text(wachat_conv_t *cv, const char *key, const char *plain)
{
    return wachat_config_text(cv->engine->cfg, key, plain,
                              wachat_conv_lang(cv));
}


/*
 * The kb backend's answer, by words and meaning when the vectors are
 * there (embed.c), the fallback in the customer's language.
 */
static int
wachat_conv_answer_kb(wachat_conv_t *cv, const wachat_question_t *q,
    wachat_reply_t *reply)
{
    int                         has_reply, told;
    size_t                      dim;
    const char                 *person;
    const float                *qv;
    wachat_engine_t            *en = cv->engine;
    const wachat_kb_vectors_t  *vs;
    wachat_answer_opts_t        o;

    vs = wachat_conv_vectors(cv, &qv, &dim);

    /* the language the message tells; the one remembered is not read yet */
    told = cv->lang_known;
    wachat_answer_opts(en->cfg, told ? wachat_conv_lang(cv) : NULL, &o);
    has_reply = wachat_answer_kb_hybrid(en->kb, vs, qv, dim, &o, q, reply);

    if (has_reply <= 0 || strcmp(reply->source, "fallback") != 0) {
        return has_reply;
    }

    /*
     * The fallback in the customer's language (read only for it).  Its
     * person button may have another title in the language remembered:
     * the suggestions are chosen again, so that none is titled as it.
     */
    if (!told && wachat_answer_suggested(reply)) {
        person = o.person_title;
        wachat_answer_opts(en->cfg, wachat_conv_lang(cv), &o);

        if (strcmp(o.person_title, person) != 0) {
            wachat_answer_free(reply);
            has_reply = wachat_answer_kb_hybrid(en->kb, vs, qv, dim, &o, q,
                                                reply);
        }
    }

    if (has_reply > 0
        && wachat_answer_localise(en->cfg, wachat_conv_lang(cv), reply) != 0)
    {
        wachat_answer_free(reply);
        has_reply = -1;
    }

    return has_reply;
}


/* a greeting gets a menu, thanks a word: never "I'm not sure" */
static int
wachat_conv_smalltalk(wachat_conv_t *cv, const wachat_question_t *q,
    wachat_reply_t *reply)
{
    wachat_engine_t     *en = cv->engine;
    wachat_smalltalk_e   kind;

    if (q->text == NULL || q->payload != NULL) {
        return 0;
    }

    kind = wachat_smalltalk(q->text);

    /* the conversation's language is read only for smalltalk */
    return kind == WACHAT_SMALLTALK_NONE
           ? 0
           : wachat_answer_smalltalk(en->kb, en->cfg, kind,
                                     wachat_conv_lang(cv), reply);
}


/*
 * What does not go to the assistant: a message too old to answer, a
 * request for a person, a reaction, a voice note nobody transcribed, a
 * type it cannot read, or a customer whose answers are spent.  1 when the
 * message was taken care of here.
 */
static int
wachat_conv_not_for_ai(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev, const wachat_question_t *q)
{
    const char       *wamid;
    wachat_engine_t  *en = cv->engine;

    /* the 24-hour window counts from the customer's own message */
    if (ev->ts > 0
        && wachat_clock_ms() / 1000 - ev->ts > en->cfg->window_ms / 1000)
    {
        wamid = wachat_event_str(ev, ID);
        wachat_log(WACHAT_LOG_NOTICE, "conversation %s: message %s is older "
                   "than the customer service window, not answered",
                   cv->id, wamid ? wamid : "?");
        wachat_conv_commit(cv, member, mlen, ev, NULL, WACHAT_COMMIT_ANSWER,
                           NULL);
        return 1;
    }

    if (wachat_conv_is_handoff(en->cfg, q)) {
        wachat_conv_handoff(cv, member, mlen, ev);
        return 1;
    }

    /* a reaction is never answered: it marks a message, it asks nothing */
    if (q->type && strcmp(q->type, "reaction") == 0) {
        wachat_conv_commit(cv, member, mlen, ev, NULL, WACHAT_COMMIT_ANSWER,
                           NULL);
        return 1;
    }

    /* audio nobody could transcribe: a person listens */
    if (q->type && strcmp(q->type, "audio") == 0) {
        wachat_conv_voice(cv, member, mlen, ev);
        return 1;
    }

    if (wachat_conv_unreadable_type(q)) {
        if (cv->peek.limited) {
            wachat_conv_withhold(cv, member, mlen, ev);

        } else {
            wachat_conv_unread(cv, member, mlen, ev);
        }

        return 1;
    }

    /*
     * The peek that brought this head found the customer's answers spent;
     * what would get no answer anyway (a location) is not withheld.
     */
    if (cv->peek.limited && q->type && wachat_answerable(q->type)) {
        wachat_conv_withhold(cv, member, mlen, ev);
        return 1;
    }

    return 0;
}


/* the assistant's reply: small talk, the model, or the knowledge base */
static void
wachat_conv_reply(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev, const wachat_question_t *q)
{
    int               has_reply;
    wachat_reply_t    reply;
    wachat_engine_t  *en = cv->engine;

    has_reply = wachat_conv_smalltalk(cv, q, &reply);

    if (has_reply == 0) {
        if (en->llm && en->guard && en->cfg->backend == WACHAT_BACKEND_OPENAI
            && wachat_conv_ask_llm(cv, member, mlen, ev, q) == 0)
        {
            return;     /* busy until the model answers */
        }

        has_reply = wachat_conv_answer_kb(cv, q, &reply);
    }

    if (has_reply < 0) {
        wachat_conv_schedule(cv, 1000);
        return;
    }

    wachat_conv_commit(cv, member, mlen, ev, has_reply ? &reply : NULL,
                       WACHAT_COMMIT_ANSWER, NULL);
}


void
wachat_conv_message(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev)
{
    wachat_question_t   q;
    wachat_engine_t    *en = cv->engine;

    /* its picture or voice note first: kept, and transcribed */
    if (wachat_conv_media(cv, ev)) {
        return;         /* busy or waiting: the message comes back */
    }

    wachat_conv_question(cv, ev, &q);
    wachat_conv_language(cv, &q);

    if (wachat_conv_not_for_ai(cv, member, mlen, ev, &q)) {
        return;
    }

    /* read at once, also while the question is being embedded (once) */
    if (q.type && wachat_answerable(q.type)
        && !wachat_conv_embed_done(cv, ev))
    {
        wachat_outbound_mark_read(en->ob,
                                  wachat_event_str(ev, PHONE_NUMBER_ID),
                                  wachat_event_str(ev, ID));
    }

    /* embed_url: the question's vector first, the message comes back */
    if (wachat_conv_embed(cv, ev, &q)) {
        return;
    }

    wachat_conv_reply(cv, member, mlen, ev, &q);
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

/*
 * A system text (already in the customer's language) as the message's
 * reply, committed the way how says; out of memory: the message is tried
 * again in a second.
 */
static void
wachat_conv_say(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev, const char *text, const char *source,
    wachat_commit_e how, const char *agent)
{
    wachat_reply_t  reply;

    memset(&reply, 0, sizeof(wachat_reply_t));
    reply.text = strdup(text);
    snprintf(reply.source, sizeof(reply.source), "%s", source);

    if (reply.text == NULL) {
        wachat_conv_schedule(cv, 1000);
        return;
    }

    wachat_conv_commit(cv, member, mlen, ev, &reply, how, agent);
}


static void
wachat_conv_handoff(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev)
{
    int               online;
    wachat_engine_t  *en = cv->engine;
    char              agent[128];

    online = wachat_agent_pick(en->store, en->cfg, agent, sizeof(agent)) == 0;

    wachat_conv_say(cv, member, mlen, ev,
                    online ? wachat_conv_text(cv, "handoff_text",
                                              en->cfg->handoff_text)
                           : wachat_conv_text(cv, "handoff_offline_text",
                                              en->cfg->handoff_offline_text),
                    "handoff", WACHAT_COMMIT_HANDOFF, online ? agent : NULL);
}


/*
 * A voice note without a transcript (no stt_url, or it failed): the
 * customer is told (voice_text) and the conversation goes the hand-over
 * way, to an online agent or waiting for one.  Held by an agent already,
 * nothing is said: the agent has the voice note in the console.
 */

static void
wachat_conv_voice(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev)
{
    int               online;
    wachat_engine_t  *en = cv->engine;
    char              agent[128];

    online = wachat_agent_pick(en->store, en->cfg, agent, sizeof(agent)) == 0;

    wachat_conv_say(cv, member, mlen, ev,
                    wachat_conv_text(cv, "voice_text", en->cfg->voice_text),
                    "voice", WACHAT_COMMIT_VOICE, online ? agent : NULL);
}


/* what the assistant cannot read: said so, rather than nothing */
static void
wachat_conv_unread(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev)
{
    wachat_engine_t  *en = cv->engine;

    wachat_conv_say(cv, member, mlen, ev,
                    wachat_conv_text(cv, "media_reply_text",
                                     en->cfg->media_reply_text),
                    "media", WACHAT_COMMIT_ANSWER, NULL);
}


/*
 * Over the customer's answers per minute: no KB search, no model call, no
 * read mark (each is a Graph call on the number's rate).  The message is
 * committed all the same, with the notice, which the script sends only to
 * the first such message of a period.
 */

static void
wachat_conv_withhold(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev)
{
    wachat_engine_t  *en = cv->engine;

    if (en->cfg->rate_limited_text[0] == '\0') {
        wachat_conv_commit(cv, member, mlen, ev, NULL, WACHAT_COMMIT_LIMITED,
                           NULL);
        return;
    }

    wachat_conv_say(cv, member, mlen, ev,
                    wachat_conv_text(cv, "rate_limited_text",
                                     en->cfg->rate_limited_text),
                    "limit", WACHAT_COMMIT_LIMITED, NULL);
}


/* the last turns, oldest first; this message is not in them yet */
static size_t
wachat_conv_turns(wachat_conv_t *cv, redisReply **r, wachat_llm_turn_t *turns,
    size_t max)
{
    int               k;
    size_t            n;
    const char       *dir, *text;
    wachat_engine_t  *en = cv->engine;

    n = 0;
    *r = wachat_redis_cmd(en->store, "XREVRANGE %s + - COUNT %d",
                          cv->ref.hist,
                          en->cfg->llm_history < (int) max
                          ? en->cfg->llm_history : (int) max);

    if (*r == NULL || (*r)->type != REDIS_REPLY_ARRAY) {
        return 0;
    }

    for (k = (int) (*r)->elements - 1; k >= 0; k--) {
        dir = wachat_redis_reply_field((*r)->element[k]->element[1], "dir");
        text = wachat_redis_reply_field((*r)->element[k]->element[1], "text");

        /* what a voice note said is its transcript */
        if (text == NULL) {
            text = wachat_redis_reply_field((*r)->element[k]->element[1],
                                            "transcript");
        }

        /* an agent's internal note is never the model's to see */
        if (dir && text && strcmp(dir, "note") != 0) {
            turns[n].role = strcmp(dir, "in") == 0 ? WACHAT_LLM_USER
                                                   : WACHAT_LLM_ASSISTANT;
            turns[n].text = text;
            n++;
        }
    }

    return n;
}


/*
 * The message waits in cv->pending while the model thinks: the step's
 * reply, which the event and the member point into, moves there.
 */

static void
wachat_conv_hold(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev)
{
    freeReplyObject(cv->pending);
    cv->pending = cv->peeked;
    cv->pending_ev = *ev;
    cv->pending_member = member;
    cv->pending_member_len = mlen;
    cv->peeked = NULL;
    memset(&cv->peek, 0, sizeof(wachat_peek_t));
}


static void
wachat_conv_unhold(wachat_conv_t *cv)
{
    freeReplyObject(cv->pending);
    cv->pending = NULL;
    cv->pending_member = NULL;
    cv->pending_member_len = 0;
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
    size_t                 i, n, max, nturns, best, dim;
    redisReply            *r;
    const float           *qv;
    wachat_kb_hit_t        hits[8];
    const wachat_kb_vectors_t  *vs;
    wachat_llm_turn_t      turns[64];
    wachat_llm_prompt_t    prompt;
    wachat_llm_passage_t   passages[8];
    wachat_engine_t       *en = cv->engine;

    if (q->type == NULL || !wachat_answerable(q->type)
        || q->text == NULL || *q->text == '\0'
        || (q->payload && wachat_kb_get(en->kb, q->payload)))
    {
        return -1;
    }

    /* at least the top entry: its buttons may go with the answer */
    max = en->cfg->llm_passages < 8 ? (size_t) en->cfg->llm_passages : 8;
    vs = wachat_conv_vectors(cv, &qv, &dim);
    n = wachat_kb_hybrid(en->kb, vs, qv, dim, q->text, strlen(q->text), hits,
                         max ? max : 1, &best);

    cv->pending_hit[0] = '\0';
    cv->pending_score = 0;

    if (n) {
        snprintf(cv->pending_hit, sizeof(cv->pending_hit), "%s",
                 hits[0].entry->id);
        cv->pending_score = hits[0].score;
    }

    n = n < max ? n : max;

    cv->pending_context[0] = '\0';

    for (i = 0; i < n; i++) {
        passages[i].title = hits[i].entry->question;
        passages[i].text = hits[i].entry->answer;
        wachat_answer_add_id(cv->pending_context, sizeof(cv->pending_context),
                             hits[i].entry->id);
    }

    nturns = wachat_conv_turns(cv, &r, turns, 64);

    memset(&prompt, 0, sizeof(wachat_llm_prompt_t));
    prompt.image_url = wachat_conv_media_data_url(cv);
    prompt.passages = passages;
    prompt.npassages = n;
    prompt.history = turns;
    prompt.nhistory = nturns;
    prompt.question = q->text;

    wachat_conv_hold(cv, member, mlen, ev);
    wachat_conv_set_busy(cv, 1);

    /* the prompt is copied into the request: r may go now */
    if (wachat_llm_complete(en->llm, &prompt, wachat_conv_llm_done, cv)
        != 0)
    {
        free((char *) prompt.image_url);
        wachat_conv_set_busy(cv, 0);
        /* the step's reply goes back where it was: the KB answers */
        cv->peeked = cv->pending;
        cv->pending = NULL;
        wachat_conv_unhold(cv);
        freeReplyObject(r);
        return -1;
    }

    free((char *) prompt.image_url);
    freeReplyObject(r);

    return 0;
}


static void
wachat_conv_llm_count(wachat_engine_t *en, const wachat_llm_result_t *res)
{
    size_t  i;

    en->stats.llm_calls++;
    en->stats.llm_failures += res->ok ? 0 : 1;
    en->stats.llm_ms_sum += res->total_ms > 0 ? res->total_ms : 0;

    for (i = 0; i < WACHAT_LLM_BUCKETS; i++) {
        if (wachat_engine_llm_buckets_ms[i] < 0
            || res->total_ms <= wachat_engine_llm_buckets_ms[i])
        {
            en->stats.llm_le[i]++;
            break;
        }
    }
}


/*
 * The model's answer, with the buttons of the entry it most rests on: the
 * top one of the search the prompt was built from, looked up again by id
 * (the KB may have been reloaded while the model was thinking).
 */

static int
wachat_conv_llm_reply(wachat_conv_t *cv, const char *content,
    wachat_reply_t *reply)
{
    size_t                     i, max;
    wachat_engine_t           *en = cv->engine;
    const wachat_kb_entry_t   *top;

    top = cv->pending_hit[0] ? wachat_kb_get(en->kb, cv->pending_hit) : NULL;
    max = WACHAT_GRAPH_TEXT_MAX;

    if (top && cv->pending_score >= en->cfg->kb_min_score && top->nbuttons) {
        max = WACHAT_GRAPH_BUTTON_BODY_MAX;

        for (i = 0; i < top->nbuttons; i++) {
            reply->button_id[i] = strdup(top->buttons[i].id);
            reply->button_title[i] = strdup(top->buttons[i].title);
            reply->nbuttons++;
        }
    }

    reply->text = wachat_guard_cap(content, max);
    snprintf(reply->source, sizeof(reply->source), "llm");
    snprintf(reply->context, sizeof(reply->context), "%s",
             cv->pending_context);
    reply->score = cv->pending_hit[0] ? cv->pending_score : 0;

    return reply->text ? 1 : -1;
}


/*
 * The model follows the customer's instructions as readily as ours: what
 * it wrote goes out only when the guard lets it (answer/guard.h).  A
 * refusal is logged and counted, and the KB answers instead.
 */

static int
wachat_conv_llm_passes(wachat_conv_t *cv, const char *content)
{
    wachat_guard_e    r;
    wachat_engine_t  *en = cv->engine;
    char              why[WACHAT_GUARD_HOST_MAX + 64];

    if (en->guard == NULL) {
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: no guard for the "
                   "model's answer (reload out of memory?), answering from "
                   "the knowledge base", cv->id);
        return 0;
    }

    r = wachat_guard_check(en->guard, content, why, sizeof(why));
    if (r == WACHAT_GUARD_PASS) {
        return 1;
    }

    en->stats.llm_refused[r]++;

    wachat_log(WACHAT_LOG_WARNING, "conversation %s: the model's answer is "
               "refused (%s: %s), answering from the knowledge base", cv->id,
               wachat_guard_name(r), why);

    return 0;
}


static void
wachat_conv_llm_done(void *data, const wachat_llm_result_t *res)
{
    int                  has_reply;
    redisReply          *held;
    wachat_reply_t       reply;
    wachat_question_t    q;
    wachat_conv_t       *cv = data;
    wachat_engine_t     *en = cv->engine;

    wachat_conv_set_busy(cv, 0);

    if (en->closing) {
        return;         /* forced stop: the message stays in the inbox */
    }

    wachat_conv_llm_count(en, res);
    wachat_conv_question(cv, &cv->pending_ev, &q);
    memset(&reply, 0, sizeof(wachat_reply_t));

    if (res->ok && wachat_conv_llm_passes(cv, res->content)) {
        has_reply = wachat_conv_llm_reply(cv, res->content, &reply);

    } else {
        if (!res->ok) {
            wachat_log(WACHAT_LOG_WARNING, "conversation %s: the model did "
                       "not answer (%s), answering from the knowledge base",
                       cv->id, res->error ? res->error : "?");
        }

        has_reply = wachat_conv_answer_kb(cv, &q, &reply);
    }

    if (has_reply < 0) {
        wachat_answer_free(&reply);
        wachat_conv_unhold(cv);
        wachat_conv_schedule(cv, 1000);
        return;
    }

    /* the commit may forget cv (lease lost): pending is let go first */
    held = cv->pending;
    cv->pending = NULL;

    wachat_conv_commit(cv, cv->pending_member, cv->pending_member_len,
                       &cv->pending_ev, has_reply ? &reply : NULL,
                       WACHAT_COMMIT_ANSWER, NULL);

    freeReplyObject(held);
}
