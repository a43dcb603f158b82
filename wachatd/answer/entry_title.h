/*
 * entry_title: an entry of the knowledge base as a button title, for the
 * buttons the assistant offers on its own (the greeting's menu, the
 * entries it suggests when it is not sure).  WhatsApp cuts reply button
 * titles at 20 characters, and a heading such as "How much does it cost
 * to rent a bike?" does not fit, so the first way the KB itself has of
 * naming the entry that fits is taken, not the shortest: its heading
 * when it fits, else the first of its Also phrasings that fits ("rental
 * prices" -> "Rental prices", but "iPhone repair" as it is), of those in
 * the customer's language; else the first of those with words (the
 * heading when none is in the language) cut at a word, with "...".  Pure,
 * so it is easy to test.
 */

#ifndef WACHAT_ENTRY_TITLE_H
#define WACHAT_ENTRY_TITLE_H

#include "answer/kb.h"


/*
 * e's title, at most WACHAT_KB_MAX_TITLE characters, malloc'd; lang (as
 * wachat_lang_detect() gives it, or NULL) chooses among the phrasings.
 * NULL only when memory runs out.
 */
char *wachat_entry_title(const wachat_kb_entry_t *e, const char *lang);


#endif /* WACHAT_ENTRY_TITLE_H */
