/*
 * The redis key's type: one server address, or a Redis Sentinel set and
 * the name of the primary they watch, the words nginx's wachat_redis takes:
 *
 *   redis 127.0.0.1:6379
 *   redis sentinel=10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379 master=wachat
 */

#include <stdlib.h>
#include <string.h>

#include "lib/config_int.h"


#define WACHAT_CONF_SENTINELS_MAX  16


static void
wachat_conf_redis_free(void *field)
{
    size_t                i;
    wachat_redis_conf_t  *rc = field;

    free(rc->server.host);
    free(rc->server.path);

    for (i = 0; i < rc->nsentinels; i++) {
        free(rc->sentinels[i].host);
    }

    free(rc->sentinels);
    free(rc->master);
    memset(rc, 0, sizeof(wachat_redis_conf_t));
}


/* host:port,host:port,...: each one an address, no unix socket */
static int
wachat_conf_redis_sentinels(wachat_conf_ctx_t *ctx, const char *list,
    wachat_redis_conf_t *rc)
{
    char          *copy, *one, *save;
    char           show[WACHAT_CONF_SHOW_SIZE];
    wachat_addr_t  addr;

    copy = wachat_conf_strdup(list);
    if (copy == NULL) {
        return -1;
    }

    for (one = strtok_r(copy, ",", &save); one != NULL;
         one = strtok_r(NULL, ",", &save))
    {
        memset(&addr, 0, sizeof(addr));

        if (wachat_conf_parse_addr(one, &addr) != 0 || addr.path != NULL) {
            free(addr.path);
            wachat_conf_why(ctx, "redis: sentinel %s is not host:port",
                            wachat_conf_show(one, show, sizeof(show)));
            free(copy);
            return -1;
        }

        if (rc->nsentinels == WACHAT_CONF_SENTINELS_MAX) {
            free(addr.host);
            wachat_conf_why(ctx, "redis: more than %d sentinels",
                            WACHAT_CONF_SENTINELS_MAX);
            free(copy);
            return -1;
        }

        if (rc->sentinels == NULL) {
            rc->sentinels = calloc(WACHAT_CONF_SENTINELS_MAX,
                                   sizeof(wachat_addr_t));
            if (rc->sentinels == NULL) {
                free(addr.host);
                free(copy);
                return -1;
            }
        }

        rc->sentinels[rc->nsentinels++] = addr;
    }

    free(copy);

    if (rc->nsentinels == 0) {
        wachat_conf_why(ctx, "redis: sentinel= names no sentinel");
        return -1;
    }

    return 0;
}


static int
wachat_conf_redis_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    void *field, int argc, char **argv)
{
    int                  i;
    char                 show[WACHAT_CONF_SHOW_SIZE];
    wachat_redis_conf_t  rc;

    memset(&rc, 0, sizeof(rc));

    if (argc == 0) {
        wachat_conf_why(ctx, "%s: missing value", e->name);
        return -1;
    }

    if (argc == 1 && argv[0][0] == '\0') {
        wachat_conf_why(ctx, "%s: must not be empty", e->name);
        return -1;
    }

    for (i = 0; i < argc; i++) {

        if (i == 0 && strchr(argv[i], '=') == NULL) {
            if (wachat_conf_parse_addr(argv[i], &rc.server) != 0) {
                wachat_conf_why(ctx, "%s: %s is not host:port or "
                                "unix:/path", e->name,
                                wachat_conf_show(argv[i], show,
                                                 sizeof(show)));
                goto failed;
            }

            continue;
        }

        if (strncmp(argv[i], "sentinel=", 9) == 0 && rc.nsentinels == 0) {
            if (wachat_conf_redis_sentinels(ctx, argv[i] + 9, &rc) != 0) {
                goto failed;
            }

            continue;
        }

        if (strncmp(argv[i], "master=", 7) == 0 && argv[i][7] != '\0'
            && rc.master == NULL)
        {
            rc.master = wachat_conf_strdup(argv[i] + 7);
            if (rc.master == NULL) {
                goto failed;
            }

            continue;
        }

        wachat_conf_why(ctx, "%s: unexpected %s (expected one address, or "
                        "sentinel=host:port,... master=name)", e->name,
                        wachat_conf_show(argv[i], show, sizeof(show)));
        goto failed;
    }

    if ((rc.nsentinels != 0) != (rc.master != NULL)) {
        wachat_conf_why(ctx, "%s: sentinel= and master= go together",
                        e->name);
        goto failed;
    }

    if (rc.nsentinels && (rc.server.host || rc.server.path)) {
        wachat_conf_why(ctx, "%s: an address or sentinel=, not both",
                        e->name);
        goto failed;
    }

    wachat_conf_redis_free(field);
    *(wachat_redis_conf_t *) field = rc;

    return 0;

failed:

    wachat_conf_redis_free(&rc);
    return -1;
}


static void
wachat_conf_redis_dump(const wachat_conf_entry_t *e, const void *field,
    FILE *out)
{
    size_t                      i;
    char                        buf[256];
    const wachat_redis_conf_t  *rc = field;

    wachat_conf_put_key(out, e->name);

    if (rc->nsentinels == 0) {
        wachat_conf_fmt_addr(&rc->server, buf, sizeof(buf));
        wachat_conf_put_value(out, buf);
        fputc('\n', out);
        return;
    }

    fputs("sentinel=", out);

    for (i = 0; i < rc->nsentinels; i++) {
        wachat_conf_fmt_addr(&rc->sentinels[i], buf, sizeof(buf));
        fprintf(out, "%s%s", i ? "," : "", buf);
    }

    fputs(" master=", out);
    wachat_conf_put_value(out, rc->master);
    fputc('\n', out);
}


static void
wachat_conf_redis_doc(const wachat_conf_entry_t *e, char *buf, size_t size)
{
    (void) e;

    snprintf(buf, size, "address or sentinels");
}


const wachat_conf_type_t  wachat_conf_redis_type = {
    wachat_conf_redis_set, wachat_conf_redis_dump, wachat_conf_redis_free,
    wachat_conf_redis_doc, WACHAT_CONF_WORDS
};
