/*
 * Test of wachatd/clients: http, graph and llm; TAP on stdout.
 *
 *   http_test unit          builders, parsers, classification, backoff:
 *                           no network
 *   http_test <scenario>    calls against the stand-in server at
 *                           $WACHAT_STANDIN_URL (t/lib/Wachat/Standin.pm),
 *                           which t/wachatd/http_clients_unit.t starts, scripts and then
 *                           inspects: this side checks what the client
 *                           reports, the .t checks what the server got.
 *
 * The plan is printed last ("1..N"): the .t checks it.
 *
 * This file holds main(), the loop and the recording callbacks; the cases
 * are in http_build.c, http_parse.c, http_llm.c (units), http_async.c,
 * http_stall.c and http_graph.c (scenarios).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TAP_MAIN
#include "http_test.h"


struct event_base   *base;
const char          *url;
int                  pending;
int                  order;

static int           expired;


/* --- TAP (ok, diag, is_str: tap.h) ------------------------------------- */

int
is_long(long got, long want, const char *name)
{
    if (!ok(got == want, "%s", name)) {
        diag("got %ld, expected %ld", got, want);
    }
    return got == want;
}


int
has(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}


/* n copies of unit, malloc'ed */
char *
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


char *
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


int
run(long ms)
{
    return run_quiet(ms, 0);
}


/* Runs the loop for ms whatever happens. */
void
spin(long ms)
{
    int  saved = pending;

    pending = 1;
    run_quiet(ms, 1);
    pending = saved;
}


double
now_s(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* --- callbacks that record ---------------------------------------------- */

void
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


int
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


void
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


void
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
