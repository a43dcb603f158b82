/*
 * clock: see clock.h.
 */

#include <stdlib.h>
#include <time.h>

#include "lib/clock.h"


static long long
wachat_clock_read_ms(clockid_t id)
{
    struct timespec  ts;

    clock_gettime(id, &ts);

    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


long long
wachat_clock_ms(void)
{
    return wachat_clock_read_ms(CLOCK_REALTIME);
}


long long
wachat_clock_mono_ms(void)
{
    return wachat_clock_read_ms(CLOCK_MONOTONIC);
}


void
wachat_clock_zone(const char *tz)
{
    setenv("TZ", tz && *tz ? tz : "UTC", 1);
    tzset();
}
