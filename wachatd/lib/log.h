/*
 * wachat log: leveled log lines for wachatd and wachatctl.
 *
 * One line per call: "<UTC time> <pid> <level>: <message>", or, when
 * stderr is the systemd journal (JOURNAL_STREAM names it), "<N><level>:
 * <message>" with N the syslog priority and no time of its own.  Control
 * characters in the message are escaped, so text that came from a customer
 * can never forge or split a line.  The log target is process-wide (one
 * daemon, one log); the main loop calls wachat_log_setup() at start and on
 * every SIGHUP reload, which also reopens a file moved away by logrotate.
 *
 * Nothing here knows what a secret is: callers never pass one, and the
 * config unit only ever hands out descriptions of secrets for printing.
 */

#ifndef WACHAT_LOG_H
#define WACHAT_LOG_H

#include <stddef.h>


/* Ordered: a message is written when its level >= the threshold. */
typedef enum {
    WACHAT_LOG_DEBUG = 0,
    WACHAT_LOG_INFO,
    WACHAT_LOG_NOTICE,
    WACHAT_LOG_WARNING,
    WACHAT_LOG_ERROR
} wachat_log_level_e;


#if defined(__GNUC__)
#define WACHAT_LOG_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#else
#define WACHAT_LOG_PRINTF(f, a)
#endif


/*
 * Log to "path" (NULL or "" means stderr) from "level" up.  The file is
 * opened before the old target is closed: on failure the old target and
 * threshold stay in force, -1 is returned and err says why.
 */
int wachat_log_setup(const char *path, int level, char *err, size_t errlen);

/* Back to stderr at the default threshold (notice); closes any file. */
void wachat_log_close(void);

/* Would a message at this level be written?  Skips costly formatting. */
int wachat_log_enabled(int level);

/* "debug", "info", "notice", "warning", "error"; "?" for anything else. */
const char *wachat_log_level_name(int level);

/*
 * "<3>" and the like when stderr is the journal, else "": for the lines a
 * program writes to stderr itself (wachatd -t), so that journald files an
 * error as an error.
 */
const char *wachat_log_journal_prefix(int level);

/* Keeps errno, so "log then inspect errno" works. */
void wachat_log(int level, const char *fmt, ...) WACHAT_LOG_PRINTF(2, 3);


#endif /* WACHAT_LOG_H */
