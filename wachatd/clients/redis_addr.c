/*
 * redis addr: where Redis is, as configured: parsed, taken from the config,
 * copied and freed; apart from the links, which both read it.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/redis.h"


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


/* a secret's bytes do not stay behind in freed memory */
static void
wachat_redis_wipe(char *secret)
{
    if (secret) {
        memset(secret, 0, strlen(secret));
        free(secret);
    }
}


void
wachat_redis_addr_free(wachat_redis_addr_t *addr)
{
    size_t  i;

    free(addr->host);
    free(addr->unix_path);
    free(addr->user);
    wachat_redis_wipe(addr->password);

    for (i = 0; i < addr->nsentinels; i++) {
        free(addr->sentinel_hosts[i]);
    }

    free(addr->sentinel_hosts);
    free(addr->sentinel_ports);
    free(addr->master);
    wachat_redis_wipe(addr->sentinel_password);
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
         | wachat_redis_dup(&addr->user, cfg->redis_user && *cfg->redis_user
                                         ? cfg->redis_user : NULL)
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
wachat_redis_auth_argv(const wachat_redis_addr_t *addr, const char *argv[3])
{
    if (addr->user == NULL && addr->password == NULL) {
        return 0;
    }

    argv[0] = "AUTH";

    if (addr->user == NULL) {
        argv[1] = addr->password;
        return 2;
    }

    argv[1] = addr->user;
    argv[2] = addr->password ? addr->password : "";

    return 3;
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
         | wachat_redis_dup(&dst->user, src->user)
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


static int
wachat_redis_same(const char *a, const char *b)
{
    return (a == NULL && b == NULL)
           || (a != NULL && b != NULL && strcmp(a, b) == 0);
}


int
wachat_redis_addr_credentials(wachat_redis_addr_t *dst,
    const wachat_redis_addr_t *src)
{
    char  *user, *password, *sentinel_password;

    if (wachat_redis_same(dst->user, src->user)
        && wachat_redis_same(dst->password, src->password)
        && wachat_redis_same(dst->sentinel_password, src->sentinel_password))
    {
        return 0;
    }

    if (wachat_redis_dup(&user, src->user) != 0) {
        return -1;
    }

    if (wachat_redis_dup(&password, src->password) != 0) {
        free(user);
        return -1;
    }

    if (wachat_redis_dup(&sentinel_password, src->sentinel_password) != 0) {
        free(user);
        wachat_redis_wipe(password);
        return -1;
    }

    free(dst->user);
    wachat_redis_wipe(dst->password);
    wachat_redis_wipe(dst->sentinel_password);

    dst->user = user;
    dst->password = password;
    dst->sentinel_password = sentinel_password;

    return 1;
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
