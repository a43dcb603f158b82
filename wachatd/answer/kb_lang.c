/*
 * kb lang: what the kb tokenizer knows of the languages customers write
 * in, one table per kind of knowledge, applied alike to the KB and to the
 * questions (so only consistency matters):
 *
 * - chat English: abbreviations ("hw much 2 rent" -> how much to rent)
 *   and stopwords, the filler of a chat message included;
 * - English stemming: Snowball's English (Porter2) stemmer, libstemmer;
 * - Chinese: Traditional and variant characters folded to Simplified, from
 *   OpenCC's dictionaries (scripts/gen-kb-fold makes kb_fold.h at build
 *   time), so a Simplified question meets a Traditional KB;
 * - synonyms: groups of words that mean the same thing in a small shop's
 *   chat, English and Chinese together ("rent hire borrow 租"), general and
 *   not any one business's; the KB adds its own with "Synonyms:" lines in
 *   its preamble (kb.h).  Every word of a group becomes its first word,
 *   so "hire a bicycle" and "租單車" both say "rent bike".
 *
 * The synonym map lives in the KB (built at load, immutable after); a
 * stemmer is not thread-safe, so each search opens its own lexer.
 */

#include <stdlib.h>
#include <string.h>

#include <libstemmer.h>

#include "answer/kb_int.h"
#include "wachat_utf8.h"
#include "kb_fold.h"


/* chat spellings -> the word meant (sorted) */
static const char *const  wachat_kb_abbrev[][2] = {
    { "2", "to" }, { "2moro", "tomorrow" }, { "2nite", "tonight" },
    { "4", "for" }, { "abt", "about" }, { "addr", "address" },
    { "appt", "appointment" }, { "b4", "before" }, { "bc", "because" },
    { "bday", "birthday" }, { "brekkie", "breakfast" },
    { "brekky", "breakfast" }, { "coz", "because" }, { "cuz", "because" },
    { "fri", "friday" }, { "hr", "hour" }, { "hrs", "hours" }, { "hw", "how" },
    { "info", "information" }, { "mins", "minutes" }, { "mon", "monday" },
    { "msg", "message" }, { "nite", "night" }, { "nxt", "next" },
    { "octo", "octopus" }, { "pic", "photo" }, { "pics", "photos" },
    { "plz", "please" }, { "ppl", "people" }, { "pw", "password" },
    { "pwd", "password" }, { "sat", "saturday" }, { "sun", "sunday" },
    { "thru", "through" }, { "thu", "thursday" }, { "thur", "thursday" },
    { "thurs", "thursday" }, { "thx", "thanks" }, { "tmr", "tomorrow" },
    { "tmrw", "tomorrow" }, { "tonite", "tonight" }, { "tue", "tuesday" },
    { "tues", "tuesday" }, { "wat", "what" }, { "wed", "wednesday" },
    { "wen", "when" }, { "whr", "where" }, { "wht", "what" }, { "wk", "week" },
    { "wkend", "weekend" }, { "wknd", "weekend" }, { "wot", "what" },
    { "wut", "what" }, { "xmas", "christmas" }, { "ya", "you" },
    { "yr", "year" }, { "yrs", "years" }, { "yu", "you" },
};


/* words that say nothing about what is asked (sorted) */
static const char *const  wachat_kb_stopwords[] = {
    "a", "able", "about", "actually", "all", "also", "am", "an", "and",
    "any", "anything", "are", "aren", "arent", "as", "at", "be", "been",
    "being", "but", "by", "can", "cant", "could", "couldn", "dear", "did",
    "didn", "didnt", "do", "does", "doesn", "doesnt", "doing", "don",
    "dont", "for", "from", "get", "go", "going", "gonna", "got", "gotta",
    "guys", "had", "has", "hasn", "have", "haven", "having", "he", "hello",
    "her", "here", "hers", "hey", "hi", "him", "his", "hmm", "how", "hows",
    "i", "if", "im", "in", "into", "is", "isn", "isnt", "it", "its", "ive",
    "just", "kinda", "know", "let", "lets", "like", "lol", "may", "me",
    "might", "my", "need", "no", "nor", "not", "now", "of", "oh", "ok",
    "okay", "on", "or", "our", "ours", "please", "pls", "really", "she",
    "should", "shouldn", "so", "some", "something", "still", "sure",
    "tell", "than", "thank", "thanks", "that", "the", "their", "theirs",
    "them", "then", "there", "theres", "these", "they", "thing", "things",
    "this", "those", "to", "today", "tomorrow", "tonight", "too", "uh",
    "um", "ur", "us", "very", "wanna", "want", "was", "wasn", "way", "we",
    "were", "weren", "what", "whats", "which", "who", "whom", "will",
    "with", "won", "wonder", "wondering", "wont", "would", "wouldn",
    "yeah", "yes", "yep", "yo", "you", "your", "youre", "yours"
};


/* the stems of verbs that frame a question (sorted) */
static const char *const  wachat_kb_weak_words[] = {
    "accept", "allow", "bring", "buy", "find", "give", "help", "make",
    "offer", "provid", "rent", "take", "use"
};


/* the stems of words of time, people and vagueness (sorted) */
static const char *const  wachat_kb_context_words[] = {
    "afternoon", "again", "alon", "also", "anyon", "anyth", "around",
    "august", "bit", "boss", "boyfriend", "closest", "colleagu", "current",
    "dad", "daughter", "decemb", "earli", "earlier", "els", "elsewher",
    "even", "ever", "everyon", "everyth", "except", "famili", "father",
    "februari", "friday", "friend", "girlfriend", "guy", "husband",
    "januari", "juli", "june", "kind", "late", "later", "lot", "march",
    "midnight", "mom", "monday", "month", "morn", "mother", "mum", "myself",
    "near", "nearbi", "nearest", "night", "noon", "novemb", "octob", "one",
    "onli", "peopl", "per", "ppl", "saturday", "septemb", "somebodi",
    "someon", "son", "soon", "sort", "stuff", "sunday", "thursday",
    "tuesday", "usual", "via", "wednesday", "week", "weekend", "wife",
    "without", "year"
};


/*
 * Synonym groups: the first word stands for the group.  English words
 * are stemmed when the KB loads; Chinese ones are written Simplified and
 * found inside runs of characters (up to WACHAT_KB_SYN_CJK of them).
 */
static const char *const  wachat_kb_synonyms[] = {
    "rent hire borrow rental lease 租 出租 租用 租借 租赁",
    "price cost fee charge rate much pricing expensive cheap tariff "
        "价钱 价格 价目 收费 费用 多少钱 几钱 几多钱 租金 俾几多 畀几多",
    "discount offer deal promotion promo coupon voucher special_price "
        "special_rate special_offer 折扣 优惠 打折",
    "buy purchase sell sale 买 卖 购买 出售",
    "secondhand second_hand preowned pre_owned used_bike used_bikes "
        "used_one used_ones 二手",
    "repair fix mend 修 维修 修理 修车",
    "service servicing maintenance maintain overhaul tune_up tuneup 保养",
    "damage broken break broke smash crush squash melt ruin dent bent "
        "scratch crack smush 坏 损坏 烂 撞",
    "steal stolen stole theft thief nick 偷 被偷 失窃 被盗",
    "refund reimburse reimbursement money_back 退款 退钱",
    "deliver delivery ship shipping courier dispatch postage drop_off "
        "送 送货 外送 配送 运送 速递 快递",
    "book booking reserve reservation appointment 预约 预订 订位 "
        "订座 预定 留位 预留 留车 包场 订枱 订台 留座",
    "cancel cancellation 取消 退订 去不了 来不了 唔去得 去唔到 嚟唔到",
    "change reschedule modify amend postpone move switch 更改 改期",
    "bike bicycle cycle 单车 自行车 脚踏车 脚车",
    "electric ebike motor motorised motorized battery_bike 电动 电助力 "
        "电辅助",
    "child kid children toddler baby infant bb 儿童 小朋友 小孩 孩子 细路 "
        "宝宝 婴儿",
    "address location located direction where 地址 位置 在哪 哪里 边度 "
        "喺边 点去 怎么去 怎样去 点样去 点样嚟 怎么走 怎样走 点样行",
    /* a station or a bus named in a question asks how to get there */
    "mtr station subway metro underground bus minibus tram ferry exit "
        "地铁 港铁 车站 站 巴士 小巴 渡轮",
    "phone call telephone contact 电话 联络 联系",
    "email mail email_address 电邮 邮箱 电邮地址 邮箱地址 邮件地址",
    "person human agent representative operator manager staff_member "
        "真人 人工 客服",
    "pay payment paying 付款 支付 付钱 畀钱 俾钱 结账 埋单",
    /* the wallets and transfer schemes customers name */
    "wallet alipay alipayhk payme fps paypal venmo zelle unionpay "
        "apple_pay google_pay samsung_pay "
        "bank_transfer 支付宝 微信支付 转数快 八达通 银联 转账 过数 入数",
    "card credit debit visa mastercard amex 信用卡 信用咭",
    "wifi internet wireless wlan 无线网络 上网",
    "socket plug outlet 插座 插头 插苏",
    "password passcode 密码",
    "open close shut 营业 开门 关门 收工 收铺 开到 开唔开 开不开",
    "vegan vegetarian plant_based 素食 纯素 斋",
    "allergy allergic intolerance intolerant anaphylaxis epipen 过敏 敏感",
    "gluten coeliac celiac wheat 麸质",
    "nut peanut 坚果 果仁 花生",
    "photo picture image 相片 照片 图片",
    "wedding marriage get_married getting_married 结婚 婚礼",
    "birthday 生日",
    "tyre tire 轮胎 呔",
    "puncture flat_tyre flat_tire 爆胎 爆呔 漏气 补胎 补呔",
    "deposit 按金 押金 订金",
    "parking park carpark drive driving 泊车 停车 车位 停车场",
    "holiday christmas easter thanksgiving ramadan diwali chung_yeung "
        "ching_ming tuen_ng boxing_day cny 重阳 清明 端午 "
        "假期 假日 公众假期 红日 圣诞 复活节 新年 过年 春节",
    "weekend saturday sunday 周末 星期六 星期日 星期天 周六 周日 礼拜六 "
        "礼拜日 礼拜天",
    "tour guided route group_ride 导赏 导览 导游 路线 带队",
    "group team corporate company 团体 公司",
    "member membership loyalty reward points stamp regular_customer "
        "会员 积分 印花",
    "age old older aged younger 岁 年龄 年纪 年满 未满 未成年",
    "id passport identity document hkid 身份证 证件 护照",
    "weather typhoon rain rainstorm storm 天气 台风 风球 落雨 下雨 暴雨",
    "accident crash collision 意外 撞车",
};


static int
wachat_kb_strcmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}


/* 1 when the term (len bytes) is one of the n sorted words of list */
static int
wachat_kb_in_list(const char *term, size_t len, const char *const *list,
    size_t n)
{
    char         w[16];
    const char  *key;

    if (len >= sizeof(w)) {
        return 0;
    }

    memcpy(w, term, len);
    w[len] = '\0';
    key = w;

    return bsearch(&key, list, n, sizeof(char *), wachat_kb_strcmp) != NULL;
}


int
wachat_kb_weak(const char *term, size_t len)
{
    return wachat_kb_in_list(term, len, wachat_kb_weak_words,
                             sizeof(wachat_kb_weak_words) / sizeof(char *));
}


int
wachat_kb_context(const char *term, size_t len)
{
    return wachat_kb_in_list(term, len, wachat_kb_context_words,
                             sizeof(wachat_kb_context_words) / sizeof(char *));
}


uint32_t
wachat_kb_fold(uint32_t cp)
{
    size_t  lo, hi, mid;

    lo = 0;
    hi = sizeof(wachat_kb_fold_table) / sizeof(wachat_kb_fold_table[0]);

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        if (wachat_kb_fold_table[mid][0] == cp) {
            return wachat_kb_fold_table[mid][1];
        }

        if (wachat_kb_fold_table[mid][0] < cp) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return cp;
}


int
wachat_kb_lex_open(wachat_kb_lex_t *lex, const wachat_kb_t *kb)
{
    lex->stemmer = sb_stemmer_new("english", NULL);
    lex->kb = kb;
    lex->build = NULL;
    lex->typos = 0;
    lex->gaps = 0;

    return lex->stemmer ? 0 : -1;
}


void
wachat_kb_lex_close(wachat_kb_lex_t *lex)
{
    if (lex->stemmer != NULL) {
        sb_stemmer_delete(lex->stemmer);
        lex->stemmer = NULL;
    }
}


/* the stem of an ASCII word, in the stemmer's buffer */
static const char *
wachat_kb_stem(const wachat_kb_lex_t *lex, const char *w, size_t *len)
{
    const sb_symbol  *s;

    s = sb_stemmer_stem(lex->stemmer, (const sb_symbol *) w, (int) *len);
    if (s == NULL) {
        return w;                           /* out of memory: as it is */
    }

    *len = (size_t) sb_stemmer_length(lex->stemmer);

    return (const char *) s;
}


/* the group's first word for a member (a stem or Chinese), or NULL */
const char *
wachat_kb_synonym(const wachat_kb_lex_t *lex, const char *w, size_t len,
    size_t *hlen)
{
    uint32_t     g;
    const char  *head;

    if (lex->kb == NULL
        || !wachat_kb_map_get(&lex->kb->syn, w, len, &g))
    {
        return NULL;
    }

    head = lex->kb->syn_head[g];
    *hlen = strlen(head);

    return head;
}


/* optimal string alignment distance of a and b if at most max, or max + 1 */
static size_t
wachat_kb_distance(const char *a, size_t la, const char *b, size_t lb,
    size_t max)
{
    size_t   i, j, d, best, row[3][WACHAT_KB_SYN_WORD + 2];
    size_t  *pp, *p, *c, *t;

    if (la > WACHAT_KB_SYN_WORD || lb > WACHAT_KB_SYN_WORD
        || (la > lb ? la - lb : lb - la) > max)
    {
        return max + 1;
    }

    pp = row[0];
    p = row[1];
    c = row[2];

    for (j = 0; j <= lb; j++) {
        p[j] = j;
    }

    for (i = 1; i <= la; i++) {
        c[0] = i;
        best = i;

        for (j = 1; j <= lb; j++) {
            d = p[j - 1] + (a[i - 1] != b[j - 1]);
            d = p[j] + 1 < d ? p[j] + 1 : d;
            d = c[j - 1] + 1 < d ? c[j - 1] + 1 : d;

            if (i > 1 && j > 1 && a[i - 1] == b[j - 2]
                && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < d)
            {
                d = pp[j - 2] + 1;
            }

            c[j] = d;
            best = d < best ? d : best;
        }

        if (best > max) {
            return max + 1;
        }

        t = pp;
        pp = p;
        p = c;
        c = t;
    }

    return p[lb];
}


static int
wachat_kb_letters(const char *w, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (w[i] < 'a' || w[i] > 'z') {
            return 0;
        }
    }

    return 1;
}


/* a stem the KB's index has, itself or through its synonym group */
static int
wachat_kb_known(const wachat_kb_lex_t *lex, const char *stem, size_t len)
{
    size_t       hlen;
    uint32_t     id;
    const char  *head;

    if (wachat_kb_map_get(&lex->kb->index.terms, stem, len, &id)) {
        return 1;
    }

    head = wachat_kb_synonym(lex, stem, len, &hlen);

    return head && wachat_kb_map_get(&lex->kb->index.terms, head, hlen, &id);
}


/*
 * The word of the KB (or of a synonym group) closest to w as written: at
 * edit distance 1, 2 from 8 letters, transpositions included; NULL when
 * none is that close.  Ties go to the longer word, then the first found.
 */
static const char *
wachat_kb_near(const wachat_kb_lex_t *lex, const char *w, size_t len,
    size_t *nlen)
{
    size_t                   i, d, max, best;
    const char              *near;
    const wachat_kb_slot_t  *s;
    const wachat_kb_map_t   *m;

    m = &lex->kb->surf;
    max = len >= 8 ? 2 : 1;
    best = max + 1;
    near = NULL;

    for (i = 0; i < m->cap; i++) {
        s = &m->slots[i];

        if (s->key == NULL) {
            continue;
        }

        d = wachat_kb_distance(w, len, s->key, s->len, max);

        if (d <= max && (d < best || (d == best && s->len > *nlen))) {
            best = d;
            near = s->key;
            *nlen = s->len;
        }
    }

    return near;
}


/* loading: w as written, a typo's possible target */
static int
wachat_kb_surface(const wachat_kb_lex_t *lex, const char *w, size_t len)
{
    char        *copy;
    uint32_t     val;
    wachat_kb_t  *kb;

    kb = lex->build;

    if (len < WACHAT_KB_TYPO_MIN - 1 || len > WACHAT_KB_SYN_WORD
        || !wachat_kb_letters(w, len)
        || wachat_kb_map_get(&kb->surf, w, len, &val))
    {
        return 0;
    }

    copy = wachat_kb_strndup(&kb->arena, w, len);
    val = 0;

    return (copy == NULL || wachat_kb_map_put(&kb->surf, copy, len, &val) < 0)
           ? -1 : 0;
}


int
wachat_kb_word(const wachat_kb_lex_t *lex, char *w, size_t len,
    const char **out, size_t *olen)
{
    int           kind;
    size_t        i, slen, nlen, tlen;
    const char   *key, *stem, *near, *thes, *const *a;
    unsigned      digits;

    w[len] = '\0';
    key = w;

    a = bsearch(&key, wachat_kb_abbrev,
                sizeof(wachat_kb_abbrev) / sizeof(wachat_kb_abbrev[0]),
                sizeof(wachat_kb_abbrev[0]), wachat_kb_strcmp);

    if (a != NULL) {
        key = a[1];
        len = strlen(key);
    }

    if ((len == 1 && key[0] >= 'a' && key[0] <= 'z')
        || bsearch(&key, wachat_kb_stopwords,
                   sizeof(wachat_kb_stopwords) / sizeof(char *),
                   sizeof(char *), wachat_kb_strcmp) != NULL)
    {
        return -1;
    }

    for (i = 0, digits = 0; i < len; i++) {
        digits += (key[i] >= '0' && key[i] <= '9');
    }

    if (digits > 0) {
        *out = key;                         /* "15", "10am", "mp3" */
        *olen = len;
        return WACHAT_KB_TOK_NUM;
    }

    if (lex->build != NULL
        && (wachat_kb_surface(lex, key, len) != 0
            || wachat_kb_vocab_add(lex, key, len) != 0))
    {
        return -1;                          /* out of memory: one word less */
    }

    slen = len;
    stem = wachat_kb_stem(lex, key, &slen);
    kind = WACHAT_KB_TOK_WORD;

    /* a word the KB does not use: a synonym of one it does, or a typo */
    if (lex->typos && lex->kb != NULL && !wachat_kb_known(lex, stem, slen)
        && (thes = wachat_kb_thesaurus_word(lex, stem, slen, &tlen)) != NULL)
    {
        *out = thes;
        *olen = tlen;
        return WACHAT_KB_TOK_THES;
    }

    if (lex->typos && lex->kb != NULL && len >= WACHAT_KB_TYPO_MIN
        && wachat_kb_letters(key, len) && !wachat_kb_known(lex, stem, slen))
    {
        nlen = 0;
        near = wachat_kb_near(lex, key, len, &nlen);

        if (near != NULL) {
            slen = nlen;
            stem = wachat_kb_stem(lex, near, &slen);
            kind = WACHAT_KB_TOK_TYPO;
        }
    }

    *out = stem;
    *olen = slen;

    return kind;
}


/* "money_back" -> "money back", each word stemmed, in place */
static char *
wachat_kb_stem_phrase(const wachat_kb_lex_t *lex, char *w, size_t *len)
{
    char         out[WACHAT_KB_SYN_WORD + 1];
    size_t       n, k, o;
    const char  *s, *p;

    o = 0;

    for (p = w; *p; p += n + (p[n] == '_')) {
        n = strcspn(p, "_");
        k = n;
        s = wachat_kb_stem(lex, p, &k);

        if (o + k + 1 > WACHAT_KB_SYN_WORD) {
            break;
        }

        if (o > 0) {
            out[o++] = ' ';
        }

        memcpy(out + o, s, k);
        o += k;
    }

    memcpy(w, out, o);
    w[o] = '\0';
    *len = o;

    return w;
}


/* build: one group's words into the map, the group's head first */
static int
wachat_kb_group(wachat_kb_t *kb, wachat_kb_lex_t *lex, const char *text,
    size_t len, const char *sep, uint32_t g)
{
    int          cjk, rc;
    char         w[WACHAT_KB_SYN_WORD + 1], *copy;
    size_t       i, n, o, k, wlen;
    uint32_t     cp, val;
    const char  *s, *end;

    end = text + len;
    s = text;

    while (s < end) {
        n = strcspn(s, sep);
        n = (size_t) (end - s) < n ? (size_t) (end - s) : n;

        /* lowercase ASCII, folded Chinese; anything else ends the word */
        o = 0;
        cjk = 0;

        for (i = 0; i < n && o + 4 < sizeof(w); i += k) {
            k = wachat_utf8_decode(s + i, n - i, &cp);

            if (k == 0) {
                break;
            }

            if (cp >= 'A' && cp <= 'Z') {
                cp += 0x20;
            }

            cjk |= (cp >= 0x80);
            o += wachat_utf8_encode(cp >= 0x80 ? wachat_kb_fold(cp) : cp,
                                    w + o);
        }

        s += n;
        s += strspn(s, sep);

        if (o == 0) {
            continue;
        }

        w[o] = '\0';
        wlen = o;

        if (!cjk && strchr(w, '_') == NULL
            && wachat_kb_surface(lex, w, wlen) != 0)
        {
            return -1;
        }

        copy = cjk ? w : wachat_kb_stem_phrase(lex, w, &wlen);

        if (g == kb->nsyn) {
            /* the first word: the head of a new group */
            kb->syn_head[g] = wachat_kb_strndup(&kb->arena, copy, wlen);
            if (kb->syn_head[g] == NULL) {
                return -1;
            }

            kb->nsyn++;
        }

        copy = wachat_kb_strndup(&kb->arena, copy, wlen);
        if (copy == NULL) {
            return -1;
        }

        val = g;
        rc = wachat_kb_map_put(&kb->syn, copy, wlen, &val);
        if (rc < 0) {
            return -1;
        }

        /* a word in two groups stays in the first (the KB's come first) */
    }

    return 0;
}


int
wachat_kb_synonyms_build(wachat_kb_t *kb, const char *const *own,
    size_t nown)
{
    int              rc;
    size_t           i, n;
    wachat_kb_lex_t  lex;

    n = nown + sizeof(wachat_kb_synonyms) / sizeof(wachat_kb_synonyms[0]);

    kb->syn_head = wachat_kb_alloc(&kb->arena, n * sizeof(char *));
    if (kb->syn_head == NULL || wachat_kb_lex_open(&lex, NULL) != 0) {
        return -1;
    }

    lex.build = kb;

    rc = 0;

    for (i = 0; i < nown && rc == 0; i++) {
        rc = wachat_kb_group(kb, &lex, own[i], strlen(own[i]), " ", kb->nsyn);
    }

    for (i = 0; i < n - nown && rc == 0; i++) {
        rc = wachat_kb_group(kb, &lex, wachat_kb_synonyms[i],
                             strlen(wachat_kb_synonyms[i]), " ", kb->nsyn);
    }

    wachat_kb_lex_close(&lex);

    return rc;
}
