/*
 * script_step: taking, renewing and giving back a conversation (STEP,
 * RENEW, RELEASE).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/scripts_int.h"


static wachat_lua_t  wachat_lua_step = wachat_lua_replicated(
    WACHAT_LUA_PEEK
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur and cur ~= ARGV[1] then return {0} end\n"
    "return peek()\n");


static wachat_lua_t  wachat_lua_renew = wachat_lua_replicated(
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur and cur ~= ARGV[1] then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "return 1\n");


/* shutdown with work left: the lease goes, the ready set keeps it */
static wachat_lua_t  wachat_lua_release = wachat_lua_replicated(
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 1\n");


redisReply *
wachat_script_step(wachat_redis_t *st, const wachat_conv_ref_t *ref,
    int lease_ms, wachat_peek_t *peek)
{
    redisReply     *r;
    wachat_args_t   a;

    wachat_args_conv(&a, ref);
    wachat_args_conv_argv(&a, ref, lease_ms);

    r = wachat_args_eval(st, &wachat_lua_step, WACHAT_CONV_NKEYS, &a);

    if (wachat_peek_read(r, peek) != 0) {
        wachat_script_failed(st, r);

        freeReplyObject(r);
        return NULL;
    }

    return r;
}


int
wachat_script_renew(wachat_redis_t *st, const wachat_conv_ref_t *ref,
    int lease_ms)
{
    int             rc;
    redisReply     *r;
    wachat_args_t   a;

    wachat_args_conv(&a, ref);
    wachat_args_conv_argv(&a, ref, lease_ms);

    r = wachat_args_eval(st, &wachat_lua_renew, WACHAT_CONV_NKEYS, &a);

    rc = (r && r->type == REDIS_REPLY_INTEGER) ? (int) r->integer : -1;
    freeReplyObject(r);

    return rc;
}


void
wachat_script_release(wachat_redis_t *st, const wachat_conv_ref_t *ref)
{
    wachat_args_t  a;

    wachat_args_conv(&a, ref);
    wachat_args_conv_argv(&a, ref, 0);

    freeReplyObject(wachat_args_eval(st, &wachat_lua_release,
                                     WACHAT_CONV_NKEYS, &a));
}
