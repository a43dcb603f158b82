/*
 * The hosts a text names, as a browser or WhatsApp would read them: links
 * with a scheme, bare domains, IPv4 addresses, IDNA dots; and whether the
 * guard allows a host.
 */

#include <stdlib.h>
#include <string.h>

#include "answer/guard_int.h"
#include "wachat_utf8.h"


static int
wachat_guard_label_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_';
}


/*
 * Browsers (IDNA) read "。", "．" and "｡" in a host as dots: so do we, or
 * "evil。example" would slip through.  Their length in bytes, or 0.
 */
static size_t
wachat_guard_dot(const char *s, size_t len)
{
    if (len >= 3
        && (memcmp(s, "\xe3\x80\x82", 3) == 0
            || memcmp(s, "\xef\xbc\x8e", 3) == 0
            || memcmp(s, "\xef\xbd\xa1", 3) == 0))
    {
        return 3;
    }

    return (len >= 1 && s[0] == '.') ? 1 : 0;
}


void
wachat_guard_lower(char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z') {
            s[i] = (char) (s[i] - 'A' + 'a');
        }
    }
}


/* a trailing dot and a leading "www." do not make another host */
int
wachat_guard_emit(const char *h, size_t len, wachat_guard_host_pt cb,
    void *ctx)
{
    char  buf[WACHAT_GUARD_HOST_MAX + 1];

    if (len > WACHAT_GUARD_HOST_MAX) {
        len = WACHAT_GUARD_HOST_MAX;
    }

    memcpy(buf, h, len);
    wachat_guard_lower(buf, len);

    while (len > 0 && buf[len - 1] == '.') {
        len--;
    }

    if (len > 4 && memcmp(buf, "www.", 4) == 0
        && memchr(buf + 4, '.', len - 4))
    {
        memmove(buf, buf + 4, len - 4);
        len -= 4;
    }

    if (len == 0) {
        return 0;
    }

    buf[len] = '\0';

    return cb(ctx, buf, len);
}


/* letters only, 2-63 of them, or punycode ("xn--..."): a top-level domain */
static int
wachat_guard_tld(const char *s, size_t len)
{
    size_t  i;

    if (len >= 5 && memcmp(s, "xn--", 4) == 0) {
        return 1;
    }

    if (len < 2 || len > 63) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) {
            return 0;
        }
    }

    return 1;
}


/* 1.2.3.4, each part 0..255 */
static int
wachat_guard_ipv4(const char *s, size_t len)
{
    size_t  i, parts, digits;
    int     v;

    parts = 0;
    digits = 0;
    v = 0;

    for (i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (digits == 0 || digits > 3 || v > 255) {
                return 0;
            }

            parts++;
            digits = 0;
            v = 0;
            continue;
        }

        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }

        v = v * 10 + (s[i] - '0');
        digits++;
    }

    return parts == 4;
}


/* two labels or more, none empty, a top-level domain last */
static int
wachat_guard_domain(const char *s, size_t len)
{
    size_t  i, start, labels;

    labels = 0;
    start = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            continue;
        }

        if (i == start) {
            return 0;
        }

        labels++;

        if (i == len) {
            return labels >= 2 && wachat_guard_tld(s + start, i - start);
        }

        start = i + 1;
    }

    return 0;
}


/*
 * A run of label characters and dots (dots made '.'), cut at "..", each
 * piece's ends trimmed of dots, hyphens and underscores: a piece that is a
 * domain or an IPv4 address is a host.
 */
static int
wachat_guard_run(const char *s, size_t len, wachat_guard_host_pt cb,
    void *ctx)
{
    int     rc;
    size_t  i, a, b;

    i = 0;

    while (i < len) {
        a = i;
        while (i < len && !(s[i] == '.' && i + 1 < len && s[i + 1] == '.')) {
            i++;
        }

        b = i;
        while (i < len && s[i] == '.') {
            i++;
        }

        while (a < b && !wachat_guard_label_char((unsigned char) s[a])) {
            a++;
        }

        while (b > a && !wachat_guard_label_char((unsigned char) s[b - 1])) {
            b--;
        }

        if (b > a && (wachat_guard_domain(s + a, b - a)
                      || wachat_guard_ipv4(s + a, b - a)))
        {
            rc = wachat_guard_emit(s + a, b - a, cb, ctx);
            if (rc != 0) {
                return rc;
            }
        }
    }

    return 0;
}


/*
 * After "scheme://": the authority's host, whatever its shape, so that
 * http://intranet/ and http://[::1]/ are hosts too.  Its end is the first
 * byte no authority has.
 */
static int
wachat_guard_authority(const char *s, size_t len, wachat_guard_host_pt cb,
    void *ctx)
{
    size_t       i, end;
    const char  *h;

    for (end = 0; end < len; end++) {
        if (strchr("/?#\\ \t\r\n<>\"'`|{}", s[end])
            || (unsigned char) s[end] >= 0x80)
        {
            break;
        }
    }

    h = s;
    for (i = 0; i < end; i++) {
        if (s[i] == '@') {
            h = s + i + 1;          /* user:pass@ is not the host */
        }
    }

    end -= (size_t) (h - s);
    i = 0;

    if (end > 0 && h[0] == '[') {
        while (i < end && h[i] != ']') {
            i++;
        }

        end = i < end ? i + 1 : end;

    } else {
        while (i < end && h[i] != ':') {
            i++;
        }

        end = i;
    }

    return wachat_guard_emit(h, end, cb, ctx);
}


int
wachat_guard_hosts(const char *text, size_t len, wachat_guard_host_pt cb,
    void *ctx)
{
    int     rc, dot;
    char    run[WACHAT_GUARD_HOST_MAX + 1];
    size_t  i, n, d;

    n = 0;
    dot = 0;

    for (i = 0; i <= len; /* void */) {
        d = i < len ? wachat_guard_dot(text + i, len - i) : 0;

        if (i < len && (d || wachat_guard_label_char((unsigned char) text[i])))
        {
            if (n < WACHAT_GUARD_HOST_MAX) {
                run[n++] = d ? '.' : text[i];
            }

            dot |= d != 0;
            i += d ? d : 1;
            continue;
        }

        /*
         * A run longer than any host, with a dot, is reported cut; one
         * before "@" is an e-mail's local part, not a host.
         */
        if (n == WACHAT_GUARD_HOST_MAX && dot) {
            rc = wachat_guard_emit(run, n, cb, ctx);

        } else if (i < len && text[i] == '@') {
            rc = 0;

        } else {
            rc = wachat_guard_run(run, n, cb, ctx);
        }

        if (rc != 0) {
            return rc;
        }

        if (n > 0 && len - i >= 3 && memcmp(text + i, "://", 3) == 0) {
            rc = wachat_guard_authority(text + i + 3, len - i - 3, cb, ctx);
            if (rc != 0) {
                return rc;
            }
        }

        n = 0;
        dot = 0;
        i++;
    }

    return 0;
}


int
wachat_guard_allowed(const wachat_guard_t *g, const char *host, size_t len)
{
    size_t        i, sl;
    const char   *key;
    char          buf[WACHAT_GUARD_HOST_MAX + 1];

    if (!g->links) {
        return 1;
    }

    if (len > WACHAT_GUARD_HOST_MAX) {
        return 0;
    }

    memcpy(buf, host, len);
    buf[len] = '\0';
    key = buf;

    if (bsearch(&key, g->hosts.v, g->hosts.n, sizeof(char *),
                wachat_guard_cmp_str))
    {
        return 1;
    }

    for (i = 0; i < g->suffixes.n; i++) {
        sl = strlen(g->suffixes.v[i]);

        if (len == sl && memcmp(buf, g->suffixes.v[i], sl) == 0) {
            return 1;
        }

        if (len > sl && buf[len - sl - 1] == '.'
            && memcmp(buf + len - sl, g->suffixes.v[i], sl) == 0)
        {
            return 1;
        }
    }

    return 0;
}
