
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

/* behind sentinels a new primary is worth looking for sooner */
#define NGX_HTTP_WACHAT_SENTINEL_BACKOFF  1000

/*
 * Calls in flight and no reply for this long: the link is presumed dead
 * (a host gone without a reset leaves TCP waiting for many minutes).
 */
#define NGX_HTTP_WACHAT_SILENCE           10000


typedef struct ngx_http_wachat_redis_wait_s  ngx_http_wachat_redis_wait_t;


struct ngx_http_wachat_redis_call_s {
    ngx_http_wachat_redis_done_pt   done;       /* NULL once cancelled */
    void                           *data;
    u_char                         *args;       /* RESP, headroom before */
    size_t                          len;
    ngx_uint_t                      nargs;
    ngx_uint_t                      retried;    /* EVAL after NOSCRIPT */
    uint64_t                        sent;       /* usec, monotonic */

    /* with wachat_redis_replicas: the script's answer waits for WAIT's */
    ngx_http_wachat_redis_wait_t   *wait;       /* the WAIT covering it */
    ngx_queue_t                     queue;      /* in wait->calls */
    ngx_uint_t                      answered;   /* the script's reply */
    ngx_uint_t                      unwaited;   /* no WAIT covers it */
    ngx_int_t                       result;
};


/*
 * One WAIT for a batch of script calls: WAIT blocks the connection, so one
 * per call would serialise them.  A batch fills while the WAIT before it is
 * out (group commit): the more load, the more calls one WAIT covers.
 */
struct ngx_http_wachat_redis_wait_s {
    ngx_queue_t                     calls;
};


typedef struct {
    ngx_http_wachat_redis_conf_t   *conf;
    ngx_http_wachat_redis_stats_t  *stats;
    ngx_str_t                      *script;
    u_char                          sha[40];    /* the script's SHA-1, hex */
    ngx_log_t                      *log;
    redisAsyncContext              *ac;
    ngx_uint_t                      connected;
    ngx_uint_t                      was_connected;
    ngx_uint_t                      inflight;
    ngx_msec_t                      progress;   /* last reply, or 0 -> 1 */
    ngx_msec_t                      backoff;
    ngx_event_t                     reconnect;
    ngx_event_t                     connect_timer;
    ngx_uint_t                      exiting;

    /* behind sentinels: the primary they named for the next connect */
    ngx_uint_t                      resolved;
    u_char                          primary[NGX_SOCKADDR_STRLEN + 1];
    in_port_t                       primary_port;

    ngx_http_wachat_redis_wait_t   *wait;       /* filling, WAIT not sent */
    ngx_event_t                     wait_event; /* posted: sends its WAIT */
    ngx_uint_t                      waiting;    /* a WAIT is out */
} ngx_http_wachat_redis_link_t;


static void ngx_http_wachat_redis_connect(ngx_http_wachat_redis_link_t *link);
static void ngx_http_wachat_redis_resolved(void *data, ngx_int_t rc,
    u_char *host, in_port_t port);
static void ngx_http_wachat_redis_failover(ngx_http_wachat_redis_link_t *link);
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
static ngx_int_t ngx_http_wachat_redis_wait_add(
    ngx_http_wachat_redis_call_t *call);
static void ngx_http_wachat_redis_wait_handler(ngx_event_t *ev);
static void ngx_http_wachat_redis_wait_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_wachat_redis_wait_done(ngx_http_wachat_redis_wait_t *w,
    ngx_int_t rc, ngx_int_t acked);
static void ngx_http_wachat_redis_wait_leave(
    ngx_http_wachat_redis_call_t *call);
static ngx_uint_t ngx_http_wachat_redis_not_primary(redisReply *reply);
static void ngx_http_wachat_redis_set_connected(
    ngx_http_wachat_redis_link_t *link, ngx_uint_t connected);
static void ngx_http_wachat_redis_observe(ngx_http_wachat_redis_stats_t *stats,
    uint64_t usec);
static uint64_t ngx_http_wachat_redis_usec(void);

static void ngx_http_wachat_redis_event(ngx_event_t *ev);
static void ngx_http_wachat_redis_add_read(void *privdata);
static void ngx_http_wachat_redis_del_read(void *privdata);
static void ngx_http_wachat_redis_add_write(void *privdata);
static void ngx_http_wachat_redis_del_write(void *privdata);
static void ngx_http_wachat_redis_cleanup(void *privdata);


static ngx_http_wachat_redis_link_t  ngx_http_wachat_redis_link;

/* in redisAsyncHandleWrite: a write asked for now must wait for epoll */
static ngx_uint_t  ngx_http_wachat_redis_writing;

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

    /* a sentinel's answer may be stale: a replica is no place to write */
    if (link->conf->sentinels) {
        redisAsyncCommand(ac, ngx_http_wachat_redis_setup_reply, "ROLE",
                          "ROLE");
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
     * wrong password does not turn into a reconnect storm.  Behind
     * sentinels, only once ROLE said this is the primary.
     */
    if (link->conf->sentinels == NULL) {
        ngx_http_wachat_redis_set_connected(link, 1);
    }

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

    if (ngx_strcmp((char *) privdata, "ROLE") == 0
        && reply->type == REDIS_REPLY_ARRAY)
    {
        if (reply->elements > 0
            && reply->element[0]->type == REDIS_REPLY_STRING
            && ngx_strcmp(reply->element[0]->str, "master") == 0)
        {
            ngx_http_wachat_redis_set_connected(link, 1);
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


/*
 * wachat_redis_replicas: a script call joins the batch being filled, whose
 * WAIT goes out once the handlers of this turn are done (a posted event)
 * and no other WAIT is out; else when that one's reply comes.
 */

static ngx_int_t
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


static void
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

static void
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

static void
ngx_http_wachat_redis_wait_leave(ngx_http_wachat_redis_call_t *call)
{
    if (call->wait) {
        ngx_queue_remove(&call->queue);
        call->wait = NULL;
    }
}


/* the gauge counts each worker once, whatever path it takes up or down */

static void
ngx_http_wachat_redis_set_connected(ngx_http_wachat_redis_link_t *link,
    ngx_uint_t connected)
{
    ngx_atomic_uint_t               was, since;
    ngx_http_wachat_redis_stats_t  *stats = link->stats;

    if (link->connected == connected) {
        return;
    }

    link->connected = connected;

    was = ngx_atomic_fetch_add(&stats->connected, connected ? 1 : -1);

    /*
     * The time no worker had a primary: from the last one losing it to the
     * first one finding it again (ngx_current_msec is monotonic, the same
     * clock in every worker).  Workers leaving (a reload) lose nothing.
     */

    if (!connected && was == 1 && !link->exiting) {
        stats->down_since = ngx_current_msec | 1;
        return;
    }

    since = stats->down_since;

    if (connected && was == 0 && since
        && ngx_atomic_cmp_set(&stats->down_since, since, 0))
    {
        (void) ngx_atomic_fetch_add(&stats->no_primary_msec,
                                    ngx_current_msec - since);
    }
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


ngx_int_t
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

    return NGX_OK;
}


static void
ngx_http_wachat_redis_event(ngx_event_t *ev)
{
    ngx_connection_t   *c = ev->data;
    redisAsyncContext  *ac = c->data;

    /* hiredis may free the context, and with it c, inside these calls */

    if (ev->write) {
        ngx_http_wachat_redis_writing = 1;
        redisAsyncHandleWrite(ac);
        ngx_http_wachat_redis_writing = 0;

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
    ngx_connection_t   *c = privdata;
    redisAsyncContext  *ac = c->data;

    if (c->write->active || c->write->posted) {
        return;
    }

    if (!ngx_http_wachat_redis_writing && (ac->c.flags & REDIS_CONNECTED)) {
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
}
