/*
 * Memory and files for the config: strings copied, paths made absolute
 * against the config's directory, secrets wiped, files read.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config_int.h"


char *
wachat_conf_strdup(const char *s)
{
    char    *p;
    size_t   len;

    len = strlen(s);
    p = malloc(len + 1);

    if (p != NULL) {
        memcpy(p, s, len + 1);
    }

    return p;
}


char *
wachat_conf_path(wachat_conf_ctx_t *ctx, const char *v)
{
    char    *p;
    size_t   dlen, vlen;

    if (v[0] == '/' || v[0] == '\0' || ctx->dir == NULL) {
        return wachat_conf_strdup(v);
    }

    while (v[0] == '.' && v[1] == '/') {
        v += 2;
    }

    dlen = strlen(ctx->dir);
    vlen = strlen(v);

    if (dlen > 0 && ctx->dir[dlen - 1] == '/') {
        dlen--;
    }

    p = malloc(dlen + 1 + vlen + 1);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, ctx->dir, dlen);
    p[dlen] = '/';
    memcpy(p + dlen + 1, v, vlen + 1);

    return p;
}


/* volatile: the compiler must not drop a store to memory about to die */
void
wachat_conf_wipe(char *s, size_t len)
{
    size_t          i;
    volatile char  *p;

    p = s;

    for (i = 0; i < len; i++) {
        p[i] = '\0';
    }
}


ssize_t
wachat_conf_read(int fd, char *buf, size_t size)
{
    size_t   len;
    ssize_t  n;

    len = 0;

    while (len < size) {
        n = read(fd, buf + len, size - len);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n == -1) {
            return -1;
        }

        if (n == 0) {
            break;
        }

        len += (size_t) n;
    }

    return (ssize_t) len;
}
