
/*
 * Redis glue: a hiredis async context whose socket is an ngx_connection_t
 * watched by the worker's event loop (level-triggered, as hiredis expects),
 * and the one script the caller gave, loaded on every connect and run with
 * EVALSHA.  Nothing here knows what the script does.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <openssl/sha.h>

#include "ngx_http_wachat_redis.h"
#include "ngx_http_wachat_log.h"


#define NGX_HTTP_WACHAT_CONNECT_TIMEOUT   1000
#define NGX_HTTP_WACHAT_BACKOFF_MIN       100
#define NGX_HTTP_WACHAT_BACKOFF_MAX       5000
#define NGX_HTTP_WACHAT_MAX_INFLIGHT      16384

/*
 * Calls in flight and no reply for this long: the link is presumed dead
 * (a host gone without a reset leaves TCP waiting for many minutes).
 */
#define NGX_HTTP_WACHAT_SILENCE           10000


struct ngx_http_wachat_redis_call_s {
    ngx_http_wachat_redis_done_pt   done;       /* NULL once cancelled */
    void                           *data;
    u_char                         *args;       /* RESP, headroom before */
    size_t                          len;
    ngx_uint_t                      nargs;
    ngx_uint_t                      retried;    /* EVAL after NOSCRIPT */
    uint64_t                        sent;       /* usec, monotonic */
};


typedef struct {
    ngx_http_wachat_redis_conf_t   *conf;
    ngx_http_wachat_redis_stats_t  *stats;
    ngx_str_t                      *script;
    u_char                          sha[40];    /* the script's SHA-1, hex */
    ngx_log_t                      *log;
    redisAsyncContext              *ac;
    ngx_connection_t               *conn;
    ngx_uint_t                      connected;
    ngx_uint_t                      was_connected;
    ngx_uint_t                      inflight;
    ngx_msec_t                      progress;   /* last reply, or 0 -> 1 */
    ngx_msec_t                      backoff;
    ngx_event_t                     reconnect;
    ngx_event_t                     connect_timer;
    ngx_uint_t                      exiting;
    ngx_uint_t                      writing;    /* in redisAsyncHandleWrite */
} ngx_http_wachat_redis_link_t;


static void ngx_http_wachat_redis_connect(ngx_http_wachat_redis_link_t *link);
static void ngx_http_wachat_redis_schedule(ngx_http_wachat_redis_link_t *link);
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
static void ngx_http_wachat_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static ngx_int_t ngx_http_wachat_redis_send(ngx_http_wachat_redis_call_t *call,
    ngx_uint_t eval);
static void ngx_http_wachat_redis_finish(ngx_http_wachat_redis_call_t *call,
    ngx_int_t rc, ngx_int_t result);
static void ngx_http_wachat_redis_set_connected(
    ngx_http_wachat_redis_link_t *link, ngx_uint_t connected);
static void ngx_http_wachat_redis_observe(ngx_http_wachat_redis_stats_t *stats,
    uint64_t usec);
static uint64_t ngx_http_wachat_redis_usec(void);

static ngx_int_t ngx_http_wachat_redis_attach(redisAsyncContext *ac,
    ngx_log_t *log);
static void ngx_http_wachat_redis_event(ngx_event_t *ev);
static void ngx_http_wachat_redis_add_read(void *privdata);
static void ngx_http_wachat_redis_del_read(void *privdata);
static void ngx_http_wachat_redis_add_write(void *privdata);
static void ngx_http_wachat_redis_del_write(void *privdata);
static void ngx_http_wachat_redis_cleanup(void *privdata);


static ngx_http_wachat_redis_link_t  ngx_http_wachat_redis_link;

static uint64_t  ngx_http_wachat_redis_bounds[] = {
    NGX_HTTP_WACHAT_REDIS_BOUNDS
};


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

    ngx_http_wachat_redis_connect(link);

    return NGX_OK;
}


void
ngx_http_wachat_redis_exit_process(void)
{
    ngx_http_wachat_redis_link_t  *link;

    link = &ngx_http_wachat_redis_link;
    link->exiting = 1;

    if (link->reconnect.timer_set) {
        ngx_del_timer(&link->reconnect);
    }

    if (link->connect_timer.timer_set) {
        ngx_del_timer(&link->connect_timer);
    }

    if (link->ac) {
        redisAsyncFree(link->ac);
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

    if (link->conf->unix_path.len) {
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

    /* pipelined ahead of every request, in this order */

    if (link->conf->password.len) {
        redisAsyncCommand(ac, ngx_http_wachat_redis_setup_reply, "AUTH",
                          "AUTH %b", link->conf->password.data,
                          link->conf->password.len);
    }

    if (link->conf->db) {
        redisAsyncCommand(ac, ngx_http_wachat_redis_setup_reply, "SELECT",
                          "SELECT %d", (int) link->conf->db);
    }

    redisAsyncCommand(ac, ngx_http_wachat_redis_setup_reply, "SCRIPT LOAD",
                      "SCRIPT LOAD %b", link->script->data, link->script->len);

    ngx_add_timer(&link->connect_timer, NGX_HTTP_WACHAT_CONNECT_TIMEOUT);
}


static void
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
}


static void
ngx_http_wachat_redis_reconnect_handler(ngx_event_t *ev)
{
    ngx_http_wachat_redis_link_t  *link = ev->data;

    if (link->ac == NULL && !link->exiting) {
        ngx_http_wachat_redis_connect(link);
    }
}


static void
ngx_http_wachat_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_http_wachat_redis_link_t  *link = ev->data;

    if (link->ac && !link->connected) {
        ngx_log_error(NGX_LOG_ERR, link->log, NGX_ETIMEDOUT,
                      "wachat: redis %V: connect timed out",
                      &link->conf->name);

        /* never connected: hiredis calls no disconnect callback */
        redisAsyncFree(link->ac);
        link->ac = NULL;
        ngx_http_wachat_redis_schedule(link);
    }
}


static void
ngx_http_wachat_redis_connected(const redisAsyncContext *ac, int status)
{
    u_char                        *p;
    ngx_http_wachat_redis_link_t  *link = &ngx_http_wachat_redis_link;
    u_char                         text[NGX_HTTP_WACHAT_LOG_QUOTED];

    if (link->connect_timer.timer_set) {
        ngx_del_timer(&link->connect_timer);
    }

    if (status != REDIS_OK) {
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
     * Requests may be pipelined from now on, behind AUTH, SELECT and
     * SCRIPT LOAD; the backoff is reset only when those succeed, so a
     * wrong password does not turn into a reconnect storm.
     */
    ngx_http_wachat_redis_set_connected(link, 1);
    link->progress = ngx_current_msec;

    if (link->was_connected) {
        (void) ngx_atomic_fetch_add(&link->stats->reconnects, 1);
    }

    link->was_connected = 1;

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

    if (reply->type != REDIS_REPLY_ERROR) {
        if (ngx_strcmp((char *) privdata, "SCRIPT LOAD") == 0) {
            link->backoff = NGX_HTTP_WACHAT_BACKOFF_MIN;

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

    if (ngx_http_wachat_redis_send(call, 0) != NGX_OK) {
        ngx_free(call);
        return NULL;
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
        ngx_http_wachat_redis_finish(call, NGX_DECLINED, 0);
        return;
    }

    if (reply->type == REDIS_REPLY_INTEGER) {
        ngx_http_wachat_redis_finish(call, NGX_OK, (ngx_int_t) reply->integer);
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR
        && reply->len >= 8 && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0
        && !call->retried && call->done && !ac->err)
    {
        /* the script cache was flushed: send the script itself, once */
        call->retried = 1;

        if (ngx_http_wachat_redis_send(call, 1) == NGX_OK) {
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

    ngx_http_wachat_redis_finish(call, NGX_ERROR, 0);
}


static void
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


/* the gauge counts each worker once, whatever path it takes up or down */

static void
ngx_http_wachat_redis_set_connected(ngx_http_wachat_redis_link_t *link,
    ngx_uint_t connected)
{
    if (link->connected == connected) {
        return;
    }

    link->connected = connected;

    (void) ngx_atomic_fetch_add(&link->stats->connected, connected ? 1 : -1);
}


static void
ngx_http_wachat_redis_observe(ngx_http_wachat_redis_stats_t *stats,
    uint64_t usec)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_WACHAT_REDIS_BUCKETS - 1; i++) {
        if (usec <= ngx_http_wachat_redis_bounds[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&stats->roundtrip[i], 1);
    (void) ngx_atomic_fetch_add(&stats->roundtrip_usec,
                                (ngx_atomic_int_t) usec);
}


/*
 * ngx_current_msec is the time of the last event loop turn, too coarse for
 * a round trip that often takes less than a millisecond.
 */

static uint64_t
ngx_http_wachat_redis_usec(void)
{
#if (NGX_HAVE_CLOCK_MONOTONIC)
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
#else
    struct timeval  tv;

    ngx_gettimeofday(&tv);

    return (uint64_t) tv.tv_sec * 1000000 + tv.tv_usec;
#endif
}


/* the adapter: hiredis' five event hooks on an ngx_connection_t */


static ngx_int_t
ngx_http_wachat_redis_attach(redisAsyncContext *ac, ngx_log_t *log)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(ac->c.fd, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = ac;
    c->log = log;
    c->read->handler = ngx_http_wachat_redis_event;
    c->write->handler = ngx_http_wachat_redis_event;
    c->read->log = log;
    c->write->log = log;

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_wachat_redis_add_read;
    ac->ev.delRead = ngx_http_wachat_redis_del_read;
    ac->ev.addWrite = ngx_http_wachat_redis_add_write;
    ac->ev.delWrite = ngx_http_wachat_redis_del_write;
    ac->ev.cleanup = ngx_http_wachat_redis_cleanup;

    ngx_http_wachat_redis_link.conn = c;

    return NGX_OK;
}


static void
ngx_http_wachat_redis_event(ngx_event_t *ev)
{
    ngx_connection_t   *c = ev->data;
    redisAsyncContext  *ac = c->data;

    /* hiredis may free the context, and with it c, inside these calls */

    if (ev->write) {
        ngx_http_wachat_redis_link.writing = 1;
        redisAsyncHandleWrite(ac);
        ngx_http_wachat_redis_link.writing = 0;

    } else {
        redisAsyncHandleRead(ac);
    }
}


static void
ngx_http_wachat_redis_add_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_wachat_redis_del_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


/*
 * Once connected, a command is not written at once nor through epoll: the
 * write event is posted, so every command issued in this turn of the event
 * loop (one per webhook) leaves in one write(), with no epoll_ctl() churn.
 * Only a socket that did not take everything (hiredis asks for the write
 * event again from inside its write handler) waits for epoll; so does the
 * connect, which hiredis detects on the first write event.
 */

static void
ngx_http_wachat_redis_add_write(void *privdata)
{
    ngx_connection_t              *c = privdata;
    ngx_http_wachat_redis_link_t  *link = &ngx_http_wachat_redis_link;

    if (c->write->active || c->write->posted) {
        return;
    }

    if (link->connected && !link->writing
        && (link->ac->c.flags & REDIS_CONNECTED))
    {
        ngx_post_event(c->write, &ngx_posted_events);
        return;
    }

    (void) ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
}


static void
ngx_http_wachat_redis_del_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


static void
ngx_http_wachat_redis_cleanup(void *privdata)
{
    ngx_connection_t  *c = privdata;

    ngx_http_wachat_redis_del_read(c);
    ngx_http_wachat_redis_del_write(c);

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    /* hiredis closes the socket itself */
    c->fd = (ngx_socket_t) -1;
    ngx_free_connection(c);

    ngx_http_wachat_redis_link.conn = NULL;
}
