/*
 * The config's addresses: host:port, [v6]:port or unix:/path, as a type
 * (api_listen and the like), parsed and written back.
 */

#include <stdlib.h>
#include <string.h>

#include "lib/config_int.h"


/* addr: host:port, [v6]:port or unix:/path; "" leaves it unset */

static void
wachat_conf_addr_free(void *field)
{
    wachat_addr_t  *addr;

    addr = field;
    free(addr->host);
    free(addr->path);
    memset(addr, 0, sizeof(wachat_addr_t));
}


static int
wachat_conf_addr_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    void *field, int argc, char **argv)
{
    char           show[WACHAT_CONF_SHOW_SIZE], *path;
    wachat_addr_t  addr;

    (void) argc;

    memset(&addr, 0, sizeof(addr));

    if (argv[0][0] != '\0' && wachat_conf_parse_addr(argv[0], &addr) != 0) {
        wachat_conf_why(ctx, "%s: %s is not host:port or unix:/path",
                        e->name, wachat_conf_show(argv[0], show,
                                                  sizeof(show)));
        return -1;
    }

    /* unix:api.sock sits beside the config, as every relative path */
    if (addr.path != NULL) {
        path = wachat_conf_path(ctx, addr.path);
        if (path == NULL) {
            wachat_conf_addr_free(&addr);
            wachat_conf_why(ctx, "out of memory");
            return -1;
        }

        free(addr.path);
        addr.path = path;
    }

    wachat_conf_addr_free(field);
    *(wachat_addr_t *) field = addr;

    return 0;
}


static void
wachat_conf_addr_dump(const wachat_conf_entry_t *e, const void *field,
    FILE *out)
{
    char  buf[256];

    wachat_conf_fmt_addr(field, buf, sizeof(buf));
    wachat_conf_put_key(out, e->name);
    wachat_conf_put_value(out, buf);
    fputc('\n', out);
}


static void
wachat_conf_addr_doc(const wachat_conf_entry_t *e, char *buf, size_t size)
{
    (void) e;

    snprintf(buf, size, "address");
}


const wachat_conf_type_t  wachat_conf_addr_type = {
    wachat_conf_addr_set, wachat_conf_addr_dump, wachat_conf_addr_free,
    wachat_conf_addr_doc, 0
};


/* "unix:/path", "host:port" or "[v6]:port"; fills addr only on success */
int
wachat_conf_parse_addr(const char *v, wachat_addr_t *addr)
{
    char        *host, *path;
    size_t       hlen;
    long long    port;
    const char  *colon, *h;

    if (strncmp(v, "unix:", 5) == 0) {
        if (v[5] == '\0') {
            return -1;
        }

        path = wachat_conf_strdup(v + 5);
        if (path == NULL) {
            return -1;
        }

        addr->host = NULL;
        addr->port = 0;
        addr->path = path;
        return 0;
    }

    if (v[0] == '[') {
        colon = strstr(v, "]:");
        if (colon == NULL) {
            return -1;
        }

        h = v + 1;
        hlen = (size_t) (colon - h);
        colon++;

        if (memchr(h, ']', hlen) != NULL) {
            return -1;
        }

    } else {
        colon = strrchr(v, ':');
        if (colon == NULL) {
            return -1;
        }

        h = v;
        hlen = (size_t) (colon - v);

        /* a bare IPv6 address is ambiguous: ask for brackets */
        if (memchr(h, ':', hlen) != NULL) {
            return -1;
        }
    }

    if (hlen == 0 || strcspn(h, " \t/[") < hlen) {
        return -1;
    }

    if (strspn(colon + 1, "0123456789") != strlen(colon + 1)
        || wachat_conf_parse_int(colon + 1, &port) != 0
        || port < 1 || port > 65535)
    {
        return -1;
    }

    host = malloc(hlen + 1);
    if (host == NULL) {
        return -1;
    }

    memcpy(host, h, hlen);
    host[hlen] = '\0';

    addr->host = host;
    addr->port = (int) port;
    addr->path = NULL;

    return 0;
}


/* formatting, as the file would write it */

void
wachat_conf_fmt_addr(const wachat_addr_t *a, char *buf, size_t size)
{
    if (a->path != NULL) {
        snprintf(buf, size, "unix:%s", a->path);

    } else if (a->host == NULL) {
        buf[0] = '\0';

    } else if (strchr(a->host, ':') != NULL) {
        snprintf(buf, size, "[%s]:%d", a->host, a->port);

    } else {
        snprintf(buf, size, "%s:%d", a->host, a->port);
    }
}
