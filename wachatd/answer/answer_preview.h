/*
 * answer preview: the kb backend's whole reply to a text, as a customer
 * writing it would get it, for wachatctl ask and the console; and the
 * language-bound parts of it the daemon shares.
 */

#ifndef WACHAT_ANSWER_PREVIEW_H
#define WACHAT_ANSWER_PREVIEW_H

#include "answer/answer.h"
#include "answer/kb_vec.h"
#include "answer/smalltalk.h"
#include "lib/config.h"


/*
 * How the kb backend decides, from the config, for a customer writing
 * lang (or NULL): the title of the person button its suggestions must
 * not have is the one wachat_answer_localise() gives in lang.
 */
void wachat_answer_opts(const wachat_config_t *cfg, const char *lang,
    wachat_answer_opts_t *o);

/*
 * A fallback reply's text (fallback_text, or suggest_text with
 * suggestions) and its person button's title in lang (the config's
 * <key>.<lang> texts); any other reply is left as it is.  0, or -1 out of
 * memory.  The daemon's replies go through it too.
 */
int wachat_answer_localise(const wachat_config_t *cfg, const char *lang,
    wachat_reply_t *reply);

/*
 * A greeting's menu (greeting_text) or thanks (thanks_text) in lang, for
 * the kind wachat_smalltalk() found: 1 with it, 0 for none, -1 out of
 * memory.
 */
int wachat_answer_smalltalk(const wachat_kb_t *kb, const wachat_config_t *cfg,
    wachat_smalltalk_e kind, const char *lang, wachat_reply_t *reply);


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
