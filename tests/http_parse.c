/*
 * HTTP clients' test, units: Graph answers parsed and classified, the
 * backoff, the error explanations.
 */

#include <string.h>

#include "http_test.h"


typedef struct {
    long                    status;
    const char             *body;
    wachat_graph_result_e   want;
    long                    code;
    const char             *name;
} parse_case_t;


static const parse_case_t  parse_cases[] = {
    { 429, "{\"error\":{\"message\":\"(#130429) Rate limit hit\","
           "\"type\":\"OAuthException\",\"code\":130429,"
           "\"error_data\":{\"messaging_product\":\"whatsapp\","
           "\"details\":\"too many messages\"},"
           "\"error_subcode\":2494055,"
           "\"fbtrace_id\":\"Az8or2yhqkZfEZ\"}}",
      WACHAT_GRAPH_RETRY, 130429, "429 / 130429" },
    { 400, "{\"error\":{\"message\":\"(#130429) Rate limit hit\","
           "\"code\":130429}}",
      WACHAT_GRAPH_RETRY, 130429, "400 with code 130429: by code" },
    { 400, "{\"error\":{\"message\":\"Re-engagement message\","
           "\"code\":131047,\"error_data\":{\"details\":\"24h\"}}}",
      WACHAT_GRAPH_PERMANENT, 131047, "400 / 131047 outside window" },
    { 401, "{\"error\":{\"message\":\"Error validating access token\","
           "\"type\":\"OAuthException\",\"code\":190,"
           "\"error_subcode\":463}}",
      WACHAT_GRAPH_TOKEN, 190, "401 / 190 token expired" },
    { 400, "{\"error\":{\"message\":\"(#131056) pair rate\","
           "\"code\":131056}}",
      WACHAT_GRAPH_PACE, 131056, "131056 pair rate limit" },
    { 500, "{\"error\":{\"message\":\"x\",\"code\":131000}}",
      WACHAT_GRAPH_RETRY, 131000, "131000 something went wrong" },
    { 400, "{\"error\":{\"message\":\"x\",\"code\":100}}",
      WACHAT_GRAPH_PERMANENT, 100, "100 invalid parameter" },
    { 403, "{\"error\":{\"message\":\"x\",\"code\":200}}",
      WACHAT_GRAPH_PERMANENT, 200, "200 permission" },
    { 503, "{\"error\":{\"message\":\"x\",\"code\":2}}",
      WACHAT_GRAPH_RETRY, 2, "2 service unavailable" },
    { 400, "{\"error\":{\"message\":\"x\",\"code\":4}}",
      WACHAT_GRAPH_RETRY, 4, "4 app rate limit" },
    { 400, "{\"error\":{\"message\":\"x\",\"code\":80007}}",
      WACHAT_GRAPH_RETRY, 80007, "80007 WABA rate limit" },
    { 400, "{\"error\":{\"message\":\"x\",\"code\":0}}",
      WACHAT_GRAPH_TOKEN, 0, "0 AuthException" },
    { 400, "{\"error\":{\"message\":\"x\",\"code\":131057}}",
      WACHAT_GRAPH_RETRY, 131057, "131057 maintenance" },
    { 400, "{\"error\":{\"message\":\"x\",\"code\":424242}}",
      WACHAT_GRAPH_PERMANENT, 424242, "unknown code with 400" },
    { 502, "{\"error\":{\"message\":\"x\",\"code\":424242}}",
      WACHAT_GRAPH_RETRY, 424242, "unknown code with 502" },
    { 200, "{\"error\":{\"message\":\"x\",\"code\":131026}}",
      WACHAT_GRAPH_PERMANENT, 131026, "error object with a 200" },
    { 200, "{\"messaging_product\":\"whatsapp\",\"contacts\":[]}",
      WACHAT_GRAPH_PERMANENT, -1, "200 without messages[0].id" },
    { 200, "{\"messages\":[]}",
      WACHAT_GRAPH_PERMANENT, -1, "200 with empty messages" },
    { 200, "<html>welcome to nginx</html>",
      WACHAT_GRAPH_PERMANENT, -1, "200 with HTML" },
    { 503, "Service Unavailable",
      WACHAT_GRAPH_RETRY, -1, "503 without JSON" },
    { 429, "", WACHAT_GRAPH_RETRY, -1, "429 without a body" },
    { 401, "", WACHAT_GRAPH_TOKEN, -1, "401 without a body" },
    { 404, "", WACHAT_GRAPH_PERMANENT, -1, "404 without a body" },
    { 0, NULL, WACHAT_GRAPH_RETRY, -1, "network error" },
};


/* each canned answer gives its class and code */
static void
parse_table(void)
{
    wachat_graph_reply_t  r;
    size_t                i;

    for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        wachat_graph_parse(WACHAT_GRAPH_OP_SEND, parse_cases[i].status,
                           parse_cases[i].body,
                           parse_cases[i].body ? strlen(parse_cases[i].body) : 0,
                           parse_cases[i].body ? NULL : "Connection refused", &r);
        ok(r.result == parse_cases[i].want && r.code == parse_cases[i].code
           && r.message != NULL,
           "%s -> %s", parse_cases[i].name, wachat_graph_result_name(r.result));
        if (r.result != parse_cases[i].want || r.code != parse_cases[i].code) {
            diag("code %ld message %s", r.code, r.message);
        }
        wachat_graph_reply_free(&r);
    }
}


/* what is kept of an error; success answers of send and mark read */
static void
parse_answers(void)
{
    wachat_graph_reply_t  r;
    const char           *body;

    wachat_graph_parse(WACHAT_GRAPH_OP_SEND, 429, parse_cases[0].body,
                       strlen(parse_cases[0].body), NULL, &r);
    is_str(r.message, "(#130429) Rate limit hit", "error.message kept");
    is_str(r.details, "too many messages", "error_data.details kept");
    is_str(r.fbtrace_id, "Az8or2yhqkZfEZ", "fbtrace_id kept");
    is_str(r.err_type, "OAuthException", "error.type kept");
    is_long(r.subcode, 2494055, "error_subcode kept");
    wachat_graph_reply_free(&r);

    body = "{\"messaging_product\":\"whatsapp\",\"contacts\":"
           "[{\"input\":\"+1\",\"wa_id\":\"1\"}],\"messages\":"
           "[{\"id\":\"wamid.OUT1\"}]}";
    wachat_graph_parse(WACHAT_GRAPH_OP_SEND, 200, body, strlen(body), NULL,
                       &r);
    ok(r.result == WACHAT_GRAPH_OK, "send answer: ok");
    is_str(r.wamid, "wamid.OUT1", "send answer: messages[0].id");
    wachat_graph_reply_free(&r);

    wachat_graph_parse(WACHAT_GRAPH_OP_SEND, 200,
                       "{\"messages\":[{\"id\":\"wamid.X\"}]}", 20, NULL,
                       &r);
    ok(r.result != WACHAT_GRAPH_OK, "a body cut short is no success");
    wachat_graph_reply_free(&r);

    wachat_graph_parse(WACHAT_GRAPH_OP_READ, 200, "{\"success\":true}", 16,
                       NULL, &r);
    ok(r.result == WACHAT_GRAPH_OK, "mark-read answer: ok");
    wachat_graph_reply_free(&r);
    wachat_graph_parse(WACHAT_GRAPH_OP_READ, 200, "{\"success\":false}", 17,
                       NULL, &r);
    ok(r.result == WACHAT_GRAPH_PERMANENT, "success false is no success");
    wachat_graph_reply_free(&r);
}


static void
parse_classify(void)
{
    /* the errors[].code of a failed status webhook */
    ok(wachat_graph_classify(131047, 0) == WACHAT_GRAPH_PERMANENT,
       "classify 131047 without HTTP: permanent");
    ok(wachat_graph_classify(131049, 0) == WACHAT_GRAPH_PERMANENT,
       "classify 131049: permanent");
    ok(wachat_graph_classify(131048, 0) == WACHAT_GRAPH_PERMANENT,
       "classify 131048 spam limit: permanent");
    ok(wachat_graph_classify(250, 400) == WACHAT_GRAPH_PERMANENT
       && wachat_graph_classify(299, 500) == WACHAT_GRAPH_PERMANENT,
       "200-299 permission range: permanent, even with a 5xx");
    ok(wachat_graph_classify(1, 400) == WACHAT_GRAPH_RETRY,
       "code 1: retry");
    ok(wachat_graph_classify(368, 400) == WACHAT_GRAPH_PERMANENT
       && wachat_graph_classify(131031, 400) == WACHAT_GRAPH_PERMANENT
       && wachat_graph_classify(3, 400) == WACHAT_GRAPH_PERMANENT
       && wachat_graph_classify(10, 400) == WACHAT_GRAPH_PERMANENT
       && wachat_graph_classify(131008, 400) == WACHAT_GRAPH_PERMANENT
       && wachat_graph_classify(131009, 400) == WACHAT_GRAPH_PERMANENT
       && wachat_graph_classify(131051, 400) == WACHAT_GRAPH_PERMANENT
       && wachat_graph_classify(131026, 400) == WACHAT_GRAPH_PERMANENT,
       "368 131031 3 10 131008 131009 131051 131026: permanent");
}


void
unit_parse(void)
{
    parse_table();
    parse_answers();
    parse_classify();
}


void
unit_backoff(void)
{
    long      ms, lo, hi;
    int       i, in_range;
    unsigned  a;

    in_range = 1;
    lo = 1L << 30;
    hi = 0;
    for (i = 0; i < 400; i++) {
        ms = wachat_graph_backoff_ms(5, WACHAT_GRAPH_RETRY);
        in_range &= ms >= 100 && ms <= 32000;
        lo = ms < lo ? ms : lo;
        hi = ms > hi ? ms : hi;
    }
    ok(in_range, "retry 5: within [100 ms, 32 s]");
    ok(lo < 8000 && hi > 24000, "retry 5: full jitter spreads (%ld..%ld)",
       lo, hi);

    in_range = 1;
    for (i = 0; i < 100; i++) {
        ms = wachat_graph_backoff_ms(0, WACHAT_GRAPH_RETRY);
        in_range &= ms >= 100 && ms <= 1000;
    }
    ok(in_range, "retry 0: within [100 ms, 1 s]");

    in_range = 1;
    for (a = 6; a < 70; a++) {
        ms = wachat_graph_backoff_ms(a, WACHAT_GRAPH_RETRY);
        in_range &= ms >= 100 && ms <= 60000;
    }
    ok(in_range, "retry caps at 60 s, no overflow for large attempts");

    ms = wachat_graph_backoff_ms(0, WACHAT_GRAPH_PACE);
    ok(ms >= 1000 && ms <= 1100, "pace 0: 4^0 s (+10%%): %ld", ms);
    ms = wachat_graph_backoff_ms(1, WACHAT_GRAPH_PACE);
    ok(ms >= 4000 && ms <= 4400, "pace 1: 4^1 s: %ld", ms);
    ms = wachat_graph_backoff_ms(2, WACHAT_GRAPH_PACE);
    ok(ms >= 16000 && ms <= 17600, "pace 2: 4^2 s: %ld", ms);
    ms = wachat_graph_backoff_ms(40, WACHAT_GRAPH_PACE);
    ok(ms >= 900000 && ms <= 990000, "pace caps at 15 min: %ld", ms);

    ok(wachat_graph_backoff_ms(0, WACHAT_GRAPH_PERMANENT) < 0
       && wachat_graph_backoff_ms(0, WACHAT_GRAPH_TOKEN) < 0
       && wachat_graph_backoff_ms(0, WACHAT_GRAPH_OK) < 0,
       "no timed retry for permanent, token, ok");
    ok(wachat_graph_max_attempts(131000, WACHAT_GRAPH_RETRY)
       < wachat_graph_max_attempts(130429, WACHAT_GRAPH_RETRY),
       "131000 gets fewer attempts than 130429");
    is_long(wachat_graph_max_attempts(131047, WACHAT_GRAPH_PERMANENT), 1,
            "a permanent error gets one attempt");
}


void
unit_explain(void)
{
    static const long  table[] = {
        0, 1, 2, 3, 4, 10, 100, 190, 200, 299, 368, 80007, 130429, 130472,
        131000, 131008, 131009, 131026, 131030, 131031, 131047, 131048,
        131049, 131051, 131056, 131057, 133010
    };
    const wachat_graph_hint_t  *h;
    size_t                      i, n;
    int                         all = 1;
    int                         topics = 0;

    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (wachat_graph_explain(table[i]) == NULL) {
            diag("no explanation for %ld", table[i]);
            all = 0;
        }
    }
    ok(all, "every code of the error table is explained");
    ok(has(wachat_graph_explain(190), "System User"),
       "190 says: permanent System User token");
    ok(has(wachat_graph_explain(131047), "24 hours")
       && has(wachat_graph_explain(131047), "template"),
       "131047 says: 24 hours, template only");
    ok(has(wachat_graph_explain(131030), "development mode"),
       "131030 says: development mode");
    ok(has(wachat_graph_explain(200), "assets"), "200 says: assign assets");
    ok(wachat_graph_explain(999999) == NULL, "unknown code: NULL");

    h = wachat_graph_troubleshooting(&n);
    for (i = 0; i < n; i++) {
        topics += has(h[i].topic, "temporary token")
                  + has(h[i].topic, "app not live")
                  + has(h[i].topic, "messages not subscribed")
                  + has(h[i].topic, "assets not assigned");
    }
    is_long(topics, 4, "troubleshooting covers the seed's four items");
}
