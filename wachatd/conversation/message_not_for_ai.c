/*
 * message_not_for_ai: the messages the assistant does not answer
 * (message.c asks here first), and what each gets instead: nothing, the
 * hand-over, or a system text in the customer's language.
 */

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "agents/agents.h"
#include "conversation/conv_int.h"
#include "lib/clock.h"
#include "lib/log.h"


static int wachat_conv_unreadable_type(const wachat_question_t *q);
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


/*
 * What does not go to the assistant: a message too old to answer, a
 * request for a person, a reaction, a voice note nobody transcribed, a
 * type it cannot read, or a customer whose answers are spent.  1 when the
 * message was taken care of here.
 */
int
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
