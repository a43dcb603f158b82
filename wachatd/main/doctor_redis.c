/*
 * doctor_redis: the doctor's checks of Redis: the stream, its group and
 * backlog, the replicas, the sentinels, a client without a password.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "main/doctor_int.h"


/* "ip=10.0.0.2,port=6379,state=online,offset=123,lag=0": one field */
static long long
wachat_doctor_field(const char *line, const char *name, char *buf,
    size_t size)
{
    size_t       n;
    const char  *p, *end;

    n = strlen(name);

    for (p = line; p != NULL; p = strchr(p, ',')) {
        if (*p == ',') {
            p++;
        }

        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            p += n + 1;
            end = p + strcspn(p, ",\r\n");

            if (buf) {
                snprintf(buf, size, "%.*s", (int) (end - p), p);
            }

            return atoll(p);
        }
    }

    if (buf) {
        snprintf(buf, size, "?");
    }

    return -1;
}


/*
 * The primary and its replicas (INFO replication): each replica's state,
 * lag and bytes behind; a warning when fewer are in sync (online, lag <= 1
 * s) than nginx's wachat_redis_replicas waits for.
 */
void
wachat_doctor_replication(wachat_doctor_t *doc, wachat_redis_t *st,
    const wachat_doctor_opts_t *opts)
{
    int          n, insync;
    char         ip[64], state[32], key[16];
    char        *line, *save, *text;
    long long    offset, roff, lag, port;
    redisReply  *r;

    r = wachat_redis_cmd(st, "INFO replication");
    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        wachat_doctor_say(doc, "warn", "redis: INFO replication: %s",
                          r ? (r->type == REDIS_REPLY_ERROR ? r->str : "?")
                            : st->err);
        freeReplyObject(r);
        return;
    }

    text = strdup(r->str);
    freeReplyObject(r);

    if (text == NULL) {
        return;
    }

    /* listed after the replicas' lines, needed for each of them */
    line = strstr(text, "master_repl_offset:");
    offset = line ? atoll(line + 19) : -1;
    n = 0;
    insync = 0;

    for (line = strtok_r(text, "\r\n", &save); line != NULL;
         line = strtok_r(NULL, "\r\n", &save))
    {
        if (strncmp(line, "role:", 5) == 0 && strcmp(line + 5, "master") != 0)
        {
            wachat_doctor_say(doc, "FAIL", "redis %s:%d is a %s, not the "
                              "primary: wachatd and nginx must write to the "
                              "primary", st->c->tcp.host ? st->c->tcp.host
                                                          : "unix",
                              st->c->tcp.port, line + 5);
        }

        if (sscanf(line, "slave%*d:%15[^\n]", key) != 1) {
            continue;
        }

        line = strchr(line, ':') + 1;
        n++;

        wachat_doctor_field(line, "ip", ip, sizeof(ip));
        port = wachat_doctor_field(line, "port", NULL, 0);
        wachat_doctor_field(line, "state", state, sizeof(state));
        roff = wachat_doctor_field(line, "offset", NULL, 0);
        lag = wachat_doctor_field(line, "lag", NULL, 0);

        if (strcmp(state, "online") == 0 && lag >= 0 && lag <= 1) {
            insync++;
        }

        wachat_doctor_say(doc, strcmp(state, "online") == 0 ? "ok" : "warn",
                          "replica %s:%lld: %s, lag %lld s, %lld bytes "
                          "behind", ip, port, state, lag,
                          offset >= 0 && roff >= 0 ? offset - roff : -1);
    }

    free(text);

    wachat_doctor_say(doc, "ok", "redis primary %s:%d, %d replica(s), %d in "
                      "sync", st->c->tcp.host ? st->c->tcp.host : "unix",
                      st->c->tcp.port, n, insync);

    if (opts->replicas > insync) {
        wachat_doctor_say(doc, "warn", "wachat_redis_replicas %d but %d "
                          "replica(s) in sync: nginx answers every webhook "
                          "503 until enough replicas are back",
                          opts->replicas, insync);

    } else if (st->addr.replicas > insync) {
        wachat_doctor_say(doc, "warn", "redis_replicas %d but %d replica(s) "
                          "in sync: wachatd answers nobody until enough "
                          "replicas are back", st->addr.replicas, insync);

    } else if (opts->replicas == -1 && n == 0) {
        printf("info  no replica: losing the Redis host loses what it held "
               "(docs/deployment.md)\n");
    }
}


/* what each sentinel says: reachable, which primary, agreement */
void
wachat_doctor_sentinels(wachat_doctor_t *doc, wachat_redis_t *st)
{
    size_t                      i, up;
    char                        named[96], first[96];
    redisReply                 *r;
    redisContext               *c;
    struct timeval              tv;
    const wachat_redis_addr_t  *a = &st->addr;

    tv.tv_sec = 1;
    tv.tv_usec = 0;
    up = 0;
    first[0] = '\0';

    for (i = 0; i < a->nsentinels; i++) {
        c = redisConnectWithTimeout(a->sentinel_hosts[i],
                                    a->sentinel_ports[i], tv);

        if (c == NULL || c->err) {
            wachat_doctor_say(doc, "warn", "sentinel %s:%d: %s",
                              a->sentinel_hosts[i], a->sentinel_ports[i],
                              c ? c->errstr : "out of memory");
            redisFree(c);
            continue;
        }

        redisSetTimeout(c, tv);

        if (a->sentinel_password) {
            freeReplyObject(redisCommand(c, "AUTH %s",
                                         a->sentinel_password));
        }

        r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", a->master);

        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            snprintf(named, sizeof(named), "%s:%s", r->element[0]->str,
                     r->element[1]->str);
            up++;

            if (first[0] == '\0') {
                memcpy(first, named, sizeof(first));
            }

            wachat_doctor_say(doc, strcmp(first, named) == 0 ? "ok" : "FAIL",
                              "sentinel %s:%d names %s the primary \"%s\"%s",
                              a->sentinel_hosts[i], a->sentinel_ports[i],
                              named, a->master,
                              strcmp(first, named) == 0
                              ? "" : ", unlike the others");

        } else {
            wachat_doctor_say(doc, "warn", "sentinel %s:%d: %s",
                              a->sentinel_hosts[i], a->sentinel_ports[i],
                              r == NULL ? c->errstr
                              : r->type == REDIS_REPLY_ERROR ? r->str
                              : "does not know the primary");
        }

        freeReplyObject(r);
        redisFree(c);
    }

    if (up < 3 || up * 2 <= a->nsentinels) {
        wachat_doctor_say(doc, "warn", "%zu of %zu sentinels answer: a "
                          "failover needs a majority of them, and three on "
                          "separate hosts survive the loss of one",
                          up, a->nsentinels);
    }
}


static long long
wachat_doctor_int(const redisReply *kv, const char *name)
{
    size_t  i;

    for (i = 0; kv && kv->type == REDIS_REPLY_ARRAY && i + 1 < kv->elements;
         i += 2)
    {
        if (kv->element[i]->type == REDIS_REPLY_STRING
            && strcmp(kv->element[i]->str, name) == 0)
        {
            if (kv->element[i + 1]->type == REDIS_REPLY_INTEGER) {
                return kv->element[i + 1]->integer;
            }

            return -1;  /* nil: e.g. lag unknown after XDEL */
        }
    }

    return -1;
}


void
wachat_doctor_redis(wachat_doctor_t *doc, wachat_redis_t *st,
    const wachat_config_t *cfg)
{
    size_t       i;
    long long    pending, lag;
    redisReply  *r, *g;
    const char  *name;

    r = wachat_redis_cmd(st, "PING");
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        wachat_doctor_say(doc, "FAIL", "redis: %s", r ? r->str : st->err);
        freeReplyObject(r);
        return;
    }

    freeReplyObject(r);
    wachat_doctor_say(doc, "ok", "redis answers");

    r = wachat_redis_cmd(st, "XINFO STREAM %s", cfg->stream);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        wachat_doctor_say(doc, "FAIL", "stream %s does not exist: no webhook "
                          "has been queued yet, or nginx writes another "
                          "stream (compare wachat_stream and wachat_redis "
                          "with stream and redis)", cfg->stream);
        freeReplyObject(r);
        return;
    }

    wachat_doctor_say(doc, "ok", "stream %s holds %lld entries", cfg->stream,
                      wachat_doctor_int(r, "length"));
    freeReplyObject(r);

    r = wachat_redis_cmd(st, "XINFO GROUPS %s", cfg->stream);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        wachat_doctor_say(doc, "FAIL", "cannot list the groups of %s",
                          cfg->stream);
        freeReplyObject(r);
        return;
    }

    for (i = 0; i < r->elements; i++) {
        g = r->element[i];
        name = wachat_redis_reply_field(g, "name");

        if (name == NULL || strcmp(name, cfg->group) != 0) {
            continue;
        }

        pending = wachat_doctor_int(g, "pending");
        lag = wachat_doctor_int(g, "lag");

        wachat_doctor_say(doc, lag > 1000 || pending > 1000 ? "warn" : "ok",
                          "group %s: %lld consumers, %lld pending, backlog "
                          "%lld%s", cfg->group,
                          wachat_doctor_int(g, "consumers"), pending, lag,
                          lag > 1000 ? " (is wachatd running and keeping up?)"
                                     : "");
        freeReplyObject(r);
        return;
    }

    wachat_doctor_say(doc, "FAIL", "group %s does not exist on %s: wachatd "
                      "creates it when it starts; is it running?", cfg->group,
                      cfg->stream);
    freeReplyObject(r);
}


/*
 * A Redis that answers a client without a password lets any local user
 * (or any host, if it listens beyond loopback) read every conversation.
 */
void
wachat_doctor_redis_auth(wachat_doctor_t *doc, const wachat_config_t *cfg)
{
    char                 err[256];
    redisReply          *r;
    wachat_redis_t      *anon;
    wachat_redis_addr_t  addr;

    /* the same server (or the sentinels' primary), without the password */
    if (wachat_redis_addr_config(&addr, cfg, 2000) != 0) {
        return;
    }

    free(addr.user);
    free(addr.password);
    addr.user = NULL;
    addr.password = NULL;
    addr.db = 0;

    /* the link keeps addr's strings: freed after it */
    anon = wachat_redis_open(&addr, err, sizeof(err));

    if (anon == NULL) {
        wachat_redis_addr_free(&addr);
        return;         /* the check above has said what is wrong */
    }

    r = wachat_redis_cmd(anon, "PING");

    if (r != NULL && r->type != REDIS_REPLY_ERROR) {
        wachat_doctor_say(doc, "warn", "redis answers clients without a "
                          "password: set one (requirepass, or the ACL line "
                          "in the README) and redis_password_file here, "
                          "password_file= in nginx's wachat_redis");

    } else if (r != NULL && strncmp(r->str, "NOAUTH", 6) == 0) {
        wachat_doctor_say(doc, "ok", "redis refuses clients without a "
                          "password");
    }

    freeReplyObject(r);
    wachat_redis_close(anon);
    wachat_redis_addr_free(&addr);
}
