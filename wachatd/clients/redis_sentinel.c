/*
 * redis sentinel: behind Redis Sentinel, the primary asked of the
 * sentinels, and whether a server is one; shared by both kinds of link.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "clients/redis.h"


/* the sentinel that answered last is asked first next time */
static size_t  wachat_redis_sentinel_next;


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
