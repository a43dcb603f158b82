/*
 * message: what an inbound message gets.  Too old for the 24-hour window:
 * nothing; a request for a person: the hand-over (message_not_for_ai.c,
 * with what else the assistant does not answer); otherwise an answer from
 * the knowledge base, or from the model grounded on it (openai backend,
 * message_model.c), once the guard has let it through.
 */

#include <stdio.h>
#include <string.h>

#include "answer/lang.h"
#include "answer/answer_preview.h"
#include "answer/smalltalk.h"
#include "conversation/conv_int.h"


/* a voice note's transcript is the question, as if it had been typed */
void
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
int
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
