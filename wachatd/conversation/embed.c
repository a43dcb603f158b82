/*
 * embed: the customer's question as a vector of meaning (embed_url), so
 * that the KB's entries are ranked by words and meaning together
 * (answer/kb_vec.h).  Asked on the event loop like a transcription: the
 * conversation is busy, the message comes back when the vector is there.
 * Whatever goes wrong, the question is answered all the same, ranked by
 * words alone: the failure is logged once (until the endpoint answers
 * again) and counted.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/smalltalk.h"
#include "conversation/conv_int.h"
#include "lib/log.h"


static void wachat_conv_embedded(void *data,
    const wachat_embed_result_t *res);


void
wachat_conv_embed_free(wachat_conv_t *cv)
{
    if (cv->qvec == NULL) {
        return;
    }

    /* a call in flight keeps cv busy: cv->qvec goes only after it */
    free(cv->qvec->vec);
    free(cv->qvec);
    cv->qvec = NULL;
}


/* a question the KB is searched for: not a button, greeting or thanks */
static int
wachat_conv_embed_wanted(wachat_conv_t *cv, const wachat_question_t *q)
{
    wachat_engine_t  *en = cv->engine;

    if (q->type == NULL || !wachat_answerable(q->type)
        || q->text == NULL || q->text[0] == '\0')
    {
        return 0;
    }

    if (q->payload && q->payload[0]) {
        return wachat_kb_get(en->kb, q->payload) == NULL;
    }

    return wachat_smalltalk(q->text) == WACHAT_SMALLTALK_NONE;
}


/* what names the message a question vector is for */
static const char *
wachat_conv_embed_wamid(const wachat_event_t *ev)
{
    return wachat_event_str(ev, ID) ? wachat_event_str(ev, ID)
                                    : ev->stream_id;
}


int
wachat_conv_embed_done(const wachat_conv_t *cv, const wachat_event_t *ev)
{
    return cv->qvec && cv->qvec->step != WACHAT_QVEC_TODO
           && strcmp(cv->qvec->wamid, wachat_conv_embed_wamid(ev)) == 0;
}


int
wachat_conv_embed(wachat_conv_t *cv, const wachat_event_t *ev,
    const wachat_question_t *q)
{
    const char          *wamid, *texts[1];
    wachat_engine_t     *en = cv->engine;
    wachat_conv_qvec_t  *qv = cv->qvec;

    if (en->embed == NULL || !wachat_conv_embed_wanted(cv, q)) {
        return 0;
    }

    /* no vectors for the KB yet (or none to be had): words alone */
    if (wachat_kb_embed_vectors(en->kbe, en->kb) == NULL) {
        en->stats.embed_lexical++;
        return 0;
    }

    wamid = wachat_conv_embed_wamid(ev);

    if (qv && strcmp(qv->wamid, wamid) != 0) {
        wachat_conv_embed_free(cv);
        qv = NULL;
    }

    if (qv == NULL) {
        qv = calloc(1, sizeof(wachat_conv_qvec_t));
        if (qv == NULL) {
            en->stats.embed_lexical++;
            return 0;
        }

        snprintf(qv->wamid, sizeof(qv->wamid), "%s", wamid);
        cv->qvec = qv;
    }

    if (qv->step != WACHAT_QVEC_TODO) {
        return 0;
    }

    qv->step = WACHAT_QVEC_RUNNING;
    texts[0] = q->text;

    wachat_conv_set_busy(cv, 1);

    if (wachat_embed_request(en->embed, texts, 1, 0, wachat_conv_embedded,
                             cv) != 0)
    {
        wachat_conv_set_busy(cv, 0);
        qv->step = WACHAT_QVEC_READY;
        en->stats.embed_failed++;
        en->stats.embed_lexical++;
        return 0;
    }

    wachat_conv_drop_peek(cv);      /* the step after asks again */

    return 1;
}


static void
wachat_conv_embedded(void *data, const wachat_embed_result_t *res)
{
    char                        why[128];
    const char                 *error;
    wachat_conv_t              *cv = data;
    wachat_engine_t            *en = cv->engine;
    wachat_conv_qvec_t         *qv = cv->qvec;
    const wachat_kb_vectors_t  *vs;

    wachat_conv_set_busy(cv, 0);

    if (en->closing || qv == NULL) {
        return;
    }

    qv->step = WACHAT_QVEC_READY;
    error = res->ok ? NULL : res->error;

    /* the KB's vectors are another model's (a reload may have changed) */
    vs = wachat_kb_embed_vectors(en->kbe, en->kb);

    if (res->ok && vs && res->dim != vs->dim) {
        snprintf(why, sizeof(why), "embeddings: a vector of %zu numbers, "
                 "the knowledge base's have %zu", res->dim, vs->dim);
        error = why;

        /*
         * Twice in a row the same other size: the model changed under its
         * name, the KB's vectors are made again (once is not enough: one
         * broken answer must not cost the whole KB again)
         */
        if (res->n == 1 && res->dim == en->embed_other_dim) {
            wachat_kb_embed_redo(en->kbe, res->dim);
            en->embed_other_dim = 0;

        } else {
            en->embed_other_dim = res->dim;
        }

    } else if (res->ok) {
        en->embed_other_dim = 0;
    }

    if (error == NULL && res->n == 1) {
        qv->vec = malloc(res->dim * sizeof(float));

        if (qv->vec) {
            memcpy(qv->vec, res->vec, res->dim * sizeof(float));
            qv->dim = res->dim;
        }

        en->stats.embedded++;

        if (en->embed_failing) {
            en->embed_failing = 0;
            wachat_log(WACHAT_LOG_NOTICE, "the embeddings endpoint answers "
                       "again: questions are ranked by words and meaning");
        }

    } else {
        en->stats.embed_failed++;
        en->stats.embed_lexical++;

        if (!en->embed_failing) {
            en->embed_failing = 1;
            wachat_log(WACHAT_LOG_WARNING, "conversation %s: the question "
                       "could not be embedded (%s): ranking by words alone "
                       "until the embeddings endpoint answers", cv->id,
                       error ? error : "?");
        }
    }

    wachat_conv_schedule(cv, 0);
}


const wachat_kb_vectors_t *
wachat_conv_vectors(wachat_conv_t *cv, const float **q, size_t *dim)
{
    wachat_engine_t            *en = cv->engine;
    const wachat_kb_vectors_t  *vs;

    *q = NULL;
    *dim = 0;

    vs = wachat_kb_embed_vectors(en->kbe, en->kb);

    if (vs == NULL || cv->qvec == NULL || cv->qvec->vec == NULL
        || cv->qvec->dim != vs->dim)
    {
        return NULL;
    }

    *q = cv->qvec->vec;
    *dim = cv->qvec->dim;

    return vs;
}
