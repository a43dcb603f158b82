/*
 * doctor: `wachatctl doctor` checks what can be checked from here and says
 * what to fix: Redis, the stream and its group, the backlog, the knowledge
 * base, the Graph token (GET /{phone-number-id}), the LLM endpoint, and,
 * given the public callback URL and the App Secret, a signed self-test
 * POST through nginx that must come out of the stream.  The topology too:
 * the primary, its replicas and their lag, and the sentinels' view.  Also
 * what least privilege asks: not root, and a Redis that refuses strangers;
 * and that the console's edits of the knowledge base can be written.
 *
 * Here: the checks in their order, the line each says, the local ones and
 * the wait for an HTTP answer; the others' files are named in doctor_int.h.
 */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "main/doctor_int.h"
#include "answer/kb.h"


void
wachat_doctor_say(wachat_doctor_t *doc, const char *level, const char *fmt,
    ...)
{
    va_list  ap;

    if (strcmp(level, "FAIL") == 0) {
        doc->failed++;

    } else if (strcmp(level, "warn") == 0) {
        doc->warned++;
    }

    printf("%-4s  ", level);

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);

    printf("\n");
}


/* wachatd should not run as root, and this tool runs as wachatd's user */
static void
wachat_doctor_user(wachat_doctor_t *doc)
{
    uid_t           uid;
    struct passwd  *pw;

    uid = geteuid();
    pw = getpwuid(uid);

    if (uid == 0) {
        wachat_doctor_say(doc, "warn", "running as root: run wachatd (and "
                          "this check) as its own unprivileged user, e.g. "
                          "runuser -u wachat -- wachatctl doctor; the "
                          "packaged unit runs wachatd as wachat");
        return;
    }

    wachat_doctor_say(doc, "ok", "running as %s (uid %ld), not root",
                      pw ? pw->pw_name : "?", (long) uid);
}


static void
wachat_doctor_kb(wachat_doctor_t *doc, const wachat_config_t *cfg)
{
    int           problem;
    char          err[1024];
    const char   *note;
    wachat_kb_t  *kb;

    wachat_kb_thesaurus_use(cfg->kb_thesaurus);
    kb = wachat_kb_load(cfg->kb, err, sizeof(err));

    if (kb == NULL) {
        wachat_doctor_say(doc, "FAIL", "knowledge base: %s", err);
        return;
    }

    wachat_doctor_say(doc, "ok", "knowledge base %s: %zu entries", cfg->kb,
                      wachat_kb_count(kb));

    note = wachat_kb_thesaurus_note(kb, &problem);

    if (note[0] != '\0') {
        wachat_doctor_say(doc, problem ? "warn" : "ok", "kb_thesaurus: %s%s",
                          note, problem ? ": words alone" : "");
    }

    wachat_kb_free(kb);
}


/*
 * An agent kb_editors allows adds to the knowledge base from the console:
 * wachatd writes a temporary file beside it and renames it over, so the
 * directory must be writable by wachatd's user, which this tool runs as.
 * (Under the packaged unit wachatd may write only /var/lib/wachat, whatever
 * the modes elsewhere.)
 */
static void
wachat_doctor_kb_editable(wachat_doctor_t *doc, const wachat_config_t *cfg)
{
    int             err;
    char            path[4096], uid[32];
    size_t          i;
    const char     *dir, *user;
    struct passwd  *pw;

    if (cfg->api_listen.host == NULL && cfg->api_listen.path == NULL) {
        return;                     /* no agent API, no console */
    }

    for (i = 0; i < cfg->kb_editors.n; i++) {
        if (strcmp(cfg->kb_editors.items[i], "-") != 0) {
            break;
        }
    }

    if (i == cfg->kb_editors.n) {
        return;                     /* "-": the file is edited by hand only */
    }

    snprintf(path, sizeof(path), "%s", cfg->kb);
    dir = dirname(path);

    pw = getpwuid(geteuid());
    snprintf(uid, sizeof(uid), "uid %ld", (long) geteuid());
    user = pw ? pw->pw_name : uid;

    if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) != 0) {
        err = errno;
        wachat_doctor_say(doc, "warn", "kb_editors lets agents edit the "
                          "knowledge base, but %s is not writable by %s: "
                          "edits from the console will fail (%s); keep the "
                          "knowledge base where wachatd may write (the "
                          "packaged unit: kb /var/lib/wachat/kb.md), or set "
                          "kb_editors -", dir, user, strerror(err));
        return;
    }

    wachat_doctor_say(doc, "ok", "kb_editors: %s is writable by %s, agents "
                      "can add to the knowledge base from the console", dir,
                      user);
}


static void
wachat_doctor_http_done(void *data, const wachat_http_resp_t *resp)
{
    wachat_doctor_wait_t  *w = data;

    w->done = 1;
    w->error = resp->error;
    w->status = resp->status;
    snprintf(w->error_text, sizeof(w->error_text), "%s", resp->error_text);

    event_base_loopbreak(w->base);
}


int
wachat_doctor_request(wachat_doctor_t *doc, wachat_http_req_t *req,
    wachat_doctor_wait_t *w)
{
    memset(w, 0, sizeof(wachat_doctor_wait_t));
    w->base = doc->base;

    if (wachat_http_request(doc->http, req, wachat_doctor_http_done, w) != 0)
    {
        return -1;
    }

    while (!w->done) {
        event_base_dispatch(doc->base);
    }

    return 0;
}


int
wachat_doctor(wachat_redis_t *st, const wachat_config_t *cfg,
    const wachat_doctor_opts_t *opts)
{
    wachat_doctor_t  doc;

    memset(&doc, 0, sizeof(doc));

    curl_global_init(CURL_GLOBAL_DEFAULT);

    doc.base = event_base_new();
    doc.http = doc.base ? wachat_http_new(doc.base, 4) : NULL;

    if (doc.http == NULL) {
        fprintf(stderr, "wachatctl: out of memory\n");
        return 1;
    }

    wachat_doctor_say(&doc, "ok", "config %s loads", cfg->path);
    wachat_doctor_user(&doc);
    wachat_doctor_redis(&doc, st, cfg);

    if (st->c) {
        wachat_doctor_replication(&doc, st, opts);
    }

    if (st->addr.nsentinels) {
        wachat_doctor_sentinels(&doc, st);
    }
    wachat_doctor_redis_auth(&doc, cfg);
    wachat_doctor_kb(&doc, cfg);
    wachat_doctor_kb_editable(&doc, cfg);
    wachat_doctor_graph(&doc, st, cfg, opts->phone_number_id);
    wachat_doctor_llm(&doc, cfg);

    if (opts->callback_url && opts->app_secret) {
        wachat_doctor_selftest(&doc, st, cfg, opts->callback_url,
                               opts->app_secret);

    } else {
        printf("skip  self-test: give --callback <url> and --app-secret-file "
               "<path> to send a signed POST through nginx\n");
    }

    wachat_http_free(doc.http);
    event_base_free(doc.base);
    curl_global_cleanup();

    printf("%d problem(s), %d warning(s)\n", doc.failed, doc.warned);

    return doc.failed ? 1 : 0;
}
