
/*
 * What happened to a request: one row per result gives its answer's status,
 * the $wachat_result value, the error_log level and message, and (by its
 * index) the metrics slot.  A result is recorded once, here, before the
 * answer is made.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wachat_module.h"
#include "ngx_http_wachat_log.h"


static void ngx_http_wachat_result_count(ngx_http_request_t *r,
    ngx_http_wachat_ctx_t *ctx);
static void ngx_http_wachat_result_log(ngx_http_request_t *r,
    ngx_http_wachat_outcome_t *oc);


/* indexed by ngx_http_wachat_result_e */
static ngx_http_wachat_outcome_t  ngx_http_wachat_outcomes[] = {
    { ngx_string("-"), NGX_HTTP_INTERNAL_SERVER_ERROR, 0, NULL },
    { ngx_string("verified"), NGX_HTTP_OK, 0, NULL },
    { ngx_string("bad_request"), NGX_HTTP_BAD_REQUEST, NGX_LOG_INFO,
      "verification request without hub.mode=subscribe, hub.verify_token "
      "and hub.challenge" },
    { ngx_string("bad_challenge"), NGX_HTTP_BAD_REQUEST, NGX_LOG_INFO,
      "hub.challenge is too long or has unsafe characters, not echoed" },
    { ngx_string("bad_verify_token"), NGX_HTTP_FORBIDDEN, NGX_LOG_WARN,
      "hub.verify_token does not match wachat_verify_token" },
    { ngx_string("no_signature"), NGX_HTTP_UNAUTHORIZED, NGX_LOG_INFO,
      "POST without X-Hub-Signature-256 header" },
    { ngx_string("bad_signature"), NGX_HTTP_FORBIDDEN, NGX_LOG_WARN,
      "X-Hub-Signature-256 is malformed or does not match the body, "
      "check wachat_app_secret" },
    { ngx_string("bad_content_type"), NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
      NGX_LOG_INFO, "signed POST whose Content-Type is not application/json" },
    { ngx_string("bad_json"), NGX_HTTP_BAD_REQUEST, NGX_LOG_WARN,
      "signed body is not valid JSON" },
    { ngx_string("too_many_events"), NGX_HTTP_BAD_REQUEST, NGX_LOG_WARN,
      "signed body holds too many events" },
    { ngx_string("accepted"), NGX_HTTP_OK, 0, NULL },
    { ngx_string("redis_unavailable"), NGX_HTTP_SERVICE_UNAVAILABLE,
      NGX_LOG_ERR, "redis is not connected, answering 503 so that Meta "
      "retries" },
    { ngx_string("redis_timeout"), NGX_HTTP_SERVICE_UNAVAILABLE, NGX_LOG_ERR,
      "redis did not answer within wachat_redis_timeout, answering 503 so "
      "that Meta retries" },
    { ngx_string("redis_error"), NGX_HTTP_SERVICE_UNAVAILABLE, NGX_LOG_ERR,
      "redis answered an error, answering 503 so that Meta retries" },
    { ngx_string("redis_not_replicated"), NGX_HTTP_SERVICE_UNAVAILABLE,
      NGX_LOG_ERR, "fewer replicas than wachat_redis_replicas acknowledged "
      "the events in time, answering 503 so that Meta retries" },
    { ngx_string("method_not_allowed"), NGX_HTTP_NOT_ALLOWED, NGX_LOG_INFO,
      "method other than GET and POST" },
    { ngx_string("internal_error"), NGX_HTTP_INTERNAL_SERVER_ERROR,
      NGX_LOG_ALERT, "internal error" }
};


ngx_http_wachat_outcome_t *
ngx_http_wachat_result_record(ngx_http_request_t *r,
    ngx_http_wachat_ctx_t *ctx, ngx_http_wachat_result_e result)
{
    ngx_http_wachat_outcome_t  *oc;

    ctx->result = result;
    oc = &ngx_http_wachat_outcomes[result];

    ngx_http_wachat_result_count(r, ctx);

    if (oc->level) {
        ngx_http_wachat_result_log(r, oc);
    }

    return oc;
}


ngx_str_t *
ngx_http_wachat_result_name(ngx_http_wachat_result_e result)
{
    return &ngx_http_wachat_outcomes[result].name;
}


static void
ngx_http_wachat_result_count(ngx_http_request_t *r,
    ngx_http_wachat_ctx_t *ctx)
{
    ngx_http_wachat_metrics_t    *metrics;
    ngx_http_wachat_main_conf_t  *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wachat_module);
    metrics = wmcf->metrics_zone->data;

    (void) ngx_atomic_fetch_add(&metrics->requests[ctx->result], 1);

    if (ctx->result != NGX_HTTP_WACHAT_ACCEPTED) {
        return;
    }

    if (ctx->queued > 0) {
        (void) ngx_atomic_fetch_add(&metrics->events_queued, ctx->queued);
    }

    if (ctx->nevents > ctx->queued) {
        /* parsed but already seen: a retried delivery */
        (void) ngx_atomic_fetch_add(&metrics->events_duplicate,
                                    ctx->nevents - ctx->queued);
    }
}


static void
ngx_http_wachat_result_log(ngx_http_request_t *r,
    ngx_http_wachat_outcome_t *oc)
{
    ngx_str_t  host;
    ngx_log_t  log;
    u_char     buf[NGX_HTTP_WACHAT_LOG_QUOTED];

    /*
     * Not through r's log handler: it would append the request line,
     * whose query string holds the verify token.
     */
    log = *r->connection->log;
    log.handler = NULL;
    log.data = NULL;

    /* nginx's check of the Host lets backslashes, quotes and C1 through */
    host.data = buf;
    host.len = ngx_http_wachat_log_quote(buf, sizeof(buf),
                                         r->headers_in.server.data,
                                         r->headers_in.server.len)
               - buf;

    ngx_log_error(oc->level, &log, 0,
                  "wachat: %s, client: %V, host: %V",
                  oc->why, &r->connection->addr_text, &host);
}
