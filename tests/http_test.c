/*
 * Test of consumer/http, graph and llm; TAP on stdout.
 *
 *   http_test unit          builders, parsers, classification, backoff:
 *                           no network
 *   http_test <scenario>    calls against the stand-in server at
 *                           $WACHAT_STANDIN_URL (t/lib/Wachat/Standin.pm),
 *                           which t/http_unit.t starts, scripts and then
 *                           inspects: this side checks what the client
 *                           reports, the .t checks what the server got.
 *
 * The plan is printed last ("1..N"): the .t checks it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "clients/graph.h"
#include "clients/http.h"
#include "clients/llm.h"
#include "tap.h"


#define SLOTS  16


static struct event_base   *base;
static const char          *url;        /* the stand-in */
static int                  pending;    /* callbacks still expected */
static int                  expired;
static int                  order;      /* completions so far */


/* --- TAP (ok, diag, is_str: tap.h) ------------------------------------- */

static int
is_long(long got, long want, const char *name)
{
    if (!ok(got == want, "%s", name)) {
        diag("got %ld, expected %ld", got, want);
    }
    return got == want;
}


static int
has(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}


/* n copies of unit, malloc'ed */
static char *
repeat(const char *unit, size_t n)
{
    size_t   len = strlen(unit);
    char    *s = malloc(len * n + 1);
    size_t   i;

    if (s == NULL) {
        abort();
    }
    for (i = 0; i < n; i++) {
        memcpy(s + i * len, unit, len);
    }
    s[len * n] = '\0';
    return s;
}


static char *
join(const char *a, const char *b)
{
    size_t   n = strlen(a) + strlen(b) + 1;
    char    *s = malloc(n);

    if (s == NULL) {
        abort();
    }
    snprintf(s, n, "%s%s", a, b);
    return s;
}


/* --- the event loop ----------------------------------------------------- */

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    (void) arg;
    expired = 1;
}


/* Runs the loop until every expected callback came, or ms passed. */
static int
run_quiet(long ms, int quiet)
{
    struct event    *w;
    struct timeval   tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    w = evtimer_new(base, watchdog_cb, NULL);
    evtimer_add(w, &tv);
    expired = 0;
    while (pending > 0 && !expired) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    event_free(w);
    if (pending > 0 && !quiet) {
        diag("%d callbacks missing after %ld ms", pending, ms);
    }
    return pending == 0;
}


static int
run(long ms)
{
    return run_quiet(ms, 0);
}


/* Runs the loop for ms whatever happens. */
static void
spin(long ms)
{
    int  saved = pending;

    pending = 1;
    run_quiet(ms, 1);
    pending = saved;
}


static double
now_s(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* --- callbacks that record ---------------------------------------------- */

typedef struct {
    int                  calls;
    int                  order;
    wachat_http_err_e    err;
    long                 status;
    size_t               body_len;
    char                 body[256];
    char                 error_text[256];
    size_t               running;   /* wachat_http_running() then */
    wachat_http_t       *http;
} http_slot_t;


static void
http_cb(void *data, const wachat_http_resp_t *r)
{
    http_slot_t  *s = data;

    s->calls++;
    s->order = ++order;
    s->err = r->error;
    s->status = r->status;
    s->body_len = r->body_len;
    snprintf(s->body, sizeof(s->body), "%s", r->body);
    snprintf(s->error_text, sizeof(s->error_text), "%s", r->error_text);
    if (s->http) {
        s->running = wachat_http_running(s->http);
    }
    pending--;
}


static int
get(wachat_http_t *h, const char *path, long timeout_ms, http_slot_t *s)
{
    wachat_http_req_t   req;
    char                u[512];
    int                 rc;

    snprintf(u, sizeof(u), "%s%s", url, path);
    memset(&req, 0, sizeof(req));
    req.url = u;
    req.timeout_ms = timeout_ms;
    s->http = h;
    rc = wachat_http_request(h, &req, http_cb, s);
    if (rc == 0) {
        pending++;
    }
    return rc;
}


typedef struct {
    int                     calls;
    wachat_graph_result_e   result;
    long                    status;
    long                    code;
    char                    wamid[128];
    char                    message[256];
    char                    details[256];
    char                    fbtrace[64];
    char                    phone[64];
} graph_slot_t;


static void
graph_cb(void *data, const wachat_graph_reply_t *r)
{
    graph_slot_t  *s = data;

    s->calls++;
    s->result = r->result;
    s->status = r->http_status;
    s->code = r->code;
    snprintf(s->wamid, sizeof(s->wamid), "%s", r->wamid ? r->wamid : "");
    snprintf(s->message, sizeof(s->message), "%s",
             r->message ? r->message : "");
    snprintf(s->details, sizeof(s->details), "%s",
             r->details ? r->details : "");
    snprintf(s->fbtrace, sizeof(s->fbtrace), "%s",
             r->fbtrace_id ? r->fbtrace_id : "");
    snprintf(s->phone, sizeof(s->phone), "%s", r->phone ? r->phone : "");
    pending--;
}


typedef struct {
    int     calls;
    int     ok;
    int     timed_out;
    long    status;
    char    content[512];
    char    error[512];
    char    finish[32];
} llm_slot_t;


static void
llm_cb(void *data, const wachat_llm_result_t *r)
{
    llm_slot_t  *s = data;

    s->calls++;
    s->ok = r->ok;
    s->timed_out = r->timed_out;
    s->status = r->http_status;
    snprintf(s->content, sizeof(s->content), "%s",
             r->content ? r->content : "");
    snprintf(s->error, sizeof(s->error), "%s", r->error ? r->error : "");
    snprintf(s->finish, sizeof(s->finish), "%s",
             r->finish_reason ? r->finish_reason : "");
    pending--;
}


/* why a message is refused, NULL when it builds */
static const char *
refusal(const wachat_graph_msg_t *m)
{
    const char  *why;
    char        *json;
    size_t       len;

    if (wachat_graph_build(m, &json, &len, &why) == 0) {
        free(json);
        return NULL;
    }
    return why;
}


/* --- unit: message JSON ------------------------------------------------- */

static void
unit_build(void)
{
    static const wachat_graph_button_t  doc_buttons[] = {
        { "change-button", "Change" },
        { "cancel-button", "Cancel" },
    };
    wachat_graph_button_t               b[4];
    wachat_graph_msg_t                  m;
    const char                         *why;
    char                               *json, *s;
    size_t                              len;

    memset(&m, 0, sizeof(m));
    m.to = "16505551234";
    m.text = "Hi!";
    m.reply_to = "wamid.ABC";
    ok(wachat_graph_build(&m, &json, &len, &why) == 0, "text builds");
    is_str(json, "{\"messaging_product\":\"whatsapp\","
           "\"recipient_type\":\"individual\",\"to\":\"16505551234\","
           "\"type\":\"text\",\"text\":{\"preview_url\":false,"
           "\"body\":\"Hi!\"},\"context\":{\"message_id\":\"wamid.ABC\"}}",
           "text JSON as documented, context.message_id last");
    is_long((long) len, (long) strlen(json), "length returned");
    free(json);

    m.reply_to = NULL;
    m.text = "line 1\n\"quoted\" \\ 中文 😀 </tag>";
    ok(wachat_graph_build(&m, &json, &len, &why) == 0, "text with escapes");
    is_str(json, "{\"messaging_product\":\"whatsapp\","
           "\"recipient_type\":\"individual\",\"to\":\"16505551234\","
           "\"type\":\"text\",\"text\":{\"preview_url\":false,"
           "\"body\":\"line 1\\n\\\"quoted\\\" \\\\ 中文 😀 </tag>\"}}",
           "no context without reply_to; escapes right, UTF-8 raw");
    free(json);

    memset(&m, 0, sizeof(m));
    m.to = "+16505551234";
    m.text = "Reschedule?";
    m.footer = "Lucky Shrub";
    m.buttons = doc_buttons;
    m.nbuttons = 2;
    ok(wachat_graph_build(&m, &json, &len, &why) == 0, "buttons build");
    is_str(json, "{\"messaging_product\":\"whatsapp\","
           "\"recipient_type\":\"individual\",\"to\":\"+16505551234\","
           "\"type\":\"interactive\",\"interactive\":{\"type\":\"button\","
           "\"body\":{\"text\":\"Reschedule?\"},"
           "\"footer\":{\"text\":\"Lucky Shrub\"},"
           "\"action\":{\"buttons\":["
           "{\"type\":\"reply\",\"reply\":{\"id\":\"change-button\","
           "\"title\":\"Change\"}},"
           "{\"type\":\"reply\",\"reply\":{\"id\":\"cancel-button\","
           "\"title\":\"Cancel\"}}]}}}",
           "buttons JSON byte for byte Meta's example");
    free(json);

    /* limits, in characters: CJK is 3 bytes a character */
    memset(&m, 0, sizeof(m));
    m.to = "16505551234";
    s = repeat("營", 4096);
    m.text = s;
    ok(wachat_graph_build(&m, &json, &len, &why) == 0,
       "text of 4096 CJK characters (12288 bytes) accepted");
    free(json);
    free(s);
    s = repeat("a", 4097);
    m.text = s;
    why = refusal(&m);
    ok(why != NULL && has(why, "4096"),
       "text of 4097 characters refused: %s", why ? why : "accepted");
    free(s);
    m.text = "";
    why = refusal(&m);
    ok(why != NULL, "empty text refused");
    m.text = "bad \xc3\x28 utf8";
    why = refusal(&m);
    ok(why != NULL, "invalid UTF-8 refused");
    m.text = "overlong \xc0\xaf";
    why = refusal(&m);
    ok(why != NULL, "overlong UTF-8 refused");
    m.text = "hi";
    m.to = "";
    why = refusal(&m);
    ok(why != NULL, "no recipient");
    m.to = "16505551234";

    memset(b, 0, sizeof(b));
    b[0].id = "a";
    /* 20 characters */
    b[0].title = "營業時間營業時間營業時間營業時間營業時間";
    b[1].id = s = repeat("i", 256);
    b[1].title = "Prices";
    b[2].id = "live_agent";
    b[2].title = "Talk to a person";
    b[3].id = "d";
    b[3].title = "Four";
    m.buttons = b;
    m.nbuttons = 3;
    m.text = "Body";
    ok(wachat_graph_build(&m, &json, &len, &why) == 0,
       "3 buttons, a 20-character CJK title, a 256-character id");
    free(json);

    m.nbuttons = 4;
    why = refusal(&m);
    ok(why != NULL && has(why, "3"), "4 buttons refused: %s",
       why ? why : "accepted");
    m.nbuttons = 3;

    /* 21 characters */
    b[0].title = "營業時間營業時間營業時間營業時間營業時間營";
    why = refusal(&m);
    ok(why != NULL && has(why, "20"), "21-character title refused: %s",
       why ? why : "accepted");
    b[0].title = "Hours";
    free(s);
    b[1].id = s = repeat("i", 257);
    why = refusal(&m);
    ok(why != NULL && has(why, "256"), "257-character id refused: %s",
       why ? why : "accepted");
    free(s);
    b[1].id = "a";
    why = refusal(&m);
    ok(why != NULL && has(why, "unique"), "duplicate ids refused: %s",
       why ? why : "accepted");
    b[1].id = "b";
    b[1].title = "Hours";
    why = refusal(&m);
    ok(why != NULL && has(why, "unique"), "duplicate titles refused: %s",
       why ? why : "accepted");
    b[1].title = "Prices";
    b[1].id = "";
    why = refusal(&m);
    ok(why != NULL, "empty id refused");
    b[1].id = "b";

    s = repeat("é", 1024);
    m.text = s;
    ok(wachat_graph_build(&m, &json, &len, &why) == 0,
       "button body of 1024 characters accepted");
    free(json);
    free(s);
    s = repeat("é", 1025);
    m.text = s;
    why = refusal(&m);
    ok(why != NULL && has(why, "1024"),
       "button body of 1025 characters refused: %s",
       why ? why : "accepted");
    free(s);

    ok(wachat_graph_build_read("wamid.HBgL", 1, &json, &len, &why) == 0,
       "mark-read builds");
    is_str(json, "{\"messaging_product\":\"whatsapp\",\"status\":\"read\","
           "\"message_id\":\"wamid.HBgL\","
           "\"typing_indicator\":{\"type\":\"text\"}}",
           "mark read + typing indicator as documented");
    free(json);
    ok(wachat_graph_build_read("wamid.HBgL", 0, &json, &len, &why) == 0,
       "mark-read without typing builds");
    is_str(json, "{\"messaging_product\":\"whatsapp\",\"status\":\"read\","
           "\"message_id\":\"wamid.HBgL\"}", "no typing_indicator");
    free(json);

    is_long((long) wachat_graph_clip("ab營c", 3), 5,
            "clip keeps whole characters");
    is_long((long) wachat_graph_clip("ab", 10), 2, "clip of a short text");
}


/* --- unit: answers and classification ----------------------------------- */

typedef struct {
    long                    status;
    const char             *body;
    wachat_graph_result_e   want;
    long                    code;
    const char             *name;
} parse_case_t;


static void
unit_parse(void)
{
    static const parse_case_t  cases[] = {
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
    wachat_graph_reply_t  r;
    const char           *body;
    size_t                i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wachat_graph_parse(WACHAT_GRAPH_OP_SEND, cases[i].status,
                           cases[i].body,
                           cases[i].body ? strlen(cases[i].body) : 0,
                           cases[i].body ? NULL : "Connection refused", &r);
        ok(r.result == cases[i].want && r.code == cases[i].code
           && r.message != NULL,
           "%s -> %s", cases[i].name, wachat_graph_result_name(r.result));
        if (r.result != cases[i].want || r.code != cases[i].code) {
            diag("code %ld message %s", r.code, r.message);
        }
        wachat_graph_reply_free(&r);
    }

    wachat_graph_parse(WACHAT_GRAPH_OP_SEND, 429, cases[0].body,
                       strlen(cases[0].body), NULL, &r);
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


static void
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


static void
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


/* --- unit: LLM body and answers ----------------------------------------- */

static void
unit_llm(void)
{
    static const wachat_llm_passage_t  pass[] = { { "T", "X" } };
    static const wachat_llm_turn_t     hist[] = {
        { WACHAT_LLM_USER, "a" }, { WACHAT_LLM_ASSISTANT, "b" },
    };
    wachat_llm_conf_t                  conf;
    wachat_llm_prompt_t                p;
    wachat_llm_result_t                r;
    const char                        *why, *body;
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


static int
scenario_unit(void)
{
    unit_build();
    unit_parse();
    unit_backoff();
    unit_explain();
    unit_llm();
    return 0;
}


/* --- scenarios against the stand-in ------------------------------------- */

/* 10 requests answered after 1 s each, 20 slots: all run at once. */
static int
scenario_concurrency(void)
{
    wachat_http_t  *h = wachat_http_new(base, 20);
    http_slot_t     s[10];
    char            path[64];
    double          t0;
    int             i, good = 0;

    memset(s, 0, sizeof(s));
    t0 = now_s();
    for (i = 0; i < 10; i++) {
        snprintf(path, sizeof(path), "/slow/%d", i);
        ok(get(h, path, 10000, &s[i]) == 0, "request %d accepted", i);
    }
    is_long((long) wachat_http_running(h), 10, "10 running");
    ok(run(15000), "10 answers");
    for (i = 0; i < 10; i++) {
        good += s[i].calls == 1 && s[i].err == WACHAT_HTTP_DONE
                && s[i].status == 200;
    }
    is_long(good, 10, "each done once with 200");
    diag("10 x 1 s answers took %.2f s", now_s() - t0);
    wachat_http_free(h);
    return 0;
}


/* 8 requests, 3 slots: 3 run, 5 wait, and start in order. */
static int
scenario_queue(void)
{
    wachat_http_t      *h = wachat_http_new(base, 3);
    wachat_http_req_t   req;
    http_slot_t         s[8];
    char                u[256], hdr[32];
    const char         *headers[2];
    int                 i, max_running = 0, once = 0;

    memset(s, 0, sizeof(s));
    for (i = 0; i < 8; i++) {
        snprintf(u, sizeof(u), "%s/queue/%d", url, i);
        snprintf(hdr, sizeof(hdr), "X-Seq: %d", i);
        headers[0] = hdr;
        headers[1] = NULL;
        memset(&req, 0, sizeof(req));
        req.url = u;
        req.headers = headers;
        req.timeout_ms = 10000;
        s[i].http = h;
        if (wachat_http_request(h, &req, http_cb, &s[i]) == 0) {
            pending++;
        }
    }
    is_long((long) wachat_http_running(h), 3, "3 running");
    is_long((long) wachat_http_queued(h), 5, "5 queued");
    ok(run(15000), "8 answers");
    for (i = 0; i < 8; i++) {
        once += s[i].calls == 1 && s[i].status == 200;
        /* the slot of a finished one is refilled after its callback */
        max_running = (int) s[i].running > max_running
                      ? (int) s[i].running : max_running;
    }
    is_long(once, 8, "each done once with 200");
    ok(max_running <= 2, "never more than 3 in flight (%d others seen)",
       max_running);
    is_long((long) wachat_http_queued(h), 0, "queue drained");
    wachat_http_free(h);
    return 0;
}


/* Requests made from inside done callbacks (as a fallback or a retry
 * would): 1, then 2, then 4, with 2 slots. */
typedef struct {
    wachat_http_t  *http;
    int             depth;
    int             calls;
    int             ok;
} chain_t;


static chain_t  chain_nodes[7];
static int      chain_used;


static void chain_cb(void *data, const wachat_http_resp_t *r);


static void
chain_start(wachat_http_t *h, int depth)
{
    wachat_http_req_t   req;
    chain_t            *c = &chain_nodes[chain_used++];
    char                u[256];

    snprintf(u, sizeof(u), "%s/chain/%d", url, depth);
    memset(&req, 0, sizeof(req));
    req.url = u;
    req.timeout_ms = 5000;
    c->http = h;
    c->depth = depth;
    if (wachat_http_request(h, &req, chain_cb, c) == 0) {
        pending++;
    }
}


static void
chain_cb(void *data, const wachat_http_resp_t *r)
{
    chain_t  *c = data;

    c->calls++;
    c->ok = r->error == WACHAT_HTTP_DONE && r->status == 200;
    if (c->depth < 2) {
        chain_start(c->http, c->depth + 1);
        chain_start(c->http, c->depth + 1);
    }
    pending--;
}


static int
scenario_chain(void)
{
    wachat_http_t  *h = wachat_http_new(base, 2);
    int             i, good = 0;

    chain_start(h, 0);
    ok(run(10000), "7 callbacks");
    for (i = 0; i < chain_used; i++) {
        good += chain_nodes[i].calls == 1 && chain_nodes[i].ok;
    }
    is_long(chain_used, 7, "7 requests made, 6 from callbacks");
    is_long(good, 7, "each done once with 200");
    wachat_http_free(h);
    return 0;
}


/* A request that never gets an answer times out; others are unaffected. */
static int
scenario_timeout(void)
{
    wachat_http_t  *h = wachat_http_new(base, 4);
    http_slot_t     hang, fast;

    memset(&hang, 0, sizeof(hang));
    memset(&fast, 0, sizeof(fast));
    get(h, "/hang", 400, &hang);
    get(h, "/fast", 5000, &fast);
    ok(run(10000), "both callbacks");
    ok(fast.calls == 1 && fast.err == WACHAT_HTTP_DONE
       && fast.status == 200, "the fast one: 200");
    ok(hang.calls == 1 && hang.err == WACHAT_HTTP_ETIMEOUT,
       "the hung one: timeout (%s)", wachat_http_err_name(hang.err));
    ok(hang.error_text[0] != '\0', "with a reason: %s", hang.error_text);
    ok(fast.order < hang.order, "the fast one finished first");
    wachat_http_free(h);
    return 0;
}


/*
 * The loop held up past a transfer's deadline (a slow synchronous Redis
 * call in wachatd) while the answer arrived: the answer counts, it is not
 * thrown away as a timeout (that would send a Graph message twice).
 *
 * A forked one-shot server takes the request, tells us (pipe), waits until
 * we say the loop is blocked, then answers; we block for longer than the
 * deadline.  When the loop runs again the deadline has passed and the
 * answer is waiting in the socket.  Second case: the loop is held up
 * before the request was even sent (the server answers at once).  Third:
 * the transfer starts in a callback that was itself held up, and the
 * server takes 100 ms: the deadline must not come early.
 */

typedef struct {
    int   to_server;
    long  block_ms;
    int   blocked;
} stall_t;


static void
stall_sleep(long ms)
{
    struct timespec  ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0) {
        /* interrupted: sleep the rest */
    }
}


static void
stall_cb(evutil_socket_t fd, short what, void *arg)
{
    stall_t  *st = arg;
    char      c;

    (void) what;

    if (read(fd, &c, 1) != 1 || write(st->to_server, "b", 1) != 1) {
        return;
    }
    stall_sleep(st->block_ms);
    st->blocked = 1;
}


static void
stall_server(int lfd, int said, int go, long delay_ms)
{
    static const char  answer[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\n"
        "answered";
    char                buf[4096];
    size_t              got = 0;
    ssize_t             n;
    int                 c;

    c = accept(lfd, NULL, NULL);
    if (c < 0) {
        _exit(1);
    }
    /* the request has no body: it ends with the blank line */
    while (got < sizeof(buf) - 1) {
        n = read(c, buf + got, sizeof(buf) - 1 - got);
        if (n <= 0) {
            _exit(1);
        }
        got += (size_t) n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL) {
            break;
        }
    }
    if (said >= 0 && (write(said, "r", 1) != 1 || read(go, buf, 1) != 1)) {
        _exit(1);
    }
    stall_sleep(delay_ms);
    if (write(c, answer, sizeof(answer) - 1) != (ssize_t) sizeof(answer) - 1)
    {
        _exit(1);
    }
    close(c);
    _exit(0);
}


/* forks the server on a free loopback port; its pid, or -1 */
static pid_t
stall_fork(int said, int go, long delay_ms, char *u, size_t usize)
{
    int                  lfd;
    pid_t                pid;
    socklen_t            len;
    struct sockaddr_in   sa;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sa);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) != 0
        || listen(lfd, 1) != 0
        || getsockname(lfd, (struct sockaddr *) &sa, &len) != 0)
    {
        return -1;
    }

    pid = fork();
    if (pid == 0) {
        stall_server(lfd, said, go, delay_ms);
    }
    close(lfd);
    snprintf(u, usize, "http://127.0.0.1:%d/", ntohs(sa.sin_port));
    return pid;
}


static int
stall_reaped(pid_t pid)
{
    int  status;

    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
           && WEXITSTATUS(status) == 0;
}


static int
stall_answered(const http_slot_t *s, const char *name)
{
    if (ok(s->calls == 1 && s->err == WACHAT_HTTP_DONE && s->status == 200
           && strcmp(s->body, "answered") == 0, "%s", name))
    {
        return 1;
    }
    diag("got %s, status %ld: %s", wachat_http_err_name(s->err), s->status,
         s->error_text);
    return 0;
}


typedef struct {
    wachat_http_t       *h;
    wachat_http_req_t   *req;
    http_slot_t         *slot;
} stall_late_t;


/* held up 800 ms, then starts the transfer in the same loop turn */
static void
stall_late_cb(evutil_socket_t fd, short what, void *arg)
{
    stall_late_t  *l = arg;

    (void) fd;
    (void) what;

    stall_sleep(800);
    if (wachat_http_request(l->h, l->req, http_cb, l->slot) != 0) {
        pending--;
    }
}


static int
scenario_stall(void)
{
    int                  said[2], go[2];
    pid_t                pid;
    char                 u[64];
    struct event        *ev;
    wachat_http_t       *h;
    wachat_http_req_t    req;
    http_slot_t          s;
    stall_t              st;
    stall_late_t         late;
    struct timeval       zero = { 0, 0 };

    if (pipe(said) != 0 || pipe(go) != 0) {
        ok(0, "stall: pipes");
        return 0;
    }
    pid = stall_fork(said[1], go[0], 0, u, sizeof(u));
    if (pid < 0) {
        ok(0, "stall: set up a loopback server");
        return 0;
    }

    h = wachat_http_new(base, 4);
    memset(&s, 0, sizeof(s));
    memset(&req, 0, sizeof(req));
    req.url = u;
    req.timeout_ms = 300;
    st.to_server = go[1];
    st.block_ms = 800;
    st.blocked = 0;
    ev = event_new(base, said[0], EV_READ, stall_cb, &st);
    event_add(ev, NULL);

    if (wachat_http_request(h, &req, http_cb, &s) == 0) {
        pending++;
    }
    ok(run(10000), "stall: the callback came");
    ok(st.blocked, "stall: the loop was held up 800 ms, past the 300 ms "
       "deadline, while the server answered");
    stall_answered(&s, "stall: the answer that arrived meanwhile counts "
                   "(no timeout)");
    event_free(ev);
    close(said[0]);
    close(said[1]);
    close(go[0]);
    close(go[1]);
    ok(stall_reaped(pid), "stall: the server exited cleanly");

    /* held up right after the transfer started: nothing was sent yet */
    pid = stall_fork(-1, -1, 0, u, sizeof(u));
    memset(&s, 0, sizeof(s));
    if (pid > 0 && wachat_http_request(h, &req, http_cb, &s) == 0) {
        pending++;
    }
    stall_sleep(800);
    ok(run(10000), "stall before sending: the callback came");
    stall_answered(&s, "stall before sending: the request still goes out "
                   "and its answer counts");
    ok(stall_reaped(pid), "stall before sending: the server exited cleanly");

    /* started late in a loop turn: libevent's clock of that turn is old */
    pid = stall_fork(-1, -1, 100, u, sizeof(u));
    memset(&s, 0, sizeof(s));
    late.h = h;
    late.req = &req;
    late.slot = &s;
    ev = evtimer_new(base, stall_late_cb, &late);
    evtimer_add(ev, &zero);
    if (pid > 0) {
        pending++;
    }
    ok(run(10000), "started after a hold-up: the callback came");
    stall_answered(&s, "started after a hold-up: a 100 ms answer beats the "
                   "300 ms deadline");
    ok(stall_reaped(pid), "started after a hold-up: the server exited "
       "cleanly");
    event_free(ev);

    wachat_http_free(h);
    return 0;
}


/* The 1 MB bound, with and without Content-Length. */
static int
scenario_size(void)
{
    wachat_http_t  *h = wachat_http_new(base, 4);
    http_slot_t     exact, over, stream_ok, stream_over;

    memset(&exact, 0, sizeof(exact));
    memset(&over, 0, sizeof(over));
    memset(&stream_ok, 0, sizeof(stream_ok));
    memset(&stream_over, 0, sizeof(stream_over));
    get(h, "/big/exact", 10000, &exact);
    get(h, "/big/over", 10000, &over);
    get(h, "/big/stream-ok", 10000, &stream_ok);
    get(h, "/big/stream-over", 10000, &stream_over);
    ok(run(15000), "4 callbacks");
    ok(exact.err == WACHAT_HTTP_DONE && exact.body_len == 1048576,
       "a body of exactly 1 MB is taken (%zu bytes)", exact.body_len);
    ok(over.err == WACHAT_HTTP_ETOOBIG && over.body_len == 0,
       "1 MB + 1 with Content-Length: refused (%s)",
       wachat_http_err_name(over.err));
    ok(stream_ok.err == WACHAT_HTTP_DONE && stream_ok.body_len == 1000,
       "1000 bytes without Content-Length: taken");
    ok(stream_over.err == WACHAT_HTTP_ETOOBIG
       && stream_over.body_len == 0,
       "1 MB + 1 without Content-Length: refused (%s)",
       wachat_http_err_name(stream_over.err));
    wachat_http_free(h);
    return 0;
}


/* free() cancels: done once each, running first, then queued. */
static int
scenario_cancel(void)
{
    wachat_http_t      *h = wachat_http_new(base, 1);
    wachat_http_req_t   req;
    http_slot_t         a, b;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&req, 0, sizeof(req));
    ok(wachat_http_request(h, &req, http_cb, &a) == -1 && a.calls == 0,
       "no URL: refused, no callback");
    get(h, "/hang", 30000, &a);
    get(h, "/hang", 30000, &b);
    spin(300);
    ok(a.calls == 0 && b.calls == 0, "nothing finished yet");
    order = 0;
    wachat_http_free(h);
    ok(a.calls == 1 && a.err == WACHAT_HTTP_ECANCELLED && a.order == 1,
       "the running one: cancelled, first");
    ok(b.calls == 1 && b.err == WACHAT_HTTP_ECANCELLED && b.order == 2,
       "the queued one: cancelled, second");
    pending = 0;
    spin(100);
    ok(a.calls == 1 && b.calls == 1, "no callback after free");
    return 0;
}


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


/* text, buttons, mark read, check: the .t reads what was received */
static int
scenario_graph_send(void)
{
    static const wachat_graph_button_t  btn[] = {
        { "hours", "Opening hours" },
        { "prices", "價格" },
        { "live_agent", "Talk to a person" },
    };
    wachat_http_t                      *h = wachat_http_new(base, 8);
    wachat_graph_conf_t                 bad;
    wachat_graph_msg_t                  m;
    graph_slot_t                        text, buttons, read, check;
    const char                         *why;
    char                               *api, *json;
    size_t                              len;
    wachat_graph_t                     *g;

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

    memset(&m, 0, sizeof(m));
    m.to = "16505551234";
    m.text = "We are open 9:00-18:00. 營業時間 😀";
    m.reply_to = "wamid.IN1";
    wachat_graph_build(&m, &json, &len, &why);
    ok(wachat_graph_send_json(g, "106540352242922", json, len, graph_cb,
                              &text) == 0, "text sent");
    pending++;
    free(json);

    memset(&m, 0, sizeof(m));
    m.to = "16505551234";
    m.text = "Anything else?";
    m.buttons = btn;
    m.nbuttons = 3;
    wachat_graph_build(&m, &json, &len, &why);
    ok(wachat_graph_send_json(g, "106540352242922", json, len, graph_cb,
                              &buttons) == 0, "buttons sent");
    pending++;
    free(json);

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
static int
scenario_graph_errors(void)
{
    static const graph_case_t  cases[] = {
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
    enum { N = sizeof(cases) / sizeof(cases[0]) };
    wachat_http_t       *h = wachat_http_new(base, 16);
    wachat_graph_msg_t   m;
    graph_slot_t         s[N], r1, r2, refused;
    wachat_graph_t      *g, *dead;
    const char          *why;
    char                *api, *json;
    size_t               len, i;
    long                 wait;

    api = join(url, "/v25.0");
    g = graph_new(api, 1500, h);
    dead = graph_new("http://127.0.0.1:1/v25.0", 2000, h);

    memset(&m, 0, sizeof(m));
    m.to = "16505551234";
    m.text = "hello";
    wachat_graph_build(&m, &json, &len, &why);

    memset(s, 0, sizeof(s));
    for (i = 0; i < N; i++) {
        if (wachat_graph_send_json(g, cases[i].phone_id, json, len,
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
        ok(s[i].calls == 1 && s[i].result == cases[i].want
           && s[i].code == cases[i].code && s[i].status == cases[i].status,
           "%s -> %s (code %ld, HTTP %ld: %s)", cases[i].name,
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

    /* 429 then 200: the retry delivers, once */
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

    free(json);
    free(api);
    wachat_graph_free(g);
    wachat_graph_free(dead);
    wachat_http_free(h);
    return 0;
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
static int
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


static int
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


typedef struct {
    const char  *name;
    int        (*run)(void);
    int          network;
} scenario_t;


static const scenario_t  scenarios[] = {
    { "unit", scenario_unit, 0 },
    { "concurrency", scenario_concurrency, 1 },
    { "queue", scenario_queue, 1 },
    { "chain", scenario_chain, 1 },
    { "timeout", scenario_timeout, 1 },
    { "stall", scenario_stall, 0 },
    { "size", scenario_size, 1 },
    { "cancel", scenario_cancel, 1 },
    { "graph_send", scenario_graph_send, 1 },
    { "graph_errors", scenario_graph_errors, 1 },
    { "llm", scenario_llm, 1 },
    { "llm_errors", scenario_llm_errors, 1 },
};


int
main(int argc, char **argv)
{
    const char  *name = argc > 1 ? argv[1] : "unit";
    size_t       i;

    for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        if (strcmp(scenarios[i].name, name) == 0) {
            break;
        }
    }
    if (i == sizeof(scenarios) / sizeof(scenarios[0])) {
        fputs("usage: http_test <scenario>; scenarios:", stderr);
        for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
            fprintf(stderr, " %s", scenarios[i].name);
        }
        fputc('\n', stderr);
        return 2;
    }

    url = getenv("WACHAT_STANDIN_URL");
    if (scenarios[i].network && url == NULL) {
        fprintf(stderr, "http_test: WACHAT_STANDIN_URL is not set\n");
        return 2;
    }

    base = event_base_new();
    if (base == NULL) {
        return 2;
    }

    scenarios[i].run();

    event_base_free(base);
    printf("1..%d\n", ntests);
    return nfailed ? 1 : 0;
}
