/*
 * agents_int: what agents.c shares with the room's other files (media.c).
 */

#ifndef WACHAT_AGENTS_INT_H
#define WACHAT_AGENTS_INT_H

#include "agents/agents.h"


#define WACHAT_AGENT_TEXT_MAX  4096     /* text.body, characters */

/* a conversation script's error reply (NULL: Redis) as a result */
wachat_agent_rc_e wachat_agent_script_error(const redisReply *r);


#endif /* WACHAT_AGENTS_INT_H */
