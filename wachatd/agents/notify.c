/*
 * notify: who gets an e-mail about what, and its text (see notify.h).
 *
 * Flow: the engine reports a hand-over nobody could take, or a new chat;
 * one SET NX PX marker per conversation and kind, shared by every wachatd,
 * decides whether this process mails now; the conversation and its last
 * messages are read from Redis (short synchronous commands, like the rest
 * of the processing path), one message is built per opted-in agent and
 * handed to the SMTP client, which delivers and retries it.  The outcome
 * of each e-mail is logged once, with the server's reason and reply code.
 * Nothing here reports back to the engine: an e-mail can neither fail nor
 * delay a conversation.
 *
 * What customers wrote (names, texts) goes into the Subject only as
 * sanitised text (no control characters), and into the body as it is;
 * smtp.c encodes both, so no customer byte can end a header line or the
 * message.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agents.h"
#include "agents/notify.h"
#include "agents/notify_int.h"
#include "clients/smtp.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "wachat_contract.h"
#include "wachat_utf8.h"


/* --- text helpers --------------------------------------------------------- */


/*
 * Customer text for the e-mail: control characters (CR, LF, NUL, ESC...)
 * become spaces, except that keep_lf keeps line breaks (CRLF and CR count
 * as one) for message bodies; cut to max bytes with an ellipsis.
 */
static void
wachat_notify_add_clean(wachat_buf_t *b, const char *s, size_t n,
    size_t max, int keep_lf)
{
    size_t          i, cut;
    unsigned char   c;

    cut = wachat_utf8_cut(s, n, max);

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
            wachat_buf_str(b, "\n    ");

        } else if (c < 0x20 || c == 0x7F) {
            wachat_buf_add(b, " ", 1);

        } else {
            wachat_buf_add(b, (const char *) &c, 1);
        }
    }

    if (cut < n) {
        wachat_buf_str(b, "\xe2\x80\xa6");
    }
}


/* the conversation id as one URL fragment segment */
void
wachat_notify_add_url(wachat_buf_t *b, const char *s)
{
    unsigned char  c;

    for ( /* void */ ; *s; s++) {
        c = (unsigned char) *s;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~')
        {
            wachat_buf_add(b, (const char *) &c, 1);

        } else {
            wachat_buf_fmt(b, "%%%02X", c);
        }
    }
}


void
wachat_notify_add_duration(wachat_buf_t *b, long long ms)
{
    long long  min;

    min = ms / 60000;

    if (min < 1) {
        wachat_buf_str(b, "under a minute");

    } else if (min >= 60) {
        wachat_buf_fmt(b, "%lld h %02lld min", min / 60, min % 60);

    } else {
        wachat_buf_fmt(b, "%lld min", min);
    }
}


/* --- settings ------------------------------------------------------------- */


static void
wachat_notify_agents_free(wachat_notify_t *m)
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


/* the agents who want e-mails, with a usable address; -1 out of memory */
static int
wachat_notify_agents(const wachat_config_t *cfg, wachat_notify_agent_t **out,
    size_t *nout)
{
    size_t                  i, n;
    wachat_notify_agent_t  *a;
    const wachat_agent_t   *ag;

    a = calloc(cfg->agents.n + 1, sizeof(wachat_notify_agent_t));
    if (a == NULL) {
        return -1;
    }

    for (i = 0, n = 0; i < cfg->agents.n; i++) {
        ag = &cfg->agents.items[i];

        if (!ag->notify || !wachat_smtp_address_ok(ag->email)) {
            continue;
        }

        a[n].id = strdup(ag->id);
        a[n].email = strdup(ag->email);
        a[n].policy = ag->notify;

        if (a[n].id == NULL || a[n].email == NULL) {
            free(a[n].id);
            free(a[n].email);
            continue;
        }

        n++;
    }

    *out = a;
    *nout = n;

    return 0;
}


/* copies: the config is freed after a reload, e-mails may still be built */
static int
wachat_notify_configure(wachat_notify_t *m, const wachat_config_t *cfg)
{
    size_t                  n;
    char                   *console;
    wachat_smtp_conf_t      sc;
    wachat_notify_agent_t  *a;

    console = strdup(cfg->console_url ? cfg->console_url : "");
    if (console == NULL) {
        return -1;
    }

    if (wachat_notify_agents(cfg, &a, &n) != 0) {
        free(console);
        return -1;
    }

    wachat_notify_agents_free(m);
    free(m->console_url);

    m->cfg = cfg;
    m->agents = a;
    m->nagents = n;
    m->console_url = console;
    m->digest_after = cfg->notify_digest_after;
    m->digest_period_ms = cfg->notify_digest_period_ms;
    m->period_ms = cfg->notify_period_ms > 0 ? cfg->notify_period_ms
                                             : 30 * 60000;
    m->window_ms = cfg->window_ms > 0 ? cfg->window_ms : 24 * 3600000LL;

    sc.url = cfg->smtp_url;
    sc.from = cfg->smtp_from ? cfg->smtp_from : "";
    sc.user = cfg->smtp_user;
    sc.password = cfg->smtp_password.value;

    if (wachat_smtp_configure(m->smtp, &sc) == -2) {
        wachat_log(WACHAT_LOG_ERROR, "mail: smtp_from \"%s\" is not a "
                   "usable address: no e-mail is sent", sc.from);
    }

    return 0;
}


/* --- e-mails in the SMTP client's hands ----------------------------------- */


static void
wachat_notify_job_free(wachat_notify_job_t *j)
{
    free(j->to);
    free(j->conv_id);
    free(j);
}


/* the one line a failed e-mail leaves in the log */
static void
wachat_notify_failed(const wachat_notify_job_t *j, int attempts,
    const char *why, long code)
{
    char  smtp[32] = "";

    if (code > 0) {
        snprintf(smtp, sizeof(smtp), " (SMTP %ld)", code);
    }

    wachat_log(WACHAT_LOG_WARNING, "mail: e-mail to %s about conversation %s "
               "(%s) failed after %d attempt%s: %s%s", j->to, j->conv_id,
               j->what, attempts, attempts == 1 ? "" : "s", why, smtp);
}


/* a wachat_smtp_done_pt */
static void
wachat_notify_on_sent(void *data, const wachat_smtp_result_t *res)
{
    wachat_notify_job_t  *j = data;

    if (res->ok) {
        wachat_log(WACHAT_LOG_NOTICE, "mail: told %s that conversation %s "
                   "%s%s", j->to, j->conv_id, j->what,
                   res->attempts > 1 ? " (after a retry)" : "");

    } else {
        wachat_notify_failed(j, res->attempts, res->error, res->code);
    }

    wachat_notify_job_free(j);
}


/* takes msg (freed in any case) */
void
wachat_notify_queue(wachat_notify_t *m, const wachat_notify_agent_t *a,
    const char *conv_id, const char *what, char *msg, size_t len)
{
    wachat_notify_job_t  *j;

    j = calloc(1, sizeof(wachat_notify_job_t));
    if (j == NULL) {
        free(msg);
        return;
    }

    j->to = strdup(a->email);
    j->conv_id = strdup(conv_id);
    j->what = what;

    if (j->to == NULL || j->conv_id == NULL) {
        free(msg);
        wachat_notify_job_free(j);
        wachat_log(WACHAT_LOG_WARNING, "mail: out of memory: no e-mail to "
                   "%s about conversation %s", a->email, conv_id);
        return;
    }

    switch (wachat_smtp_send(m->smtp, a->email, msg, len,
                             wachat_notify_on_sent, j))
    {
    case WACHAT_SMTP_OK:
        return;

    case WACHAT_SMTP_EFULL:
        wachat_log(WACHAT_LOG_WARNING, "mail: %zu e-mails already waiting "
                   "for the mail server: none to %s about conversation %s",
                   wachat_smtp_queued(m->smtp), a->email, conv_id);
        break;

    case WACHAT_SMTP_ENOMEM:
        wachat_log(WACHAT_LOG_WARNING, "mail: out of memory: no e-mail to "
                   "%s about conversation %s", a->email, conv_id);
        break;

    case WACHAT_SMTP_ESTART:
        wachat_notify_failed(j, 1, "the transfer could not be started", 0);
        break;

    case WACHAT_SMTP_ENOSERVER:
        break;
    }

    wachat_notify_job_free(j);
}


/* --- the conversation ----------------------------------------------------- */


/* "+" and the digits of a wa_id; a BSUID-only customer keeps its id */
static void
wachat_notify_number(wachat_notify_conv_t *c, const char *wa_id,
    const char *user_id)
{
    size_t  n = 0;

    if (wa_id && *wa_id) {
        c->number[n++] = '+';

        for ( /* void */ ; *wa_id && n + 1 < sizeof(c->number); wa_id++) {
            if (*wa_id >= '0' && *wa_id <= '9') {
                c->number[n++] = *wa_id;
            }
        }

    } else if (user_id) {
        for ( /* void */ ; *user_id && n + 1 < sizeof(c->number); user_id++) {
            if (*user_id > 0x20 && *user_id < 0x7F) {
                c->number[n++] = *user_id;
            }
        }
    }

    c->number[n] = '\0';
}


/* milliseconds: inbound history "ts" is Meta's seconds, replies' ours */
static long long
wachat_notify_ms(const char *s)
{
    long long  v;

    v = s ? atoll(s) : 0;

    return v > 0 && v < 100000000000LL ? v * 1000 : v;
}


int
wachat_notify_load(wachat_notify_t *m, const char *conv_id,
    wachat_notify_conv_t *c)
{
    redisReply        *r;
    const char        *v;
    wachat_buf_t       b = WACHAT_BUF_INIT;
    const redisReply  *name;
    char               key[WACHAT_KEY_MAX];

    memset(c, 0, sizeof(wachat_notify_conv_t));
    wachat_store_key_conv(key, conv_id);

    r = wachat_redis_cmd(m->st, "HGETALL %s", key);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        wachat_log(WACHAT_LOG_INFO, "mail: conversation %s: %s, no e-mail",
                   conv_id, r == NULL ? m->st->err : "not found");
        freeReplyObject(r);
        return -1;
    }

    name = wachat_redis_reply_value(r, "name");

    if (name) {
        wachat_notify_add_clean(&b, name->str, name->len,
                                WACHAT_NOTIFY_NAME_MAX, 0);

        if (!b.oom && b.p) {
            snprintf(c->name, sizeof(c->name), "%s", b.p);
        }

        wachat_buf_free(&b);
    }

    wachat_notify_number(c, wachat_redis_reply_field(r, "wa_id"),
                         wachat_redis_reply_field(r, "user_id"));
    v = wachat_redis_reply_field(r, "mode");
    snprintf(c->mode, sizeof(c->mode), "%s", v ? v : "");
    c->last_in_ms = wachat_notify_ms(wachat_redis_reply_field(r, "last_in_ts"));
    c->waiting_since_ms =
        wachat_notify_ms(wachat_redis_reply_field(r, "waiting_since"));

    freeReplyObject(r);

    return 0;
}


/* "Sheena Nelson (+16505551234)", or just the number without a name */
void
wachat_notify_add_customer(wachat_buf_t *b, const wachat_notify_conv_t *c)
{
    if (c->name[0] && c->number[0]) {
        wachat_buf_fmt(b, "%s (%s)", c->name, c->number);

    } else {
        wachat_buf_str(b, c->name[0] ? c->name
                          : c->number[0] ? c->number : "A customer");
    }
}


static void
wachat_notify_add_speaker(wachat_buf_t *b, const wachat_notify_conv_t *c,
    const char *who)
{
    if (who == NULL || strcmp(who, "customer") == 0) {
        wachat_buf_str(b, c->name[0] ? c->name : "Customer");

    } else if (strcmp(who, "ai") == 0) {
        wachat_buf_str(b, "Assistant");

    } else if (strcmp(who, "system") == 0) {
        wachat_buf_str(b, "wachat");

    } else if (strncmp(who, "agent:", 6) == 0) {
        wachat_buf_str(b, "Agent ");
        wachat_notify_add_clean(b, who + 6, strlen(who + 6),
                                WACHAT_NOTIFY_NAME_MAX, 0);

    } else {
        wachat_notify_add_clean(b, who, strlen(who), WACHAT_NOTIFY_NAME_MAX,
                                0);
    }
}


static void
wachat_notify_add_entry(wachat_buf_t *b, const wachat_notify_conv_t *c,
    const redisReply *fields, long long now)
{
    long long          ts;
    const char        *type;
    const redisReply  *text;

    ts = wachat_notify_ms(wachat_redis_reply_field(fields, "ts"));

    if (ts > 0) {
        wachat_buf_str(b, "[");
        wachat_buf_localtime(b, ts, now - ts < 20 * 3600000LL
                                    ? "%H:%M %Z" : "%d %b %H:%M %Z");
        wachat_buf_str(b, "] ");
    }

    wachat_notify_add_speaker(b, c, wachat_redis_reply_field(fields, "who"));
    wachat_buf_str(b, ": ");

    text = wachat_redis_reply_value(fields, "text");

    if (text && text->len) {
        wachat_notify_add_clean(b, text->str, text->len,
                                WACHAT_NOTIFY_TEXT_MAX, 1);

    } else {
        type = wachat_redis_reply_field(fields, "type");
        wachat_buf_str(b, "[");
        wachat_notify_add_clean(b, type ? type : "no text",
                                type ? strlen(type) : 7, 32, 0);
        wachat_buf_str(b, "]");
    }

    wachat_buf_str(b, "\n");
}


/* the last messages, customer's and replies alike, oldest first */
static void
wachat_notify_add_history(wachat_notify_t *m, wachat_buf_t *b,
    const char *conv_id, const wachat_notify_conv_t *c, long long now)
{
    size_t       i;
    redisReply  *r, *e;
    char         key[WACHAT_KEY_MAX];

    wachat_store_key_hist(key, conv_id);
    r = wachat_redis_cmd(m->st, "XREVRANGE %s + - COUNT %d", key,
                         WACHAT_NOTIFY_HISTORY);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        wachat_buf_str(b, "(The messages could not be read; see the "
                       "console.)\n");
        freeReplyObject(r);
        return;
    }

    wachat_buf_str(b, "Last messages, oldest first:\n\n");

    for (i = r->elements; i > 0; i--) {
        e = r->element[i - 1];

        if (e->type == REDIS_REPLY_ARRAY && e->elements == 2) {
            wachat_notify_add_entry(b, c, e->element[1], now);
        }
    }

    freeReplyObject(r);
}


static void
wachat_notify_add_window(wachat_notify_t *m, wachat_buf_t *b,
    const wachat_notify_conv_t *c, long long now)
{
    long long  closes;

    if (c->last_in_ms <= 0) {
        return;
    }

    closes = c->last_in_ms + m->window_ms;

    if (closes > now) {
        wachat_buf_str(b, "Time left to reply: ");
        wachat_notify_add_duration(b, closes - now);
        wachat_buf_str(b, " (the 24-hour window closes ");
        wachat_buf_localtime(b, closes, "%Y-%m-%d %H:%M %Z");
        wachat_buf_str(b, ")\n");

    } else {
        wachat_buf_str(b, "Time left to reply: none. The 24-hour window "
                       "closed ");
        wachat_buf_localtime(b, closes, "%Y-%m-%d %H:%M %Z");
        wachat_buf_str(b, "; WhatsApp lets the business send only templates "
                       "until the customer writes again.\n");
    }
}


/* --- the e-mail ----------------------------------------------------------- */


/* the part every agent's copy shares, as plain UTF-8 with LF line ends */
static void
wachat_notify_body(wachat_notify_t *m, wachat_buf_t *b, const char *conv_id,
    const wachat_notify_conv_t *c, wachat_notify_e what, int still,
    long long now)
{
    wachat_notify_add_customer(b, c);

    if (what == WACHAT_NOTIFY_NEW_CHAT) {
        wachat_buf_str(b, " started a chat. The assistant is answering; you "
                       "can take the conversation over in the console.\n\n");

    } else if (still) {
        wachat_buf_str(b, " is still waiting for a person (asked ");
        wachat_notify_add_duration(b, now - c->waiting_since_ms);
        wachat_buf_str(b, " ago).\n\n");

    } else {
        wachat_buf_str(b, " asks to talk to a person, and no agent is "
                       "online.\n\n");
    }

    wachat_buf_fmt(b, "Customer: %s\n", c->name[0] ? c->name : "(no name)");
    wachat_buf_fmt(b, "Number:   %s\n",
                   c->number[0] ? c->number : "(unknown)");
    wachat_notify_add_window(m, b, c, now);
    wachat_buf_str(b, "\n");

    wachat_notify_add_history(m, b, conv_id, c, now);
    wachat_buf_str(b, "\n");

    if (m->console_url[0]) {
        wachat_buf_fmt(b, "Open the conversation in the console:\n%s#/c/",
                       m->console_url);
        wachat_notify_add_url(b, conv_id);
        wachat_buf_str(b, "\n");

    } else {
        wachat_buf_str(b, "Answer from the agent console.\n");
    }
}


static void
wachat_notify_subject(wachat_buf_t *b, const wachat_notify_conv_t *c,
    wachat_notify_e what, int still)
{
    wachat_buf_str(b, "[wachat] ");
    wachat_notify_add_customer(b, c);
    wachat_buf_str(b, what == WACHAT_NOTIFY_NEW_CHAT ? " started a chat"
                      : still ? " still asks for a person"
                      : " asks for a person");
}


/* the shared body, then this agent's signature; NULL when out of memory */
char *
wachat_notify_message(wachat_notify_t *m, const wachat_notify_agent_t *a,
    const char *subject, const wachat_buf_t *body, long long now,
    size_t *len)
{
    char               *msg;
    wachat_buf_t        text = WACHAT_BUF_INIT;
    wachat_smtp_msg_t   sm;

    wachat_buf_add(&text, body->p, body->len);
    wachat_buf_fmt(&text, "\n-- \nwachat: you get this e-mail because "
                   "notify=%s is set for agent %s.\n",
                   wachat_agent_notify_name(a->policy), a->id);

    if (text.oom) {
        wachat_buf_free(&text);
        return NULL;
    }

    sm.from = wachat_smtp_from(m->smtp);
    sm.to = a->email;
    sm.subject = subject;
    sm.text = text.p;
    sm.text_len = text.len;
    sm.now_ms = now;

    msg = wachat_smtp_format(&sm, len);
    wachat_buf_free(&text);

    return msg;
}


static void
wachat_notify_conversation(wachat_notify_t *m, const char *conv_id,
    wachat_notify_e what, int reminder)
{
    int                    still;
    char                  *msg;
    size_t                 i, len;
    long long              now;
    const char            *label;
    wachat_buf_t           body = WACHAT_BUF_INIT;
    wachat_buf_t           subject = WACHAT_BUF_INIT;
    wachat_notify_conv_t   c;

    now = wachat_clock_ms();

    if (wachat_notify_load(m, conv_id, &c) != 0) {
        return;
    }

    if (what == WACHAT_NOTIFY_WAITING
        && strcmp(c.mode, WACHAT_MODE_NAME_WAITING_AGENT) != 0)
    {
        wachat_log(WACHAT_LOG_DEBUG, "mail: conversation %s is %s now, not "
                   "waiting: no e-mail", conv_id, c.mode);
        return;
    }

    /* a tick that won the race against the hand-over's own e-mail is first */
    still = reminder && c.waiting_since_ms > 0
            && now - c.waiting_since_ms >= m->period_ms / 2;
    label = what == WACHAT_NOTIFY_NEW_CHAT ? "started a chat"
            : still ? "still asks for a person" : "asks for a person";

    wachat_notify_body(m, &body, conv_id, &c, what, still, now);
    wachat_notify_subject(&subject, &c, what, still);

    for (i = 0; i < m->nagents && !body.oom && !subject.oom; i++) {
        if (what == WACHAT_NOTIFY_NEW_CHAT
            && m->agents[i].policy != WACHAT_NOTIFY_ALL)
        {
            continue;
        }

        if (!wachat_notify_gate(m, &m->agents[i],
                                what == WACHAT_NOTIFY_NEW_CHAT ? "new_chat"
                                                               : "waiting",
                                conv_id))
        {
            continue;                   /* in the agent's digest */
        }

        msg = wachat_notify_message(m, &m->agents[i], subject.p, &body, now,
                                    &len);
        if (msg) {
            wachat_notify_queue(m, &m->agents[i], conv_id, label, msg, len);
        }
    }

    if (body.oom || subject.oom) {
        wachat_log(WACHAT_LOG_WARNING, "mail: out of memory: no e-mail "
                   "about conversation %s", conv_id);
    }

    wachat_buf_free(&body);
    wachat_buf_free(&subject);
}


/*
 * The marker that makes one e-mail per conversation and kind per period,
 * whichever wachatd gets there first: 1 this process sends, 0 someone did
 * within the period, -1 Redis failed (then nobody sends: a missed e-mail
 * is better than one per wachatd; the tick tries again).
 */
static int
wachat_notify_claim(wachat_notify_t *m, const char *conv_id, const char *kind)
{
    int          rc;
    redisReply  *r;
    char         key[WACHAT_KEY_MAX];

    snprintf(key, sizeof(key), "wachat:mailed:{%s}:%s", conv_id, kind);
    r = wachat_redis_cmd(m->st, "SET %s %lld NX PX %lld", key,
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
wachat_notify_is_waiting(wachat_notify_t *m, const char *conv_id)
{
    int          yes;
    redisReply  *r;

    r = wachat_redis_cmd(m->st, "ZSCORE %s %s", WACHAT_KEY_WAITING, conv_id);
    yes = r && r->type == REDIS_REPLY_STRING;
    freeReplyObject(r);

    return yes;
}


static int
wachat_notify_someone_online(wachat_notify_t *m)
{
    size_t  i;

    for (i = 0; i < m->cfg->agents.n; i++) {
        if (strcmp(wachat_agent_effective_presence(m->st, m->cfg,
                       m->cfg->agents.items[i].id), "online") == 0)
        {
            return 1;
        }
    }

    return 0;
}


static int
wachat_notify_active(const wachat_notify_t *m)
{
    return m && wachat_smtp_url(m->smtp) != NULL && m->nagents > 0;
}


/* --- the interface -------------------------------------------------------- */


wachat_notify_t *
wachat_notify_new(struct event_base *base, wachat_redis_t *st,
    const wachat_config_t *cfg)
{
    const char     *url;
    wachat_notify_t  *m;

    if (base == NULL || st == NULL || cfg == NULL || cfg->smtp_url == NULL
        || cfg->smtp_url[0] == '\0')
    {
        return NULL;
    }

    m = calloc(1, sizeof(wachat_notify_t));
    if (m == NULL) {
        return NULL;
    }

    m->st = st;
    m->smtp = wachat_smtp_new(base, WACHAT_NOTIFY_CONCURRENCY);

    if (m->smtp == NULL || wachat_notify_configure(m, cfg) != 0) {
        wachat_log(WACHAT_LOG_ERROR, "mail: cannot start the mailer: no "
                   "e-mail notifications");
        wachat_notify_free(m);
        return NULL;
    }

    url = wachat_smtp_url(m->smtp);

    wachat_log(WACHAT_LOG_INFO, "mail: notifying %zu agent%s through %s",
               m->nagents, m->nagents == 1 ? "" : "s",
               url ? url : "(nothing)");

    return m;
}


void
wachat_notify_reload(wachat_notify_t *m, const wachat_config_t *cfg)
{
    if (m == NULL || cfg == NULL) {
        return;
    }

    if (wachat_notify_configure(m, cfg) != 0) {
        wachat_log(WACHAT_LOG_ERROR, "mail: reload: out of memory, keeping "
                   "the previous settings");
    }
}


void
wachat_notify_free(wachat_notify_t *m)
{
    if (m == NULL) {
        return;
    }

    /* what is in flight or waiting is cancelled, and logged, first */
    wachat_smtp_free(m->smtp);

    wachat_notify_agents_free(m);
    free(m->console_url);
    free(m);
}


void
wachat_notify_send(void *data, wachat_notify_e what, const char *conv_id)
{
    const char     *kind;
    wachat_notify_t  *m = data;

    if (!wachat_notify_active(m) || conv_id == NULL || *conv_id == '\0') {
        return;
    }

    /* a first message that asks for a person: its hand-over e-mail says it */
    if (what == WACHAT_NOTIFY_NEW_CHAT && wachat_notify_is_waiting(m, conv_id))
    {
        return;
    }

    /* someone online sees the new chat in the console: nobody is mailed */
    if (what == WACHAT_NOTIFY_NEW_CHAT && wachat_notify_someone_online(m)) {
        return;
    }

    kind = what == WACHAT_NOTIFY_NEW_CHAT ? "new_chat" : "waiting";

    if (wachat_notify_claim(m, conv_id, kind) == 1) {
        wachat_notify_conversation(m, conv_id, what, 0);
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
wachat_notify_tick(wachat_notify_t *m)
{
    size_t       i, sent;
    redisReply  *r;
    char         now[32];

    if (!wachat_notify_active(m)) {
        return;
    }

    wachat_notify_digests(m);

    snprintf(now, sizeof(now), "%lld", wachat_clock_ms());
    r = wachat_redis_cmd(m->st, "ZRANGEBYSCORE %s %s +inf LIMIT %ld %d",
                         WACHAT_KEY_WAITING, now, m->tick_from,
                         WACHAT_NOTIFY_TICK_SCAN);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return;
    }

    for (i = 0, sent = 0; i < r->elements && sent < WACHAT_NOTIFY_TICK_SEND;
         i++)
    {
        if (r->element[i]->type == REDIS_REPLY_STRING
            && wachat_notify_claim(m, r->element[i]->str, "waiting") == 1)
        {
            wachat_notify_conversation(m, r->element[i]->str,
                                       WACHAT_NOTIFY_WAITING, 1);
            sent++;
        }
    }

    /* the end of the set: next time from the most urgent again */
    if (i == r->elements && r->elements < WACHAT_NOTIFY_TICK_SCAN) {
        m->tick_from = 0;

    } else {
        m->tick_from += (long) i;
    }

    freeReplyObject(r);
}
