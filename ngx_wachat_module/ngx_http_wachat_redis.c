
/*
 * Redis glue: a hiredis async context whose socket is an ngx_connection_t
 * watched by the worker's event loop (level-triggered, as hiredis expects),
 * and the one script the caller gave, loaded on every connect and run with
 * EVALSHA.  Nothing here knows what the script does.
 *
 * This file is the link's life: connect (behind sentinels, to the primary
 * they name), the setup commands that must all answer before a call is
 * admitted, reconnect with backoff, and the worker's exit.  The calls
 * themselves are in ngx_http_wachat_redis_eval.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <openssl/sha.h>

#include "ngx_http_wachat_redis.h"
#include "ngx_http_wachat_redis_int.h"
#include "ngx_http_wachat_log.h"


#define NGX_HTTP_WACHAT_CONNECT_TIMEOUT   1000
#define NGX_HTTP_WACHAT_BACKOFF_MIN       100
#define NGX_HTTP_WACHAT_BACKOFF_MAX       5000

/* behind sentinels a new primary is worth looking for sooner */
#define NGX_HTTP_WACHAT_SENTINEL_BACKOFF  1000


static void ngx_http_wachat_redis_connect(ngx_http_wachat_redis_link_t *link);
static void ngx_http_wachat_redis_resolved(void *data, ngx_int_t rc,
    u_char *host, in_port_t port);
static void ngx_http_wachat_redis_failover(ngx_http_wachat_redis_link_t *link);
static void ngx_http_wachat_redis_reconnect_handler(ngx_event_t *ev);
static void ngx_http_wachat_redis_connect_timeout(ngx_event_t *ev);
static void ngx_http_wachat_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_wachat_redis_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_http_wachat_redis_setup_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static u_char *ngx_http_wachat_redis_errstr(u_char *text,
    const redisAsyncContext *ac);


ngx_http_wachat_redis_link_t  ngx_http_wachat_redis_link;


ngx_int_t
ngx_http_wachat_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_wachat_redis_conf_t *conf, ngx_http_wachat_redis_stats_t *stats,
    ngx_str_t *script)
{
    u_char                         digest[SHA_DIGEST_LENGTH];
    ngx_http_wachat_redis_link_t  *link;

    link = &ngx_http_wachat_redis_link;
    ngx_memzero(link, sizeof(ngx_http_wachat_redis_link_t));

    SHA1(script->data, script->len, digest);
    ngx_hex_dump(link->sha, digest, SHA_DIGEST_LENGTH);

    link->conf = conf;
    link->stats = stats;
    link->script = script;
    link->log = cycle->log;
    link->backoff = NGX_HTTP_WACHAT_BACKOFF_MIN;

    link->reconnect.handler = ngx_http_wachat_redis_reconnect_handler;
    link->reconnect.data = link;
    link->reconnect.log = cycle->log;
    link->reconnect.cancelable = 1;

    link->connect_timer.handler = ngx_http_wachat_redis_connect_timeout;
    link->connect_timer.data = link;
    link->connect_timer.log = cycle->log;
    link->connect_timer.cancelable = 1;

    link->wait_event.handler = ngx_http_wachat_redis_wait_handler;
    link->wait_event.data = link;
    link->wait_event.log = cycle->log;

    ngx_http_wachat_redis_connect(link);

    return NGX_OK;
}


void
ngx_http_wachat_redis_exit_process(void)
{
    ngx_http_wachat_redis_link_t  *link;

    link = &ngx_http_wachat_redis_link;
    link->exiting = 1;

    if (link->conf == NULL) {
        /* no "wachat" location: the link was never set up */
        return;
    }

    if (link->reconnect.timer_set) {
        ngx_del_timer(&link->reconnect);
    }

    if (link->connect_timer.timer_set) {
        ngx_del_timer(&link->connect_timer);
    }

    if (link->conf->sentinels) {
        ngx_http_wachat_sentinel_cancel();
    }

    if (link->ac) {
        redisAsyncFree(link->ac);
    }

    if (link->wait_event.posted) {
        ngx_delete_posted_event(&link->wait_event);
    }

    if (link->wait) {
        ngx_http_wachat_redis_wait_done(link->wait, NGX_DECLINED, 0);
        link->wait = NULL;
    }

    /* the worker leaves the gauge even if hiredis called nothing */
    ngx_http_wachat_redis_set_connected(link, 0);
}


static void
ngx_http_wachat_redis_connect(ngx_http_wachat_redis_link_t *link)
{
    u_char             *p;
    redisAsyncContext  *ac;
    u_char              text[NGX_HTTP_WACHAT_LOG_QUOTED];

    if (link->conf->sentinels && !link->resolved) {
        if (ngx_http_wachat_sentinel_resolve(link->conf, link->log,
                                             ngx_http_wachat_redis_resolved,
                                             link)
            != NGX_OK)
        {
            ngx_http_wachat_redis_schedule(link);
        }

        return;
    }

    if (link->conf->sentinels) {
        /* used once: the next connect asks the sentinels again */
        link->resolved = 0;
        ac = redisAsyncConnect((char *) link->primary, link->primary_port);

    } else if (link->conf->unix_path.len) {
        ac = redisAsyncConnectUnix((char *) link->conf->unix_path.data);

    } else {
        ac = redisAsyncConnect((char *) link->conf->host.data,
                               link->conf->port);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "wachat: cannot allocate a redis context");
        ngx_http_wachat_redis_schedule(link);
        return;
    }

    if (ac->err) {
        p = ngx_http_wachat_redis_errstr(text, ac);
        ngx_log_error(NGX_LOG_ERR, link->log, 0, "wachat: redis %V: %*s",
                      &link->conf->name, (size_t) (p - text), text);
        redisAsyncFree(ac);
        ngx_http_wachat_redis_schedule(link);
        return;
    }

    if (ngx_http_wachat_redis_attach(ac, link->log) != NGX_OK) {
        redisAsyncFree(ac);
        ngx_http_wachat_redis_schedule(link);
        return;
    }

    link->ac = ac;
    ngx_http_wachat_redis_set_connected(link, 0);

    /* the adapter must be in place: this arms the write event */
    redisAsyncSetConnectCallback(ac, ngx_http_wachat_redis_connected);
    redisAsyncSetDisconnectCallback(ac, ngx_http_wachat_redis_disconnected);

    /* in this order; calls are admitted once SCRIPT LOAD answered */

    /* an ACL user proves itself with its own password (Redis 6) */
    if (link->conf->user.len) {
        redisAsyncCommand(ac, ngx_http_wachat_redis_setup_reply, "AUTH",
                          "AUTH %b %b", link->conf->user.data,
                          link->conf->user.len, link->conf->password.data,
                          link->conf->password.len);

    } else if (link->conf->password.len) {
        redisAsyncCommand(ac, ngx_http_wachat_redis_setup_reply, "AUTH",
                          "AUTH %b", link->conf->password.data,
                          link->conf->password.len);
    }

    if (link->conf->db) {
        redisAsyncCommand(ac, ngx_http_wachat_redis_setup_reply, "SELECT",
                          "SELECT %d", (int) link->conf->db);
    }

    /* a sentinel's answer may be stale: a replica is no place to write */
    if (link->conf->sentinels) {
        redisAsyncCommand(ac, ngx_http_wachat_redis_setup_reply, "ROLE",
                          "ROLE");
    }

    redisAsyncCommand(ac, ngx_http_wachat_redis_setup_reply, "SCRIPT LOAD",
                      "SCRIPT LOAD %b", link->script->data, link->script->len);

    ngx_add_timer(&link->connect_timer, NGX_HTTP_WACHAT_CONNECT_TIMEOUT);
}


void
ngx_http_wachat_redis_schedule(ngx_http_wachat_redis_link_t *link)
{
    if (link->exiting || link->reconnect.timer_set) {
        return;
    }

    ngx_add_timer(&link->reconnect, link->backoff);

    link->backoff *= 2;
    if (link->backoff > NGX_HTTP_WACHAT_BACKOFF_MAX) {
        link->backoff = NGX_HTTP_WACHAT_BACKOFF_MAX;
    }

    if (link->conf->sentinels
        && link->backoff > NGX_HTTP_WACHAT_SENTINEL_BACKOFF)
    {
        link->backoff = NGX_HTTP_WACHAT_SENTINEL_BACKOFF;
    }
}


static void
ngx_http_wachat_redis_resolved(void *data, ngx_int_t rc, u_char *host,
    in_port_t port)
{
    ngx_http_wachat_redis_link_t  *link = data;

    if (link->exiting || link->ac) {
        return;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "wachat: no sentinel named the primary \"%V\", "
                      "retrying", &link->conf->master);
        ngx_http_wachat_redis_schedule(link);
        return;
    }

    ngx_cpystrn(link->primary, host, sizeof(link->primary));
    link->primary_port = port;
    link->resolved = 1;

    ngx_http_wachat_redis_failover(link);
    ngx_http_wachat_redis_connect(link);
}


/*
 * Every worker asks the sentinels; the first to find an address other than
 * the one in shared memory swaps it in and counts the failover, once.
 */

static void
ngx_http_wachat_redis_failover(ngx_http_wachat_redis_link_t *link)
{
    u_char            *p;
    uint32_t           crc;
    ngx_atomic_uint_t  old;
    u_char             addr[NGX_SOCKADDR_STRLEN + sizeof(":65535")];

    p = ngx_sprintf(addr, "%s:%d", link->primary, (int) link->primary_port);
    crc = ngx_crc32_short(addr, p - addr) | 1;

    old = link->stats->primary;

    if (old == crc || !ngx_atomic_cmp_set(&link->stats->primary, old, crc)) {
        return;
    }

    if (old == 0) {
        ngx_log_error(NGX_LOG_NOTICE, link->log, 0,
                      "wachat: sentinels name %*s as the primary \"%V\"",
                      p - addr, addr, &link->conf->master);
        return;
    }

    (void) ngx_atomic_fetch_add(&link->stats->failovers, 1);

    ngx_log_error(NGX_LOG_WARN, link->log, 0,
                  "wachat: failover: the primary \"%V\" is now %*s",
                  &link->conf->master, p - addr, addr);
}


static void
ngx_http_wachat_redis_reconnect_handler(ngx_event_t *ev)
{
    ngx_http_wachat_redis_link_t  *link = ev->data;

    if (link->ac == NULL && !link->exiting) {
        ngx_http_wachat_redis_connect(link);
    }
}


/*
 * The connect timer runs for the connect, then again for the setup: a
 * server that takes the connection and says nothing (a host half gone, a
 * proxy in front of a dead Redis) is dropped and tried again after the
 * backoff, instead of holding the link until TCP keepalive gives up.
 */

static void
ngx_http_wachat_redis_connect_timeout(ngx_event_t *ev)
{
    redisAsyncContext             *ac;
    ngx_http_wachat_redis_link_t  *link = ev->data;

    ac = link->ac;

    if (ac == NULL || link->connected) {
        return;
    }

    if (ac->c.flags & REDIS_CONNECTED) {
        ngx_log_error(NGX_LOG_ERR, link->log, NGX_ETIMEDOUT,
                      "wachat: redis %V: setup timed out, no answer to "
                      "the commands sent on connect",
                      &link->conf->name);

    } else {
        ngx_log_error(NGX_LOG_ERR, link->log, NGX_ETIMEDOUT,
                      "wachat: redis %V: connect timed out",
                      &link->conf->name);
    }

    /*
     * Once TCP is up, redisAsyncFree() calls the disconnect callback, which
     * leaves alone a context that is no longer the link's; before, it calls
     * none.  Either way the link backs off here, once.
     */
    link->ac = NULL;
    redisAsyncFree(ac);

    ngx_http_wachat_redis_schedule(link);
}


static void
ngx_http_wachat_redis_connected(const redisAsyncContext *ac, int status)
{
    u_char                        *p;
    ngx_http_wachat_redis_link_t  *link = &ngx_http_wachat_redis_link;
    u_char                         text[NGX_HTTP_WACHAT_LOG_QUOTED];

    if (status != REDIS_OK) {
        if (link->connect_timer.timer_set) {
            ngx_del_timer(&link->connect_timer);
        }

        /* hiredis frees the context after this callback */
        p = ngx_http_wachat_redis_errstr(text, ac);
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "wachat: redis %V: connect failed: %*s",
                      &link->conf->name, (size_t) (p - text), text);
        link->ac = NULL;
        ngx_http_wachat_redis_set_connected(link, 0);
        ngx_http_wachat_redis_schedule(link);
        return;
    }

    /*
     * No call is admitted yet: one pipelined behind a SELECT that is then
     * refused would run in db 0 and be answered 200, lost to the consumers
     * of the configured db.  The setup's last reply admits them; until
     * then the connect timer runs again, as long as for the connect.
     */

    ngx_add_timer(&link->connect_timer, NGX_HTTP_WACHAT_CONNECT_TIMEOUT);

    link->progress = ngx_current_msec;

    if (link->conf->unix_path.len == 0) {
        (void) redisEnableKeepAlive(&link->ac->c);
    }
}


static void
ngx_http_wachat_redis_disconnected(const redisAsyncContext *ac, int status)
{
    u_char                        *p;
    ngx_http_wachat_redis_link_t  *link = &ngx_http_wachat_redis_link;
    u_char                         text[NGX_HTTP_WACHAT_LOG_QUOTED];

    if (ac != link->ac) {
        /* freed by the connect timer, which backs off itself */
        return;
    }

    if (link->connect_timer.timer_set) {
        ngx_del_timer(&link->connect_timer);
    }

    link->ac = NULL;
    ngx_http_wachat_redis_set_connected(link, 0);

    if (link->exiting) {
        return;
    }

    if (status != REDIS_OK && ac->errstr[0] == '\0') {
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "wachat: lost redis %V: connection closed, reconnecting",
                      &link->conf->name);

    } else if (status != REDIS_OK) {
        p = ngx_http_wachat_redis_errstr(text, ac);
        ngx_log_error(NGX_LOG_ERR, link->log, 0,
                      "wachat: lost redis %V: %*s, reconnecting",
                      &link->conf->name, (size_t) (p - text), text);
    }

    ngx_http_wachat_redis_schedule(link);
}


static void
ngx_http_wachat_redis_setup_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    u_char                        *p;
    redisReply                    *reply = r;
    ngx_http_wachat_redis_link_t  *link = &ngx_http_wachat_redis_link;
    u_char                         text[NGX_HTTP_WACHAT_LOG_QUOTED];

    if (reply == NULL) {
        return;
    }

    if (ngx_strcmp((char *) privdata, "ROLE") == 0
        && reply->type == REDIS_REPLY_ARRAY)
    {
        if (reply->elements > 0
            && reply->element[0]->type == REDIS_REPLY_STRING
            && ngx_strcmp(reply->element[0]->str, "master") == 0)
        {
            return;
        }

        ngx_log_error(NGX_LOG_WARN, link->log, 0,
                      "wachat: %s:%d is not the primary \"%V\" (yet), "
                      "asking the sentinels again", link->primary,
                      (int) link->primary_port, &link->conf->master);

        redisAsyncDisconnect(ac);
        return;
    }

    if (reply->type != REDIS_REPLY_ERROR) {

        /*
         * SCRIPT LOAD comes last: everything before it succeeded unless
         * the link is being dropped (SCRIPT LOAD also succeeds behind a
         * refused SELECT or a ROLE that is not the primary's).  Only now
         * are calls admitted, and the backoff reset.
         */

        if (ngx_strcmp((char *) privdata, "SCRIPT LOAD") == 0
            && !(ac->c.flags & REDIS_DISCONNECTING))
        {
            if (link->connect_timer.timer_set) {
                ngx_del_timer(&link->connect_timer);
            }

            link->backoff = NGX_HTTP_WACHAT_BACKOFF_MIN;

            if (link->was_connected) {
                (void) ngx_atomic_fetch_add(&link->stats->reconnects, 1);
            }

            link->was_connected = 1;

            ngx_http_wachat_redis_set_connected(link, 1);

            ngx_log_error(NGX_LOG_NOTICE, link->log, 0,
                          "wachat: connected to redis %V",
                          &link->conf->name);
        }

        return;
    }

    /*
     * A wrong password or db makes every later call fail: say it once
     * here and drop the link, the backoff keeps retrying slowly.
     */

    p = ngx_http_wachat_log_quote(text, sizeof(text), (u_char *) reply->str,
                                  reply->len);

    ngx_log_error(NGX_LOG_ERR, link->log, 0,
                  "wachat: redis %V: %s failed: %*s", &link->conf->name,
                  (char *) privdata, (size_t) (p - text), text);

    redisAsyncDisconnect(ac);
}


/*
 * hiredis' error text, quoted for the log: a protocol error may quote what
 * the peer sent.  text has NGX_HTTP_WACHAT_LOG_QUOTED bytes.
 */

static u_char *
ngx_http_wachat_redis_errstr(u_char *text, const redisAsyncContext *ac)
{
    return ngx_http_wachat_log_quote(text, NGX_HTTP_WACHAT_LOG_QUOTED,
                                     (u_char *) ac->errstr,
                                     ngx_strlen(ac->errstr));
}
