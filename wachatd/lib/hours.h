/*
 * hours: a working-hours schedule, "mon-fri 09:00-18:00, sat 10:00-14:00",
 * in the config's time zone: ranges separated by commas, each one day or
 * a span of days and a time span (one that ends before it starts runs
 * past midnight).  Empty: always open.  Pure, so it is easy to test.
 */

#ifndef WACHAT_HOURS_H
#define WACHAT_HOURS_H

#include <stddef.h>
#include <time.h>


/* 0, or -1 with the reason in err */
int wachat_hours_check(const char *spec, char *err, size_t errlen);

/* 1 when tm (local time) falls in the schedule; a bad spec: 1 */
int wachat_hours_open(const char *spec, const struct tm *tm);


#endif /* WACHAT_HOURS_H */
