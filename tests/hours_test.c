/*
 * Unit test of the working-hours schedule (wachatd/lib/hours.h), TAP on
 * stdout: what is a schedule, and which local times it covers, past
 * midnight and across the week's end included.
 */

#include <stdio.h>
#include <string.h>

#define TAP_MAIN

#include "lib/hours.h"
#include "tap.h"


/* wday 0 Sunday; hh:mm */
static int
open_at(const char *spec, int wday, int hh, int mm)
{
    struct tm  tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_wday = wday;
    tm.tm_hour = hh;
    tm.tm_min = mm;

    return wachat_hours_open(spec, &tm);
}


int
main(void)
{
    char         err[256];
    const char  *week = "mon-fri 09:00-18:00, sat 10:00-14:00";

    ok(wachat_hours_check("", err, sizeof(err)) == 0, "empty: always");
    ok(wachat_hours_check(week, err, sizeof(err)) == 0, "a week");
    ok(wachat_hours_check("fri-mon 22:00-06:00", err, sizeof(err)) == 0,
       "nights over the weekend");
    ok(wachat_hours_check("mon 9-18", err, sizeof(err)) != 0
       && strstr(err, "\"mon 9-18\" is not a range") != NULL,
       "9-18 refused, naming the range");
    ok(wachat_hours_check("moon 09:00-18:00", err, sizeof(err)) != 0,
       "an unknown day refused");
    ok(wachat_hours_check("mon 09:00-25:00", err, sizeof(err)) != 0,
       "25:00 refused");
    ok(wachat_hours_check("mon 09:00-09:00", err, sizeof(err)) != 0,
       "an empty span refused");
    ok(wachat_hours_check("mon 09:00-18:00,", err, sizeof(err)) == 0,
       "a trailing comma is fine");

    ok(open_at("", 0, 3, 0), "no schedule: open at 3:00 on Sunday");
    ok(open_at(week, 1, 9, 0), "Monday 09:00: open");
    ok(!open_at(week, 1, 8, 59), "Monday 08:59: closed");
    ok(!open_at(week, 5, 18, 0), "Friday 18:00: closed (the end is out)");
    ok(open_at(week, 6, 13, 59), "Saturday 13:59: open");
    ok(!open_at(week, 0, 12, 0), "Sunday: closed");
    ok(open_at("fri-mon 22:00-06:00", 6, 3, 0), "Saturday 03:00: a night");
    ok(open_at("fri-mon 22:00-06:00", 2, 5, 0),
       "Tuesday 05:00: Monday's night");
    ok(!open_at("fri-mon 22:00-06:00", 2, 22, 30), "Tuesday 22:30: closed");
    ok(open_at("sat-sun 00:00-24:00", 0, 23, 59), "all of Sunday");

    printf("1..%d\n", ntests);

    return nfailed ? 1 : 0;
}
