/*
 * wachat smtp: SMTP deliveries over wachat_http and RFC 5322 messages (see
 * smtp.h).
 *
 * A job is one message to one recipient with its attempts.  The server
 * settings are shared by the jobs queued under them and counted: a reload
 * does not change a message between its attempts, and the old settings go
 * when their last job does.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "clients/http.h"
#include "clients/smtp.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "wachat_utf8.h"


#define WACHAT_SMTP_BACKOFF_MS    1000      /* then x3: 1 s, 3 s */
#define WACHAT_SMTP_TIMEOUT_MS    30000     /* one whole SMTP session */
#define WACHAT_SMTP_WORD_BYTES    42        /* per RFC 2047 encoded word */


typedef struct {
    int     refs;
    char   *url;
    char   *from;           /* bare address */
    char   *user;           /* NULL: no authentication */
    char   *password;
    int     implicit_tls;   /* smtps:// */
} wachat_smtp_server_t;


typedef struct wachat_smtp_job_s  wachat_smtp_job_t;

struct wachat_smtp_job_s {
    wachat_smtp_t          *smtp;
    wachat_smtp_job_t      *prev;
    wachat_smtp_job_t      *next;
    wachat_smtp_server_t   *server;
    struct curl_slist      *rcpt;
    struct event           *retry;
    char                   *to;         /* the bare address, for logs */
    char                   *msg;        /* the message, CRLF line ends */
    size_t                  len;
    size_t                  off;        /* read position of this attempt */
    int                     attempt;
    wachat_smtp_done_pt     done;
    void                   *data;
};


struct wachat_smtp_s {
    struct event_base      *base;
    wachat_http_t          *http;
    wachat_smtp_server_t   *server;     /* NULL: none */
    wachat_smtp_job_t      *jobs;
    size_t                  njobs;
    int                     closing;
};


static int wachat_smtp_start(wachat_smtp_job_t *j);


/* --- the message ---------------------------------------------------------- */


int
wachat_smtp_address_ok(const char *a)
{
    return a && *a && strpbrk(a, "\r\n<>\" ,;") == NULL;
}


static void
wachat_smtp_base64(wachat_buf_t *b, const unsigned char *s, size_t n)
{
    size_t              i;
    char                out[4];
    unsigned long       v;
    static const char   tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

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
        wachat_buf_add(b, out, 4);
    }
}


/*
 * A header value that is not plain printable ASCII (a Chinese name, say)
 * becomes RFC 2047 "B" encoded words of whole UTF-8 characters, folded
 * onto continuation lines so no line grows past 78 characters.
 */
static void
wachat_smtp_header_text(wachat_buf_t *b, const char *s)
{
    int     plain;
    size_t  i, n, len;

    len = strlen(s);
    plain = strstr(s, "=?") == NULL;

    for (i = 0; plain && i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] > 0x7E) {
            plain = 0;
        }
    }

    if (plain) {
        wachat_buf_add(b, s, len);
        return;
    }

    for (i = 0; i < len; i += n) {
        n = wachat_utf8_cut(s + i, len - i, WACHAT_SMTP_WORD_BYTES);

        if (n == 0) {
            /* not UTF-8 after all: never loop */
            n = len - i < WACHAT_SMTP_WORD_BYTES ? len - i
                                                 : WACHAT_SMTP_WORD_BYTES;
        }

        wachat_buf_str(b, i ? "\r\n =?UTF-8?B?" : "=?UTF-8?B?");
        wachat_smtp_base64(b, (const unsigned char *) s + i, n);
        wachat_buf_str(b, "?=");
    }
}


/*
 * Quoted-printable (RFC 2045) of text with LF line ends, into CRLF lines
 * of at most 76 characters: any byte a customer sent arrives intact and
 * none can look like SMTP or MIME syntax on the wire.
 */
static void
wachat_smtp_qp(wachat_buf_t *b, const char *s, size_t n)
{
    int             eol;
    char            tok[4];
    size_t          i, col, tl;
    unsigned char   c;

    col = 0;

    for (i = 0; i < n; i++) {
        c = (unsigned char) s[i];

        if (c == '\n') {
            wachat_buf_str(b, "\r\n");
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
            wachat_buf_str(b, "=\r\n");
            col = 0;
        }

        wachat_buf_add(b, tok, tl);
        col += tl;
    }
}


char *
wachat_smtp_format(const wachat_smtp_msg_t *m, size_t *len)
{
    const char    *domain;
    wachat_buf_t   b = WACHAT_BUF_INIT;

    domain = strchr(m->from, '@');

    wachat_buf_str(&b, "Date: ");
    wachat_buf_time(&b, m->now_ms, "%a, %d %b %Y %H:%M:%S +0000");
    wachat_buf_fmt(&b, "\r\nFrom: wachat <%s>\r\nTo: <%s>\r\n", m->from,
                   m->to);
    wachat_buf_fmt(&b, "Message-ID: <wachat.%lld.%08lx%s>\r\n", m->now_ms,
                   (unsigned long) random(),
                   domain ? domain : "@wachat.invalid");
    wachat_buf_str(&b, "Subject: ");
    wachat_smtp_header_text(&b, m->subject);
    wachat_buf_str(&b, "\r\nMIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=UTF-8\r\n"
                   "Content-Transfer-Encoding: quoted-printable\r\n"
                   /* RFC 3834: no vacation replies to the bot */
                   "Auto-Submitted: auto-generated\r\n\r\n");
    wachat_smtp_qp(&b, m->text, m->text_len);

    return wachat_buf_detach(&b, len);
}


/* --- the server ----------------------------------------------------------- */


static void
wachat_smtp_wipe_free(char *s)
{
    volatile char  *v;

    if (s == NULL) {
        return;
    }

    /* volatile: the wipe of a secret must not be optimised away */
    for (v = s; *v; v++) {
        *v = '\0';
    }

    free(s);
}


static void
wachat_smtp_server_release(wachat_smtp_server_t *s)
{
    if (s == NULL || --s->refs > 0) {
        return;
    }

    free(s->url);
    free(s->from);
    free(s->user);
    wachat_smtp_wipe_free(s->password);
    free(s);
}


static wachat_smtp_server_t *
wachat_smtp_server_new(const wachat_smtp_conf_t *conf)
{
    int                    auth;
    wachat_smtp_server_t  *s;

    s = calloc(1, sizeof(wachat_smtp_server_t));
    if (s == NULL) {
        return NULL;
    }

    auth = conf->user && conf->user[0];

    s->refs = 1;
    s->url = strdup(conf->url);
    s->from = strdup(conf->from ? conf->from : "");
    s->implicit_tls = strncmp(conf->url, "smtps://", 8) == 0;

    if (auth) {
        s->user = strdup(conf->user);
        s->password = strdup(conf->password ? conf->password : "");
    }

    if (s->url == NULL || s->from == NULL
        || (auth && (s->user == NULL || s->password == NULL)))
    {
        wachat_smtp_server_release(s);
        return NULL;
    }

    return s;
}


int
wachat_smtp_configure(wachat_smtp_t *smtp, const wachat_smtp_conf_t *conf)
{
    wachat_smtp_server_release(smtp->server);
    smtp->server = NULL;

    if (conf == NULL || conf->url == NULL || conf->url[0] == '\0') {
        return 0;
    }

    smtp->server = wachat_smtp_server_new(conf);
    if (smtp->server == NULL) {
        return -1;
    }

    if (!wachat_smtp_address_ok(smtp->server->from)) {
        wachat_smtp_server_release(smtp->server);
        smtp->server = NULL;
        return -2;
    }

    return 0;
}


const char *
wachat_smtp_url(const wachat_smtp_t *smtp)
{
    return smtp->server ? smtp->server->url : NULL;
}


const char *
wachat_smtp_from(const wachat_smtp_t *smtp)
{
    return smtp->server ? smtp->server->from : NULL;
}


size_t
wachat_smtp_queued(const wachat_smtp_t *smtp)
{
    return smtp->njobs;
}


/* --- jobs: one message to one recipient, with its attempts -------------- */


static void
wachat_smtp_job_free(wachat_smtp_job_t *j)
{
    wachat_smtp_t  *smtp = j->smtp;

    if (j->prev) {
        j->prev->next = j->next;

    } else {
        smtp->jobs = j->next;
    }

    if (j->next) {
        j->next->prev = j->prev;
    }

    smtp->njobs--;

    if (j->retry) {
        event_free(j->retry);
    }

    wachat_smtp_server_release(j->server);
    curl_slist_free_all(j->rcpt);
    free(j->to);
    free(j->msg);
    free(j);
}


/* the result, once; then the job goes */
static void
wachat_smtp_job_end(wachat_smtp_job_t *j, int ok, const char *why, long code)
{
    wachat_smtp_result_t  res;

    res.ok = ok;
    res.attempts = j->attempt;
    res.error = why ? why : "";
    res.code = code;

    j->done(j->data, &res);
    wachat_smtp_job_free(j);
}


static size_t
wachat_smtp_on_read(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    size_t              n;
    wachat_smtp_job_t  *j = userdata;

    n = size * nmemb;

    if (n > j->len - j->off) {
        n = j->len - j->off;
    }

    memcpy(ptr, j->msg + j->off, n);
    j->off += n;

    return n;
}


/* smtp://127.x, [::1] or localhost: a relay on this host */
static int
wachat_smtp_is_local(const char *url)
{
    const char  *h;

    h = strstr(url, "://");
    h = h ? h + 3 : url;

    return strncmp(h, "127.", 4) == 0 || strncmp(h, "[::1]", 5) == 0
           || strncmp(h, "localhost", 9) == 0;
}


/* a wachat_http_setup_pt: the SMTP options of one attempt */
static int
wachat_smtp_setup(void *data, void *easy)
{
    int                    rc = 0;
    CURL                  *e = easy;
    char                   from[512];
    wachat_smtp_job_t     *j = data;
    wachat_smtp_server_t  *s = j->server;

    snprintf(from, sizeof(from), "<%s>", s->from);

    rc |= curl_easy_setopt(e, CURLOPT_URL, s->url);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    rc |= curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
    rc |= curl_easy_setopt(e, CURLOPT_MAIL_RCPT, j->rcpt);
    rc |= curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_READFUNCTION, wachat_smtp_on_read);
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
                               (long) (s->user && !wachat_smtp_is_local(s->url)
                                       ? CURLUSESSL_ALL : CURLUSESSL_TRY));
    }

    if (s->user) {
        rc |= curl_easy_setopt(e, CURLOPT_USERNAME, s->user);
        rc |= curl_easy_setopt(e, CURLOPT_PASSWORD, s->password);
    }

    return rc == CURLE_OK ? 0 : -1;
}


static void
wachat_smtp_on_retry(evutil_socket_t fd, short what, void *arg)
{
    wachat_smtp_job_t  *j = arg;

    (void) fd;
    (void) what;

    if (wachat_smtp_start(j) != 0) {
        wachat_smtp_job_end(j, 0, "the transfer could not be started", 0);
    }
}


/* a wachat_http_done_pt: delivered, tried again later, or given up */
static void
wachat_smtp_on_done(void *data, const wachat_http_resp_t *resp)
{
    int                 i;
    long                delay;
    struct timeval      tv;
    wachat_smtp_job_t  *j = data;

    if (resp->error == WACHAT_HTTP_DONE) {
        wachat_smtp_job_end(j, 1, NULL, resp->status);
        return;
    }

    /* wachat_smtp_free() runs */
    if (resp->error == WACHAT_HTTP_ECANCELLED || j->smtp->closing) {
        wachat_smtp_job_end(j, 0, "cancelled, the mailer stopped", 0);
        return;
    }

    /* 5xx is the server's final word (unknown user, policy): no retry */
    if (j->attempt >= WACHAT_SMTP_ATTEMPTS
        || (resp->status >= 500 && resp->status < 600))
    {
        wachat_smtp_job_end(j, 0, resp->error_text, resp->status);
        return;
    }

    for (delay = WACHAT_SMTP_BACKOFF_MS, i = 1; i < j->attempt; i++) {
        delay *= 3;
    }

    wachat_log(WACHAT_LOG_DEBUG, "mail: attempt %d to %s failed (%s, SMTP "
               "%ld): again in %ld ms", j->attempt, j->to, resp->error_text,
               resp->status, delay);

    tv.tv_sec = delay / 1000;
    tv.tv_usec = (delay % 1000) * 1000;

    if (evtimer_add(j->retry, &tv) != 0) {
        wachat_smtp_job_end(j, 0, resp->error_text, resp->status);
    }
}


static int
wachat_smtp_start(wachat_smtp_job_t *j)
{
    j->attempt++;
    j->off = 0;

    return wachat_http_transfer(j->smtp->http, WACHAT_SMTP_TIMEOUT_MS,
                                wachat_smtp_setup, wachat_smtp_on_done, j);
}


/* --- the interface -------------------------------------------------------- */


wachat_smtp_t *
wachat_smtp_new(struct event_base *base, size_t max_concurrent)
{
    wachat_smtp_t  *smtp;

    smtp = calloc(1, sizeof(wachat_smtp_t));
    if (smtp == NULL) {
        return NULL;
    }

    smtp->base = base;
    smtp->http = wachat_http_new(base, max_concurrent);

    if (smtp->http == NULL) {
        free(smtp);
        return NULL;
    }

    return smtp;
}


wachat_smtp_rc_e
wachat_smtp_send(wachat_smtp_t *smtp, const char *to, char *msg, size_t len,
    wachat_smtp_done_pt done, void *data)
{
    char                rcpt[512];
    wachat_smtp_job_t  *j;

    if (smtp->server == NULL || smtp->closing) {
        free(msg);
        return WACHAT_SMTP_ENOSERVER;
    }

    if (smtp->njobs >= WACHAT_SMTP_MAX_QUEUED) {
        free(msg);
        return WACHAT_SMTP_EFULL;
    }

    j = calloc(1, sizeof(wachat_smtp_job_t));
    if (j == NULL) {
        free(msg);
        return WACHAT_SMTP_ENOMEM;
    }

    snprintf(rcpt, sizeof(rcpt), "<%s>", to);

    j->smtp = smtp;
    j->msg = msg;
    j->len = len;
    j->done = done;
    j->data = data;
    j->to = strdup(to);
    j->rcpt = curl_slist_append(NULL, rcpt);
    j->retry = evtimer_new(smtp->base, wachat_smtp_on_retry, j);
    j->server = smtp->server;
    j->server->refs++;

    j->next = smtp->jobs;

    if (smtp->jobs) {
        smtp->jobs->prev = j;
    }

    smtp->jobs = j;
    smtp->njobs++;

    if (j->to == NULL || j->rcpt == NULL || j->retry == NULL) {
        wachat_smtp_job_free(j);
        return WACHAT_SMTP_ENOMEM;
    }

    if (wachat_smtp_start(j) != 0) {
        wachat_smtp_job_free(j);
        return WACHAT_SMTP_ESTART;
    }

    return WACHAT_SMTP_OK;
}


void
wachat_smtp_free(wachat_smtp_t *smtp)
{
    if (smtp == NULL) {
        return;
    }

    /* transfers in flight end in wachat_smtp_on_done(); then the waiting */
    smtp->closing = 1;
    wachat_http_free(smtp->http);

    while (smtp->jobs) {
        wachat_smtp_job_end(smtp->jobs, 0, "cancelled, the mailer stopped",
                            0);
    }

    wachat_smtp_server_release(smtp->server);
    free(smtp);
}
