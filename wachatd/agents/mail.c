/*
 * mail: agent notifications over SMTP (see mail.h).
 *
 * Flow: the engine reports a hand-over nobody could take, or a new chat;
 * one SET NX PX marker per conversation and kind, shared by every wachatd,
 * decides whether this process mails now; the conversation and its last
 * messages are read from Redis (short synchronous commands, like the rest
 * of the processing path), one RFC 5322 message is built per opted-in
 * agent, and each goes out as its own libcurl SMTP transfer on the event
 * loop (wachat_http_transfer()).  A failed attempt is tried again after a
 * back-off; the last failure is logged once, with curl's reason and the
 * server's reply code.  Nothing here reports back to the engine: an
 * e-mail can neither fail nor delay a conversation.
 *
 * The mailer has its own HTTP client instance (the same code, its own
 * curl multi handle): a slow or dead mail server then never takes a slot
 * that Graph sends or LLM calls are waiting for, and freeing the mailer
 * cancels its own transfers only.
 *
 * What customers wrote (names, texts) goes into the Subject only as
 * sanitised text (no control characters), RFC 2047-encoded when it is not
 * plain ASCII, and into the body only quoted-printable: no customer byte
 * can end a header line or the message.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "agents/agents.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "agents/mail.h"


#define WACHAT_MAIL_ATTEMPTS      3
#define WACHAT_MAIL_BACKOFF_MS    1000      /* then x3: 1 s, 3 s */
#define WACHAT_MAIL_TIMEOUT_MS    30000     /* one whole SMTP session */
#define WACHAT_MAIL_CONCURRENCY   4
#define WACHAT_MAIL_MAX_JOBS      256       /* queued or being retried */
#define WACHAT_MAIL_HISTORY       5         /* last messages in the body */
#define WACHAT_MAIL_TICK_SCAN     100       /* waiting ones looked at */
#define WACHAT_MAIL_TICK_SEND     10        /* reminders per tick, at most */
#define WACHAT_MAIL_NAME_MAX      64        /* bytes of a customer's name */
#define WACHAT_MAIL_TEXT_MAX      600       /* bytes of one message shown */
#define WACHAT_MAIL_WORD_BYTES    42        /* per RFC 2047 encoded word */


/* a growing NUL-terminated string; oom sticks, checked once at the end */
typedef struct {
    char    *p;
    size_t   len;
    size_t   cap;
    int      oom;
} wachat_mail_buf_t;


/*
 * The server settings e-mails are sent with.  Shared by the e-mails queued
 * under them and counted: a reload does not change an e-mail between its
 * attempts, and the old settings go when their last e-mail does.
 */
typedef struct {
    int     refs;
    char   *url;
    char   *from;           /* bare address */
    char   *user;           /* NULL: no authentication */
    char   *password;
    int     implicit_tls;   /* smtps:// */
} wachat_mail_server_t;


typedef struct {
    char  *id;
    char  *email;
} wachat_mail_agent_t;


typedef struct wachat_mail_job_s  wachat_mail_job_t;

struct wachat_mail_job_s {
    wachat_mail_t          *mail;
    wachat_mail_job_t      *prev;
    wachat_mail_job_t      *next;
    wachat_mail_server_t   *server;
    struct curl_slist      *rcpt;
    struct event           *retry;
    char                   *to;         /* the agent's address, for logs */
    char                   *conv_id;
    const char             *what;       /* for logs: "asks for a person" */
    char                   *msg;        /* the message, CRLF line ends */
    size_t                  len;
    size_t                  off;        /* read position of this attempt */
    int                     attempt;
};


/* what the customer's conversation hash says, sanitised for the e-mail */
typedef struct {
    char        name[WACHAT_MAIL_NAME_MAX + 8];
    char        number[72];             /* "+16505551234" or a user id */
    char        mode[32];
    long long   last_in_ms;             /* 0: unknown */
    long long   waiting_since_ms;       /* 0: unknown */
} wachat_mail_conv_t;


struct wachat_mail_s {
    struct event_base      *base;
    wachat_store_t         *st;
    wachat_http_t          *http;
    wachat_mail_server_t   *server;     /* NULL: notifications are off */
    wachat_mail_agent_t    *agents;     /* those with notify=on */
    size_t                  nagents;
    char                   *console_url;
    long long               period_ms;
    long long               window_ms;
    wachat_mail_job_t      *jobs;
    size_t                  njobs;
    long                    tick_from;  /* where the next tick looks */
    int                     closing;
};


static void mail_job_start(wachat_mail_job_t *j);


/* --- small helpers ------------------------------------------------------ */


static char *
mail_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}


static void
mail_wipe_free(char *s)
{
    if (s) {
        /* volatile: the wipe of a secret must not be optimised away */
        volatile char  *v = s;

        while (*v) {
            *v++ = '\0';
        }
        free(s);
    }
}


static void
buf_reserve(wachat_mail_buf_t *b, size_t more)
{
    size_t   cap;
    char    *p;

    if (b->oom || b->len + more + 1 <= b->cap) {
        return;
    }
    cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more + 1) {
        cap *= 2;
    }
    p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}


static void
buf_add(wachat_mail_buf_t *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    if (b->oom) {
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}


static void
buf_str(wachat_mail_buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}


static void WACHAT_LOG_PRINTF(2, 3)
buf_fmt(wachat_mail_buf_t *b, const char *fmt, ...)
{
    va_list  ap;
    int      n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }

    buf_reserve(b, (size_t) n);
    if (b->oom) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}


/* the length of s[0..n) cut back so that no UTF-8 character is split */
static size_t
utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max) {
        return n;
    }
    while (max > 0 && ((unsigned char) s[max] & 0xC0) == 0x80) {
        max--;
    }
    return max;
}


/*
 * Customer text for the e-mail: control characters (CR, LF, NUL, ESC...)
 * become spaces, except that keep_lf keeps line breaks (CRLF and CR count
 * as one) for message bodies; cut to max bytes with an ellipsis.
 */
static void
add_clean(wachat_mail_buf_t *b, const char *s, size_t n, size_t max,
    int keep_lf)
{
    size_t          i, cut;
    unsigned char   c;

    cut = utf8_cut(s, n, max);

    for (i = 0; i < cut; i++) {
        c = (unsigned char) s[i];
        if (c == '\r' && keep_lf) {
            if (i + 1 < cut && s[i + 1] == '\n') {
                continue;
            }
            c = '\n';
        }
        if (c == '\n' && keep_lf) {
            /* continuation lines indented under the speaker */
            buf_str(b, "\n    ");
        } else if (c < 0x20 || c == 0x7F) {
            buf_add(b, " ", 1);
        } else {
            buf_add(b, (const char *) &c, 1);
        }
    }

    if (cut < n) {
        buf_str(b, "\xe2\x80\xa6");
    }
}


static void
base64_add(wachat_mail_buf_t *b, const unsigned char *s, size_t n)
{
    static const char  tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t             i;
    unsigned long      v;
    char               out[4];

    for (i = 0; i < n; i += 3) {
        v = (unsigned long) s[i] << 16;
        if (i + 1 < n) {
            v |= (unsigned long) s[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= s[i + 2];
        }
        out[0] = tab[(v >> 18) & 63];
        out[1] = tab[(v >> 12) & 63];
        out[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[3] = i + 2 < n ? tab[v & 63] : '=';
        buf_add(b, out, 4);
    }
}


/*
 * A header value that is not plain printable ASCII (a Chinese name, say)
 * becomes RFC 2047 "B" encoded words of whole UTF-8 characters, folded
 * onto continuation lines so no line grows past 78 characters.
 */
static void
header_text(wachat_mail_buf_t *b, const char *s)
{
    size_t  i, n, len = strlen(s);
    int     plain = strstr(s, "=?") == NULL;

    for (i = 0; plain && i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] > 0x7E) {
            plain = 0;
        }
    }
    if (plain) {
        buf_add(b, s, len);
        return;
    }

    for (i = 0; i < len; i += n) {
        n = utf8_cut(s + i, len - i, WACHAT_MAIL_WORD_BYTES);
        if (n == 0) {
            /* not UTF-8 after all: never loop */
            n = len - i < WACHAT_MAIL_WORD_BYTES ? len - i
                                                 : WACHAT_MAIL_WORD_BYTES;
        }
        buf_str(b, i ? "\r\n =?UTF-8?B?" : "=?UTF-8?B?");
        base64_add(b, (const unsigned char *) s + i, n);
        buf_str(b, "?=");
    }
}


/*
 * Quoted-printable (RFC 2045) of text with LF line ends, into CRLF lines
 * of at most 76 characters: any byte a customer sent arrives intact and
 * none can look like SMTP or MIME syntax on the wire.
 */
static void
qp_add(wachat_mail_buf_t *b, const char *s, size_t n)
{
    size_t          i, col = 0, tl;
    unsigned char   c;
    char            tok[4];
    int             eol;

    for (i = 0; i < n; i++) {
        c = (unsigned char) s[i];
        if (c == '\n') {
            buf_str(b, "\r\n");
            col = 0;
            continue;
        }

        /* a space or tab that would end a line may be stripped in transit */
        eol = i + 1 == n || s[i + 1] == '\n';
        if ((c >= 33 && c <= 126 && c != '=')
            || ((c == ' ' || c == '\t') && !eol))
        {
            tok[0] = (char) c;
            tl = 1;
        } else {
            snprintf(tok, sizeof(tok), "=%02X", c);
            tl = 3;
        }

        if (col + tl > 75) {
            buf_str(b, "=\r\n");
            col = 0;
        }
        buf_add(b, tok, tl);
        col += tl;
    }
}


/* the conversation id as one URL fragment segment */
static void
url_add(wachat_mail_buf_t *b, const char *s)
{
    unsigned char  c;

    for (; *s; s++) {
        c = (unsigned char) *s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~')
        {
            buf_add(b, (const char *) &c, 1);
        } else {
            buf_fmt(b, "%%%02X", c);
        }
    }
}


/* an address from the config, used in headers and SMTP commands */
static int
address_ok(const char *a)
{
    return a && *a && strpbrk(a, "\r\n<>\" ,;") == NULL;
}


static void
add_duration(wachat_mail_buf_t *b, long long ms)
{
    long long  min = ms / 60000;

    if (min < 1) {
        buf_str(b, "under a minute");
    } else if (min >= 60) {
        buf_fmt(b, "%lld h %02lld min", min / 60, min % 60);
    } else {
        buf_fmt(b, "%lld min", min);
    }
}


static void
add_time(wachat_mail_buf_t *b, long long ms, const char *fmt)
{
    time_t     t = (time_t) (ms / 1000);
    struct tm  tm;
    char       out[64];

    if (gmtime_r(&t, &tm) == NULL
        || strftime(out, sizeof(out), fmt, &tm) == 0)
    {
        buf_str(b, "?");
        return;
    }
    buf_str(b, out);
}


/* --- settings ----------------------------------------------------------- */


static void
server_release(wachat_mail_server_t *s)
{
    if (s == NULL || --s->refs > 0) {
        return;
    }
    free(s->url);
    free(s->from);
    free(s->user);
    mail_wipe_free(s->password);
    free(s);
}


static wachat_mail_server_t *
server_new(const wachat_config_t *cfg)
{
    wachat_mail_server_t  *s;

    if (cfg->smtp_url == NULL || cfg->smtp_url[0] == '\0') {
        return NULL;
    }

    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->refs = 1;
    s->url = mail_strdup(cfg->smtp_url);
    s->from = mail_strdup(cfg->smtp_from ? cfg->smtp_from : "");
    s->implicit_tls = strncmp(cfg->smtp_url, "smtps://", 8) == 0;

    if (cfg->smtp_user && cfg->smtp_user[0]) {
        s->user = mail_strdup(cfg->smtp_user);
        s->password = mail_strdup(cfg->smtp_password.value
                                  ? cfg->smtp_password.value : "");
    }

    if (s->url == NULL || s->from == NULL
        || (cfg->smtp_user && cfg->smtp_user[0] && s->password == NULL))
    {
        server_release(s);
        return NULL;
    }
    return s;
}


static void
agents_free(wachat_mail_t *m)
{
    size_t  i;

    for (i = 0; i < m->nagents; i++) {
        free(m->agents[i].id);
        free(m->agents[i].email);
    }
    free(m->agents);
    m->agents = NULL;
    m->nagents = 0;
}


/* copies: the config is freed after a reload, e-mails may still be built */
static int
mail_configure(wachat_mail_t *m, const wachat_config_t *cfg)
{
    size_t                i, n;
    char                 *console;
    wachat_mail_agent_t  *a;

    a = calloc(cfg->agents.n + 1, sizeof(*a));
    console = mail_strdup(cfg->console_url ? cfg->console_url : "");
    if (a == NULL || console == NULL) {
        free(a);
        free(console);
        return -1;
    }

    for (i = 0, n = 0; i < cfg->agents.n; i++) {
        const wachat_agent_t  *ag = &cfg->agents.items[i];

        if (!ag->notify || !address_ok(ag->email)) {
            continue;
        }
        a[n].id = mail_strdup(ag->id);
        a[n].email = mail_strdup(ag->email);
        if (a[n].id == NULL || a[n].email == NULL) {
            free(a[n].id);
            free(a[n].email);
            continue;
        }
        n++;
    }

    agents_free(m);
    free(m->console_url);
    server_release(m->server);

    m->agents = a;
    m->nagents = n;
    m->console_url = console;
    m->server = server_new(cfg);
    m->period_ms = cfg->notify_period_ms > 0 ? cfg->notify_period_ms
                                             : 30 * 60000;
    m->window_ms = cfg->window_ms > 0 ? cfg->window_ms : 24 * 3600000LL;

    if (m->server && !address_ok(m->server->from)) {
        wachat_log(WACHAT_LOG_ERROR, "mail: smtp_from \"%s\" is not a "
                   "usable address: no e-mail is sent", m->server->from);
        server_release(m->server);
        m->server = NULL;
    }
    return 0;
}


/* --- jobs: one e-mail to one agent, with its attempts ------------------- */


static void
job_free(wachat_mail_job_t *j)
{
    wachat_mail_t  *m = j->mail;

    if (j->prev) {
        j->prev->next = j->next;
    } else {
        m->jobs = j->next;
    }
    if (j->next) {
        j->next->prev = j->prev;
    }
    m->njobs--;

    if (j->retry) {
        event_free(j->retry);
    }
    server_release(j->server);
    curl_slist_free_all(j->rcpt);
    free(j->to);
    free(j->conv_id);
    free(j->msg);
    free(j);
}


/* the one line a failed e-mail leaves in the log */
static void
job_give_up(wachat_mail_job_t *j, const char *why, long code)
{
    char  smtp[32] = "";

    if (code > 0) {
        snprintf(smtp, sizeof(smtp), " (SMTP %ld)", code);
    }
    wachat_log(WACHAT_LOG_WARNING, "mail: e-mail to %s about conversation %s "
               "(%s) failed after %d attempt%s: %s%s", j->to, j->conv_id,
               j->what, j->attempt, j->attempt == 1 ? "" : "s", why, smtp);
    job_free(j);
}


static size_t
job_read_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    wachat_mail_job_t  *j = userdata;
    size_t              n = size * nmemb;

    if (n > j->len - j->off) {
        n = j->len - j->off;
    }
    memcpy(ptr, j->msg + j->off, n);
    j->off += n;
    return n;
}



/* smtp://127.x, [::1] or localhost: a relay on this host */
static int
mail_is_local(const char *url)
{
    const char  *h;

    h = strstr(url, "://");
    h = h ? h + 3 : url;

    return strncmp(h, "127.", 4) == 0 || strncmp(h, "[::1]", 5) == 0
           || strncmp(h, "localhost", 9) == 0;
}


static int
job_setup(void *data, void *easy)
{
    wachat_mail_job_t     *j = data;
    wachat_mail_server_t  *s = j->server;
    CURL                  *e = easy;
    char                   from[512];
    int                    rc = 0;

    snprintf(from, sizeof(from), "<%s>", s->from);

    rc |= curl_easy_setopt(e, CURLOPT_URL, s->url);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    rc |= curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
    rc |= curl_easy_setopt(e, CURLOPT_MAIL_RCPT, j->rcpt);
    rc |= curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_READFUNCTION, job_read_cb);
    rc |= curl_easy_setopt(e, CURLOPT_READDATA, j);
    rc |= curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t) j->len);

    /*
     * smtps:// is TLS from the first byte (the scheme says so); smtp://
     * upgrades with STARTTLS whenever the server offers it, certificate
     * checked, and goes on in clear with one that does not (a local relay).
     */
    if (!s->implicit_tls) {
        /*
         * A password never crosses the network in clear: with credentials,
         * STARTTLS is required unless the relay is on this host.
         */
        rc |= curl_easy_setopt(e, CURLOPT_USE_SSL,
                               (long) (s->user && !mail_is_local(s->url)
                                       ? CURLUSESSL_ALL : CURLUSESSL_TRY));
    }

    if (s->user) {
        rc |= curl_easy_setopt(e, CURLOPT_USERNAME, s->user);
        rc |= curl_easy_setopt(e, CURLOPT_PASSWORD, s->password);
    }

    return rc == CURLE_OK ? 0 : -1;
}


static void
job_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;

    mail_job_start(arg);
}


static void
job_done(void *data, const wachat_http_resp_t *resp)
{
    wachat_mail_job_t  *j = data;
    wachat_mail_t      *m = j->mail;
    struct timeval      tv;
    long                delay;
    int                 i;

    if (resp->error == WACHAT_HTTP_DONE) {
        wachat_log(WACHAT_LOG_NOTICE, "mail: told %s that conversation %s "
                   "%s%s", j->to, j->conv_id, j->what,
                   j->attempt > 1 ? " (after a retry)" : "");
        job_free(j);
        return;
    }

    /* wachatd stops, or a reload removed smtp_url */
    if (resp->error == WACHAT_HTTP_ECANCELLED || m->closing) {
        job_give_up(j, "cancelled, the mailer stopped", 0);
        return;
    }

    /* 5xx is the server's final word (unknown user, policy): no retry */
    if (j->attempt >= WACHAT_MAIL_ATTEMPTS
        || (resp->status >= 500 && resp->status < 600))
    {
        job_give_up(j, resp->error_text, resp->status);
        return;
    }

    for (delay = WACHAT_MAIL_BACKOFF_MS, i = 1; i < j->attempt; i++) {
        delay *= 3;
    }
    wachat_log(WACHAT_LOG_DEBUG, "mail: attempt %d to %s failed (%s, SMTP "
               "%ld): again in %ld ms", j->attempt, j->to, resp->error_text,
               resp->status, delay);

    tv.tv_sec = delay / 1000;
    tv.tv_usec = (delay % 1000) * 1000;
    if (evtimer_add(j->retry, &tv) != 0) {
        job_give_up(j, resp->error_text, resp->status);
    }
}


static void
mail_job_start(wachat_mail_job_t *j)
{
    j->attempt++;
    j->off = 0;

    if (wachat_http_transfer(j->mail->http, WACHAT_MAIL_TIMEOUT_MS,
                             job_setup, job_done, j) != 0)
    {
        job_give_up(j, "the transfer could not be started", 0);
    }
}


/* takes msg (freed in any case) */
static void
mail_queue(wachat_mail_t *m, const wachat_mail_agent_t *a,
    const char *conv_id, const char *what, char *msg, size_t len)
{
    wachat_mail_job_t  *j;
    char                rcpt[512];

    if (m->njobs >= WACHAT_MAIL_MAX_JOBS) {
        wachat_log(WACHAT_LOG_WARNING, "mail: %zu e-mails already waiting "
                   "for the mail server: none to %s about conversation %s",
                   m->njobs, a->email, conv_id);
        free(msg);
        return;
    }

    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        free(msg);
        return;
    }

    snprintf(rcpt, sizeof(rcpt), "<%s>", a->email);
    j->mail = m;
    j->msg = msg;
    j->len = len;
    j->what = what;
    j->to = mail_strdup(a->email);
    j->conv_id = mail_strdup(conv_id);
    j->rcpt = curl_slist_append(NULL, rcpt);
    j->retry = evtimer_new(m->base, job_retry_cb, j);
    j->server = m->server;
    j->server->refs++;

    j->next = m->jobs;
    if (m->jobs) {
        m->jobs->prev = j;
    }
    m->jobs = j;
    m->njobs++;

    if (j->to == NULL || j->conv_id == NULL || j->rcpt == NULL
        || j->retry == NULL)
    {
        wachat_log(WACHAT_LOG_WARNING, "mail: out of memory: no e-mail to "
                   "%s about conversation %s", a->email, conv_id);
        job_free(j);
        return;
    }

    mail_job_start(j);
}


/* --- the content -------------------------------------------------------- */


/* "+" and the digits of a wa_id; a BSUID-only customer keeps its id */
static void
conv_number(wachat_mail_conv_t *c, const char *wa_id, const char *user_id)
{
    size_t  n = 0;

    if (wa_id && *wa_id) {
        c->number[n++] = '+';
        for (; *wa_id && n + 1 < sizeof(c->number); wa_id++) {
            if (*wa_id >= '0' && *wa_id <= '9') {
                c->number[n++] = *wa_id;
            }
        }
    } else if (user_id) {
        for (; *user_id && n + 1 < sizeof(c->number); user_id++) {
            if (*user_id > 0x20 && *user_id < 0x7F) {
                c->number[n++] = *user_id;
            }
        }
    }
    c->number[n] = '\0';
}


/* milliseconds: inbound history "ts" is Meta's seconds, replies' ours */
static long long
ts_ms(const char *s)
{
    long long  v = s ? atoll(s) : 0;

    return v > 0 && v < 100000000000LL ? v * 1000 : v;
}


static int
conv_load(wachat_mail_t *m, const char *conv_id, wachat_mail_conv_t *c)
{
    redisReply         *r;
    const redisReply   *name;
    wachat_mail_buf_t   b;
    const char         *v;
    char                key[WACHAT_KEY_MAX];

    memset(c, 0, sizeof(*c));
    wachat_key_conv(key, conv_id);

    r = wachat_store_cmd(m->st, "HGETALL %s", key);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        wachat_log(WACHAT_LOG_INFO, "mail: conversation %s: %s, no e-mail",
                   conv_id, r == NULL ? m->st->err : "not found");
        freeReplyObject(r);
        return -1;
    }

    name = wachat_reply_value(r, "name");
    if (name) {
        memset(&b, 0, sizeof(b));
        add_clean(&b, name->str, name->len, WACHAT_MAIL_NAME_MAX, 0);
        if (!b.oom && b.p) {
            snprintf(c->name, sizeof(c->name), "%s", b.p);
        }
        free(b.p);
    }

    conv_number(c, wachat_reply_field(r, "wa_id"),
                wachat_reply_field(r, "user_id"));
    v = wachat_reply_field(r, "mode");
    snprintf(c->mode, sizeof(c->mode), "%s", v ? v : "");
    c->last_in_ms = ts_ms(wachat_reply_field(r, "last_in_ts"));
    c->waiting_since_ms = ts_ms(wachat_reply_field(r, "waiting_since"));

    freeReplyObject(r);
    return 0;
}


/* "Sheena Nelson (+16505551234)", or just the number without a name */
static void
add_customer(wachat_mail_buf_t *b, const wachat_mail_conv_t *c)
{
    if (c->name[0] && c->number[0]) {
        buf_fmt(b, "%s (%s)", c->name, c->number);
    } else {
        buf_str(b, c->name[0] ? c->name
                   : c->number[0] ? c->number : "A customer");
    }
}


static void
add_speaker(wachat_mail_buf_t *b, const wachat_mail_conv_t *c,
    const char *who)
{
    if (who == NULL || strcmp(who, "customer") == 0) {
        buf_str(b, c->name[0] ? c->name : "Customer");
    } else if (strcmp(who, "ai") == 0) {
        buf_str(b, "Assistant");
    } else if (strcmp(who, "system") == 0) {
        buf_str(b, "wachat");
    } else if (strncmp(who, "agent:", 6) == 0) {
        buf_str(b, "Agent ");
        add_clean(b, who + 6, strlen(who + 6), WACHAT_MAIL_NAME_MAX, 0);
    } else {
        add_clean(b, who, strlen(who), WACHAT_MAIL_NAME_MAX, 0);
    }
}


static void
add_history_entry(wachat_mail_buf_t *b, const wachat_mail_conv_t *c,
    const redisReply *fields, long long now)
{
    const redisReply  *text;
    const char        *type;
    long long          ts;

    ts = ts_ms(wachat_reply_field(fields, "ts"));
    if (ts > 0) {
        buf_str(b, "[");
        add_time(b, ts, now - ts < 20 * 3600000LL ? "%H:%M UTC"
                                                  : "%d %b %H:%M UTC");
        buf_str(b, "] ");
    }

    add_speaker(b, c, wachat_reply_field(fields, "who"));
    buf_str(b, ": ");

    text = wachat_reply_value(fields, "text");
    if (text && text->len) {
        add_clean(b, text->str, text->len, WACHAT_MAIL_TEXT_MAX, 1);
    } else {
        type = wachat_reply_field(fields, "type");
        buf_str(b, "[");
        add_clean(b, type ? type : "no text", type ? strlen(type) : 7, 32, 0);
        buf_str(b, "]");
    }
    buf_str(b, "\n");
}


/* the last messages, customer's and replies alike, oldest first */
static void
add_history(wachat_mail_t *m, wachat_mail_buf_t *b, const char *conv_id,
    const wachat_mail_conv_t *c, long long now)
{
    redisReply  *r, *e;
    size_t       i;
    char         key[WACHAT_KEY_MAX];

    wachat_key_hist(key, conv_id);
    r = wachat_store_cmd(m->st, "XREVRANGE %s + - COUNT %d", key,
                         WACHAT_MAIL_HISTORY);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        buf_str(b, "(The messages could not be read; see the console.)\n");
        freeReplyObject(r);
        return;
    }

    buf_str(b, "Last messages, oldest first:\n\n");
    for (i = r->elements; i > 0; i--) {
        e = r->element[i - 1];
        if (e->type == REDIS_REPLY_ARRAY && e->elements == 2) {
            add_history_entry(b, c, e->element[1], now);
        }
    }
    freeReplyObject(r);
}


static void
add_window(wachat_mail_t *m, wachat_mail_buf_t *b,
    const wachat_mail_conv_t *c, long long now)
{
    long long  closes;

    if (c->last_in_ms <= 0) {
        return;
    }
    closes = c->last_in_ms + m->window_ms;

    if (closes > now) {
        buf_str(b, "Time left to reply: ");
        add_duration(b, closes - now);
        buf_str(b, " (the 24-hour window closes ");
        add_time(b, closes, "%Y-%m-%d %H:%M UTC");
        buf_str(b, ")\n");
    } else {
        buf_str(b, "Time left to reply: none. The 24-hour window closed ");
        add_time(b, closes, "%Y-%m-%d %H:%M UTC");
        buf_str(b, "; WhatsApp lets the business send only templates "
                "until the customer writes again.\n");
    }
}


/* the part every agent's copy shares, as plain UTF-8 with LF line ends */
static void
build_body(wachat_mail_t *m, wachat_mail_buf_t *b, const char *conv_id,
    const wachat_mail_conv_t *c, wachat_notify_e what, int still,
    long long now)
{
    add_customer(b, c);

    if (what == WACHAT_NOTIFY_NEW_CHAT) {
        buf_str(b, " started a chat. The assistant is answering; you can "
                "take the conversation over in the console.\n\n");
    } else if (still) {
        buf_str(b, " is still waiting for a person (asked ");
        add_duration(b, now - c->waiting_since_ms);
        buf_str(b, " ago).\n\n");
    } else {
        buf_str(b, " asks to talk to a person, and no agent is online.\n\n");
    }

    buf_fmt(b, "Customer: %s\n", c->name[0] ? c->name : "(no name)");
    buf_fmt(b, "Number:   %s\n", c->number[0] ? c->number : "(unknown)");
    add_window(m, b, c, now);
    buf_str(b, "\n");

    add_history(m, b, conv_id, c, now);
    buf_str(b, "\n");

    if (m->console_url[0]) {
        buf_fmt(b, "Open the conversation in the console:\n%s#/c/",
                m->console_url);
        url_add(b, conv_id);
        buf_str(b, "\n");
    } else {
        buf_str(b, "Answer from the agent console.\n");
    }
}


static void
build_subject(wachat_mail_buf_t *b, const wachat_mail_conv_t *c,
    wachat_notify_e what, int still)
{
    buf_str(b, "[wachat] ");
    add_customer(b, c);
    buf_str(b, what == WACHAT_NOTIFY_NEW_CHAT ? " started a chat"
               : still ? " still asks for a person"
               : " asks for a person");
}


/*
 * Headers, the shared body (quoted-printable already), then this agent's
 * signature, encoded on its own: the "-- " line's space must survive.
 */
static char *
build_message(wachat_mail_t *m, const wachat_mail_agent_t *a,
    const char *subject, const wachat_mail_buf_t *qp, long long now,
    size_t *len)
{
    wachat_mail_buf_t  b, sig;
    const char        *domain = strchr(m->server->from, '@');

    memset(&b, 0, sizeof(b));
    memset(&sig, 0, sizeof(sig));

    buf_str(&b, "Date: ");
    add_time(&b, now, "%a, %d %b %Y %H:%M:%S +0000");
    buf_fmt(&b, "\r\nFrom: wachat <%s>\r\nTo: <%s>\r\n", m->server->from,
            a->email);
    buf_fmt(&b, "Message-ID: <wachat.%lld.%08lx%s>\r\n", now,
            (unsigned long) random(), domain ? domain : "@wachat.invalid");
    buf_str(&b, "Subject: ");
    header_text(&b, subject);
    buf_str(&b, "\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n"
            /* RFC 3834: no vacation replies to the bot */
            "Auto-Submitted: auto-generated\r\n\r\n");
    buf_add(&b, qp->p, qp->len);

    buf_fmt(&sig, "\n-- \nwachat: you get this e-mail because notify=on is "
            "set for agent %s.\n", a->id);
    if (!sig.oom) {
        qp_add(&b, sig.p, sig.len);
    }

    if (b.oom || sig.oom) {
        free(b.p);
        free(sig.p);
        return NULL;
    }
    free(sig.p);
    *len = b.len;
    return b.p;
}


static void
mail_conversation(wachat_mail_t *m, const char *conv_id,
    wachat_notify_e what, int reminder)
{
    wachat_mail_conv_t  c;
    wachat_mail_buf_t   body, qp, subject;
    long long           now = wachat_clock_ms();
    size_t              i, len;
    char               *msg;
    int                 still;
    const char         *label;

    if (conv_load(m, conv_id, &c) != 0) {
        return;
    }

    if (what == WACHAT_NOTIFY_WAITING && strcmp(c.mode, "waiting_agent")) {
        wachat_log(WACHAT_LOG_DEBUG, "mail: conversation %s is %s now, not "
                   "waiting: no e-mail", conv_id, c.mode);
        return;
    }

    /* a tick that won the race against the hand-over's own e-mail is first */
    still = reminder && c.waiting_since_ms > 0
            && now - c.waiting_since_ms >= m->period_ms / 2;
    label = what == WACHAT_NOTIFY_NEW_CHAT ? "started a chat"
            : still ? "still asks for a person" : "asks for a person";

    memset(&body, 0, sizeof(body));
    memset(&qp, 0, sizeof(qp));
    memset(&subject, 0, sizeof(subject));

    build_body(m, &body, conv_id, &c, what, still, now);
    if (!body.oom) {
        qp_add(&qp, body.p, body.len);
    }
    build_subject(&subject, &c, what, still);

    for (i = 0; i < m->nagents && !body.oom && !qp.oom && !subject.oom;
         i++)
    {
        msg = build_message(m, &m->agents[i], subject.p, &qp, now, &len);
        if (msg) {
            mail_queue(m, &m->agents[i], conv_id, label, msg, len);
        }
    }

    if (body.oom || qp.oom || subject.oom) {
        wachat_log(WACHAT_LOG_WARNING, "mail: out of memory: no e-mail "
                   "about conversation %s", conv_id);
    }

    free(body.p);
    free(qp.p);
    free(subject.p);
}


/*
 * The marker that makes one e-mail per conversation and kind per period,
 * whichever wachatd gets there first: 1 this process sends, 0 someone did
 * within the period, -1 Redis failed (then nobody sends: a missed e-mail
 * is better than one per wachatd; the tick tries again).
 */
static int
mail_claim(wachat_mail_t *m, const char *conv_id, const char *kind)
{
    redisReply  *r;
    char         key[WACHAT_KEY_MAX];
    int          rc;

    snprintf(key, sizeof(key), "wachat:mailed:{%s}:%s", conv_id, kind);
    r = wachat_store_cmd(m->st, "SET %s %lld NX PX %lld", key,
                         wachat_clock_ms(), m->period_ms);

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        wachat_log(WACHAT_LOG_WARNING, "mail: conversation %s: no e-mail, "
                   "Redis: %s", conv_id, r ? r->str : m->st->err);
        rc = -1;
    } else {
        rc = r->type == REDIS_REPLY_STATUS ? 1 : 0;
    }
    freeReplyObject(r);
    return rc;
}


static int
mail_is_waiting(wachat_mail_t *m, const char *conv_id)
{
    redisReply  *r;
    int          yes;

    r = wachat_store_cmd(m->st, "ZSCORE %s %s", WACHAT_KEY_WAITING, conv_id);
    yes = r && r->type == REDIS_REPLY_STRING;
    freeReplyObject(r);
    return yes;
}


static int
mail_active(const wachat_mail_t *m)
{
    return m && m->server && !m->closing && m->nagents > 0;
}


/* --- the interface ------------------------------------------------------ */


wachat_mail_t *
wachat_mail_new(struct event_base *base, wachat_store_t *st,
    const wachat_config_t *cfg)
{
    wachat_mail_t  *m;

    if (base == NULL || st == NULL || cfg == NULL || cfg->smtp_url == NULL
        || cfg->smtp_url[0] == '\0')
    {
        return NULL;
    }

    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return NULL;
    }
    m->base = base;
    m->st = st;
    m->http = wachat_http_new(base, WACHAT_MAIL_CONCURRENCY);

    if (m->http == NULL || mail_configure(m, cfg) != 0) {
        wachat_log(WACHAT_LOG_ERROR, "mail: cannot start the mailer: no "
                   "e-mail notifications");
        wachat_mail_free(m);
        return NULL;
    }

    wachat_log(WACHAT_LOG_INFO, "mail: notifying %zu agent%s through %s",
               m->nagents, m->nagents == 1 ? "" : "s",
               m->server ? m->server->url : "(nothing)");
    return m;
}


void
wachat_mail_reload(wachat_mail_t *m, const wachat_config_t *cfg)
{
    if (m == NULL || cfg == NULL) {
        return;
    }
    if (mail_configure(m, cfg) != 0) {
        wachat_log(WACHAT_LOG_ERROR, "mail: reload: out of memory, keeping "
                   "the previous settings");
    }
}


void
wachat_mail_free(wachat_mail_t *m)
{
    if (m == NULL) {
        return;
    }

    /* transfers in flight end in job_done (cancelled); then the waiting */
    m->closing = 1;
    wachat_http_free(m->http);
    while (m->jobs) {
        job_give_up(m->jobs, "cancelled, the mailer stopped", 0);
    }

    agents_free(m);
    free(m->console_url);
    server_release(m->server);
    free(m);
}


void
wachat_mail_notify(void *data, wachat_notify_e what, const char *conv_id)
{
    wachat_mail_t  *m = data;
    const char     *kind;

    if (!mail_active(m) || conv_id == NULL || *conv_id == '\0') {
        return;
    }

    /* a first message that asks for a person: its hand-over e-mail says it */
    if (what == WACHAT_NOTIFY_NEW_CHAT && mail_is_waiting(m, conv_id)) {
        return;
    }

    kind = what == WACHAT_NOTIFY_NEW_CHAT ? "new_chat" : "waiting";
    if (mail_claim(m, conv_id, kind) == 1) {
        mail_conversation(m, conv_id, what, 0);
    }
}


/*
 * Conversations whose e-mail marker expired and that still wait get
 * another e-mail.  Those whose 24-hour window closed are left out: a
 * person can no longer answer them on WhatsApp, a reminder would be noise.
 * Most urgent first (the set is ordered by window end), a few per tick;
 * each tick goes on where the last one stopped, so with a long queue the
 * conversations further down get their turn too (the set changes between
 * ticks: "where" is approximate, which costs at most a tick's delay).
 */
void
wachat_mail_tick(wachat_mail_t *m)
{
    redisReply  *r;
    size_t       i, sent;
    char         now[32];

    if (!mail_active(m)) {
        return;
    }

    snprintf(now, sizeof(now), "%lld", wachat_clock_ms());
    r = wachat_store_cmd(m->st, "ZRANGEBYSCORE %s %s +inf LIMIT %ld %d",
                         WACHAT_KEY_WAITING, now, m->tick_from,
                         WACHAT_MAIL_TICK_SCAN);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return;
    }

    for (i = 0, sent = 0; i < r->elements && sent < WACHAT_MAIL_TICK_SEND;
         i++)
    {
        if (r->element[i]->type == REDIS_REPLY_STRING
            && mail_claim(m, r->element[i]->str, "waiting") == 1)
        {
            mail_conversation(m, r->element[i]->str, WACHAT_NOTIFY_WAITING,
                              1);
            sent++;
        }
    }

    /* the end of the set: next time from the most urgent again */
    if (i == r->elements && r->elements < WACHAT_MAIL_TICK_SCAN) {
        m->tick_from = 0;
    } else {
        m->tick_from += (long) i;
    }
    freeReplyObject(r);
}
