/*
 * Shared by the libFuzzer targets: the contract checks (a broken contract
 * aborts, so libFuzzer keeps the input as a crash) and the input splitter.
 */

#ifndef WACHAT_FUZZ_COMMON_H
#define WACHAT_FUZZ_COMMON_H

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


/*
 * Splits rest[0..len) at \x01 into at most nf NUL-terminated fields (an
 * embedded NUL ends a field early: fine); the missing ones are "".  *n
 * gets how many there were.  Returns the copy they point into: free it.
 */
static inline char *
split_fields(const char *rest, size_t len, char **f, size_t nf, size_t *n)
{
    char    *copy, *p;
    size_t   i;

    copy = malloc(len + 1);
    check(copy != NULL);
    memcpy(copy, rest, len);
    copy[len] = '\0';

    i = 0;
    p = copy;
    f[i++] = p;
    while (i < nf && (p = memchr(p, '\x01', len - (size_t) (p - copy)))) {
        *p++ = '\0';
        f[i++] = p;
    }
    *n = i;
    for ( /* void */ ; i < nf; i++) {
        f[i] = "";
    }

    return copy;
}


#endif /* WACHAT_FUZZ_COMMON_H */
