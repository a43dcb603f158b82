/*
 * redis_int: the synchronous link's private part, shared by redis.c (the
 * link and its commands) and redis_script.c (the Lua scripts).
 */

#ifndef WACHAT_REDIS_INT_H
#define WACHAT_REDIS_INT_H

#include "clients/redis.h"


/*
 * redis.c: a command, and with wait its WAIT in the same write (see there);
 * redis_script.c runs the scripts through it
 */
redisReply *wachat_redis_run_waited(wachat_redis_t *st, int argc,
    const char **argv, const size_t *argvlen, redisReply **wait);


#endif /* WACHAT_REDIS_INT_H */
