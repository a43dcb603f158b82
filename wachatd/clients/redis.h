/*
 * redis: wachatd's synchronous Redis link, with a timeout, for the short
 * O(1) commands and scripts of the processing path.  Only the blocking
 * reads run on async links (redis_link.h), so a Redis that is merely busy
 * never stalls HTTP work for long.
 */

#ifndef WACHAT_REDIS_H
#define WACHAT_REDIS_H

#include <stddef.h>
#include <hiredis/hiredis.h>


typedef struct {
    char        *host;          /* NULL with a unix socket */
    int          port;
    char        *unix_path;
    char        *password;
    int          db;
    int          timeout_ms;
} wachat_redis_addr_t;


typedef struct {
    redisContext         *c;
    wachat_redis_addr_t   addr;
    int                   unread;   /* replies of posted commands */
    char                  err[256];
} wachat_redis_t;


/* a Lua script run with EVALSHA (its SHA1 computed on first use) */
typedef struct {
    const char  *text;
    size_t       len;
    char         sha[41];
} wachat_lua_t;

#define wachat_lua(text)  { text, sizeof(text) - 1, "" }


int wachat_redis_parse_addr(const char *spec, wachat_redis_addr_t *addr,
    char *err, size_t errlen);
void wachat_redis_addr_free(wachat_redis_addr_t *addr);

wachat_redis_t *wachat_redis_open(const wachat_redis_addr_t *addr,
    char *err, size_t errlen);
void wachat_redis_close(wachat_redis_t *st);

/*
 * One command; reconnects once if the link broke.  Returns NULL (and sets
 * st->err) on a connection problem; a Redis error reply is returned as is.
 */
redisReply *wachat_redis_cmd(wachat_redis_t *st, const char *fmt, ...);
redisReply *wachat_redis_argv(wachat_redis_t *st, int argc,
    const char **argv, const size_t *argvlen);

/*
 * A command whose answer nobody waits for (the agents' live feed): it goes
 * out with the next command, whose call reads its reply and drops it (an
 * error is logged).  Saves a round trip; lost if the link breaks first.
 */
void wachat_redis_post(wachat_redis_t *st, int argc, const char **argv,
    const size_t *argvlen);

/* Reads the posted replies: before using st->c directly.  0, or -1. */
int wachat_redis_drain(wachat_redis_t *st);
redisReply *wachat_redis_eval(wachat_redis_t *st, wachat_lua_t *lua,
    int nkeys, int argc, const char **argv, const size_t *argvlen);

/*
 * One field of a flat field/value array reply (HGETALL, the fields of a
 * stream entry): the value's element, NULL when kv is no array or has no
 * such field with a string value.  wachat_redis_reply_field() gives its str.
 */
const redisReply *wachat_redis_reply_value(const redisReply *kv, const char *name);
const char *wachat_redis_reply_field(const redisReply *kv, const char *name);


#endif /* WACHAT_REDIS_H */
