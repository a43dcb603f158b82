/*
 * agents_int: what agents.c shares with the room's other files (media.c).
 */

#ifndef WACHAT_AGENTS_INT_H
#define WACHAT_AGENTS_INT_H

#include "agents/agents.h"


#define WACHAT_AGENT_TEXT_MAX  4096     /* text.body, characters */

/*
 * The start of a script that sends as agent ARGV[1] (KEYS[1] the
 * conversation, ARGV[3] now, ARGV[4] the window in ms): it must hold the
 * conversation, inside the customer service window; c is the
 * conversation's mode, agent, last_in_ts, wa_id, user_id, phone_number_id.
 */
#define WACHAT_AGENT_LUA_HOLDER                                               \
    "local c = redis.call('HMGET', KEYS[1], 'mode', 'agent', 'last_in_ts',\n" \
    "                     'wa_id', 'user_id', 'phone_number_id')\n"           \
    "if not c[6] then return redis.error_reply('no_conversation') end\n"     \
    "if c[1] ~= '" WACHAT_MODE_NAME_AGENT "' or c[2] ~= ARGV[1] then\n"      \
    "  return redis.error_reply('not_assigned')\n"                           \
    "end\n"                                                                  \
    "local last = tonumber(c[3] or '0') * 1000\n"                            \
    "if tonumber(ARGV[3]) - last > tonumber(ARGV[4]) then\n"                 \
    "  return redis.error_reply('outside_window')\n"                         \
    "end\n"

/* a conversation script's error reply (NULL: Redis) as a result */
wachat_agent_rc_e wachat_agent_script_error(const redisReply *r);


#endif /* WACHAT_AGENTS_INT_H */
