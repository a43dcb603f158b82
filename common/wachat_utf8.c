/*
 * wachat_utf8: one decoder, and the checks and cuts built on it.
 */

#include <string.h>

#include "wachat_utf8.h"


size_t
wachat_utf8_decode(const char *p, size_t len, uint32_t *cp)
{
    size_t                n, i;
    uint32_t              c;
    const unsigned char  *s = (const unsigned char *) p;

    if (len == 0) {
        return 0;
    }

    c = s[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }

    if (c < 0xc2) {                 /* a continuation or an overlong lead */
        return 0;
    }

    if (c < 0xe0) {
        n = 2;
        c &= 0x1f;

    } else if (c < 0xf0) {
        n = 3;
        c &= 0x0f;

    } else if (c < 0xf5) {
        n = 4;
        c &= 0x07;

    } else {
        return 0;
    }

    if (len < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }

        c = (c << 6) | (s[i] & 0x3f);
    }

    if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff
        || (c >= 0xd800 && c <= 0xdfff))
    {
        return 0;
    }

    *cp = c;
    return n;
}


size_t
wachat_utf8_encode(uint32_t c, char *out)
{
    unsigned char  *o = (unsigned char *) out;

    if (c < 0x80) {
        o[0] = (unsigned char) c;
        return 1;
    }

    if (c < 0x800) {
        o[0] = (unsigned char) (0xc0 | (c >> 6));
        o[1] = (unsigned char) (0x80 | (c & 0x3f));
        return 2;
    }

    if (c < 0x10000) {
        o[0] = (unsigned char) (0xe0 | (c >> 12));
        o[1] = (unsigned char) (0x80 | ((c >> 6) & 0x3f));
        o[2] = (unsigned char) (0x80 | (c & 0x3f));
        return 3;
    }

    o[0] = (unsigned char) (0xf0 | (c >> 18));
    o[1] = (unsigned char) (0x80 | ((c >> 12) & 0x3f));
    o[2] = (unsigned char) (0x80 | ((c >> 6) & 0x3f));
    o[3] = (unsigned char) (0x80 | (c & 0x3f));
    return 4;
}


/*
 * Webhook bodies are mostly ASCII (Meta escapes the rest), so eight bytes
 * at a time are skipped while none has its high bit set.
 */

size_t
wachat_utf8_check(const char *s, size_t len)
{
    size_t    i, n;
    uint32_t  cp;
    uint64_t  word;

    i = 0;

    while (i < len) {

        if (len - i >= 8) {
            memcpy(&word, s + i, 8);

            if ((word & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }

        if ((unsigned char) s[i] < 0x80) {
            i++;
            continue;
        }

        n = wachat_utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            return i;
        }

        i += n;
    }

    return len;
}


int
wachat_utf8_valid(const char *s, size_t len)
{
    return wachat_utf8_check(s, len) == len;
}


size_t
wachat_utf8_count(const char *s, size_t len)
{
    size_t    i, n, count;
    uint32_t  cp;

    count = 0;

    for (i = 0; i < len; i += n) {
        n = wachat_utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            n = 1;
        }

        count++;
    }

    return count;
}


size_t
wachat_utf8_cut(const char *s, size_t len, size_t max_bytes)
{
    if (len <= max_bytes) {
        return len;
    }

    while (max_bytes > 0 && ((unsigned char) s[max_bytes] & 0xc0) == 0x80) {
        max_bytes--;
    }

    return max_bytes;
}


size_t
wachat_utf8_prefix(const char *s, size_t len, size_t max_chars)
{
    size_t    i, n, count;
    uint32_t  cp;

    count = 0;

    for (i = 0; i < len && count < max_chars; i += n) {
        n = wachat_utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            n = 1;
        }

        count++;
    }

    return i;
}
