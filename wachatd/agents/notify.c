/*
 * notify: who gets an e-mail about what (see notify.h).
 *
 * Flow: the engine reports a hand-over nobody could take, or a new chat;
 * one SET NX PX marker per conversation and kind, shared by every wachatd,
 * decides whether this process mails now; the conversation and its last
 * messages are read from Redis (short synchronous commands, like the rest
 * of the processing path), one message is built per opted-in agent
 * (notify_compose.c) and handed to the SMTP client, which delivers and
 * retries it (notify_queue.c).  The outcome of each e-mail is logged once,
 * with the server's reason and reply code.  Nothing here reports back to
 * the engine: an e-mail can neither fail nor delay a conversation.
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


/* --- the e-mails about one conversation ----------------------------------- */


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
