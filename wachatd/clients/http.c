/*
 * wachat http: libcurl multi + libevent (see http.h), the multi handle on
 * the loop.  One transfer's life is http_xfer.c's; what curl is told and
 * what its answer becomes, http_request.c's.
 *
 * The glue is the pattern of curl's hiperfifo example: curl reports socket
 * interest through wachat_http_sock_cb (one struct event per socket, kept
 * as the socket's curl_multi_assign() pointer) and its next deadline
 * through wachat_http_timer_cb (one timer event); both libevent callbacks
 * hand the event to curl_multi_socket_action() and then collect finished
 * transfers.
 */

#include <stdlib.h>

#include "clients/http_int.h"


void
wachat_http_collect(wachat_http_t *h)
{
    CURLMsg             *msg;
    CURL                *easy;
    CURLcode             rc;
    wachat_http_xfer_t  *x;
    char                *priv;
    int                  left;

    while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        /* msg dies with curl_multi_remove_handle(): copy first */
        easy = msg->easy_handle;
        rc = msg->data.result;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        x = (wachat_http_xfer_t *) priv;

        curl_multi_remove_handle(h->multi, easy);
        wachat_http_list_remove(&h->active, x);
        wachat_http_finish_curl(x, rc);
    }

    wachat_http_start_queued(h);
}


static void
wachat_http_on_socket(evutil_socket_t fd, short what, void *arg)
{
    wachat_http_t  *h = arg;
    int             flags = 0;
    int             running;

    if (what & EV_READ) {
        flags |= CURL_CSELECT_IN;
    }

    if (what & EV_WRITE) {
        flags |= CURL_CSELECT_OUT;
    }

    curl_multi_socket_action(h->multi, fd, flags, &running);
    wachat_http_collect(h);
}


static void
wachat_http_on_timer(evutil_socket_t fd, short what, void *arg)
{
    wachat_http_t  *h = arg;
    int             running;

    (void) fd;
    (void) what;

    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    wachat_http_collect(h);
}


static void
wachat_http_sock_forget(wachat_http_t *h, wachat_http_sock_t *s)
{
    event_del(&s->ev);

    if (s->prev) {
        s->prev->next = s->next;
    } else {
        h->socks = s->next;
    }

    if (s->next) {
        s->next->prev = s->prev;
    }

    free(s);
}


/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl asks, or stop. */
static int
wachat_http_sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
    void *socketp)
{
    wachat_http_t       *h = userp;
    wachat_http_sock_t  *s = socketp;
    short                kind;

    (void) easy;

    if (what == CURL_POLL_REMOVE) {
        if (s) {
            wachat_http_sock_forget(h, s);
        }

        return 0;
    }

    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL) {
            return -1;
        }

        s->http = h;
        s->fd = fd;
        s->next = h->socks;

        if (h->socks) {
            h->socks->prev = s;
        }

        h->socks = s;
        curl_multi_assign(h->multi, fd, s);
    } else {
        event_del(&s->ev);
    }

    kind = EV_PERSIST;

    if (what & CURL_POLL_IN) {
        kind |= EV_READ;
    }

    if (what & CURL_POLL_OUT) {
        kind |= EV_WRITE;
    }

    event_assign(&s->ev, h->base, fd, kind, wachat_http_on_socket, h);

    return event_add(&s->ev, NULL) == 0 ? 0 : -1;
}


/* CURLMOPT_TIMERFUNCTION: -1 cancels; 0 means "as soon as possible". */
static int
wachat_http_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    wachat_http_t   *h = userp;
    struct timeval   tv;

    (void) multi;

    if (timeout_ms < 0) {
        evtimer_del(&h->timer);
        return 0;
    }

    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;

    return evtimer_add(&h->timer, &tv) == 0 ? 0 : -1;
}


wachat_http_t *
wachat_http_new(struct event_base *base, size_t max_concurrent)
{
    wachat_http_t  *h;

    if (base == NULL) {
        return NULL;
    }

    /* reference counted, thread-safe since 7.84 */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return NULL;
    }

    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        curl_global_cleanup();
        return NULL;
    }

    h->base = base;
    h->max = max_concurrent ? max_concurrent : WACHAT_HTTP_CONCURRENCY;
    h->multi = curl_multi_init();
    if (h->multi == NULL) {
        free(h);
        curl_global_cleanup();
        return NULL;
    }

    evtimer_assign(&h->timer, base, wachat_http_on_timer, h);

    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, wachat_http_sock_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, wachat_http_timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);

    return h;
}


size_t
wachat_http_running(const wachat_http_t *h)
{
    return h->active.n;
}


size_t
wachat_http_queued(const wachat_http_t *h)
{
    return h->queue.n;
}


void
wachat_http_free(wachat_http_t *h)
{
    wachat_http_xfer_t  *x;

    if (h == NULL) {
        return;
    }

    h->closing = 1;

    while ((x = h->active.head) != NULL) {
        wachat_http_list_remove(&h->active, x);
        curl_multi_remove_handle(h->multi, x->easy);
        wachat_http_xfer_finish(x, WACHAT_HTTP_ECANCELLED, 0, "cancelled");
    }
    while ((x = h->queue.head) != NULL) {
        wachat_http_list_remove(&h->queue, x);
        wachat_http_xfer_finish(x, WACHAT_HTTP_ECANCELLED, 0, "cancelled");
    }

    /* may still report sockets of cached connections (wachat_http_sock_cb) */
    curl_multi_cleanup(h->multi);

    /* whatever curl did not report removed must not outlive h */
    while (h->socks) {
        wachat_http_sock_forget(h, h->socks);
    }

    evtimer_del(&h->timer);

    free(h);
    curl_global_cleanup();
}
