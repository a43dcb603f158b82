/*
 * redis script: a Lua script by EVALSHA (its body once on NOSCRIPT) and a
 * replicated one's WAIT checked; apart from the link it runs on (redis.c).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "lib/clock.h"
#include "clients/redis_int.h"


static int wachat_redis_replicated(wachat_redis_t *st, const redisReply *r);


/*
 * The error codes that say the server cannot run a script now, whatever
 * it was given: loading, a replica or a primary cut off from its replicas,
 * another script running, out of memory, a failing save, an ACL or a
 * password, a cluster state, a client unblocked by a change of role.
 */
static const char  *wachat_redis_conditions[] = {
    "LOADING", "READONLY", "MASTERDOWN", "BUSY", "NOREPLICAS", "OOM",
    "MISCONF", "NOSCRIPT", "NOPERM", "NOAUTH", "WRONGPASS", "CLUSTERDOWN",
    "TRYAGAIN", "MOVED", "ASK", "UNBLOCKED", "EXECABORT", NULL
};


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
    redisReply  *r;

    r = wachat_redis_eval_ran(st, lua, nkeys, argc, argv, argvlen);

    if (r && st->unreplicated) {
        /* it ran: the caller runs it again, which the scripts allow */
        freeReplyObject(r);
        r = NULL;
    }

    return r;
}


redisReply *
wachat_redis_eval_ran(wachat_redis_t *st, wachat_lua_t *lua, int nkeys,
    int argc, const char **argv, const size_t *argvlen)
{
    int             i, n, wait;
    char            nk[16];
    redisReply     *r, *w;
    const char    **av;
    size_t         *al;

    wachat_lua_sha(lua);
    st->unreplicated = 0;
    st->refused = 0;

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

    st->refused = wachat_redis_script_error(r);

    if (r && r->type != REDIS_REPLY_ERROR && wait
        && !wachat_redis_replicated(st, w))
    {
        st->unreplicated = 1;
    }

    freeReplyObject(w);

    return r;
}


int
wachat_redis_script_error(const redisReply *r)
{
    size_t        n;
    const char  **c;

    if (r == NULL || r->type != REDIS_REPLY_ERROR) {
        return 0;
    }

    /* the code is the error's first word */
    n = strcspn(r->str, " ");

    for (c = wachat_redis_conditions; *c; c++) {
        if (strlen(*c) == n && strncmp(r->str, *c, n) == 0) {
            return 0;
        }
    }

    return 1;
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
