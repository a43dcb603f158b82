
/*
 * The link's statistics in shared memory (ngx_http_wachat_redis_stats_t):
 * the workers connected, the time none was, the round-trip histogram.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_wachat_redis.h"
#include "ngx_http_wachat_redis_int.h"


static uint64_t  ngx_http_wachat_redis_bounds[] = {
    NGX_HTTP_WACHAT_REDIS_BOUNDS
};


/* the gauge counts each worker once, whatever path it takes up or down */

void
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


void
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

uint64_t
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
