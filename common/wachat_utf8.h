/*
 * wachat_utf8: the project's one UTF-8 decoder and validator (RFC 3629:
 * no overlong forms, no UTF-16 surrogates, nothing above U+10FFFF).
 *
 * Plain C, used by the nginx module and by wachatd alike.
 */

#ifndef WACHAT_UTF8_H
#define WACHAT_UTF8_H

#include <stddef.h>
#include <stdint.h>


#define WACHAT_UTF8_MAX  4      /* bytes of one code point */


/*
 * Decodes the code point at s[0..len): its length in bytes (1-4), or 0 when
 * the bytes there are not a whole, valid UTF-8 sequence (or len is 0).
 */
size_t wachat_utf8_decode(const char *s, size_t len, uint32_t *cp);

/* writes cp (at most U+10FFFF) to out, WACHAT_UTF8_MAX bytes room; length */
size_t wachat_utf8_encode(uint32_t cp, char *out);

/* the offset of the first byte that is not valid UTF-8, or len */
size_t wachat_utf8_check(const char *s, size_t len);

/* 1 when all of s[0..len) is valid UTF-8 */
int wachat_utf8_valid(const char *s, size_t len);

/* code points in s[0..len); an invalid byte counts as one */
size_t wachat_utf8_count(const char *s, size_t len);

/*
 * The length of the longest prefix of s[0..len) that is at most max_bytes
 * long and does not split a character.
 */
size_t wachat_utf8_cut(const char *s, size_t len, size_t max_bytes);

/* the same, at most max_chars code points (an invalid byte counts as one) */
size_t wachat_utf8_prefix(const char *s, size_t len, size_t max_chars);


#endif /* WACHAT_UTF8_H */
