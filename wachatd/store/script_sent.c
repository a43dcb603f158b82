/*
 * script_sent: the outbound head sent (SENT) or failed for good (DROP).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/scripts_int.h"


/*
 * ARGV 8 head, 9 wamid, 10 history id, 11 now, 12 tell the feed.  The feed
 * hears of the accepted reply whoever holds the lease now: Meta has it.
 * Returns {recorded, peek}.
 */
static wachat_lua_t  wachat_lua_sent = wachat_lua_replicated(
    WACHAT_LUA_PEEK
    WACHAT_LUA_FEED
    WACHAT_LUA_STATUSES
    WACHAT_LUA_RECORD_SENT
    "if ARGV[12] == '1' then\n"
    "  feed('type', 'status', 'conv', ARGV[4], 'id', ARGV[9],\n"
    "       'hist', ARGV[10], 'status', 'accepted')\n"
    "end\n"
    WACHAT_LUA_LEASE_CHECK
    "if redis.call('LINDEX', KEYS[2], 0) ~= ARGV[8] then\n"
    "  return {0, peek(), feederr}\n"
    "end\n"
    "record_sent(KEYS[2], KEYS[6], KEYS[4], ARGV[9], ARGV[10], ARGV[11])\n"
    "statuses_bounded()\n"
    "return {1, peek(), feederr}\n");


/* ARGV 8 head, 9 history id, 10 code, 11 now.  Returns 1, 0 or -1. */
static wachat_lua_t  wachat_lua_drop = wachat_lua_replicated(
    WACHAT_LUA_STATUSES
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end\n"
    "if redis.call('LINDEX', KEYS[2], 0) ~= ARGV[8] then return 0 end\n"
    "redis.call('LPOP', KEYS[2])\n"
    "redis.call('HSET', KEYS[6], 'h:' .. ARGV[9],\n"
    "           'failed|' .. ARGV[10] .. '|' .. ARGV[11])\n"
    "statuses_bounded()\n"
    "return 1\n");


redisReply *
wachat_script_sent(wachat_redis_t *st, const wachat_conv_ref_t *ref,
    int lease_ms, const char *head, size_t head_len, const char *wamid,
    const char *hist, long long now, int feed, int *recorded,
    wachat_peek_t *peek)
{
    redisReply     *r;
    wachat_args_t   a;

    wachat_args_conv(&a, ref);
    wachat_args_conv_argv(&a, ref, lease_ms);
    wachat_args_bytes(&a, head, head_len);
    wachat_args_str(&a, wamid);
    wachat_args_str(&a, hist);
    wachat_args_int(&a, now);
    wachat_args_str(&a, feed ? "1" : "0");

    r = wachat_script_done(st, wachat_args_eval(st, &wachat_lua_sent,
                                                WACHAT_CONV_NKEYS, &a),
                           1, peek);

    *recorded = r && peek->state != WACHAT_PEEK_LOST
                && r->element[0]->type == REDIS_REPLY_INTEGER
                && r->element[0]->integer == 1;

    return r;
}


int
wachat_script_drop(wachat_redis_t *st, const wachat_conv_ref_t *ref,
    const char *head, size_t head_len, const char *hist, long code,
    long long now)
{
    int             rc;
    redisReply     *r;
    wachat_args_t   a;

    wachat_args_conv(&a, ref);
    wachat_args_conv_argv(&a, ref, 0);
    wachat_args_bytes(&a, head, head_len);
    wachat_args_str(&a, hist);
    wachat_args_int(&a, code);
    wachat_args_int(&a, now);

    r = wachat_args_eval(st, &wachat_lua_drop, WACHAT_CONV_NKEYS, &a);

    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        wachat_script_failed(st, r);
        freeReplyObject(r);
        return -2;
    }

    rc = (int) r->integer;
    freeReplyObject(r);

    return rc;
}
