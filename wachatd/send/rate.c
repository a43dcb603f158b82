/*
 * rate: the token bucket script and its wrapper (see rate.h).
 */

#include <stdio.h>
#include <string.h>

#include "send/rate.h"


/* KEYS bucket; ARGV rate (per s), burst.  0: a token is taken, or ms */
static wachat_lua_t  wachat_lua_rate = wachat_lua(
    "local t = redis.call('TIME')\n"
    "local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"
    "local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')\n"
    "local tokens = tonumber(b[1]) or burst\n"
    "local ts = tonumber(b[2]) or now\n"
    "tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)\n"
    "local wait = 0\n"
    "if tokens >= 1 then\n"
    "  tokens = tokens - 1\n"
    "else\n"
    "  wait = math.ceil((1 - tokens) * 1000 / rate)\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts',\n"
    "           tostring(now))\n"
    "redis.call('PEXPIRE', KEYS[1], 60000)\n"
    "return wait\n");


long
wachat_rate_take(wachat_store_t *st, const char *conv_id, int rate)
{
    long         wait;
    size_t       n;
    redisReply  *r;
    const char  *argv[3];
    char         key[WACHAT_KEY_MAX], num[32];

    if (rate <= 0) {
        return 0;
    }

    n = strcspn(conv_id, ":");
    snprintf(key, sizeof(key), "wachat:rate:{%.*s}", (int) n, conv_id);
    snprintf(num, sizeof(num), "%d", rate);

    argv[0] = key;
    argv[1] = num;      /* rate */
    argv[2] = num;      /* burst: one second's worth */

    r = wachat_store_eval(st, &wachat_lua_rate, 1, 3, argv, NULL);

    wait = (r && r->type == REDIS_REPLY_INTEGER) ? (long) r->integer : 0;
    freeReplyObject(r);

    return wait;
}
