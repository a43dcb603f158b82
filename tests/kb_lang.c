/*
 * kb unit test, part: how the tokenizer meets customers' own words
 * (wachatd/answer/kb_lang.c) and what the confidence makes of them.
 */

#include <stdio.h>
#include <string.h>

#include "answer/kb_int.h"
#include "kb_test.h"
#include "tap.h"


static const char  shop[] =
    "# A bike shop\n"
    "Synonyms: scooter = moped | 滑板車\n"
    "Synonyms: mtb = mountain  bike\n"
    "Synonyms: helmet lid\n"
    "\n"
    "## How much does it cost to rent a bike? {#rent}\n"
    "Also: 租單車幾錢\n"
    "HK$40 per hour.\n"
    "## When are you open? {#hours}\n"
    "Also: 營業時間\n"
    "Every day 9:00 to 19:00.\n"
    "## Do you deliver? {#delivery}\n"
    "We deliver every day.\n"
    "## Can I cancel a reservation? {#cancel}\n"
    "Also: refunds\n"
    "Up to a day ahead.\n"
    "## Do you have scooters? {#scooters}\n"
    "Yes, two.\n"
    "## Where is the shop? {#location}\n"
    "12 Riverside Promenade.\n"
    "## Do you rent mountain bikes? {#mtb}\n"
    "Yes, 5.\n"
    "## Is a helmet included? {#helmet}\n"
    "Yes.\n";


static wachat_kb_t *
parse_text(const char *text, char *err, size_t errlen)
{
    return wachat_kb_parse(text, strlen(text), "syn", err, errlen);
}


typedef struct {
    char    buf[512];
    size_t  len;
} terms_t;


static int
collect(void *ctx, const char *term, size_t len, wachat_kb_tok_e kind)
{
    terms_t  *t;

    t = ctx;

    if (kind == WACHAT_KB_TOK_SPAN) {
        return 0;
    }

    if (kind == WACHAT_KB_TOK_GAP) {
        term = "|";
        len = 1;
    }

    if (t->len + len + 2 < sizeof(t->buf)) {
        if (t->len > 0) {
            t->buf[t->len++] = ' ';
        }

        memcpy(t->buf + t->len, term, len);
        t->len += len;
        t->buf[t->len] = '\0';
    }

    return 0;
}


/* the terms of text, space-separated; gaps: "|" where words are apart */
static const char *
terms_gaps(const wachat_kb_t *kb, const char *text, int gaps)
{
    static terms_t   t;
    wachat_kb_lex_t  lex;

    t.len = 0;
    t.buf[0] = '\0';

    if (wachat_kb_lex_open(&lex, kb) != 0) {
        return "(no stemmer)";
    }

    lex.gaps = gaps;

    (void) wachat_kb_tokenize(&lex, text, strlen(text), collect, &t);
    wachat_kb_lex_close(&lex);

    return t.buf;
}


static const char *
best(const wachat_kb_t *kb, const char *query, double *score)
{
    size_t           n;
    wachat_kb_hit_t  hit;

    n = wachat_kb_search(kb, query, strlen(query), &hit, 1);
    *score = n ? hit.score : 0;

    return n ? hit.entry->id : "(none)";
}


/* what the tokenizer makes of a text: its terms, space-separated */
typedef struct {
    const char  *text;
    int          gaps;          /* searching: "|" where words are apart */
    const char  *terms;
    const char  *what;
} lang_terms_t;


static const lang_terms_t  lang_terms[] = {
    { "Hw much 2 RENT bikes??", 0, "price rent bike",
      "abbreviations spelled out, stopwords dropped, stemmed, synonyms' "
      "first words" },
    { "hiring a bicycle for 4 hrs", 0, "rent bike hour",
      "hire and bicycle are rent and bike" },
    { "a table for 8 at 10am", 0, "tabl 8 10am",
      "numbers are kept as they are" },
    { "單車", 0, "单 车 单车 bike",
      "Traditional folded to Simplified; a synonym adds its group's first "
      "word" },
    { "滑板車", 0, "滑 板 滑板 车 板车 scooter", "the KB's own synonym" },
    { "do you sell bike lights? kayaks, tmrw", 1,
      "| | buy bike light | kayak | |",
      "searching, gaps where words are not next to each other (stopwords, "
      "punctuation)" },
    { "租單車嗎", 1, "租 rent 单 租单 车 单车 bike |",
      "searching, a gap at a function character" },
    { "a mountain bike, a bike", 0, "mtb bike",
      "a two-word synonym of the KB's stands for both words; bike alone is "
      "still bike" },
    { "do u take alipay or apple pay, AlipayHK?", 0,
      "take wallet wallet wallet",
      "the wallets customers name are one word (apple pay too)" },
    { "nearest mtr station or subway", 0, "nearest mtr mtr mtr",
      "the ways to get there are one word" },
    { "open on xmas day? easter?", 0, "open holiday day holiday",
      "holidays are holiday" },
    { "coeliac, allergic to peanuts", 0, "gluten allergi nut",
      "what customers cannot eat" },
    { "a tune up for my bike with a motor", 0, "servic bike electr",
      "a tune-up is a service, a motor electric" },
    { "can i do a bank transfer", 0, "wallet",
      "a bank transfer is one of the ways to pay" },
    { "留位", 0, "留 位 留位 book", "keeping a place is a booking" },
    { "any plant based brekkie? a plug?", 0, "vegan breakfast socket",
      "plant based is vegan, brekkie breakfast, a plug a socket" },
    { "a special price if we move the booking", 0, "discount chang book",
      "a special price is a discount, moving a booking a change" },
    { "a used bike, second hand? which exit? a route?", 0,
      "secondhand secondhand mtr tour",
      "a used bike is second-hand, an exit is the way "
      "there, a route a tour" },
    { "去不了", 0, "去 不 去不 cancel", "cannot go is a cancellation" },
    { "周日地铁", 0, "周 日 周日 weekend 地 日地 铁 地铁 mtr",
      "the Chinese words of the same groups" },
    { "a flat tyre, nicked; getting married, drop off", 0,
      "punctur steal wed deliv",
      "a flat tyre is a puncture, nicked stolen, getting married a "
      "wedding, drop off delivery" },
    { "is the owner married", 0, "owner marri",
      "married alone is no wedding" },
    { "补呔，包場，帶隊，bb", 0,
      "补 呔 补呔 punctur tyre 包 场 包场 book 带 队 带队 tour child",
      "mending a tyre is a puncture, 包场 a booking, 带队 a tour, bb a "
      "child" },
    { "open sat, sun or wed? chung yeung, cny", 0,
      "open weekend weekend wednesday holiday holiday",
      "days in short are days (wed is no wedding), the Hong Kong holidays "
      "holidays" },
    { "driving, my hkid, smushed, wheat", 0, "park id damag gluten",
      "driving asks where to park, an HKID is an ID, smushed damaged, wheat "
      "gluten" },
    { "a group ride on a battery bike, a staff member for regular customers",
      0, "tour electr person member",
      "a group ride is a tour, a battery bike electric, a staff member a "
      "person, regular customers members" },
    { "开唔开，沙田站怎樣走，订枱", 0,
      "开 开 open 沙 田 沙田 站 田站 mtr 走 address 订 台 订台 book",
      "are you open, a station, how to walk there, book a table" },
    { "my knees r not what they used to be", 0, "knee use",
      "used to is not second-hand" },
    { "any used ones? tap my octo card, switch", 0,
      "secondhand tap octopus card chang",
      "used ones are second-hand, octo the Octopus card, switch a change" },
    { "未成年, 電輔助, 要俾幾多, 留座", 0,
      "未 成 未成 年 成年 age 电 辅 电辅 助 辅助 electr 俾 几 俾几 多 几多 "
      "price 留 座 留座 book",
      "under age, electric assist, how much to pay, keep a seat" },
};


/* each text's terms against the ones it expects */
static void
check_terms(const wachat_kb_t *kb, const char *what,
    const lang_terms_t *cases, size_t n)
{
    size_t               i;
    char                 name[512];
    const lang_terms_t  *c;

    for (i = 0; i < n; i++) {
        c = &cases[i];
        snprintf(name, sizeof(name), "%s: %s", what, c->what);
        is_str(terms_gaps(kb, c->text, c->gaps), c->terms, name);
    }
}


typedef struct {
    const char  *query;
    const char  *id;            /* "-": below the default threshold;
                                   "~id": ranked first, any score */
    const char  *what;
} lang_query_t;


static const lang_query_t  lang_queries[] = {
    { "renting bikes", "rent", "stemming: renting bikes" },
    { "deliveries?", "delivery", "stemming: deliveries" },
    { "cancelled reservations", "cancel", "stemming: cancelled" },
    { "hw much 2 rent a bike 4 a day??", "rent", "chat abbreviations" },
    { "wen r u open", "hours", "chat abbreviations: wen r u" },
    { "营业时间", "hours", "Simplified question, Traditional KB" },
    { "營業時閒", "hours", "a variant character is folded too" },
    { "delivry", "delivery", "typo: one letter missing" },
    { "cancelation", "cancel", "typo: one letter missing, 2 allowed" },
    { "reservaiton", "cancel", "typo: transposition" },
    { "hire a bicycle", "rent", "built-in synonyms: hire, bicycle" },
    { "租自行车几钱", "rent", "built-in Chinese synonym: 自行车 = 单车" },
    { "I want my money back", "cancel", "two-word synonym: money back" },
    { "腳踏車點租", "rent", "a Chinese synonym explains its characters "
      "the KB lacks (腳, 踏)" },
    { "脚踏车出租", "rent", "a Chinese synonym explains its characters "
      "the KB lacks (腳, 踏)" },
    { "any mopeds?", "scooters", "the KB's own Synonyms: line" },
    { "有冇滑板車", "~scooters", "the KB's own Synonyms: line, Chinese "
      "(ranked first; its characters the KB lacks still weigh)" },
    { "mtb for hire?", "mtb", "the KB's own two-word synonym" },
    { "lid included?", "helmet", "a Synonyms: line separated by spaces" },
    { "do you sell dog food", "-", "unknown: below the threshold" },
    { "do you rent bike lights", "-", "focus: the unknown word right "
      "after a known one is what the question is about" },
    { "do you rent kayaks?", "-", "focus: a known verb, an unknown object" },
    { "有冇單車燈", "-", "focus: 燈, unknown, ends the run after 單車" },
    { "can you deliver tomorrow morning", "delivery", "context: a time the "
      "KB does not use is no unknown topic" },
    { "can I rent a bike for my daughter", "rent", "context: nor a person" },
    { "xyzzy", "-", "nonsense: below the threshold" },
    { "is the owner married lol", "-", "chat about nothing in the KB" },
};


/*
 * Each query's best entry and score against what it expects: "-" below
 * the threshold, "~id" that entry first whatever the score, "id" that
 * entry at or above the threshold.
 */
static void
check_queries(const wachat_kb_t *kb, const char *what,
    const lang_query_t *queries, size_t n)
{
    int                  good;
    size_t               i;
    double               score;
    const char          *id;
    const lang_query_t  *q;

    for (i = 0; i < n; i++) {
        q = &queries[i];
        id = best(kb, q->query, &score);

        if (strcmp(q->id, "-") == 0) {
            good = score < WACHAT_KB_DEFAULT_MIN_SCORE;

        } else if (q->id[0] == '~') {
            good = strcmp(id, q->id + 1) == 0;

        } else {
            good = strcmp(id, q->id) == 0
                   && score >= WACHAT_KB_DEFAULT_MIN_SCORE;
        }

        ok(good, "%s: %s: \"%s\" -> %s (%s %.2f)", what, q->what, q->query,
           q->id, id, score);
    }
}


void
test_lang(void)
{
    char                      err[512];
    wachat_kb_t              *kb;

    kb = wachat_kb_parse(shop, strlen(shop), "shop", err, sizeof(err));

    if (!ok(kb != NULL, "lang: the shop KB loads")) {
        diag("%s", err);
        return;
    }

    check_terms(kb, "lang", lang_terms,
                sizeof(lang_terms) / sizeof(lang_terms[0]));

    check_queries(kb, "lang", lang_queries,
                  sizeof(lang_queries) / sizeof(lang_queries[0]));

    wachat_kb_free(kb);

    kb = parse_text("Synonyms: a|||\nSynonyms:\n## Q {#q}\nA.\n", err,
                    sizeof(err));
    ok(kb != NULL, "lang: empty and 1-letter synonyms are harmless");
    wachat_kb_free(kb);
}


/*
 * The decision's two tests against answers that share words only: the
 * object of a frame verb, and an entry found through its answer alone.
 * Each "-" case is above the threshold without its test.
 */
static const char  rental[] =
    "# A bike rental\n"
    "\n"
    "## Do you sell bikes? {#sales}\n"
    "Also: second-hand bikes\n"
    "New city bikes from HK$1,800, used ones from HK$900.\n"

    "## How much is it to rent a bike? {#rent}\n"
    "Also: rental prices\n"
    "HK$40 per hour; helmet and lock included.\n"
    "## When are you open? {#hours}\n"
    "Also: opening hours\n"
    "Every day 9:00 to 19:00; closed in a typhoon or when the weather "
    "is bad.\n"
    "## Where is the shop? {#location}\n"
    "12 Riverside Promenade, next to the cycle track.\n"
    "## Do you repair bikes? {#repairs}\n"
    "Also: flat tyre\n"
    "Any bike, while you wait; helmets and locks checked for free.\n";


static const lang_query_t  precision_queries[] = {
    { "do you sell helmets", "-", "object: the entry has the frame verb, "
      "not its object" },
    { "can i buy a lock from you", "-", "object: likewise, the lock is in "
      "other answers, not in the seller's" },
    { "do you sell city bikes", "sales", "object: the entry has it" },
    { "how is the weather today", "-", "off the phrasings: a word only in "
      "an answer" },
    { "when do you open on sundays", "hours", "near a phrasing: unaffected" },
};


/*
 * 有冇 X 賣 (do you have X to sell): the characters before the verb are
 * its object, the last of them, unknown after a known one, its head.
 */
static const char  rental_zh[] =
    "# 單車店\n"
    "\n"
    "## Do you sell bikes? {#sales}\n"
    "Also: buy a bike | 買單車 | 二手單車\n"
    "New city bikes from HK$1,800, used ones from HK$900.\n"
    "全新城市單車 HK$1,800 起，二手單車 HK$900 起。\n"
    "## How much is it to rent a bike? {#rent}\n"
    "Also: 租單車幾錢\n"
    "HK$40 per hour.\n每小時 HK$40。\n"
    "## Do you rent electric bikes? {#e-bikes}\n"
    "Also: 電動單車\n"
    "HK$100 per hour.\n電動單車每小時 HK$100。\n"
    "## When are you open? {#hours}\n"
    "Also: 營業時間\n"
    "Every day 9:00 to 19:00.\n每日 9:00 至 19:00。\n"
    "## Where is the shop? {#location}\n"
    "Also: 地址\n"
    "12 Riverside Promenade.\n河畔長廊 12 號。\n"
    "## Do you repair bikes? {#repairs}\n"
    "Also: 維修\n"
    "Any bike, while you wait.\n任何單車都可以維修。\n"
    "## Can I cancel a booking? {#cancel}\n"
    "Also: 取消\n"
    "Up to a day ahead.\n最遲一天前取消。\n"
    "## Do you run guided rides? {#tours}\n"
    "Also: 導賞團\n"
    "Every Sunday.\n逢星期日。\n";


static const lang_query_t  precision_zh_queries[] = {
    { "有冇單車褲賣", "-", "Chinese object: the entry lacks 褲, the head "
      "of the verb's object" },
    { "有冇單車燈賣", "-", "Chinese object: likewise 燈" },
    { "有冇二手單車賣", "sales", "Chinese object: the entry has it" },
    { "有冇電動單車租", "e-bikes", "Chinese object: the entry has it" },
    { "腳踏車點租", "rent", "Chinese object: only after 有, 冇, 沒: 點 "
      "(how) is no object" },
    { "有冇賣單車燈", "-", "Chinese object after the verb (有冇賣 X): "
      "the entry lacks 燈" },
    { "有冇租單車架", "-", "Chinese object after the verb: the entry "
      "lacks 架" },
    { "有冇賣二手單車", "sales", "Chinese object after the verb: the entry "
      "has it" },
    { "租單車使唔使帶證件", "~rent", "Chinese object after the verb: only "
      "after 有, 冇, 沒" },
};


/* with a person to talk to: an entry that shares single characters only */
static const lang_query_t  precision_chars_queries[] = {
    { "你哋有冇請人呀", "-", "characters only: 人 of 真人 is no word "
      "(are you hiring)" },
    { "我要搵真人", "contact", "characters only: 真人 is a pair" },
};


void
test_precision(void)
{
    int                   n;
    char                  err[512], text[2048];
    wachat_kb_t          *kb;

    kb = wachat_kb_parse(rental, strlen(rental), "rental", err, sizeof(err));

    if (!ok(kb != NULL, "precision: the rental KB loads")) {
        diag("%s", err);
        return;
    }

    check_queries(kb, "precision", precision_queries,
                  sizeof(precision_queries) / sizeof(precision_queries[0]));

    wachat_kb_free(kb);

    kb = wachat_kb_parse(rental_zh, strlen(rental_zh), "rental_zh", err,
                         sizeof(err));

    if (!ok(kb != NULL, "precision: the Chinese rental KB loads")) {
        diag("%s", err);
        return;
    }

    check_queries(kb, "precision", precision_zh_queries,
                  sizeof(precision_zh_queries)
                  / sizeof(precision_zh_queries[0]));

    wachat_kb_free(kb);

    n = snprintf(text, sizeof(text), "%s%s", rental_zh,
                 "## How can I talk to a person? {#contact}\n"
                 "Also: 真人 | 人工客服\n"
                 "Tap the button below.\n請按下面的按鈕。\n");
    kb = wachat_kb_parse(text, (size_t) n, "rental_chars", err, sizeof(err));

    if (!ok(kb != NULL, "precision: the rental KB with a contact loads")) {
        diag("%s", err);
        return;
    }

    check_queries(kb, "precision", precision_chars_queries,
                  sizeof(precision_chars_queries)
                  / sizeof(precision_chars_queries[0]));

    wachat_kb_free(kb);
}
