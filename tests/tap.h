/*
 * TAP helpers shared by the C unit tests (tests/NAME_test.c and the other
 * tests/NAME_*.c parts of the same binary).  Header only: the file with
 * main() defines TAP_MAIN before the include, which defines the counters
 * the parts share, and prints the plan itself at the end,
 *
 *     printf("1..%d\n", ntests);
 *     return nfailed ? 1 : 0;
 *
 * Diagnostics go to TAP_DIAG_STREAM, stdout unless the test defines it
 * before the include (stderr: prove shows them as they come; stdout: a
 * .t that relays the TAP, as t/wachatd/http_clients_unit.t does, sees them too).
 */

#ifndef WACHAT_TESTS_TAP_H
#define WACHAT_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>


#ifndef TAP_DIAG_STREAM
#define TAP_DIAG_STREAM  stdout
#endif


extern int  ntests;
extern int  nfailed;

#ifdef TAP_MAIN
int  ntests;
int  nfailed;
#endif


/* "# " and the message, a line of its own */
static inline void
diag(const char *fmt, ...)
{
    va_list  args;

    fputs("# ", TAP_DIAG_STREAM);
    va_start(args, fmt);
    vfprintf(TAP_DIAG_STREAM, fmt, args);
    va_end(args);
    fputc('\n', TAP_DIAG_STREAM);
    fflush(TAP_DIAG_STREAM);
}


/* one test: "ok N - name" or "not ok N - name"; returns cond */
static inline int
ok(int cond, const char *fmt, ...)
{
    va_list  args;

    ntests++;

    if (!cond) {
        nfailed++;
        fputs("not ", stdout);
    }

    printf("ok %d - ", ntests);
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    putchar('\n');
    fflush(stdout);

    return cond;
}


/* the strings are equal, or both NULL */
static inline int
is_str(const char *got, const char *want, const char *name)
{
    int  same;

    same = got != NULL && want != NULL ? strcmp(got, want) == 0
                                       : got == want;

    if (!ok(same, "%s", name)) {
        diag("     got: %s", got != NULL ? got : "(null)");
        diag("expected: %s", want != NULL ? want : "(null)");
    }

    return same;
}


#endif /* WACHAT_TESTS_TAP_H */
