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

#include "lib/config.h"


/*
 * Where Redis is.  Behind Redis Sentinel (nsentinels > 0, host and
 * unix_path NULL) the primary is asked of the sentinels at every connect,
 * one at a time with WACHAT_SENTINEL_TIMEOUT_MS each (a blocking question:
 * it holds the caller's event loop that long at most per sentinel), and
 * checked with ROLE; a READONLY or LOADING answer drops the link, so the
 * next command asks again.  Nothing is cached past a failover.
 */
typedef struct {
    char        *host;          /* NULL with a unix socket */
    int          port;
    char        *unix_path;
    char        *user;          /* NULL: the default user */
    char        *password;
    int          db;
    int          timeout_ms;

    char       **sentinel_hosts;
    int         *sentinel_ports;
    size_t       nsentinels;
    char        *master;
    char        *sentinel_password;

    int          replicas;       /* WAIT for them after each script */
    int          replicas_timeout_ms;
} wachat_redis_addr_t;

#define WACHAT_SENTINEL_TIMEOUT_MS  500


/*
 * Reconnecting, on both kinds of link: the first try again after
 * WACHAT_REDIS_RETRY_MS, each failure in a row doubling the pause up to
 * WACHAT_REDIS_RETRY_MAX_MS, each pause drawn within
 * +-WACHAT_REDIS_RETRY_JITTER % of that so that the links of several
 * processes do not come back in step.  A Redis that is down, or refuses
 * the password, is tried (and logged) about twice a minute, not every
 * second.  Behind sentinels the cap is WACHAT_REDIS_SENTINEL_RETRY_MAX_MS:
 * a primary that cannot be reached there is mostly a failover, which a
 * new primary ends within seconds (as in the module).
 */
#define WACHAT_REDIS_RETRY_MS               1000
#define WACHAT_REDIS_RETRY_MAX_MS           30000
#define WACHAT_REDIS_SENTINEL_RETRY_MAX_MS  5000
#define WACHAT_REDIS_RETRY_JITTER           20


typedef struct {
    redisContext         *c;
    wachat_redis_addr_t   addr;
    int                   unread;   /* replies of posted commands */
    long long             replicas_short_until;   /* ms: after a WAIT */
    int                   unreplicated;   /* the last script ran, its WAIT
                                             fell short */
    int                   opened;         /* connected once: a failure is
                                             retried after a pause */
    int                   retry_ms;       /* the next pause; 0: the first */
    long long             retry_at;       /* ms, monotonic: no connect
                                             before, st->err says why */
    int                   refused;  /* the last script failed on the data
                                       it touched (as
                                       wachat_redis_script_error() says):
                                       running it again fails again */
    int                   said;     /* the last connect's failure is in
                                       the log: a refused AUTH or SELECT */
    char                  err[256];
} wachat_redis_t;

/* after a WAIT fell short, scripts fail at once for this long */
#define WACHAT_REPLICAS_PAUSE_MS  1000


/*
 * A Lua script run with EVALSHA (its SHA1 computed on first use).  A
 * replicated one (the conversation engine's steps and records) is followed
 * by redis_replicas' WAIT, and fails when fewer replicas have it; the
 * others (an agent's action, a read) are written once.
 */
typedef struct {
    const char  *text;
    size_t       len;
    char         sha[41];
    int          replicated;
} wachat_lua_t;

#define wachat_lua(text)  { text, sizeof(text) - 1, "", 0 }
#define wachat_lua_replicated(text)  { text, sizeof(text) - 1, "", 1 }


int wachat_redis_parse_addr(const char *spec, wachat_redis_addr_t *addr,
    char *err, size_t errlen);
void wachat_redis_addr_free(wachat_redis_addr_t *addr);

/*
 * The config's redis, redis_password, redis_sentinel_password and redis_db,
 * copied (freed with wachat_redis_addr_free); 0, or -1.
 */
int wachat_redis_addr_config(wachat_redis_addr_t *addr,
    const wachat_config_t *cfg, int timeout_ms);

/*
 * The AUTH command a new connection to addr sends first, in argv: "AUTH
 * <user> <password>" for an ACL user (Redis 6), "AUTH <password>", or
 * nothing; its number of words.
 */
int wachat_redis_auth_argv(const wachat_redis_addr_t *addr,
    const char *argv[3]);

/* a deep copy (freed with wachat_redis_addr_free); 0, or -1 */
int wachat_redis_addr_copy(wachat_redis_addr_t *dst,
    const wachat_redis_addr_t *src);

/*
 * What a reload changes of where Redis is: src's user, password and
 * sentinel password, copied into dst (the old ones wiped and freed), the
 * rest of dst kept (the address, db and sentinels change at a restart
 * only).  1 when one of them changed, 0 when none did, -1 out of memory
 * (dst unchanged).
 */
int wachat_redis_addr_credentials(wachat_redis_addr_t *dst,
    const wachat_redis_addr_t *src);

/* adds one sentinel (copied) to addr; 0, or -1 */
int wachat_redis_addr_sentinel(wachat_redis_addr_t *addr, const char *host,
    int port);

/*
 * Asks addr's sentinels where the primary is: host (NUL-terminated) and
 * port, 0; or -1 with err when none named one.
 */
int wachat_redis_resolve(const wachat_redis_addr_t *addr, char *host,
    size_t hostlen, int *port, char *err, size_t errlen);

/*
 * The pause (ms) before the next try after a failure; *next_ms (0: none
 * failed yet) doubles for the one after.  Set *next_ms to 0 again once a
 * connection worked.
 */
int wachat_redis_retry_pause(int *next_ms, const wachat_redis_addr_t *addr);

/*
 * A setup command ("AUTH", "SELECT") that Redis refused on a new
 * connection: one error line with Redis' own words, the config keys to
 * check and the pause before the next try (ms), name first ("stream").
 */
void wachat_redis_log_refused(const char *name, const char *cmd,
    const char *reply, int retry_ms);

/* READONLY, LOADING, MASTERDOWN: not a primary that can take writes now */
int wachat_redis_not_primary(const redisReply *r);

/* ROLE's reply names a primary */
int wachat_redis_is_master(const redisReply *r);

/* the link keeps addr's strings: they must outlive it */
wachat_redis_t *wachat_redis_open(const wachat_redis_addr_t *addr,
    char *err, size_t errlen);
void wachat_redis_close(wachat_redis_t *st);

/*
 * New credentials (a reload): addr's user, password and sentinel password
 * (their strings kept, as at open) replace the link's.  The replies of
 * posted commands are read, the connection closed and opened again at
 * once with them, even during a pause after a failure, so that a refused
 * one is logged now rather than at the next failure; a connect that fails
 * is logged too, and holds off the next one as any failure does.  No
 * command is in flight: they are synchronous.  0 when the new connection
 * works, -1 (st->err).
 */
int wachat_redis_reauth(wachat_redis_t *st, const wachat_redis_addr_t *addr);

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
 * The same, but a replicated script that ran and whose WAIT fell short
 * is returned all the same, st->unreplicated (and st->err) saying so: its
 * writes are on the primary, not yet on a replica.  For a caller that
 * has work to do once the script ran, whatever the replicas say.
 */
redisReply *wachat_redis_eval_ran(wachat_redis_t *st, wachat_lua_t *lua,
    int nkeys, int argc, const char **argv, const size_t *argvlen);

/*
 * 1 when r is an error a script raised on the data it touched (WRONGTYPE,
 * a Lua error on a value): running it again fails again.  0 for any other
 * reply, and for an error that is the server's condition rather than the
 * data's (LOADING, READONLY, BUSY, OOM, NOREPLICAS, NOPERM, ...): that one
 * passes, or needs an operator, whatever the script was given.
 */
int wachat_redis_script_error(const redisReply *r);

/*
 * One field of a flat field/value array reply (HGETALL, the fields of a
 * stream entry): the value's element, NULL when kv is no array or has no
 * such field with a string value.  wachat_redis_reply_field() gives its str.
 */
const redisReply *wachat_redis_reply_value(const redisReply *kv, const char *name);
const char *wachat_redis_reply_field(const redisReply *kv, const char *name);


#endif /* WACHAT_REDIS_H */
