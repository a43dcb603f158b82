/*
 * answer: knowledge-base replies.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/answer.h"


static int wachat_reply_entry(wachat_reply_t *reply,
    const wachat_kb_entry_t *e, double score);


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


int
wachat_answer_kb(const wachat_kb_t *kb, double min_score,
    const char *fallback_text, const wachat_question_t *q,
    wachat_reply_t *reply)
{
    return wachat_answer_kb_hybrid(kb, NULL, NULL, 0, min_score,
                                   fallback_text, q, reply);
}


int
wachat_answer_kb_hybrid(const wachat_kb_t *kb, const wachat_kb_vectors_t *vs,
    const float *qv, size_t dim, double min_score, const char *fallback_text,
    const wachat_question_t *q, wachat_reply_t *reply)
{
    size_t                    n, best;
    wachat_kb_hit_t           hit, hits[WACHAT_KB_FUSE_DEPTH];
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

    if (qv && wachat_kb_vectors_ready(vs)) {
        n = wachat_kb_hybrid(kb, vs, qv, dim, q->text, strlen(q->text), hits,
                             WACHAT_KB_FUSE_DEPTH, &best);
        if (n) {
            hit = hits[best];
            n = 1;
        }

    } else {
        n = wachat_kb_search(kb, q->text, strlen(q->text), &hit, 1);
    }

    if (n == 1 && hit.score >= min_score) {
        return wachat_reply_entry(reply, hit.entry, hit.score);
    }

    /* not sure: say so, and offer a person rather than guess */

    reply->text = strdup(fallback_text);
    reply->button_id[0] = strdup(WACHAT_KB_LIVE_AGENT);
    reply->button_title[0] = strdup("Talk to a person");
    reply->nbuttons = 1;
    reply->score = n ? hit.score : 0;
    snprintf(reply->source, sizeof(reply->source), "fallback");

    if (n) {
        snprintf(reply->context, sizeof(reply->context), "%s", hit.entry->id);
    }

    if (reply->text == NULL || reply->button_id[0] == NULL
        || reply->button_title[0] == NULL)
    {
        wachat_answer_free(reply);
        return -1;
    }

    return 1;
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
