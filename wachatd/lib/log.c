/*
 * wachat log: see log.h.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "wachat_utf8.h"


/* A longer message is cut; one line must stay one write(2). */
#define WACHAT_LOG_MSG_MAX   4096
#define WACHAT_LOG_LINE_MAX  (64 + 6 * WACHAT_LOG_MSG_MAX)


static const char  *wachat_log_names[] = {
    "debug", "info", "notice", "warning", "error"
};

/* syslog's priorities of the levels: LOG_DEBUG .. LOG_ERR */
static const int  wachat_log_priorities[] = { 7, 6, 5, 4, 3 };

static int  wachat_log_fd = STDERR_FILENO;
static int  wachat_log_threshold = WACHAT_LOG_NOTICE;
static int  wachat_log_journal = -1;    /* -1: not looked at yet */


static int wachat_log_to_journal(int fd);
static size_t wachat_log_escape(char *dst, const char *src, size_t len);
static void wachat_log_write(int fd, const char *buf, size_t len);


int
wachat_log_setup(const char *path, int level, char *err, size_t errlen)
{
    int  fd;

    if (level < WACHAT_LOG_DEBUG || level > WACHAT_LOG_ERROR) {
        snprintf(err, errlen, "log level %d is out of range", level);
        return -1;
    }

    if (path == NULL || path[0] == '\0') {
        fd = STDERR_FILENO;

    } else {
        /*
         * O_APPEND: several wachatd processes may share one file and each
         * line is a single write, so lines never interleave.  Not
         * world-readable: the log names customers' phone numbers.
         */
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd == -1) {
            snprintf(err, errlen, "cannot open log file %s: %s",
                     path, strerror(errno));
            return -1;
        }
    }

    if (wachat_log_fd != STDERR_FILENO) {
        close(wachat_log_fd);
    }

    wachat_log_fd = fd;
    wachat_log_threshold = level;
    wachat_log_journal = wachat_log_to_journal(fd);

    return 0;
}


/*
 * systemd connects a service's stderr to journald and names that stream in
 * JOURNAL_STREAM ("device:inode"); a shell redirect keeps the variable but
 * not the stream, hence the comparison.  journald reads a "<N>" prefix as
 * the line's priority (so journalctl -p warning works) and stamps the time
 * itself.
 */
static int
wachat_log_to_journal(int fd)
{
    char                dev[32];
    const char         *env, *colon;
    unsigned long long  ino;
    struct stat         st;

    env = getenv("JOURNAL_STREAM");

    if (fd != STDERR_FILENO || env == NULL || fstat(fd, &st) == -1) {
        return 0;
    }

    colon = strchr(env, ':');
    if (colon == NULL || (size_t) (colon - env) >= sizeof(dev)) {
        return 0;
    }

    memcpy(dev, env, (size_t) (colon - env));
    dev[colon - env] = '\0';
    ino = strtoull(colon + 1, NULL, 10);

    return strtoull(dev, NULL, 10) == (unsigned long long) st.st_dev
           && ino == (unsigned long long) st.st_ino;
}


void
wachat_log_close(void)
{
    if (wachat_log_fd != STDERR_FILENO) {
        close(wachat_log_fd);
    }

    wachat_log_fd = STDERR_FILENO;
    wachat_log_threshold = WACHAT_LOG_NOTICE;
    wachat_log_journal = -1;
}


const char *
wachat_log_journal_prefix(int level)
{
    static char  prefix[8];

    if (!wachat_log_to_journal(STDERR_FILENO)) {
        return "";
    }

    snprintf(prefix, sizeof(prefix), "<%d>",
             level >= WACHAT_LOG_DEBUG && level <= WACHAT_LOG_ERROR
             ? wachat_log_priorities[level] : 3);

    return prefix;
}


int
wachat_log_enabled(int level)
{
    return level >= wachat_log_threshold;
}


const char *
wachat_log_level_name(int level)
{
    if (level < WACHAT_LOG_DEBUG || level > WACHAT_LOG_ERROR) {
        return "?";
    }

    return wachat_log_names[level];
}


void
wachat_log(int level, const char *fmt, ...)
{
    int              saved, n;
    char             msg[WACHAT_LOG_MSG_MAX];
    char             line[WACHAT_LOG_LINE_MAX];
    size_t           len, mlen;
    va_list          args;
    struct tm        tm;
    struct timespec  ts;

    if (!wachat_log_enabled(level)) {
        return;
    }

    saved = errno;

    va_start(args, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);

    if (n < 0) {
        n = 0;
        msg[0] = '\0';
    }

    mlen = (size_t) n;

    if (mlen >= sizeof(msg)) {
        /* cut on a UTF-8 character boundary, and say it was cut */
        mlen = sizeof(msg) - 4;
        while (mlen > 0 && ((unsigned char) msg[mlen] & 0xc0) == 0x80) {
            mlen--;
        }
        memcpy(msg + mlen, "...", 3);
        mlen += 3;
    }

    if (wachat_log_journal == -1) {
        wachat_log_journal = wachat_log_to_journal(wachat_log_fd);
    }

    if (wachat_log_journal) {
        /* journald adds the time and the pid */
        len = (size_t) snprintf(line, sizeof(line), "<%d>%s: ",
                                level >= WACHAT_LOG_DEBUG
                                && level <= WACHAT_LOG_ERROR
                                ? wachat_log_priorities[level] : 3,
                                wachat_log_level_name(level));

    } else {
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);

        len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        len += (size_t) snprintf(line + len, sizeof(line) - len,
                                 ".%03ldZ %ld %s: ", ts.tv_nsec / 1000000,
                                 (long) getpid(),
                                 wachat_log_level_name(level));
    }
    len += wachat_log_escape(line + len, msg, mlen);
    line[len++] = '\n';

    wachat_log_write(wachat_log_fd, line, len);

    errno = saved;
}


/*
 * One fact per line, read one way only: no byte of the message may end or
 * rewrite the line, and every escape starts with a backslash that no
 * message can write itself (its own backslashes are doubled).  C0 and DEL
 * become \n, \r, \t or \xNN; C1 controls and the Unicode line separators
 * \uNNNN; a byte that is not UTF-8 \xNN.  At most 6 bytes per byte in.
 */
static size_t
wachat_log_escape(char *dst, const char *src, size_t len)
{
    size_t          i, k, n;
    uint32_t        cp;
    unsigned char   c;
    static const char  hex[] = "0123456789abcdef";

    n = 0;

    for (i = 0; i < len; i += k) {
        c = (unsigned char) src[i];
        k = 1;

        if (c >= 0x20 && c < 0x7f && c != '\\') {
            dst[n++] = (char) c;
            continue;
        }

        if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
            dst[n++] = '\\';
            dst[n++] = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r'
                                                               : 't';
            continue;
        }

        k = c < 0x80 ? 0 : wachat_utf8_decode(src + i, len - i, &cp);

        if (k == 0) {           /* C0, DEL, or not UTF-8 */
            k = 1;
            dst[n++] = '\\';
            dst[n++] = 'x';
            dst[n++] = hex[c >> 4];
            dst[n++] = hex[c & 0x0f];
            continue;
        }

        if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029) {
            n += (size_t) snprintf(dst + n, 7, "\\u%04x", (unsigned) cp);
            continue;
        }

        memcpy(dst + n, src + i, k);
        n += k;
    }

    return n;
}


static void
wachat_log_write(int fd, const char *buf, size_t len)
{
    ssize_t  n;

    while (len > 0) {
        n = write(fd, buf, len);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            /* nowhere left to tell: a full disk must not stop the daemon */
            return;
        }

        buf += n;
        len -= (size_t) n;
    }
}
