/*
 * lang: which language a customer's message is in, from its letters
 * alone (see lang.h).
 *
 * Scripts settle most cases: kana is Japanese, hangul Korean, Cyrillic
 * Russian, Arabic, Thai, Hebrew, Greek; Han ideographs are Chinese, told
 * Traditional from Simplified by characters that exist in one form only.
 * Latin text is told apart by its small function words (the, de, der,
 * le, ...), which every message has and no KB needs to list.
 */

#include <string.h>

#include "answer/lang.h"
#include "wachat_utf8.h"


/* characters written one way in Traditional and another in Simplified */
static const char  wachat_lang_hant[] =
    "這個們說時為國會來對過還麼嗎車點錢問題讓開關門買賣單給請謝頁號碼"
    "現貨運費價員務處電話東應該從們發們裡後樣麵與場實驗聯絡幾歡";

static const char  wachat_lang_hans[] =
    "这个们说时为国会来对过还么吗车点钱问题让开关门买卖单给请谢页号码"
    "现货运费价员务处电话东应该从发里后样面与场实验联络几欢";


typedef struct {
    const char  *lang;
    const char  *words;     /* space-separated, with a space at each end */
} wachat_lang_words_t;


static const wachat_lang_words_t  wachat_lang_latin[] = {
    { "en", " the a an is are do does you your i my we our can how what "
            "when where which have has to of for and it this that please "
            "thanks thank hi hello " },
    { "es", " el la los las es son un una que de y en por para con como "
            "cuando donde qué cuánto tienen hola gracias puedo usted ustedes " },
    { "fr", " le la les est sont un une que de et en pour avec comment "
            "quand où quel vous je nous bonjour merci combien " },
    { "de", " der die das ist sind ein eine und zu mit wie wann wo was "
            "sie ich wir haben hallo danke bitte kann " },
    { "pt", " o a os as é são um uma que de e em para com como quando "
            "onde vocês você olá obrigado obrigada posso " },
    { "it", " il lo la gli le è sono un una che di e in per con come "
            "quando dove voi io ciao grazie posso " },
    { NULL, NULL }
};


static int
wachat_lang_in(const char *set, const char *s, size_t n)
{
    const char  *p;

    for (p = set; (p = strstr(p, " ")) != NULL && p[1]; p++) {
        if (strncmp(p + 1, s, n) == 0 && p[1 + n] == ' ') {
            return 1;
        }
    }

    return 0;
}


/* a Han character in one of the two sets: +1 Traditional, -1 Simplified */
static int
wachat_lang_han_side(const char *s, size_t n)
{
    char  ch[WACHAT_UTF8_MAX + 1];

    memcpy(ch, s, n);
    ch[n] = '\0';

    if (strstr(wachat_lang_hant, ch)) {
        return 1;
    }

    return strstr(wachat_lang_hans, ch) ? -1 : 0;
}


/* a letter of a Latin word: ASCII, the apostrophe, Latin-1 and beyond */
static int
wachat_lang_letter(uint32_t cp)
{
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '\''
           || (cp >= 0xC0 && cp != 0xD7 && cp != 0xF7);
}


/* the Latin language whose function words the text uses most */
static const char *
wachat_lang_latin_guess(const char *text, size_t len)
{
    size_t       i, k, l, n, best, score[8];
    char         word[32];
    uint32_t     cp;
    const char  *lang;

    memset(score, 0, sizeof(score));
    k = 0;

    for (i = 0; i <= len; i += n) {
        n = i < len ? wachat_utf8_decode(text + i, len - i, &cp) : 1;

        if (i < len && n > 0 && wachat_lang_letter(cp)) {
            if (k + n < sizeof(word)) {
                memcpy(word + k, text + i, n);

                if (cp >= 'A' && cp <= 'Z') {
                    word[k] = (char) (cp + 32);
                }

                k += n;
            }

            continue;
        }

        n = n ? n : 1;

        word[k < sizeof(word) ? k : sizeof(word) - 1] = '\0';

        for (l = 0; k && wachat_lang_latin[l].lang; l++) {
            score[l] += wachat_lang_in(wachat_lang_latin[l].words, word, k);
        }

        k = 0;
    }

    lang = NULL;
    best = 0;

    for (k = 0; wachat_lang_latin[k].lang; k++) {
        if (score[k] > best) {
            best = score[k];
            lang = wachat_lang_latin[k].lang;
        }
    }

    return lang;
}


const char *
wachat_lang_detect(const char *text, size_t len)
{
    int        han_side;
    size_t     i, n, han, kana, hangul, cyr, arabic, thai, hebrew, greek,
               latin;
    uint32_t   cp;

    han_side = 0;
    han = kana = hangul = cyr = arabic = thai = hebrew = greek = latin = 0;

    for (i = 0; i < len; i += n) {
        n = wachat_utf8_decode(text + i, len - i, &cp);

        if (n == 0) {
            n = 1;
            continue;
        }

        if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF))
        {
            han++;
            han_side += wachat_lang_han_side(text + i, n);

        } else if (cp >= 0x3040 && cp <= 0x30FF) {
            kana++;

        } else if (cp >= 0xAC00 && cp <= 0xD7AF) {
            hangul++;

        } else if (cp >= 0x0400 && cp <= 0x04FF) {
            cyr++;

        } else if (cp >= 0x0600 && cp <= 0x06FF) {
            arabic++;

        } else if (cp >= 0x0E00 && cp <= 0x0E7F) {
            thai++;

        } else if (cp >= 0x0590 && cp <= 0x05FF) {
            hebrew++;

        } else if (cp >= 0x0370 && cp <= 0x03FF) {
            greek++;

        } else if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')
                   || (cp >= 0xC0 && cp <= 0x24F))
        {
            latin++;
        }
    }

    if (kana) {
        return "ja";
    }

    if (hangul) {
        return "ko";
    }

    if (han) {
        return han_side > 0 ? "zh-Hant" : han_side < 0 ? "zh-Hans" : "zh";
    }

    if (cyr) {
        return "ru";
    }

    if (arabic) {
        return "ar";
    }

    if (thai) {
        return "th";
    }

    if (hebrew) {
        return "he";
    }

    if (greek) {
        return "el";
    }

    return latin ? wachat_lang_latin_guess(text, len) : NULL;
}


int
wachat_lang_matches(const char *lang, const char *want)
{
    size_t  n;

    if (lang == NULL || want == NULL) {
        return 0;
    }

    n = strlen(want);

    /* "zh" asks for every Chinese; "zh-Hant" for that script only */
    return strncmp(lang, want, n) == 0 && (lang[n] == '\0' || lang[n] == '-');
}
