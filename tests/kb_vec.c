/*
 * kb unit test, hybrid retrieval: the text and cache name of an entry's
 * vector, the vectors' rules, the fusion of word and meaning rankings
 * (answer/kb_vec.h) and the embeddings answer's parser (clients/embed.h).
 * Vectors are made by hand: one axis per entry, so "the meaning" of a
 * question is exactly what the test says it is.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/answer.h"
#include "answer/kb_vec.h"
#include "clients/embed.h"
#include "kb_test.h"
#include "tap.h"


static const char  vec_kb[] =
    "## Opening hours {#hours}\n"
    "Also: when are you open | opening times\n"
    "We open at 9.\n"
    "\n"
    "## Repairs {#repair}\n"
    "We fix bikes.\n"
    "\n"
    "## Rental {#rent}\n"
    "15 EUR a day.\n"
    "\n"
    "## Returns {#returns}\n"
    "Within 14 days.\n"
    "\n"
    "## Delivery {#delivery}\n"
    "5 EUR in town.\n";


/* a unit vector on axis i, a little of axis j */
static void
axis(float *v, size_t dim, size_t i, size_t j, float little)
{
    memset(v, 0, dim * sizeof(float));
    v[i] = 1;
    v[j] += little;
}


static size_t
entry_no(const wachat_kb_t *kb, const wachat_kb_entry_t *e)
{
    return (size_t) (e - wachat_kb_entry(kb, 0));
}


static void
test_vec_text(const wachat_kb_t *kb)
{
    char  buf[WACHAT_EMBED_MAX_TEXT], key[65], key2[65], small[12];

    wachat_kb_vec_text(wachat_kb_entry(kb, 0), buf, sizeof(buf));
    is_str(buf, "Opening hours\nwhen are you open | opening times\n"
           "We open at 9.", "vec: an entry's text: question, Also, answer");

    /* 7 bytes of room: 營業 (6) and not a third of 時 */
    {
        wachat_kb_t  *zh;
        const char   *text = "## 營業時間 {#zh}\n九點。\n";

        zh = wachat_kb_parse(text, strlen(text), "zh", small,
                             sizeof(small));
        if (zh) {
            wachat_kb_vec_text(wachat_kb_entry(zh, 0), small, 8);
            is_str(small, "營業", "vec: cut on a character boundary");
            wachat_kb_free(zh);

        } else {
            ok(0, "vec: the Chinese KB loads");
        }
    }

    wachat_kb_vec_key("m1", buf, key);
    wachat_kb_vec_key("m2", buf, key2);
    ok(strlen(key) == 64 && strspn(key, "0123456789abcdef") == 64,
       "vec: the cache name is 64 hex digits");
    ok(strcmp(key, key2) != 0, "vec: another model, another name");
    wachat_kb_vec_key("m1", buf, key2);
    ok(strcmp(key, key2) == 0, "vec: the same text and model, the same name");
}


static void
test_vec_rules(void)
{
    float                v[4] = { 3, 4, 0, 0 }, z[4] = { 0 }, w[3] = { 1, 0, 0 };
    wachat_kb_vectors_t  vs;

    ok(wachat_kb_vectors_init(&vs, 2) == 0, "vec: init");
    ok(!wachat_kb_vectors_ready(&vs), "vec: not ready without vectors");
    ok(wachat_kb_vectors_set(&vs, 0, v, 4) == 0, "vec: set");
    ok(fabsf(vs.vec[0] - 0.6f) < 1e-6 && fabsf(vs.vec[1] - 0.8f) < 1e-6,
       "vec: normalised to length 1");
    ok(wachat_kb_vectors_set(&vs, 1, z, 4) != 0, "vec: zeros refused");
    ok(wachat_kb_vectors_set(&vs, 1, w, 3) != 0,
       "vec: another dimension refused");
    ok(wachat_kb_vectors_set(&vs, 2, v, 4) != 0, "vec: no such entry");
    ok(!wachat_kb_vectors_ready(&vs), "vec: one of two: not ready");
    ok(wachat_kb_vectors_set(&vs, 1, v, 4) == 0
       && wachat_kb_vectors_ready(&vs), "vec: both: ready");
    wachat_kb_vectors_free(&vs);
}


/* lexical hits by hand: entries and scores, best first */
static size_t
lex(const wachat_kb_t *kb, wachat_kb_hit_t *h, const size_t *e,
    const double *s, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        h[i].entry = wachat_kb_entry(kb, e[i]);
        h[i].score = s[i];
        h[i].bm25 = s[i] * 10;
    }

    return n;
}


static void
test_fuse(const wachat_kb_t *kb)
{
    float                v[5], q[5];
    size_t               i, n, nl, best;
    wachat_kb_hit_t      l[8], h[8];
    wachat_kb_fuse_t     f;
    wachat_kb_vectors_t  vs;

    /* entry i is axis i */
    wachat_kb_vectors_init(&vs, 5);

    for (i = 0; i < 5; i++) {
        axis(v, 5, i, (i + 1) % 5, 0);
        wachat_kb_vectors_set(&vs, i, v, 5);
    }

    wachat_kb_fuse_default(&f);
    ok(f.boost == 0.0, "fuse: no boost by default (embed_kb_boost 0)");
    f.boost = 0.10;     /* the boost's rules, as with embed_kb_boost 0.1 */

    /* words: returns 0.40 (near 0.45); meaning: returns clearly first */
    {
        size_t  e[] = { 3, 2 };
        double  s[] = { 0.40, 0.20 };

        nl = lex(kb, l, e, s, 2);
        axis(q, 5, 3, 0, 0.3f);
        n = wachat_kb_fuse(kb, &vs, &f, l, nl, q, 5, h, 3, &best);
        ok(n == 3 && entry_no(kb, h[0].entry) == 3,
           "fuse: agreeing rankings: returns first");
        ok(entry_no(kb, h[best].entry) == 3
           && fabs(h[best].score - 0.50) < 1e-9,
           "fuse: near the threshold, the meaning's first gains the boost "
           "(%.2f)", h[best].score);
    }

    /* no word in common: first by meaning, never confident */
    {
        nl = 0;
        axis(q, 5, 1, 0, 0.1f);
        n = wachat_kb_fuse(kb, &vs, &f, l, nl, q, 5, h, 2, &best);
        ok(n == 2 && entry_no(kb, h[0].entry) == 1,
           "fuse: no lexical hit: the meaning ranks (repair first)");
        ok(h[best].score == 0,
           "fuse: and its confidence stays 0: the words do not agree (%.2f)",
           h[best].score);
        f.agree = 0;
        wachat_kb_fuse(kb, &vs, &f, l, nl, q, 5, h, 2, &best);
        ok(fabs(h[best].score - f.boost) < 1e-9,
           "fuse: agree 0: the boost alone (%.2f)", h[best].score);
        f.agree = 1;
    }

    /* words' best by chance: the meaning ranks it last, doubt */
    {
        size_t  e[] = { 0 };
        double  s[] = { 0.50 };

        nl = lex(kb, l, e, s, 1);
        axis(q, 5, 4, 3, 0.5f);
        q[0] = -0.2f;       /* hours: last by meaning */
        n = wachat_kb_fuse(kb, &vs, &f, l, nl, q, 5, h, 5, &best);

        for (i = 0; i < n && entry_no(kb, h[i].entry) != 0; i++) {
            /* find hours */
        }

        ok(i < n && fabs(h[i].score - 0.40) < 1e-9,
           "fuse: the words' best, ranked below 3 by meaning, loses the "
           "doubt (%.2f)", i < n ? h[i].score : -1);
        ok(entry_no(kb, h[0].entry) == 4,
           "fuse: the fused order follows the meaning's first (delivery)");
    }

    /* the passages: a clear lexical first stays among them */
    {
        size_t  e[] = { 0, 1, 2 };
        double  s[] = { 0.90, 0.30, 0.20 };

        nl = lex(kb, l, e, s, 3);
        axis(q, 5, 4, 0, 0.5f);
        n = wachat_kb_fuse(kb, &vs, &f, l, nl, q, 5, h, 2, &best);
        ok(n == 2 && (entry_no(kb, h[0].entry) == 0
                      || entry_no(kb, h[1].entry) == 0),
           "fuse: 2 passages: the words' clear first is one of them");
        ok(entry_no(kb, h[0].entry) == 4 || entry_no(kb, h[1].entry) == 4,
           "fuse: and the meaning's first the other");
        ok(entry_no(kb, h[best].entry) == 0
           && fabs(h[best].score - 0.90) < 1e-9,
           "fuse: the kb answer is the words' confident one (0.90)");
    }

    /* no question vector, another dimension: the words, untouched */
    {
        size_t  e[] = { 2, 0 };
        double  s[] = { 0.70, 0.60 };

        nl = lex(kb, l, e, s, 2);
        n = wachat_kb_fuse(kb, &vs, &f, l, nl, NULL, 5, h, 8, &best);
        ok(n == 2 && h[0].entry == l[0].entry && h[0].score == 0.70
           && best == 0, "fuse: no question vector: the lexical hits");
        n = wachat_kb_fuse(kb, &vs, &f, l, nl, q, 4, h, 8, &best);
        ok(n == 2 && h[1].entry == l[1].entry,
           "fuse: a question of another dimension: the lexical hits");
    }

    /* the answer: wachat_answer_kb_hybrid() on the same rules */
    {
        wachat_reply_t        r;
        wachat_answer_opts_t  sure, loose;
        wachat_question_t     qq = { "text", "zzzz qqqq", NULL };

        wachat_answer_opts_plain(&sure, 0.45, "not sure");
        wachat_answer_opts_plain(&loose, 0.05, "not sure");

        axis(q, 5, 1, 0, 0.1f);
        ok(wachat_answer_kb_hybrid(kb, &vs, q, 5, &sure, &qq, &r)
           == 1 && strcmp(r.source, "fallback") == 0,
           "answer: meaning alone never answers with confidence");
        wachat_answer_free(&r);
        ok(wachat_answer_kb_hybrid(kb, &vs, q, 5, &loose, &qq, &r)
           == 1 && strcmp(r.source, "fallback") == 0
           && strstr(r.context, "repair") != NULL,
           "answer: not even at 0.05; the nearest is repair");
        wachat_answer_free(&r);
    }

    wachat_kb_vectors_free(&vs);
}


static void
test_embed_parse(void)
{
    char    why[256];
    float  *v;
    size_t  dim;

    const char  *good = "{\"object\":\"list\",\"data\":["
        "{\"index\":1,\"embedding\":[0,2]},"
        "{\"index\":0,\"embedding\":[3,4.0]}]}";

    ok(wachat_embed_parse(200, good, strlen(good), 2, 0, &v, &dim, why,
                          sizeof(why)) == 0 && dim == 2
       && fabsf(v[0] - 0.6f) < 1e-6 && fabsf(v[3] - 1.0f) < 1e-6,
       "embed: parsed by index, normalised");
    free(v);

    ok(wachat_embed_parse(200, good, strlen(good), 2, 3, &v, &dim, why,
                          sizeof(why)) != 0 && strstr(why, "2 numbers"),
       "embed: another dimension than wanted: %s", why);
    ok(wachat_embed_parse(200, good, strlen(good), 3, 0, &v, &dim, why,
                          sizeof(why)) != 0 && v == NULL,
       "embed: not one vector per text: %s", why);
    ok(wachat_embed_parse(500, good, strlen(good), 2, 0, &v, &dim, why,
                          sizeof(why)) != 0 && strstr(why, "HTTP 500"),
       "embed: %s", why);
    ok(wachat_embed_parse(200, "{\"data\":[{", 10, 1, 0, &v, &dim, why,
                          sizeof(why)) != 0, "embed: broken JSON: %s", why);

    {
        const char  *bad[] = {
            "{\"data\":[{\"index\":0,\"embedding\":[0,0]}]}",
            "{\"data\":[{\"index\":0,\"embedding\":[1,\"x\"]}]}",
            "{\"data\":[{\"index\":0,\"embedding\":[1,1]},"
            "{\"index\":0,\"embedding\":[1,1]}]}",
            "{\"data\":[{\"index\":0,\"embedding\":[1,1]},"
            "{\"index\":1,\"embedding\":[1]}]}",
            "{\"data\":[{\"index\":7,\"embedding\":[1]}]}",
            "{\"data\":[{\"embedding\":[]}]}",
            NULL
        };
        const char  **b;

        for (b = bad; *b; b++) {
            ok(wachat_embed_parse(200, *b, strlen(*b),
                                  strstr(*b, "},{") ? 2 : 1, 0, &v, &dim,
                                  why, sizeof(why)) != 0 && v == NULL,
               "embed: refused: %s", why);
        }
    }

    {
        char         *json;
        size_t        len;
        const char   *texts[] = { "a \"b\"", "營業" };

        ok(wachat_embed_build("m", texts, 2, &json, &len) == 0
           && strcmp(json, "{\"model\":\"m\",\"input\":[\"a \\\"b\\\"\","
                     "\"營業\"],\"encoding_format\":\"float\"}") == 0,
           "embed: the request body");
        free(json);
    }
}


void
test_vec(void)
{
    char          err[256];
    wachat_kb_t  *kb;

    kb = wachat_kb_parse(vec_kb, strlen(vec_kb), "vec", err, sizeof(err));

    if (!ok(kb != NULL, "vec: the test KB loads")) {
        diag("%s", err);
        return;
    }

    test_vec_text(kb);
    test_vec_rules();
    test_fuse(kb);
    test_embed_parse();

    wachat_kb_free(kb);
}
