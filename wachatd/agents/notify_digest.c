/*
 * notify_digest: when many conversations need an agent at once, one
 * e-mail instead of a flood.
 *
 * Each agent has a counter of the e-mails of the current period
 * (wachat:mailcount:<agent>, expiring with notify_digest_period).  Past
 * notify_digest_after, what would have been an e-mail is listed in
 * wachat:digest:<agent> instead; when the counter has expired the tick
 * sends the list as one e-mail, which starts the next period.  Both keys
 * are shared, so several wachatd processes keep one count and send one
 * digest (the script that takes the list empties it).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agents.h"
#include "agents/notify_int.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "wachat_contract.h"


/* a digest lists at most 100 conversations (LTRIM in the gate script) */


/*
 * KEYS count digest; ARGV period_ms after item.  1: send it now; 0: it is
 * in the digest.
 */
static wachat_lua_t  wachat_notify_lua_gate = wachat_lua(
    "local n = redis.call('INCR', KEYS[1])\n"
    "if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end\n"
    "if n <= tonumber(ARGV[2]) then return 1 end\n"
    "redis.call('RPUSH', KEYS[2], ARGV[3])\n"
    "redis.call('LTRIM', KEYS[2], -100, -1)\n"
    "redis.call('PEXPIRE', KEYS[2], 86400000)\n"
    "return 0\n");


/*
 * KEYS count digest; ARGV period_ms.  The digest's items once the period
 * is over (emptied; the digest starts the next period), else nothing.
 */
static wachat_lua_t  wachat_notify_lua_take = wachat_lua(
    "if redis.call('EXISTS', KEYS[1]) == 1 then return {} end\n"
    "local items = redis.call('LRANGE', KEYS[2], 0, -1)\n"
    "if #items == 0 then return {} end\n"
    "redis.call('DEL', KEYS[2])\n"
    "redis.call('SET', KEYS[1], 1, 'PX', ARGV[1])\n"
    "return items\n");


static void
wachat_notify_digest_keys(const wachat_notify_agent_t *a, char *count,
    char *digest)
{
    snprintf(count, WACHAT_KEY_MAX, "wachat:mailcount:%s", a->id);
    snprintf(digest, WACHAT_KEY_MAX, "wachat:digest:%s", a->id);
}


int
wachat_notify_gate(wachat_notify_t *m, const wachat_notify_agent_t *a,
    const char *kind, const char *conv_id)
{
    int          now;
    redisReply  *r;
    const char  *argv[5];
    char         count[WACHAT_KEY_MAX], digest[WACHAT_KEY_MAX];
    char         period[32], after[32], item[WACHAT_KEY_MAX];

    if (m->digest_after <= 0) {
        return 1;
    }

    wachat_notify_digest_keys(a, count, digest);
    snprintf(period, sizeof(period), "%lld", m->digest_period_ms);
    snprintf(after, sizeof(after), "%d", m->digest_after);
    snprintf(item, sizeof(item), "%s %s", kind, conv_id);

    argv[0] = count;
    argv[1] = digest;
    argv[2] = period;
    argv[3] = after;
    argv[4] = item;

    r = wachat_redis_eval(m->st, &wachat_notify_lua_gate, 2, 5, argv, NULL);

    /* better one e-mail too many than a conversation nobody hears of */
    now = r == NULL || r->type != REDIS_REPLY_INTEGER || r->integer != 0;
    freeReplyObject(r);

    if (!now) {
        wachat_log(WACHAT_LOG_INFO, "mail: conversation %s goes into the "
                   "digest of agent %s", conv_id, a->id);
    }

    return now;
}


/* one line of the digest: who, what, and where to answer */
static void
wachat_notify_digest_line(wachat_notify_t *m, wachat_buf_t *b,
    const char *item, long long now)
{
    const char            *conv_id, *what;
    wachat_notify_conv_t   c;

    conv_id = strchr(item, ' ');

    if (conv_id == NULL) {
        return;
    }

    conv_id++;

    if (wachat_notify_load(m, conv_id, &c) != 0) {
        return;
    }

    what = strncmp(item, "new_chat ", 9) == 0 ? "started a chat"
           : strcmp(c.mode, WACHAT_MODE_NAME_WAITING_AGENT) == 0
             ? "is waiting for a person"
             : "asked for a person (someone has it now)";

    wachat_buf_str(b, "- ");
    wachat_notify_add_customer(b, &c);
    wachat_buf_fmt(b, " %s", what);

    if (c.last_in_ms > 0 && c.last_in_ms + m->window_ms > now) {
        wachat_buf_str(b, "; ");
        wachat_notify_add_duration(b, c.last_in_ms + m->window_ms - now);
        wachat_buf_str(b, " left to reply");
    }

    wachat_buf_str(b, "\n");

    if (m->console_url[0]) {
        wachat_buf_fmt(b, "  %s#/c/", m->console_url);
        wachat_notify_add_url(b, conv_id);
        wachat_buf_str(b, "\n");
    }
}


static void
wachat_notify_digest_send(wachat_notify_t *m, const wachat_notify_agent_t *a,
    const redisReply *items)
{
    char          *msg;
    size_t         i, len;
    long long      now;
    wachat_buf_t   body = WACHAT_BUF_INIT;
    wachat_buf_t   subject = WACHAT_BUF_INIT;

    now = wachat_clock_ms();

    wachat_buf_fmt(&subject, "[wachat] %zu more conversation%s need%s a "
                   "person", items->elements,
                   items->elements == 1 ? "" : "s",
                   items->elements == 1 ? "s" : "");

    wachat_buf_fmt(&body, "While nobody was online, %zu more "
                   "conversation%s came in. Instead of one e-mail each, "
                   "here they are together:\n\n", items->elements,
                   items->elements == 1 ? "" : "s");

    for (i = 0; i < items->elements; i++) {
        if (items->element[i]->type == REDIS_REPLY_STRING) {
            wachat_notify_digest_line(m, &body, items->element[i]->str, now);
        }
    }

    if (!m->console_url[0]) {
        wachat_buf_str(&body, "\nAnswer them from the agent console.\n");
    }

    if (body.oom || subject.oom) {
        wachat_log(WACHAT_LOG_WARNING, "mail: out of memory: no digest for "
                   "agent %s", a->id);

    } else {
        msg = wachat_notify_message(m, a, subject.p, &body, now, &len);

        if (msg) {
            wachat_notify_queue(m, a, "(digest)", "were gathered in a digest",
                                msg, len);
        }
    }

    wachat_buf_free(&body);
    wachat_buf_free(&subject);
}


void
wachat_notify_digests(wachat_notify_t *m)
{
    size_t       i;
    redisReply  *r;
    const char  *argv[3];
    char         count[WACHAT_KEY_MAX], digest[WACHAT_KEY_MAX], period[32];

    if (m->digest_after <= 0) {
        return;
    }

    snprintf(period, sizeof(period), "%lld", m->digest_period_ms);

    for (i = 0; i < m->nagents; i++) {
        wachat_notify_digest_keys(&m->agents[i], count, digest);

        argv[0] = count;
        argv[1] = digest;
        argv[2] = period;

        r = wachat_redis_eval(m->st, &wachat_notify_lua_take, 2, 3, argv,
                              NULL);

        if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
            wachat_notify_digest_send(m, &m->agents[i], r);
        }

        freeReplyObject(r);
    }
}
