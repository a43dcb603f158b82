/*
 * http xfer: one transfer's life, from the queue to its one done call, and
 * its deadline; apart from http.c, which only moves curl's sockets.
 *
 * The whole-transfer timeout is ours, not CURLOPT_TIMEOUT_MS: curl checks
 * its own deadline before it reads, so after the loop was held up (a slow
 * synchronous Redis call) an answer already waiting in the socket would be
 * thrown away as a timeout, and a Graph message Meta accepted sent again.
 * Our deadline first lets curl read what arrived, and gives back the
 * time the loop was held up (the request may not even have been sent).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/http_int.h"


/*
 * A deadline that fires this much late means the loop was held up: the
 * transfer gets the lost time back (up to its timeout), at most
 * WACHAT_HTTP_GRACES times.
 */
#define WACHAT_HTTP_LATE_MS          50
#define WACHAT_HTTP_GRACES           3


static void
wachat_http_list_push(wachat_http_list_t *l, wachat_http_xfer_t *x)
{
    x->next = NULL;
    x->prev = l->tail;

    if (l->tail) {
        l->tail->next = x;
    } else {
        l->head = x;
    }

    l->tail = x;
    l->n++;
}


void
wachat_http_list_remove(wachat_http_list_t *l, wachat_http_xfer_t *x)
{
    if (x->prev) {
        x->prev->next = x->next;
    } else {
        l->head = x->next;
    }

    if (x->next) {
        x->next->prev = x->prev;
    } else {
        l->tail = x->prev;
    }

    x->prev = x->next = NULL;
    l->n--;
}


static long
wachat_http_ms_since(const struct timespec *t0)
{
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);

    return (long) (now.tv_sec - t0->tv_sec) * 1000
           + (now.tv_nsec - t0->tv_nsec) / 1000000;
}


void
wachat_http_xfer_free(wachat_http_xfer_t *x)
{
    if (x->timed) {
        evtimer_del(&x->deadline);
    }

    if (x->http->expiring == x) {
        x->http->expiring = NULL;
    }

    if (x->easy) {
        curl_easy_cleanup(x->easy);
    }

    curl_slist_free_all(x->headers);
    free(x->url);
    free(x->body);
    free(x->buf);
    free(x);
}


/* Calls done once, then frees: the only way a transfer ends. */
void
wachat_http_xfer_finish(wachat_http_xfer_t *x, wachat_http_err_e err,
    long status, const char *text)
{
    wachat_http_resp_t  resp;
    curl_off_t          us;

    memset(&resp, 0, sizeof(resp));
    resp.error = err;
    resp.status = status;
    resp.body = x->buf ? x->buf : "";
    resp.body_len = x->buf || x->sink ? x->len : 0;
    resp.error_text = text ? text : "";
    resp.queued_ms = x->queued_ms;

    if (x->easy
        && curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK)
    {
        resp.total_ms = (long) (us / 1000);
    }

    x->done(x->data, &resp);
    wachat_http_xfer_free(x);
}


static int wachat_http_activate(wachat_http_t *h, wachat_http_xfer_t *x);
static void wachat_http_on_deadline(evutil_socket_t fd, short what, void *arg);


/* Fills free slots from the queue head: FIFO. */
void
wachat_http_start_queued(wachat_http_t *h)
{
    wachat_http_xfer_t  *x;

    while (!h->closing && h->queue.head && h->active.n < h->max) {
        x = h->queue.head;
        wachat_http_list_remove(&h->queue, x);
        x->queued_ms = wachat_http_ms_since(&x->queued_at);

        if (wachat_http_activate(h, x) != 0) {
            wachat_http_xfer_finish(x, WACHAT_HTTP_EFAILED, 0,
                                    "curl_multi_add_handle");
        }
    }
}


static int
wachat_http_arm(wachat_http_xfer_t *x, long ms)
{
    struct timeval  tv;

    clock_gettime(CLOCK_MONOTONIC, &x->armed_at);
    x->wait_ms = ms;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    /*
     * libevent counts from the time its loop turn began; after a callback
     * that was held up that is long ago and the deadline would come early.
     */
    event_base_update_cache_time(x->http->base);

    return evtimer_add(&x->deadline, &tv) == 0 ? 0 : -1;
}


/* Hands x to curl and starts its deadline. */
static int
wachat_http_activate(wachat_http_t *h, wachat_http_xfer_t *x)
{
    evtimer_assign(&x->deadline, h->base, wachat_http_on_deadline, x);
    x->timed = 1;

    if (wachat_http_arm(x, x->timeout_ms) != 0) {
        return -1;
    }

    if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
        return -1;
    }

    wachat_http_list_push(&h->active, x);

    return 0;
}


/*
 * x's time is up.  Whatever already arrived on its connection is read
 * first (the loop may just have been held up while the answer came).  If
 * the deadline itself came late, the loop was held up: x gets that time
 * back.  Only then does it time out.
 */
static void
wachat_http_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    wachat_http_xfer_t  *x = arg;
    wachat_http_t       *h = x->http;
    curl_socket_t        sock = CURL_SOCKET_BAD;
    int                  running;
    long                 late;
    char                 text[64];

    (void) fd;
    (void) what;

    if (curl_easy_getinfo(x->easy, CURLINFO_ACTIVESOCKET, &sock) == CURLE_OK
        && sock != CURL_SOCKET_BAD)
    {
        h->expiring = x;
        curl_multi_socket_action(h->multi, sock, CURL_CSELECT_IN, &running);
        wachat_http_collect(h);

        if (h->expiring != x) {
            return;     /* it completed: done was called, x is gone */
        }

        h->expiring = NULL;
    }

    late = wachat_http_ms_since(&x->armed_at) - x->wait_ms;
    if (late < 0 && wachat_http_arm(x, -late) == 0) {
        return;     /* early: not yet our deadline */
    }

    if (late > WACHAT_HTTP_LATE_MS && x->graces < WACHAT_HTTP_GRACES
        && wachat_http_arm(x, late < x->timeout_ms ? late : x->timeout_ms) == 0)
    {
        x->graces++;
        return;
    }

    snprintf(text, sizeof(text), "no answer within %ld ms", x->timeout_ms);

    curl_multi_remove_handle(h->multi, x->easy);
    wachat_http_list_remove(&h->active, x);
    wachat_http_xfer_finish(x, WACHAT_HTTP_ETIMEOUT, 0, text);
    wachat_http_start_queued(h);
}


/* Starts x now if a slot is free and nobody waits; queues it otherwise. */
int
wachat_http_xfer_enqueue(wachat_http_t *h, wachat_http_xfer_t *x)
{
    clock_gettime(CLOCK_MONOTONIC, &x->queued_at);

    /* a queue means others wait: never overtake them */
    if (h->queue.n == 0 && h->active.n < h->max) {
        if (wachat_http_activate(h, x) != 0) {
            return -1;
        }
    } else {
        wachat_http_list_push(&h->queue, x);
    }

    return 0;
}


wachat_http_xfer_t *
wachat_http_xfer_new(wachat_http_t *h, wachat_http_done_pt done, void *data)
{
    wachat_http_xfer_t  *x;

    x = calloc(1, sizeof(*x));
    if (x == NULL) {
        return NULL;
    }

    x->http = h;
    x->done = done;
    x->data = data;
    x->max = WACHAT_HTTP_MAX_BODY;

    return x;
}
