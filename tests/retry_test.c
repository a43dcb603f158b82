/*
 * Unit test of the Redis links' reconnect pause (wachatd/clients/redis.h:
 * wachat_redis_retry_pause), TAP on stdout: it starts at
 * WACHAT_REDIS_RETRY_MS, doubles, stops at the cap (lower behind
 * sentinels), each pause within the jitter, and the jitter spreads them.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAP_MAIN

#include "clients/redis.h"
#include "tap.h"


/* the pause is within +-WACHAT_REDIS_RETRY_JITTER % of base */
static int
within(int ms, int base)
{
    int  span = base * WACHAT_REDIS_RETRY_JITTER / 100;

    return ms >= base - span && ms <= base + span;
}


int
main(void)
{
    int                  i, ms, next, base, bad, lo, hi;
    wachat_redis_addr_t  addr;

    srandom(1);
    memset(&addr, 0, sizeof(addr));

    next = 0;
    base = WACHAT_REDIS_RETRY_MS;

    for (i = 0; i < 8; i++) {
        ms = wachat_redis_retry_pause(&next, &addr);
        ok(within(ms, base), "pause %d: %d ms, about %d", i + 1, ms, base);
        base = base * 2 > WACHAT_REDIS_RETRY_MAX_MS
               ? WACHAT_REDIS_RETRY_MAX_MS : base * 2;
    }

    ok(next == WACHAT_REDIS_RETRY_MAX_MS, "the cap holds");

    next = 0;
    ms = wachat_redis_retry_pause(&next, &addr);
    ok(within(ms, WACHAT_REDIS_RETRY_MS), "after a reset: the first again");

    /* behind sentinels: a lower cap */
    addr.nsentinels = 1;
    next = 0;
    bad = 0;

    for (i = 0; i < 10; i++) {
        ms = wachat_redis_retry_pause(&next, &addr);
        bad += ms > WACHAT_REDIS_SENTINEL_RETRY_MAX_MS
                    * (100 + WACHAT_REDIS_RETRY_JITTER) / 100;
    }

    ok(bad == 0 && within(ms, WACHAT_REDIS_SENTINEL_RETRY_MAX_MS),
       "behind sentinels: capped at WACHAT_REDIS_SENTINEL_RETRY_MAX_MS");

    /* the jitter spreads links that failed together */
    addr.nsentinels = 0;
    lo = WACHAT_REDIS_RETRY_MAX_MS;
    hi = 0;

    for (i = 0; i < 200; i++) {
        next = 0;
        ms = wachat_redis_retry_pause(&next, &addr);
        lo = ms < lo ? ms : lo;
        hi = ms > hi ? ms : hi;
    }

    ok(hi - lo >= WACHAT_REDIS_RETRY_MS * WACHAT_REDIS_RETRY_JITTER / 100,
       "first pauses spread over the jitter");

    printf("1..%d\n", ntests);
    return nfailed ? 1 : 0;
}
