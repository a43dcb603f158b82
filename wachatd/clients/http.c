/*
 * wachat http: libcurl multi + libevent (see http.h).
 *
 * The glue is the pattern of curl's hiperfifo example: curl reports socket
 * interest through wachat_http_sock_cb (one struct event per socket, kept
 * as the socket's curl_multi_assign() pointer) and its next deadline
 * through wachat_http_timer_cb (one timer event); both libevent callbacks
 * hand the event to curl_multi_socket_action() and then collect finished
 * transfers.
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

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "clients/http.h"


#define WACHAT_HTTP_DEFAULT_TIMEOUT  30000
#define WACHAT_HTTP_CONNECT_TIMEOUT  10000

/*
 * A deadline that fires this much late means the loop was held up: the
 * transfer gets the lost time back (up to its timeout), at most
 * WACHAT_HTTP_GRACES times.
 */
#define WACHAT_HTTP_LATE_MS          50
#define WACHAT_HTTP_GRACES           3


typedef struct wachat_http_xfer_s  wachat_http_xfer_t;
typedef struct wachat_http_sock_s  wachat_http_sock_t;


struct wachat_http_xfer_s {
    wachat_http_t          *http;
    wachat_http_xfer_t     *prev;
    wachat_http_xfer_t     *next;
    CURL                   *easy;
    struct curl_slist      *headers;
    char                   *url;
    char                   *body;
    char                   *buf;        /* the response body */
    size_t                  len;
    size_t                  cap;
    size_t                  max;        /* the largest body taken */
    FILE                   *sink;       /* or the body goes there */
    int                     too_big;
    struct timespec         queued_at;
    long                    queued_ms;
    long                    timeout_ms;
    struct event            deadline;
    int                     timed;      /* deadline assigned */
    struct timespec         armed_at;   /* the deadline was set then ... */
    long                    wait_ms;    /* ... for this long */
    int                     graces;
    wachat_http_done_pt     done;
    void                   *data;
    char                    errbuf[CURL_ERROR_SIZE];
};


struct wachat_http_sock_s {
    wachat_http_t          *http;
    wachat_http_sock_t     *prev;
    wachat_http_sock_t     *next;
    curl_socket_t           fd;
    struct event            ev;
};


/* A doubly linked list with a head and a tail. */
typedef struct {
    wachat_http_xfer_t     *head;
    wachat_http_xfer_t     *tail;
    size_t                  n;
} wachat_http_list_t;


struct wachat_http_s {
    struct event_base      *base;
    CURLM                  *multi;
    struct event            timer;
    size_t                  max;
    wachat_http_list_t      active;     /* added to the multi handle */
    wachat_http_list_t      queue;      /* waiting for a slot */
    wachat_http_sock_t     *socks;      /* every socket we watch */
    wachat_http_xfer_t     *expiring;   /* its deadline is being handled */
    int                     closing;
};


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


static void
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


static void
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
static void
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


static size_t
wachat_http_on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    wachat_http_xfer_t  *x = userdata;
    size_t               n = size * nmemb;
    size_t               cap;
    char                *p;

    /* Checked here too: a chunked answer carries no Content-Length. */
    if (n > x->max - x->len) {
        x->too_big = 1;
        return 0;
    }

    if (x->sink) {
        if (fwrite(ptr, 1, n, x->sink) != n) {
            return 0;
        }

        x->len += n;
        return n;
    }

    if (x->len + n + 1 > x->cap) {
        cap = x->cap ? x->cap : 4096;
        while (cap < x->len + n + 1) {
            cap *= 2;
        }

        p = realloc(x->buf, cap);
        if (p == NULL) {
            return 0;
        }

        x->buf = p;
        x->cap = cap;
    }

    memcpy(x->buf + x->len, ptr, n);
    x->len += n;
    x->buf[x->len] = '\0';

    return n;
}


static void
wachat_http_finish_curl(wachat_http_xfer_t *x, CURLcode rc)
{
    wachat_http_err_e  err;
    const char        *text;
    long               status = 0;

    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);

    if (rc == CURLE_OK) {
        wachat_http_xfer_finish(x, WACHAT_HTTP_DONE, status, NULL);
        return;
    }

    text = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);

    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        err = WACHAT_HTTP_ETIMEOUT;
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        err = WACHAT_HTTP_ECONNECT;
        break;
    case CURLE_FILESIZE_EXCEEDED:
        err = WACHAT_HTTP_ETOOBIG;
        break;
    case CURLE_WRITE_ERROR:
        err = x->too_big ? WACHAT_HTTP_ETOOBIG : WACHAT_HTTP_EFAILED;
        break;
    default:
        err = WACHAT_HTTP_EFAILED;
        break;
    }

    if (err == WACHAT_HTTP_ETOOBIG) {
        snprintf(x->errbuf, sizeof(x->errbuf), "response body larger than "
                 "%zu bytes", x->max);
        text = x->errbuf;
        /* a partial body is no body */
        x->len = 0;

        if (x->buf) {
            x->buf[0] = '\0';
        }
    }

    wachat_http_xfer_finish(x, err, status, text);
}


static int wachat_http_activate(wachat_http_t *h, wachat_http_xfer_t *x);
static void wachat_http_on_deadline(evutil_socket_t fd, short what, void *arg);
static void wachat_http_collect(wachat_http_t *h);


/* Fills free slots from the queue head: FIFO. */
static void
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


static void
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


static int
wachat_http_add_header(wachat_http_xfer_t *x, const char *line)
{
    struct curl_slist  *l;

    /* a CR or LF would let a value smuggle in another header */
    if (strpbrk(line, "\r\n") != NULL) {
        return -1;
    }

    l = curl_slist_append(x->headers, line);
    if (l == NULL) {
        return -1;
    }

    x->headers = l;

    return 0;
}


/*
 * What every transfer gets, whatever its protocol; wachat_http_transfer()
 * sets it after the caller's own options, so these win.
 */
static int
wachat_http_setup_common(wachat_http_xfer_t *x, long timeout_ms)
{
    CURL  *e = x->easy;
    long   timeout = timeout_ms > 0 ? timeout_ms : WACHAT_HTTP_DEFAULT_TIMEOUT;
    long   connect = timeout < WACHAT_HTTP_CONNECT_TIMEOUT
                     ? timeout : WACHAT_HTTP_CONNECT_TIMEOUT;
    int    rc = 0;

    x->timeout_ms = timeout;

    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, wachat_http_on_write);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *) x);
    rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);

    return rc == CURLE_OK ? 0 : -1;
}


static int
wachat_http_setup_easy(wachat_http_xfer_t *x, const wachat_http_req_t *req)
{
    CURL        *e = x->easy;
    const char  *method = req->method ? req->method : "GET";
    size_t       i;
    int          rc = 0;

    if (req->headers) {
        for (i = 0; req->headers[i]; i++) {
            if (wachat_http_add_header(x, req->headers[i]) != 0) {
                return -1;
            }
        }
    }

    /* no "Expect: 100-continue" round trip before a large body */
    if (wachat_http_add_header(x, "Expect:") != 0) {
        return -1;
    }

    if (wachat_http_setup_common(x, req->timeout_ms) != 0) {
        return -1;
    }

    rc |= curl_easy_setopt(e, CURLOPT_URL, x->url);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, "wachat");
    rc |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                           (curl_off_t) x->max);

    if (strcmp(method, "GET") == 0) {
        rc |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(method, "POST") != 0) {
            rc |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        }

        if (req->body || strcmp(method, "POST") == 0) {
            rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                                   (curl_off_t) req->body_len);
            rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS,
                                   x->body ? x->body : "");
        }
    }

    return rc == CURLE_OK ? 0 : -1;
}


/* Starts x now if a slot is free and nobody waits; queues it otherwise. */
static int
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


static wachat_http_xfer_t *
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


int
wachat_http_request(wachat_http_t *h, const wachat_http_req_t *req,
    wachat_http_done_pt done, void *data)
{
    wachat_http_xfer_t  *x;

    if (h == NULL || h->closing || req == NULL || req->url == NULL
        || done == NULL || (req->body == NULL && req->body_len != 0))
    {
        return -1;
    }

    x = wachat_http_xfer_new(h, done, data);
    if (x == NULL) {
        return -1;
    }

    x->url = strdup(req->url);
    if (x->url == NULL) {
        goto failed;
    }

    x->sink = req->sink;
    x->max = req->max_body ? req->max_body : WACHAT_HTTP_MAX_BODY;

    if (req->body) {
        x->body = malloc(req->body_len + 1);
        if (x->body == NULL) {
            goto failed;
        }

        memcpy(x->body, req->body, req->body_len);
        x->body[req->body_len] = '\0';
    }

    x->easy = curl_easy_init();
    if (x->easy == NULL || wachat_http_setup_easy(x, req) != 0) {
        goto failed;
    }

    if (wachat_http_xfer_enqueue(h, x) != 0) {
        goto failed;
    }

    return 0;

failed:
    wachat_http_xfer_free(x);

    return -1;
}


int
wachat_http_transfer(wachat_http_t *h, long timeout_ms,
    wachat_http_setup_pt setup, wachat_http_done_pt done, void *data)
{
    wachat_http_xfer_t  *x;

    if (h == NULL || h->closing || setup == NULL || done == NULL) {
        return -1;
    }

    x = wachat_http_xfer_new(h, done, data);
    if (x == NULL) {
        return -1;
    }

    /* the caller's options first: ours (private pointer, ...) must win */
    x->easy = curl_easy_init();
    if (x->easy == NULL || setup(data, x->easy) != 0
        || wachat_http_setup_common(x, timeout_ms) != 0
        || wachat_http_xfer_enqueue(h, x) != 0)
    {
        wachat_http_xfer_free(x);
        return -1;
    }

    return 0;
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


const char *
wachat_http_err_name(wachat_http_err_e err)
{
    switch (err) {
    case WACHAT_HTTP_DONE:
        return "done";
    case WACHAT_HTTP_ETIMEOUT:
        return "timeout";
    case WACHAT_HTTP_ECONNECT:
        return "connect";
    case WACHAT_HTTP_ETOOBIG:
        return "too big";
    case WACHAT_HTTP_ECANCELLED:
        return "cancelled";
    case WACHAT_HTTP_EFAILED:
        return "failed";
    }

    return "?";
}
