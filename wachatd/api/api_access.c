/*
 * api_access: who may call the agent API, decided before any handler runs.
 *
 * wachatd believes the X-Wachat-Agent header, so a request must show that
 * it comes from the nginx that authenticated the agent:
 *
 *   - Host names this API (its api_listen address, or localhost): a page
 *     whose name was rebound to 127.0.0.1 sends its own name (421);
 *   - X-Wachat-Proxy-Secret is api_secret, compared in constant time: any
 *     other local user can reach a loopback port, not read the file (403);
 *   - a request that changes something is JSON (415) from the console's
 *     own origin (403): a page of another site can make an agent's browser
 *     send a form, never that.
 */

#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <openssl/crypto.h>

#include "api/api_int.h"
#include "lib/log.h"


#define WACHAT_API_SECRET_HEADER  "X-Wachat-Proxy-Secret"


/* the host name of a Host header or of an Origin's authority, no port */
static size_t
wachat_api_hostname(const char *s, const char **start)
{
    size_t  n;

    *start = s;

    if (*s == '[') {                        /* [v6]:port */
        n = strcspn(s, "]");
        return s[n] == ']' ? n + 1 : 0;
    }

    return strcspn(s, ":/");
}


/* "localhost", 127.0.0.0/8, [::1], or the name api_listen gives */
static int
wachat_api_local_name(const char *name, size_t len, const char *listen)
{
    char             buf[64];
    struct in_addr   in4;
    struct in6_addr  in6;

    if (len == 0 || len >= sizeof(buf)) {
        return 0;
    }

    if (listen && strlen(listen) == len && strncasecmp(name, listen, len) == 0)
    {
        return 1;
    }

    memcpy(buf, name, len);
    buf[len] = '\0';

    if (strcasecmp(buf, "localhost") == 0) {
        return 1;
    }

    if (inet_pton(AF_INET, buf, &in4) == 1) {
        return (ntohl(in4.s_addr) >> 24) == 127;
    }

    if (buf[0] == '[' && buf[len - 1] == ']') {
        buf[len - 1] = '\0';

        if (listen && strcasecmp(buf + 1, listen) == 0) {
            return 1;
        }

        return inet_pton(AF_INET6, buf + 1, &in6) == 1
               && IN6_IS_ADDR_LOOPBACK(&in6);
    }

    return 0;
}


/*
 * nginx's proxy_pass sends the upstream's own address as Host (for a unix
 * socket, "localhost"); a browser led here by a rebound DNS name sends
 * that name.  On a TCP listener the port must be ours too.
 */

static int
wachat_api_host_ok(wachat_api_req_t *r, const char *host)
{
    long                  port;
    char                 *end;
    size_t                n;
    const char           *name;
    const wachat_addr_t  *a;

    a = &r->api->cfg->api_listen;

    if (host == NULL) {
        return a->path != NULL;             /* HTTP/1.0 on the socket */
    }

    n = wachat_api_hostname(host, &name);

    if (!wachat_api_local_name(name, n, a->host)) {
        return 0;
    }

    if (a->path) {
        return 1;
    }

    if (host[n] != ':') {
        return a->port == 80;
    }

    port = strtol(host + n + 1, &end, 10);

    return *end == '\0' && port == a->port;
}


/* "Bearer <secret>", the way Prometheus sends a credentials_file */
static const char *
wachat_api_bearer(struct evkeyvalq *in)
{
    const char  *v;

    v = evhttp_find_header(in, "Authorization");

    if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0) {
        return NULL;
    }

    return v + 7;
}


static int
wachat_api_secret_ok(const char *secret, const char *given)
{
    size_t  n;

    n = strlen(secret);

    /* the length is no secret; the bytes are compared in constant time */
    return given != NULL && strlen(given) == n
           && CRYPTO_memcmp(secret, given, n) == 0;
}


/*
 * A page of another site can make a logged-in agent's browser send a
 * form (its Basic credentials ride along), never a request with a JSON
 * body nor one whose Origin is ours.  Origin's host must be the one the
 * agent reached: X-Forwarded-Host as nginx sets it (Host names wachatd
 * itself), else Host.  Without Origin, Sec-Fetch-Site must say
 * same-origin or none.  Clients that send neither (curl, wachatctl
 * through nginx) are let through: they are not a browser on another site.
 */

static int
wachat_api_forgeable(wachat_api_req_t *r, struct evkeyvalq *in)
{
    size_t       hlen, olen;
    const char  *type, *origin, *site, *host, *h, *o;

    type = evhttp_find_header(in, "Content-Type");

    /* a file's bytes: a type no form can send either (api_media.c) */
    if (type && wachat_api_is_file(r->path)
        && strcasecmp(type, "application/octet-stream") == 0)
    {
        type = "application/json";
    }

    if (type == NULL
        || strncasecmp(type, "application/json", 16) != 0
        || (type[16] != '\0' && type[16] != ';' && type[16] != ' '))
    {
        wachat_api_error(r, 415, "unsupported_media_type", "a request that "
                         "changes something must be JSON (Content-Type: "
                         "application/json)");
        return -1;
    }

    origin = evhttp_find_header(in, "Origin");
    site = evhttp_find_header(in, "Sec-Fetch-Site");
    host = evhttp_find_header(in, "X-Forwarded-Host");

    if (host == NULL) {
        host = evhttp_find_header(in, "Host");
    }

    if (origin) {
        o = strstr(origin, "://");
        olen = o ? wachat_api_hostname(o + 3, &o) : 0;
        hlen = host ? wachat_api_hostname(host, &h) : 0;

        if (olen && olen == hlen && strncasecmp(o, h, olen) == 0) {
            return 0;
        }

    } else if (site == NULL || strcmp(site, "same-origin") == 0
               || strcmp(site, "none") == 0)
    {
        return 0;
    }

    wachat_api_error(r, 403, "cross_origin", "a request from another site "
                     "is refused: the console sends its own origin");
    return -1;
}


int
wachat_api_access(wachat_api_req_t *r, enum evhttp_cmd_type method,
    int metrics)
{
    char                     *peer;
    ev_uint16_t               port;
    const char               *secret, *given;
    struct evkeyvalq         *in;
    struct evhttp_connection *c;

    in = evhttp_request_get_input_headers(r->req);

    if (!wachat_api_host_ok(r, evhttp_find_header(in, "Host"))) {
        wachat_api_error(r, 421, "wrong_host", "Host must name this API's "
                         "own address (api_listen): requests come through "
                         "nginx's proxy_pass, which sends it");
        return -1;
    }

    secret = r->api->cfg->api_secret.value;

    if (secret) {
        given = evhttp_find_header(in, WACHAT_API_SECRET_HEADER);

        if (given == NULL && metrics) {
            given = wachat_api_bearer(in);
        }

        if (!wachat_api_secret_ok(secret, given)) {
            peer = NULL;
            port = 0;
            c = evhttp_request_get_connection(r->req);

            if (c) {
                evhttp_connection_get_peer(c, &peer, &port);
            }

            wachat_log(WACHAT_LOG_WARNING, "api: %s %.300s from %s:%d "
                       "refused: %s", r->method, r->path,
                       peer ? peer : "?", (int) port,
                       given ? "wrong " WACHAT_API_SECRET_HEADER
                             : "no " WACHAT_API_SECRET_HEADER);

            wachat_api_error(r, 403, "not_through_nginx", "the agent API "
                             "answers nginx only: "
                             WACHAT_API_SECRET_HEADER " is missing or "
                             "wrong (nginx's wachat_api_secret_file and "
                             "wachatd's api_secret_file name one secret)");
            return -1;
        }
    }

    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD && !metrics) {
        return wachat_api_forgeable(r, in);
    }

    return 0;
}
