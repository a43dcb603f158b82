/*
 * WhatsApp's length: an answer that passed is cut to the limit, at the
 * end of a sentence in the second half, else at a space, with an ellipsis.
 */

#include <stdlib.h>
#include <string.h>

#include "answer/guard_int.h"
#include "wachat_utf8.h"


/* the end of the last sentence in s[from..to), or 0 */
static size_t
wachat_guard_sentence(const char *s, size_t from, size_t to)
{
    size_t  i;

    for (i = to; i > from; i--) {
        if (s[i - 1] == '\n') {
            return i - 1;
        }

        if (strchr(".!?", s[i - 1]) && i < to
            && (s[i] == ' ' || s[i] == '\n'))
        {
            return i;
        }

        /* 。！？ */
        if (i + 2 <= to
            && (memcmp(s + i - 1, "\xe3\x80\x82", 3) == 0
                || memcmp(s + i - 1, "\xef\xbc\x81", 3) == 0
                || memcmp(s + i - 1, "\xef\xbc\x9f", 3) == 0))
        {
            return i + 2;
        }
    }

    return 0;
}


/* the last space in s[from..to], or to (s[to] is the next byte, or NUL) */
static size_t
wachat_guard_space(const char *s, size_t from, size_t to)
{
    size_t  i;

    for (i = to + 1; i > from; i--) {
        if (s[i - 1] == ' ' || s[i - 1] == '\n') {
            return i - 1;
        }
    }

    return to;
}


char *
wachat_guard_cap(const char *text, size_t max)
{
    int      more;
    char    *out;
    size_t   len, cut;

    len = strlen(text);
    len = wachat_utf8_check(text, len);
    more = 0;

    if (wachat_utf8_count(text, len) > max) {
        cut = wachat_utf8_prefix(text, len, max);
        cut = wachat_guard_sentence(text, cut / 2, cut);

        if (cut == 0 && max > 0) {
            cut = wachat_utf8_prefix(text, len, max - 1);
            cut = wachat_guard_space(text, cut / 2, cut);
            more = 1;
        }

        while (cut > 0 && (text[cut - 1] == ' ' || text[cut - 1] == '\n')) {
            cut--;
        }

        len = cut;
    }

    out = malloc(len + sizeof("\xe2\x80\xa6"));
    if (out == NULL) {
        return NULL;
    }

    memcpy(out, text, len);
    strcpy(out + len, more ? "\xe2\x80\xa6" : "");

    return out;
}
