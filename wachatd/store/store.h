/*
 * store: wachatd's Redis.  A synchronous connection (with a timeout) for
 * the short O(1) commands and scripts of the processing path, and the key
 * layout.  Only the stream's blocking read runs on an async connection
 * (stream.c), so a Redis that is merely busy never stalls HTTP work for long.
 */

#ifndef WACHAT_STORE_H
#define WACHAT_STORE_H

#include <stddef.h>
#include <hiredis/hiredis.h>


typedef struct {
    char        *host;          /* NULL with a unix socket */
    int          port;
    char        *unix_path;
    char        *password;
    int          db;
    int          timeout_ms;
} wachat_store_addr_t;


typedef struct {
    redisContext         *c;
    wachat_store_addr_t   addr;
    int                   unread;   /* replies of posted commands */
    char                  err[256];
} wachat_store_t;


/* the daemon's Lua scripts, loaded once, run with EVALSHA */
typedef enum {
    WACHAT_SCRIPT_SANDBOX = 0,  /* a reply into the sandbox outbox, once */
    WACHAT_SCRIPT_COUNT
} wachat_script_e;


/* a Lua script run with EVALSHA (its SHA1 computed on first use) */
typedef struct {
    const char  *text;
    size_t       len;
    char         sha[41];
} wachat_lua_t;

#define wachat_lua(text)  { text, sizeof(text) - 1, "" }


int wachat_store_parse_addr(const char *spec, wachat_store_addr_t *addr,
    char *err, size_t errlen);
void wachat_store_addr_free(wachat_store_addr_t *addr);

wachat_store_t *wachat_store_open(const wachat_store_addr_t *addr,
    char *err, size_t errlen);
void wachat_store_close(wachat_store_t *st);

/*
 * One command; reconnects once if the link broke.  Returns NULL (and sets
 * st->err) on a connection problem; a Redis error reply is returned as is.
 */
redisReply *wachat_store_cmd(wachat_store_t *st, const char *fmt, ...);
redisReply *wachat_store_argv(wachat_store_t *st, int argc,
    const char **argv, const size_t *argvlen);

/*
 * A command whose answer nobody waits for (the agents' live feed): it goes
 * out with the next command, whose call reads its reply and drops it (an
 * error is logged).  Saves a round trip; lost if the link breaks first.
 */
void wachat_store_post(wachat_store_t *st, int argc, const char **argv,
    const size_t *argvlen);

/* Reads the posted replies: before using st->c directly.  0, or -1. */
int wachat_store_drain(wachat_store_t *st);
redisReply *wachat_store_script(wachat_store_t *st, wachat_script_e script,
    int nkeys, int argc, const char **argv, const size_t *argvlen);
redisReply *wachat_store_eval(wachat_store_t *st, wachat_lua_t *lua,
    int nkeys, int argc, const char **argv, const size_t *argvlen);

/*
 * One field of a flat field/value array reply (HGETALL, the fields of a
 * stream entry): the value's element, NULL when kv is no array or has no
 * such field with a string value.  wachat_store_reply_field() gives its str.
 */
const redisReply *wachat_store_reply_value(const redisReply *kv, const char *name);
const char *wachat_store_reply_field(const redisReply *kv, const char *name);


/*
 * Keys.  One conversation = one business number + one customer; all its
 * keys carry the hash tag {<phone_number_id>:<customer>}, so they share a
 * Redis Cluster slot.  The conversation scripts (scripts.h) also touch a
 * few shared keys (the ready set, the stream, the live feed, the number's
 * rate bucket) in the same atomic step: Redis Cluster is not a target
 * (Sentinel is, for high availability), a single primary takes the load.
 */
#define WACHAT_KEY_MAX  512

void wachat_store_key_conv(char *buf, const char *conv_id);    /* hash  */
void wachat_store_key_hist(char *buf, const char *conv_id);    /* stream */
void wachat_store_key_status(char *buf, const char *conv_id);  /* hash  */
void wachat_store_key_inbox(char *buf, const char *conv_id);   /* zset  */
void wachat_store_key_outq(char *buf, const char *conv_id);    /* list  */
void wachat_store_key_lease(char *buf, const char *conv_id);   /* string */
void wachat_store_key_done(char *buf, const char *conv_id, const char *wamid);

#define WACHAT_KEY_READY   "wachat:ready"       /* set of conv ids with work */
#define WACHAT_KEY_CONVS   "wachat:convs"       /* zset conv id -> last ms */
#define WACHAT_KEY_FEED     "wachat:feed"        /* the consoles' live feed */
#define WACHAT_FEED_MAXLEN  10000
#define WACHAT_KEY_DEAD    "wachat:dead"        /* stream of failed sends */


#endif /* WACHAT_STORE_H */
