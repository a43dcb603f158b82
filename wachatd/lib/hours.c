/*
 * hours: see hours.h.
 */

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/hours.h"


static const char  *wachat_days[] = {
    "sun", "mon", "tue", "wed", "thu", "fri", "sat"
};


typedef struct {
    int  day_from, day_to;          /* 0 Sunday .. 6 Saturday */
    int  min_from, min_to;          /* minutes of the day */
} wachat_hours_range_t;


static int
wachat_hours_day(const char *s)
{
    int  i;

    for (i = 0; i < 7; i++) {
        if (strncasecmp(s, wachat_days[i], 3) == 0) {
            return i;
        }
    }

    return -1;
}


static int
wachat_hours_time(const char *s, int *min)
{
    int  h, m, n;

    if (sscanf(s, "%2d:%2d%n", &h, &m, &n) != 2 || n != 5 || h < 0
        || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0))
    {
        return -1;
    }

    *min = h * 60 + m;

    return 0;
}


/* one "mon-fri 09:00-18:00" of len bytes */
static int
wachat_hours_range(const char *s, size_t len, wachat_hours_range_t *r)
{
    char  buf[64], *sp;

    while (len && *s == ' ') {
        s++;
        len--;
    }

    while (len && s[len - 1] == ' ') {
        len--;
    }

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }

    memcpy(buf, s, len);
    buf[len] = '\0';

    sp = strchr(buf, ' ');

    if (sp == NULL || (sp - buf != 3 && sp - buf != 7)
        || strlen(sp + 1) != 11 || sp[6] != '-')
    {
        return -1;
    }

    r->day_from = wachat_hours_day(buf);
    r->day_to = sp - buf == 7 && buf[3] == '-' ? wachat_hours_day(buf + 4)
                                               : r->day_from;

    if (r->day_from < 0 || r->day_to < 0 || (sp - buf == 7 && buf[3] != '-')
        || wachat_hours_time(sp + 1, &r->min_from) != 0
        || wachat_hours_time(sp + 7, &r->min_to) != 0
        || r->min_from == r->min_to)
    {
        return -1;
    }

    return 0;
}


int
wachat_hours_check(const char *spec, char *err, size_t errlen)
{
    size_t                 n;
    const char            *p;
    wachat_hours_range_t   r;

    for (p = spec; p && *p; p += n + (p[n] == ',')) {
        n = strcspn(p, ",");

        if (wachat_hours_range(p, n, &r) != 0) {
            snprintf(err, errlen, "\"%.*s\" is not a range such as "
                     "\"mon-fri 09:00-18:00\" or \"sat 10:00-14:00\"",
                     (int) (n < 60 ? n : 60), p);
            return -1;
        }
    }

    return 0;
}


/* the day d is in from..to, a span that may wrap past Saturday */
static int
wachat_hours_in_days(int d, int from, int to)
{
    return from <= to ? d >= from && d <= to : d >= from || d <= to;
}


int
wachat_hours_open(const char *spec, const struct tm *tm)
{
    int                    min, yesterday;
    size_t                 n;
    const char            *p;
    wachat_hours_range_t   r;

    if (spec == NULL || *spec == '\0') {
        return 1;
    }

    min = tm->tm_hour * 60 + tm->tm_min;
    yesterday = (tm->tm_wday + 6) % 7;

    for (p = spec; *p; p += n + (p[n] == ',')) {
        n = strcspn(p, ",");

        if (wachat_hours_range(p, n, &r) != 0) {
            return 1;
        }

        if (r.min_from < r.min_to) {
            if (wachat_hours_in_days(tm->tm_wday, r.day_from, r.day_to)
                && min >= r.min_from && min < r.min_to)
            {
                return 1;
            }

            continue;
        }

        /* past midnight: the evening of a day, or the night after it */
        if ((wachat_hours_in_days(tm->tm_wday, r.day_from, r.day_to)
             && min >= r.min_from)
            || (wachat_hours_in_days(yesterday, r.day_from, r.day_to)
                && min < r.min_to))
        {
            return 1;
        }
    }

    return 0;
}
