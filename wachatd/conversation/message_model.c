/*
 * message_model: the openai backend's answer to a message.  The model is
 * asked with the best KB passages and the last turns; the message waits
 * in cv->pending meanwhile, and the answer goes out only when the guard
 * lets it (answer/guard.h): a refusal or a failed call, and the KB
 * answers (message.c) instead.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/graph.h"
#include "conversation/conv_int.h"
#include "lib/log.h"


static void wachat_conv_llm_done(void *data, const wachat_llm_result_t *res);


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

int
wachat_conv_ask_llm(wachat_conv_t *cv, const char *member, size_t mlen,
    const wachat_event_t *ev, const wachat_question_t *q)
{
    size_t                 i, n, max, nturns, best, dim;
    redisReply            *r;
    const float           *qv;
    wachat_kb_hit_t        hits[WACHAT_LLM_PASSAGES_MAX];
    const wachat_kb_vectors_t  *vs;
    wachat_llm_turn_t      turns[64];
    wachat_llm_prompt_t    prompt;
    wachat_llm_passage_t   passages[WACHAT_LLM_PASSAGES_MAX];
    wachat_engine_t       *en = cv->engine;

    if (q->type == NULL || !wachat_answerable(q->type)
        || q->text == NULL || *q->text == '\0'
        || (q->payload && wachat_kb_get(en->kb, q->payload)))
    {
        return -1;
    }

    /* at least the top entry: its buttons may go with the answer */
    max = en->cfg->llm_passages < WACHAT_LLM_PASSAGES_MAX
          ? (size_t) en->cfg->llm_passages : WACHAT_LLM_PASSAGES_MAX;
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
