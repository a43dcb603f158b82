/*
 * What the libFuzzer targets check beyond ASan/UBSan: a broken contract
 * aborts, so libFuzzer keeps the input as a crash.
 */

#ifndef WACHAT_FUZZ_CHECK_H
#define WACHAT_FUZZ_CHECK_H

#include <stdlib.h>
#include <string.h>


static inline void
check(int cond)
{
    if (!cond) {
        abort();
    }
}


/*
 * An error of the config and KB parsers, which fuzz with the file name
 * "fuzz": "fuzz: reason" or "fuzz:<line>: reason", a reason not empty.
 */
static inline void
check_error(const char *err)
{
    const char  *p;

    check(strncmp(err, "fuzz:", 5) == 0);
    p = err + 5;

    if (*p != ' ') {
        check(*p >= '1' && *p <= '9');

        while (*p >= '0' && *p <= '9') {
            p++;
        }

        check(*p++ == ':');
    }

    check(p[0] == ' ' && p[1] != '\0');
}


#endif /* WACHAT_FUZZ_CHECK_H */
