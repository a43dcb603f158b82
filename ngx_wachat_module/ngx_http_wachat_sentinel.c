
/*
 * Asks Redis Sentinel where the primary is: a short-lived hiredis async
 * connection to one sentinel at a time, on the worker's event loop (the
 * adapter, ngx_http_wachat_redis_adapter.c), with SENTINEL
 * GET-MASTER-ADDR-BY-NAME.
 * A sentinel that is down, slow, does not know the name or answers with a
 * host name instead of an address is skipped for the next one; the one that
 * answered is asked first next time.  Nothing is cached: every connect asks
 * again, so an address never outlives a failover.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_wachat_redis.h"


/* connect and answer, per sentinel */
#define NGX_HTTP_WACHAT_SENTINEL_TIMEOUT  500


typedef struct {
    ngx_http_wachat_redis_conf_t      *conf;
    ngx_log_t                         *log;
    ngx_http_wachat_sentinel_done_pt   done;
    void                              *data;
    redisAsyncContext                 *ac;        /* the one being asked */
    ngx_uint_t                         current;   /* its index */
    ngx_uint_t                         asked;     /* this round */
    ngx_uint_t                         found;
    u_char                             host[NGX_SOCKADDR_STRLEN + 1];
    in_port_t                          port;
    ngx_event_t                        timer;
} ngx_http_wachat_sentinel_t;


static void ngx_http_wachat_sentinel_ask(ngx_http_wachat_sentinel_t *s);
static void ngx_http_wachat_sentinel_next(ngx_http_wachat_sentinel_t *s);
static void ngx_http_wachat_sentinel_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_wachat_sentinel_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_http_wachat_sentinel_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_wachat_sentinel_auth_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static ngx_int_t ngx_http_wachat_sentinel_address(
    ngx_http_wachat_sentinel_t *s, redisReply *reply);
static void ngx_http_wachat_sentinel_timeout(ngx_event_t *ev);


static ngx_http_wachat_sentinel_t  ngx_http_wachat_sentinel;


ngx_int_t
ngx_http_wachat_sentinel_resolve(ngx_http_wachat_redis_conf_t *conf,
    ngx_log_t *log, ngx_http_wachat_sentinel_done_pt done, void *data)
{
    ngx_http_wachat_sentinel_t  *s = &ngx_http_wachat_sentinel;

    if (s->ac) {
        return NGX_BUSY;
    }

    s->conf = conf;
    s->log = log;
    s->done = done;
    s->data = data;
    s->asked = 0;
    s->found = 0;

    if (s->current >= conf->sentinels->nelts) {
        s->current = 0;
    }

    s->timer.handler = ngx_http_wachat_sentinel_timeout;
    s->timer.data = s;
    s->timer.log = log;
    s->timer.cancelable = 1;

    ngx_http_wachat_sentinel_ask(s);

    return NGX_OK;
}


void
ngx_http_wachat_sentinel_cancel(void)
{
    redisAsyncContext           *ac;
    ngx_http_wachat_sentinel_t  *s = &ngx_http_wachat_sentinel;

    s->done = NULL;

    if (s->timer.timer_set) {
        ngx_del_timer(&s->timer);
    }

    if (s->ac) {
        ac = s->ac;
        s->ac = NULL;
        redisAsyncFree(ac);
    }
}


static void
ngx_http_wachat_sentinel_ask(ngx_http_wachat_sentinel_t *s)
{
    redisAsyncContext             *ac;
    ngx_http_wachat_redis_addr_t  *addr;

    if (s->asked == s->conf->sentinels->nelts) {
        if (s->done) {
            s->done(s->data, NGX_ERROR, NULL, 0);
        }

        return;
    }

    addr = s->conf->sentinels->elts;
    addr = &addr[s->current];

    ac = redisAsyncConnect((char *) addr->host.data, addr->port);

    if (ac == NULL || ac->err
        || ngx_http_wachat_redis_attach(ac, s->log) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "wachat: sentinel %V: %s", &addr->name,
                      ac ? (ac->err ? ac->errstr : "no connection slot")
                         : "cannot allocate a context");
        if (ac) {
            redisAsyncFree(ac);
        }

        ngx_http_wachat_sentinel_next(s);
        return;
    }

    s->ac = ac;

    redisAsyncSetConnectCallback(ac, ngx_http_wachat_sentinel_connected);
    redisAsyncSetDisconnectCallback(ac, ngx_http_wachat_sentinel_disconnected);

    if (s->conf->sentinel_password.len) {
        redisAsyncCommand(ac, ngx_http_wachat_sentinel_auth_reply, NULL,
                          "AUTH %b", s->conf->sentinel_password.data,
                          s->conf->sentinel_password.len);
    }

    redisAsyncCommand(ac, ngx_http_wachat_sentinel_reply, NULL,
                      "SENTINEL get-master-addr-by-name %b",
                      s->conf->master.data, s->conf->master.len);

    ngx_add_timer(&s->timer, NGX_HTTP_WACHAT_SENTINEL_TIMEOUT);
}


/* this sentinel gave no address: the next one, until each was asked once */

static void
ngx_http_wachat_sentinel_next(ngx_http_wachat_sentinel_t *s)
{
    if (s->timer.timer_set) {
        ngx_del_timer(&s->timer);
    }

    s->asked++;
    s->current = (s->current + 1) % s->conf->sentinels->nelts;

    ngx_http_wachat_sentinel_ask(s);
}


static void
ngx_http_wachat_sentinel_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_wachat_sentinel_t    *s = &ngx_http_wachat_sentinel;
    ngx_http_wachat_redis_addr_t  *addr;

    if (ac != s->ac || status == REDIS_OK) {
        return;
    }

    /* hiredis frees the context after this callback */
    s->ac = NULL;

    addr = s->conf->sentinels->elts;
    ngx_log_error(NGX_LOG_ERR, s->log, 0, "wachat: sentinel %V: %s",
                  &addr[s->current].name, ac->errstr);

    ngx_http_wachat_sentinel_next(s);
}


/* the one place a question ends: an address, or the next sentinel */

static void
ngx_http_wachat_sentinel_disconnected(const redisAsyncContext *ac,
    int status)
{
    ngx_http_wachat_sentinel_t  *s = &ngx_http_wachat_sentinel;

    if (ac != s->ac) {
        return;
    }

    s->ac = NULL;

    if (!s->found) {
        ngx_http_wachat_sentinel_next(s);
        return;
    }

    if (s->timer.timer_set) {
        ngx_del_timer(&s->timer);
    }

    if (s->done) {
        s->done(s->data, NGX_OK, s->host, s->port);
    }
}


static void
ngx_http_wachat_sentinel_auth_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                    *reply = r;
    ngx_http_wachat_sentinel_t    *s = &ngx_http_wachat_sentinel;
    ngx_http_wachat_redis_addr_t  *addr;

    if (ac != s->ac || reply == NULL || reply->type != REDIS_REPLY_ERROR) {
        return;
    }

    addr = s->conf->sentinels->elts;
    ngx_log_error(NGX_LOG_ERR, s->log, 0,
                  "wachat: sentinel %V: AUTH failed: %*s",
                  &addr[s->current].name,
                  (size_t) ngx_min(reply->len, 200), reply->str);
}


static void
ngx_http_wachat_sentinel_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                    *reply = r;
    ngx_http_wachat_sentinel_t    *s = &ngx_http_wachat_sentinel;
    ngx_http_wachat_redis_addr_t  *addr;

    if (ac != s->ac || reply == NULL) {
        return;
    }

    addr = s->conf->sentinels->elts;
    addr = &addr[s->current];

    if (ngx_http_wachat_sentinel_address(s, reply) == NGX_OK) {
        s->found = 1;

        ngx_log_debug4(NGX_LOG_DEBUG_EVENT, s->log, 0,
                       "wachat: sentinel %V: primary \"%V\" is %s:%d",
                       &addr->name, &s->conf->master, s->host, s->port);

    } else if (reply->type == REDIS_REPLY_NIL) {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "wachat: sentinel %V does not know the primary \"%V\"",
                      &addr->name, &s->conf->master);

    } else if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "wachat: sentinel %V answered: %*s", &addr->name,
                      (size_t) ngx_min(reply->len, 200), reply->str);

    } else {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "wachat: sentinel %V: no numeric address for the "
                      "primary \"%V\" (resolve-hostnames is not supported)",
                      &addr->name, &s->conf->master);
    }

    /* the disconnect callback goes on from here */
    redisAsyncDisconnect(ac);
}


/*
 * ["ip", "port"]: only a numeric address is taken, hiredis would resolve a
 * name with a blocking getaddrinfo().
 */

static ngx_int_t
ngx_http_wachat_sentinel_address(ngx_http_wachat_sentinel_t *s,
    redisReply *reply)
{
    ngx_int_t     port;
    redisReply   *h, *p;
#if (NGX_HAVE_INET6)
    u_char        inaddr6[16];
#endif

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        return NGX_DECLINED;
    }

    h = reply->element[0];
    p = reply->element[1];

    if (h->type != REDIS_REPLY_STRING || p->type != REDIS_REPLY_STRING
        || h->len == 0 || (size_t) h->len > NGX_SOCKADDR_STRLEN)
    {
        return NGX_DECLINED;
    }

    if (ngx_inet_addr((u_char *) h->str, h->len) == INADDR_NONE
#if (NGX_HAVE_INET6)
        && ngx_inet6_addr((u_char *) h->str, h->len, inaddr6) != NGX_OK
#endif
       )
    {
        return NGX_DECLINED;
    }

    port = ngx_atoi((u_char *) p->str, p->len);
    if (port < 1 || port > 65535) {
        return NGX_DECLINED;
    }

    ngx_memcpy(s->host, h->str, h->len);
    s->host[h->len] = '\0';
    s->port = (in_port_t) port;

    return NGX_OK;
}


static void
ngx_http_wachat_sentinel_timeout(ngx_event_t *ev)
{
    ngx_http_wachat_sentinel_t    *s = ev->data;
    redisAsyncContext             *ac;
    ngx_http_wachat_redis_addr_t  *addr;

    if (s->ac == NULL) {
        return;
    }

    addr = s->conf->sentinels->elts;
    ngx_log_error(NGX_LOG_ERR, s->log, NGX_ETIMEDOUT,
                  "wachat: sentinel %V did not answer within %M ms",
                  &addr[s->current].name,
                  (ngx_msec_t) NGX_HTTP_WACHAT_SENTINEL_TIMEOUT);

    /* its callbacks, called while it is freed, find it is no longer s->ac */
    ac = s->ac;
    s->ac = NULL;
    s->found = 0;
    redisAsyncFree(ac);

    ngx_http_wachat_sentinel_next(s);
}
