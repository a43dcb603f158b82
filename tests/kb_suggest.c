/*
 * The fallback's suggestions (answer.h, kb_suggestions) and the titles
 * entries get as buttons (entry_title.h), the greeting's menu
 * (smalltalk.h), and the fallback's texts per language (answer_preview.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/answer.h"
#include "answer/answer_preview.h"
#include "answer/entry_title.h"
#include "answer/kb.h"
#include "answer/smalltalk.h"
#include "kb_test.h"
#include "lib/config.h"
#include "tap.h"
#include "wachat_utf8.h"


#define SUGGEST_KB                                                            \
    "## How much does it cost to rent a bike for a day? {#prices}\n"          \
    "Also: what does a whole day of bike hire cost | rental prices"           \
    " | \xe7\xa7\x9f\xe8\xbb\x8a\xe5\x83\xb9\xe9\x8c\xa2\n"    /* 租車價錢 */   \
    "\n"                                                                      \
    "City bike: HK$40 per hour, HK$150 per day.\n"                            \
    "\n"                                                                      \
    "## Do you repair bikes? {#repair}\n"                                     \
    "Also: bike repair | fix a flat tyre\n"                                   \
    "\n"                                                                      \
    "Yes, repairs from HK$50.\n"                                              \
    "\n"                                                                      \
    "## What are your opening hours? {#hours}\n"                              \
    "Also: when are you open\n"                                               \
    "\n"                                                                      \
    "Every day 9:00 to 19:00.\n"                                              \
    "\n"                                                                      \
    "## Can I ride my own bike on the river track with a child seat? "        \
    "{#track}\n"                                                              \
    "\n"                                                                      \
    "Yes, the track is open to all bikes.\n"                                  \
    "\n"                                                                      \
    "## ? {#odd}\n"                                                           \
    "\n"                                                                      \
    "A heading of punctuation alone.\n"                                       \
    "\n"                                                                      \
    "## ?? {#week}\n"                                                         \
    "Also: ? | what does it cost to hire a bike for a whole week\n"           \
    "\n"                                                                      \
    "HK$600 a week.\n"


static const char  suggest_kb[] = SUGGEST_KB;


/* and an entry about reaching a person, titled as the person button */
static const char  person_kb[] = SUGGEST_KB
    "\n"
    "## Can I talk to a person? {#human}\n"
    "Also: talk to a person\n"
    "\n"
    "Yes: tap \"Talk to a person\" below.\n";


/* before them, two entries whose headings are cut to the same title */
static const char  menu_kb[] =
    "## How much does it cost to hire a bike for a day? {#day}\n"
    "\n"
    "HK$150 a day.\n"
    "\n"
    "## How much does it cost to hire a bike for a week? {#weekly}\n"
    "\n"
    "HK$600 a week.\n"
    "\n"
    SUGGEST_KB;


static void
test_titles(const wachat_kb_t *kb)
{
    char  *t;

    t = wachat_entry_title(wachat_kb_get(kb, "hours"), "en");
    ok(t && strcmp(t, "What are your opening hours") != 0
       && wachat_utf8_count(t, strlen(t)) <= WACHAT_KB_MAX_TITLE,
       "title: a heading of 27 characters does not fit (%s)", t ? t : "");
    ok(t && strcmp(t, "When are you open") == 0,
       "title: the first Also phrasing that fits, capitalised (%s)",
       t ? t : "");
    free(t);

    t = wachat_entry_title(wachat_kb_get(kb, "repair"), "en");
    ok(t && strcmp(t, "Do you repair bikes") == 0,
       "title: a heading that fits, without its question mark (%s)",
       t ? t : "");
    free(t);

    t = wachat_entry_title(wachat_kb_get(kb, "prices"), "en");
    ok(t && strcmp(t, "Rental prices") == 0,
       "title: a phrasing too long is passed over (%s)", t ? t : "");
    free(t);

    t = wachat_entry_title(wachat_kb_get(kb, "prices"), "zh-Hant");
    ok(t && strcmp(t, "\xe7\xa7\x9f\xe8\xbb\x8a\xe5\x83\xb9\xe9\x8c\xa2") == 0,
       "title: a Chinese customer gets the Chinese phrasing (%s)",
       t ? t : "");
    free(t);

    t = wachat_entry_title(wachat_kb_get(kb, "prices"), NULL);
    ok(t && strcmp(t, "Rental prices") == 0,
       "title: no language known: the first that fits (%s)", t ? t : "");
    free(t);

    t = wachat_entry_title(wachat_kb_get(kb, "track"), "en");
    ok(t && wachat_utf8_count(t, strlen(t)) <= WACHAT_KB_MAX_TITLE
       && strncmp(t, "Can I ride my own", 17) == 0
       && strcmp(t + strlen(t) - 3, "\xe2\x80\xa6") == 0,
       "title: nothing fits: the heading cut at a word, with an ellipsis "
       "(%s)", t ? t : "");
    free(t);

    t = wachat_entry_title(wachat_kb_get(kb, "odd"), "en");
    ok(t && strcmp(t, "Odd") == 0, "title: a heading of punctuation: the id "
       "(%s)", t ? t : "");
    free(t);

    t = wachat_entry_title(wachat_kb_get(kb, "week"), "en");
    ok(t && strcmp(t, "What does it cost\xe2\x80\xa6") == 0,
       "title: nothing fits, a heading and a phrasing of punctuation: the "
       "first phrasing with words, cut (%s)", t ? t : "");
    free(t);
}


static int
reply_has(const wachat_reply_t *r, const char *id)
{
    size_t  i;

    for (i = 0; i < r->nbuttons; i++) {
        if (strcmp(r->button_id[i], id) == 0) {
            return 1;
        }
    }

    return 0;
}


/* no two of the reply's titles are the same: Graph refuses the message */
static int
titles_differ(const wachat_reply_t *r)
{
    size_t  i, j;

    for (i = 0; i < r->nbuttons; i++) {
        for (j = i + 1; j < r->nbuttons; j++) {
            if (strcmp(r->button_title[i], r->button_title[j]) == 0) {
                diag("#%s and #%s are both \"%s\"", r->button_id[i],
                     r->button_id[j], r->button_title[i]);
                return 0;
            }
        }
    }

    return 1;
}


static void
test_fallback(const wachat_kb_t *kb)
{
    size_t                i, j, dup;
    wachat_reply_t        r;
    wachat_question_t     q = { "text", NULL, NULL };
    wachat_answer_opts_t  o;

    wachat_answer_opts_plain(&o, 0.99, "not sure");
    o.suggestions = 2;
    o.suggest_min_score = 0.1;
    o.suggest_text = "is it one of these?";

    /* far below a confidence of 0.99, near two entries by its words */
    q.text = "bike repair and rental prices";

    ok(wachat_answer_kb(kb, &o, &q, &r) == 1
       && strcmp(r.source, "fallback") == 0,
       "suggest: not confident: the fallback");
    ok(r.nbuttons == 3 && wachat_answer_suggested(&r) == 2,
       "suggest: two entries suggested (%zu buttons)", r.nbuttons);
    ok(r.nbuttons == 3 && reply_has(&r, "repair") && reply_has(&r, "prices"),
       "suggest: the two the question is near");
    ok(r.nbuttons && strcmp(r.button_id[r.nbuttons - 1], "live_agent") == 0,
       "suggest: the person last");
    ok(r.text && strcmp(r.text, "is it one of these?") == 0,
       "suggest: with suggest_text");
    ok(strstr(r.context, "repair") && strstr(r.context, "prices"),
       "suggest: the history's context names them (%s)", r.context);

    for (i = 0, dup = 0; i < r.nbuttons; i++) {
        for (j = i + 1; j < r.nbuttons; j++) {
            dup += strcmp(r.button_title[i], r.button_title[j]) == 0;
        }

        ok(wachat_utf8_count(r.button_title[i], strlen(r.button_title[i]))
           <= WACHAT_KB_MAX_TITLE, "suggest: title \"%s\" fits",
           r.button_title[i]);
    }

    ok(dup == 0, "suggest: titles differ");
    wachat_answer_free(&r);

    /* a tap on one answers it */
    q.text = NULL;
    q.type = "interactive";
    q.payload = "repair";
    ok(wachat_answer_kb(kb, &o, &q, &r) == 1
       && strcmp(r.source, "kb:repair") == 0,
       "suggest: the tap answers the entry it names");
    wachat_answer_free(&r);
    q.type = "text";
    q.payload = NULL;

    /* one asked for */
    o.suggestions = 1;
    q.text = "bike repair and rental prices";
    ok(wachat_answer_kb(kb, &o, &q, &r) == 1 && r.nbuttons == 2
       && wachat_answer_suggested(&r) == 1,
       "suggest: kb_suggestions 1: one entry and the person");
    wachat_answer_free(&r);

    /* none asked for: the plain fallback */
    o.suggestions = 0;
    ok(wachat_answer_kb(kb, &o, &q, &r) == 1 && r.nbuttons == 1
       && strcmp(r.button_id[0], "live_agent") == 0
       && strcmp(r.text, "not sure") == 0,
       "suggest: kb_suggestions 0: only the person, with fallback_text");
    ok(strcmp(r.context, "repair") == 0 || strcmp(r.context, "prices") == 0,
       "suggest: the context still names the nearest (%s)", r.context);
    wachat_answer_free(&r);

    /* entries below the floor are not offered */
    o.suggestions = 2;
    o.suggest_min_score = 0.98;
    ok(wachat_answer_kb(kb, &o, &q, &r) == 1 && r.nbuttons == 1
       && strcmp(r.text, "not sure") == 0,
       "suggest: nothing above kb_suggest_min_score: the plain fallback");
    wachat_answer_free(&r);
    o.suggest_min_score = 0.1;

    /* nothing near at all */
    q.text = "xyzzy plugh";
    ok(wachat_answer_kb(kb, &o, &q, &r) == 1 && r.nbuttons == 1
       && wachat_answer_suggested(&r) == 0 && strcmp(r.text, "not sure") == 0
       && r.context[0] == '\0',
       "suggest: a question near nothing: the plain fallback");
    wachat_answer_free(&r);

    /* confident: the answer, nothing suggested */
    o.min_score = 0.45;
    q.text = "when are you open?";
    ok(wachat_answer_kb(kb, &o, &q, &r) == 1
       && strcmp(r.source, "kb:hours") == 0
       && wachat_answer_suggested(&r) == 0,
       "suggest: a confident answer suggests nothing");
    wachat_answer_free(&r);
}


/* the fallback's texts in the customer's language */
static void
test_localise(const wachat_kb_t *kb)
{
    char                  err[512];
    wachat_reply_t        r;
    wachat_config_t      *cfg;
    wachat_question_t     q = { "text", "bike repair and rental prices",
                                NULL };
    wachat_answer_opts_t  o;

    static const char  conf[] =
        "outbound sandbox\n"
        "kb_min_score 0.99\n"
        "fallback_text.zh \"\xe4\xb8\x8d\xe7\xa2\xba\xe5\xae\x9a\"\n"
        "suggest_text.es \"\xc2\xbf" "Es uno de estos?\"\n"
        "handoff_button_title.es \"Una persona\"\n";

    cfg = wachat_config_parse("mem", conf, sizeof(conf) - 1, err,
                              sizeof(err));

    if (!ok(cfg != NULL, "localise: the config loads")) {
        diag("%s", err);
        return;
    }

    ok(cfg->kb_suggestions == 2 && cfg->kb_suggest_min_score == 0.1,
       "localise: kb_suggestions 2 and kb_suggest_min_score 0.1 by default");

    wachat_answer_opts(cfg, NULL, &o);

    ok(wachat_answer_kb(kb, &o, &q, &r) == 1
       && wachat_answer_localise(cfg, "es", &r) == 0
       && strcmp(r.text, "\xc2\xbf" "Es uno de estos?") == 0
       && strcmp(r.button_title[r.nbuttons - 1], "Una persona") == 0,
       "localise: suggest_text.es, and the person's title, last, in Spanish");
    wachat_answer_free(&r);

    ok(wachat_answer_kb(kb, &o, &q, &r) == 1
       && wachat_answer_localise(cfg, "zh-Hant", &r) == 0
       && strcmp(r.text, "\xe4\xb8\x8d\xe7\xa2\xba\xe5\xae\x9a") == 0,
       "localise: a fallback_text.zh and no suggest_text.zh: the Chinese "
       "fallback, not English");
    wachat_answer_free(&r);

    ok(wachat_answer_kb(kb, &o, &q, &r) == 1
       && wachat_answer_localise(cfg, "fr", &r) == 0
       && strcmp(r.text, cfg->suggest_text) == 0,
       "localise: no text in the language: the plain suggest_text");
    wachat_answer_free(&r);

    wachat_config_free(cfg);
}


/*
 * A suggested entry titled as the person button is left out: the person
 * button is there anyway, and Graph refuses two buttons of one title.
 */
static void
test_person(const wachat_kb_t *kb)
{
    char                  err[512];
    wachat_reply_t        r;
    wachat_config_t      *cfg;
    wachat_question_t     q = { "text", "talk kayak cost", NULL };
    wachat_answer_opts_t  o;

    static const char  conf[] =
        "outbound sandbox\n"
        "kb_min_score 0.99\n"
        "handoff_button_title.es \"Una persona\"\n";

    wachat_answer_opts_plain(&o, 0.99, "not sure");
    o.suggestions = 2;
    o.suggest_min_score = 0.1;

    ok(wachat_answer_kb(kb, &o, &q, &r) == 1
       && strcmp(r.source, "fallback") == 0,
       "person: not confident: the fallback");
    ok(titles_differ(&r), "person: the titles differ");
    ok(!reply_has(&r, "human"),
       "person: #human, titled \"Talk to a person\", is not suggested");
    ok(reply_has(&r, "prices") && reply_has(&r, "week")
       && wachat_answer_suggested(&r) == 2,
       "person: #prices is, and #week, the next nearest, in #human's place");
    ok(r.nbuttons && strcmp(r.button_id[r.nbuttons - 1], "live_agent") == 0
       && strcmp(r.button_title[r.nbuttons - 1], "Talk to a person") == 0,
       "person: the person last, \"Talk to a person\"");
    wachat_answer_free(&r);

    /* the tools' preview: what the customer would get */
    cfg = wachat_config_parse("mem", conf, sizeof(conf) - 1, err,
                              sizeof(err));

    if (!ok(cfg != NULL, "person: the config loads")) {
        diag("%s", err);
        return;
    }

    ok(wachat_answer_preview(kb, NULL, NULL, 0, cfg, q.text, &r) == 1
       && strcmp(r.source, "fallback") == 0 && titles_differ(&r)
       && r.nbuttons == 3 && reply_has(&r, "prices") && reply_has(&r, "week")
       && !reply_has(&r, "human"),
       "person: the preview shows the same buttons, without #human");
    wachat_answer_free(&r);

    /* the title the person button has in the customer's language */
    wachat_answer_opts(cfg, "es", &o);
    ok(o.person_title && strcmp(o.person_title, "Una persona") == 0,
       "person: the options carry handoff_button_title.es for Spanish");
    wachat_answer_opts(cfg, NULL, &o);
    ok(o.person_title && strcmp(o.person_title, "Talk to a person") == 0,
       "person: ... and handoff_button_title with no language");

    /* whatever it is, no suggestion has it: here #prices' */
    o.person_title = "rental PRICES";
    ok(wachat_answer_kb(kb, &o, &q, &r) == 1 && titles_differ(&r)
       && !reply_has(&r, "prices") && reply_has(&r, "human")
       && strcmp(r.button_title[r.nbuttons - 1], "rental PRICES") == 0,
       "person: a person button titled as #prices, in another case: #prices "
       "is left out, #human offered");
    wachat_answer_free(&r);

    wachat_config_free(cfg);
}


/* a phrasing begun with a brand or a code keeps its case */
static const char  case_kb[] =
    "## Can you fix a cracked phone screen the same day? {#phone}\n"
    "Also: iPhone repair\n"
    "\n"
    "Yes, most screens in two hours.\n"
    "\n"
    "## Do you take gift cards bought online? {#cards}\n"
    "Also: eBay gift cards\n"
    "\n"
    "No, only our own.\n"
    "\n"
    "## What does it cost to service an electric bike? {#ebike}\n"
    "Also: ebike tune-up\n"
    "\n"
    "From HK$300.\n"
    "\n"
    "## Is there a charger I can borrow for my phone? {#charger}\n"
    "Also: a USB charger\n"
    "\n"
    "Yes, at the counter.\n";


static void
test_title_case(const wachat_kb_t *kb)
{
    size_t        i;
    char         *t;
    const char   *want[][2] = {
        { "phone", "iPhone repair" },
        { "cards", "eBay gift cards" },
        { "ebike", "Ebike tune-up" },
        { "charger", "A USB charger" },
    };

    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        t = wachat_entry_title(wachat_kb_get(kb, want[i][0]), "en");
        ok(t && strcmp(t, want[i][1]) == 0,
           "title case: #%s is \"%s\" (%s): a first word with a capital "
           "keeps its case, one in lower case is capitalised", want[i][0],
           want[i][1], t ? t : "");
        free(t);
    }
}


/* the greeting's menu: each entry once, each title once */
static void
test_menu(const wachat_kb_t *kb)
{
    int             rc;
    wachat_reply_t  r;

    rc = wachat_smalltalk_menu(kb, "hi!", "en", &r);
    ok(rc == 1 && strcmp(r.source, "greeting") == 0 && r.nbuttons == 3,
       "menu: three entries (%zu)", r.nbuttons);
    ok(titles_differ(&r), "menu: the titles differ");
    ok(r.nbuttons == 3 && strcmp(r.button_id[0], "day") == 0
       && strcmp(r.button_id[1], "prices") == 0
       && strcmp(r.button_id[2], "repair") == 0,
       "menu: #weekly, cut to #day's title, is passed over for the next");
    wachat_answer_free(&r);
}


/* the KB of text, named name in the tests */
static wachat_kb_t *
load(const char *name, const char *text, size_t len)
{
    char          err[512];
    wachat_kb_t  *kb;

    kb = wachat_kb_parse(text, len, name, err, sizeof(err));

    if (!ok(kb != NULL, "%s: the KB loads", name)) {
        diag("%s", err);
    }

    return kb;
}


void
test_suggest(void)
{
    wachat_kb_t  *kb;

    kb = load("suggest", suggest_kb, sizeof(suggest_kb) - 1);
    if (kb) {
        test_titles(kb);
        test_fallback(kb);
        test_localise(kb);
        wachat_kb_free(kb);
    }

    kb = load("person", person_kb, sizeof(person_kb) - 1);
    if (kb) {
        test_person(kb);
        wachat_kb_free(kb);
    }

    kb = load("case", case_kb, sizeof(case_kb) - 1);
    if (kb) {
        test_title_case(kb);
        wachat_kb_free(kb);
    }

    kb = load("menu", menu_kb, sizeof(menu_kb) - 1);
    if (kb) {
        test_menu(kb);
        wachat_kb_free(kb);
    }
}
