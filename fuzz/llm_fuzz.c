/*
 * libFuzzer target for the chat completions client (wachatd/clients/llm.h):
 * wachat_llm_parse() of an answer with a chosen HTTP status, and
 * wachat_llm_build() with strings cut from the input.
 *
 * Input: byte 0 holds flags (history roles, system prompt, temperature and
 * max_tokens sent or not), bytes 1-2 pick the HTTP status (a table of the
 * usual ones, or any value up to 999); the rest is the answer body.  The
 * same rest, split at \x01, gives model, system prompt, question, two
 * passages (title, text) and up to three history turns.
 *
 * Besides ASan/UBSan it aborts when a result breaks llm.h (ok without a
 * trimmed, non-empty content or with an error; a failure without a reason
 * or with content; ok for a status other than 200) or when a built body is
 * not JSON with the model, the question last and one message per part.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "clients/llm.h"
#include "fuzz_common.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#define NFIELDS  10


static const long  statuses[] = {
    200, 200, 200, 200, 0, 400, 401, 404, 408, 413, 429, 500, 502, 503,
    504, 201
};


static int
blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}


static void
check_parse(long status, const char *body, size_t len)
{
    size_t               n;
    wachat_llm_result_t  res;

    n = (size_t) wachat_llm_parse(status, body, len, &res);

    check((int) n == res.ok && res.http_status == status);

    if (res.ok) {
        check(status == 200 && res.error == NULL && res.content != NULL);
        n = strlen(res.content);
        check(n > 0 && !blank(res.content[0]) && !blank(res.content[n - 1]));
    } else {
        check(res.error != NULL && res.error[0] != '\0'
              && res.content == NULL);
    }

    wachat_llm_result_free(&res);
    check(res.content == NULL && res.error == NULL
          && res.finish_reason == NULL);
}


static const char *
get_str(yajl_val v, const char *a, const char *b)
{
    const char  *path[3] = { a, b, NULL };

    v = yajl_tree_get(v, path, yajl_t_string);
    return v ? v->u.string : NULL;
}


static void
check_build(const char *rest, size_t len, unsigned flags)
{
    char                  *copy, *f[NFIELDS], *json, errbuf[128];
    size_t                 n, i, jlen, want;
    const char            *why, *s;
    yajl_val               root, msgs, last;
    wachat_llm_conf_t      conf;
    wachat_llm_prompt_t    prompt;
    wachat_llm_passage_t   pass[2];
    wachat_llm_turn_t      hist[3];
    const char            *msgs_p[] = { "messages", NULL };

    copy = split_fields(rest, len, f, NFIELDS, &n);

    memset(&conf, 0, sizeof(conf));
    conf.url = "http://127.0.0.1:8080/v1";
    conf.model = f[0];
    conf.system_prompt = (flags & 0x01) ? f[1] : NULL;
    conf.max_tokens = (flags & 0x02) ? (long) len : 0;
    conf.temperature = (flags & 0x04) ? (double) (len % 300) / 100.0 : -1;

    pass[0].title = f[3];
    pass[0].text = f[4];
    pass[1].title = f[5];
    pass[1].text = (flags & 0x08) ? NULL : f[6];
    for (i = 0; i < 3; i++) {
        hist[i].role = (flags >> (4 + i)) & 1 ? WACHAT_LLM_ASSISTANT
                                              : WACHAT_LLM_USER;
        hist[i].text = f[7 + i];
    }

    memset(&prompt, 0, sizeof(prompt));
    prompt.passages = pass;
    prompt.npassages = n > 6 ? 2 : n > 4 ? 1 : 0;
    prompt.history = hist;
    prompt.nhistory = n > 7 ? n - 7 : 0;
    prompt.question = f[2];

    json = NULL;
    why = NULL;
    if (wachat_llm_build(&conf, &prompt, &json, &jlen, &why) != 0) {
        check(why != NULL);
        free(copy);
        return;
    }

    check(json != NULL && strlen(json) == jlen);
    root = yajl_tree_parse(json, errbuf, sizeof(errbuf));
    check(root != NULL);

    s = get_str(root, "model", NULL);
    check(s != NULL && strcmp(s, conf.model) == 0);

    msgs = yajl_tree_get(root, msgs_p, yajl_t_array);
    want = (conf.system_prompt && conf.system_prompt[0] ? 1 : 0) + 1
           + prompt.nhistory + 1;
    check(msgs != NULL && msgs->u.array.len == want);

    last = msgs->u.array.values[want - 1];
    s = get_str(last, "role", NULL);
    check(s != NULL && strcmp(s, "user") == 0);
    s = get_str(last, "content", NULL);
    check(s != NULL && strcmp(s, prompt.question) == 0);

    yajl_tree_free(root);
    free(json);
    free(copy);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long         status;
    unsigned     flags;
    const char  *body;

    if (size < 3) {
        return 0;
    }

    flags = data[0];
    if (data[1] & 0x80) {
        status = (((long) (data[1] & 0x7f) << 8) | data[2]) % 1000;
    } else {
        status = statuses[data[1] % (sizeof(statuses) / sizeof(statuses[0]))];
    }
    body = (const char *) data + 3;
    size -= 3;

    check_parse(status, body, size);
    check_parse(status, NULL, 0);
    check_build(body, size, flags);

    return 0;
}
