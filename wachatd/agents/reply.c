/*
 * reply: an agent's text to the customer, and what every message an agent
 * sends shares with it (agents_int.h): the script's opening arguments, the
 * run that checks the holder, and the bookkeeping once it is queued.
 */

#include <stdio.h>
#include <string.h>

#include "agents/agents_int.h"
#include "lib/clock.h"
#include "wachat_contract.h"
#include "wachat_utf8.h"


/*
 * KEYS conv hist outq; ARGV agent text now window_ms histmax conv_id.
 * The holder and the window are checked in the same step as the queuing:
 * a colleague who took the conversation a moment ago wins.
 */
static wachat_lua_t  wachat_agent_lua_reply = wachat_lua(
    WACHAT_AGENT_LUA_HOLDER
    "local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*',\n"
    "  'dir', 'out', 'who', 'agent:' .. ARGV[1], 'ts', ARGV[3],\n"
    "  'text', ARGV[2])\n"
    "redis.call('RPUSH', KEYS[3], cjson.encode({to = c[4] or c[5],\n"
    "  phone_number_id = c[6], conv = ARGV[6], text = ARGV[2],\n"
    "  hist = id}))\n"
    "redis.call('HSET', KEYS[1], 'agent_active', ARGV[3], 'unread', 0)\n"
    "return id\n");


void
wachat_agent_send_open(wachat_agent_send_t *s, const wachat_config_t *cfg,
    const char *agent, const char *conv_id, const char *text, int window)
{
    s->agent = agent;
    s->conv_id = conv_id;

    wachat_store_key_conv(s->keys[0], conv_id);
    wachat_store_key_hist(s->keys[1], conv_id);
    wachat_store_key_outq(s->keys[2], conv_id);
    snprintf(s->now, sizeof(s->now), "%lld", wachat_clock_ms());
    snprintf(s->window, sizeof(s->window), "%lld", cfg->window_ms);
    snprintf(s->histmax, sizeof(s->histmax), "%d", cfg->history_max);

    s->argc = 0;
    wachat_agent_send_arg(s, s->keys[0]);
    wachat_agent_send_arg(s, s->keys[1]);
    wachat_agent_send_arg(s, s->keys[2]);
    wachat_agent_send_arg(s, agent);
    wachat_agent_send_arg(s, text);
    wachat_agent_send_arg(s, s->now);

    if (window) {
        wachat_agent_send_arg(s, s->window);
    }

    wachat_agent_send_arg(s, s->histmax);
    wachat_agent_send_arg(s, conv_id);
}


void
wachat_agent_send_arg(wachat_agent_send_t *s, const char *arg)
{
    if (s->argc < WACHAT_AGENT_SEND_ARGV_MAX) {
        s->argv[s->argc++] = arg;
    }
}


wachat_agent_rc_e
wachat_agent_send_run(wachat_redis_t *st, wachat_agent_send_t *s,
    wachat_lua_t *lua, char *hist_id, size_t hlen)
{
    redisReply         *r;
    wachat_agent_rc_e   rc;

    r = wachat_redis_eval(st, lua, 3, s->argc, s->argv, NULL);

    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        rc = wachat_agent_script_error(r);
        freeReplyObject(r);
        return rc;
    }

    if (hist_id) {
        snprintf(hist_id, hlen, "%s", r->str);
    }

    freeReplyObject(r);

    /* the agent's activity keeps the idle timeout away */
    freeReplyObject(wachat_redis_cmd(st, "ZADD %s %s %s", WACHAT_KEY_ASSIGNED,
                                     s->now, s->conv_id));
    wachat_agent_kick(st, s->conv_id);
    wachat_agent_feed(st, "reply", s->conv_id, "who", s->agent, NULL);

    return WACHAT_AGENT_OK;
}


int
wachat_agent_text_fits(const char *text)
{
    size_t  chars;

    chars = text ? wachat_utf8_count(text, strlen(text)) : 0;

    return chars > 0 && chars <= WACHAT_AGENT_TEXT_MAX;
}


wachat_agent_rc_e
wachat_agent_reply(wachat_redis_t *st, const wachat_config_t *cfg,
    const char *id, const char *conv_id, const char *text, char *hist_id,
    size_t hlen)
{
    wachat_agent_send_t  s;

    if (wachat_agent_find(cfg, id) == NULL) {
        return WACHAT_AGENT_EUNKNOWN;
    }

    if (!wachat_agent_text_fits(text)) {
        return WACHAT_AGENT_EINPUT;
    }

    wachat_agent_send_open(&s, cfg, id, conv_id, text,
                           WACHAT_AGENT_SEND_WINDOW);

    return wachat_agent_send_run(st, &s, &wachat_agent_lua_reply, hist_id,
                                 hlen);
}
