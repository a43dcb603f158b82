
/*
 * Escaping for error_log: a Host header, a Redis error text (which may carry
 * a Lua error, and so request data) must not be able to end a log line, nor
 * write text that reads as an escape or as the end of its quotes.  Every
 * backslash in the result starts an escape, so a reader can undo them all,
 * one way only: the bytes "\n" of a value are logged as \\n, a newline as
 * \n.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_wachat_log.h"
#include "wachat_utf8.h"


#define NGX_HTTP_WACHAT_LOG_ESCAPE_MAX  6       /* \uNNNN */


static size_t ngx_http_wachat_log_escape(u_char *dst, u_char *src, size_t len,
    size_t *used);


u_char *
ngx_http_wachat_log_quote(u_char *buf, size_t size, u_char *src, size_t len)
{
    u_char  *p, *last;
    size_t   i, k, n;
    u_char   esc[NGX_HTTP_WACHAT_LOG_ESCAPE_MAX];

    /* the closing quote and a "..." after it always fit */
    last = buf + size - 4;

    p = buf;
    *p++ = '"';

    for (i = 0; i < len; i += k) {
        n = ngx_http_wachat_log_escape(esc, src + i, len - i, &k);

        if (n == 0) {
            /* a valid character that needs no escape: as it is */
            n = k;

            if ((size_t) (last - p) < n) {
                break;
            }

            p = ngx_cpymem(p, src + i, n);
            continue;
        }

        if ((size_t) (last - p) < n) {
            break;
        }

        p = ngx_cpymem(p, esc, n);
    }

    *p++ = '"';

    if (i < len) {
        p = ngx_cpymem(p, "...", 3);
    }

    return p;
}


/*
 * The escape of the character at src[0]: its length in dst (0 when the
 * character goes through as it is), and in *used the bytes of src it
 * stands for.
 */

static size_t
ngx_http_wachat_log_escape(u_char *dst, u_char *src, size_t len, size_t *used)
{
    u_char          c;
    size_t          k;
    uint32_t        cp;
    static u_char   hex[] = "0123456789abcdef";

    c = src[0];
    *used = 1;

    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
        return 0;
    }

    switch (c) {

    case '\\':
    case '"':
        dst[0] = '\\';
        dst[1] = c;
        return 2;

    case '\n':
        dst[0] = '\\';
        dst[1] = 'n';
        return 2;

    case '\r':
        dst[0] = '\\';
        dst[1] = 'r';
        return 2;

    case '\t':
        dst[0] = '\\';
        dst[1] = 't';
        return 2;
    }

    k = c < 0x80 ? 0 : wachat_utf8_decode((const char *) src, len, &cp);

    if (k == 0) {
        /* C0, DEL, or a byte that does not start a valid UTF-8 sequence */
        dst[0] = '\\';
        dst[1] = 'x';
        dst[2] = hex[c >> 4];
        dst[3] = hex[c & 0x0f];
        return 4;
    }

    *used = k;

    if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029) {
        /* C1 controls (NEL) and the Unicode line and paragraph separators */
        dst[0] = '\\';
        dst[1] = 'u';
        dst[2] = hex[(cp >> 12) & 0x0f];
        dst[3] = hex[(cp >> 8) & 0x0f];
        dst[4] = hex[(cp >> 4) & 0x0f];
        dst[5] = hex[cp & 0x0f];
        return 6;
    }

    return 0;
}
