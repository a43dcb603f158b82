/*
 * presence: who is online, how much each agent holds, and who gets the
 * conversations that wait for a person.
 *
 * A presence set from a console lasts as long as the console checks in
 * (heartbeats): a closed laptop goes offline by itself.  One set from
 * wachatctl or the API without a console ("manual") stays until changed,
 * but counts only within working_hours.
 *
 * An agent holds at most its capacity.  When it comes online, checks in
 * with room to spare, or lets a conversation go while online, it is given
 * waiting conversations, the one whose 24-hour window closes first first.  ZREM on
 * the waiting set decides which process (and agent) gets one; the claim
 * script then takes it only if it still waits.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agents.h"
#include "lib/clock.h"
#include "lib/hours.h"
#include "lib/log.h"
#include "wachat_contract.h"


/* KEYS conv; ARGV agent now.  1: it waited and is the agent's now. */
static wachat_lua_t  wachat_agent_lua_claim = wachat_lua(
    "if redis.call('HGET', KEYS[1], 'mode') ~= '"
    WACHAT_MODE_NAME_WAITING_AGENT "' then\n"
    "  return 0\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'mode', '" WACHAT_MODE_NAME_AGENT "', "
    "'agent', ARGV[1],\n"
    "           'agent_since', ARGV[2], 'agent_active', ARGV[2])\n"
    "redis.call('HDEL', KEYS[1], 'waiting_since')\n"
    "return 1\n");


static int
wachat_agent_valid_presence(const char *p)
{
    return strcmp(p, "online") == 0 || strcmp(p, "away") == 0
           || strcmp(p, "offline") == 0;
}


wachat_agent_rc_e
wachat_agent_presence(wachat_redis_t *st, const wachat_config_t *cfg,
    const char *id, const char *presence, int console)
{
    redisReply  *r;
    char         now[32];

    if (wachat_agent_find(cfg, id) == NULL) {
        return WACHAT_AGENT_EUNKNOWN;
    }

    if (!wachat_agent_valid_presence(presence)) {
        return WACHAT_AGENT_EINPUT;
    }

    snprintf(now, sizeof(now), "%lld", wachat_clock_ms());

    r = wachat_redis_cmd(st, "HSET wachat:agent:%s presence %s heartbeat %s "
                         "since %s via %s", id, presence, now, now,
                         console ? "console" : "manual");

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return WACHAT_AGENT_EREDIS;
    }

    freeReplyObject(r);
    wachat_agent_feed(st, "presence", NULL, "agent", id, "presence", presence,
                      NULL);

    if (strcmp(presence, "online") == 0) {
        wachat_agent_offer(st, cfg, id);
    }

    return WACHAT_AGENT_OK;
}


wachat_agent_rc_e
wachat_agent_heartbeat(wachat_redis_t *st, const wachat_config_t *cfg,
    const char *id)
{
    redisReply  *r;
    char         now[32];

    if (wachat_agent_find(cfg, id) == NULL) {
        return WACHAT_AGENT_EUNKNOWN;
    }

    snprintf(now, sizeof(now), "%lld", wachat_clock_ms());

    r = wachat_redis_cmd(st, "HSET wachat:agent:%s heartbeat %s", id, now);

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return WACHAT_AGENT_EREDIS;
    }

    freeReplyObject(r);

    /* back after a closed laptop, or room again: the queue comes to it */
    wachat_agent_offer(st, cfg, id);

    return WACHAT_AGENT_OK;
}


/* working_hours, in timezone (TZ): a manual presence ends with them */
static int
wachat_agent_working(const wachat_config_t *cfg)
{
    time_t     now;
    struct tm  tm;

    now = time(NULL);

    return localtime_r(&now, &tm) == NULL
           || wachat_hours_open(cfg->working_hours, &tm);
}


const char *
wachat_agent_effective_presence(wachat_redis_t *st,
    const wachat_config_t *cfg, const char *id)
{
    int          manual;
    long long    beat;
    const char  *p;
    redisReply  *r;

    r = wachat_redis_cmd(st, "HMGET wachat:agent:%s presence heartbeat via",
                         id);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3
        || r->element[0]->type != REDIS_REPLY_STRING)
    {
        freeReplyObject(r);
        return "offline";
    }

    beat = r->element[1]->type == REDIS_REPLY_STRING
           ? atoll(r->element[1]->str) : 0;

    /* a record from before "via" was a console's */
    manual = r->element[2]->type == REDIS_REPLY_STRING
             && strcmp(r->element[2]->str, "manual") == 0;

    if (strcmp(r->element[0]->str, "online") == 0) {
        p = manual ? (wachat_agent_working(cfg) ? "online" : "offline")
            : wachat_clock_ms() - beat <= cfg->agent_heartbeat_timeout_ms
            ? "online" : "offline";

    } else if (strcmp(r->element[0]->str, "away") == 0) {
        p = "away";

    } else {
        p = "offline";
    }

    freeReplyObject(r);

    return p;
}


int
wachat_agent_capacity(const wachat_config_t *cfg, const wachat_agent_t *a)
{
    return a->capacity > 0 ? a->capacity : cfg->agent_capacity;
}


/* conversations the agent holds; -1 when Redis cannot say */
static long long
wachat_agent_load(wachat_redis_t *st, const char *id)
{
    long long    n;
    redisReply  *r;

    r = wachat_redis_cmd(st, "SCARD wachat:agent:%s:convs", id);
    n = (r && r->type == REDIS_REPLY_INTEGER) ? r->integer : -1;
    freeReplyObject(r);

    return n;
}


int
wachat_agent_pick(wachat_redis_t *st, const wachat_config_t *cfg, char *buf,
    size_t len)
{
    size_t                 i, n, best_n, first;
    long long              load, best, rr;
    redisReply            *r;
    const wachat_agent_t  *a;
    size_t                 ties[64];

    best = -1;
    best_n = 0;

    for (i = 0; i < cfg->agents.n; i++) {
        a = &cfg->agents.items[i];

        if (strcmp(wachat_agent_effective_presence(st, cfg, a->id), "online")
            != 0)
        {
            continue;
        }

        load = wachat_agent_load(st, a->id);

        if (load < 0 || load >= wachat_agent_capacity(cfg, a)) {
            continue;
        }

        if (best < 0 || load < best) {
            best = load;
            best_n = 0;
        }

        if (load == best && best_n < 64) {
            ties[best_n++] = i;
        }
    }

    if (best_n == 0) {
        return -1;
    }

    /* round robin among equally loaded agents, shared by every process */
    r = wachat_redis_cmd(st, "INCR wachat:agents:rr");
    rr = (r && r->type == REDIS_REPLY_INTEGER) ? r->integer : 0;
    freeReplyObject(r);

    n = best_n;
    first = (size_t) (rr % (long long) n);

    snprintf(buf, len, "%s", cfg->agents.items[ties[first]].id);

    return 0;
}


/*
 * The waiting conversation whose window closes first (and has not closed:
 * a person can no longer write there), taken off the waiting set by this
 * process.  0 with its id in buf, 1 when none waits, -1 on a Redis error.
 */
static int
wachat_agent_next_waiting(wachat_redis_t *st, char *buf, size_t len,
    char *score, size_t slen)
{
    int          won;
    redisReply  *r, *x;
    char         now[32];

    snprintf(now, sizeof(now), "%lld", wachat_clock_ms());

    for ( ;; ) {
        r = wachat_redis_cmd(st, "ZRANGEBYSCORE %s %s +inf WITHSCORES "
                             "LIMIT 0 1", WACHAT_KEY_WAITING, now);

        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return -1;
        }

        if (r->elements < 2) {
            freeReplyObject(r);
            return 1;
        }

        snprintf(buf, len, "%s", r->element[0]->str);
        snprintf(score, slen, "%s", r->element[1]->str);
        freeReplyObject(r);

        /* another process may have had it first: then look again */
        x = wachat_redis_cmd(st, "ZREM %s %s", WACHAT_KEY_WAITING, buf);
        won = x && x->type == REDIS_REPLY_INTEGER && x->integer == 1;

        if (x == NULL || x->type == REDIS_REPLY_ERROR) {
            freeReplyObject(x);
            return -1;
        }

        freeReplyObject(x);

        if (won) {
            return 0;
        }
    }
}


size_t
wachat_agent_offer(wachat_redis_t *st, const wachat_config_t *cfg,
    const char *id)
{
    int                    rc;
    size_t                 given, tries;
    long long              load, cap;
    redisReply            *r;
    const char            *argv[3];
    const wachat_agent_t  *a;
    char                   conv[WACHAT_KEY_MAX], key[WACHAT_KEY_MAX];
    char                   score[64], now[32];

    a = wachat_agent_find(cfg, id);

    if (a == NULL
        || strcmp(wachat_agent_effective_presence(st, cfg, id), "online") != 0)
    {
        return 0;
    }

    cap = wachat_agent_capacity(cfg, a);
    load = wachat_agent_load(st, id);
    given = 0;

    for (tries = 0; load >= 0 && load < cap && tries < (size_t) cap;
         tries++)
    {
        if (wachat_agent_next_waiting(st, conv, sizeof(conv), score,
                                      sizeof(score)) != 0)
        {
            break;
        }

        wachat_store_key_conv(key, conv);
        snprintf(now, sizeof(now), "%lld", wachat_clock_ms());

        argv[0] = key;
        argv[1] = id;
        argv[2] = now;

        r = wachat_redis_eval(st, &wachat_agent_lua_claim, 1, 3, argv, NULL);
        rc = (r && r->type == REDIS_REPLY_INTEGER) ? (int) r->integer : -1;
        freeReplyObject(r);

        if (rc < 0) {
            /* not lost: back in the queue for the next offer */
            freeReplyObject(wachat_redis_cmd(st, "ZADD %s NX %s %s",
                                             WACHAT_KEY_WAITING, score,
                                             conv));
            break;
        }

        if (rc == 0) {
            continue;                       /* taken or resolved meanwhile */
        }

        wachat_agent_assigned(st, id, conv);
        wachat_agent_feed(st, "mode", conv, "mode", WACHAT_MODE_NAME_AGENT,
                          "agent", id, "by", "queue", NULL);
        wachat_log(WACHAT_LOG_NOTICE, "conversation %s: waited, assigned to "
                   "agent %s", conv, id);
        given++;
        load++;
    }

    return given;
}
