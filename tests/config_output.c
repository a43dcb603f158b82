/*
 * Config unit test, part three: what the config writes (the dump, which
 * loads back, and the doc page docs/config.md) and the log.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_test.h"


/* the keys the issue names: each must have a row in the doc page */
static const char  *documented[] = {
    "redis", "redis_password_file", "redis_db", "stream", "group",
    "consumer", "claim_idle", "backend", "kb", "kb_min_score",
    "fallback_text", "outbound", "outbox_stream", "graph_api_url",
    "graph_token_file", "graph_token_env", "graph_timeout",
    "graph_max_retries", "rate_limit", "mark_read", "llm_url",
    "llm_model", "llm_key_file", "llm_key_env", "llm_timeout",
    "llm_max_tokens", "llm_temperature", "llm_system_prompt",
    "llm_history", "llm_passages", "concurrency", "history_max",
    "window", "shutdown_timeout", "logfile", "verbosity", "api_listen",
    "handoff_commands", "smtp_url", "smtp_from", "smtp_user",
    "smtp_password_file", "agent_idle_timeout",
    "agent_heartbeat_timeout", "agent"
};


/* odd values dumped, loaded back, dumped again: the same text; 0 when
 * they do not load */
static int
dump_round_trip(void)
{
    char             *d1, *d2;
    wachat_config_t  *c1, *c2;

    c1 = loads(SANDBOX
               "redis [::1]:6380\n"
               "fallback_text \"Tab\\there, \\\"quote\\\" # not a comment\"\n"
               "kb \"\"conf/kb.md\n"
               "logfile \"/var/log/wachat d.log\"\n"
               "handoff_commands /live_agent \"a person\" \\x\n"
               "claim_idle 90s\n"
               "http_max_response 3000k\n"
               "kb_min_score 0.75\n"
               "agent ann ann@example.com name=\"Ann Lee\"\n",
               "dump: a config with odd values loads");
    if (c1 == NULL) {
        return 0;
    }

    d1 = dump(c1);
    c2 = parse(d1);

    if (!ok(c2 != NULL, "dump: its output loads back")) {
        diag("error: %s", err);
        diag("dump:\n%s", d1);
    }

    if (c2 != NULL) {
        d2 = dump(c2);
        is_str(d2, d1, "dump: loading the dump changes nothing");
        free(d2);
        wachat_config_free(c2);
    }

    has(d1, "claim_idle               90s\n", "dump: duration in its unit");
    has(d1, "http_max_response        3000kb\n", "dump: size in its unit");
    has(d1, "handoff_commands         /live_agent \"a person\" \"\\\\x\"\n",
        "dump: list quoted only where needed");

    free(d1);
    wachat_config_free(c1);

    return 1;
}


/* the doc page: every key, types, defaults; docs/config.md up to date */
static void
doc_every_key(void)
{
    int      missing;
    char    *doc, *file;
    size_t   i;

    doc = doc_page();
    missing = 0;

    for (i = 0; i < sizeof(documented) / sizeof(documented[0]); i++) {
        char  cell[64];

        snprintf(cell, sizeof(cell), "`%s`", documented[i]);

        if (strstr(doc, cell) == NULL) {
            diag("not documented: %s", documented[i]);
            missing++;
        }
    }

    ok(missing == 0, "doc: every key the issue names is documented");
    has(doc, "| `stream` | string | `wachat:events` | ",
        "doc: row with type and default");
    has(doc, "| `claim_idle` | duration, 1s..24h | `60s` | ",
        "doc: duration range");
    has(doc, "| `backend` | kb \\| openai | `kb` | ", "doc: enum values");
    has(doc, "| `consumer` | string | `<hostname>-<pid>` | ",
        "doc: computed default shown");

    file = slurp("docs/config.md");
    if (!ok(file != NULL && strcmp(file, doc) == 0,
            "docs/config.md is up to date")) {
        diag("regenerate: build/config_test --doc > docs/config.md");
    }

    free(file);
    free(doc);
}


void
test_dump_doc(void)
{
    /* as before the split: no doc checks if the odd values do not load */
    if (dump_round_trip()) {
        doc_every_key();
    }
}


void
test_log(void)
{
    int          rc;
    char         path[256], moved[256], lerr[256], *text, *line;
    char         big[6000];
    const char  *p;

    snprintf(path, sizeof(path), "%s/wachatd.log", tmpdir);
    snprintf(moved, sizeof(moved), "%s/wachatd.log.1", tmpdir);

    rc = wachat_log_setup(path, WACHAT_LOG_NOTICE, lerr, sizeof(lerr));
    ok(rc == 0, "log: setup to a file");

    wachat_log(WACHAT_LOG_INFO, "hidden %d", 1);
    errno = ENOENT;
    wachat_log(WACHAT_LOG_NOTICE, "two\nlines %s", "x");
    ok(errno == ENOENT, "log: errno kept");
    wachat_log(WACHAT_LOG_ERROR, "tab\there");

    ok(wachat_log_enabled(WACHAT_LOG_WARNING)
       && !wachat_log_enabled(WACHAT_LOG_INFO), "log: threshold");

    text = slurp(path);
    ok(text != NULL && strstr(text, "hidden") == NULL,
       "log: below the threshold not written");

    line = text != NULL ? strstr(text, " notice: ") : NULL;
    ok(line != NULL && strstr(line, "two\\nlines x\n") == line + 9,
       "log: newline escaped, one fact per line");

    p = text;
    ok(p != NULL && strlen(p) > 25 && p[4] == '-' && p[10] == 'T'
       && p[19] == '.' && p[23] == 'Z' && p[24] == ' '
       && atol(p + 25) == (long) getpid(),
       "log: UTC timestamp with ms, then the pid");
    has(text, " error: tab\\there\n", "log: level name, tab escaped");
    free(text);

    /* logrotate moved the file; setup again reopens the same path */
    rename(path, moved);
    rc = wachat_log_setup(path, WACHAT_LOG_DEBUG, lerr, sizeof(lerr));
    wachat_log(WACHAT_LOG_DEBUG, "after rotation");
    text = slurp(path);
    ok(rc == 0 && text != NULL && strstr(text, " debug: after rotation\n")
       && strstr(text, "two") == NULL, "log: reopen after rotation");
    free(text);

    rc = wachat_log_setup("/nonexistent-dir/x.log", WACHAT_LOG_INFO, lerr,
                          sizeof(lerr));
    ok(rc == -1, "log: unwritable path fails");
    is_str(lerr, "cannot open log file /nonexistent-dir/x.log: No such file "
           "or directory", "log: error message");
    wachat_log(WACHAT_LOG_DEBUG, "still here");
    text = slurp(path);
    ok(text != NULL && strstr(text, "still here") != NULL,
       "log: failed setup keeps the old file and threshold");
    free(text);

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    wachat_log(WACHAT_LOG_ERROR, "%s", big);
    text = slurp(path);
    ok(text != NULL && strstr(text, "aaa...\n") != NULL,
       "log: long message cut with ...");
    free(text);

    is_str(wachat_log_level_name(WACHAT_LOG_WARNING), "warning",
           "log: level names");

    wachat_log_close();
    ok(!wachat_log_enabled(WACHAT_LOG_INFO), "log: close restores notice");

    unlink(path);
    unlink(moved);
}
