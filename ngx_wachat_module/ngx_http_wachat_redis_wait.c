
/*
 * wachat_redis_replicas: the script's answer waits for a WAIT's, and one
 * WAIT covers a batch of calls (the struct's comment in
 * ngx_http_wachat_redis_int.h says why).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_wachat_redis.h"
#include "ngx_http_wachat_redis_int.h"


static void ngx_http_wachat_redis_wait_reply(redisAsyncContext *ac, void *r,
    void *privdata);


/*
 * wachat_redis_replicas: a script call joins the batch being filled, whose
 * WAIT goes out once the handlers of this turn are done (a posted event)
 * and no other WAIT is out; else when that one's reply comes.
 */

ngx_int_t
ngx_http_wachat_redis_wait_add(ngx_http_wachat_redis_call_t *call)
{
    ngx_http_wachat_redis_wait_t  *w;
    ngx_http_wachat_redis_link_t  *link = &ngx_http_wachat_redis_link;

    w = link->wait;

    if (w == NULL) {
        w = ngx_alloc(sizeof(ngx_http_wachat_redis_wait_t), link->log);
        if (w == NULL) {
            return NGX_ERROR;
        }

        ngx_queue_init(&w->calls);

        link->wait = w;

        if (!link->waiting) {
            ngx_post_event(&link->wait_event, &ngx_posted_events);
        }
    }

    ngx_queue_insert_tail(&w->calls, &call->queue);
    call->wait = w;

    return NGX_OK;
}


void
ngx_http_wachat_redis_wait_handler(ngx_event_t *ev)
{
    ngx_http_wachat_redis_link_t  *link = ev->data;

    ngx_http_wachat_redis_wait_t  *w;

    w = link->wait;

    if (w == NULL || link->waiting) {
        return;
    }

    link->wait = NULL;

    if (ngx_queue_empty(&w->calls)) {
        ngx_free(w);
        return;
    }

    if (link->ac == NULL
        || redisAsyncCommand(link->ac, ngx_http_wachat_redis_wait_reply, w,
                             "WAIT %d %d", (int) link->conf->replicas,
                             (int) link->conf->wait_timeout)
           != REDIS_OK)
    {
        ngx_http_wachat_redis_wait_done(w, NGX_DECLINED, 0);
        return;
    }

    link->waiting = 1;
}


static void
ngx_http_wachat_redis_wait_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                    *reply = r;
    ngx_http_wachat_redis_wait_t  *w = privdata;
    ngx_http_wachat_redis_link_t  *link = &ngx_http_wachat_redis_link;

    link->waiting = 0;

    if (reply == NULL) {
        ngx_http_wachat_redis_wait_done(w, NGX_DECLINED, 0);

    } else if (reply->type == REDIS_REPLY_INTEGER) {
        ngx_http_wachat_redis_wait_done(w, NGX_OK,
                                        (ngx_int_t) reply->integer);

    } else {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "wachat: redis %V: WAIT failed: %*s",
                      &link->conf->name,
                      (size_t) (reply->type == REDIS_REPLY_ERROR
                                ? ngx_min(reply->len, 200) : 0),
                      reply->str);

        ngx_http_wachat_redis_wait_done(w, NGX_ERROR, 0);
    }

    /* the batch filled meanwhile gets its WAIT now */
    if (link->wait && !link->wait_event.posted) {
        ngx_post_event(&link->wait_event, &ngx_posted_events);
    }
}


/*
 * Finishes the calls whose script answered: 200 only with enough replicas.
 * A call still waiting for its script's reply (the WAIT could not be sent)
 * is left to that reply, which answers 503.
 */

void
ngx_http_wachat_redis_wait_done(ngx_http_wachat_redis_wait_t *w, ngx_int_t rc,
    ngx_int_t acked)
{
    ngx_queue_t                   *q;
    ngx_http_wachat_redis_call_t  *call;
    ngx_http_wachat_redis_link_t  *link = &ngx_http_wachat_redis_link;

    if (rc == NGX_OK && acked < (ngx_int_t) link->conf->replicas) {
        rc = NGX_AGAIN;
    }

    while (!ngx_queue_empty(&w->calls)) {
        q = ngx_queue_head(&w->calls);
        ngx_queue_remove(q);

        call = ngx_queue_data(q, ngx_http_wachat_redis_call_t, queue);
        call->wait = NULL;

        if (!call->answered) {
            call->unwaited = 1;
            continue;
        }

        ngx_http_wachat_redis_finish(call, rc, call->result);
    }

    ngx_free(w);
}


/*
 * The call's script failed or must be sent again: it leaves its batch.  A
 * batch, even empty, is freed by its WAIT's reply or, not sent yet, by the
 * posted handler.
 */

void
ngx_http_wachat_redis_wait_leave(ngx_http_wachat_redis_call_t *call)
{
    if (call->wait) {
        ngx_queue_remove(&call->queue);
        call->wait = NULL;
    }
}
