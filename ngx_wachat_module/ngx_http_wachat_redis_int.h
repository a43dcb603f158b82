
/*
 * The Redis link's private parts, shared by its files:
 *
 *   ngx_http_wachat_redis.c          the link's life: connect (through the
 *                                    sentinels), the setup pipeline,
 *                                    reconnect with backoff, exit
 *   ngx_http_wachat_redis_eval.c     a script call: EVALSHA (EVAL after
 *                                    NOSCRIPT), its reply, its end
 *   ngx_http_wachat_redis_wait.c     wachat_redis_replicas: one WAIT for a
 *                                    batch of calls (group commit)
 *   ngx_http_wachat_redis_stats.c    the shared-memory gauge and round-trip
 *                                    histogram
 *   ngx_http_wachat_redis_adapter.c  hiredis' event hooks on an
 *                                    ngx_connection_t
 */


#ifndef _NGX_HTTP_WACHAT_REDIS_INT_H_INCLUDED_
#define _NGX_HTTP_WACHAT_REDIS_INT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_wachat_redis.h"


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


/* the worker's one link (ngx_http_wachat_redis.c) */
extern ngx_http_wachat_redis_link_t  ngx_http_wachat_redis_link;


/* ngx_http_wachat_redis.c: try again after the backoff */
void ngx_http_wachat_redis_schedule(ngx_http_wachat_redis_link_t *link);

/* ngx_http_wachat_redis_eval.c: the call's end, its done handler called */
void ngx_http_wachat_redis_finish(ngx_http_wachat_redis_call_t *call,
    ngx_int_t rc, ngx_int_t result);

/* ngx_http_wachat_redis_wait.c */
ngx_int_t ngx_http_wachat_redis_wait_add(ngx_http_wachat_redis_call_t *call);
void ngx_http_wachat_redis_wait_handler(ngx_event_t *ev);
void ngx_http_wachat_redis_wait_done(ngx_http_wachat_redis_wait_t *w,
    ngx_int_t rc, ngx_int_t acked);
void ngx_http_wachat_redis_wait_leave(ngx_http_wachat_redis_call_t *call);

/* ngx_http_wachat_redis_stats.c */
void ngx_http_wachat_redis_set_connected(ngx_http_wachat_redis_link_t *link,
    ngx_uint_t connected);
void ngx_http_wachat_redis_observe(ngx_http_wachat_redis_stats_t *stats,
    uint64_t usec);
uint64_t ngx_http_wachat_redis_usec(void);


#endif /* _NGX_HTTP_WACHAT_REDIS_INT_H_INCLUDED_ */
