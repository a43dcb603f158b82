/*
 * api_listen: the listener (a loopback address or a unix socket, never
 * anything else) and the API's life around it: start, what the daemon
 * plugs in, reload, free.  Apart from the requests, which api.c serves.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "api/api_int.h"
#include "lib/log.h"


#define WACHAT_API_HARD_MAX       (WACHAT_API_FILE_MAX + 4096)
                                                /* evhttp's own 413 */
#define WACHAT_API_HEADERS_MAX    (16 * 1024)
#define WACHAT_API_TIMEOUT_S      30            /* reading a request */
#define WACHAT_API_KEEPALIVE_S    15            /* event streams */

#define WACHAT_API_METHODS                                                  \
    (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT    \
     | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE            \
     | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)


/* --- the listener -------------------------------------------------------- */


/* every address the name stands for must be a loopback one */
static int
wachat_api_loopback(const char *host, char *err, size_t errlen)
{
    int                         rc, ok;
    struct addrinfo             hints, *res, *ai;
    const struct sockaddr_in   *in4;
    const struct sockaddr_in6  *in6;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "api_listen %s: %s", host, gai_strerror(rc));
        return -1;
    }

    ok = res != NULL;

    for (ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            in4 = (const struct sockaddr_in *) (const void *) ai->ai_addr;
            ok = ok && (ntohl(in4->sin_addr.s_addr) >> 24) == 127;

        } else if (ai->ai_family == AF_INET6) {
            in6 = (const struct sockaddr_in6 *) (const void *) ai->ai_addr;
            ok = ok && IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);

        } else {
            ok = 0;
        }
    }

    freeaddrinfo(res);

    if (!ok) {
        snprintf(err, errlen, "api_listen %s is not a loopback address: "
                 "wachatd trusts the " WACHAT_API_AGENT_HEADER " header, so "
                 "only nginx on this host may reach the API; use "
                 "127.0.0.1:<port>, [::1]:<port> or unix:/path", host);
        return -1;
    }

    return 0;
}


/* somebody answers on that socket: another wachatd */
static int
wachat_api_unix_alive(const struct sockaddr_un *sun)
{
    int  fd, alive;

    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        return 0;
    }

    alive = connect(fd, (const struct sockaddr *) sun, sizeof(*sun)) == 0;
    close(fd);

    return alive;
}


static int
wachat_api_listen_unix(wachat_api_t *api, const char *path, char *err,
    size_t errlen)
{
    int                  fd, rc;
    mode_t               old;
    struct stat          sb;
    struct sockaddr_un   sun;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "api_listen unix:%s: the path is too long",
                 path);
        return -1;
    }

    memcpy(sun.sun_path, path, strlen(path) + 1);

    if (lstat(path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode)) {
            snprintf(err, errlen, "api_listen unix:%s exists and is not a "
                     "socket", path);
            return -1;
        }

        if (wachat_api_unix_alive(&sun)) {
            snprintf(err, errlen, "api_listen unix:%s: another process "
                     "listens on it", path);
            return -1;
        }

        unlink(path);       /* left over by a wachatd that died */
    }

    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        snprintf(err, errlen, "api_listen unix:%s: socket: %s", path,
                 strerror(errno));
        return -1;
    }

    /* 0660 from the start: nginx reaches it through the group */
    old = umask(0117);
    rc = bind(fd, (const struct sockaddr *) &sun, sizeof(sun));
    umask(old);

    if (rc != 0 || chmod(path, 0660) != 0 || listen(fd, 128) != 0
        || evutil_make_socket_nonblocking(fd) != 0
        || evutil_make_socket_closeonexec(fd) != 0)
    {
        snprintf(err, errlen, "api_listen unix:%s: %s", path,
                 strerror(errno));
        close(fd);
        if (rc == 0) {
            unlink(path);
        }
        return -1;
    }

    if (evhttp_accept_socket_with_handle(api->http, fd) == NULL) {
        snprintf(err, errlen, "api_listen unix:%s: cannot accept on it",
                 path);
        close(fd);
        unlink(path);
        return -1;
    }

    api->unix_path = strdup(path);

    return 0;
}


static int
wachat_api_listen(wachat_api_t *api, const wachat_addr_t *a, char *err,
    size_t errlen)
{
    if (a->path) {
        return wachat_api_listen_unix(api, a->path, err, errlen);
    }

    if (wachat_api_loopback(a->host, err, errlen) != 0) {
        return -1;
    }

    if (evhttp_bind_socket_with_handle(api->http, a->host,
                                       (ev_uint16_t) a->port) == NULL)
    {
        snprintf(err, errlen, "api_listen %s:%d: cannot listen: %s", a->host,
                 a->port, errno ? strerror(errno) : "address in use?");
        return -1;
    }

    return 0;
}


static char *
wachat_api_listen_spec(const wachat_addr_t *a)
{
    char  buf[1024];

    if (a->path) {
        snprintf(buf, sizeof(buf), "unix:%s", a->path);

    } else if (a->host) {
        snprintf(buf, sizeof(buf), strchr(a->host, ':') ? "[%s]:%d"
                                                        : "%s:%d",
                 a->host, a->port);

    } else {
        buf[0] = '\0';
    }

    return strdup(buf);
}


static int
wachat_api_copy_addr(wachat_redis_addr_t *dst, const wachat_redis_addr_t *src)
{
    return wachat_redis_addr_copy(dst, src);
}


wachat_api_t *
wachat_api_start(struct event_base *base, wachat_redis_t *st,
    const wachat_redis_addr_t *redis, const wachat_config_t *cfg,
    wachat_api_kick_pt kick, void *data, char *err, size_t errlen)
{
    wachat_api_t  *api;

    err[0] = '\0';

    if (cfg->api_listen.host == NULL && cfg->api_listen.path == NULL) {
        return NULL;
    }

    api = calloc(1, sizeof(wachat_api_t));
    if (api == NULL) {
        snprintf(err, errlen, "api: out of memory");
        return NULL;
    }

    api->base = base;
    api->st = st;
    api->cfg = cfg;
    api->kick = kick;
    api->data = data;

    api->listen = wachat_api_listen_spec(&cfg->api_listen);
    api->http = evhttp_new(base);
    api->keepalive = event_new(base, -1, EV_PERSIST, wachat_api_on_keepalive,
                               api);

    if (wachat_api_copy_addr(&api->addr, redis) != 0 || api->listen == NULL
        || api->http == NULL || api->keepalive == NULL
        || wachat_api_feed_init(api) != 0)
    {
        snprintf(err, errlen, "api: out of memory");
        wachat_api_free(api);
        return NULL;
    }

    evhttp_set_gencb(api->http, wachat_api_on_request, api);
    evhttp_set_allowed_methods(api->http, WACHAT_API_METHODS);
    evhttp_set_max_body_size(api->http, WACHAT_API_HARD_MAX);
    evhttp_set_max_headers_size(api->http, WACHAT_API_HEADERS_MAX);
    evhttp_set_timeout(api->http, WACHAT_API_TIMEOUT_S);

    if (wachat_api_listen(api, &cfg->api_listen, err, errlen) != 0) {
        wachat_api_free(api);
        return NULL;
    }

    wachat_api_arm(api->keepalive, WACHAT_API_KEEPALIVE_S * 1000);

    wachat_log(WACHAT_LOG_NOTICE, "api: agent API on %s (%zu agents)",
               api->listen, cfg->agents.n);

    return api;
}


void
wachat_api_set_vectors(wachat_api_t *api, wachat_api_vectors_pt fn,
    void *data)
{
    if (api) {
        api->vectors = fn;
        api->vectors_data = data;
    }
}


void
wachat_api_set_kb(wachat_api_t *api, const wachat_kb_t *kb,
    wachat_api_reload_pt reload, void *data)
{
    if (api) {
        api->kb = kb;
        api->reload = reload;
        api->reload_data = data;
    }
}


void
wachat_api_set_refresh(wachat_api_t *api, void (*refresh)(void *data),
    void *data)
{
    if (api) {
        api->refresh = refresh;
        api->refresh_data = data;
    }
}


void
wachat_api_set_media(wachat_api_t *api, wachat_media_store_t *media)
{
    if (api) {
        api->media = media;
    }
}


void
wachat_api_set_metrics(wachat_api_t *api, wachat_api_metrics_pt fn,
    void *data)
{
    if (api) {
        api->metrics = fn;
        api->metrics_data = data;
    }
}


void
wachat_api_reload(wachat_api_t *api, const wachat_config_t *cfg)
{
    char  *spec;

    if (api == NULL) {
        if (cfg->api_listen.host || cfg->api_listen.path) {
            wachat_log(WACHAT_LOG_WARNING, "reload: api_listen takes effect "
                       "at the next restart");
        }
        return;
    }

    spec = wachat_api_listen_spec(&cfg->api_listen);

    if (spec == NULL || strcmp(spec, api->listen) != 0) {
        wachat_log(WACHAT_LOG_WARNING, "reload: api_listen changes take "
                   "effect at the next restart; the API stays on %s",
                   api->listen);
    }

    free(spec);

    /* agents added or removed count from the next request on */
    api->cfg = cfg;
}


int
wachat_api_reauth(wachat_api_t *api, const wachat_redis_addr_t *addr)
{
    int  rc;

    if (api == NULL) {
        return 0;
    }

    rc = wachat_redis_addr_credentials(&api->addr, addr);

    if (rc > 0) {
        wachat_redis_link_renew(&api->feed);
    }

    return rc < 0 ? -1 : 0;
}


void
wachat_api_free(wachat_api_t *api)
{
    if (api == NULL) {
        return;
    }

    wachat_api_events_close(api);

    if (api->keepalive) {
        event_free(api->keepalive);
    }

    if (api->http) {
        evhttp_free(api->http);
    }

    if (api->unix_path) {
        unlink(api->unix_path);
        free(api->unix_path);
    }

    if (api->addr.password) {
        memset(api->addr.password, 0, strlen(api->addr.password));
    }

    wachat_redis_addr_free(&api->addr);
    free(api->listen);
    free(api);
}
