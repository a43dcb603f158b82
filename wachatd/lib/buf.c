/*
 * buf: the growable buffer (see buf.h for the oom rule).
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"


int
wachat_buf_reserve(wachat_buf_t *b, size_t more)
{
    char    *p;
    size_t   cap;

    if (b->oom) {
        return -1;
    }

    if (more < b->cap - b->len) {
        return 0;
    }

    cap = b->cap ? b->cap : 256;

    while (cap - b->len <= more) {
        if (cap > ((size_t) -1) / 2) {
            b->oom = 1;
            return -1;
        }

        cap *= 2;
    }

    p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }

    b->p = p;
    b->cap = cap;

    return 0;
}


void
wachat_buf_add(wachat_buf_t *b, const void *s, size_t n)
{
    if (wachat_buf_reserve(b, n) != 0) {
        return;
    }

    if (n) {
        memcpy(b->p + b->len, s, n);
    }

    b->len += n;
    b->p[b->len] = '\0';
}


void
wachat_buf_str(wachat_buf_t *b, const char *s)
{
    wachat_buf_add(b, s, strlen(s));
}


void
wachat_buf_char(wachat_buf_t *b, char c)
{
    wachat_buf_add(b, &c, 1);
}


void
wachat_buf_fmt(wachat_buf_t *b, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);

    if (n < 0) {
        b->oom = 1;
        return;
    }

    if (wachat_buf_reserve(b, (size_t) n) != 0) {
        return;
    }

    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);

    b->len += (size_t) n;
}


static void
wachat_buf_strftime(wachat_buf_t *b, long long ms, const char *fmt,
    int local)
{
    time_t     t;
    struct tm  tm, *ok;
    char       out[64];

    t = (time_t) (ms / 1000);
    ok = local ? localtime_r(&t, &tm) : gmtime_r(&t, &tm);

    if (ok == NULL
        || strftime(out, sizeof(out), fmt, &tm) == 0)
    {
        wachat_buf_str(b, "?");
        return;
    }

    wachat_buf_str(b, out);
}


void
wachat_buf_time(wachat_buf_t *b, long long ms, const char *fmt)
{
    wachat_buf_strftime(b, ms, fmt, 0);
}


void
wachat_buf_localtime(wachat_buf_t *b, long long ms, const char *fmt)
{
    wachat_buf_strftime(b, ms, fmt, 1);
}


void
wachat_buf_reset(wachat_buf_t *b)
{
    b->len = 0;
    b->oom = 0;

    if (b->p) {
        b->p[0] = '\0';
    }
}


char *
wachat_buf_detach(wachat_buf_t *b, size_t *len)
{
    char  *p;

    if (b->oom) {
        wachat_buf_free(b);
        return NULL;
    }

    if (b->p == NULL && wachat_buf_reserve(b, 0) != 0) {
        return NULL;
    }

    b->p[b->len] = '\0';
    p = b->p;

    if (len) {
        *len = b->len;
    }

    b->p = NULL;
    b->len = 0;
    b->cap = 0;

    return p;
}


void
wachat_buf_free(wachat_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->oom = 0;
}
