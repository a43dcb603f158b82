/*
 * http_int: the HTTP client's private parts, shared by http.c (the multi
 * handle on the loop), http_xfer.c (one transfer from the queue to its
 * done, and its deadline) and http_request.c (what curl is told, and what
 * its answer becomes).  Not for the clients on top.
 */

#ifndef WACHAT_HTTP_INT_H
#define WACHAT_HTTP_INT_H

#include <stdio.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "clients/http.h"


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


/* http.c: finished transfers handed to http_request.c, then the queue */

void wachat_http_collect(wachat_http_t *h);


/* http_xfer.c: one transfer's life */

void wachat_http_list_remove(wachat_http_list_t *l, wachat_http_xfer_t *x);
wachat_http_xfer_t *wachat_http_xfer_new(wachat_http_t *h,
    wachat_http_done_pt done, void *data);
void wachat_http_xfer_free(wachat_http_xfer_t *x);
/* Calls done once, then frees: the only way a transfer ends. */
void wachat_http_xfer_finish(wachat_http_xfer_t *x, wachat_http_err_e err,
    long status, const char *text);
/* Starts x now if a slot is free and nobody waits; queues it otherwise. */
int wachat_http_xfer_enqueue(wachat_http_t *h, wachat_http_xfer_t *x);
/* Fills free slots from the queue head: FIFO. */
void wachat_http_start_queued(wachat_http_t *h);


/* http_request.c: curl's result as ours, then done */

void wachat_http_finish_curl(wachat_http_xfer_t *x, CURLcode rc);


#endif /* WACHAT_HTTP_INT_H */
