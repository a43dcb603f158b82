/*
 * answer preview: the kb backend's whole reply to a text, as a customer
 * writing it would get it, for wachatctl ask and the console.
 */

#ifndef WACHAT_ANSWER_PREVIEW_H
#define WACHAT_ANSWER_PREVIEW_H

#include "answer/answer.h"
#include "answer/kb_vec.h"
#include "lib/config.h"


/*
 * A greeting's menu, thanks, the entry or the fallback, in the language
 * text is written in (the config's <key>.<lang> texts); ranked by words
 * and meaning when qv and vs are given.  1 with a reply, -1 out of memory.
 * The daemon also remembers a conversation's language; a preview has only
 * the text's.
 */
int wachat_answer_preview(const wachat_kb_t *kb,
    const wachat_kb_vectors_t *vs, const float *qv, size_t dim,
    const wachat_config_t *cfg, const char *text, wachat_reply_t *reply);


#endif /* WACHAT_ANSWER_PREVIEW_H */
