
/*
 * A script call on the link: EVALSHA with its head written into the
 * caller's headroom, EVAL once after NOSCRIPT, the reply turned into the
 * caller's rc, and the call's end (its round trip counted).  With
 * wachat_redis_replicas the call joins a WAIT batch
 * (ngx_http_wachat_redis_wait.c) and ends with its WAIT's reply.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_wachat_redis.h"
#include "ngx_http_wachat_redis_int.h"
#include "ngx_http_wachat_log.h"


#define NGX_HTTP_WACHAT_MAX_INFLIGHT      16384

/*
 * Calls in flight and no reply for this long: the link is presumed dead
 * (a host gone without a reset leaves TCP waiting for many minutes).
 */
#define NGX_HTTP_WACHAT_SILENCE           10000


static ngx_int_t ngx_http_wachat_redis_send(ngx_http_wachat_redis_call_t *call,
    ngx_uint_t eval);
static void ngx_http_wachat_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static ngx_uint_t ngx_http_wachat_redis_not_primary(redisReply *reply);


ngx_http_wachat_redis_call_t *
ngx_http_wachat_redis_eval(ngx_log_t *log, u_char *args, size_t len,
    ngx_uint_t nargs, ngx_http_wachat_redis_done_pt done, void *data)
{
    ngx_http_wachat_redis_call_t  *call;
    ngx_http_wachat_redis_link_t  *link = &ngx_http_wachat_redis_link;

    if (link->ac && link->inflight
        && ngx_current_msec - link->progress > NGX_HTTP_WACHAT_SILENCE)
    {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "wachat: redis %V has not answered for %M ms with %ui "
                      "calls in flight, reconnecting", &link->conf->name,
                      (ngx_msec_t) NGX_HTTP_WACHAT_SILENCE, link->inflight);

        /* Free, not Disconnect: that would wait for the missing replies */
        redisAsyncFree(link->ac);
        link->ac = NULL;
        ngx_http_wachat_redis_set_connected(link, 0);
        ngx_http_wachat_redis_schedule(link);
        return NULL;
    }

    if (link->ac == NULL || !link->connected
        || link->inflight >= NGX_HTTP_WACHAT_MAX_INFLIGHT)
    {
        return NULL;
    }

    /* malloc, not the request pool: the reply may outlive the request */

    call = ngx_alloc(sizeof(ngx_http_wachat_redis_call_t), log);
    if (call == NULL) {
        return NULL;
    }

    call->done = done;
    call->data = data;
    call->args = args;
    call->len = len;
    call->nargs = nargs;
    call->retried = 0;
    call->sent = ngx_http_wachat_redis_usec();

    call->wait = NULL;
    call->answered = 0;
    call->unwaited = 0;

    if (ngx_http_wachat_redis_send(call, 0) != NGX_OK) {
        ngx_free(call);
        return NULL;
    }

    if (link->conf->replicas
        && ngx_http_wachat_redis_wait_add(call) != NGX_OK)
    {
        /* no WAIT will tell whether replicas have it: 503 */
        call->unwaited = 1;
    }

    if (link->inflight++ == 0) {
        link->progress = ngx_current_msec;
    }

    return call;
}


void
ngx_http_wachat_redis_cancel(ngx_http_wachat_redis_call_t *call)
{
    call->done = NULL;
    call->data = NULL;
}


/*
 * EVALSHA: the head goes into the headroom in front of the arguments, so the
 * command is handed to hiredis as it is.  EVAL (after NOSCRIPT, rare) builds
 * its own buffer around the script's text.
 */

static ngx_int_t
ngx_http_wachat_redis_send(ngx_http_wachat_redis_call_t *call,
    ngx_uint_t eval)
{
    int                            rc;
    u_char                        *cmd, *p;
    size_t                         head;
    u_char                         buf[NGX_HTTP_WACHAT_REDIS_HEADROOM];
    ngx_http_wachat_redis_link_t  *link = &ngx_http_wachat_redis_link;

    if (!eval) {
        p = ngx_sprintf(buf, "*%ui\r\n$7\r\nEVALSHA\r\n$40\r\n%*s\r\n",
                        call->nargs + 2, sizeof(link->sha), link->sha);
        head = p - buf;
        cmd = ngx_cpymem(call->args - head, buf, head) - head;

        rc = redisAsyncFormattedCommand(link->ac, ngx_http_wachat_redis_reply,
                                        call, (char *) cmd, head + call->len);

        return rc == REDIS_OK ? NGX_OK : NGX_ERROR;
    }

    cmd = ngx_alloc(NGX_HTTP_WACHAT_REDIS_HEADROOM + link->script->len + 2
                    + call->len, link->log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(cmd, "*%ui\r\n$4\r\nEVAL\r\n$%uz\r\n",
                    call->nargs + 2, link->script->len);
    p = ngx_cpymem(p, link->script->data, link->script->len);
    *p++ = CR; *p++ = LF;
    p = ngx_cpymem(p, call->args, call->len);

    /* hiredis copies the command into its output buffer */
    rc = redisAsyncFormattedCommand(link->ac, ngx_http_wachat_redis_reply,
                                    call, (char *) cmd, p - cmd);
    ngx_free(cmd);

    return rc == REDIS_OK ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_wachat_redis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    u_char                        *p;
    redisReply                    *reply = r;
    ngx_http_wachat_redis_call_t  *call = privdata;
    ngx_http_wachat_redis_link_t  *link = &ngx_http_wachat_redis_link;
    u_char                         text[NGX_HTTP_WACHAT_LOG_QUOTED];

    if (reply == NULL) {
        ngx_http_wachat_redis_wait_leave(call);
        ngx_http_wachat_redis_finish(call, NGX_DECLINED, 0);
        return;
    }

    if (reply->type == REDIS_REPLY_INTEGER) {
        if (call->wait) {
            /* the WAIT right behind it in the pipe finishes it */
            call->answered = 1;
            call->result = (ngx_int_t) reply->integer;
            return;
        }

        ngx_http_wachat_redis_finish(call, call->unwaited ? NGX_AGAIN : NGX_OK,
                                     (ngx_int_t) reply->integer);
        return;
    }

    ngx_http_wachat_redis_wait_leave(call);

    if (reply->type == REDIS_REPLY_ERROR
        && reply->len >= 8 && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0
        && !call->retried && call->done && !ac->err)
    {
        /* the script cache was flushed: send the script itself, once */
        call->retried = 1;

        if (ngx_http_wachat_redis_send(call, 1) == NGX_OK) {
            if (link->conf->replicas
                && ngx_http_wachat_redis_wait_add(call) != NGX_OK)
            {
                call->unwaited = 1;
            }

            return;
        }
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        /* a Lua error may quote the arguments: the request's bytes */
        p = ngx_http_wachat_log_quote(text, sizeof(text),
                                      (u_char *) reply->str, reply->len);

        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "wachat: redis %V answered: %*s", &link->conf->name,
                      (size_t) (p - text), text);

    } else {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "wachat: redis %V: unexpected reply type %d",
                      &link->conf->name, reply->type);
    }

    if (link->conf->sentinels && link->connected
        && ngx_http_wachat_redis_not_primary(reply))
    {
        /* a failover under way: ask the sentinels once the pipe is empty */
        ngx_http_wachat_redis_set_connected(link, 0);
        redisAsyncDisconnect(ac);
    }

    ngx_http_wachat_redis_finish(call, NGX_ERROR, 0);
}


/* READONLY, LOADING, MASTERDOWN: this server cannot take writes now */

static ngx_uint_t
ngx_http_wachat_redis_not_primary(redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ERROR) {
        return 0;
    }

    return (reply->len >= 8 && ngx_strncmp(reply->str, "READONLY", 8) == 0)
           || (reply->len >= 7 && ngx_strncmp(reply->str, "LOADING", 7) == 0)
           || (reply->len >= 10
               && ngx_strncmp(reply->str, "MASTERDOWN", 10) == 0);
}


void
ngx_http_wachat_redis_finish(ngx_http_wachat_redis_call_t *call, ngx_int_t rc,
    ngx_int_t result)
{
    ngx_http_wachat_redis_link_t  *link = &ngx_http_wachat_redis_link;

    link->inflight--;
    link->progress = ngx_current_msec;

    /* an answer, even one the caller no longer waits for, is a round trip */
    if (rc != NGX_DECLINED) {
        ngx_http_wachat_redis_observe(link->stats,
                                      ngx_http_wachat_redis_usec()
                                      - call->sent);
    }

    if (call->done && !link->exiting) {
        call->done(call->data, rc, result);
    }

    ngx_free(call);
}
