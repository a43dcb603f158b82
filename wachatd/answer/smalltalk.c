/*
 * smalltalk: greetings and thanks, which deserve a friendly word rather
 * than "I'm not sure" (see smalltalk.h).
 *
 * A message is small talk only when it is nothing else: the greeting or
 * the thanks alone, with punctuation, emoji and a "there" or "team" after
 * it.  "hi, what are your opening hours?" is a question.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/entry_title.h"
#include "answer/lang.h"
#include "answer/smalltalk.h"
#include "wachat_utf8.h"


#define WACHAT_TALK_MAX  64                 /* bytes looked at */


/* each between "|": the whole message, as normalised */
static const char  wachat_talk_greetings[] =
    "|hi|hello|hey|hiya|yo|good morning|good afternoon|good evening"
    "|morning|hola|buenos dias|buenas|buenas tardes|bonjour|salut|bonsoir"
    "|hallo|guten tag|moin|servus|ola|olá|oi|bom dia|boa tarde|ciao"
    "|buongiorno|你好|您好|哈囉|哈喽|嗨|早安|早晨|午安|大家好|こんにちは"
    "|안녕하세요|привет|здравствуйте|";

static const char  wachat_talk_thanks[] =
    "|thanks|thank you|thx|ty|thanks a lot|thank you very much|many thanks"
    "|cheers|gracias|muchas gracias|merci|merci beaucoup|danke|danke schön"
    "|vielen dank|obrigado|obrigada|grazie|grazie mille|謝謝|谢谢|多謝|多谢"
    "|唔該|唔该|感謝|感谢|ありがとう|감사합니다|спасибо|";

/* words that may follow a greeting or thanks without changing it */
static const char  wachat_talk_tails[] =
    " there| all| everyone| team| guys| so much| again| 👋| 🙏| 😊|";


/*
 * lower-case ASCII, one space between words, no punctuation or symbols:
 * "Hi there!! 👋" is "hi there"
 */
static size_t
wachat_talk_normalise(const char *text, char *out, size_t size)
{
    size_t    i, n, k;
    uint32_t  cp;

    k = 0;

    for (i = 0; text[i] && i < WACHAT_TALK_MAX * 4; i += n) {
        n = wachat_utf8_decode(text + i, strlen(text + i), &cp);

        if (n == 0) {
            return 0;
        }

        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')
            || (cp >= 0xC0 && cp < 0x2000) || (cp >= 0x3040 && cp <= 0x9FFF)
            || (cp >= 0xAC00 && cp <= 0xD7AF))
        {
            if (k + n + 1 >= size) {
                return 0;                   /* too long to be small talk */
            }

            memcpy(out + k, text + i, n);

            if (cp >= 'A' && cp <= 'Z') {
                out[k] = (char) (cp + 32);
            }

            k += n;

        } else if (k && out[k - 1] != ' ' && k + 2 < size) {
            out[k++] = ' ';
        }
    }

    while (k && out[k - 1] == ' ') {
        k--;
    }

    out[k] = '\0';

    return k;
}


static int
wachat_talk_in(const char *set, const char *s, size_t n)
{
    const char  *p;

    for (p = set; (p = strchr(p, '|')) != NULL && p[1]; p++) {
        if (strncmp(p + 1, s, n) == 0 && p[1 + n] == '|') {
            return 1;
        }
    }

    return 0;
}


/* the message without one allowed tail word */
static size_t
wachat_talk_untail(const char *s, size_t n)
{
    const char  *t, *e;
    size_t       tn;

    for (t = wachat_talk_tails; (e = strchr(t, '|')) != NULL; t = e + 1) {
        tn = (size_t) (e - t);

        if (tn < n && strncmp(s + n - tn, t, tn) == 0) {
            return n - tn;
        }
    }

    return n;
}


wachat_smalltalk_e
wachat_smalltalk(const char *text)
{
    char    norm[WACHAT_TALK_MAX * 4];
    size_t  n, m;

    if (text == NULL) {
        return WACHAT_SMALLTALK_NONE;
    }

    n = wachat_talk_normalise(text, norm, sizeof(norm));

    if (n == 0) {
        return WACHAT_SMALLTALK_NONE;
    }

    for (m = n; ; m = wachat_talk_untail(norm, m)) {
        if (wachat_talk_in(wachat_talk_greetings, norm, m)) {
            return WACHAT_SMALLTALK_GREETING;
        }

        if (wachat_talk_in(wachat_talk_thanks, norm, m)) {
            return WACHAT_SMALLTALK_THANKS;
        }

        if (wachat_talk_untail(norm, m) == m) {
            return WACHAT_SMALLTALK_NONE;
        }
    }
}


int
wachat_smalltalk_menu(const wachat_kb_t *kb, const char *text,
    const char *lang, wachat_reply_t *reply)
{
    int                       pass;
    char                     *title;
    size_t                    i, n, k;
    const char               *l;
    const wachat_kb_entry_t  *e;

    memset(reply, 0, sizeof(wachat_reply_t));

    reply->text = strdup(text);
    snprintf(reply->source, sizeof(reply->source), "greeting");

    if (reply->text == NULL) {
        return -1;
    }

    n = wachat_kb_count(kb);

    /* first the entries in the customer's language, then any */
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < n && reply->nbuttons < WACHAT_KB_MAX_BUTTONS; i++) {
            e = wachat_kb_entry(kb, i);
            l = wachat_lang_detect(e->question, strlen(e->question));

            if (pass == 0 && (lang == NULL || l == NULL
                              || strncmp(l, lang, 2) != 0))
            {
                continue;
            }

            for (k = 0; k < reply->nbuttons; k++) {
                if (strcmp(reply->button_id[k], e->id) == 0) {
                    break;
                }
            }

            if (k < reply->nbuttons) {
                continue;
            }

            title = wachat_entry_title(e, lang);
            if (title == NULL) {
                wachat_answer_free(reply);
                return -1;
            }

            /* headings cut alike: Graph refuses two buttons of one title */
            if (!wachat_answer_title_new(reply, reply->nbuttons, title)) {
                free(title);
                continue;
            }

            k = reply->nbuttons;
            reply->button_title[k] = title;
            reply->button_id[k] = strdup(e->id);
            reply->nbuttons++;

            if (reply->button_id[k] == NULL) {
                wachat_answer_free(reply);
                return -1;
            }
        }

        if (reply->nbuttons) {
            break;                          /* the language had some */
        }
    }

    return 1;
}
