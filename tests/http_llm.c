/*
 * HTTP clients' test, the LLM client: the chat completions body and the
 * answers (units), then the calls against the stand-in.
 */

#include <stdlib.h>
#include <string.h>

#include "http_test.h"


/* the body: prompt, passages, history, question, options */
static void
llm_build_bodies(void)
{
    static const wachat_llm_passage_t  pass[] = { { "T", "X" } };
    static const wachat_llm_turn_t     hist[] = {
        { WACHAT_LLM_USER, "a" }, { WACHAT_LLM_ASSISTANT, "b" },
    };
    wachat_llm_conf_t                  conf;
    wachat_llm_prompt_t                p;
    const char                        *why;
    char                              *json;
    size_t                             len;

    memset(&conf, 0, sizeof(conf));
    conf.model = "m";
    conf.system_prompt = "S";
    conf.max_tokens = 100;
    conf.temperature = 0.5;
    memset(&p, 0, sizeof(p));
    p.passages = pass;
    p.npassages = 1;
    p.history = hist;
    p.nhistory = 2;
    p.question = "q";

    ok(wachat_llm_build(&conf, &p, &json, &len, &why) == 0, "LLM body");
    is_str(json, "{\"model\":\"m\",\"messages\":["
           "{\"role\":\"system\",\"content\":\"S\"},"
           "{\"role\":\"system\",\"content\":"
           "\"Knowledge base passages:\\n\\n### T\\nX\"},"
           "{\"role\":\"user\",\"content\":\"a\"},"
           "{\"role\":\"assistant\",\"content\":\"b\"},"
           "{\"role\":\"user\",\"content\":\"q\"}],"
           "\"max_tokens\":100,\"temperature\":0.5,\"stream\":false}",
           "LLM body: system, passages, history, question; options");
    free(json);

    conf.system_prompt = NULL;
    conf.max_tokens = 0;
    conf.temperature = -1;
    p.npassages = 0;
    p.nhistory = 0;
    ok(wachat_llm_build(&conf, &p, &json, &len, &why) == 0, "minimal body");
    is_str(json, "{\"model\":\"m\",\"messages\":["
           "{\"role\":\"system\",\"content\":\"Knowledge base passages:"
           " none matched the customer's message.\"},"
           "{\"role\":\"user\",\"content\":\"q\"}],\"stream\":false}",
           "LLM body without prompt, passages, history or options");
    free(json);
}


/* the answer: content trimmed, reasoning dropped, failures with a reason */
static void
llm_parse_answers(void)
{
    wachat_llm_result_t   r;
    const char           *body;

    body = "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
           "\"content\":\"  We open at 9.\\n\"},\"finish_reason\":\"stop\"}]}";
    ok(wachat_llm_parse(200, body, strlen(body), &r) == 1, "answer parsed");
    is_str(r.content, "We open at 9.", "content trimmed");
    is_str(r.finish_reason, "stop", "finish_reason");
    wachat_llm_result_free(&r);

    body = "{\"choices\":[{\"message\":{\"content\":"
           "\"<think>hmm</think>\\n\\nAnswer\"}}]}";
    wachat_llm_parse(200, body, strlen(body), &r);
    is_str(r.content, "Answer", "a leading think block is dropped");
    wachat_llm_result_free(&r);

    body = "{\"choices\":[{\"message\":{\"content\":\"<think>hmm\"}}]}";
    wachat_llm_parse(200, body, strlen(body), &r);
    ok(!r.ok, "only reasoning: failure (%s)",
       r.error ? r.error : "ok");
    wachat_llm_result_free(&r);

    body = "{\"choices\":[{\"message\":{\"content\":\" \\n\"}}]}";
    wachat_llm_parse(200, body, strlen(body), &r);
    ok(!r.ok && has(r.error, "empty"), "blank content: failure (%s)",
       r.error ? r.error : "ok");
    wachat_llm_result_free(&r);

    body = "{\"choices\":[{\"message\":{\"content\":null}}]}";
    wachat_llm_parse(200, body, strlen(body), &r);
    ok(!r.ok, "null content: failure (%s)",
       r.error ? r.error : "ok");
    wachat_llm_result_free(&r);

    body = "{\"choices\":[]}";
    wachat_llm_parse(200, body, strlen(body), &r);
    ok(!r.ok, "no choices: failure (%s)",
       r.error ? r.error : "ok");
    wachat_llm_result_free(&r);

    body = "not json";
    wachat_llm_parse(200, body, strlen(body), &r);
    ok(!r.ok, "not JSON: failure (%s)",
       r.error ? r.error : "ok");
    wachat_llm_result_free(&r);

    body = "{\"error\":{\"message\":\"model not found\"}}";
    wachat_llm_parse(404, body, strlen(body), &r);
    ok(!r.ok && has(r.error, "404") && has(r.error, "model not found"),
       "HTTP 404: failure with the server's reason (%s)",
       r.error ? r.error : "ok");
    wachat_llm_result_free(&r);
}


void
unit_llm(void)
{
    llm_build_bodies();
    llm_parse_answers();
}


static wachat_llm_t *
llm_new(wachat_http_t *h, const char *path, const char *key,
    long timeout_ms, int full)
{
    wachat_llm_conf_t   conf;
    wachat_llm_t       *l;
    const char         *why = NULL;
    char               *u = join(url, path);

    memset(&conf, 0, sizeof(conf));
    conf.url = u;
    conf.model = "test-model";
    conf.key = key;
    conf.timeout_ms = timeout_ms;
    conf.temperature = -1;
    if (full) {
        conf.system_prompt = "You answer for Lucky Shrub.";
        conf.max_tokens = 300;
        conf.temperature = 0.2;
    }
    l = wachat_llm_new(h, &conf, &why);
    if (l == NULL) {
        diag("wachat_llm_new: %s", why);
    }
    free(u);
    return l;
}


/* the request shape is checked by the .t */
int
scenario_llm(void)
{
    static const wachat_llm_passage_t  pass[] = {
        { "What are your opening hours?",
          "We are open Monday to Friday, 9:00 to 18:00." },
        { "營業時間", "星期一至五 9:00 至 18:00。" },
    };
    static const wachat_llm_turn_t     hist[] = {
        { WACHAT_LLM_USER, "hi" },
        { WACHAT_LLM_ASSISTANT, "Hello! How can I help?" },
        { WACHAT_LLM_USER, "do you deliver?" },
    };
    wachat_http_t                     *h = wachat_http_new(base, 4);
    wachat_llm_prompt_t                p;
    llm_slot_t                         a, b;
    wachat_llm_t                      *full, *bare;

    full = llm_new(h, "/v1/", "sk-test-key", 5000, 1);
    bare = llm_new(h, "/plain", NULL, 5000, 0);
    ok(full && bare, "LLM clients");

    memset(&p, 0, sizeof(p));
    p.passages = pass;
    p.npassages = 2;
    p.history = hist;
    p.nhistory = 3;
    p.question = "when are you open on Saturday?";

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    ok(wachat_llm_complete(full, &p, llm_cb, &a) == 0, "full prompt sent");
    pending++;
    wachat_llm_free(full);              /* in flight: must not matter */
    run(10000);
    ok(a.calls == 1 && a.ok, "answer ok");
    is_str(a.content, "Stand-in answer to: when are you open on Saturday?",
           "choices[0].message.content");
    is_str(a.finish, "stop", "finish_reason");

    p.npassages = 0;
    p.nhistory = 0;
    p.question = "hello";
    ok(wachat_llm_complete(bare, &p, llm_cb, &b) == 0, "bare prompt sent");
    pending++;
    run(10000);
    ok(b.calls == 1 && b.ok, "bare: answer ok");

    wachat_llm_free(bare);
    wachat_http_free(h);
    return 0;
}


int
scenario_llm_errors(void)
{
    static const char  *paths[] = {
        "/e500", "/e401", "/badjson", "/empty", "/nochoices", "/hang",
    };
    enum { N = sizeof(paths) / sizeof(paths[0]) };
    wachat_http_t        *h = wachat_http_new(base, 8);
    wachat_llm_prompt_t   p;
    wachat_llm_t         *l[N];
    llm_slot_t            s[N];
    size_t                i;

    memset(&p, 0, sizeof(p));
    p.question = "hello";
    memset(s, 0, sizeof(s));
    for (i = 0; i < N; i++) {
        l[i] = llm_new(h, paths[i], "k", 1500, 0);
        if (l[i] && wachat_llm_complete(l[i], &p, llm_cb, &s[i]) == 0) {
            pending++;
        }
    }
    ok(run(10000), "every LLM error case answered");

    for (i = 0; i < N; i++) {
        ok(s[i].calls == 1 && !s[i].ok && s[i].error[0],
           "%s: failure: %s", paths[i], s[i].error);
        wachat_llm_free(l[i]);
    }
    ok(has(s[0].error, "500") && has(s[0].error, "overloaded"),
       "the server's error message is kept");
    ok(s[1].status == 401, "401 reported");
    ok(s[5].timed_out, "the hung one timed out");
    wachat_http_free(h);
    return 0;
}
