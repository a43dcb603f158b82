/*
 * The config's messages: a value quoted back, a key's reason (ctx->why),
 * and the "file:line: ..." error the caller gets.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wachat_utf8.h"

#include "lib/config_int.h"


const char *
wachat_conf_show(const char *v, char *buf, size_t size)
{
    size_t         i, n, len;
    unsigned char  c;

    len = strlen(v);
    n = 0;
    buf[n++] = '"';

    for (i = 0; i < len && n + 8 < size; i++) {
        c = (unsigned char) v[i];

        /* cut at a character's first byte, never inside it */
        if (i >= WACHAT_CONF_SHOW_MAX && (c & 0xc0) != 0x80) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }

        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char) c;

        } else if (c < 0x20 || c == 0x7f) {
            n += (size_t) snprintf(buf + n, size - n, "\\x%02x", c);

        } else {
            buf[n++] = (char) c;
        }
    }

    buf[n++] = '"';
    buf[n] = '\0';

    return buf;
}


void
wachat_conf_why(wachat_conf_ctx_t *ctx, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(ctx->why, sizeof(ctx->why), fmt, args);
    va_end(args);
}


void
wachat_conf_error(char *err, size_t errlen, const char *file, int line,
    const char *fmt, ...)
{
    int      n;
    va_list  args;

    if (errlen == 0) {
        return;
    }

    if (line > 0) {
        n = snprintf(err, errlen, "%s:%d: ", file, line);
    } else {
        n = snprintf(err, errlen, "%s: ", file);
    }

    if (n < 0 || (size_t) n >= errlen) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(err + n, errlen - (size_t) n, fmt, args);
    va_end(args);
}
