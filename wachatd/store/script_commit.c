/*
 * script_commit: an inbound message with its replies (COMMIT), a delivery
 * status (STATUS).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/scripts_int.h"


/*
 * ARGV 8 member, 9 done ttl, 10 history max, 11 retention s, 12 now ms,
 * 13 wamid for the feed, 14 handoff, 15 agent chosen, 16 the reply's
 * outbound record, 17 the held reply's, 18 over the customer's limit,
 * 19 the message's id in the done set (KEYS[11]), then four counted
 * lists: the conversation's fields, the inbound history entry, the
 * reply's and the held reply's history entries.  Returns {committed,
 * queued, mode, new, moved, peek}: moved 1 when this hand-over changed the
 * mode (to the agent chosen, or to waiting_agent).
 *
 * The mode is read here, in the same step that queues the reply: an agent
 * who took the conversation while the answer was being prepared (an LLM
 * call in flight) sees no AI message after taking it.  A hand-over moves
 * an AI or waiting conversation to the agent chosen, or to waiting_agent,
 * and tells the customer what happens next; asked again (still waiting,
 * or an agent holds it already: "held"), it says so again while the
 * customer's bucket allows, taking a token like an answer.
 *
 * The done set is scored and trimmed on Redis' clock, like the bucket: a
 * consumer whose host clock runs ahead must not trim the ids the others
 * still need to recognise a redelivery.
 *
 * An AI answer takes a token of the customer's bucket.  Over the limit,
 * the message is kept all the same (history, feed, agents) and the reply
 * is the notice, queued only by the first such message of a period: the
 * period (ai_limited) ends with the next answer.
 */
static wachat_lua_t  wachat_lua_commit = wachat_lua_replicated(
    WACHAT_LUA_PEEK
    WACHAT_LUA_FEED
    WACHAT_LUA_STATUSES
    WACHAT_LUA_LEASE_CHECK
    "if redis.call('ZSCORE', KEYS[11], ARGV[19]) then\n"
    "  redis.call('ZREM', KEYS[3], ARGV[8])\n"
    "  return {0, 0, '', 0, 0, peek(), false}\n"
    "end\n"
    "local i = 20\n"
    "local function list()\n"
    "  local n, a = tonumber(ARGV[i]), {}\n"
    "  for k = 1, n do a[k] = ARGV[i + k] end\n"
    "  i = i + n + 1\n"
    "  return a\n"
    "end\n"
    "local conv, inb, reply, held = list(), list(), list(), list()\n"
    "local mode = redis.call('HGET', KEYS[4], 'mode')\n"
    "local new, moved = 0, 0\n"
    "if not mode then mode = " WACHAT_LUA_AI "; new = 1 end\n"
    "redis.call('HSET', KEYS[4], 'mode', mode, unpack(conv))\n"
    "local function hist(f)\n"
    "  return redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[10], '*',\n"
    "                    unpack(f))\n"
    "end\n"
    "hist(inb)\n"
    "local n = 0\n"
    "local function send(h, s)\n"
    "  if #h == 0 then return end\n"
    "  redis.call('RPUSH', KEYS[2], s .. hist(h) .. '\"}')\n"
    "  n = n + 1\n"
    "end\n"
    "local function again(h, s)\n"
    "  if tonumber(ARGV[6]) > 0 and answers(clock()) < 1 then return end\n"
    "  answer_taken()\n"
    "  send(h, s)\n"
    "end\n"
    "if ARGV[14] == '1' then\n"
    "  local was = mode\n"
    "  if mode ~= " WACHAT_LUA_AGENT " then\n"
    "    if ARGV[15] ~= '' then\n"
    "      redis.call('HSET', KEYS[4], 'mode', " WACHAT_LUA_AGENT ",\n"
    "                 'agent', ARGV[15], 'agent_since', ARGV[12],\n"
    "                 'agent_active', ARGV[12])\n"
    "      redis.call('HDEL', KEYS[4], 'waiting_since')\n"
    "      mode = " WACHAT_LUA_AGENT "\n"
    "    elseif mode == " WACHAT_LUA_AI " then\n"
    "      redis.call('HSET', KEYS[4], 'mode', " WACHAT_LUA_WAITING ",\n"
    "                 'waiting_since', ARGV[12])\n"
    "      mode = " WACHAT_LUA_WAITING "\n"
    "    end\n"
    "  end\n"
    "  if mode ~= was then\n"
    "    moved = 1\n"
    "    send(reply, ARGV[16])\n"
    "  elseif mode == " WACHAT_LUA_WAITING " then\n"
    "    again(reply, ARGV[16])\n"
    "  else\n"
    "    again(held, ARGV[17])\n"
    "  end\n"
    "elseif mode == " WACHAT_LUA_AI " and ARGV[18] == '1' then\n"
    "  if redis.call('HSETNX', KEYS[4], 'ai_limited', ARGV[12]) == 1 then\n"
    "    send(reply, ARGV[16])\n"
    "  end\n"
    "elseif mode == " WACHAT_LUA_AI " then\n"
    "  if #reply > 0 then answer_taken() end\n"
    "  send(reply, ARGV[16])\n"
    "end\n"
    "if mode ~= " WACHAT_LUA_AI " then\n"
    "  redis.call('HINCRBY', KEYS[4], 'unread', 1)\n"
    "end\n"
    "for _, k in ipairs({KEYS[4], KEYS[5], KEYS[6]}) do\n"
    "  redis.call('EXPIRE', k, ARGV[11])\n"
    "end\n"
    "statuses_bounded()\n"
    "local done_at = clock()\n"
    "redis.call('ZADD', KEYS[11], done_at, ARGV[19])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[11], '-inf',\n"
    "           '(' .. (done_at - ARGV[9] * 1000))\n"
    "redis.call('ZREMRANGEBYRANK', KEYS[11], 0,\n"
    "           -" WACHAT_STR(WACHAT_DONE_MAX) " - 1)\n"
    "redis.call('EXPIRE', KEYS[11], ARGV[9])\n"
    "redis.call('ZREM', KEYS[3], ARGV[8])\n"
    "feed('type', 'message', 'conv', ARGV[4], 'id', ARGV[13], 'mode', mode)\n"
    "return {1, n, mode, new, moved, peek(), feederr}\n");


/*
 * ARGV 8 member, 9 wamid, 10 status, 11 ts, 12 error code.  Statuses
 * arrive out of order: sent < delivered < read < played, and a failure is
 * kept unless the message was read anyway.  A status for someone who
 * never wrote (a template sent by another tool on the same number)
 * creates nothing.  Returns {applied, peek}.
 */
static wachat_lua_t  wachat_lua_status = wachat_lua_replicated(
    WACHAT_LUA_PEEK
    WACHAT_LUA_FEED
    WACHAT_LUA_STATUSES
    WACHAT_LUA_LEASE_CHECK
    "if redis.call('EXISTS', KEYS[4]) == 0 then\n"
    "  redis.call('ZREM', KEYS[3], ARGV[8])\n"
    "  return {0, peek(), false}\n"
    "end\n"
    "local rank = {accepted = 0, sent = 1, delivered = 2, read = 3,\n"
    "              played = 4}\n"
    "local cur = redis.call('HGET', KEYS[6], ARGV[9])\n"
    "local was = cur and string.match(cur, '^[^|]*') or nil\n"
    "local new, apply = ARGV[10], false\n"
    "if new == 'failed' then\n"
    "  apply = was ~= 'read' and was ~= 'played' and was ~= 'failed'\n"
    "elseif was == nil then\n"
    "  apply = true\n"
    "elseif was ~= 'failed' then\n"
    "  apply = (rank[new] or 0) > (rank[was] or 0)\n"
    "end\n"
    "if apply then\n"
    "  redis.call('HSET', KEYS[6], ARGV[9],\n"
    "             new .. '|' .. ARGV[12] .. '|' .. ARGV[11])\n"
    "  statuses_bounded()\n"
    "  feed('type', 'status', 'conv', ARGV[4], 'id', ARGV[9],\n"
    "       'status', ARGV[10], 'error_code', ARGV[12])\n"
    "end\n"
    "redis.call('ZREM', KEYS[3], ARGV[8])\n"
    "return {apply and 1 or 0, peek(), feederr}\n");


redisReply *
wachat_script_commit(wachat_redis_t *st, const wachat_conv_ref_t *ref,
    int lease_ms, const wachat_commit_t *c, wachat_commit_result_t *res)
{
    redisReply     *r;
    wachat_args_t   a;

    wachat_args_conv(&a, ref);
    wachat_args_str(&a, c->done_key);
    wachat_args_conv_argv(&a, ref, lease_ms);
    wachat_args_bytes(&a, c->member, c->member_len);
    wachat_args_int(&a, c->done_ttl);
    wachat_args_int(&a, c->histmax);
    wachat_args_int(&a, c->retention_s);
    wachat_args_int(&a, c->now);
    wachat_args_str(&a, c->feed_id);
    wachat_args_str(&a, c->handoff ? "1" : "0");
    wachat_args_str(&a, c->agent);
    wachat_args_bytes(&a, c->reply_send, c->reply_send_len);
    wachat_args_bytes(&a, c->held_send, c->held_send_len);
    wachat_args_str(&a, c->limited ? "1" : "0");
    wachat_args_str(&a, c->done_id);
    wachat_args_list(&a, c->conv_kv, c->nconv);
    wachat_args_list(&a, c->in_kv, c->nin);
    wachat_args_list(&a, c->reply_kv, c->nreply);
    wachat_args_list(&a, c->held_kv, c->nheld);

    memset(res, 0, sizeof(wachat_commit_result_t));

    r = wachat_script_done(st,
                           wachat_args_eval_ran(st, &wachat_lua_commit,
                                                WACHAT_CONV_NKEYS + 1, &a),
                           5, &res->peek);

    if (r == NULL || res->peek.state == WACHAT_PEEK_LOST) {
        return r;
    }

    if (r->element[0]->type != REDIS_REPLY_INTEGER
        || r->element[1]->type != REDIS_REPLY_INTEGER
        || r->element[2]->type != REDIS_REPLY_STRING
        || r->element[3]->type != REDIS_REPLY_INTEGER
        || r->element[4]->type != REDIS_REPLY_INTEGER)
    {
        snprintf(st->err, sizeof(st->err), "unexpected commit reply");
        freeReplyObject(r);
        return NULL;
    }

    res->committed = r->element[0]->integer == 1;
    res->queued = r->element[1]->integer;
    res->mode = r->element[2]->str;
    res->is_new = r->element[3]->integer == 1;
    res->moved = r->element[4]->integer == 1;

    return r;
}


redisReply *
wachat_script_status(wachat_redis_t *st, const wachat_conv_ref_t *ref,
    int lease_ms, const char *member, size_t member_len, const char *wamid,
    const char *status, const char *ts, const char *code, int *applied,
    wachat_peek_t *peek)
{
    redisReply     *r;
    wachat_args_t   a;

    wachat_args_conv(&a, ref);
    wachat_args_conv_argv(&a, ref, lease_ms);
    wachat_args_bytes(&a, member, member_len);
    wachat_args_str(&a, wamid);
    wachat_args_str(&a, status);
    wachat_args_str(&a, ts);
    wachat_args_str(&a, code);

    r = wachat_script_done(st,
                           wachat_args_eval_ran(st, &wachat_lua_status,
                                                WACHAT_CONV_NKEYS, &a),
                           1, peek);

    *applied = r && peek->state != WACHAT_PEEK_LOST
               && r->element[0]->type == REDIS_REPLY_INTEGER
               && r->element[0]->integer == 1;

    return r;
}
