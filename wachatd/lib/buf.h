/*
 * buf: wachatd's one growable byte buffer.
 *
 * Appends never fail on the spot: running out of memory sets oom and makes
 * further appends no-ops, so a builder checks once, at the end.  The bytes
 * are always NUL-terminated (p may be NULL while nothing was added).
 */

#ifndef WACHAT_BUF_H
#define WACHAT_BUF_H

#include <stddef.h>

#if defined(__GNUC__)
#define WACHAT_BUF_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#else
#define WACHAT_BUF_PRINTF(f, a)
#endif


typedef struct {
    char    *p;
    size_t   len;
    size_t   cap;
    int      oom;
} wachat_buf_t;


#define WACHAT_BUF_INIT  { NULL, 0, 0, 0 }


/* room for more bytes (and the NUL); 0, or -1 and oom set */
int wachat_buf_reserve(wachat_buf_t *b, size_t more);

void wachat_buf_add(wachat_buf_t *b, const void *s, size_t n);
void wachat_buf_str(wachat_buf_t *b, const char *s);
void wachat_buf_char(wachat_buf_t *b, char c);
void wachat_buf_fmt(wachat_buf_t *b, const char *fmt, ...)
    WACHAT_BUF_PRINTF(2, 3);

/* the UTC time of ms (Unix epoch) as strftime() writes it; "?" if it cannot */
void wachat_buf_time(wachat_buf_t *b, long long ms, const char *fmt);
/* the same in the process's time zone (TZ: the config's timezone) */
void wachat_buf_localtime(wachat_buf_t *b, long long ms, const char *fmt);

/* keeps the memory, forgets the bytes and a past oom */
void wachat_buf_reset(wachat_buf_t *b);

/* hands the bytes over (the caller frees them); NULL after an oom */
char *wachat_buf_detach(wachat_buf_t *b, size_t *len);

void wachat_buf_free(wachat_buf_t *b);


#endif /* WACHAT_BUF_H */
