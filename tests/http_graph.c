/*
 * HTTP clients' test, the Graph client against the stand-in: what goes on
 * the wire (checked by the .t) and how canned errors are classified.
 */

#include <stdlib.h>
#include <string.h>

#include "http_test.h"


static wachat_graph_t *
graph_new(const char *api, long timeout_ms, wachat_http_t *h)
{
    wachat_graph_conf_t   conf;
    wachat_graph_t       *g;
    const char           *why = NULL;

    memset(&conf, 0, sizeof(conf));
    conf.api_url = api;
    conf.token = "EAAGtestTOKEN123";
    conf.timeout_ms = timeout_ms;
    g = wachat_graph_new(h, &conf, &why);
    if (g == NULL) {
        diag("wachat_graph_new: %s", why);
    }
    return g;
}


/* a text in reply and three buttons, built and sent as wachatd does */
static void
graph_send_messages(wachat_graph_t *g, graph_slot_t *text,
    graph_slot_t *buttons)
{
    static const wachat_graph_button_t  btn[] = {
        { "hours", "Opening hours" },
        { "prices", "價格" },
        { "live_agent", "Talk to a person" },
    };
    wachat_graph_msg_t                  m;
    const char                         *why;
    char                               *json;
    size_t                              len;

    memset(&m, 0, sizeof(m));
    m.to = "16505551234";
    m.text = "We are open 9:00-18:00. 營業時間 😀";
    m.reply_to = "wamid.IN1";
    wachat_graph_build(&m, &json, &len, &why);
    ok(wachat_graph_send_json(g, "106540352242922", json, len, graph_cb,
                              text) == 0, "text sent");
    pending++;
    free(json);

    memset(&m, 0, sizeof(m));
    m.to = "16505551234";
    m.text = "Anything else?";
    m.buttons = btn;
    m.nbuttons = 3;
    wachat_graph_build(&m, &json, &len, &why);
    ok(wachat_graph_send_json(g, "106540352242922", json, len, graph_cb,
                              buttons) == 0, "buttons sent");
    pending++;
    free(json);
}


/* text, buttons, mark read, check: the .t reads what was received */
int
scenario_graph_send(void)
{
    wachat_http_t        *h = wachat_http_new(base, 8);
    wachat_graph_conf_t   bad;
    graph_slot_t          text, buttons, read, check;
    const char           *why;
    char                 *api;
    wachat_graph_t       *g;

    memset(&bad, 0, sizeof(bad));
    bad.api_url = "http://x";
    bad.token = "EAAG\n";
    why = NULL;
    g = wachat_graph_new(h, &bad, &why);
    ok(g == NULL && why != NULL, "a token with a newline is refused: %s",
       why ? why : "accepted");

    api = join(url, "/v25.0/");          /* trailing slash: trimmed */
    g = graph_new(api, 5000, h);
    ok(g != NULL, "graph client");

    memset(&text, 0, sizeof(text));
    memset(&buttons, 0, sizeof(buttons));
    memset(&read, 0, sizeof(read));
    memset(&check, 0, sizeof(check));

    graph_send_messages(g, &text, &buttons);

    ok(wachat_graph_mark_read(g, "106540352242922", "wamid.IN1", 1,
                              graph_cb, &read) == 0, "mark read sent");
    pending++;
    ok(wachat_graph_check(g, "106540352242922", graph_cb, &check) == 0,
       "check sent");
    pending++;

    ok(wachat_graph_send_json(g, "1065/../x", "{}", 2, graph_cb, &text)
       == -1, "a phone number id that is not digits is refused");

    /* in-flight calls do not need g */
    wachat_graph_free(g);
    ok(run(10000), "4 callbacks");

    ok(text.calls == 1 && text.result == WACHAT_GRAPH_OK
       && strncmp(text.wamid, "wamid.STANDIN-", 14) == 0,
       "text: ok, wamid %s", text.wamid);
    ok(buttons.calls == 1 && buttons.result == WACHAT_GRAPH_OK
       && buttons.wamid[0] && strcmp(buttons.wamid, text.wamid) != 0,
       "buttons: ok, wamid %s", buttons.wamid);
    ok(read.calls == 1 && read.result == WACHAT_GRAPH_OK, "mark read: ok");
    ok(check.calls == 1 && check.result == WACHAT_GRAPH_OK
       && strcmp(check.phone, "15550783881") == 0,
       "check: ok, display number %s", check.phone);

    free(api);
    wachat_http_free(h);
    return 0;
}


typedef struct {
    const char             *phone_id;
    wachat_graph_result_e   want;
    long                    code;
    long                    status;
    const char             *name;
} graph_case_t;


/* Canned error envelopes, one phone number id per case (see the .t). */
static const graph_case_t  graph_cases[] = {
    { "1001", WACHAT_GRAPH_RETRY, 130429, 429, "429 / 130429" },
    { "1002", WACHAT_GRAPH_PERMANENT, 131047, 400, "400 / 131047" },
    { "1003", WACHAT_GRAPH_TOKEN, 190, 401, "401 / 190" },
    { "1004", WACHAT_GRAPH_RETRY, 130429, 400, "400 / 130429" },
    { "1005", WACHAT_GRAPH_PERMANENT, -1, 200, "200 without an id" },
    { "1006", WACHAT_GRAPH_RETRY, -1, 503, "503 with HTML" },
    { "1007", WACHAT_GRAPH_PACE, 131056, 400, "400 / 131056" },
    { "1008", WACHAT_GRAPH_RETRY, 131000, 500, "500 / 131000" },
    { "1009", WACHAT_GRAPH_PERMANENT, 100, 400, "400 / 100" },
    { "1010", WACHAT_GRAPH_PERMANENT, 200, 403, "403 / 200" },
    { "1011", WACHAT_GRAPH_RETRY, -1, 0, "no answer: timeout" },
    { "1012", WACHAT_GRAPH_RETRY, -1, 0, "connection closed" },
};


/* 429 then 200: the retry delivers, once */
static void
graph_retry_once(wachat_graph_t *g, const char *json, size_t len)
{
    graph_slot_t  r1, r2;
    long          wait;

    memset(&r1, 0, sizeof(r1));
    memset(&r2, 0, sizeof(r2));
    wachat_graph_send_json(g, "1020", json, len, graph_cb, &r1);
    pending++;
    run(5000);
    ok(r1.result == WACHAT_GRAPH_RETRY, "first try: 429 -> retry");
    wait = wachat_graph_backoff_ms(0, r1.result);
    ok(wait >= 100 && wait <= 1000, "backoff %ld ms", wait);
    spin(wait);
    wachat_graph_send_json(g, "1020", json, len, graph_cb, &r2);
    pending++;
    run(5000);
    ok(r2.result == WACHAT_GRAPH_OK && r2.wamid[0],
       "second try: ok, wamid %s", r2.wamid);
}


int
scenario_graph_errors(void)
{
    enum { N = sizeof(graph_cases) / sizeof(graph_cases[0]) };
    wachat_http_t       *h = wachat_http_new(base, 16);
    wachat_graph_msg_t   m;
    graph_slot_t         s[N], refused;
    wachat_graph_t      *g, *dead;
    const char          *why;
    char                *api, *json;
    size_t               len, i;

    api = join(url, "/v25.0");
    g = graph_new(api, 1500, h);
    dead = graph_new("http://127.0.0.1:1/v25.0", 2000, h);

    memset(&m, 0, sizeof(m));
    m.to = "16505551234";
    m.text = "hello";
    wachat_graph_build(&m, &json, &len, &why);

    memset(s, 0, sizeof(s));
    for (i = 0; i < N; i++) {
        if (wachat_graph_send_json(g, graph_cases[i].phone_id, json, len,
                                   graph_cb, &s[i]) == 0)
        {
            pending++;
        }
    }
    memset(&refused, 0, sizeof(refused));
    wachat_graph_send_json(dead, "1013", json, len, graph_cb, &refused);
    pending++;
    ok(run(10000), "every error case answered");

    for (i = 0; i < N; i++) {
        ok(s[i].calls == 1 && s[i].result == graph_cases[i].want
           && s[i].code == graph_cases[i].code && s[i].status == graph_cases[i].status,
           "%s -> %s (code %ld, HTTP %ld: %s)", graph_cases[i].name,
           wachat_graph_result_name(s[i].result), s[i].code, s[i].status,
           s[i].message);
    }
    is_str(s[0].details, "Message failed to send because there were too"
           " many messages sent from this phone number in a short period"
           " of time", "error_data.details read");
    is_str(s[0].fbtrace, "Az8or2yhqkZfEZ-_4Qn_Bam", "fbtrace_id read");
    is_str(s[1].message, "(#131047) Re-engagement message",
           "error.message read");
    ok(has(s[4].message, "messages[0].id"),
       "200 without id says so: %s", s[4].message);
    ok(refused.calls == 1 && refused.result == WACHAT_GRAPH_RETRY
       && refused.status == 0,
       "connection refused: retry (%s)", refused.message);
    graph_retry_once(g, json, len);

    free(json);
    free(api);
    wachat_graph_free(g);
    wachat_graph_free(dead);
    wachat_http_free(h);
    return 0;
}
