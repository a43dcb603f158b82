/*
 * agents: presence, assignment and the agent's actions on a conversation.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agents.h"
#include "agents/agents_int.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "wachat_contract.h"




/* KEYS conv; ARGV agent now.  Returns the previous holder, or "". */
static wachat_lua_t  wachat_agent_lua_take = wachat_lua(
    "if redis.call('EXISTS', KEYS[1]) == 0 then\n"
    "  return redis.error_reply('no_conversation')\n"
    "end\n"
    "local prev = redis.call('HGET', KEYS[1], 'agent') or ''\n"
    "redis.call('HSET', KEYS[1], 'mode', '" WACHAT_MODE_NAME_AGENT "', "
    "'agent', ARGV[1],\n"
    "           'agent_since', ARGV[2], 'agent_active', ARGV[2])\n"
    "return prev\n");


/*
 * KEYS conv hist outq; ARGV agent ('' = system) closing now window
 * histmax conv_id.  Returns the previous holder ("" if none), or false when
 * the conversation was with the AI already.
 */
static wachat_lua_t  wachat_agent_lua_resolve = wachat_lua(
    "local c = redis.call('HMGET', KEYS[1], 'mode', 'agent', 'last_in_ts',\n"
    "                     'wa_id', 'user_id', 'phone_number_id')\n"
    "if not c[6] then return redis.error_reply('no_conversation') end\n"
    "if c[1] == '" WACHAT_MODE_NAME_AI "' or not c[1] then return false end\n"
    "if ARGV[1] ~= '' and c[2] and c[2] ~= ARGV[1] then\n"
    "  return redis.error_reply('not_assigned')\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'mode', '" WACHAT_MODE_NAME_AI "', "
    "'unread', 0)\n"
    "redis.call('HDEL', KEYS[1], 'agent', 'agent_since', 'agent_active',\n"
    "           'waiting_since')\n"
    "local last = tonumber(c[3] or '0') * 1000\n"
    "if ARGV[2] ~= '' and tonumber(ARGV[3]) - last <= tonumber(ARGV[4])\n"
    "then\n"
    "  local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*',\n"
    "    'dir', 'out', 'who', 'system', 'ts', ARGV[3], 'text', ARGV[2])\n"
    "  redis.call('RPUSH', KEYS[3], cjson.encode({to = c[4] or c[5],\n"
    "    phone_number_id = c[6], conv = ARGV[6], text = ARGV[2],\n"
    "    hist = id}))\n"
    "end\n"
    "return c[2] or ''\n");


/*
 * KEYS conv hist; ARGV agent to now histmax.  The holder hands it over;
 * the history keeps a note of it.  Returns the note's id.
 */
static wachat_lua_t  wachat_agent_lua_transfer = wachat_lua(
    "local c = redis.call('HMGET', KEYS[1], 'mode', 'agent', "
    "'phone_number_id')\n"
    "if not c[3] then return redis.error_reply('no_conversation') end\n"
    "if c[1] ~= '" WACHAT_MODE_NAME_AGENT "' or c[2] ~= ARGV[1] then\n"
    "  return redis.error_reply('not_assigned')\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'agent', ARGV[2], 'agent_since', ARGV[3],\n"
    "           'agent_active', ARGV[3])\n"
    "return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*',\n"
    "  'dir', 'note', 'who', 'agent:' .. ARGV[1], 'ts', ARGV[3],\n"
    "  'text', 'transferred to ' .. ARGV[2], 'to', ARGV[2])\n");


/* KEYS conv hist; ARGV agent text now histmax.  The note's id. */
static wachat_lua_t  wachat_agent_lua_note = wachat_lua(
    "if redis.call('EXISTS', KEYS[1]) == 0 then\n"
    "  return redis.error_reply('no_conversation')\n"
    "end\n"
    "return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*',\n"
    "  'dir', 'note', 'who', 'agent:' .. ARGV[1], 'ts', ARGV[3],\n"
    "  'text', ARGV[2])\n");


const char *
wachat_agent_error_name(wachat_agent_rc_e rc)
{
    switch (rc) {
    case WACHAT_AGENT_OK:           return "ok";
    case WACHAT_AGENT_EREDIS:       return "redis";
    case WACHAT_AGENT_EUNKNOWN:     return "unknown_agent";
    case WACHAT_AGENT_ENOCONV:      return "no_conversation";
    case WACHAT_AGENT_ENOTASSIGNED: return "not_assigned";
    case WACHAT_AGENT_EWINDOW:      return "outside_window";
    case WACHAT_AGENT_EINPUT:       return "bad_input";
    case WACHAT_AGENT_ETARGET:      return "bad_target";
    case WACHAT_AGENT_EMEDIA:       return "bad_media";
    }

    return "?";
}


const char *
wachat_agent_error_text(wachat_agent_rc_e rc)
{
    switch (rc) {
    case WACHAT_AGENT_OK:
        return "done";
    case WACHAT_AGENT_EREDIS:
        return "the server cannot reach Redis; try again in a moment";
    case WACHAT_AGENT_EUNKNOWN:
        return "this agent is not declared in wachatd's config";
    case WACHAT_AGENT_ENOCONV:
        return "there is no such conversation";
    case WACHAT_AGENT_ENOTASSIGNED:
        return "another agent holds this conversation: take it first";
    case WACHAT_AGENT_EWINDOW:
        return "more than 24 hours since the customer last wrote: WhatsApp "
               "only allows template messages now, so this message cannot "
               "be sent";
    case WACHAT_AGENT_EINPUT:
        return "the message is empty or too long (4096 characters at most)";
    case WACHAT_AGENT_ETARGET:
        return "transfer to another agent declared in wachatd's config";
    case WACHAT_AGENT_EMEDIA:
        return "WhatsApp does not take this file (type or size)";
    }

    return "?";
}


const wachat_agent_t *
wachat_agent_find(const wachat_config_t *cfg, const char *id)
{
    size_t  i;

    for (i = 0; id && i < cfg->agents.n; i++) {
        if (strcmp(cfg->agents.items[i].id, id) == 0) {
            return &cfg->agents.items[i];
        }
    }

    return NULL;
}


/* the bookkeeping outside the conversation's slot; idempotent */
static void
wachat_agent_held(wachat_redis_t *st, const char *agent, const char *prev,
    const char *conv_id)
{
    char  now[32];

    snprintf(now, sizeof(now), "%lld", wachat_clock_ms());

    if (prev && *prev && (agent == NULL || strcmp(prev, agent) != 0)) {
        freeReplyObject(wachat_redis_cmd(st, "SREM wachat:agent:%s:convs %s",
                                         prev, conv_id));
    }

    if (agent) {
        freeReplyObject(wachat_redis_cmd(st, "SADD wachat:agent:%s:convs %s",
                                         agent, conv_id));
        freeReplyObject(wachat_redis_cmd(st, "ZADD %s %s %s",
                                         WACHAT_KEY_ASSIGNED, now, conv_id));

    } else {
        freeReplyObject(wachat_redis_cmd(st, "ZREM %s %s",
                                         WACHAT_KEY_ASSIGNED, conv_id));
    }

    freeReplyObject(wachat_redis_cmd(st, "ZREM %s %s", WACHAT_KEY_WAITING,
                                     conv_id));
}


wachat_agent_rc_e
wachat_agent_script_error(const redisReply *r)
{
    if (r == NULL) {
        return WACHAT_AGENT_EREDIS;
    }

    if (strstr(r->str, "no_conversation")) {
        return WACHAT_AGENT_ENOCONV;
    }

    if (strstr(r->str, "not_assigned")) {
        return WACHAT_AGENT_ENOTASSIGNED;
    }

    if (strstr(r->str, "outside_window")) {
        return WACHAT_AGENT_EWINDOW;
    }

    return WACHAT_AGENT_EREDIS;
}


wachat_agent_rc_e
wachat_agent_take(wachat_redis_t *st, const wachat_config_t *cfg,
    const char *id, const char *conv_id)
{
    redisReply         *r;
    const char         *argv[3];
    wachat_agent_rc_e   rc;
    char                key[WACHAT_KEY_MAX], now[32];

    if (wachat_agent_find(cfg, id) == NULL) {
        return WACHAT_AGENT_EUNKNOWN;
    }

    wachat_store_key_conv(key, conv_id);
    snprintf(now, sizeof(now), "%lld", wachat_clock_ms());

    argv[0] = key;
    argv[1] = id;
    argv[2] = now;

    r = wachat_redis_eval(st, &wachat_agent_lua_take, 1, 3, argv, NULL);

    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        rc = wachat_agent_script_error(r);
        freeReplyObject(r);
        return rc;
    }

    wachat_agent_held(st, id, r->str, conv_id);
    freeReplyObject(r);

    wachat_agent_feed(st, "mode", conv_id, "mode", WACHAT_MODE_NAME_AGENT, "agent",
                id, NULL);

    return WACHAT_AGENT_OK;
}


/* closing_text in the language the customer last wrote in */
static const char *
wachat_agent_closing(wachat_redis_t *st, const wachat_config_t *cfg,
    const char *conv_id)
{
    const char  *text;
    redisReply  *r;
    char         key[WACHAT_KEY_MAX];

    if (cfg->closing_text == NULL || cfg->closing_text[0] == '\0') {
        return "";
    }

    wachat_store_key_conv(key, conv_id);
    r = wachat_redis_cmd(st, "HGET %s lang", key);
    text = wachat_config_text(cfg, "closing_text", cfg->closing_text,
                              r && r->type == REDIS_REPLY_STRING ? r->str
                                                                 : NULL);
    freeReplyObject(r);

    return text;
}


wachat_agent_rc_e
wachat_agent_resolve(wachat_redis_t *st, const wachat_config_t *cfg,
    const char *id, const char *conv_id)
{
    redisReply           *r;
    wachat_agent_rc_e     rc;
    wachat_agent_send_t   s;

    if (id && wachat_agent_find(cfg, id) == NULL) {
        return WACHAT_AGENT_EUNKNOWN;
    }

    /* the closing text goes out as the reply script's text would */
    wachat_agent_send_open(&s, cfg, id ? id : "", conv_id,
                           wachat_agent_closing(st, cfg, conv_id),
                           WACHAT_AGENT_SEND_WINDOW);
    r = wachat_redis_eval(st, &wachat_agent_lua_resolve, 3, s.argc, s.argv,
                          NULL);

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        rc = wachat_agent_script_error(r);
        freeReplyObject(r);
        return rc;
    }

    if (r->type == REDIS_REPLY_STRING) {
        wachat_agent_held(st, NULL, r->str, conv_id);
        wachat_agent_kick(st, conv_id);
        wachat_agent_feed(st, "mode", conv_id, "mode", WACHAT_MODE_NAME_AI, "by",
                    id ? id : "system", NULL);

        /* room again: the queue comes to whoever let this one go */
        if (r->str[0] != '\0') {
            wachat_agent_offer(st, cfg, r->str);
        }
    }

    freeReplyObject(r);

    return WACHAT_AGENT_OK;
}


/* KEYS conv hist; ARGV agent x now histmax: the transfer and note scripts */
static redisReply *
wachat_agent_eval_note(wachat_redis_t *st, const wachat_config_t *cfg,
    wachat_lua_t *lua, const char *conv_id, const char *agent,
    const char *x)
{
    const char  *argv[6];
    char         keys[2][WACHAT_KEY_MAX], now[32], histmax[32];

    wachat_store_key_conv(keys[0], conv_id);
    wachat_store_key_hist(keys[1], conv_id);
    snprintf(now, sizeof(now), "%lld", wachat_clock_ms());
    snprintf(histmax, sizeof(histmax), "%d", cfg->history_max);

    argv[0] = keys[0];
    argv[1] = keys[1];
    argv[2] = agent;
    argv[3] = x;
    argv[4] = now;
    argv[5] = histmax;

    return wachat_redis_eval(st, lua, 2, 6, argv, NULL);
}


wachat_agent_rc_e
wachat_agent_transfer(wachat_redis_t *st, const wachat_config_t *cfg,
    const char *id, const char *conv_id, const char *to)
{
    redisReply         *r;
    wachat_agent_rc_e   rc;

    if (wachat_agent_find(cfg, id) == NULL) {
        return WACHAT_AGENT_EUNKNOWN;
    }

    if (to == NULL || wachat_agent_find(cfg, to) == NULL
        || strcmp(to, id) == 0)
    {
        return WACHAT_AGENT_ETARGET;
    }

    r = wachat_agent_eval_note(st, cfg, &wachat_agent_lua_transfer, conv_id,
                               id, to);

    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        rc = wachat_agent_script_error(r);
        freeReplyObject(r);
        return rc;
    }

    freeReplyObject(r);

    wachat_agent_held(st, to, id, conv_id);
    wachat_agent_feed(st, "mode", conv_id, "mode", WACHAT_MODE_NAME_AGENT,
                      "agent", to, "by", id, NULL);
    wachat_log(WACHAT_LOG_NOTICE, "conversation %s: agent %s transferred it "
               "to agent %s", conv_id, id, to);

    wachat_agent_offer(st, cfg, id);

    return WACHAT_AGENT_OK;
}


wachat_agent_rc_e
wachat_agent_note(wachat_redis_t *st, const wachat_config_t *cfg,
    const char *id, const char *conv_id, const char *text)
{
    redisReply         *r;
    wachat_agent_rc_e   rc;

    if (wachat_agent_find(cfg, id) == NULL) {
        return WACHAT_AGENT_EUNKNOWN;
    }

    if (!wachat_agent_text_fits(text)) {
        return WACHAT_AGENT_EINPUT;
    }

    r = wachat_agent_eval_note(st, cfg, &wachat_agent_lua_note, conv_id, id,
                               text);

    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        rc = wachat_agent_script_error(r);
        freeReplyObject(r);
        return rc;
    }

    freeReplyObject(r);
    wachat_agent_feed(st, "note", conv_id, "who", id, NULL);

    return WACHAT_AGENT_OK;
}


size_t
wachat_agent_expire_idle(wachat_redis_t *st, const wachat_config_t *cfg)
{
    size_t       i, n;
    redisReply  *r;
    char         max[32];

    snprintf(max, sizeof(max), "%lld",
             wachat_clock_ms() - cfg->agent_idle_timeout_ms);

    r = wachat_redis_cmd(st, "ZRANGEBYSCORE %s -inf %s LIMIT 0 100",
                         WACHAT_KEY_ASSIGNED, max);

    n = 0;

    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (wachat_agent_resolve(st, cfg, NULL, r->element[i]->str)
            == WACHAT_AGENT_OK)
        {
            n++;
        }

        /* resolved, or gone: not looked at again */
        freeReplyObject(wachat_redis_cmd(st, "ZREM %s %s",
                                         WACHAT_KEY_ASSIGNED,
                                         r->element[i]->str));
    }

    freeReplyObject(r);

    return n;
}


void
wachat_agent_feed(wachat_redis_t *st, const char *type, const char *conv_id, ...)
{
    int           argc;
    va_list       ap;
    const char   *argv[32], *k, *v;
    char          maxlen[32];

    snprintf(maxlen, sizeof(maxlen), "%d", WACHAT_FEED_MAXLEN);

    argc = 0;
    argv[argc++] = "XADD";
    argv[argc++] = WACHAT_KEY_FEED;
    argv[argc++] = "MAXLEN";
    argv[argc++] = "~";
    argv[argc++] = maxlen;
    argv[argc++] = "*";
    argv[argc++] = "type";
    argv[argc++] = type;

    if (conv_id) {
        argv[argc++] = "conv";
        argv[argc++] = conv_id;
    }

    va_start(ap, conv_id);

    while (argc + 2 <= 32 && (k = va_arg(ap, const char *)) != NULL) {
        v = va_arg(ap, const char *);
        argv[argc++] = k;
        argv[argc++] = v ? v : "";
    }

    va_end(ap);

    /*
     * The feed is a convenience: a failure here changes no conversation,
     * so nobody waits for the answer (it comes with the next command's).
     */
    wachat_redis_post(st, argc, argv, NULL);
}


void
wachat_agent_assigned(wachat_redis_t *st, const char *agent,
    const char *conv_id)
{
    wachat_agent_held(st, agent, NULL, conv_id);
}


void
wachat_agent_kick(wachat_redis_t *st, const char *conv_id)
{
    freeReplyObject(wachat_redis_cmd(st, "SADD %s %s", WACHAT_KEY_READY,
                                     conv_id));
}
