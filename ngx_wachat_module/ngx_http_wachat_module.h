
/*
 * ngx_http_wachat_module: WhatsApp Cloud API webhooks into a Redis Stream.
 */


#ifndef _NGX_HTTP_WACHAT_MODULE_H_INCLUDED_
#define _NGX_HTTP_WACHAT_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>

#include "ngx_http_wachat_redis.h"
#include "wachat_envelope.h"


typedef struct {
    ngx_http_wachat_redis_conf_t   redis;
    ngx_flag_t                     redis_set;
    ngx_flag_t                     enabled;        /* some location has it */
    ngx_shm_zone_t                *metrics_zone;
} ngx_http_wachat_main_conf_t;


typedef struct {
    ngx_flag_t                     enable;
    ngx_str_t                      verify_token;
    ngx_str_t                      app_secret;
    EVP_MAC_CTX                   *hmac;           /* keyed with it */
    ngx_str_t                      api_secret;     /* nginx to wachatd */
    ngx_str_t                      stream;
    ngx_str_t                      seen_prefix;    /* dedup key prefix */
    ngx_msec_t                     redis_timeout;
    time_t                         dedup_ttl;
    ngx_int_t                      stream_maxlen;
} ngx_http_wachat_loc_conf_t;


/* what happened to a request, for $wachat_result and the response */
typedef enum {
    NGX_HTTP_WACHAT_NONE = 0,
    NGX_HTTP_WACHAT_VERIFIED,
    NGX_HTTP_WACHAT_BAD_REQUEST,
    NGX_HTTP_WACHAT_BAD_CHALLENGE,
    NGX_HTTP_WACHAT_BAD_VERIFY_TOKEN,
    NGX_HTTP_WACHAT_NO_SIGNATURE,
    NGX_HTTP_WACHAT_BAD_SIGNATURE,
    NGX_HTTP_WACHAT_BAD_CONTENT_TYPE,
    NGX_HTTP_WACHAT_BAD_JSON,
    NGX_HTTP_WACHAT_TOO_MANY_EVENTS,
    NGX_HTTP_WACHAT_ACCEPTED,
    NGX_HTTP_WACHAT_REDIS_UNAVAILABLE,
    NGX_HTTP_WACHAT_REDIS_TIMEOUT,
    NGX_HTTP_WACHAT_REDIS_ERROR,
    NGX_HTTP_WACHAT_REDIS_NOT_REPLICATED,
    NGX_HTTP_WACHAT_METHOD_NOT_ALLOWED,
    NGX_HTTP_WACHAT_INTERNAL_ERROR,
    NGX_HTTP_WACHAT_NRESULTS
} ngx_http_wachat_result_e;


/* the "wachat_metrics" shared memory zone: counters of all workers */
typedef struct {
    size_t                         size;           /* of this layout */
    ngx_atomic_t                   requests[NGX_HTTP_WACHAT_NRESULTS];
    ngx_atomic_t                   events_queued;
    ngx_atomic_t                   events_duplicate;
    ngx_http_wachat_redis_stats_t  redis;
} ngx_http_wachat_metrics_t;


typedef struct {
    ngx_http_request_t            *request;
    ngx_http_wachat_result_e       result;
    ngx_int_t                      nevents;        /* parsed */
    ngx_int_t                      queued;         /* new in the stream, -1 */
    wachat_envelope_t              envelope;
    ngx_http_wachat_redis_call_t  *call;           /* in flight, or NULL */
    ngx_event_t                    timeout;
} ngx_http_wachat_ctx_t;


/*
 * One row of ngx_http_wachat_outcomes[], indexed by the result, which is
 * also its slot in the metrics' requests[].
 */
typedef struct {
    ngx_str_t                      name;           /* $wachat_result */
    ngx_uint_t                     status;
    ngx_uint_t                     level;          /* error_log; 0: none */
    char                          *why;            /* the error_log line */
} ngx_http_wachat_outcome_t;


/* ngx_http_wachat_handler.c: the "wachat" location's content handler */
ngx_int_t ngx_http_wachat_handler(ngx_http_request_t *r);


/*
 * ngx_http_wachat_result.c: records a request's result (ctx, metrics, the
 * one error_log line) and returns what the answer is made of.
 */
ngx_http_wachat_outcome_t *ngx_http_wachat_result_record(
    ngx_http_request_t *r, ngx_http_wachat_ctx_t *ctx,
    ngx_http_wachat_result_e result);
ngx_str_t *ngx_http_wachat_result_name(ngx_http_wachat_result_e result);


/*
 * ngx_http_wachat_script.c: the Lua script that queues a body's events, and
 * its arguments as RESP bulk strings after NGX_HTTP_WACHAT_REDIS_HEADROOM
 * bytes of room, for ngx_http_wachat_redis_eval().
 */
extern ngx_str_t  ngx_http_wachat_script_text;

ngx_int_t ngx_http_wachat_script_args(ngx_pool_t *pool,
    ngx_http_wachat_loc_conf_t *wlcf, wachat_envelope_t *env,
    ngx_str_t *args, ngx_uint_t *nargs);


/* ngx_http_wachat_redis_conf.c: wachat_redis, wachat_redis_replicas */
char *ngx_http_wachat_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_wachat_redis_replicas(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_wachat_parse_redis(ngx_conf_t *cf, ngx_str_t *addr,
    ngx_http_wachat_redis_conf_t *rcf);


/* ngx_http_wachat_secret.c: a secret file, read once */
char *ngx_http_wachat_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_wachat_read_secret(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *secret);


/* ngx_http_wachat_metrics.c */
ngx_shm_zone_t *ngx_http_wachat_metrics_zone(ngx_conf_t *cf);
ngx_int_t ngx_http_wachat_metrics_handler(ngx_http_request_t *r);


/* ngx_http_wachat_verify.c */
ngx_http_wachat_result_e ngx_http_wachat_verify_challenge(
    ngx_http_request_t *r, ngx_str_t *token, ngx_str_t *challenge);
EVP_MAC_CTX *ngx_http_wachat_verify_hmac(ngx_conf_t *cf, ngx_str_t *secret);
ngx_http_wachat_result_e ngx_http_wachat_verify_signature(
    ngx_str_t *header, EVP_MAC_CTX *hmac, u_char *body, size_t len);


extern ngx_module_t  ngx_http_wachat_module;


#endif /* _NGX_HTTP_WACHAT_MODULE_H_INCLUDED_ */
