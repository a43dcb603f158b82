/*
 * lang: the language of a customer's message, from its letters alone:
 * "en", "es", "fr", "de", "pt", "it", "zh-Hant", "zh-Hans" ("zh" when the
 * characters do not tell the script), "ja", "ko", "ru", "ar", "th", "he",
 * "el"; NULL when nothing tells (digits, emoji, a Latin text with none of
 * the small words).  Pure, so it is easy to test.
 */

#ifndef WACHAT_LANG_H
#define WACHAT_LANG_H

#include <stddef.h>


const char *wachat_lang_detect(const char *text, size_t len);

/* lang is want or one of its scripts: ("zh-Hant", "zh") matches */
int wachat_lang_matches(const char *lang, const char *want);


#endif /* WACHAT_LANG_H */
