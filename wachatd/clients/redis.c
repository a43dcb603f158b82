/*
 * redis: the synchronous Redis link (see redis.h).
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "clients/redis.h"


static int wachat_redis_connect(wachat_redis_t *st);
static int wachat_redis_setup(wachat_redis_t *st);
static int wachat_redis_broken(wachat_redis_t *st);
static int wachat_redis_failover(wachat_redis_t *st, redisReply *r);
static redisReply *wachat_redis_run_waited(wachat_redis_t *st, int argc,
    const char **argv, const size_t *argvlen, redisReply **wait);
static int wachat_redis_replicated(wachat_redis_t *st, const redisReply *r);


/* the sentinel that answered last is asked first next time */
static size_t  wachat_redis_sentinel_next;


int
wachat_redis_parse_addr(const char *spec, wachat_redis_addr_t *addr,
    char *err, size_t errlen)
{
    long         port;
    char        *end;
    const char  *colon;

    memset(addr, 0, sizeof(wachat_redis_addr_t));
    addr->timeout_ms = 2000;

    if (strncmp(spec, "unix:", 5) == 0 && spec[5] != '\0') {
        addr->unix_path = strdup(spec + 5);
        return addr->unix_path ? 0 : -1;
    }

    colon = strrchr(spec, ':');

    if (colon == NULL || colon == spec) {
        snprintf(err, errlen, "\"%s\" is not host:port or unix:/path", spec);
        return -1;
    }

    errno = 0;
    port = strtol(colon + 1, &end, 10);

    if (errno || *end != '\0' || port < 1 || port > 65535) {
        snprintf(err, errlen, "\"%s\": bad port", spec);
        return -1;
    }

    addr->host = strndup(spec, (size_t) (colon - spec));
    addr->port = (int) port;

    return addr->host ? 0 : -1;
}


void
wachat_redis_addr_free(wachat_redis_addr_t *addr)
{
    size_t  i;

    free(addr->host);
    free(addr->unix_path);
    free(addr->password);

    for (i = 0; i < addr->nsentinels; i++) {
        free(addr->sentinel_hosts[i]);
    }

    free(addr->sentinel_hosts);
    free(addr->sentinel_ports);
    free(addr->master);
    free(addr->sentinel_password);
    memset(addr, 0, sizeof(wachat_redis_addr_t));
}


static int
wachat_redis_dup(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;

    return (src && *dst == NULL) ? -1 : 0;
}


int
wachat_redis_addr_config(wachat_redis_addr_t *addr,
    const wachat_config_t *cfg, int timeout_ms)
{
    size_t                      i;
    int                         rc;
    const wachat_redis_conf_t  *rcf = &cfg->redis;

    memset(addr, 0, sizeof(wachat_redis_addr_t));
    addr->port = rcf->server.port;
    addr->db = cfg->redis_db;
    addr->timeout_ms = timeout_ms;
    addr->replicas = cfg->redis_replicas;
    addr->replicas_timeout_ms = cfg->redis_replicas_timeout_ms;

    rc = wachat_redis_dup(&addr->host, rcf->server.host)
         | wachat_redis_dup(&addr->unix_path, rcf->server.path)
         | wachat_redis_dup(&addr->password, cfg->redis_password.value)
         | wachat_redis_dup(&addr->master, rcf->master)
         | wachat_redis_dup(&addr->sentinel_password,
                            cfg->redis_sentinel_password.value);

    for (i = 0; rc == 0 && i < rcf->nsentinels; i++) {
        rc = wachat_redis_addr_sentinel(addr, rcf->sentinels[i].host,
                                        rcf->sentinels[i].port);
    }

    if (rc != 0) {
        wachat_redis_addr_free(addr);
        return -1;
    }

    return 0;
}


int
wachat_redis_addr_copy(wachat_redis_addr_t *dst,
    const wachat_redis_addr_t *src)
{
    size_t  i;
    int     rc;

    memset(dst, 0, sizeof(wachat_redis_addr_t));
    dst->port = src->port;
    dst->db = src->db;
    dst->timeout_ms = src->timeout_ms;
    dst->replicas = src->replicas;
    dst->replicas_timeout_ms = src->replicas_timeout_ms;

    rc = wachat_redis_dup(&dst->host, src->host)
         | wachat_redis_dup(&dst->unix_path, src->unix_path)
         | wachat_redis_dup(&dst->password, src->password)
         | wachat_redis_dup(&dst->master, src->master)
         | wachat_redis_dup(&dst->sentinel_password, src->sentinel_password);

    for (i = 0; rc == 0 && i < src->nsentinels; i++) {
        rc = wachat_redis_addr_sentinel(dst, src->sentinel_hosts[i],
                                        src->sentinel_ports[i]);
    }

    if (rc != 0) {
        wachat_redis_addr_free(dst);
        return -1;
    }

    return 0;
}


int
wachat_redis_addr_sentinel(wachat_redis_addr_t *addr, const char *host,
    int port)
{
    int    *ports;
    char  **hosts, *h;

    h = strdup(host);
    hosts = realloc(addr->sentinel_hosts,
                    (addr->nsentinels + 1) * sizeof(char *));
    if (hosts) {
        addr->sentinel_hosts = hosts;
    }

    ports = realloc(addr->sentinel_ports,
                    (addr->nsentinels + 1) * sizeof(int));
    if (ports) {
        addr->sentinel_ports = ports;
    }

    if (h == NULL || hosts == NULL || ports == NULL) {
        free(h);
        return -1;
    }

    hosts[addr->nsentinels] = h;
    ports[addr->nsentinels] = port;
    addr->nsentinels++;

    return 0;
}


/* one sentinel's answer: 0 with the address, or -1 with why in err */
static int
wachat_redis_ask_sentinel(const wachat_redis_addr_t *addr, size_t i,
    char *host, size_t hostlen, int *port, char *err, size_t errlen)
{
    int              rc;
    redisReply      *r;
    redisContext    *c;
    struct timeval   tv;

    tv.tv_sec = WACHAT_SENTINEL_TIMEOUT_MS / 1000;
    tv.tv_usec = (WACHAT_SENTINEL_TIMEOUT_MS % 1000) * 1000;

    c = redisConnectWithTimeout(addr->sentinel_hosts[i],
                                addr->sentinel_ports[i], tv);

    if (c == NULL || c->err) {
        snprintf(err, errlen, "sentinel %s:%d: %s", addr->sentinel_hosts[i],
                 addr->sentinel_ports[i], c ? c->errstr : "out of memory");
        redisFree(c);
        return -1;
    }

    redisSetTimeout(c, tv);

    if (addr->sentinel_password) {
        r = redisCommand(c, "AUTH %s", addr->sentinel_password);

        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "sentinel %s:%d: AUTH failed: %s",
                     addr->sentinel_hosts[i], addr->sentinel_ports[i],
                     r ? r->str : c->errstr);
            freeReplyObject(r);
            redisFree(c);
            return -1;
        }

        freeReplyObject(r);
    }

    r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", addr->master);
    rc = -1;

    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2
        && r->element[0]->type == REDIS_REPLY_STRING
        && r->element[1]->type == REDIS_REPLY_STRING
        && r->element[0]->len < hostlen)
    {
        memcpy(host, r->element[0]->str, r->element[0]->len + 1);
        *port = atoi(r->element[1]->str);
        rc = *port > 0 && *port < 65536 ? 0 : -1;
    }

    if (rc != 0) {
        snprintf(err, errlen, "sentinel %s:%d: %s", addr->sentinel_hosts[i],
                 addr->sentinel_ports[i],
                 r == NULL ? c->errstr
                 : r->type == REDIS_REPLY_ERROR ? r->str
                 : r->type == REDIS_REPLY_NIL ? "does not know the primary"
                 : "unexpected answer");
    }

    freeReplyObject(r);
    redisFree(c);

    return rc;
}


int
wachat_redis_resolve(const wachat_redis_addr_t *addr, char *host,
    size_t hostlen, int *port, char *err, size_t errlen)
{
    size_t  n, i;

    for (n = 0; n < addr->nsentinels; n++) {
        i = (wachat_redis_sentinel_next + n) % addr->nsentinels;

        if (wachat_redis_ask_sentinel(addr, i, host, hostlen, port, err,
                                      errlen)
            == 0)
        {
            wachat_redis_sentinel_next = i;
            return 0;
        }

        wachat_log(WACHAT_LOG_WARNING, "redis: %s", err);
    }

    snprintf(err, errlen, "redis: no sentinel named the primary \"%s\"",
             addr->master);

    return -1;
}


int
wachat_redis_not_primary(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR
           && (strncmp(r->str, "READONLY", 8) == 0
               || strncmp(r->str, "LOADING", 7) == 0
               || strncmp(r->str, "MASTERDOWN", 10) == 0);
}


int
wachat_redis_is_master(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements > 0
           && r->element[0]->type == REDIS_REPLY_STRING
           && strcmp(r->element[0]->str, "master") == 0;
}


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


static int
wachat_redis_connect(wachat_redis_t *st)
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
    redisReply  *r;

    if (st->addr.password) {
        r = redisCommand(st->c, "AUTH %s", st->addr.password);

        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            snprintf(st->err, sizeof(st->err), "redis AUTH failed: %s",
                     r ? r->str : st->c->errstr);
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


static redisReply *
wachat_redis_run(wachat_redis_t *st, int argc, const char **argv,
    const size_t *argvlen)
{
    return wachat_redis_run_waited(st, argc, argv, argvlen, NULL);
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
    return wachat_redis_run(st, argc, argv, argvlen);
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


/* the script's SHA1 in hex, computed on first use */
static void
wachat_lua_sha(wachat_lua_t *lua)
{
    int             k;
    unsigned char   md[SHA_DIGEST_LENGTH];

    static const char  hex[] = "0123456789abcdef";

    if (lua->sha[0] != '\0') {
        return;
    }

    SHA1((const unsigned char *) lua->text, lua->len, md);

    for (k = 0; k < SHA_DIGEST_LENGTH; k++) {
        lua->sha[2 * k] = hex[md[k] >> 4];
        lua->sha[2 * k + 1] = hex[md[k] & 0xf];
    }

    lua->sha[40] = '\0';
}


redisReply *
wachat_redis_eval(wachat_redis_t *st, wachat_lua_t *lua, int nkeys,
    int argc, const char **argv, const size_t *argvlen)
{
    int             i, n, wait;
    char            nk[16];
    redisReply     *r, *w;
    const char    **av;
    size_t         *al;

    wachat_lua_sha(lua);
    st->unreplicated = 0;

    if (lua->replicated && st->addr.replicas > 0
        && wachat_clock_ms() < st->replicas_short_until)
    {
        /* a WAIT just fell short: do not block the loop on every script */
        snprintf(st->err, sizeof(st->err), "redis: fewer replicas than "
                 "redis_replicas %d in sync a moment ago; retrying",
                 st->addr.replicas);
        return NULL;
    }

    n = argc + 3;
    av = malloc(n * sizeof(char *));
    al = malloc(n * sizeof(size_t));

    if (av == NULL || al == NULL) {
        free(av);
        free(al);
        snprintf(st->err, sizeof(st->err), "out of memory");
        return NULL;
    }

    snprintf(nk, sizeof(nk), "%d", nkeys);

    av[0] = "EVALSHA";
    al[0] = 7;
    av[1] = lua->sha;
    al[1] = 40;
    av[2] = nk;
    al[2] = strlen(nk);

    for (i = 0; i < argc; i++) {
        av[3 + i] = argv[i];
        al[3 + i] = argvlen ? argvlen[i] : strlen(argv[i]);
    }

    wait = lua->replicated && st->addr.replicas > 0;
    w = NULL;

    r = wachat_redis_run_waited(st, n, av, al, wait ? &w : NULL);

    if (r && r->type == REDIS_REPLY_ERROR
        && strncmp(r->str, "NOSCRIPT", 8) == 0)
    {
        /* first use since Redis started: send the body once */
        freeReplyObject(r);
        freeReplyObject(w);
        w = NULL;

        av[0] = "EVAL";
        al[0] = 4;
        av[1] = lua->text;
        al[1] = lua->len;

        r = wachat_redis_run_waited(st, n, av, al, wait ? &w : NULL);
    }

    free(av);
    free(al);

    if (r && r->type != REDIS_REPLY_ERROR && wait
        && !wachat_redis_replicated(st, w))
    {
        /* it ran: the caller runs it again, which the scripts allow */
        st->unreplicated = 1;
        freeReplyObject(r);
        r = NULL;
    }

    freeReplyObject(w);

    return r;
}


/*
 * A command, and with wait, WAIT for redis_replicas replicas behind it in
 * the same write, so the wait costs no round trip of its own; the WAIT's
 * reply into *wait (NULL: the link failed after the command's reply, which
 * then may have run: it is not tried again).  READONLY/LOADING and a link
 * the server closed are tried once more; the WAIT goes with its command on
 * the new link, never alone.
 */

static redisReply *
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


/*
 * The WAIT's reply w: 1 when enough replicas have the script's writes.
 * Fewer is a failed write for the caller (st->err), which runs it again
 * on whichever server is primary by then; for a second after, scripts
 * fail at once rather than each block the loop for the timeout.
 */

static int
wachat_redis_replicated(wachat_redis_t *st, const redisReply *r)
{
    if (r && r->type == REDIS_REPLY_INTEGER
        && r->integer >= st->addr.replicas)
    {
        return 1;
    }

    st->replicas_short_until = wachat_clock_ms() + WACHAT_REPLICAS_PAUSE_MS;

    if (r && r->type == REDIS_REPLY_INTEGER) {
        snprintf(st->err, sizeof(st->err), "redis: written, but %lld of "
                 "redis_replicas %d replicas acknowledged it within %d ms",
                 r->integer, st->addr.replicas, st->addr.replicas_timeout_ms);

    } else if (r) {
        snprintf(st->err, sizeof(st->err), "redis: WAIT: %s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");

    } else {
        snprintf(st->err, sizeof(st->err), "redis: written, but the link "
                 "failed before the WAIT's answer");
    }

    return 0;
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
