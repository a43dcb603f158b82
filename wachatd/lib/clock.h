/*
 * clock: the time in milliseconds, as the consumer counts it.
 *
 * Wall-clock time is what is stored and compared with stored times (Redis
 * scores, "ts" fields, mail windows, retention); monotonic time measures
 * spans inside one process (deadlines), which a clock step must not move.
 */

#ifndef WACHAT_CLOCK_H
#define WACHAT_CLOCK_H


/* CLOCK_REALTIME: ms since the Unix epoch */
long long wachat_clock_ms(void);

/* CLOCK_MONOTONIC: ms since an arbitrary start, never goes back */
long long wachat_clock_mono_ms(void);

/*
 * The zone local times are shown in (e-mails); logs stay in UTC.  tz:
 * "UTC" or a tz database name the config checked.
 */
void wachat_clock_zone(const char *tz);


#endif /* WACHAT_CLOCK_H */
