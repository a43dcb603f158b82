/*
 * answer: what the assistant replies to one inbound message, from the
 * knowledge base.  Pure: no Redis, no network, so it is easy to test.
 */

#ifndef WACHAT_ANSWER_H
#define WACHAT_ANSWER_H

#include <stddef.h>

#include "answer/kb.h"
#include "answer/kb_vec.h"


typedef struct {
    char    *text;
    size_t   nbuttons;
    char    *button_id[WACHAT_KB_MAX_BUTTONS];
    char    *button_title[WACHAT_KB_MAX_BUTTONS];
    char     source[WACHAT_KB_MAX_ID + 16];    /* "kb:<id>", "fallback" */
    double   score;
    /*
     * what the source leaned on, for the business to see: the entries the
     * model was given ("hours,prices"); for a fallback the nearest entry,
     * offered or not, then the others offered
     */
    char     context[512];
} wachat_reply_t;


typedef struct {
    const char  *type;          /* the message's type */
    const char  *text;          /* text, caption, button title; or NULL */
    const char  *payload;       /* button / list reply id; or NULL */
} wachat_question_t;


/* how the kb backend decides (the config's kb_* keys and texts) */
typedef struct {
    double       min_score;         /* kb_min_score */
    const char  *fallback_text;
    /*
     * When not sure, up to `suggestions` (0..2) of the nearest entries
     * whose score is at least suggest_min_score are offered as buttons
     * before the one to a person, with suggest_text (NULL: fallback_text):
     * a customer who asked in words the KB does not know is one tap from
     * the answer, and nothing is claimed that the score does not support.
     */
    size_t       suggestions;
    double       suggest_min_score;
    const char  *suggest_text;
    /*
     * The title of the button to a person in the customer's language
     * (NULL: "Talk to a person").  An entry titled the same is not
     * suggested beside it: Graph refuses a message with two buttons of
     * one title.
     */
    const char  *person_title;
} wachat_answer_opts_t;


/* min_score and fallback_text, and no suggestions */
void wachat_answer_opts_plain(wachat_answer_opts_t *o, double min_score,
    const char *fallback_text);


/*
 * 1 with a reply, 0 when the message gets none (a reaction, a sticker, an
 * unsupported type), -1 out of memory.  A button payload naming an entry
 * answers that entry; text is searched, and below o->min_score the
 * fallback text is sent with the suggested entries and a button to reach
 * a person (source "fallback", context the nearest entry's id, then the
 * others suggested).
 */
int wachat_answer_kb(const wachat_kb_t *kb, const wachat_answer_opts_t *o,
    const wachat_question_t *q, wachat_reply_t *reply);

/*
 * The same, the entries ranked by words and meaning together when vs is
 * ready and q is the question's vector (dim floats): kb_vec.h says how
 * the vectors move the confidence, and the suggestions follow the fused
 * order.  vs or q NULL: wachat_answer_kb().
 */
int wachat_answer_kb_hybrid(const wachat_kb_t *kb,
    const wachat_kb_vectors_t *vs, const float *q, size_t dim,
    const wachat_answer_opts_t *o, const wachat_question_t *q_,
    wachat_reply_t *reply);

/* a reply's context, "hours,prices": one more id, as far as it fits */
void wachat_answer_add_id(char *buf, size_t size, const char *id);

/* id is one of a context's ids (NULL: none) */
int wachat_answer_has_id(const char *context, const char *id);

/* the reply's buttons that suggest entries (not the one to a person) */
size_t wachat_answer_suggested(const wachat_reply_t *reply);

/*
 * 1 when title differs from each of the reply's first n button titles,
 * ignoring ASCII case (Graph refuses two buttons of one title, and a
 * customer could not tell two apart by case).
 */
int wachat_answer_title_new(const wachat_reply_t *reply, size_t n,
    const char *title);

void wachat_answer_free(wachat_reply_t *reply);

/*
 * A reply's source as the business reads it, from its history fields
 * (any may be NULL): "answered from #hours, 0.82", "the model, given
 * #hours #prices", "no confident answer (nearest #hours, 0.31)".
 */
void wachat_answer_describe(const char *source, const char *score,
    const char *context, char *buf, size_t len);

/* 1 for the message types whose text the assistant can answer */
int wachat_answerable(const char *type);


#endif /* WACHAT_ANSWER_H */
