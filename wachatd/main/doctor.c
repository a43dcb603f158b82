/*
 * doctor: `wachatctl doctor` checks what can be checked from here and says
 * what to fix: Redis, the stream and its group, the backlog, the knowledge
 * base, the Graph token (GET /{phone-number-id}), the LLM endpoint, and,
 * given the public callback URL and the App Secret, a signed self-test
 * POST through nginx that must come out of the stream.  The topology too:
 * the primary, its replicas and their lag, and the sentinels' view.  Also
 * what least privilege asks: not root, and a Redis that refuses strangers.
 */

#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/hmac.h>

#include "main/doctor.h"
#include "clients/graph.h"
#include "clients/http.h"
#include "answer/kb.h"


typedef struct {
    int                  failed;
    int                  warned;
    struct event_base   *base;
    wachat_http_t       *http;
} wachat_doctor_t;


typedef struct {
    struct event_base     *base;
    int                    done;
    long                   status;
    wachat_graph_reply_t   graph;
    wachat_http_err_e      error;
    char                   error_text[256];
} wachat_doctor_wait_t;


static void
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


/* "ip=10.0.0.2,port=6379,state=online,offset=123,lag=0": one field */
static long long
wachat_doctor_field(const char *line, const char *name, char *buf,
    size_t size)
{
    size_t       n;
    const char  *p, *end;

    n = strlen(name);

    for (p = line; p != NULL; p = strchr(p, ',')) {
        if (*p == ',') {
            p++;
        }

        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            p += n + 1;
            end = p + strcspn(p, ",\r\n");

            if (buf) {
                snprintf(buf, size, "%.*s", (int) (end - p), p);
            }

            return atoll(p);
        }
    }

    if (buf) {
        snprintf(buf, size, "?");
    }

    return -1;
}


/*
 * The primary and its replicas (INFO replication): each replica's state,
 * lag and bytes behind; a warning when fewer are in sync (online, lag <= 1
 * s) than nginx's wachat_redis_replicas waits for.
 */
static void
wachat_doctor_replication(wachat_doctor_t *doc, wachat_redis_t *st,
    const wachat_doctor_opts_t *opts)
{
    int          n, insync;
    char         ip[64], state[32], key[16];
    char        *line, *save, *text;
    long long    offset, roff, lag, port;
    redisReply  *r;

    r = wachat_redis_cmd(st, "INFO replication");
    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        wachat_doctor_say(doc, "warn", "redis: INFO replication: %s",
                          r ? (r->type == REDIS_REPLY_ERROR ? r->str : "?")
                            : st->err);
        freeReplyObject(r);
        return;
    }

    text = strdup(r->str);
    freeReplyObject(r);

    if (text == NULL) {
        return;
    }

    /* listed after the replicas' lines, needed for each of them */
    line = strstr(text, "master_repl_offset:");
    offset = line ? atoll(line + 19) : -1;
    n = 0;
    insync = 0;

    for (line = strtok_r(text, "\r\n", &save); line != NULL;
         line = strtok_r(NULL, "\r\n", &save))
    {
        if (strncmp(line, "role:", 5) == 0 && strcmp(line + 5, "master") != 0)
        {
            wachat_doctor_say(doc, "FAIL", "redis %s:%d is a %s, not the "
                              "primary: wachatd and nginx must write to the "
                              "primary", st->c->tcp.host ? st->c->tcp.host
                                                          : "unix",
                              st->c->tcp.port, line + 5);
        }

        if (sscanf(line, "slave%*d:%15[^\n]", key) != 1) {
            continue;
        }

        line = strchr(line, ':') + 1;
        n++;

        wachat_doctor_field(line, "ip", ip, sizeof(ip));
        port = wachat_doctor_field(line, "port", NULL, 0);
        wachat_doctor_field(line, "state", state, sizeof(state));
        roff = wachat_doctor_field(line, "offset", NULL, 0);
        lag = wachat_doctor_field(line, "lag", NULL, 0);

        if (strcmp(state, "online") == 0 && lag >= 0 && lag <= 1) {
            insync++;
        }

        wachat_doctor_say(doc, strcmp(state, "online") == 0 ? "ok" : "warn",
                          "replica %s:%lld: %s, lag %lld s, %lld bytes "
                          "behind", ip, port, state, lag,
                          offset >= 0 && roff >= 0 ? offset - roff : -1);
    }

    free(text);

    wachat_doctor_say(doc, "ok", "redis primary %s:%d, %d replica(s), %d in "
                      "sync", st->c->tcp.host ? st->c->tcp.host : "unix",
                      st->c->tcp.port, n, insync);

    if (opts->replicas > insync) {
        wachat_doctor_say(doc, "warn", "wachat_redis_replicas %d but %d "
                          "replica(s) in sync: nginx answers every webhook "
                          "503 until enough replicas are back",
                          opts->replicas, insync);

    } else if (st->addr.replicas > insync) {
        wachat_doctor_say(doc, "warn", "redis_replicas %d but %d replica(s) "
                          "in sync: wachatd answers nobody until enough "
                          "replicas are back", st->addr.replicas, insync);

    } else if (opts->replicas == -1 && n == 0) {
        printf("info  no replica: losing the Redis host loses what it held "
               "(docs/deployment.md)\n");
    }
}


/* what each sentinel says: reachable, which primary, agreement */
static void
wachat_doctor_sentinels(wachat_doctor_t *doc, wachat_redis_t *st)
{
    size_t                      i, up;
    char                        named[96], first[96];
    redisReply                 *r;
    redisContext               *c;
    struct timeval              tv;
    const wachat_redis_addr_t  *a = &st->addr;

    tv.tv_sec = 1;
    tv.tv_usec = 0;
    up = 0;
    first[0] = '\0';

    for (i = 0; i < a->nsentinels; i++) {
        c = redisConnectWithTimeout(a->sentinel_hosts[i],
                                    a->sentinel_ports[i], tv);

        if (c == NULL || c->err) {
            wachat_doctor_say(doc, "warn", "sentinel %s:%d: %s",
                              a->sentinel_hosts[i], a->sentinel_ports[i],
                              c ? c->errstr : "out of memory");
            redisFree(c);
            continue;
        }

        redisSetTimeout(c, tv);

        if (a->sentinel_password) {
            freeReplyObject(redisCommand(c, "AUTH %s",
                                         a->sentinel_password));
        }

        r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", a->master);

        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            snprintf(named, sizeof(named), "%s:%s", r->element[0]->str,
                     r->element[1]->str);
            up++;

            if (first[0] == '\0') {
                memcpy(first, named, sizeof(first));
            }

            wachat_doctor_say(doc, strcmp(first, named) == 0 ? "ok" : "FAIL",
                              "sentinel %s:%d names %s the primary \"%s\"%s",
                              a->sentinel_hosts[i], a->sentinel_ports[i],
                              named, a->master,
                              strcmp(first, named) == 0
                              ? "" : ", unlike the others");

        } else {
            wachat_doctor_say(doc, "warn", "sentinel %s:%d: %s",
                              a->sentinel_hosts[i], a->sentinel_ports[i],
                              r == NULL ? c->errstr
                              : r->type == REDIS_REPLY_ERROR ? r->str
                              : "does not know the primary");
        }

        freeReplyObject(r);
        redisFree(c);
    }

    if (up < 3 || up * 2 <= a->nsentinels) {
        wachat_doctor_say(doc, "warn", "%zu of %zu sentinels answer: a "
                          "failover needs a majority of them, and three on "
                          "separate hosts survive the loss of one",
                          up, a->nsentinels);
    }
}


static long long
wachat_doctor_int(const redisReply *kv, const char *name)
{
    size_t  i;

    for (i = 0; kv && kv->type == REDIS_REPLY_ARRAY && i + 1 < kv->elements;
         i += 2)
    {
        if (kv->element[i]->type == REDIS_REPLY_STRING
            && strcmp(kv->element[i]->str, name) == 0)
        {
            if (kv->element[i + 1]->type == REDIS_REPLY_INTEGER) {
                return kv->element[i + 1]->integer;
            }

            return -1;  /* nil: e.g. lag unknown after XDEL */
        }
    }

    return -1;
}


static void
wachat_doctor_redis(wachat_doctor_t *doc, wachat_redis_t *st,
    const wachat_config_t *cfg)
{
    size_t       i;
    long long    pending, lag;
    redisReply  *r, *g;
    const char  *name;

    r = wachat_redis_cmd(st, "PING");
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        wachat_doctor_say(doc, "FAIL", "redis: %s", r ? r->str : st->err);
        freeReplyObject(r);
        return;
    }

    freeReplyObject(r);
    wachat_doctor_say(doc, "ok", "redis answers");

    r = wachat_redis_cmd(st, "XINFO STREAM %s", cfg->stream);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        wachat_doctor_say(doc, "FAIL", "stream %s does not exist: no webhook "
                          "has been queued yet, or nginx writes another "
                          "stream (compare wachat_stream and wachat_redis "
                          "with stream and redis)", cfg->stream);
        freeReplyObject(r);
        return;
    }

    wachat_doctor_say(doc, "ok", "stream %s holds %lld entries", cfg->stream,
                      wachat_doctor_int(r, "length"));
    freeReplyObject(r);

    r = wachat_redis_cmd(st, "XINFO GROUPS %s", cfg->stream);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        wachat_doctor_say(doc, "FAIL", "cannot list the groups of %s",
                          cfg->stream);
        freeReplyObject(r);
        return;
    }

    for (i = 0; i < r->elements; i++) {
        g = r->element[i];
        name = wachat_redis_reply_field(g, "name");

        if (name == NULL || strcmp(name, cfg->group) != 0) {
            continue;
        }

        pending = wachat_doctor_int(g, "pending");
        lag = wachat_doctor_int(g, "lag");

        wachat_doctor_say(doc, lag > 1000 || pending > 1000 ? "warn" : "ok",
                          "group %s: %lld consumers, %lld pending, backlog "
                          "%lld%s", cfg->group,
                          wachat_doctor_int(g, "consumers"), pending, lag,
                          lag > 1000 ? " (is wachatd running and keeping up?)"
                                     : "");
        freeReplyObject(r);
        return;
    }

    wachat_doctor_say(doc, "FAIL", "group %s does not exist on %s: wachatd "
                      "creates it when it starts; is it running?", cfg->group,
                      cfg->stream);
    freeReplyObject(r);
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


/*
 * A Redis that answers a client without a password lets any local user
 * (or any host, if it listens beyond loopback) read every conversation.
 */
static void
wachat_doctor_redis_auth(wachat_doctor_t *doc, const wachat_config_t *cfg)
{
    char                 err[256];
    redisReply          *r;
    wachat_redis_t      *anon;
    wachat_redis_addr_t  addr;

    /* the same server (or the sentinels' primary), without the password */
    if (wachat_redis_addr_config(&addr, cfg, 2000) != 0) {
        return;
    }

    free(addr.password);
    addr.password = NULL;
    addr.db = 0;

    /* the link keeps addr's strings: freed after it */
    anon = wachat_redis_open(&addr, err, sizeof(err));

    if (anon == NULL) {
        wachat_redis_addr_free(&addr);
        return;         /* the check above has said what is wrong */
    }

    r = wachat_redis_cmd(anon, "PING");

    if (r != NULL && r->type != REDIS_REPLY_ERROR) {
        wachat_doctor_say(doc, "warn", "redis answers clients without a "
                          "password: set one (requirepass, or the ACL line "
                          "in the README) and redis_password_file here, "
                          "password_file= in nginx's wachat_redis");

    } else if (r != NULL && strncmp(r->str, "NOAUTH", 6) == 0) {
        wachat_doctor_say(doc, "ok", "redis refuses clients without a "
                          "password");
    }

    freeReplyObject(r);
    wachat_redis_close(anon);
    wachat_redis_addr_free(&addr);
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


static void
wachat_doctor_graph_done(void *data, const wachat_graph_reply_t *reply)
{
    wachat_doctor_wait_t  *w = data;

    w->done = 1;
    w->graph = *reply;

    /* the strings live only during the call: keep what we print */
    w->graph.message = reply->message ? strdup(reply->message) : NULL;
    w->graph.phone = reply->phone ? strdup(reply->phone) : NULL;
    w->graph.verified_name = reply->verified_name
                             ? strdup(reply->verified_name) : NULL;
    w->graph.wamid = NULL;
    w->graph.details = NULL;
    w->graph.err_type = NULL;
    w->graph.fbtrace_id = NULL;

    event_base_loopbreak(w->base);
}


static void
wachat_doctor_phone(wachat_doctor_t *doc, wachat_graph_t *g,
    const char *pnid)
{
    size_t                      i, n;
    const char                 *explain;
    wachat_doctor_wait_t        w;
    const wachat_graph_hint_t  *hints;

    memset(&w, 0, sizeof(w));
    w.base = doc->base;

    if (wachat_graph_check(g, pnid, wachat_doctor_graph_done, &w) != 0) {
        wachat_doctor_say(doc, "FAIL", "graph: cannot check %s (is it a "
                          "phone number id, digits only?)", pnid);
        return;
    }

    while (!w.done) {
        event_base_dispatch(doc->base);
    }

    if (w.graph.result == WACHAT_GRAPH_OK) {
        wachat_doctor_say(doc, "ok", "graph: the token is accepted for phone "
                          "number id %s (%s, %s)", pnid,
                          w.graph.phone ? w.graph.phone : "?",
                          w.graph.verified_name ? w.graph.verified_name
                                                : "?");

    } else {
        explain = w.graph.code >= 0 ? wachat_graph_explain(w.graph.code)
                                    : NULL;

        wachat_doctor_say(doc, "FAIL", "graph: GET /%s: HTTP %ld, code %ld: "
                          "%s%s%s", pnid, w.graph.http_status, w.graph.code,
                          w.graph.message ? w.graph.message : "no answer",
                          explain ? " — " : "", explain ? explain : "");

        hints = wachat_graph_troubleshooting(&n);

        for (i = 0; i < n; i++) {
            printf("      if %s (%s): %s\n", hints[i].topic,
                   hints[i].symptom, hints[i].fix);
        }
    }

    free(w.graph.message);
    free(w.graph.phone);
    free(w.graph.verified_name);
}


static void
wachat_doctor_graph(wachat_doctor_t *doc, wachat_redis_t *st,
    const wachat_config_t *cfg, const char *pnid)
{
    size_t                i, n;
    redisReply           *r;
    const char           *why;
    wachat_graph_t       *g;
    wachat_graph_conf_t   gc;
    char                  seen[8][64];

    if (cfg->outbound == WACHAT_OUTBOUND_SANDBOX) {
        wachat_doctor_say(doc, "warn", "outbound sandbox: replies go to the "
                          "stream %s, no customer receives them",
                          cfg->outbox_stream);
        return;
    }

    gc.api_url = cfg->graph_api_url;
    gc.token = cfg->graph_token.value;
    gc.timeout_ms = cfg->graph_timeout_ms;

    why = NULL;
    g = wachat_graph_new(doc->http, &gc, &why);

    if (g == NULL) {
        wachat_doctor_say(doc, "FAIL", "graph: %s", why ? why : "unusable");
        return;
    }

    if (pnid) {
        wachat_doctor_phone(doc, g, pnid);
        wachat_graph_free(g);
        return;
    }

    /* the business numbers customers wrote to, from the conversations */
    n = 0;
    r = wachat_redis_cmd(st, "ZREVRANGE %s 0 999", WACHAT_KEY_CONVS);

    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        size_t  k, len = strcspn(r->element[i]->str, ":");
        int     dup = 0;

        for (k = 0; k < n; k++) {
            if (strlen(seen[k]) == len
                && strncmp(seen[k], r->element[i]->str, len) == 0)
            {
                dup = 1;
            }
        }

        if (!dup && n < 8 && len < sizeof(seen[0])) {
            snprintf(seen[n++], sizeof(seen[0]), "%.*s", (int) len,
                     r->element[i]->str);
        }
    }

    freeReplyObject(r);

    if (n == 0) {
        wachat_doctor_say(doc, "warn", "graph: no conversation yet, so no "
                          "phone number id to check the token with: run "
                          "`wachatctl doctor --phone-number-id <id>`");
    }

    for (i = 0; i < n; i++) {
        wachat_doctor_phone(doc, g, seen[i]);
    }

    wachat_graph_free(g);
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


static int
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


static void
wachat_doctor_llm(wachat_doctor_t *doc, const wachat_config_t *cfg)
{
    char                   url[2048], auth[1024];
    const char            *headers[2];
    wachat_http_req_t      req;
    wachat_doctor_wait_t   w;

    if (cfg->backend != WACHAT_BACKEND_OPENAI) {
        return;
    }

    snprintf(url, sizeof(url), "%s/models", cfg->llm_url);
    memset(&req, 0, sizeof(req));
    req.url = url;
    req.timeout_ms = cfg->llm_timeout_ms;

    if (cfg->llm_key.value && *cfg->llm_key.value) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
                 cfg->llm_key.value);
        headers[0] = auth;
        headers[1] = NULL;
        req.headers = headers;
    }

    if (wachat_doctor_request(doc, &req, &w) != 0) {
        wachat_doctor_say(doc, "FAIL", "llm: cannot request %s", url);
        return;
    }

    memset(auth, 0, sizeof(auth));

    if (w.error != WACHAT_HTTP_DONE) {
        wachat_doctor_say(doc, "FAIL", "llm: %s unreachable: %s (replies "
                          "fall back to the knowledge base)", cfg->llm_url,
                          w.error_text);

    } else if (w.status == 401 || w.status == 403) {
        wachat_doctor_say(doc, "FAIL", "llm: %s refuses the key (HTTP %ld): "
                          "check llm_key_file", cfg->llm_url, w.status);

    } else {
        wachat_doctor_say(doc, w.status == 200 ? "ok" : "warn",
                          "llm: %s answers (GET /models: HTTP %ld)",
                          cfg->llm_url, w.status);
    }
}


/* "sha256=<hex>" of body under the App Secret, as Meta signs it */
static void
wachat_doctor_sign(const char *secret, const char *body, size_t len,
    char *sig)
{
    size_t         k;
    unsigned char  md[32];
    unsigned int   mdlen;

    static const char  hex[] = "0123456789abcdef";

    HMAC(EVP_sha256(), secret, (int) strlen(secret),
         (const unsigned char *) body, len, md, &mdlen);

    memcpy(sig, "sha256=", 7);

    for (k = 0; k < 32; k++) {
        sig[7 + 2 * k] = hex[md[k] >> 4];
        sig[8 + 2 * k] = hex[md[k] & 0xf];
    }

    sig[71] = '\0';
}


/* the signed POST; 0 when nginx answered 200, else it says why */
static int
wachat_doctor_post(wachat_doctor_t *doc, const char *url, const char *body,
    size_t len, const char *sig)
{
    char                   hdr[128];
    const char            *headers[3];
    wachat_http_req_t      req;
    wachat_doctor_wait_t   w;

    snprintf(hdr, sizeof(hdr), "X-Hub-Signature-256: %s", sig);
    headers[0] = "Content-Type: application/json";
    headers[1] = hdr;
    headers[2] = NULL;

    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = url;
    req.headers = headers;
    req.body = body;
    req.body_len = len;
    req.timeout_ms = 10000;

    if (wachat_doctor_request(doc, &req, &w) != 0
        || w.error != WACHAT_HTTP_DONE)
    {
        wachat_doctor_say(doc, "FAIL", "self-test: POST %s: %s", url,
                          w.error_text);
        return -1;
    }

    if (w.status != 200) {
        wachat_doctor_say(doc, "FAIL", "self-test: POST %s answered %ld "
                          "(401/403: wachat_app_secret differs from the "
                          "secret given here; 503: nginx cannot reach "
                          "Redis; 404: the location is not there)", url,
                          w.status);
        return -1;
    }

    return 0;
}


/* 1 when an entry with the nonce comes out of the stream within 5 s */
static int
wachat_doctor_in_stream(wachat_redis_t *st, const wachat_config_t *cfg,
    const char *nonce)
{
    int          i;
    size_t       k;
    redisReply  *r;
    const char  *raw;

    for (i = 0; i < 50; i++) {
        r = wachat_redis_cmd(st, "XREVRANGE %s + - COUNT 200", cfg->stream);

        for (k = 0; r && r->type == REDIS_REPLY_ARRAY && k < r->elements;
             k++)
        {
            raw = wachat_redis_reply_field(r->element[k]->element[1], "raw");

            if (raw && strstr(raw, nonce)) {
                freeReplyObject(r);
                return 1;
            }
        }

        freeReplyObject(r);
        usleep(100000);
    }

    return 0;
}


/*
 * A signed delivery of a field wachatd ignores (kind=other): it goes
 * through nginx, the module and Redis exactly as Meta's would, and answers
 * no one.
 */

static void
wachat_doctor_selftest(wachat_doctor_t *doc, wachat_redis_t *st,
    const wachat_config_t *cfg, const char *url, const char *secret)
{
    char             body[512], nonce[64], sig[80];
    size_t           blen;
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(nonce, sizeof(nonce), "selftest-%d-%lld-%ld", (int) getpid(),
             (long long) ts.tv_sec, ts.tv_nsec);

    blen = (size_t) snprintf(body, sizeof(body),
             "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":"
             "\"0\",\"changes\":[{\"field\":\"wachat_selftest\",\"value\":"
             "{\"nonce\":\"%s\"}}]}]}", nonce);

    wachat_doctor_sign(secret, body, blen, sig);

    if (wachat_doctor_post(doc, url, body, blen, sig) != 0) {
        return;
    }

    /* it must come out of the stream wachatd reads */
    if (wachat_doctor_in_stream(st, cfg, nonce)) {
        wachat_doctor_say(doc, "ok", "self-test: a signed POST to %s came "
                          "out of the stream %s", url, cfg->stream);

    } else {
        wachat_doctor_say(doc, "FAIL", "self-test: %s accepted the POST but "
                          "it is not in the stream %s of this Redis: nginx "
                          "writes elsewhere (wachat_redis, wachat_stream)",
                          url, cfg->stream);
    }
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
