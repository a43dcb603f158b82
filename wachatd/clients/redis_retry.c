/*
 * redis retry: how both kinds of link come back after a failure, the
 * pause (exponential, with jitter) and the line a refused setup command
 * leaves in the log (see redis.h).
 */

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "clients/redis.h"


int
wachat_redis_retry_pause(int *next_ms, const wachat_redis_addr_t *addr)
{
    int  ms, max, span;

    max = addr->nsentinels ? WACHAT_REDIS_SENTINEL_RETRY_MAX_MS
                           : WACHAT_REDIS_RETRY_MAX_MS;

    ms = *next_ms > 0 ? *next_ms : WACHAT_REDIS_RETRY_MS;
    if (ms > max) {
        ms = max;
    }

    *next_ms = ms > max / 2 ? max : ms * 2;

    /* srandom() was called at start (wachatd.c) */
    span = ms * WACHAT_REDIS_RETRY_JITTER / 100;

    return ms - span + (int) (random() % (2 * span + 1));
}


void
wachat_redis_log_refused(const char *name, const char *cmd,
    const char *reply, int retry_ms)
{
    const char  *check;

    /* a reload reads the credentials again, not the db (wachatd_reload.c) */
    check = strcmp(cmd, "AUTH") == 0
            ? "redis_password_file / redis_password_env and redis_user, "
              "then reload (SIGHUP)"
            : "redis_db (read at start only)";

    wachat_log(WACHAT_LOG_ERROR, "%s: redis refused %s (%s): check %s; "
               "retrying in %d.%d s", name, cmd, reply, check,
               retry_ms / 1000, retry_ms % 1000 / 100);
}
