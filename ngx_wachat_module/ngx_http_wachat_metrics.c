
/*
 * Metrics: the counters every worker adds to, in the "wachat_metrics"
 * shared memory zone, and the "wachat_metrics" location that shows them
 * in Prometheus' text format, as stub_status does for nginx's own.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wachat_module.h"


#define NGX_HTTP_WACHAT_METRICS_SIZE  (32 * 1024)

/* the text is about 4k; numbers cannot make it grow past this */
#define NGX_HTTP_WACHAT_METRICS_TEXT  (16 * 1024)


static ngx_int_t ngx_http_wachat_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static u_char *ngx_http_wachat_metrics_text(u_char *p, u_char *last,
    ngx_http_wachat_metrics_t *metrics);
static u_char *ngx_http_wachat_metrics_requests(u_char *p, u_char *last,
    ngx_http_wachat_metrics_t *metrics);
static u_char *ngx_http_wachat_metrics_redis(u_char *p, u_char *last,
    ngx_http_wachat_metrics_t *metrics);
static u_char *ngx_http_wachat_metrics_roundtrip(u_char *p, u_char *last,
    ngx_http_wachat_redis_stats_t *rs);
static u_char *ngx_http_wachat_metrics_seconds(u_char *p, u_char *last,
    uint64_t usec, ngx_uint_t trim);


static ngx_str_t  ngx_http_wachat_metrics_name = ngx_string("wachat_metrics");

static uint64_t  ngx_http_wachat_metrics_bounds[] = {
    NGX_HTTP_WACHAT_REDIS_BOUNDS
};


/*
 * One zone for the whole configuration, whichever of "wachat" and
 * "wachat_metrics" asks first: ngx_shared_memory_add() returns the same
 * zone for the same name, size and tag.
 */

ngx_shm_zone_t *
ngx_http_wachat_metrics_zone(ngx_conf_t *cf)
{
    ngx_shm_zone_t  *shm_zone;

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_wachat_metrics_name,
                                     NGX_HTTP_WACHAT_METRICS_SIZE,
                                     &ngx_http_wachat_module);
    if (shm_zone == NULL) {
        return NULL;
    }

    shm_zone->init = ngx_http_wachat_metrics_init_zone;

    return shm_zone;
}


static ngx_int_t
ngx_http_wachat_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_wachat_metrics_t  *ometrics = data;

    ngx_slab_pool_t            *shpool;
    ngx_http_wachat_metrics_t  *metrics;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    /*
     * nginx -s reload hands over the zone of the previous cycle, counters
     * and all; a module built with other counters starts afresh in it.
     */

    if (ometrics && ometrics->size == sizeof(ngx_http_wachat_metrics_t)) {
        shm_zone->data = ometrics;
        return NGX_OK;
    }

    if (shm_zone->shm.exists && ometrics == NULL) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    metrics = ngx_slab_calloc(shpool, sizeof(ngx_http_wachat_metrics_t));
    if (metrics == NULL) {
        return NGX_ERROR;
    }

    metrics->size = sizeof(ngx_http_wachat_metrics_t);

    shpool->data = metrics;
    shm_zone->data = metrics;

    return NGX_OK;
}


ngx_int_t
ngx_http_wachat_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_buf_t                    *b;
    ngx_chain_t                   out;
    ngx_http_wachat_main_conf_t  *wmcf;

    if (r->method != NGX_HTTP_GET && r->method != NGX_HTTP_HEAD) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wachat_module);

    b = ngx_create_temp_buf(r->pool, NGX_HTTP_WACHAT_METRICS_TEXT);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_wachat_metrics_text(b->last, b->end,
                                           wmcf->metrics_zone->data);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static u_char *
ngx_http_wachat_metrics_text(u_char *p, u_char *last,
    ngx_http_wachat_metrics_t *metrics)
{
    p = ngx_http_wachat_metrics_requests(p, last, metrics);
    p = ngx_http_wachat_metrics_redis(p, last, metrics);

    return ngx_http_wachat_metrics_roundtrip(p, last, &metrics->redis);
}


/* requests by result, and what became of their events */

static u_char *
ngx_http_wachat_metrics_requests(u_char *p, u_char *last,
    ngx_http_wachat_metrics_t *metrics)
{
    ngx_uint_t  i;

    p = ngx_slprintf(p, last,
            "# HELP wachat_requests_total Webhook requests by result.\n"
            "# TYPE wachat_requests_total counter\n");

    for (i = NGX_HTTP_WACHAT_NONE + 1; i < NGX_HTTP_WACHAT_NRESULTS; i++) {
        p = ngx_slprintf(p, last, "wachat_requests_total{result=\"%V\"} %uA\n",
                         ngx_http_wachat_result_name(i),
                         metrics->requests[i]);
    }

    return ngx_slprintf(p, last,
            "# HELP wachat_events_queued_total Events added to the Redis "
            "stream.\n"
            "# TYPE wachat_events_queued_total counter\n"
            "wachat_events_queued_total %uA\n"
            "# HELP wachat_events_duplicate_total Events of accepted requests "
            "already seen (retried deliveries), not added again.\n"
            "# TYPE wachat_events_duplicate_total counter\n"
            "wachat_events_duplicate_total %uA\n",
            metrics->events_queued, metrics->events_duplicate);
}


static u_char *
ngx_http_wachat_metrics_redis(u_char *p, u_char *last,
    ngx_http_wachat_metrics_t *metrics)
{
    ngx_http_wachat_redis_stats_t  *rs;

    rs = &metrics->redis;

    return ngx_slprintf(p, last,
            "# HELP wachat_redis_errors_total Requests answered 503 because "
            "of Redis, by kind.\n"
            "# TYPE wachat_redis_errors_total counter\n"
            "wachat_redis_errors_total{kind=\"unavailable\"} %uA\n"
            "wachat_redis_errors_total{kind=\"timeout\"} %uA\n"
            "wachat_redis_errors_total{kind=\"error\"} %uA\n"
            "wachat_redis_errors_total{kind=\"not_replicated\"} %uA\n"
            "# HELP wachat_redis_reconnects_total Connections to Redis made "
            "again after one was lost.\n"
            "# TYPE wachat_redis_reconnects_total counter\n"
            "wachat_redis_reconnects_total %uA\n"
            "# HELP wachat_redis_connected Worker processes connected to "
            "Redis.\n"
            "# TYPE wachat_redis_connected gauge\n"
            "wachat_redis_connected %uA\n"
            "# HELP wachat_redis_failovers_total Times the sentinels named "
            "a new primary.\n"
            "# TYPE wachat_redis_failovers_total counter\n"
            "wachat_redis_failovers_total %uA\n"
            "# HELP wachat_redis_no_primary_seconds_total Time no worker was "
            "connected to a primary.\n"
            "# TYPE wachat_redis_no_primary_seconds_total counter\n"
            "wachat_redis_no_primary_seconds_total %uA.%03uA\n",
            metrics->requests[NGX_HTTP_WACHAT_REDIS_UNAVAILABLE],
            metrics->requests[NGX_HTTP_WACHAT_REDIS_TIMEOUT],
            metrics->requests[NGX_HTTP_WACHAT_REDIS_ERROR],
            metrics->requests[NGX_HTTP_WACHAT_REDIS_NOT_REPLICATED],
            rs->reconnects, rs->connected, rs->failovers,
            rs->no_primary_msec / 1000, rs->no_primary_msec % 1000);
}


static u_char *
ngx_http_wachat_metrics_roundtrip(u_char *p, u_char *last,
    ngx_http_wachat_redis_stats_t *rs)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  count;
    ngx_atomic_uint_t  bucket[NGX_HTTP_WACHAT_REDIS_BUCKETS];

    /*
     * _count is the +Inf bucket of this very snapshot, so that a scrape
     * taken while workers add to it still reads as one histogram.
     */

    count = 0;

    for (i = 0; i < NGX_HTTP_WACHAT_REDIS_BUCKETS; i++) {
        count += rs->roundtrip[i];
        bucket[i] = count;
    }

    p = ngx_slprintf(p, last,
            "# HELP wachat_redis_roundtrip_seconds Time from sending the "
            "queuing script to Redis until its reply.\n"
            "# TYPE wachat_redis_roundtrip_seconds histogram\n");

    for (i = 0; i < NGX_HTTP_WACHAT_REDIS_BUCKETS - 1; i++) {
        p = ngx_slprintf(p, last,
                         "wachat_redis_roundtrip_seconds_bucket{le=\"");
        p = ngx_http_wachat_metrics_seconds(p, last,
                                            ngx_http_wachat_metrics_bounds[i],
                                            1);
        p = ngx_slprintf(p, last, "\"} %uA\n", bucket[i]);
    }

    p = ngx_slprintf(p, last,
                     "wachat_redis_roundtrip_seconds_bucket{le=\"+Inf\"} %uA\n"
                     "wachat_redis_roundtrip_seconds_sum ", count);
    p = ngx_http_wachat_metrics_seconds(p, last, rs->roundtrip_usec, 0);
    p = ngx_slprintf(p, last, "\nwachat_redis_roundtrip_seconds_count %uA\n",
                     count);

    return p;
}


/* microseconds as decimal seconds: 0.000500, or 0.0005 with trim */

static u_char *
ngx_http_wachat_metrics_seconds(u_char *p, u_char *last, uint64_t usec,
    ngx_uint_t trim)
{
    u_char  *start;

    start = p;

    p = ngx_slprintf(p, last, "%uL.%06uL", usec / 1000000, usec % 1000000);

    if (trim && p < last) {
        while (p > start && p[-1] == '0') {
            p--;
        }

        if (p > start && p[-1] == '.') {
            p--;
        }
    }

    return p;
}
