/*
 * answer: knowledge-base replies.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "answer/answer.h"
#include "answer/entry_title.h"
#include "answer/lang.h"


static int wachat_reply_entry(wachat_reply_t *reply,
    const wachat_kb_entry_t *e, double score);
static int wachat_reply_fallback(wachat_reply_t *reply,
    const wachat_answer_opts_t *o, const char *text,
    const wachat_kb_hit_t *hits, size_t n, size_t best);


int
wachat_answerable(const char *type)
{
    static const char  *types[] = {
        "text", "interactive", "button", "image", "video", "document", NULL
    };

    const char  **t;

    for (t = types; *t; t++) {
        if (strcmp(*t, type) == 0) {
            return 1;
        }
    }

    return 0;
}


void
wachat_answer_opts_plain(wachat_answer_opts_t *o, double min_score,
    const char *fallback_text)
{
    memset(o, 0, sizeof(wachat_answer_opts_t));
    o->min_score = min_score;
    o->fallback_text = fallback_text;
}


int
wachat_answer_kb(const wachat_kb_t *kb, const wachat_answer_opts_t *o,
    const wachat_question_t *q, wachat_reply_t *reply)
{
    return wachat_answer_kb_hybrid(kb, NULL, NULL, 0, o, q, reply);
}


int
wachat_answer_kb_hybrid(const wachat_kb_t *kb, const wachat_kb_vectors_t *vs,
    const float *qv, size_t dim, const wachat_answer_opts_t *o,
    const wachat_question_t *q, wachat_reply_t *reply)
{
    size_t                    n, best;
    wachat_kb_hit_t           hits[WACHAT_KB_FUSE_DEPTH];
    const wachat_kb_entry_t  *e;

    memset(reply, 0, sizeof(wachat_reply_t));

    if (q->type == NULL || !wachat_answerable(q->type)) {
        return 0;
    }

    if (q->payload && *q->payload) {
        e = wachat_kb_get(kb, q->payload);
        if (e) {
            return wachat_reply_entry(reply, e, 1.0);
        }
    }

    if (q->text == NULL || *q->text == '\0') {
        return 0;       /* a photo without caption: nothing to go on */
    }

    best = 0;

    if (qv && wachat_kb_vectors_ready(vs)) {
        n = wachat_kb_hybrid(kb, vs, qv, dim, q->text, strlen(q->text), hits,
                             WACHAT_KB_FUSE_DEPTH, &best);

    } else {
        n = wachat_kb_search(kb, q->text, strlen(q->text), hits,
                             WACHAT_KB_MAX_BUTTONS);
    }

    if (n && hits[best].score >= o->min_score) {
        return wachat_reply_entry(reply, hits[best].entry, hits[best].score);
    }

    return wachat_reply_fallback(reply, o, q->text, hits, n, best);
}


int
wachat_answer_title_new(const wachat_reply_t *reply, size_t n,
    const char *title)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (strcasecmp(reply->button_title[i], title) == 0) {
            return 0;
        }
    }

    return 1;
}


/*
 * Not sure: say so, and offer a person rather than guess; and the nearest
 * entries the score allows, the best first, then in the ranking's order,
 * each with a title no other button of the reply has (the person's
 * included).
 */
static int
wachat_reply_fallback(wachat_reply_t *reply, const wachat_answer_opts_t *o,
    const char *text, const wachat_kb_hit_t *hits, size_t n, size_t best)
{
    size_t                  i, k, max;
    char                   *title;
    const char             *lang, *person;
    const wachat_kb_hit_t  *h;

    lang = wachat_lang_detect(text, strlen(text));
    person = o->person_title ? o->person_title : "Talk to a person";
    max = o->suggestions < WACHAT_KB_MAX_BUTTONS - 1
          ? o->suggestions : WACHAT_KB_MAX_BUTTONS - 1;
    k = 0;

    for (i = 0; n && i <= n && k < max; i++) {
        h = i == 0 ? &hits[best] : &hits[i - 1];

        if ((i && i - 1 == best) || h->score <= 0
            || h->score < o->suggest_min_score)
        {
            continue;
        }

        title = wachat_entry_title(h->entry, lang);
        if (title == NULL) {
            goto nomem;
        }

        if (!wachat_answer_title_new(reply, k, title)
            || strcasecmp(title, person) == 0)
        {
            free(title);
            continue;
        }

        reply->button_title[k] = title;
        reply->button_id[k] = strdup(h->entry->id);
        reply->nbuttons = ++k;

        if (reply->button_id[k - 1] == NULL) {
            goto nomem;
        }
    }

    reply->text = strdup(k && o->suggest_text ? o->suggest_text
                                              : o->fallback_text);
    reply->button_id[k] = strdup(WACHAT_KB_LIVE_AGENT);
    reply->button_title[k] = strdup(person);
    reply->nbuttons = k + 1;
    reply->score = n ? hits[best].score : 0;
    snprintf(reply->source, sizeof(reply->source), "fallback");

    /* the nearest entry, then the others suggested: "hours,prices" */
    if (n) {
        snprintf(reply->context, sizeof(reply->context), "%s",
                 hits[best].entry->id);
    }

    for (i = 0; i < k; i++) {
        if (strcmp(reply->button_id[i], hits[best].entry->id) != 0) {
            wachat_answer_add_id(reply->context, sizeof(reply->context),
                                 reply->button_id[i]);
        }
    }

    if (reply->text == NULL || reply->button_id[k] == NULL
        || reply->button_title[k] == NULL)
    {
        goto nomem;
    }

    return 1;

nomem:

    wachat_answer_free(reply);
    return -1;
}


size_t
wachat_answer_suggested(const wachat_reply_t *reply)
{
    size_t  i, n;

    n = 0;

    if (strcmp(reply->source, "fallback") == 0) {
        for (i = 0; i < reply->nbuttons; i++) {
            n += strcmp(reply->button_id[i], WACHAT_KB_LIVE_AGENT) != 0;
        }
    }

    return n;
}


void
wachat_answer_add_id(char *buf, size_t size, const char *id)
{
    size_t  n;

    n = strlen(buf);

    if (n + strlen(id) + 2 <= size) {
        snprintf(buf + n, size - n, "%s%s", n ? "," : "", id);
    }
}


int
wachat_answer_has_id(const char *context, const char *id)
{
    size_t  n;

    n = strlen(id);

    while (context != NULL && *context) {
        if (strncmp(context, id, n) == 0
            && (context[n] == ',' || context[n] == '\0'))
        {
            return 1;
        }

        context = strchr(context, ',');
        context = context ? context + 1 : NULL;
    }

    return 0;
}


static int
wachat_reply_entry(wachat_reply_t *reply, const wachat_kb_entry_t *e,
    double score)
{
    size_t  i;

    reply->text = strdup(e->answer);
    reply->score = score;
    snprintf(reply->source, sizeof(reply->source), "kb:%s", e->id);

    for (i = 0; i < e->nbuttons; i++) {
        reply->button_id[i] = strdup(e->buttons[i].id);
        reply->button_title[i] = strdup(e->buttons[i].title);
        reply->nbuttons++;

        if (reply->button_id[i] == NULL || reply->button_title[i] == NULL) {
            wachat_answer_free(reply);
            return -1;
        }
    }

    if (reply->text == NULL) {
        wachat_answer_free(reply);
        return -1;
    }

    return 1;
}


void
wachat_answer_free(wachat_reply_t *reply)
{
    size_t  i;

    free(reply->text);

    for (i = 0; i < WACHAT_KB_MAX_BUTTONS; i++) {
        free(reply->button_id[i]);
        free(reply->button_title[i]);
    }

    memset(reply, 0, sizeof(wachat_reply_t));
}


/* "hours,prices" as "#hours #prices" */
static void
wachat_answer_ids(const char *ids, char *buf, size_t len)
{
    size_t  n;

    n = 0;
    buf[0] = '\0';

    while (ids && *ids && n + 2 < len) {
        if (n == 0 || ids[-1] == ',') {
            if (n) {
                buf[n++] = ' ';
            }

            buf[n++] = '#';
        }

        if (*ids != ',' && n + 1 < len) {
            buf[n++] = *ids;
        }

        ids++;
    }

    buf[n] = '\0';
}


void
wachat_answer_describe(const char *source, const char *score,
    const char *context, char *buf, size_t len)
{
    char  ids[600];

    wachat_answer_ids(context, ids, sizeof(ids));

    if (source && strncmp(source, "kb:", 3) == 0) {
        snprintf(buf, len, "answered from #%s, %s", source + 3,
                 score ? score : "?");

    } else if (source && strcmp(source, "llm") == 0) {
        snprintf(buf, len, "the model, given %s", ids[0] ? ids : "no entry");

    } else if (source && strcmp(source, "fallback") == 0) {
        if (ids[0]) {
            snprintf(buf, len, "no confident answer (nearest %s, %s)", ids,
                     score ? score : "?");

        } else {
            snprintf(buf, len, "no confident answer (nothing near)");
        }

    } else {
        snprintf(buf, len, "%s", source ? source : "?");
    }
}
