/*
 * entry_title: the first name the KB has for an entry that fits a button
 * title (see entry_title.h).
 */

#include <stdlib.h>
#include <string.h>

#include "answer/entry_title.h"
#include "answer/lang.h"
#include "wachat_utf8.h"


/* the phrase without the question mark or full stop that ends it */
static size_t
wachat_title_len(const char *s)
{
    size_t  len;

    len = strlen(s);

    while (len && (s[len - 1] == '?' || s[len - 1] == '.'
                   || s[len - 1] == ' '))
    {
        len--;
    }

    if (len >= 3 && strncmp(s + len - 3, "\xef\xbc\x9f", 3) == 0) {
        len -= 3;                           /* ？ */
    }

    return len;
}


static int
wachat_title_cjk(const char *s)
{
    size_t    len, n;
    uint32_t  cp;

    for (len = strlen(s); len; s += n, len -= n) {
        n = wachat_utf8_decode(s, len, &cp);
        n = n ? n : 1;

        if (cp >= 0x2e80 && cp <= 0x9fff) {
            return 1;
        }
    }

    return 0;
}


/*
 * The phrase suits a customer writing lang: of the same language, or,
 * for one that tells none (a short "rental prices" has none of the small
 * words lang.c goes by), of the same script.
 */
static int
wachat_title_in(const char *s, const char *lang)
{
    char         tag[5];
    const char  *l;

    if (lang == NULL || strlen(lang) < 2) {
        return 1;
    }

    l = wachat_lang_detect(s, strlen(s));

    if (l != NULL) {
        return strncmp(l, lang, 2) == 0;
    }

    tag[0] = '|';
    tag[1] = lang[0];
    tag[2] = lang[1];
    tag[3] = '|';
    tag[4] = '\0';

    return !wachat_title_cjk(s) && strstr("|en|es|fr|de|pt|it|", tag) != NULL;
}


/* the first word of s has a capital letter */
static int
wachat_title_named(const char *s)
{
    for ( /* void */ ; *s && *s != ' '; s++) {
        if (*s >= 'A' && *s <= 'Z') {
            return 1;
        }
    }

    return 0;
}


/* s[0..len) cut at 20 characters, at a word when there is one, "..." */
static char *
wachat_title_make(const char *s, size_t len)
{
    char    *t;
    size_t   cut, sp;

    cut = wachat_utf8_prefix(s, len, WACHAT_KB_MAX_TITLE);

    if (cut < len) {
        cut = wachat_utf8_prefix(s, len, WACHAT_KB_MAX_TITLE - 1);

        for (sp = cut; sp > cut / 2 && s[sp] != ' '; sp--) {
            /* void */
        }

        cut = s[sp] == ' ' ? sp : cut;
    }

    t = malloc(cut + 4);

    if (t) {
        memcpy(t, s, cut);
        strcpy(t + cut, cut < len ? "\xe2\x80\xa6" : "");

        /*
         * an Also phrasing is written as a customer would: "Rental
         * prices"; a first word with a capital of its own is a name
         * ("iPhone repair", "eBay gift cards") and keeps its case
         */
        if (t[0] >= 'a' && t[0] <= 'z' && !wachat_title_named(t)) {
            t[0] = (char) (t[0] - 'a' + 'A');
        }
    }

    return t;
}


char *
wachat_entry_title(const wachat_kb_entry_t *e, const char *lang)
{
    size_t       i, len;
    const char  *s, *first;

    first = NULL;

    /* the heading, then each Also phrasing: the first that fits whole */
    for (i = 0; i <= e->nalso; i++) {
        s = i == 0 ? e->question : e->also[i - 1];

        if (!wachat_title_in(s, lang)) {
            continue;
        }

        len = wachat_title_len(s);

        if (len && wachat_utf8_count(s, len) <= WACHAT_KB_MAX_TITLE) {
            return wachat_title_make(s, len);
        }

        if (first == NULL && len) {
            first = s;              /* "?" alone: not a name to cut */
        }
    }

    s = first ? first : e->question;
    len = wachat_title_len(s);

    /* a heading of punctuation alone: the id names it */
    return len ? wachat_title_make(s, len)
               : wachat_title_make(e->id, strlen(e->id));
}
