/*
 * scripts_int: what the conversation scripts share (see scripts.h): the
 * order of their KEYS and ARGV, the Lua of the peek, the lease check and
 * the live feed, and the argument builder of their wrappers.
 *
 * KEYS of every conversation script, in this order:
 *   1 lease  2 outq  3 inbox  4 conv  5 hist  6 status  7 ready  8 stream
 *   9 feed  10 the number's rate bucket  (11 done set: commit only)
 * ARGV 1..7 of every one: owner, lease ms, group, conversation id, the
 * number's send rate per second (0: none), the customer's AI answers per
 * minute (0: none) and their burst; the script's own arguments follow
 * from ARGV[8].
 */

#ifndef WACHAT_SCRIPTS_INT_H
#define WACHAT_SCRIPTS_INT_H

#include "wachat_contract.h"
#include "lib/log.h"
#include "store/scripts.h"


#define WACHAT_CONV_NKEYS   10
#define WACHAT_ARGS_MAX     96


#define WACHAT_LUA_AI       "'" WACHAT_MODE_NAME_AI "'"
#define WACHAT_LUA_WAITING  "'" WACHAT_MODE_NAME_WAITING_AGENT "'"
#define WACHAT_LUA_AGENT    "'" WACHAT_MODE_NAME_AGENT "'"

/*
 * The live feed is a convenience: a failure there (a key of the wrong
 * type) changes no conversation; it is reported with the result, logged.
 */
#define WACHAT_LUA_FEED                                                      \
    "local feederr = false\n"                                               \
    "local function feed(...)\n"                                            \
    "  local r = redis.pcall('XADD', KEYS[9], 'MAXLEN', '~', "                \
    WACHAT_STR(WACHAT_FEED_MAXLEN) ", '*', ...)\n"                           \
    "  if type(r) == 'table' and r.err then feederr = r.err end\n"           \
    "end\n"

#define WACHAT_STR_(x)  #x
#define WACHAT_STR(x)   WACHAT_STR_(x)


#define WACHAT_LUA_LEASE_CHECK                                              \
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {-1} end\n"


/*
 * The peek: renew, read both heads; nothing left: give the conversation
 * back and take it off the ready set, in the same atomic step, so an event
 * transferred meanwhile finds the lease free.  With a reply to send, a
 * token of the number's bucket is taken for it (Meta caps a number's
 * throughput, 80 messages/s by default; every consumer draws from one
 * bucket per number, on Redis' clock so hosts need not agree on time):
 * "wait" is 0 to send now, else the ms until a token.
 *
 * With an inbox head, it also says whether the customer's AI answers are
 * spent ("limited"), before anyone calls a model for it.  That bucket
 * lives in the conversation hash (ai_tokens, ai_ts: one slot, no key of
 * its own) and only the commit that queues an AI answer takes from it
 * (answer_taken); both run under the lease, one after the other, so the
 * peek's word still holds when the commit comes.
 *
 * PK and PA are the conversation's KEYS and ARGV (the transfer points them
 * at each conversation it takes in turn).
 *
 * An inbox member is "<ms>-<seq>\n" zero-padded, then the entry's fields
 * packed with msgpack (or, from wachatd before 2026-12, a JSON object).
 * Returns {state, outq head, inbox head, older pending, its stream id,
 * its fields, wait, limited}; state 2: given back.
 *
 * It runs after the script's writes, and Redis does not take writes back
 * when a script fails: what can fail on keys outside the conversation is
 * caught.  A pending check that fails (the group was deleted) counts as
 * "older pending", which the caller settles itself; a bucket that fails
 * does not hold replies back.
 */
#define WACHAT_LUA_PEEK                                                     \
    "local PK, PA = KEYS, ARGV\n"                                           \
    "local function clock()\n"                                              \
    "  local t = redis.call('TIME')\n"                                      \
    "  return t[1] * 1000 + math.floor(t[2] / 1000)\n"                      \
    "end\n"                                                                 \
    "local function bucket()\n"                                             \
    "  local rate = tonumber(PA[5])\n"                                    \
    "  if rate <= 0 then return 0 end\n"                                    \
    "  local now = clock()\n"                                               \
    "  local b = redis.call('HMGET', PK[10], 'tokens', 'ts')\n"           \
    "  local tokens = tonumber(b[1]) or rate\n"                             \
    "  local ts = tonumber(b[2]) or now\n"                                  \
    "  tokens = math.min(rate, tokens + math.max(0, now - ts) * rate\n"     \
    "                            / 1000)\n"                                 \
    "  local wait = 0\n"                                                    \
    "  if tokens >= 1 then\n"                                               \
    "    tokens = tokens - 1\n"                                             \
    "  else\n"                                                              \
    "    wait = math.ceil((1 - tokens) * 1000 / rate)\n"                    \
    "  end\n"                                                               \
    "  redis.call('HSET', PK[10], 'tokens', tostring(tokens), 'ts',\n"    \
    "             tostring(now))\n"                                         \
    "  redis.call('PEXPIRE', PK[10], 60000)\n"                            \
    "  return wait\n"                                                       \
    "end\n"                                                                 \
    "local function take()\n"                                               \
    "  local ok, wait = pcall(bucket)\n"                                    \
    "  return ok and wait or 0\n"                                           \
    "end\n"                                                                 \
    "local function answers(now)\n"                                         \
    "  local per, burst = tonumber(PA[6]), tonumber(PA[7])\n"               \
    "  local b = redis.call('HMGET', PK[4], 'ai_tokens', 'ai_ts')\n"      \
    "  local tokens = tonumber(b[1]) or burst\n"                            \
    "  local ts = tonumber(b[2]) or now\n"                                  \
    "  return math.min(burst, tokens + math.max(0, now - ts) * per\n"       \
    "                         / 60000)\n"                                   \
    "end\n"                                                                 \
    "local function answer_taken()\n"                                       \
    "  redis.call('HDEL', PK[4], 'ai_limited')\n"                           \
    "  if tonumber(PA[6]) <= 0 then return end\n"                           \
    "  local now = clock()\n"                                               \
    "  redis.call('HSET', PK[4], 'ai_tokens', tostring(answers(now) - 1),\n"\
    "             'ai_ts', tostring(now))\n"                                \
    "end\n"                                                                 \
    "local function spent()\n"                                              \
    "  if not PK[4] or tonumber(PA[6]) <= 0 then return 0 end\n"            \
    "  local ok, n = pcall(answers, clock())\n"                             \
    "  return (ok and n < 1) and 1 or 0\n"                                  \
    "end\n"                                                                 \
    "local function peek()\n"                                               \
    "  redis.call('SET', PK[1], PA[1], 'PX', PA[2])\n"                \
    "  local out = redis.call('LINDEX', PK[2], 0)\n"                      \
    "  local head = redis.call('ZRANGE', PK[3], 0, 0)[1]\n"               \
    "  if not out and not head then\n"                                      \
    "    redis.call('DEL', PK[1])\n"                                      \
    "    redis.call('SREM', PK[7], PA[4])\n"                            \
    "    return {2}\n"                                                      \
    "  end\n"                                                               \
    "  local wait = out and take() or 0\n"                                  \
    "  if not head then\n"                                                  \
    "    return {1, out, false, 0, false, false, wait, 0}\n"                \
    "  end\n"                                                               \
    "  local limited = spent()\n"                                           \
    "  local bad = {1, out or false, head, 0, false, false, wait, limited}\n"\
    "  local ms, seq = string.match(head, '^(%d+)%-(%d+)\\n')\n"            \
    "  if not ms then return bad end\n"                                     \
    "  local function trim(s)\n"                                            \
    "    s = string.gsub(s, '^0+', '')\n"                                   \
    "    return s == '' and '0' or s\n"                                     \
    "  end\n"                                                               \
    "  local id = trim(ms) .. '-' .. trim(seq)\n"                           \
    "  local older = redis.pcall('XPENDING', PK[8], PA[3], '-',\n"      \
    "                            '(' .. id, 1)\n"                           \
    "  if older.err then older = {older} end\n"                             \
    "  local body = string.sub(head, #ms + #seq + 3)\n"                     \
    "  local ok, fields\n"                                                  \
    "  if string.sub(body, 1, 1) == '{' then\n"                             \
    "    ok, fields = pcall(cjson.decode, body)\n"                          \
    "    if ok then\n"                                                      \
    "      local a = {}\n"                                                  \
    "      for k, v in pairs(fields) do a[#a + 1] = k; a[#a + 1] = v end\n" \
    "      fields = a\n"                                                    \
    "    end\n"                                                             \
    "  else\n"                                                              \
    "    ok, fields = pcall(cmsgpack.unpack, body)\n"                       \
    "  end\n"                                                               \
    "  if not ok or type(fields) ~= 'table' then return bad end\n"          \
    "  return {1, out or false, head, #older > 0 and 1 or 0, id, fields,\n" \
    "          wait, limited}\n"                                            \
    "end\n"


/*
 * The statuses hash holds, per reply, "<wamid>" -> its status and
 * "h:<history id>" -> its wamid (the console joins them to the history).
 * It is trimmed with the history: once it holds more than two fields per
 * history entry plus some slack, the fields of entries the history no
 * longer has go, and so do statuses of wamids no entry names (a template
 * another tool sent from the same number).  The slack (a quarter, at
 * least 64) makes each pass remove that many fields, so the scan costs
 * a few field reads per field written.  A hash made by SENT or STATUS
 * (the commit's EXPIRE came before it existed) takes the conversation's
 * time to live, so no statuses hash outlives its conversation.
 */
#define WACHAT_LUA_STATUSES                                                 \
    "local function statuses_bounded()\n"                                   \
    "  local ttl = redis.call('PTTL', KEYS[4])\n"                           \
    "  if ttl > 0 and redis.call('PTTL', KEYS[6]) == -1 then\n"             \
    "    redis.call('PEXPIRE', KEYS[6], ttl)\n"                             \
    "  end\n"                                                               \
    "  local len = redis.call('XLEN', KEYS[5])\n"                           \
    "  if redis.call('HLEN', KEYS[6])\n"                                    \
    "     <= 2 * len + math.max(64, math.floor(len / 4)) then\n"            \
    "    return\n"                                                          \
    "  end\n"                                                               \
    "  local first = redis.call('XRANGE', KEYS[5], '-', '+', 'COUNT', 1)[1]\n"\
    "  local fms, fseq = math.huge, 0\n"                                    \
    "  if first then\n"                                                     \
    "    local a, b = string.match(first[1], '^(%d+)%-(%d+)$')\n"           \
    "    fms, fseq = tonumber(a), tonumber(b)\n"                            \
    "  end\n"                                                               \
    "  local all = redis.call('HGETALL', KEYS[6])\n"                        \
    "  local named, gone = {}, {}\n"                                        \
    "  for i = 1, #all, 2 do\n"                                             \
    "    local ms, seq = string.match(all[i], '^h:(%d+)%-(%d+)$')\n"        \
    "    if ms then\n"                                                      \
    "      ms, seq = tonumber(ms), tonumber(seq)\n"                         \
    "      if ms > fms or (ms == fms and seq >= fseq) then\n"               \
    "        named[all[i + 1]] = true\n"                                    \
    "      else\n"                                                          \
    "        gone[#gone + 1] = all[i]\n"                                    \
    "      end\n"                                                           \
    "    end\n"                                                             \
    "  end\n"                                                               \
    "  for i = 1, #all, 2 do\n"                                             \
    "    if string.sub(all[i], 1, 2) ~= 'h:' and not named[all[i]] then\n"  \
    "      gone[#gone + 1] = all[i]\n"                                      \
    "    end\n"                                                             \
    "  end\n"                                                               \
    "  for i = 1, #gone, 256 do\n"                                          \
    "    redis.call('HDEL', KEYS[6],\n"                                     \
    "               unpack(gone, i, math.min(i + 255, #gone)))\n"           \
    "  end\n"                                                               \
    "end\n"


/*
 * A reply Meta accepted, recorded: off its queue (the head), its wamid
 * "accepted" unless a status came first, its history entry joined to the
 * wamid.  SENT does it with the send's answer, TRANSFER with Meta's status.
 */
#define WACHAT_LUA_RECORD_SENT                                              \
    "local function record_sent(outq, st, conv, wamid, hist, now)\n"        \
    "  redis.call('LPOP', outq)\n"                                          \
    "  redis.call('HSETNX', st, wamid, 'accepted||' .. now)\n"              \
    "  redis.call('HSET', st, 'h:' .. hist, wamid)\n"                       \
    "  redis.call('HSET', conv, 'last_out_at', now)\n"                      \
    "end\n"


typedef struct {
    int          n;
    const char  *v[WACHAT_ARGS_MAX];
    size_t       len[WACHAT_ARGS_MAX];
    char         num[16][24];       /* room for the numbers pushed */
    int          nnum;
} wachat_args_t;


void wachat_args_bytes(wachat_args_t *a, const char *s, size_t len);
void wachat_args_str(wachat_args_t *a, const char *s);
void wachat_args_int(wachat_args_t *a, long long v);
void wachat_args_list(wachat_args_t *a, const char **kv, size_t n);
void wachat_args_conv(wachat_args_t *a, const wachat_conv_ref_t *ref);
void wachat_args_conv_argv(wachat_args_t *a, const wachat_conv_ref_t *ref,
    int lease_ms);
redisReply *wachat_args_eval(wachat_redis_t *st, wachat_lua_t *lua,
    int nkeys, wachat_args_t *a);
redisReply *wachat_args_eval_ran(wachat_redis_t *st, wachat_lua_t *lua,
    int nkeys, wachat_args_t *a);

void wachat_script_failed(wachat_redis_t *st, const redisReply *r);
int wachat_peek_read(const redisReply *r, wachat_peek_t *peek);
redisReply *wachat_script_done(wachat_redis_t *st, redisReply *r,
    size_t nres, wachat_peek_t *peek);


#endif /* WACHAT_SCRIPTS_INT_H */
