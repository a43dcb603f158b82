/*
 * HTTP clients' test, scenarios of the async HTTP client against the
 * stand-in: concurrency, the queue, requests from callbacks, timeouts,
 * the size bound, cancelling.
 */

#include <stdio.h>
#include <string.h>

#include "http_test.h"


/* 10 requests answered after 1 s each, 20 slots: all run at once. */
int
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
int
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


int
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
int
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


/* The 1 MB bound, with and without Content-Length. */
int
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
int
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
