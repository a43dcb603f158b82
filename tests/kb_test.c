/*
 * Unit test of the knowledge base (wachatd/answer/kb.h), TAP on stdout.
 *
 * Run from the top of the repository (t/wachatd/kb_unit.t does): it reads
 * conf/kb.md and the bad KBs in t/fixtures/kb/.  The query tables below
 * are also the calibration of WACHAT_KB_DEFAULT_MIN_SCORE.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAP_MAIN

#include "answer/kb.h"
#include "kb_test.h"
#include "tap.h"
#include "wachat_utf8.h"


#define SAMPLE    "conf/kb.md"
#define FIX       "t/fixtures/kb/"
#define MIN       WACHAT_KB_DEFAULT_MIN_SCORE


static char  err[1024];


/* helpers */

static wachat_kb_t *
parse(const char *text)
{
    return wachat_kb_parse(text, strlen(text), "mem", err, sizeof(err));
}


static const char *
load_error(const char *path)
{
    wachat_kb_t  *kb;

    kb = wachat_kb_load(path, err, sizeof(err));

    if (kb != NULL) {
        wachat_kb_free(kb);
        return "(loaded)";
    }

    return err;
}


static const char *
top(const wachat_kb_t *kb, const char *query, double *score)
{
    size_t           n;
    wachat_kb_hit_t  hits[3];

    n = wachat_kb_search(kb, query, strlen(query), hits, 3);
    *score = n ? hits[0].score : 0;

    return n ? hits[0].entry->id : "(none)";
}


/* line n (1-based) of a file, in buf */
static const char *
file_line(const char *path, unsigned n, char *buf, size_t size)
{
    FILE      *f;
    unsigned   i;

    buf[0] = '\0';
    f = fopen(path, "r");

    if (f == NULL) {
        return buf;
    }

    for (i = 0; i < n; i++) {
        if (fgets(buf, (int) size, f) == NULL) {
            buf[0] = '\0';
            break;
        }
    }

    fclose(f);

    return buf;
}


static int
starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}


/* the sample */

/* every entry within WhatsApp's limits; button links resolve */
static void
sample_limits(const wachat_kb_t *kb)
{
    int                       good;
    size_t                    i, b;
    const wachat_kb_entry_t  *en, *t;

    ok(wachat_kb_count(kb) == 20, "sample: 20 entries (%zu)",
       wachat_kb_count(kb));

    good = 1;

    for (i = 0; i < wachat_kb_count(kb); i++) {
        en = wachat_kb_entry(kb, i);

        good &= en->nbuttons <= WACHAT_KB_MAX_BUTTONS
                && en->answer[0] != '\0'
                && wachat_utf8_count(en->answer, strlen(en->answer))
                   <= (en->nbuttons ? 1024u : 4096u)
                && wachat_utf8_count(en->id, strlen(en->id)) <= 200
                && wachat_kb_get(kb, en->id) == en;

        for (b = 0; b < en->nbuttons; b++) {
            t = wachat_kb_get(kb, en->buttons[b].id);
            good &= wachat_utf8_count(en->buttons[b].title,
                                         strlen(en->buttons[b].title)) <= 20
                    && (t != NULL
                        || strcmp(en->buttons[b].id, "live_agent") == 0);
        }
    }

    ok(good, "sample: every entry within WhatsApp's limits, links resolve");
}


/* the entry "hours", field by field; 0 when it is missing */
static int
sample_hours(const wachat_kb_t *kb)
{
    char                      line[512];
    const wachat_kb_entry_t  *en;

    en = wachat_kb_get(kb, "hours");
    ok(en != NULL, "sample: entry hours");

    if (en == NULL) {
        return 0;
    }

    is_str(en->question, "What are your opening hours?", "hours: question");
    ok(en->nalso == 5, "hours: 5 Also phrasings (%zu)", en->nalso);
    is_str(en->nalso > 2 ? en->also[2] : NULL, "what time do you close",
           "hours: Also split on | and trimmed");
    is_str(en->answer,
           "We are open every day except public holidays:\n"
           "\n"
           "- Monday to Friday: 7:30 to 19:00\n"
           "- Saturday and Sunday: 8:00 to 18:00\n"
           "\n"
           "The kitchen stops taking cake orders at 17:00.",
           "hours: answer keeps lines and paragraphs, buttons removed");
    ok(en->nbuttons == 2, "hours: 2 buttons");
    is_str(en->buttons[0].title, "Where to find us", "hours: button 1 title");
    is_str(en->buttons[0].id, "location", "hours: button 1 id");
    is_str(en->buttons[1].title, "Talk to a person", "hours: button 2 title");
    is_str(en->buttons[1].id, "live_agent", "hours: button 2 id");
    ok(starts(file_line(SAMPLE, en->line, line, sizeof(line)),
              "## What are your opening hours?"),
       "hours: line %u is its heading", en->line);
    ok(starts(file_line(SAMPLE, en->button_line, line, sizeof(line)),
              "[Where to find us](#location)"),
       "hours: button_line %u is the button line", en->button_line);

    return 1;
}


/* buttons of other entries; ids made from questions */
static void
sample_ids(const wachat_kb_t *kb)
{
    const wachat_kb_entry_t  *en;

    en = wachat_kb_get(kb, "cakes-zh");
    ok(en != NULL && en->nbuttons == 1
       && strcmp(en->buttons[0].title, "真人客服") == 0
       && strcmp(en->buttons[0].id, "live_agent") == 0,
       "cakes-zh: one Chinese button to live_agent");

    en = wachat_kb_get(kb, "location");
    ok(en != NULL && en->nbuttons == 0 && en->button_line == 0,
       "location: no buttons");

    ok(wachat_kb_get(kb, "what-payment-methods-do-you-accept") != NULL,
       "slug id of an English question");
    ok(wachat_kb_get(kb, "可以用什麼方式付款") != NULL,
       "slug id of a Chinese question keeps the characters");
    ok(wachat_kb_get(kb, "do-you-have-wi-fi") != NULL,
       "slug id: punctuation runs become one -");
    ok(wachat_kb_get(kb, "live_agent") == NULL, "live_agent is no entry");
    ok(wachat_kb_get(kb, "nope") == NULL && wachat_kb_get(kb, NULL) == NULL,
       "unknown id: NULL");
}


static void
test_sample_entries(const wachat_kb_t *kb)
{
    sample_limits(kb);

    /* as before the split: without "hours" the rest is not tried */
    if (sample_hours(kb)) {
        sample_ids(kb);
    }
}


typedef struct {
    const char  *query;
    const char  *id;
} query_t;


static const query_t  english[] = {
    { "hours?", "hours" },
    { "What are your opening hours?", "hours" },
    { "when are you open", "hours" },
    { "opening times", "hours" },
    { "What time do you open on Saturday?", "hours" },
    { "Do you deliver to Kowloon?", "delivery" },
    { "how much is delivery", "delivery" },
    { "Where are you?", "location" },
    { "Where can I park?", "location" },
    { "wi-fi password", "do-you-have-wi-fi" },
    { "Do you have WIFI?", "do-you-have-wi-fi" },
    { "can I pay with Octopus?", "what-payment-methods-do-you-accept" },
    { "I'd like to order a birthday cake", "custom-cakes" },
    { "price list", "cake-prices" },
    { "how much is an 8 inch chocolate cake", "cake-prices" },
    { "is the cake gluten free?", "dietary" },
    { "vegan", "dietary" },
    { "The cake was damaged", "refunds" },
    { "I want to cancel my order", "refunds" },
    { "can I book a table for 8", "booking" },
    { "student discount?", "loyalty" },
    { "I want to speak to a human", "contact" },
};

static const query_t  chinese[] = {
    { "營業時間", "hours-zh" },
    { "你們的營業時間是什麼", "hours-zh" },
    { "你們幾點開門？", "hours-zh" },
    { "营业时间", "hours-zh" },
    { "運費", "shipping-zh" },
    { "送貨要多少錢", "shipping-zh" },
    { "退貨", "refunds-zh" },
    { "我想退款", "refunds-zh" },
    { "可以用信用卡付款嗎", "可以用什麼方式付款" },
    { "有月餅嗎？", "mooncakes" },
    { "訂位", "booking-zh" },
    { "地址", "location-zh" },
    { "生日蛋糕", "cakes-zh" },
};

static const query_t  mixed[] = {
    { "有wifi嗎", "do-you-have-wi-fi" },
    { "ＷｉＦｉ password", "do-you-have-wi-fi" },
    { "真人客服 please", "contact" },
    { "Octopus 八達通", "可以用什麼方式付款" },
};

static const char  *const  nonsense[] = {
    "xyzzy", "asdf qwerty", "", "   ", "?!", "hello", "how are you",
    "你好", "do you sell dog food", "tell me a joke", "\xff\xfe\xc0\xaf",
    "\xf0\x9f\x8e\x82\xf0\x9f\x8e\x82", "ok thanks",
};


static void
test_queries(const wachat_kb_t *kb, const char *what, const query_t *q,
    size_t n)
{
    size_t       i;
    double       score;
    const char  *id;

    for (i = 0; i < n; i++) {
        id = top(kb, q[i].query, &score);

        if (!ok(strcmp(id, q[i].id) == 0 && score >= MIN,
                "%s: \"%s\" -> %s (%.2f)", what, q[i].query, q[i].id, score))
        {
            diag("got %s at %.2f", id, score);
        }
    }
}


static void
test_search(const wachat_kb_t *kb)
{
    int              good;
    size_t           i, n;
    double           score;
    const char      *id;
    wachat_kb_hit_t  hits[20];

    test_queries(kb, "en", english, sizeof(english) / sizeof(english[0]));
    test_queries(kb, "zh", chinese, sizeof(chinese) / sizeof(chinese[0]));
    test_queries(kb, "mixed", mixed, sizeof(mixed) / sizeof(mixed[0]));

    for (i = 0; i < sizeof(nonsense) / sizeof(nonsense[0]); i++) {
        id = top(kb, nonsense[i], &score);
        ok(score < MIN, "below %.2f: \"%s\" (%s %.2f)", MIN, nonsense[i],
           id, score);
    }

    (void) top(kb, "hours?", &score);
    ok(score >= 0.8, "\"hours?\" is a near full match (%.3f)", score);

    n = wachat_kb_search(kb, "cake", 4, hits, 20);
    good = n > 3;

    for (i = 0; i < n; i++) {
        good &= hits[i].score > 0 && hits[i].score <= 1
                && hits[i].bm25 > 0
                && (i == 0 || hits[i - 1].score >= hits[i].score);
    }

    ok(good, "\"cake\": %zu hits, scores in (0, 1], best first", n);

    ok(wachat_kb_search(kb, "cake", 4, hits, 1) == 1
       && strcmp(hits[0].entry->id, top(kb, "cake", &score)) == 0,
       "max 1: the best hit only");
    ok(wachat_kb_search(kb, "cake", 4, hits, 0) == 0, "max 0: nothing");
    (void) top(kb, "hours?", &score);
    ok(wachat_kb_search(kb, "hours?xyzzy", 6, hits, 3) > 0
       && hits[0].score == score, "qlen bounds the query");
    ok(wachat_kb_search(NULL, "cake", 4, hits, 3) == 0
       && wachat_kb_search(kb, NULL, 0, hits, 3) == 0, "NULL kb or query");
}


/* load errors */

typedef struct {
    const char  *file;
    const char  *message;
} bad_t;


static const bad_t  bad[] = {
    { "too_many_buttons.md", "6: 4 buttons, at most 3" },
    { "title_too_long.md",
      "6: button title \"Talk to a real person\" is 21 characters, "
      "at most 20" },
    { "title_too_long_chinese.md",
      "6: button title \"真人客服真人客服真人客服真人客服真人客服喔\" is 21 "
      "characters, at most 20" },
    { "id_too_long.md", "3: id is 201 characters, at most 200" },
    { "button_id_too_long.md",
      "6: button \"More\": id is 201 characters, at most 200" },
    { "button_invalid_id.md", "6: button \"Prices\": invalid id \"a{b\"" },
    { "missing_link.md",
      "6: button \"See prices\" links to missing entry \"prices\"" },
    { "duplicate_id.md", "6: duplicate id \"hours\", first at line 3" },
    { "duplicate_slug.md",
      "6: duplicate id \"what-are-your-opening-hours\" made from the "
      "question, first at line 3: add {#id}" },
    { "empty_answer.md", "3: entry \"hours\" has no answer" },
    { "empty_answer_buttons_only.md", "3: entry \"hours\" has no answer" },
    { "answer_too_long_buttons.md",
      "3: answer of \"long\" is 1025 characters, at most 1024 with "
      "buttons" },
    { "answer_too_long_text.md",
      "3: answer of \"long\" is 4097 characters, at most 4096" },
    { "invalid_utf8.md", "5: invalid UTF-8" },
    { "overlong_utf8.md", "4: invalid UTF-8" },
    { "surrogate_utf8.md", "4: invalid UTF-8" },
    { "nul_byte.md", "4: NUL byte" },
    { "empty.md", "1: empty file" },
    { "no_entries.md",
      "1: no entries: an entry starts with a \"## \" heading" },
    { "reserved_id.md",
      "3: id \"live_agent\" is reserved for the handoff button" },
    { "buttons_not_last.md",
      "6: a line of [Title](#id) buttons must be the last line of the "
      "entry" },
    { "mixed_links.md",
      "6: a line of buttons mixes #id links and other links" },
    { "invalid_id.md",
      "3: invalid id \"opening hours\": no spaces or ()[]{}#" },
    { "empty_id.md", "3: empty id" },
    { "empty_question.md", "3: empty question" },
    { "duplicate_button_title.md", "6: duplicate button title \"Help\"" },
    { "duplicate_button_id.md", "6: duplicate button id \"live_agent\"" },
    { "empty_button_title.md", "6: empty button title" },
};


static void
test_errors(void)
{
    char                      want[1024], path[256], *big;
    size_t                    i;
    wachat_kb_t              *kb;
    const wachat_kb_entry_t  *en;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), FIX "%s", bad[i].file);
        snprintf(want, sizeof(want), "%s:%s", path, bad[i].message);
        is_str(load_error(path), want, bad[i].file);
    }

    is_str(load_error(FIX "does_not_exist.md"),
           FIX "does_not_exist.md: cannot read: No such file or directory",
           "missing file");
    is_str(load_error("t/fixtures/kb"),
           "t/fixtures/kb: cannot read: Is a directory", "a directory");

    /* the limits themselves are fine */

    kb = wachat_kb_load(FIX "title_20_chinese.md", err, sizeof(err));
    en = wachat_kb_entry(kb, 0);
    ok(en != NULL && en->nbuttons == 1
       && wachat_utf8_count(en->buttons[0].title,
                               strlen(en->buttons[0].title)) == 20
       && strlen(en->buttons[0].title) == 60,
       "a 20-character Chinese title (60 bytes) is fine");
    wachat_kb_free(kb);

    kb = wachat_kb_load(FIX "id_200.md", err, sizeof(err));
    ok(kb != NULL && wachat_kb_count(kb) == 1, "a 200-character id is fine");
    wachat_kb_free(kb);

    kb = wachat_kb_load(FIX "answer_1024_buttons.md", err, sizeof(err));
    en = wachat_kb_entry(kb, 0);
    ok(en != NULL && strlen(en->answer) == 3072,
       "1024 Chinese characters (3072 bytes) with buttons are fine");
    wachat_kb_free(kb);

    kb = wachat_kb_load(FIX "answer_4096_text.md", err, sizeof(err));
    en = wachat_kb_entry(kb, 0);
    ok(en != NULL && strlen(en->answer) == 4096,
       "4096 characters on two lines without buttons are fine");
    wachat_kb_free(kb);

    kb = wachat_kb_parse("## Q {#q}\n[A](#x)\n", 18, "memory", err,
                         sizeof(err));
    is_str(kb ? "(loaded)" : err, "memory:1: entry \"q\" has no answer",
           "wachat_kb_parse names the buffer in messages");

    ok(wachat_kb_parse("## Q\n", 5, "x", NULL, 0) == NULL,
       "no error buffer: still refused");

    big = malloc(WACHAT_KB_MAX_FILE + 1);
    if (big != NULL) {
        memset(big, 'a', WACHAT_KB_MAX_FILE + 1);
        memcpy(big, "## Q\n", 5);
        kb = wachat_kb_parse(big, WACHAT_KB_MAX_FILE + 1, "big", err,
                             sizeof(err));
        is_str(kb ? "(loaded)" : err, "big: larger than 4194304 bytes",
               "more than 4 MiB is refused");
        wachat_kb_free(kb);
        free(big);
    }
}


/* format details, from memory */

static const char *
slug_of(const char *question)
{
    char                      text[512];
    static char               id[sizeof(err)];
    wachat_kb_t              *kb;
    const wachat_kb_entry_t  *en;

    snprintf(text, sizeof(text), "## %s\nAn answer.\n", question);
    kb = parse(text);
    en = wachat_kb_entry(kb, 0);
    snprintf(id, sizeof(id), "%s", en ? en->id : err);
    wachat_kb_free(kb);

    return id;
}


static void
test_format(void)
{
    char                      hash[16];
    const char               *id;
    wachat_kb_t              *kb;
    const wachat_kb_entry_t  *en;

    kb = parse("\xef\xbb\xbf# T\r\n\r\n## Q one? {#one}\r\nAlso: a | b\r\n"
               "Answer.\r\n\r\n[Two](#two)\r\n## Q two {#two}\r\nMore.");
    en = wachat_kb_get(kb, "one");
    ok(en != NULL && en->nalso == 2 && strcmp(en->answer, "Answer.") == 0
       && en->nbuttons == 1 && en->line == 3
       && strcmp(wachat_kb_get(kb, "two")->answer, "More.") == 0,
       "BOM, CRLF, no final newline, a forward button link");
    wachat_kb_free(kb);

    kb = parse("## Q {#q}\n\nAlso: a|b\nalso\xef\xbc\x9a c ｜ | d \n\n"
               "First.\nAlso: more text\n");
    en = wachat_kb_entry(kb, 0);
    ok(en != NULL && en->nalso == 4 && strcmp(en->also[2], "c") == 0
       && strcmp(en->also[3], "d") == 0
       && strcmp(en->answer, "First.\nAlso: more text") == 0,
       "Also lines before the answer only; any case, fullwidth : and ｜");
    wachat_kb_free(kb);

    kb = parse("## Q {#q}\n\n\nA\n\n\n\n  B  \n### Sub\nC\t\n\n\n");
    en = wachat_kb_entry(kb, 0);
    is_str(en ? en->answer : err, "A\n\n  B\n### Sub\nC",
           "blank runs made one, trailing spaces dropped, ### is text");
    wachat_kb_free(kb);

    kb = parse("Intro [x](#nowhere)\nAlso: nope\n# Title\n## Q {#q}\n"
               "See [prices](#p) for more.\n[Menu](https://x.example/m)\n");
    en = wachat_kb_entry(kb, 0);
    ok(en != NULL && wachat_kb_count(kb) == 1 && en->nbuttons == 0
       && strcmp(en->answer, "See [prices](#p) for more.\n"
                             "[Menu](https://x.example/m)") == 0,
       "preamble ignored; links in text and external links stay text");
    wachat_kb_free(kb);

    kb = parse("## 營業時間 {#營業時間}\n我們每天營業。\n"
               "  [營業時間](#營業時間)   [真人](#live_agent)  \n");
    en = wachat_kb_get(kb, "營業時間");
    ok(en != NULL && en->nbuttons == 2
       && strcmp(en->buttons[0].id, "營業時間") == 0
       && strcmp(en->buttons[1].title, "真人") == 0,
       "Chinese ids; spaces around buttons");
    wachat_kb_free(kb);

    is_str(slug_of("What's new?"), "whats-new", "slug: apostrophe dropped");
    is_str(slug_of("iPhone 15 手機殼有貨嗎？"), "iphone-15-手機殼有貨嗎",
           "slug: mixed English and Chinese");
    is_str(slug_of("Ｗｉ－Ｆｉ？"), "wi-fi", "slug: fullwidth folded");
    is_str(slug_of("Größe & Café"), "größe-café", "slug: Latin-1 lowercased");

    snprintf(hash, sizeof(hash), "%s", slug_of("??? !!!"));
    ok(strlen(hash) == 10 && starts(hash, "q-")
       && strcmp(hash, slug_of("??? !!!")) == 0
       && strcmp(hash, slug_of("?")) != 0,
       "slug: stable hash id when nothing is left (%s)", hash);

    id = slug_of("How long does it take to get a replacement battery for an "
                 "older phone model?");
    ok(strlen(id) <= 60 && id[strlen(id) - 1] != '-',
       "slug: cut at 60 characters (%s)", id);

    ok(wachat_utf8_count("營業 ok", 9) == 5
       && wachat_utf8_count("\xff\xe5\x96", 3) == 3,
       "wachat_utf8_count counts code points, bad bytes one each");
}


static void
test_tokens(void)
{
    size_t        i;
    double        score;
    const char   *id;
    wachat_kb_t  *kb;

    static const query_t  q[] = {
        { "phone case", "cases" },
        { "PHONE CASES!!", "cases" },
        { "boxes", "cases" },
        { "shipped", "shipping" },
        { "ships", "shipping" },
        { "wifi", "wifi" },
        { "wi fi", "wifi" },
        { "ＷＩＦＩ", "wifi" },
        { "Ελληνικά", "greek" },
        { "手機殼", "cases-zh" },
        { "有冇手機殼", "cases-zh" },
    };

    kb = parse("## Do you sell phone cases? {#cases}\nAlso: gift box\n"
               "Yes.\n"
               "## How does shipping work? {#shipping}\nBy post.\n"
               "## Is there Wi-Fi? {#wifi}\nYes.\n"
               "## ΕΛΛΗΝΙΚΆ {#greek}\nΝαι.\n"
               "## 有手機殼嗎？ {#cases-zh}\n有。\n");

    if (!ok(kb != NULL, "token KB loads")) {
        diag("%s", err);
        return;
    }

    for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        id = top(kb, q[i].query, &score);
        ok(strcmp(id, q[i].id) == 0 && score >= MIN,
           "tokens: \"%s\" -> %s (%.2f)", q[i].query, q[i].id, score);
    }

    wachat_kb_free(kb);
}


int
main(void)
{
    wachat_kb_t  *kb;

    kb = wachat_kb_load(SAMPLE, err, sizeof(err));

    if (ok(kb != NULL, "%s loads", SAMPLE)) {
        test_sample_entries(kb);
        test_search(kb);

    } else {
        diag("%s", err);
    }

    wachat_kb_free(kb);

    test_errors();
    test_format();
    test_tokens();
    test_lang();
    test_precision();
    test_thesaurus();
    test_vec();
    test_suggest();

    printf("1..%d\n", ntests);

    return nfailed ? 1 : 0;
}
