/*
 * notify_compose: the e-mail's text, apart from who gets it and when:
 * the conversation read and sanitised, its last messages, the body, the
 * subject and each agent's copy (notify.c and notify_digest.c build with it).
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
#include "agents/notify_int.h"
#include "clients/smtp.h"
#include "lib/buf.h"
#include "lib/log.h"
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
void
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


void
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
