/*
 * answer preview: what a customer writing a text would be sent by the kb
 * backend, whole, for the tools that show it before anyone asks
 * (wachatctl ask, the console's "what would the assistant answer?").
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/answer_preview.h"
#include "answer/lang.h"


/* the title of the button to a person in lang */
static const char *
wachat_answer_person_title(const wachat_config_t *cfg, const char *lang)
{
    return wachat_config_text(cfg, "handoff_button_title",
                              cfg->handoff_button_title, lang);
}


void
wachat_answer_opts(const wachat_config_t *cfg, const char *lang,
    wachat_answer_opts_t *o)
{
    wachat_answer_opts_plain(o, cfg->kb_min_score, cfg->fallback_text);
    o->suggestions = (size_t) cfg->kb_suggestions;
    o->suggest_min_score = cfg->kb_suggest_min_score;
    o->suggest_text = cfg->suggest_text;
    o->person_title = wachat_answer_person_title(cfg, lang);
}


/*
 * With suggestions, suggest_text in lang; but a language the business
 * wrote a fallback_text for and no suggest_text gets that fallback, not
 * the plain suggest_text in another language.
 */
static const char *
wachat_answer_fallback_text(const wachat_config_t *cfg, const char *lang,
    size_t suggested)
{
    const char  *text;

    if (suggested) {
        text = wachat_config_text(cfg, "suggest_text", NULL, lang);
        if (text) {
            return text;
        }

        text = wachat_config_text(cfg, "fallback_text", NULL, lang);
        return text ? text : cfg->suggest_text;
    }

    return wachat_config_text(cfg, "fallback_text", cfg->fallback_text, lang);
}


int
wachat_answer_localise(const wachat_config_t *cfg, const char *lang,
    wachat_reply_t *reply)
{
    char    *text, *title;
    size_t   i;

    if (strcmp(reply->source, "fallback") != 0) {
        return 0;
    }

    text = strdup(wachat_answer_fallback_text(cfg, lang,
                                              wachat_answer_suggested(reply)));
    title = strdup(wachat_answer_person_title(cfg, lang));

    if (text == NULL || title == NULL) {
        free(text);
        free(title);
        return -1;
    }

    free(reply->text);
    reply->text = text;

    for (i = 0; i < reply->nbuttons; i++) {
        if (strcmp(reply->button_id[i], WACHAT_KB_LIVE_AGENT) == 0) {
            free(reply->button_title[i]);
            reply->button_title[i] = title;
            title = NULL;
            break;
        }
    }

    free(title);

    return 0;
}


int
wachat_answer_smalltalk(const wachat_kb_t *kb, const wachat_config_t *cfg,
    wachat_smalltalk_e kind, const char *lang, wachat_reply_t *reply)
{
    switch (kind) {

    case WACHAT_SMALLTALK_GREETING:
        return wachat_smalltalk_menu(kb,
                                     wachat_config_text(cfg, "greeting_text",
                                                        cfg->greeting_text,
                                                        lang),
                                     lang, reply);

    case WACHAT_SMALLTALK_THANKS:
        memset(reply, 0, sizeof(wachat_reply_t));
        reply->text = strdup(wachat_config_text(cfg, "thanks_text",
                                                cfg->thanks_text, lang));
        snprintf(reply->source, sizeof(reply->source), "thanks");
        return reply->text ? 1 : -1;

    case WACHAT_SMALLTALK_NONE:
        break;
    }

    return 0;
}


int
wachat_answer_preview(const wachat_kb_t *kb, const wachat_kb_vectors_t *vs,
    const float *qv, size_t dim, const wachat_config_t *cfg,
    const char *text, wachat_reply_t *reply)
{
    int                   rc;
    const char           *lang;
    wachat_question_t     q;
    wachat_answer_opts_t  o;

    lang = wachat_lang_detect(text, strlen(text));

    rc = wachat_answer_smalltalk(kb, cfg, wachat_smalltalk(text), lang, reply);
    if (rc != 0) {
        return rc;
    }

    memset(&q, 0, sizeof(q));
    q.type = "text";
    q.text = text;

    wachat_answer_opts(cfg, lang, &o);
    rc = wachat_answer_kb_hybrid(kb, vs, qv, dim, &o, &q, reply);

    if (rc > 0 && wachat_answer_localise(cfg, lang, reply) != 0) {
        wachat_answer_free(reply);
        return -1;
    }

    return rc;
}
