
/*
 * The Redis link of a worker: one hiredis async connection driven by nginx's
 * own event loop, shared by all requests of the worker, reconnected with
 * backoff.  It runs the one Lua script it is given and knows nothing about
 * webhooks.
 */


#ifndef _NGX_HTTP_WACHAT_REDIS_H_INCLUDED_
#define _NGX_HTTP_WACHAT_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <hiredis/async.h>


typedef struct {
    ngx_str_t      host;            /* numeric address, NUL-terminated */
    in_port_t      port;
    ngx_str_t      name;            /* as written in the config, for logs */
} ngx_http_wachat_redis_addr_t;


typedef struct {
    ngx_str_t      host;            /* numeric address, NUL-terminated */
    in_port_t      port;
    ngx_str_t      unix_path;       /* NUL-terminated, or empty */
    ngx_str_t      name;            /* as written in the config, for logs */
    ngx_int_t      db;
    ngx_str_t      user;            /* a Redis 6 ACL user, or empty */
    ngx_str_t      password;

    /* sentinel=...: the primary is asked of them on every connect */
    ngx_array_t   *sentinels;       /* of ngx_http_wachat_redis_addr_t */
    ngx_str_t      master;          /* the name the sentinels know it by */
    ngx_str_t      sentinel_password;

    /* wachat_redis_replicas: WAIT after every script call, 0: none */
    ngx_uint_t     replicas;
    ngx_msec_t     wait_timeout;
} ngx_http_wachat_redis_conf_t;


/* upper bounds of the round-trip histogram's buckets, in microseconds */
#define NGX_HTTP_WACHAT_REDIS_BOUNDS                                         \
    500, 1000, 2000, 5000, 10000, 25000, 50000, 100000, 250000, 500000,      \
    1000000

#define NGX_HTTP_WACHAT_REDIS_BUCKETS  12       /* the bounds and +Inf */


/*
 * The link's statistics, in shared memory: every worker adds to the same
 * counters.  A bucket counts the round trips that fell into it alone, the
 * reader sums them up.
 */
typedef struct {
    ngx_atomic_t   connected;       /* workers connected right now */
    ngx_atomic_t   reconnects;      /* connections made again after a loss */
    ngx_atomic_t   primary;         /* crc32 of the primary's host:port */
    ngx_atomic_t   failovers;       /* times a new primary was found */
    ngx_atomic_t   down_since;      /* msec: no worker connected, or 0 */
    ngx_atomic_t   no_primary_msec; /* time spent so, summed */
    ngx_atomic_t   roundtrip[NGX_HTTP_WACHAT_REDIS_BUCKETS];
    ngx_atomic_t   roundtrip_usec;  /* their sum */
} ngx_http_wachat_redis_stats_t;


typedef struct ngx_http_wachat_redis_call_s  ngx_http_wachat_redis_call_t;

/*
 * rc: NGX_OK with the script's integer result, NGX_ERROR when Redis answered
 * an error, NGX_DECLINED when the connection was lost before an answer,
 * NGX_AGAIN when the script ran but WAIT saw fewer replicas acknowledge it
 * than wachat_redis_replicas asks for.
 */
typedef void (*ngx_http_wachat_redis_done_pt)(void *data, ngx_int_t rc,
    ngx_int_t result);


/*
 * Connects, and loads script (SCRIPT LOAD) on every connect.  The script
 * must stay valid until the process exits.
 */
ngx_int_t ngx_http_wachat_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_wachat_redis_conf_t *conf, ngx_http_wachat_redis_stats_t *stats,
    ngx_str_t *script);
void ngx_http_wachat_redis_exit_process(void);

/*
 * The room a caller leaves in front of the arguments for the command's head
 * (*<n> EVALSHA <sha>).
 */
#define NGX_HTTP_WACHAT_REDIS_HEADROOM  96

/*
 * Runs the script (EVALSHA; EVAL once after NOSCRIPT).  args[0..len) holds
 * its nargs arguments (numkeys, keys..., args...) as RESP bulk strings, with
 * NGX_HTTP_WACHAT_REDIS_HEADROOM writable bytes before args.  The buffer
 * must stay valid until done is called or the call is cancelled.  Returns
 * NULL when Redis is not connected: the caller answers 503 at once.
 */
ngx_http_wachat_redis_call_t *ngx_http_wachat_redis_eval(ngx_log_t *log,
    u_char *args, size_t len, ngx_uint_t nargs,
    ngx_http_wachat_redis_done_pt done, void *data);

/* the caller is gone: its done handler will not be called */
void ngx_http_wachat_redis_cancel(ngx_http_wachat_redis_call_t *call);

/*
 * The adapter: hiredis' event hooks on an ngx_connection_t of the worker's
 * event loop, for any async context of this module.
 */
ngx_int_t ngx_http_wachat_redis_attach(redisAsyncContext *ac, ngx_log_t *log);


/*
 * ngx_http_wachat_sentinel.c: asks the sentinels of conf, one at a time,
 * for the primary's address; done gets NGX_OK with a NUL-terminated numeric
 * host (valid during the call) or NGX_ERROR when none answered.  One
 * question at a time per worker: NGX_BUSY while one is asked.
 */
typedef void (*ngx_http_wachat_sentinel_done_pt)(void *data, ngx_int_t rc,
    u_char *host, in_port_t port);

ngx_int_t ngx_http_wachat_sentinel_resolve(ngx_http_wachat_redis_conf_t *conf,
    ngx_log_t *log, ngx_http_wachat_sentinel_done_pt done, void *data);
void ngx_http_wachat_sentinel_cancel(void);


#endif /* _NGX_HTTP_WACHAT_REDIS_H_INCLUDED_ */
