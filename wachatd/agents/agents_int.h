/*
 * agents_int: what agents.c and reply.c share with the room's other files
 * (media.c, templates.c).
 */

#ifndef WACHAT_AGENTS_INT_H
#define WACHAT_AGENTS_INT_H

#include "agents/agents.h"


#define WACHAT_AGENT_TEXT_MAX  4096     /* text.body, characters */

/* reply.c: a reply's or a note's text: not empty, TEXT_MAX at most */
int wachat_agent_text_fits(const char *text);

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


/*
 * reply.c: the arguments of a script that sends as an agent.  They open
 * with KEYS conv hist outq; ARGV agent text now window histmax conv_id
 * (without window for a template, which WhatsApp takes outside it), and
 * go on with the action's own, added in order by wachat_agent_send_arg().
 * argv points into the struct: it is filled in place, not copied.
 */

#define WACHAT_AGENT_SEND_ARGV_MAX  16
#define WACHAT_AGENT_SEND_WINDOW    1    /* ARGV has the window */
#define WACHAT_AGENT_SEND_ANYTIME   0    /* no window: a template */

typedef struct {
    const char  *argv[WACHAT_AGENT_SEND_ARGV_MAX];
    int          argc;
    const char  *agent;
    const char  *conv_id;
    char         keys[3][WACHAT_KEY_MAX];
    char         now[32];
    char         window[32];
    char         histmax[32];
} wachat_agent_send_t;

void wachat_agent_send_open(wachat_agent_send_t *s,
    const wachat_config_t *cfg, const char *agent, const char *conv_id,
    const char *text, int window);
void wachat_agent_send_arg(wachat_agent_send_t *s, const char *arg);

/*
 * Runs the script (it checks the holder, queues the message and returns
 * its history id, copied to hist_id when given); once it is queued, the
 * agent's activity is noted, the conversation kicked and the feed told.
 */
wachat_agent_rc_e wachat_agent_send_run(wachat_redis_t *st,
    wachat_agent_send_t *s, wachat_lua_t *lua, char *hist_id, size_t hlen);


#endif /* WACHAT_AGENTS_INT_H */
