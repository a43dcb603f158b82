/*
 * redis: the synchronous Redis link (see redis.h): connect, a command, the
 * posted ones, and a command with its WAIT.  Where Redis is, is
 * redis_addr.c's and redis_sentinel.c's; the Lua scripts, redis_script.c's.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "clients/redis_int.h"


static int wachat_redis_connect(wachat_redis_t *st);
static int wachat_redis_dial(wachat_redis_t *st);
static int wachat_redis_hold(wachat_redis_t *st);
static int wachat_redis_setup(wachat_redis_t *st);
static int wachat_redis_broken(wachat_redis_t *st);
static int wachat_redis_failover(wachat_redis_t *st, redisReply *r);


wachat_redis_t *
wachat_redis_open(const wachat_redis_addr_t *addr, char *err, size_t errlen)
{
    wachat_redis_t  *st;

    st = calloc(1, sizeof(wachat_redis_t));
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    st->addr = *addr;

    if (wachat_redis_connect(st) != 0) {
        snprintf(err, errlen, "%s", st->err);
        free(st);
        return NULL;
    }

    return st;
}


void
wachat_redis_close(wachat_redis_t *st)
{
    if (st == NULL) {
        return;
    }

    if (st->c) {
        redisFree(st->c);
    }

    free(st);
}


int
wachat_redis_reauth(wachat_redis_t *st, const wachat_redis_addr_t *addr)
{
    int  ms;

    st->addr.user = addr->user;
    st->addr.password = addr->password;
    st->addr.sentinel_password = addr->sentinel_password;

    /* posted commands went out: their replies are read, not lost */
    if (st->c) {
        (void) wachat_redis_drain(st);
        redisFree(st->c);
        st->c = NULL;
        st->unread = 0;
    }

    /* the operator asks for them now: no pause to wait out */
    st->retry_at = 0;
    st->retry_ms = 0;

    if (wachat_redis_connect(st) == 0) {
        return 0;
    }

    if (!st->said) {
        ms = st->retry_at ? (int) (st->retry_at - wachat_clock_mono_ms())
                          : 0;
        wachat_log(WACHAT_LOG_WARNING, "store: %s, retrying in %d.%d s",
                   st->err, ms / 1000, ms % 1000 / 100);
    }

    return -1;
}


/*
 * At open a failure is the caller's to report (wachatd exits).  Once
 * connected, a connect that fails holds off the next one for a pause
 * (redis.h): the commands meanwhile fail at once, st->err saying why,
 * instead of each trying again (a blocking connect, an AUTH refused every
 * time) at whatever pace the timers and the traffic call them.
 */
static int
wachat_redis_connect(wachat_redis_t *st)
{
    if (st->retry_at && wachat_clock_mono_ms() < st->retry_at) {
        return -1;
    }

    st->retry_at = 0;

    if (wachat_redis_dial(st) == 0) {
        st->opened = 1;
        st->retry_ms = 0;
        return 0;
    }

    /* a refused AUTH or SELECT held it off already, to say for how long */
    if (st->opened && st->retry_at == 0) {
        (void) wachat_redis_hold(st);
    }

    return -1;
}


/* the next connect waits for the pause; its ms */
static int
wachat_redis_hold(wachat_redis_t *st)
{
    int  ms;

    ms = wachat_redis_retry_pause(&st->retry_ms, &st->addr);
    st->retry_at = wachat_clock_mono_ms() + ms;

    return ms;
}


static int
wachat_redis_dial(wachat_redis_t *st)
{
    int              port;
    char             primary[64];
    redisReply      *r;
    const char      *host;
    struct timeval   tv;

    tv.tv_sec = st->addr.timeout_ms / 1000;
    tv.tv_usec = (st->addr.timeout_ms % 1000) * 1000;

    if (st->c) {
        redisFree(st->c);
        st->c = NULL;
    }

    st->unread = 0;     /* posted commands went with the old link */
    st->said = 0;

    host = st->addr.host;
    port = st->addr.port;

    if (st->addr.nsentinels) {
        if (wachat_redis_resolve(&st->addr, primary, sizeof(primary), &port,
                                 st->err, sizeof(st->err))
            != 0)
        {
            return -1;
        }

        host = primary;
    }

    if (st->addr.unix_path) {
        st->c = redisConnectUnixWithTimeout(st->addr.unix_path, tv);

    } else {
        st->c = redisConnectWithTimeout(host, port, tv);
    }

    if (st->c == NULL || st->c->err) {
        if (st->addr.unix_path) {
            snprintf(st->err, sizeof(st->err), "redis unix:%s: %s",
                     st->addr.unix_path,
                     st->c ? st->c->errstr : "out of memory");

        } else {
            snprintf(st->err, sizeof(st->err), "redis %s:%d: %s",
                     host ? host : "", port,
                     st->c ? st->c->errstr : "out of memory");
        }
        if (st->c) {
            redisFree(st->c);
            st->c = NULL;
        }
        return -1;
    }

    redisSetTimeout(st->c, tv);

    if (wachat_redis_setup(st) != 0) {
        return -1;      /* the link is freed */
    }

    /* a sentinel's answer may be stale: a replica is no place to write */
    if (st->addr.nsentinels) {
        r = redisCommand(st->c, "ROLE");

        if (!wachat_redis_is_master(r)) {
            snprintf(st->err, sizeof(st->err), "redis %s:%d is not the "
                     "primary \"%s\" (yet)%s%s", host, port,
                     st->addr.master, r ? "" : ": ",
                     r ? "" : st->c->errstr);
            freeReplyObject(r);
            redisFree(st->c);
            st->c = NULL;
            return -1;
        }

        freeReplyObject(r);
    }

    return 0;
}


/* AUTH and SELECT on a new connection; frees it when one fails */
static int
wachat_redis_setup(wachat_redis_t *st)
{
    int          argc;
    redisReply  *r;
    const char  *argv[3];

    argc = wachat_redis_auth_argv(&st->addr, argv);

    if (argc) {
        r = redisCommandArgv(st->c, argc, argv, NULL);

        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            snprintf(st->err, sizeof(st->err), "redis AUTH failed: %s",
                     r ? r->str : st->c->errstr);
            if (r && st->opened) {
                wachat_redis_log_refused("store", "AUTH", r->str,
                                         wachat_redis_hold(st));
                st->said = 1;
            }
            freeReplyObject(r);
            redisFree(st->c);
            st->c = NULL;
            return -1;
        }

        freeReplyObject(r);
    }

    if (st->addr.db) {
        r = redisCommand(st->c, "SELECT %d", st->addr.db);

        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            snprintf(st->err, sizeof(st->err), "redis SELECT %d failed: %s",
                     st->addr.db, r ? r->str : st->c->errstr);
            if (r && st->opened) {
                wachat_redis_log_refused("store", "SELECT", r->str,
                                         wachat_redis_hold(st));
                st->said = 1;
            }
            freeReplyObject(r);
            redisFree(st->c);
            st->c = NULL;
            return -1;
        }

        freeReplyObject(r);
    }

    return 0;
}


/* the reply of the command just appended, after those of posted ones */
static redisReply *
wachat_redis_reply(wachat_redis_t *st)
{
    void  *r;

    if (wachat_redis_drain(st) != 0 || redisGetReply(st->c, &r) != REDIS_OK) {
        return NULL;
    }

    return r;
}


int
wachat_redis_drain(wachat_redis_t *st)
{
    void        *rep;
    redisReply  *r;

    while (st->unread > 0) {
        if (redisGetReply(st->c, &rep) != REDIS_OK) {
            return -1;
        }

        st->unread--;
        r = rep;

        if (r && r->type == REDIS_REPLY_ERROR) {
            wachat_log(WACHAT_LOG_WARNING, "redis: a posted command failed: "
                       "%s", r->str);
        }

        freeReplyObject(r);
    }

    return 0;
}


void
wachat_redis_post(wachat_redis_t *st, int argc, const char **argv,
    const size_t *argvlen)
{
    int  done;

    if (st->c == NULL && wachat_redis_connect(st) != 0) {
        return;
    }

    if (redisAppendCommandArgv(st->c, argc, argv, argvlen) != REDIS_OK) {
        return;
    }

    st->unread++;

    /* sent now, not with the next command: that may be long in coming */
    do {
        if (redisBufferWrite(st->c, &done) != REDIS_OK) {
            (void) wachat_redis_broken(st);
            return;
        }
    } while (!done);
}


/*
 * After a failed command: drop the link.  Only a link the server closed
 * (Redis restarted) is worth one fresh try; after a timeout the command
 * may have run, and running e.g. an XADD twice is worse than an error.
 */

static int
wachat_redis_broken(wachat_redis_t *st)
{
    int  retry;

    retry = st->c->err == REDIS_ERR_EOF;

    snprintf(st->err, sizeof(st->err), "redis: %s", st->c->errstr);
    redisFree(st->c);
    st->c = NULL;
    st->unread = 0;

    return retry;
}


/*
 * Behind sentinels, a READONLY or LOADING answer means the primary moved
 * (or is still loading): the command did not run, so the link is dropped
 * (the next connect asks the sentinels) and the caller may send it again.
 * Returns 1 then, with r freed and st->err set.
 */

static int
wachat_redis_failover(wachat_redis_t *st, redisReply *r)
{
    if (st->addr.nsentinels == 0 || !wachat_redis_not_primary(r)) {
        return 0;
    }

    wachat_log(WACHAT_LOG_WARNING, "redis: %s, asking the sentinels for "
               "the primary \"%s\" again", r->str, st->addr.master);

    snprintf(st->err, sizeof(st->err), "redis: %s", r->str);
    freeReplyObject(r);

    redisFree(st->c);
    st->c = NULL;
    st->unread = 0;

    return 1;
}


redisReply *
wachat_redis_argv(wachat_redis_t *st, int argc, const char **argv,
    const size_t *argvlen)
{
    return wachat_redis_run_waited(st, argc, argv, argvlen, NULL);
}


redisReply *
wachat_redis_cmd(wachat_redis_t *st, const char *fmt, ...)
{
    int          attempt;
    va_list      ap;
    redisReply  *r;

    for (attempt = 0; attempt < 2; attempt++) {

        if (st->c == NULL && wachat_redis_connect(st) != 0) {
            return NULL;
        }

        va_start(ap, fmt);
        r = NULL;
        if (redisvAppendCommand(st->c, fmt, ap) == REDIS_OK) {
            r = wachat_redis_reply(st);
        }
        va_end(ap);

        if (r && !wachat_redis_failover(st, r)) {
            return r;
        }
        if (r) {
            continue;
        }

        if (!wachat_redis_broken(st)) {
            return NULL;
        }
    }

    return NULL;
}


/*
 * A command, and with wait, WAIT for redis_replicas replicas behind it in
 * the same write, so the wait costs no round trip of its own; the WAIT's
 * reply into *wait (NULL: the link failed after the command's reply, which
 * then may have run: it is not tried again).  READONLY/LOADING and a link
 * the server closed are tried once more; the WAIT goes with its command on
 * the new link, never alone.
 */

redisReply *
wachat_redis_run_waited(wachat_redis_t *st, int argc, const char **argv,
    const size_t *argvlen, redisReply **wait)
{
    int          attempt;
    void        *w;
    redisReply  *r;

    if (wait) {
        *wait = NULL;
    }

    for (attempt = 0; attempt < 2; attempt++) {

        if (st->c == NULL && wachat_redis_connect(st) != 0) {
            return NULL;
        }

        r = NULL;
        w = NULL;

        if (redisAppendCommandArgv(st->c, argc, argv, argvlen) == REDIS_OK
            && (wait == NULL
                || redisAppendCommand(st->c, "WAIT %d %d", st->addr.replicas,
                                      st->addr.replicas_timeout_ms)
                   == REDIS_OK))
        {
            r = wachat_redis_reply(st);
        }

        if (r && wait && redisGetReply(st->c, &w) != REDIS_OK) {
            /* the command's reply came, the WAIT's did not */
            (void) wachat_redis_broken(st);
            return r;
        }

        if (r && wachat_redis_failover(st, r)) {
            freeReplyObject(w);
            continue;
        }

        if (r) {
            if (wait) {
                *wait = w;
            }

            return r;
        }

        if (!wachat_redis_broken(st)) {
            return NULL;
        }
    }

    return NULL;
}


const redisReply *
wachat_redis_reply_value(const redisReply *kv, const char *name)
{
    size_t  i;

    for (i = 0; kv && kv->type == REDIS_REPLY_ARRAY && i + 1 < kv->elements;
         i += 2)
    {
        if (kv->element[i]->type == REDIS_REPLY_STRING
            && strcmp(kv->element[i]->str, name) == 0
            && kv->element[i + 1]->type == REDIS_REPLY_STRING)
        {
            return kv->element[i + 1];
        }
    }

    return NULL;
}


const char *
wachat_redis_reply_field(const redisReply *kv, const char *name)
{
    const redisReply  *v = wachat_redis_reply_value(kv, name);

    return v ? v->str : NULL;
}
