/*
 * Unit test of the language of a message (wachatd/answer/lang.h), TAP on
 * stdout: scripts, Traditional and Simplified Han, Latin languages by
 * their small words, nothing to tell, and what --lang matches.
 */

#include <stdio.h>
#include <string.h>

#define TAP_MAIN

#include "answer/lang.h"
#include "tap.h"


static void
detects(const char *text, const char *want)
{
    const char  *got;

    got = wachat_lang_detect(text, strlen(text));

    if (want == NULL) {
        ok(got == NULL, "nothing to tell: \"%s\" (got %s)", text,
           got ? got : "NULL");
        return;
    }

    is_str(got ? got : "NULL", want, text);
}


int
main(void)
{
    detects("What are your opening hours?", "en");
    detects("hw much 2 rent a bike for the day??", "en");
    detects("¿Cuánto cuesta el envío a Madrid?", "es");
    detects("Bonjour, quand est-ce que vous ouvrez ?", "fr");
    detects("Wann haben Sie morgen geöffnet?", "de");
    detects("Olá, vocês entregam em Lisboa?", "pt");
    detects("Ciao, dove siete?", "it");
    detects("你們的營業時間是什麼？", "zh-Hant");
    detects("你们几点开门？", "zh-Hans");
    detects("營業時間", "zh-Hant");
    detects("自行车", "zh-Hans");
    detects("好", "zh");
    detects("営業時間はいつですか？", "ja");
    detects("영업시간이 어떻게 되나요?", "ko");
    detects("Сколько стоит доставка?", "ru");
    detects("كم سعر التوصيل؟", "ar");
    detects("12345 !!", NULL);
    detects("\xf0\x9f\x91\x8d", NULL);
    detects("xyzzy plugh", NULL);
    detects("ab\xff\xfe cd the", "en");

    ok(wachat_lang_matches("zh-Hant", "zh"), "zh matches zh-Hant");
    ok(wachat_lang_matches("zh-Hant", "zh-Hant"), "zh-Hant matches itself");
    ok(!wachat_lang_matches("zh-Hant", "zh-Hans"), "zh-Hans does not");
    ok(!wachat_lang_matches("en", "e"), "a prefix is not a language");
    ok(!wachat_lang_matches(NULL, "en"), "no language matches nothing");

    printf("1..%d\n", ntests);

    return nfailed ? 1 : 0;
}
