/*
 * smalltalk: a message that only greets ("hi", "你好") or thanks ("thanks",
 * "謝謝") gets greeting_text with a menu of the knowledge base's entries,
 * or thanks_text, not the fallback.  Pure, so it is easy to test.
 */

#ifndef WACHAT_SMALLTALK_H
#define WACHAT_SMALLTALK_H

#include "answer/answer.h"
#include "answer/kb.h"


typedef enum {
    WACHAT_SMALLTALK_NONE = 0,
    WACHAT_SMALLTALK_GREETING,
    WACHAT_SMALLTALK_THANKS
} wachat_smalltalk_e;


wachat_smalltalk_e wachat_smalltalk(const char *text);

/*
 * text with up to three of the KB's entries as buttons (those whose
 * question is in lang first), source "greeting".  1, or -1 out of memory.
 */
int wachat_smalltalk_menu(const wachat_kb_t *kb, const char *text,
    const char *lang, wachat_reply_t *reply);


#endif /* WACHAT_SMALLTALK_H */
