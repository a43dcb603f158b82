/*
 * script_step: taking, renewing and giving back a conversation (STEP,
 * RENEW, RELEASE), and naming the key a failed script tripped on.
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


/*
 * KEYS the conversation scripts' ten, then the done set; ARGV the type
 * each should have (TYPE's word), in the same order.  Read only.
 */
static wachat_lua_t  wachat_lua_wrong_key = wachat_lua(
    "for i, key in ipairs(KEYS) do\n"
    "  local t = redis.call('TYPE', key).ok\n"
    "  if t ~= ARGV[i] and t ~= 'none' then\n"
    "    return key .. ' holds a ' .. t .. ', not a ' .. ARGV[i]\n"
    "  end\n"
    "end\n"
    "return false\n");


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


int
wachat_script_wrong_key(wachat_redis_t *st, const wachat_conv_ref_t *ref,
    char *buf, size_t len)
{
    int             rc;
    char            done[WACHAT_KEY_MAX];
    size_t          i;
    redisReply     *r;
    wachat_args_t   a;

    /* in KEYS order: scripts_int.h */
    static const char  *types[] = {
        "string", "list", "zset", "hash", "stream", "hash", "set",
        "stream", "stream", "hash", "zset"
    };

    wachat_store_key_done(done, ref->id);

    wachat_args_conv(&a, ref);
    wachat_args_str(&a, done);

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        wachat_args_str(&a, types[i]);
    }

    r = wachat_args_eval(st, &wachat_lua_wrong_key, WACHAT_CONV_NKEYS + 1,
                         &a);
    rc = -1;

    if (r && r->type == REDIS_REPLY_STRING) {
        snprintf(buf, len, "%s", r->str);
        rc = 1;

    } else if (r && r->type == REDIS_REPLY_NIL) {
        rc = 0;

    } else {
        wachat_script_failed(st, r);
    }

    freeReplyObject(r);

    return rc;
}
