/*
 * wachat config: see config.h.
 *
 * One static table names every key with its type, default, range and
 * description.  Parsing, defaults, wachatd -t (the dump), docs/config.md
 * (the doc) and error messages all read it, so they cannot disagree.
 * Defaults are written as file text and go through the same parser as the
 * file, so a default shown in the docs is exactly the one in force.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/log.h"


#define WACHAT_CONF_FILE_MAX    (16 * 1024 * 1024)
#define WACHAT_CONF_SECRET_MAX  (64 * 1024)
#define WACHAT_CONF_ARGS_MAX    64
#define WACHAT_CONF_WHY_MAX     512
#define WACHAT_CONF_SHOW_MAX    60      /* bytes of a value quoted back */

/* flags */
#define WACHAT_CONF_NONEMPTY    0x01    /* "" is refused */
#define WACHAT_CONF_REPEAT      0x02    /* one line per item, appended */


typedef enum {
    WACHAT_CONF_STRING = 0,
    WACHAT_CONF_INT,
    WACHAT_CONF_FLOAT,
    WACHAT_CONF_DURATION,
    WACHAT_CONF_SIZE,
    WACHAT_CONF_BOOL,
    WACHAT_CONF_ENUM,
    WACHAT_CONF_ADDR,
    WACHAT_CONF_SECRET,
    WACHAT_CONF_LIST,
    WACHAT_CONF_AGENT
} wachat_conf_type_e;


/* How a key was written: secrets only come as <name>_file or <name>_env. */
typedef enum {
    WACHAT_CONF_FORM_PLAIN = 0,
    WACHAT_CONF_FORM_FILE,
    WACHAT_CONF_FORM_ENV
} wachat_conf_form_e;


typedef struct wachat_conf_ctx_s  wachat_conf_ctx_t;

/* Checks (and may normalise) a value just stored; fills ctx->why. */
typedef int (*wachat_conf_check_pt)(wachat_conf_ctx_t *ctx, const char *name,
    void *field);


typedef struct {
    const char            *name;
    wachat_conf_type_e     type;
    size_t                 offset;
    const char            *dflt;    /* file text; NULL: not set */
    const char            *shown;   /* the default as docs show it */
    double                 min;
    double                 max;
    const char *const     *values;  /* enum */
    wachat_conf_check_pt   check;
    unsigned               flags;
    const char            *desc;
} wachat_conf_entry_t;


struct wachat_conf_ctx_s {
    wachat_config_t  *cfg;
    const char       *file;
    int               line;         /* 0 while applying defaults */
    int              *set_line;     /* per entry: line that set it */
    int              *set_form;
    char              why[WACHAT_CONF_WHY_MAX];
};


static int wachat_conf_check_http_url(wachat_conf_ctx_t *ctx,
    const char *name, void *field);
static int wachat_conf_check_smtp_url(wachat_conf_ctx_t *ctx,
    const char *name, void *field);
static int wachat_conf_check_email(wachat_conf_ctx_t *ctx,
    const char *name, void *field);


static const char *const  wachat_conf_backends[] = { "kb", "openai", NULL };
static const char *const  wachat_conf_outbounds[] = {
    "graph", "sandbox", NULL
};
static const char *const  wachat_conf_levels[] = {
    "debug", "info", "notice", "warning", NULL
};


#define WACHAT_F(field)  offsetof(wachat_config_t, field)

#define WACHAT_STRING(name, field, dflt, shown, flags, check, desc)         \
    { name, WACHAT_CONF_STRING, WACHAT_F(field), dflt, shown, 0, 0, NULL,   \
      check, flags, desc }

#define WACHAT_NUMBER(name, type, field, dflt, min, max, desc)              \
    { name, type, WACHAT_F(field), dflt, NULL, min, max, NULL, NULL, 0,     \
      desc }

#define WACHAT_INT(name, field, dflt, min, max, desc)                       \
    WACHAT_NUMBER(name, WACHAT_CONF_INT, field, dflt, min, max, desc)

#define WACHAT_FLOAT(name, field, dflt, min, max, desc)                     \
    WACHAT_NUMBER(name, WACHAT_CONF_FLOAT, field, dflt, min, max, desc)

/* min and max in milliseconds */
#define WACHAT_DURATION(name, field, dflt, min, max, desc)                  \
    WACHAT_NUMBER(name, WACHAT_CONF_DURATION, field, dflt, min, max, desc)

#define WACHAT_SIZE(name, field, dflt, min, max, desc)                      \
    WACHAT_NUMBER(name, WACHAT_CONF_SIZE, field, dflt, min, max, desc)

#define WACHAT_BOOL(name, field, dflt, desc)                                \
    { name, WACHAT_CONF_BOOL, WACHAT_F(field), dflt, NULL, 0, 0, NULL,      \
      NULL, 0, desc }

#define WACHAT_ENUM(name, field, dflt, values, desc)                        \
    { name, WACHAT_CONF_ENUM, WACHAT_F(field), dflt, NULL, 0, 0, values,    \
      NULL, 0, desc }

#define WACHAT_OTHER(name, type, field, dflt, flags, desc)                  \
    { name, type, WACHAT_F(field), dflt, NULL, 0, 0, NULL, NULL, flags,     \
      desc }

#define WACHAT_SEC   1000.0
#define WACHAT_MIN   (60 * WACHAT_SEC)
#define WACHAT_HOUR  (60 * WACHAT_MIN)


/*
 * The keys, in the order the dump and the docs list them.  A secret entry
 * "x" is written as x_file or x_env; the doc's type column, ranges and
 * defaults are all derived from here.
 */
static const wachat_conf_entry_t  wachat_conf_table[] = {

    /* Redis and the event stream */

    WACHAT_OTHER("redis", WACHAT_CONF_ADDR, redis, "127.0.0.1:6379",
        WACHAT_CONF_NONEMPTY,
        "Redis server: host:port, [IPv6]:port or unix:/path/to/socket."),

    WACHAT_STRING("redis_user", redis_user, "", NULL, 0, NULL,
        "Redis ACL user (empty: the default user)."),

    WACHAT_OTHER("redis_password", WACHAT_CONF_SECRET, redis_password,
        NULL, 0, "Redis password, sent with AUTH."),

    WACHAT_INT("redis_db", redis_db, "0", 0, 65535,
        "Redis database number (Redis Cluster has only 0)."),

    WACHAT_STRING("stream", stream, "wachat:events", NULL,
        WACHAT_CONF_NONEMPTY, NULL,
        "Stream the nginx module writes events to (its wachat_stream)."),

    WACHAT_STRING("group", group, "wachatd", NULL, WACHAT_CONF_NONEMPTY,
        NULL,
        "Consumer group shared by every wachatd process; created if "
        "missing."),

    WACHAT_STRING("consumer", consumer, NULL, "<hostname>-<pid>",
        WACHAT_CONF_NONEMPTY, NULL,
        "This process's name in the group; unique per process."),

    WACHAT_DURATION("claim_idle", claim_idle_ms, "60s", WACHAT_SEC,
        24 * WACHAT_HOUR,
        "Pending entries idle longer than this (their consumer died) are "
        "reclaimed by another consumer."),

    /* answering */

    WACHAT_ENUM("backend", backend, "kb", wachat_conf_backends,
        "How replies are made: kb answers from the knowledge base alone; "
        "openai asks an OpenAI-compatible model, grounded on the knowledge "
        "base."),

    WACHAT_STRING("kb", kb, "conf/kb.md", NULL, WACHAT_CONF_NONEMPTY, NULL,
        "Knowledge base file (Markdown Q&A entries)."),

    WACHAT_FLOAT("kb_min_score", kb_min_score, "0.45", 0, 1,
        "Confidence threshold, 0..1 (the share of the question's words, "
        "weighted by rarity, that the best entry covers): below it the "
        "customer gets fallback_text."),

    WACHAT_STRING("fallback_text", fallback_text,
        "I'm not sure \xe2\x80\x94 shall I connect you to a person?", NULL,
        WACHAT_CONF_NONEMPTY, NULL,
        "Reply when nothing in the knowledge base matches well enough; "
        "sent with a button to reach a person."),

    /* sending */

    WACHAT_ENUM("outbound", outbound, "graph", wachat_conf_outbounds,
        "graph sends through the WhatsApp Graph API; sandbox only appends "
        "replies to outbox_stream, to try a knowledge base safely."),

    WACHAT_STRING("outbox_stream", outbox_stream, "wachat:outbox", NULL,
        WACHAT_CONF_NONEMPTY, NULL,
        "Stream that receives the replies in sandbox mode."),

    WACHAT_STRING("dead_stream", dead_stream, "wachat:dead", NULL,
        WACHAT_CONF_NONEMPTY, NULL,
        "Stream of messages that finally failed to send, with the reason "
        "(wachatctl dead, wachatctl retry)."),

    WACHAT_STRING("graph_api_url", graph_api_url,
        "https://graph.facebook.com/v25.0", NULL, WACHAT_CONF_NONEMPTY,
        wachat_conf_check_http_url,
        "Graph API base URL, version included."),

    WACHAT_OTHER("graph_token", WACHAT_CONF_SECRET, graph_token, NULL, 0,
        "Graph API access token (a permanent system-user token); required "
        "with outbound graph."),

    WACHAT_DURATION("graph_timeout", graph_timeout_ms, "10s",
        100, 10 * WACHAT_MIN,
        "Timeout of one Graph API call."),

    WACHAT_INT("graph_max_retries", graph_max_retries, "5", 0, 100,
        "Retries of a Graph API call after a 429, a 5xx or a network "
        "error, with exponential backoff and jitter."),

    WACHAT_INT("rate_limit", rate_limit, "80", 1, 100000,
        "Messages per second per business number (a token bucket shared "
        "through Redis)."),

    WACHAT_BOOL("mark_read", mark_read, "no",
        "Mark each inbound message read and show the typing indicator "
        "while its answer is prepared."),

    /* the OpenAI-compatible backend */

    WACHAT_STRING("llm_url", llm_url, "", NULL, 0,
        wachat_conf_check_http_url,
        "Base URL of an OpenAI-compatible API; requests go to "
        "{llm_url}/chat/completions. Required with backend openai."),

    WACHAT_STRING("llm_model", llm_model, "", NULL, 0, NULL,
        "Model name sent to the API. Required with backend openai."),

    WACHAT_OTHER("llm_key", WACHAT_CONF_SECRET, llm_key, NULL, 0,
        "API key, sent as a bearer token (optional: local servers often "
        "need none)."),

    WACHAT_DURATION("llm_timeout", llm_timeout_ms, "20s",
        100, 10 * WACHAT_MIN,
        "Timeout of one LLM call; on timeout or error the kb answer is "
        "sent instead."),

    WACHAT_INT("llm_max_tokens", llm_max_tokens, "300", 1, 100000,
        "max_tokens of a completion."),

    WACHAT_FLOAT("llm_temperature", llm_temperature, "0.2", 0, 2,
        "Sampling temperature."),

    WACHAT_STRING("llm_system_prompt", llm_system_prompt,
        "You answer WhatsApp messages for a business. Use only the "
        "knowledge base passages given. If they do not answer the "
        "question, say so briefly and offer to connect the customer to a "
        "person. Reply in the customer's language, in a few sentences.",
        NULL, WACHAT_CONF_NONEMPTY, NULL,
        "System prompt; the knowledge base passages and the conversation "
        "follow it."),

    WACHAT_INT("llm_history", llm_history, "6", 0, 100,
        "Past turns of the conversation sent with the question."),

    WACHAT_INT("llm_passages", llm_passages, "3", 1, 20,
        "Best-ranked knowledge base entries sent with the question."),

    /* the daemon */

    WACHAT_INT("concurrency", concurrency, "64", 1, 10000,
        "Most HTTP calls (LLM and Graph API) in flight at once."),

    WACHAT_SIZE("http_max_response", http_max_response, "1mb",
        4096, 1024.0 * 1024 * 1024,
        "Largest HTTP response body accepted from the Graph API or the "
        "LLM."),

    WACHAT_INT("history_max", history_max, "200", 1, 100000,
        "Entries kept in each conversation's history (messages, replies, "
        "statuses)."),

    WACHAT_DURATION("window", window_ms, "24h", WACHAT_MIN,
        7 * 24 * WACHAT_HOUR,
        "Replies only go out within this time of the inbound message's "
        "own timestamp (WhatsApp's customer service window is 24h)."),

    WACHAT_DURATION("retention", retention_ms, "90d", WACHAT_HOUR,
        3650 * 24 * WACHAT_HOUR,
        "A conversation nobody writes in for this long is deleted from "
        "Redis (its history, statuses and profile), so memory stays "
        "bounded."),

    WACHAT_DURATION("shutdown_timeout", shutdown_timeout_ms, "10s",
        0, WACHAT_HOUR,
        "On SIGTERM, how long in-flight work may finish; what is left "
        "stays pending in Redis for the next start."),

    WACHAT_STRING("logfile", logfile, "", NULL, 0, NULL,
        "Log file (empty: stderr); reopened on SIGHUP."),

    WACHAT_ENUM("verbosity", verbosity, "notice", wachat_conf_levels,
        "Least important log level written."),

    /* agents and hand-over */

    WACHAT_OTHER("api_listen", WACHAT_CONF_ADDR, api_listen, "", 0,
        "Agent API address, host:port or unix:/path (empty: off)."),

    WACHAT_OTHER("handoff_commands", WACHAT_CONF_LIST, handoff_commands,
        "/live_agent", 0,
        "Customer messages that ask for a person (besides the hand-over "
        "button), separated by spaces."),

    WACHAT_STRING("handoff_text", handoff_text,
        "Connecting you to a person \xe2\x80\x94 one moment, please.", NULL,
        WACHAT_CONF_NONEMPTY, NULL,
        "Sent when a customer asks for a person and an agent is online."),

    WACHAT_STRING("handoff_offline_text", handoff_offline_text,
        "Nobody is available right now. A person will answer here as soon "
        "as possible, usually within one working day.", NULL,
        WACHAT_CONF_NONEMPTY, NULL,
        "Sent when a customer asks for a person and no agent is online: "
        "say when to expect an answer."),

    WACHAT_STRING("closing_text", closing_text,
        "Thanks for talking with us! I'm the assistant again: ask me "
        "anything, or tap \"Talk to a person\" any time.", NULL, 0, NULL,
        "Sent when an agent (or the idle timeout) resolves a conversation; "
        "empty: nothing is sent."),

    WACHAT_DURATION("notify_period", notify_period_ms, "30m",
        WACHAT_SEC, 7 * 24 * WACHAT_HOUR,
        "At most one e-mail per conversation per period; sent again if the "
        "conversation is still waiting after it."),

    WACHAT_STRING("console_url", console_url, "", NULL, 0, NULL,
        "Public URL of the agent console, for the links in e-mails (e.g. "
        "https://bot.example.com/agent/)."),

    WACHAT_DURATION("agent_idle_timeout", agent_idle_timeout_ms, "30m",
        WACHAT_MIN, 7 * 24 * WACHAT_HOUR,
        "A conversation held by an agent with no message either way for "
        "this long goes back to the AI."),

    WACHAT_DURATION("agent_heartbeat_timeout", agent_heartbeat_timeout_ms,
        "60s", 5 * WACHAT_SEC, WACHAT_HOUR,
        "An agent whose console has not checked in for this long counts "
        "as offline."),

    WACHAT_STRING("smtp_url", smtp_url, "", NULL, 0,
        wachat_conf_check_smtp_url,
        "Mail server for agent notifications: smtp://host[:port] or "
        "smtps://host[:port] (empty: no e-mail)."),

    WACHAT_STRING("smtp_from", smtp_from, "", NULL, 0,
        wachat_conf_check_email,
        "Sender address of notification e-mails; required with smtp_url."),

    WACHAT_STRING("smtp_user", smtp_user, "", NULL, 0, NULL,
        "SMTP login (empty: no authentication)."),

    WACHAT_OTHER("smtp_password", WACHAT_CONF_SECRET, smtp_password, NULL,
        0, "SMTP password; needs smtp_user."),

    WACHAT_OTHER("agent", WACHAT_CONF_AGENT, agents, NULL,
        WACHAT_CONF_REPEAT,
        "A human agent, one line each; notify=on e-mails them when a "
        "customer asks for a person and nobody is online."),
};


#define WACHAT_CONF_NKEYS \
    (sizeof(wachat_conf_table) / sizeof(wachat_conf_table[0]))

/* verbosity values are log levels, in the same order */
_Static_assert(WACHAT_LOG_DEBUG == 0 && WACHAT_LOG_WARNING == 3,
               "verbosity values must match log levels");


static wachat_config_t *wachat_conf_run(const char *file, const char *text,
    size_t len, char *err, size_t errlen);
static int wachat_conf_line(wachat_conf_ctx_t *ctx, char *line, size_t len,
    char *buf);
static int wachat_conf_split(wachat_conf_ctx_t *ctx, const char *s,
    size_t len, char *buf, char **argv, int *argc);
static const wachat_conf_entry_t *wachat_conf_lookup(const char *key,
    int *form);
static const char *wachat_conf_suggest(const char *key, char *buf,
    size_t size);
static int wachat_conf_set(wachat_conf_ctx_t *ctx,
    const wachat_conf_entry_t *e, int form, int argc, char **argv);
static int wachat_conf_set_scalar(wachat_conf_ctx_t *ctx,
    const wachat_conf_entry_t *e, void *field, const char *v);
static int wachat_conf_set_secret(wachat_conf_ctx_t *ctx,
    const wachat_conf_entry_t *e, wachat_secret_t *s, int form,
    const char *v);
static int wachat_conf_set_agent(wachat_conf_ctx_t *ctx,
    wachat_agents_t *agents, int argc, char **argv);
static int wachat_conf_finish(wachat_conf_ctx_t *ctx);
static int wachat_conf_parse_int(const char *v, long long *out);
static int wachat_conf_parse_duration(const char *v, long long *ms);
static int wachat_conf_parse_size(const char *v, long long *bytes);
static int wachat_conf_parse_addr(const char *v, wachat_addr_t *addr);
static int wachat_conf_utf8_valid(const unsigned char *p, size_t len);
static const char *wachat_conf_show(const char *v, char *buf, size_t size);
static void wachat_conf_why(wachat_conf_ctx_t *ctx, const char *fmt, ...)
    WACHAT_LOG_PRINTF(2, 3);
static void wachat_conf_error(char *err, size_t errlen, const char *file,
    int line, const char *fmt, ...) WACHAT_LOG_PRINTF(5, 6);
static char *wachat_conf_strdup(const char *s);
static void wachat_conf_wipe(char *s);
static void wachat_conf_free_field(const wachat_conf_entry_t *e,
    void *field);
static void wachat_conf_fmt_duration(long long ms, char *buf, size_t size);
static void wachat_conf_fmt_size(long long bytes, char *buf, size_t size);
static void wachat_conf_fmt_addr(const wachat_addr_t *a, char *buf,
    size_t size);
static void wachat_conf_put_value(FILE *out, const char *v);
static void wachat_conf_doc_type(const wachat_conf_entry_t *e, char *buf,
    size_t size);
static void wachat_conf_doc_cell(FILE *out, const char *s);


/* loading */

wachat_config_t *
wachat_config_load(const char *path, char *err, size_t errlen)
{
    int               fd;
    char             *text;
    size_t            len;
    ssize_t           n;
    struct stat       st;
    wachat_config_t  *cfg;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }

    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }

    if (st.st_size > WACHAT_CONF_FILE_MAX) {
        snprintf(err, errlen, "%s: larger than %d bytes", path,
                 WACHAT_CONF_FILE_MAX);
        close(fd);
        return NULL;
    }

    text = malloc((size_t) st.st_size + 1);
    if (text == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return NULL;
    }

    len = 0;

    /* the file may change under us: read what is there, within bounds */
    while (len < (size_t) st.st_size) {
        n = read(fd, text + len, (size_t) st.st_size - len);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n == -1) {
            snprintf(err, errlen, "cannot read %s: %s", path,
                     strerror(errno));
            free(text);
            close(fd);
            return NULL;
        }

        if (n == 0) {
            break;
        }

        len += (size_t) n;
    }

    close(fd);

    cfg = wachat_conf_run(path, text, len, err, errlen);
    free(text);

    return cfg;
}


wachat_config_t *
wachat_config_parse(const char *name, const char *text, size_t len,
    char *err, size_t errlen)
{
    return wachat_conf_run(name, text, len, err, errlen);
}


static wachat_config_t *
wachat_conf_run(const char *file, const char *text, size_t len, char *err,
    size_t errlen)
{
    int                         form;
    int                         set_line[WACHAT_CONF_NKEYS];
    int                         set_form[WACHAT_CONF_NKEYS];
    char                       *copy, *buf, *line, *end, *nl;
    char                       *argv[1];
    size_t                      i;
    wachat_config_t            *cfg;
    wachat_conf_ctx_t           ctx;
    const wachat_conf_entry_t  *e;

    cfg = calloc(1, sizeof(wachat_config_t));
    copy = malloc(len + 1);
    buf = malloc(len + 1);

    if (cfg == NULL || copy == NULL || buf == NULL) {
        snprintf(err, errlen, "%s: out of memory", file);
        goto failed;
    }

    memset(set_line, 0, sizeof(set_line));
    memset(set_form, 0, sizeof(set_form));

    ctx.cfg = cfg;
    ctx.file = file;
    ctx.line = 0;
    ctx.set_line = set_line;
    ctx.set_form = set_form;

    cfg->path = wachat_conf_strdup(file);
    if (cfg->path == NULL) {
        snprintf(err, errlen, "%s: out of memory", file);
        goto failed;
    }

    /* defaults, through the same parser as the file */
    for (i = 0; i < WACHAT_CONF_NKEYS; i++) {
        e = &wachat_conf_table[i];

        if (e->dflt == NULL) {
            continue;
        }

        argv[0] = (char *) e->dflt;
        form = WACHAT_CONF_FORM_PLAIN;

        if (wachat_conf_set(&ctx, e, form, 1, argv) != 0) {
            snprintf(err, errlen, "built-in default of %s: %s", e->name,
                     ctx.why);
            goto failed;
        }
    }

    /* editors on some systems start a UTF-8 file with a BOM */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3;
        len -= 3;
    }

    memcpy(copy, text, len);
    copy[len] = '\0';

    line = copy;
    end = copy + len;

    while (line < end) {
        ctx.line++;

        nl = memchr(line, '\n', (size_t) (end - line));
        if (nl == NULL) {
            nl = end;
        }

        if (wachat_conf_line(&ctx, line, (size_t) (nl - line), buf) != 0) {
            wachat_conf_error(err, errlen, file, ctx.line, "%s", ctx.why);
            goto failed;
        }

        line = nl + 1;
    }

    if (wachat_conf_finish(&ctx) != 0) {
        wachat_conf_error(err, errlen, file, ctx.line, "%s", ctx.why);
        goto failed;
    }

    free(copy);
    free(buf);

    return cfg;

failed:

    free(copy);
    free(buf);
    wachat_config_free(cfg);

    return NULL;
}


/* One line: checks its bytes, splits it, finds the key, sets it. */
static int
wachat_conf_line(wachat_conf_ctx_t *ctx, char *line, size_t len, char *buf)
{
    int                         argc, form;
    char                       *argv[WACHAT_CONF_ARGS_MAX];
    char                        show[WACHAT_CONF_SHOW_MAX + 16];
    char                        near[64];
    size_t                      i;
    const char                 *hint;
    unsigned char               c;
    const wachat_conf_entry_t  *e;

    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) line[i];

        /* a raw control byte is a mistake, and would not survive a dump */
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            wachat_conf_why(ctx, "control character 0x%02x in the line "
                            "(write \\n or \\t inside quotes)", c);
            return -1;
        }
    }

    if (!wachat_conf_utf8_valid((unsigned char *) line, len)) {
        wachat_conf_why(ctx, "the line is not valid UTF-8");
        return -1;
    }

    if (wachat_conf_split(ctx, line, len, buf, argv, &argc) != 0) {
        return -1;
    }

    if (argc == 0) {
        return 0;
    }

    e = wachat_conf_lookup(argv[0], &form);

    if (e == NULL) {
        hint = wachat_conf_suggest(argv[0], near, sizeof(near));

        if (hint != NULL) {
            wachat_conf_why(ctx, "unknown key %s (did you mean \"%s\"?)",
                            wachat_conf_show(argv[0], show, sizeof(show)),
                            hint);
        } else {
            wachat_conf_why(ctx, "unknown key %s",
                            wachat_conf_show(argv[0], show, sizeof(show)));
        }

        return -1;
    }

    if (e->type == WACHAT_CONF_SECRET && form == WACHAT_CONF_FORM_PLAIN) {
        /* never echo the value: it is the secret */
        wachat_conf_why(ctx, "%s: secrets are not accepted inline; use "
                        "%s_file <path> or %s_env <VARIABLE>",
                        e->name, e->name, e->name);
        return -1;
    }

    i = (size_t) (e - wachat_conf_table);

    if (ctx->set_line[i] != 0 && !(e->flags & WACHAT_CONF_REPEAT)) {
        if (ctx->set_form[i] != form) {
            wachat_conf_why(ctx, "%s: %s_%s is already set at line %d "
                            "(use one of them)", argv[0], e->name,
                            ctx->set_form[i] == WACHAT_CONF_FORM_FILE
                            ? "file" : "env", ctx->set_line[i]);
        } else {
            wachat_conf_why(ctx, "%s: already set at line %d (each key may "
                            "appear once)", argv[0], ctx->set_line[i]);
        }

        return -1;
    }

    if (wachat_conf_set(ctx, e, form, argc - 1, argv + 1) != 0) {
        return -1;
    }

    ctx->set_line[i] = ctx->line;
    ctx->set_form[i] = form;

    return 0;
}


/*
 * Words separated by blanks.  Double quotes group, with \" \\ \n \t \r
 * escapes inside; a quoted part may sit inside a word (name="Ann Lee").
 * A word starting with # starts a comment.  Words land in buf, which is
 * as long as the line: unescaping never makes text longer.
 */
static int
wachat_conf_split(wachat_conf_ctx_t *ctx, const char *s, size_t len,
    char *buf, char **argv, int *argc)
{
    int          quoted;
    char        *out;
    const char  *p, *end;

    p = s;
    end = s + len;
    out = buf;
    *argc = 0;

    for ( ;; ) {
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (p == end || *p == '#') {
            return 0;
        }

        if (*argc == WACHAT_CONF_ARGS_MAX) {
            wachat_conf_why(ctx, "more than %d words on one line",
                            WACHAT_CONF_ARGS_MAX);
            return -1;
        }

        argv[(*argc)++] = out;
        quoted = 0;

        while (p < end && (quoted || (*p != ' ' && *p != '\t'))) {

            if (*p == '"') {
                quoted = !quoted;
                p++;
                continue;
            }

            if (quoted && *p == '\\') {
                if (p + 1 == end) {
                    break;
                }

                switch (p[1]) {
                case '"':
                case '\\':
                    *out++ = p[1];
                    break;
                case 'n':
                    *out++ = '\n';
                    break;
                case 't':
                    *out++ = '\t';
                    break;
                case 'r':
                    *out++ = '\r';
                    break;
                default:
                    wachat_conf_why(ctx, "unknown escape \\%c in a quoted "
                                    "value (use \\\" \\\\ \\n \\t)", p[1]);
                    return -1;
                }

                p += 2;
                continue;
            }

            *out++ = *p++;
        }

        if (quoted) {
            wachat_conf_why(ctx, "unterminated quoted value");
            return -1;
        }

        *out++ = '\0';
    }
}


static const wachat_conf_entry_t *
wachat_conf_lookup(const char *key, int *form)
{
    size_t                      i, n, klen;
    const wachat_conf_entry_t  *e;

    klen = strlen(key);

    for (i = 0; i < WACHAT_CONF_NKEYS; i++) {
        e = &wachat_conf_table[i];

        if (strcmp(key, e->name) == 0) {
            *form = WACHAT_CONF_FORM_PLAIN;
            return e;
        }

        if (e->type != WACHAT_CONF_SECRET) {
            continue;
        }

        n = strlen(e->name);

        if (klen <= n || strncmp(key, e->name, n) != 0) {
            continue;
        }

        if (strcmp(key + n, "_file") == 0) {
            *form = WACHAT_CONF_FORM_FILE;
            return e;
        }

        if (strcmp(key + n, "_env") == 0) {
            *form = WACHAT_CONF_FORM_ENV;
            return e;
        }
    }

    return NULL;
}


/* Optimal string alignment distance, ignoring case, capped at 9. */
static int
wachat_conf_distance(const char *a, const char *b)
{
    int     d[33][33], cost, v;
    size_t  i, j, la, lb;

    la = strlen(a);
    lb = strlen(b);

    if (la > 32 || lb > 32) {
        return 9;
    }

    for (i = 0; i <= la; i++) {
        d[i][0] = (int) i;
    }

    for (j = 0; j <= lb; j++) {
        d[0][j] = (int) j;
    }

    for (i = 1; i <= la; i++) {
        for (j = 1; j <= lb; j++) {
            cost = tolower((unsigned char) a[i - 1])
                   != tolower((unsigned char) b[j - 1]);

            v = d[i - 1][j] + 1;

            if (d[i][j - 1] + 1 < v) {
                v = d[i][j - 1] + 1;
            }

            if (d[i - 1][j - 1] + cost < v) {
                v = d[i - 1][j - 1] + cost;
            }

            if (i > 1 && j > 1 && a[i - 1] == b[j - 2]
                && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
            {
                v = d[i - 2][j - 2] + 1;
            }

            d[i][j] = v;
        }
    }

    return d[la][lb] > 9 ? 9 : d[la][lb];
}


/* The nearest key name, into buf, if near enough to be a typo. */
static const char *
wachat_conf_suggest(const char *key, char *buf, size_t size)
{
    int                         d, best, limit, k;
    char                        name[64];
    size_t                      i;
    const wachat_conf_entry_t  *e;

    best = 9;
    limit = strlen(key) <= 4 ? 1 : 2;

    for (i = 0; i < WACHAT_CONF_NKEYS; i++) {
        e = &wachat_conf_table[i];

        for (k = 0; k < 2; k++) {
            if (e->type == WACHAT_CONF_SECRET) {
                snprintf(name, sizeof(name), "%s_%s", e->name,
                         k == 0 ? "file" : "env");
            } else if (k == 0) {
                snprintf(name, sizeof(name), "%s", e->name);
            } else {
                break;
            }

            d = wachat_conf_distance(key, name);

            if (d < best) {
                best = d;
                snprintf(buf, size, "%s", name);
            }
        }
    }

    return best <= limit ? buf : NULL;
}


/* setting values */

static int
wachat_conf_set(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    int form, int argc, char **argv)
{
    int              i;
    void            *field;
    wachat_list_t    list;

    field = (char *) ctx->cfg + e->offset;

    switch (e->type) {

    case WACHAT_CONF_AGENT:
        return wachat_conf_set_agent(ctx, field, argc, argv);

    case WACHAT_CONF_LIST:
        if (argc == 0) {
            wachat_conf_why(ctx, "%s: missing value", e->name);
            return -1;
        }

        list.n = 0;
        list.items = calloc((size_t) argc, sizeof(char *));
        if (list.items == NULL) {
            wachat_conf_why(ctx, "out of memory");
            return -1;
        }

        for (i = 0; i < argc; i++) {
            if (argv[i][0] == '\0') {
                wachat_conf_free_field(e, &list);
                wachat_conf_why(ctx, "%s: an empty word is not allowed",
                                e->name);
                return -1;
            }

            list.items[i] = wachat_conf_strdup(argv[i]);
            if (list.items[i] == NULL) {
                wachat_conf_free_field(e, &list);
                wachat_conf_why(ctx, "out of memory");
                return -1;
            }

            list.n++;
        }

        wachat_conf_free_field(e, field);
        *(wachat_list_t *) field = list;
        return 0;

    default:
        break;
    }

    if (argc == 0) {
        wachat_conf_why(ctx, "%s%s: missing value", e->name,
                        form == WACHAT_CONF_FORM_FILE ? "_file"
                        : form == WACHAT_CONF_FORM_ENV ? "_env" : "");
        return -1;
    }

    if (argc > 1) {
        wachat_conf_why(ctx, "%s%s: takes one value, got %d (quote a value "
                        "that contains spaces)", e->name,
                        form == WACHAT_CONF_FORM_FILE ? "_file"
                        : form == WACHAT_CONF_FORM_ENV ? "_env" : "",
                        argc);
        return -1;
    }

    if (e->type == WACHAT_CONF_SECRET) {
        return wachat_conf_set_secret(ctx, e, field, form, argv[0]);
    }

    if (wachat_conf_set_scalar(ctx, e, field, argv[0]) != 0) {
        return -1;
    }

    if (e->check != NULL && e->check(ctx, e->name, field) != 0) {
        return -1;
    }

    return 0;
}


static int
wachat_conf_set_scalar(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    void *field, const char *v)
{
    int            i;
    char          *s, *end, show[WACHAT_CONF_SHOW_MAX + 16];
    char           lo[32], hi[32];
    double         f;
    long long      n;
    wachat_addr_t  addr;

    wachat_conf_show(v, show, sizeof(show));

    if (v[0] == '\0' && (e->flags & WACHAT_CONF_NONEMPTY)) {
        wachat_conf_why(ctx, "%s: must not be empty", e->name);
        return -1;
    }

    switch (e->type) {

    case WACHAT_CONF_STRING:
        s = wachat_conf_strdup(v);
        if (s == NULL) {
            wachat_conf_why(ctx, "out of memory");
            return -1;
        }

        free(*(char **) field);
        *(char **) field = s;
        return 0;

    case WACHAT_CONF_INT:
        if (wachat_conf_parse_int(v, &n) != 0) {
            wachat_conf_why(ctx, "%s: %s is not an integer", e->name, show);
            return -1;
        }

        if (n < e->min || n > e->max) {
            wachat_conf_why(ctx, "%s: %s is out of range (%.0f..%.0f)",
                            e->name, show, e->min, e->max);
            return -1;
        }

        *(int *) field = (int) n;
        return 0;

    case WACHAT_CONF_FLOAT:
        /* plain decimal only: strtod would also take "inf" and hex */
        errno = 0;
        f = strtod(v, &end);

        if (v[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(f)
            || strspn(v, "0123456789.eE+-") != strlen(v))
        {
            wachat_conf_why(ctx, "%s: %s is not a number", e->name, show);
            return -1;
        }

        if (f < e->min || f > e->max) {
            wachat_conf_why(ctx, "%s: %s is out of range (%g..%g)",
                            e->name, show, e->min, e->max);
            return -1;
        }

        *(double *) field = f;
        return 0;

    case WACHAT_CONF_DURATION:
        if (wachat_conf_parse_duration(v, &n) != 0) {
            wachat_conf_why(ctx, "%s: %s is not a duration (use 500ms, 20s, "
                            "2m)", e->name, show);
            return -1;
        }

        if (n < e->min || n > e->max) {
            wachat_conf_fmt_duration((long long) e->min, lo, sizeof(lo));
            wachat_conf_fmt_duration((long long) e->max, hi, sizeof(hi));
            wachat_conf_why(ctx, "%s: %s is out of range (%s..%s)", e->name,
                            show, lo, hi);
            return -1;
        }

        *(long long *) field = n;
        return 0;

    case WACHAT_CONF_SIZE:
        if (wachat_conf_parse_size(v, &n) != 0) {
            wachat_conf_why(ctx, "%s: %s is not a size (use 4096, 64k, "
                            "1mb, 1g)", e->name, show);
            return -1;
        }

        if (n < e->min || n > e->max) {
            wachat_conf_fmt_size((long long) e->min, lo, sizeof(lo));
            wachat_conf_fmt_size((long long) e->max, hi, sizeof(hi));
            wachat_conf_why(ctx, "%s: %s is out of range (%s..%s)", e->name,
                            show, lo, hi);
            return -1;
        }

        *(size_t *) field = (size_t) n;
        return 0;

    case WACHAT_CONF_BOOL:
        if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0) {
            *(int *) field = 1;
            return 0;
        }

        if (strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0) {
            *(int *) field = 0;
            return 0;
        }

        wachat_conf_why(ctx, "%s: %s is not yes or no (also on, off)",
                        e->name, show);
        return -1;

    case WACHAT_CONF_ENUM:
        for (i = 0; e->values[i] != NULL; i++) {
            if (strcmp(v, e->values[i]) == 0) {
                *(int *) field = i;
                return 0;
            }
        }

        n = snprintf(ctx->why, sizeof(ctx->why), "%s: %s is not one of ",
                     e->name, show);

        for (i = 0; e->values[i] != NULL && n < (long long) sizeof(ctx->why);
             i++)
        {
            n += snprintf(ctx->why + n, sizeof(ctx->why) - (size_t) n,
                          "%s%s", i > 0 ? ", " : "", e->values[i]);
        }

        return -1;

    case WACHAT_CONF_ADDR:
        memset(&addr, 0, sizeof(addr));

        if (v[0] != '\0' && wachat_conf_parse_addr(v, &addr) != 0) {
            wachat_conf_why(ctx, "%s: %s is not host:port or unix:/path",
                            e->name, show);
            return -1;
        }

        wachat_conf_free_field(e, field);
        *(wachat_addr_t *) field = addr;
        return 0;

    default:
        wachat_conf_why(ctx, "%s: cannot be set this way", e->name);
        return -1;
    }
}


/*
 * <name>_file: the file's content, trailing newlines removed; a file that
 * any user may read is refused.  <name>_env: an environment variable.
 * Messages name the file or variable, never the value.
 */
static int
wachat_conf_set_secret(wachat_conf_ctx_t *ctx, const wachat_conf_entry_t *e,
    wachat_secret_t *s, int form, const char *v)
{
    int           fd;
    char         *value, *source, show[WACHAT_CONF_SHOW_MAX + 16];
    size_t        len, i;
    ssize_t       n;
    const char   *key, *env;
    struct stat   st;

    key = form == WACHAT_CONF_FORM_FILE ? "file" : "env";
    wachat_conf_show(v, show, sizeof(show));

    if (v[0] == '\0') {
        wachat_conf_why(ctx, "%s_%s: must not be empty", e->name, key);
        return -1;
    }

    if (form == WACHAT_CONF_FORM_ENV) {
        if (!(isalpha((unsigned char) v[0]) || v[0] == '_')
            || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789_") != strlen(v))
        {
            wachat_conf_why(ctx, "%s_env: %s is not a variable name",
                            e->name, show);
            return -1;
        }

        env = getenv(v);

        if (env == NULL) {
            wachat_conf_why(ctx, "%s_env: environment variable %s is not "
                            "set", e->name, v);
            return -1;
        }

        value = wachat_conf_strdup(env);
        len = value != NULL ? strlen(value) : 0;

    } else {
        /* O_NONBLOCK: a FIFO must not hang the load; it is refused below */
        fd = open(v, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd == -1) {
            wachat_conf_why(ctx, "%s_file: cannot open %s: %s", e->name, v,
                            strerror(errno));
            return -1;
        }

        if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
            wachat_conf_why(ctx, "%s_file: %s is not a regular file",
                            e->name, v);
            close(fd);
            return -1;
        }

        if (st.st_mode & S_IROTH) {
            wachat_conf_why(ctx, "%s_file: %s is readable by every user "
                            "(mode %04o); run chmod o-r on it", e->name, v,
                            (unsigned) (st.st_mode & 07777));
            close(fd);
            return -1;
        }

        if (st.st_size > WACHAT_CONF_SECRET_MAX) {
            wachat_conf_why(ctx, "%s_file: %s is larger than %d bytes",
                            e->name, v, WACHAT_CONF_SECRET_MAX);
            close(fd);
            return -1;
        }

        value = malloc((size_t) st.st_size + 1);
        len = 0;

        while (value != NULL && len < (size_t) st.st_size) {
            n = read(fd, value + len, (size_t) st.st_size - len);

            if (n == -1 && errno == EINTR) {
                continue;
            }

            if (n == -1) {
                wachat_conf_why(ctx, "%s_file: cannot read %s: %s", e->name,
                                v, strerror(errno));
                wachat_conf_wipe(value);
                free(value);
                close(fd);
                return -1;
            }

            if (n == 0) {
                break;
            }

            len += (size_t) n;
        }

        close(fd);

        if (value != NULL) {
            value[len] = '\0';
        }
    }

    if (value == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    while (len > 0 && (value[len - 1] == '\n' || value[len - 1] == '\r')) {
        value[--len] = '\0';
    }

    if (len == 0) {
        wachat_conf_why(ctx, "%s_%s: %s %s is empty", e->name, key,
                        form == WACHAT_CONF_FORM_FILE ? "file" : "variable",
                        v);
        free(value);
        return -1;
    }

    /* it goes into HTTP headers and protocol lines: one line, no NUL */
    for (i = 0; i < len; i++) {
        if (value[i] == '\n' || value[i] == '\r' || value[i] == '\0') {
            wachat_conf_why(ctx, "%s_%s: the secret in %s %s has more than "
                            "one line or a NUL byte", e->name, key,
                            form == WACHAT_CONF_FORM_FILE
                            ? "file" : "variable", v);
            wachat_conf_wipe(value);
            free(value);
            return -1;
        }
    }

    len = strlen(key) + 1 + strlen(v) + 1;
    source = malloc(len);
    if (source == NULL) {
        wachat_conf_wipe(value);
        free(value);
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    snprintf(source, len, "%s %s", key, v);

    if (s->value != NULL) {
        wachat_conf_wipe(s->value);
    }

    free(s->value);
    free(s->source);

    s->value = value;
    s->source = source;

    return 0;
}


/* agent <id> <email> [name="Display Name"] [notify=on|off] */
static int
wachat_conf_set_agent(wachat_conf_ctx_t *ctx, wachat_agents_t *agents,
    int argc, char **argv)
{
    int              i, have_name, have_notify;
    char             show[WACHAT_CONF_SHOW_MAX + 16];
    size_t           k;
    const char      *id, *email, *name, *opt;
    wachat_agent_t  *a, *items;

    if (argc < 2 || argc > 4) {
        wachat_conf_why(ctx, "agent: takes <id> <email> [name=\"Display "
                        "Name\"] [notify=on|off], got %d value%s", argc,
                        argc == 1 ? "" : "s");
        return -1;
    }

    id = argv[0];
    email = argv[1];

    if (id[0] == '\0' || strlen(id) > 64
        || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789_.-") != strlen(id))
    {
        wachat_conf_why(ctx, "agent: id %s must be 1 to 64 letters, digits, "
                        "'_', '.' or '-'",
                        wachat_conf_show(id, show, sizeof(show)));
        return -1;
    }

    for (k = 0; k < agents->n; k++) {
        if (strcmp(agents->items[k].id, id) == 0) {
            wachat_conf_why(ctx, "agent: id \"%s\" is already defined", id);
            return -1;
        }
    }

    if (email[0] == '\0'
        || wachat_conf_check_email(ctx, "agent", &email) != 0)
    {
        wachat_conf_why(ctx, "agent: %s is not an e-mail address",
                        wachat_conf_show(email, show, sizeof(show)));
        return -1;
    }

    name = id;
    have_name = 0;
    have_notify = 0;

    items = realloc(agents->items, (agents->n + 1) * sizeof(wachat_agent_t));
    if (items == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    agents->items = items;
    a = &items[agents->n];
    memset(a, 0, sizeof(wachat_agent_t));

    for (i = 2; i < argc; i++) {
        opt = argv[i];

        if (strncmp(opt, "name=", 5) == 0 && !have_name) {
            name = opt + 5;
            have_name = 1;

            if (name[0] == '\0') {
                wachat_conf_why(ctx, "agent: name must not be empty");
                return -1;
            }

        } else if (strncmp(opt, "notify=", 7) == 0 && !have_notify) {
            have_notify = 1;

            if (strcmp(opt + 7, "on") == 0 || strcmp(opt + 7, "yes") == 0) {
                a->notify = 1;

            } else if (strcmp(opt + 7, "off") != 0
                       && strcmp(opt + 7, "no") != 0)
            {
                wachat_conf_why(ctx, "agent: %s: notify is on or off",
                                wachat_conf_show(opt, show, sizeof(show)));
                return -1;
            }

        } else {
            wachat_conf_why(ctx, "agent: %s is not name=\"...\" or "
                            "notify=on|off (each at most once)",
                            wachat_conf_show(opt, show, sizeof(show)));
            return -1;
        }
    }

    a->id = wachat_conf_strdup(id);
    a->email = wachat_conf_strdup(email);
    a->name = wachat_conf_strdup(name);
    a->line = ctx->line;

    /* counted even if half built, so that free sees it */
    agents->n++;

    if (a->id == NULL || a->email == NULL || a->name == NULL) {
        wachat_conf_why(ctx, "out of memory");
        return -1;
    }

    return 0;
}


/* The line that set the key stored at this offset; 0: the default. */
static int
wachat_conf_line_of(wachat_conf_ctx_t *ctx, size_t offset)
{
    size_t  i;

    for (i = 0; i < WACHAT_CONF_NKEYS; i++) {
        if (wachat_conf_table[i].offset == offset) {
            return ctx->set_line[i];
        }
    }

    return 0;
}


/*
 * Defaults that depend on the machine, and checks across keys.  A failed
 * check blames the line of the key that asks for the missing one.
 */
static int
wachat_conf_finish(wachat_conf_ctx_t *ctx)
{
    int               a, b;
    char              host[256], show[WACHAT_CONF_SHOW_MAX + 16];
    size_t            i, len;
    wachat_config_t  *cfg;

    cfg = ctx->cfg;
    ctx->line = 0;

    if (cfg->consumer == NULL) {
        if (gethostname(host, sizeof(host)) != 0) {
            snprintf(host, sizeof(host), "wachatd");
        }

        host[sizeof(host) - 1] = '\0';
        len = strlen(host) + 24;

        cfg->consumer = malloc(len);
        if (cfg->consumer == NULL) {
            wachat_conf_why(ctx, "out of memory");
            return -1;
        }

        snprintf(cfg->consumer, len, "%s-%ld", host, (long) getpid());
    }

    ctx->line = wachat_conf_line_of(ctx, WACHAT_F(backend));

    if (cfg->backend == WACHAT_BACKEND_OPENAI) {
        if (cfg->llm_url[0] == '\0') {
            wachat_conf_why(ctx, "backend openai needs llm_url (the base "
                            "URL of an OpenAI-compatible API)");
            return -1;
        }

        if (cfg->llm_model[0] == '\0') {
            wachat_conf_why(ctx, "backend openai needs llm_model");
            return -1;
        }
    }

    ctx->line = wachat_conf_line_of(ctx, WACHAT_F(outbound));

    if (cfg->outbound == WACHAT_OUTBOUND_GRAPH
        && cfg->graph_token.value == NULL)
    {
        wachat_conf_why(ctx, "outbound graph%s needs graph_token_file or "
                        "graph_token_env (or use \"outbound sandbox\" to "
                        "try without Meta)",
                        ctx->line == 0 ? " (the default)" : "");
        return -1;
    }

    /* sandbox replies read back as events would answer themselves */
    a = wachat_conf_line_of(ctx, WACHAT_F(outbox_stream));
    b = wachat_conf_line_of(ctx, WACHAT_F(dead_stream));
    ctx->line = a > b ? a : b;

    if (wachat_conf_line_of(ctx, WACHAT_F(stream)) > ctx->line) {
        ctx->line = wachat_conf_line_of(ctx, WACHAT_F(stream));
    }

    if (strcmp(cfg->outbox_stream, cfg->stream) == 0
        || strcmp(cfg->dead_stream, cfg->stream) == 0
        || strcmp(cfg->dead_stream, cfg->outbox_stream) == 0)
    {
        wachat_conf_why(ctx, "stream, outbox_stream and dead_stream must be "
                        "three different streams");
        return -1;
    }

    for (i = 0; i < cfg->agents.n; i++) {
        if (cfg->agents.items[i].notify && cfg->smtp_url[0] == '\0') {
            ctx->line = cfg->agents.items[i].line;
            wachat_conf_why(ctx, "agent %s has notify=on but smtp_url is "
                            "not set",
                            wachat_conf_show(cfg->agents.items[i].id, show,
                                             sizeof(show)));
            return -1;
        }
    }

    ctx->line = wachat_conf_line_of(ctx, WACHAT_F(smtp_url));

    if (cfg->smtp_url[0] != '\0' && cfg->smtp_from[0] == '\0') {
        wachat_conf_why(ctx, "smtp_url needs smtp_from (the sender "
                        "address)");
        return -1;
    }

    ctx->line = wachat_conf_line_of(ctx, WACHAT_F(smtp_password));

    if (cfg->smtp_password.value != NULL && cfg->smtp_user[0] == '\0') {
        wachat_conf_why(ctx, "smtp_password needs smtp_user");
        return -1;
    }

    return 0;
}


/* value syntax */

static int
wachat_conf_parse_int(const char *v, long long *out)
{
    char       *end;
    long long   n;

    if (v[0] != '-' && !isdigit((unsigned char) v[0])) {
        return -1;
    }

    errno = 0;
    n = strtoll(v, &end, 10);

    if (errno != 0 || end == v || *end != '\0') {
        return -1;
    }

    *out = n;
    return 0;
}


/* <digits><unit>, unit ms, s, m, h or d; a bare 0 is allowed too */
static int
wachat_conf_parse_duration(const char *v, long long *ms)
{
    size_t      digits, i;
    long long   n, unit;
    const char  *u;

    static const struct {
        const char  *name;
        long long    ms;
    } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
        { "d", 86400000 }
    };

    digits = strspn(v, "0123456789");

    if (digits == 0 || digits > 12) {
        return -1;
    }

    n = strtoll(v, NULL, 10);
    u = v + digits;

    if (*u == '\0') {
        if (n != 0) {
            return -1;
        }

        *ms = 0;
        return 0;
    }

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(u, units[i].name) == 0) {
            unit = units[i].ms;

            if (n > LLONG_MAX / unit) {
                return -1;
            }

            *ms = n * unit;
            return 0;
        }
    }

    return -1;
}


/* <digits>[unit], unit k, kb, m, mb, g or gb, all powers of 1024 */
static int
wachat_conf_parse_size(const char *v, long long *bytes)
{
    size_t      digits;
    long long   n, unit;
    const char  *u;

    digits = strspn(v, "0123456789");

    if (digits == 0 || digits > 15) {
        return -1;
    }

    n = strtoll(v, NULL, 10);
    u = v + digits;

    if (*u == '\0' || strcasecmp(u, "b") == 0) {
        unit = 1;

    } else if (strcasecmp(u, "k") == 0 || strcasecmp(u, "kb") == 0) {
        unit = 1024;

    } else if (strcasecmp(u, "m") == 0 || strcasecmp(u, "mb") == 0) {
        unit = 1024 * 1024;

    } else if (strcasecmp(u, "g") == 0 || strcasecmp(u, "gb") == 0) {
        unit = 1024 * 1024 * 1024;

    } else {
        return -1;
    }

    if (n > LLONG_MAX / unit) {
        return -1;
    }

    *bytes = n * unit;
    return 0;
}


/* "unix:/path", "host:port" or "[v6]:port"; fills addr only on success */
static int
wachat_conf_parse_addr(const char *v, wachat_addr_t *addr)
{
    char        *host, *path;
    size_t       hlen;
    long long    port;
    const char  *colon, *h;

    if (strncmp(v, "unix:", 5) == 0) {
        if (v[5] == '\0') {
            return -1;
        }

        path = wachat_conf_strdup(v + 5);
        if (path == NULL) {
            return -1;
        }

        addr->host = NULL;
        addr->port = 0;
        addr->path = path;
        return 0;
    }

    if (v[0] == '[') {
        colon = strstr(v, "]:");
        if (colon == NULL) {
            return -1;
        }

        h = v + 1;
        hlen = (size_t) (colon - h);
        colon++;

        if (memchr(h, ']', hlen) != NULL) {
            return -1;
        }

    } else {
        colon = strrchr(v, ':');
        if (colon == NULL) {
            return -1;
        }

        h = v;
        hlen = (size_t) (colon - v);

        /* a bare IPv6 address is ambiguous: ask for brackets */
        if (memchr(h, ':', hlen) != NULL) {
            return -1;
        }
    }

    if (hlen == 0 || strcspn(h, " \t/[") < hlen) {
        return -1;
    }

    if (strspn(colon + 1, "0123456789") != strlen(colon + 1)
        || wachat_conf_parse_int(colon + 1, &port) != 0
        || port < 1 || port > 65535)
    {
        return -1;
    }

    host = malloc(hlen + 1);
    if (host == NULL) {
        return -1;
    }

    memcpy(host, h, hlen);
    host[hlen] = '\0';

    addr->host = host;
    addr->port = (int) port;
    addr->path = NULL;

    return 0;
}


/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static int
wachat_conf_utf8_valid(const unsigned char *p, size_t len)
{
    size_t    i, n, k;
    uint32_t  cp, min;

    for (i = 0; i < len; i += n) {
        if (p[i] < 0x80) {
            n = 1;
            continue;
        }

        if ((p[i] & 0xe0) == 0xc0) {
            n = 2;
            cp = p[i] & 0x1f;
            min = 0x80;

        } else if ((p[i] & 0xf0) == 0xe0) {
            n = 3;
            cp = p[i] & 0x0f;
            min = 0x800;

        } else if ((p[i] & 0xf8) == 0xf0) {
            n = 4;
            cp = p[i] & 0x07;
            min = 0x10000;

        } else {
            return 0;
        }

        if (i + n > len) {
            return 0;
        }

        for (k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            cp = (cp << 6) | (p[i + k] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


/* checks */

static int
wachat_conf_check_url(wachat_conf_ctx_t *ctx, const char *name, char *v,
    const char *s1, const char *s2)
{
    char         show[WACHAT_CONF_SHOW_MAX + 16];
    size_t       len, n;

    if (v[0] == '\0') {
        return 0;
    }

    n = strncmp(v, s1, strlen(s1)) == 0 ? strlen(s1)
        : strncmp(v, s2, strlen(s2)) == 0 ? strlen(s2) : 0;

    if (n == 0 || v[n] == '\0' || v[n] == '/'
        || strcspn(v, " \t\r\n\"<>\\") != strlen(v))
    {
        wachat_conf_why(ctx, "%s: %s is not a %s or %s URL", name,
                        wachat_conf_show(v, show, sizeof(show)), s1, s2);
        return -1;
    }

    /* a base URL: paths are appended with their own "/" */
    len = strlen(v);

    while (len > n + 1 && v[len - 1] == '/') {
        v[--len] = '\0';
    }

    return 0;
}


static int
wachat_conf_check_http_url(wachat_conf_ctx_t *ctx, const char *name,
    void *field)
{
    return wachat_conf_check_url(ctx, name, *(char **) field, "http://",
                                 "https://");
}


static int
wachat_conf_check_smtp_url(wachat_conf_ctx_t *ctx, const char *name,
    void *field)
{
    return wachat_conf_check_url(ctx, name, *(char **) field, "smtp://",
                                 "smtps://");
}


/* user@domain, nothing that could break out of a mail header */
static int
wachat_conf_check_email(wachat_conf_ctx_t *ctx, const char *name,
    void *field)
{
    char        show[WACHAT_CONF_SHOW_MAX + 16];
    const char  *v, *at;

    v = *(const char **) field;

    if (v[0] == '\0') {
        return 0;
    }

    at = strchr(v, '@');

    if (at == NULL || at == v || at[1] == '\0' || strchr(at + 1, '@')
        || strcspn(v, " \t\r\n\"<>(),;:\\[]") != strlen(v))
    {
        wachat_conf_why(ctx, "%s: %s is not an e-mail address", name,
                        wachat_conf_show(v, show, sizeof(show)));
        return -1;
    }

    return 0;
}


/* messages */

/* A value quoted for a message: escaped, and cut if long. */
static const char *
wachat_conf_show(const char *v, char *buf, size_t size)
{
    size_t         i, n, len;
    unsigned char  c;

    len = strlen(v);
    n = 0;
    buf[n++] = '"';

    for (i = 0; i < len && n + 8 < size; i++) {
        c = (unsigned char) v[i];

        if (i >= WACHAT_CONF_SHOW_MAX && (c & 0xc0) != 0x80) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }

        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char) c;

        } else if (c < 0x20 || c == 0x7f) {
            n += (size_t) snprintf(buf + n, size - n, "\\x%02x", c);

        } else {
            buf[n++] = (char) c;
        }
    }

    buf[n++] = '"';
    buf[n] = '\0';

    return buf;
}


static void
wachat_conf_why(wachat_conf_ctx_t *ctx, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(ctx->why, sizeof(ctx->why), fmt, args);
    va_end(args);
}


static void
wachat_conf_error(char *err, size_t errlen, const char *file, int line,
    const char *fmt, ...)
{
    int      n;
    va_list  args;

    if (errlen == 0) {
        return;
    }

    if (line > 0) {
        n = snprintf(err, errlen, "%s:%d: ", file, line);
    } else {
        n = snprintf(err, errlen, "%s: ", file);
    }

    if (n < 0 || (size_t) n >= errlen) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(err + n, errlen - (size_t) n, fmt, args);
    va_end(args);
}


/* memory */

static char *
wachat_conf_strdup(const char *s)
{
    char    *p;
    size_t   len;

    len = strlen(s);
    p = malloc(len + 1);

    if (p != NULL) {
        memcpy(p, s, len + 1);
    }

    return p;
}


/* volatile: the compiler must not drop a store to memory about to die */
static void
wachat_conf_wipe(char *s)
{
    volatile char  *p;

    for (p = s; *p != '\0'; p++) {
        *p = '\0';
    }
}


static void
wachat_conf_free_field(const wachat_conf_entry_t *e, void *field)
{
    size_t            i;
    wachat_addr_t    *addr;
    wachat_list_t    *list;
    wachat_agents_t  *agents;
    wachat_secret_t  *secret;

    switch (e->type) {

    case WACHAT_CONF_STRING:
        free(*(char **) field);
        *(char **) field = NULL;
        break;

    case WACHAT_CONF_ADDR:
        addr = field;
        free(addr->host);
        free(addr->path);
        memset(addr, 0, sizeof(wachat_addr_t));
        break;

    case WACHAT_CONF_SECRET:
        secret = field;

        if (secret->value != NULL) {
            wachat_conf_wipe(secret->value);
        }

        free(secret->value);
        free(secret->source);
        memset(secret, 0, sizeof(wachat_secret_t));
        break;

    case WACHAT_CONF_LIST:
        list = field;

        for (i = 0; i < list->n; i++) {
            free(list->items[i]);
        }

        free(list->items);
        memset(list, 0, sizeof(wachat_list_t));
        break;

    case WACHAT_CONF_AGENT:
        agents = field;

        for (i = 0; i < agents->n; i++) {
            free(agents->items[i].id);
            free(agents->items[i].email);
            free(agents->items[i].name);
        }

        free(agents->items);
        memset(agents, 0, sizeof(wachat_agents_t));
        break;

    default:
        break;
    }
}


void
wachat_config_free(wachat_config_t *cfg)
{
    size_t  i;

    if (cfg == NULL) {
        return;
    }

    for (i = 0; i < WACHAT_CONF_NKEYS; i++) {
        wachat_conf_free_field(&wachat_conf_table[i],
                               (char *) cfg + wachat_conf_table[i].offset);
    }

    free(cfg->path);
    free(cfg);
}


/* printing: wachatd -t and the docs */

const char *
wachat_secret_describe(const wachat_secret_t *secret, char *buf,
    size_t size)
{
    if (secret->value == NULL || secret->source == NULL) {
        snprintf(buf, size, "<not set>");
    } else {
        snprintf(buf, size, "<secret from %s>", secret->source);
    }

    return buf;
}


static void
wachat_conf_fmt_duration(long long ms, char *buf, size_t size)
{
    if (ms == 0) {
        snprintf(buf, size, "0s");

    } else if (ms % 3600000 == 0) {
        snprintf(buf, size, "%lldh", ms / 3600000);

    } else if (ms % 60000 == 0) {
        snprintf(buf, size, "%lldm", ms / 60000);

    } else if (ms % 1000 == 0) {
        snprintf(buf, size, "%llds", ms / 1000);

    } else {
        snprintf(buf, size, "%lldms", ms);
    }
}


static void
wachat_conf_fmt_size(long long bytes, char *buf, size_t size)
{
    if (bytes != 0 && bytes % (1024 * 1024 * 1024) == 0) {
        snprintf(buf, size, "%lldgb", bytes / (1024 * 1024 * 1024));

    } else if (bytes != 0 && bytes % (1024 * 1024) == 0) {
        snprintf(buf, size, "%lldmb", bytes / (1024 * 1024));

    } else if (bytes != 0 && bytes % 1024 == 0) {
        snprintf(buf, size, "%lldkb", bytes / 1024);

    } else {
        snprintf(buf, size, "%lld", bytes);
    }
}


static void
wachat_conf_fmt_addr(const wachat_addr_t *a, char *buf, size_t size)
{
    if (a->path != NULL) {
        snprintf(buf, size, "unix:%s", a->path);

    } else if (a->host == NULL) {
        buf[0] = '\0';

    } else if (strchr(a->host, ':') != NULL) {
        snprintf(buf, size, "[%s]:%d", a->host, a->port);

    } else {
        snprintf(buf, size, "%s:%d", a->host, a->port);
    }
}


/* A value as the file would write it, quoted only when it must be. */
static void
wachat_conf_put_value(FILE *out, const char *v)
{
    const char  *p;

    if (v[0] != '\0' && strcspn(v, " \t\r\n\"\\#") == strlen(v)) {
        fputs(v, out);
        return;
    }

    fputc('"', out);

    for (p = v; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        default:
            fputc(*p, out);
        }
    }

    fputc('"', out);
}


void
wachat_config_dump(const wachat_config_t *cfg, FILE *out)
{
    char                        buf[256];
    size_t                      i, k;
    const void                 *field;
    const wachat_list_t        *list;
    const wachat_agent_t       *a;
    const wachat_agents_t      *agents;
    const wachat_secret_t      *secret;
    const wachat_conf_entry_t  *e;

    fprintf(out, "# wachatd config from %s\n", cfg->path);

    for (i = 0; i < WACHAT_CONF_NKEYS; i++) {
        e = &wachat_conf_table[i];
        field = (const char *) cfg + e->offset;

        if (e->type == WACHAT_CONF_AGENT) {
            agents = field;

            if (agents->n == 0) {
                fprintf(out, "# %s: none\n", e->name);
            }

            for (k = 0; k < agents->n; k++) {
                a = &agents->items[k];
                fprintf(out, "%-24s ", e->name);
                wachat_conf_put_value(out, a->id);
                fputc(' ', out);
                wachat_conf_put_value(out, a->email);
                fputs(" name=", out);
                wachat_conf_put_value(out, a->name);
                fprintf(out, " notify=%s\n", a->notify ? "on" : "off");
            }

            continue;
        }

        if (e->type == WACHAT_CONF_SECRET) {
            secret = field;
            wachat_secret_describe(secret, buf, sizeof(buf));

            if (secret->value == NULL) {
                fprintf(out, "# %s: %s\n", e->name, buf);
                continue;
            }

            /* "file /p" -> graph_token_file /p: the source, not the value */
            k = strcspn(secret->source, " ");
            fprintf(out, "%s_%-*.*s ", e->name,
                    (int) (23 - strlen(e->name)), (int) k, secret->source);
            wachat_conf_put_value(out, secret->source + k + 1);
            fprintf(out, "  # %s\n", buf);
            continue;
        }

        fprintf(out, "%-24s ", e->name);

        switch (e->type) {

        case WACHAT_CONF_STRING:
            wachat_conf_put_value(out, *(char *const *) field);
            break;

        case WACHAT_CONF_INT:
            fprintf(out, "%d", *(const int *) field);
            break;

        case WACHAT_CONF_FLOAT:
            fprintf(out, "%g", *(const double *) field);
            break;

        case WACHAT_CONF_DURATION:
            wachat_conf_fmt_duration(*(const long long *) field, buf,
                                     sizeof(buf));
            fputs(buf, out);
            break;

        case WACHAT_CONF_SIZE:
            wachat_conf_fmt_size((long long) *(const size_t *) field, buf,
                                 sizeof(buf));
            fputs(buf, out);
            break;

        case WACHAT_CONF_BOOL:
            fputs(*(const int *) field ? "yes" : "no", out);
            break;

        case WACHAT_CONF_ENUM:
            fputs(e->values[*(const int *) field], out);
            break;

        case WACHAT_CONF_ADDR:
            wachat_conf_fmt_addr(field, buf, sizeof(buf));
            wachat_conf_put_value(out, buf);
            break;

        case WACHAT_CONF_LIST:
            list = field;

            for (k = 0; k < list->n; k++) {
                if (k > 0) {
                    fputc(' ', out);
                }

                wachat_conf_put_value(out, list->items[k]);
            }

            break;

        default:
            break;
        }

        fputc('\n', out);
    }
}


static void
wachat_conf_doc_type(const wachat_conf_entry_t *e, char *buf, size_t size)
{
    int     i;
    char    lo[32], hi[32];
    size_t  n;

    switch (e->type) {

    case WACHAT_CONF_STRING:
        snprintf(buf, size, "%s",
                 e->check == wachat_conf_check_http_url
                 || e->check == wachat_conf_check_smtp_url ? "URL"
                 : e->check == wachat_conf_check_email ? "e-mail address"
                 : "string");
        break;

    case WACHAT_CONF_INT:
        snprintf(buf, size, "integer, %.0f..%.0f", e->min, e->max);
        break;

    case WACHAT_CONF_FLOAT:
        snprintf(buf, size, "number, %g..%g", e->min, e->max);
        break;

    case WACHAT_CONF_DURATION:
        wachat_conf_fmt_duration((long long) e->min, lo, sizeof(lo));
        wachat_conf_fmt_duration((long long) e->max, hi, sizeof(hi));
        snprintf(buf, size, "duration, %s..%s", lo, hi);
        break;

    case WACHAT_CONF_SIZE:
        wachat_conf_fmt_size((long long) e->min, lo, sizeof(lo));
        wachat_conf_fmt_size((long long) e->max, hi, sizeof(hi));
        snprintf(buf, size, "size, %s..%s", lo, hi);
        break;

    case WACHAT_CONF_BOOL:
        snprintf(buf, size, "yes | no");
        break;

    case WACHAT_CONF_ENUM:
        n = 0;
        buf[0] = '\0';

        for (i = 0; e->values[i] != NULL && n < size; i++) {
            n += (size_t) snprintf(buf + n, size - n, "%s%s",
                                   i > 0 ? " | " : "", e->values[i]);
        }

        break;

    case WACHAT_CONF_ADDR:
        snprintf(buf, size, "address");
        break;

    case WACHAT_CONF_SECRET:
        snprintf(buf, size, "secret: a file or a variable");
        break;

    case WACHAT_CONF_LIST:
        snprintf(buf, size, "words");
        break;

    case WACHAT_CONF_AGENT:
        snprintf(buf, size,
                 "`<id> <email> [name=\"...\"] [notify=on|off]`, one line "
                 "per agent");
        break;
    }
}


/* Markdown table cell text: a | would end the cell. */
static void
wachat_conf_doc_cell(FILE *out, const char *s)
{
    for ( ; *s != '\0'; s++) {
        if (*s == '|') {
            fputc('\\', out);
        }

        fputc(*s, out);
    }
}


void
wachat_config_doc(FILE *out)
{
    char                        type[128];
    size_t                      i;
    const char                 *dflt;
    const wachat_conf_entry_t  *e;

    fputs("| key | type | default | description |\n", out);
    fputs("| --- | --- | --- | --- |\n", out);

    for (i = 0; i < WACHAT_CONF_NKEYS; i++) {
        e = &wachat_conf_table[i];

        if (e->type == WACHAT_CONF_SECRET) {
            fprintf(out, "| `%s_file` / `%s_env` | ", e->name, e->name);
        } else {
            fprintf(out, "| `%s` | ", e->name);
        }

        wachat_conf_doc_type(e, type, sizeof(type));
        wachat_conf_doc_cell(out, type);
        fputs(" | ", out);

        dflt = e->shown != NULL ? e->shown : e->dflt;

        if (dflt == NULL || dflt[0] == '\0') {
            fputs("*none*", out);
        } else {
            fputc('`', out);
            wachat_conf_doc_cell(out, dflt);
            fputc('`', out);
        }

        fputs(" | ", out);
        wachat_conf_doc_cell(out, e->desc);
        fputs(" |\n", out);
    }
}


void
wachat_config_doc_syntax(FILE *out)
{
    fputs(
"One setting per line: a key, then its value. Blank lines are ignored,\n"
"and so is everything from a word that starts with `#` to the end of the\n"
"line. A value with spaces is written in double quotes, where `\\\"`,\n"
"`\\\\`, `\\n`, `\\t` and `\\r` are the only escapes; quotes may also sit\n"
"inside a word (`name=\"Ann Lee\"`). The file is UTF-8.\n"
"\n"
"- Each key may appear once: a second line for the same key is an error\n"
"  that names both lines (`agent` is the exception: one line per agent).\n"
"- Durations take a unit: `500ms`, `30s`, `2m`, `1h`, `1d` (`0` alone is\n"
"  zero). Sizes are bytes, or `k`/`kb`, `m`/`mb`, `g`/`gb` (powers of\n"
"  1024). Booleans are `yes`/`no` (also `on`/`off`).\n"
"- Secrets are never written inline: `<name>_file <path>` reads the file\n"
"  (trailing newlines removed; a file that every user may read is\n"
"  refused) and `<name>_env <VARIABLE>` reads the environment. The file is\n"
"  read again on every reload (SIGHUP), so a rotated token is picked up.\n"
"  `wachatd -t` shows where a secret comes from, never its value.\n"
"- Relative paths are relative to the working directory.\n"
"- A mistake stops the load with `file:line: what is wrong`; on SIGHUP a\n"
"  config that does not load is not applied and the old one stays.\n",
        out);
}
