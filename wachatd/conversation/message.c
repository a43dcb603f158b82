/*
 * message: what an inbound message gets.  Too old for the 24-hour window:
 * nothing; a request for a person: the hand-over; otherwise an answer from
 * the knowledge base, or from the model grounded on it (openai backend).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agents/agents.h"
#include "clients/graph.h"
#include "conversation/conv_int.h"
#include "lib/clock.h"
#include "lib/log.h"


static int wachat_conv_is_handoff(const wachat_config_t *cfg,
    const wachat_question_t *q);
static void wachat_conv_withhold(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev);
static void wachat_conv_handoff(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev);
static int wachat_conv_ask_llm(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev, const wachat_question_t *q);
static void wachat_conv_llm_done(void *data, const wachat_llm_result_t *res);


static void
wachat_conv_question(const wachat_event_t *ev, wachat_question_t *q)
{
    q->type = wachat_event_str(ev, TYPE);
    q->text = wachat_event_str(ev, TEXT);
    q->payload = wachat_event_str(ev, PAYLOAD);
}


void
wachat_conv_message(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev)
{
    int                 has_reply;
    long long           now;
    wachat_reply_t      reply;
    wachat_question_t   q;
    const char         *wamid;
    wachat_engine_t    *en = cv->engine;

    wamid = wachat_event_str(ev, ID);
    now = wachat_clock_ms();
    wachat_conv_question(ev, &q);

    /* the 24-hour window counts from the customer's own message */
    if (ev->ts > 0 && now / 1000 - ev->ts > en->cfg->window_ms / 1000) {
        wachat_log(WACHAT_LOG_NOTICE, "conversation %s: message %s is older "
                   "than the customer service window, not answered",
                   cv->id, wamid ? wamid : "?");
        wachat_conv_commit(cv, member, mlen, ev, NULL, WACHAT_COMMIT_ANSWER,
                           NULL);
        return;
    }

    if (wachat_conv_is_handoff(en->cfg, &q)) {
        wachat_conv_handoff(cv, member, mlen, ev);
        return;
    }

    /*
     * The peek that brought this head found the customer's answers spent;
     * what would get no answer anyway (a location) is not withheld.
     */
    if (cv->peek.limited && q.type && wachat_answerable(q.type)) {
        wachat_conv_withhold(cv, member, mlen, ev);
        return;
    }

    if (q.type && wachat_answerable(q.type)) {
        wachat_outbound_mark_read(en->ob,
                                  wachat_event_str(ev, PHONE_NUMBER_ID),
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

    wachat_conv_commit(cv, member, mlen, ev, has_reply ? &reply : NULL,
                       WACHAT_COMMIT_ANSWER, NULL);
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

    wachat_conv_commit(cv, member, mlen, ev, &reply, WACHAT_COMMIT_HANDOFF,
                       online ? agent : NULL);
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
    wachat_reply_t    reply;
    wachat_engine_t  *en = cv->engine;

    if (en->cfg->rate_limited_text[0] == '\0') {
        wachat_conv_commit(cv, member, mlen, ev, NULL, WACHAT_COMMIT_LIMITED,
                           NULL);
        return;
    }

    memset(&reply, 0, sizeof(wachat_reply_t));
    reply.text = strdup(en->cfg->rate_limited_text);
    snprintf(reply.source, sizeof(reply.source), "limit");

    if (reply.text == NULL) {
        wachat_conv_schedule(cv, 1000);
        return;
    }

    wachat_conv_commit(cv, member, mlen, ev, &reply, WACHAT_COMMIT_LIMITED,
                       NULL);
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

        if (dir && text) {
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
    size_t                 i, n, max, nturns;
    redisReply            *r;
    wachat_kb_hit_t        hits[8];
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
    n = wachat_kb_search(en->kb, q->text, strlen(q->text), hits,
                         max ? max : 1);

    cv->pending_hit[0] = '\0';
    cv->pending_score = 0;

    if (n) {
        snprintf(cv->pending_hit, sizeof(cv->pending_hit), "%s",
                 hits[0].entry->id);
        cv->pending_score = hits[0].score;
    }

    n = n < max ? n : max;

    for (i = 0; i < n; i++) {
        passages[i].title = hits[i].entry->question;
        passages[i].text = hits[i].entry->answer;
    }

    nturns = wachat_conv_turns(cv, &r, turns, 64);

    memset(&prompt, 0, sizeof(wachat_llm_prompt_t));
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
        wachat_conv_set_busy(cv, 0);
        /* the step's reply goes back where it was: the KB answers */
        cv->peeked = cv->pending;
        cv->pending = NULL;
        wachat_conv_unhold(cv);
        freeReplyObject(r);
        return -1;
    }

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
    size_t                     i, max, cut;
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

    cut = wachat_graph_clip(content, max);
    reply->text = strndup(content, cut);
    snprintf(reply->source, sizeof(reply->source), "llm");
    reply->score = cv->pending_hit[0] ? cv->pending_score : 0;

    return reply->text ? 1 : -1;
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
    wachat_conv_question(&cv->pending_ev, &q);
    memset(&reply, 0, sizeof(wachat_reply_t));

    if (res->ok) {
        has_reply = wachat_conv_llm_reply(cv, res->content, &reply);

    } else {
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: the model did not "
                   "answer (%s), answering from the knowledge base", cv->id,
                   res->error ? res->error : "?");

        has_reply = wachat_answer_kb(en->kb, en->cfg->kb_min_score,
                                     en->cfg->fallback_text, &q, &reply);
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
