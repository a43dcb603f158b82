/*
 * scripts: the conversation's Lua scripts and their typed wrappers
 * (see scripts.h for what a peek is).
 *
 * KEYS of every conversation script, in this order:
 *   1 lease  2 outq  3 inbox  4 conv  5 hist  6 status  7 ready  8 stream
 *   9 feed  10 the number's rate bucket  (11 done: commit only)
 * ARGV 1..5 of every one: owner, lease ms, group, conversation id, the
 * number's send rate per second (0: none); the script's own arguments
 * follow from ARGV[6].
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
 * An inbox member is "<ms>-<seq>\n" zero-padded, then the entry's fields
 * packed with msgpack (or, from wachatd before 2026-12, a JSON object).
 * Returns {state, outq head, inbox head, older pending, its stream id,
 * its fields, wait}; state 2: given back.
 *
 * It runs after the script's writes, and Redis does not take writes back
 * when a script fails: what can fail on keys outside the conversation is
 * caught.  A pending check that fails (the group was deleted) counts as
 * "older pending", which the caller settles itself; a bucket that fails
 * does not hold replies back.
 */
#define WACHAT_LUA_PEEK                                                     \
    "local function bucket()\n"                                             \
    "  local rate = tonumber(ARGV[5])\n"                                    \
    "  if rate <= 0 then return 0 end\n"                                    \
    "  local t = redis.call('TIME')\n"                                      \
    "  local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"                 \
    "  local b = redis.call('HMGET', KEYS[10], 'tokens', 'ts')\n"           \
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
    "  redis.call('HSET', KEYS[10], 'tokens', tostring(tokens), 'ts',\n"    \
    "             tostring(now))\n"                                         \
    "  redis.call('PEXPIRE', KEYS[10], 60000)\n"                            \
    "  return wait\n"                                                       \
    "end\n"                                                                 \
    "local function take()\n"                                               \
    "  local ok, wait = pcall(bucket)\n"                                    \
    "  return ok and wait or 0\n"                                           \
    "end\n"                                                                 \
    "local function peek()\n"                                               \
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"                \
    "  local out = redis.call('LINDEX', KEYS[2], 0)\n"                      \
    "  local head = redis.call('ZRANGE', KEYS[3], 0, 0)[1]\n"               \
    "  if not out and not head then\n"                                      \
    "    redis.call('DEL', KEYS[1])\n"                                      \
    "    redis.call('SREM', KEYS[7], ARGV[4])\n"                            \
    "    return {2}\n"                                                      \
    "  end\n"                                                               \
    "  local wait = out and take() or 0\n"                                  \
    "  if not head then return {1, out, false, 0, false, false, wait} end\n"\
    "  local bad = {1, out or false, head, 0, false, false, wait}\n"        \
    "  local ms, seq = string.match(head, '^(%d+)%-(%d+)\\n')\n"            \
    "  if not ms then return bad end\n"                                     \
    "  local function trim(s)\n"                                            \
    "    s = string.gsub(s, '^0+', '')\n"                                   \
    "    return s == '' and '0' or s\n"                                     \
    "  end\n"                                                               \
    "  local id = trim(ms) .. '-' .. trim(seq)\n"                           \
    "  local older = redis.pcall('XPENDING', KEYS[8], ARGV[3], '-',\n"      \
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
    "          wait}\n"                                                     \
    "end\n"


static wachat_lua_t  wachat_lua_step = wachat_lua(
    WACHAT_LUA_PEEK
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur and cur ~= ARGV[1] then return {0} end\n"
    "return peek()\n");


static wachat_lua_t  wachat_lua_renew = wachat_lua(
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur and cur ~= ARGV[1] then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "return 1\n");


/*
 * ARGV 6 member, 7 done ttl, 8 history max, 9 retention s, 10 now ms,
 * 11 wamid for the feed, 12 handoff, 13 agent chosen, 14 the reply's
 * outbound record, 15 the held reply's, then four counted lists: the
 * conversation's fields, the inbound history entry, the reply's and the
 * held reply's history entries.  Returns {committed, queued, mode, new,
 * peek}.
 *
 * The mode is read here, in the same step that queues the reply: an agent
 * who took the conversation while the answer was being prepared (an LLM
 * call in flight) sees no AI message after taking it.  A hand-over moves
 * an AI or waiting conversation to the agent chosen, or to waiting_agent,
 * and always tells the customer what happens next (also when an agent
 * holds it already: "held").
 */
static wachat_lua_t  wachat_lua_commit = wachat_lua(
    WACHAT_LUA_PEEK
    WACHAT_LUA_FEED
    WACHAT_LUA_LEASE_CHECK
    "if redis.call('EXISTS', KEYS[11]) == 1 then\n"
    "  redis.call('ZREM', KEYS[3], ARGV[6])\n"
    "  return {0, 0, '', 0, peek(), false}\n"
    "end\n"
    "local i = 16\n"
    "local function list()\n"
    "  local n, a = tonumber(ARGV[i]), {}\n"
    "  for k = 1, n do a[k] = ARGV[i + k] end\n"
    "  i = i + n + 1\n"
    "  return a\n"
    "end\n"
    "local conv, inb, reply, held = list(), list(), list(), list()\n"
    "local mode = redis.call('HGET', KEYS[4], 'mode')\n"
    "local new = 0\n"
    "if not mode then mode = " WACHAT_LUA_AI "; new = 1 end\n"
    "redis.call('HSET', KEYS[4], 'mode', mode, unpack(conv))\n"
    "local function hist(f)\n"
    "  return redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[8], '*',\n"
    "                    unpack(f))\n"
    "end\n"
    "hist(inb)\n"
    "local n = 0\n"
    "local function send(h, s)\n"
    "  if #h == 0 then return end\n"
    "  redis.call('RPUSH', KEYS[2], s .. hist(h) .. '\"}')\n"
    "  n = n + 1\n"
    "end\n"
    "if ARGV[12] == '1' then\n"
    "  if mode ~= " WACHAT_LUA_AGENT " then\n"
    "    if ARGV[13] ~= '' then\n"
    "      redis.call('HSET', KEYS[4], 'mode', " WACHAT_LUA_AGENT ",\n"
    "                 'agent', ARGV[13], 'agent_since', ARGV[10],\n"
    "                 'agent_active', ARGV[10])\n"
    "      redis.call('HDEL', KEYS[4], 'waiting_since')\n"
    "      mode = " WACHAT_LUA_AGENT "\n"
    "    elseif mode == " WACHAT_LUA_AI " then\n"
    "      redis.call('HSET', KEYS[4], 'mode', " WACHAT_LUA_WAITING ",\n"
    "                 'waiting_since', ARGV[10])\n"
    "      mode = " WACHAT_LUA_WAITING "\n"
    "    end\n"
    "    send(reply, ARGV[14])\n"
    "  else\n"
    "    send(held, ARGV[15])\n"
    "  end\n"
    "elseif mode == " WACHAT_LUA_AI " then\n"
    "  send(reply, ARGV[14])\n"
    "end\n"
    "if mode ~= " WACHAT_LUA_AI " then\n"
    "  redis.call('HINCRBY', KEYS[4], 'unread', 1)\n"
    "end\n"
    "for _, k in ipairs({KEYS[4], KEYS[5], KEYS[6]}) do\n"
    "  redis.call('EXPIRE', k, ARGV[9])\n"
    "end\n"
    "redis.call('SET', KEYS[11], '1', 'EX', ARGV[7])\n"
    "redis.call('ZREM', KEYS[3], ARGV[6])\n"
    "feed('type', 'message', 'conv', ARGV[4], 'id', ARGV[11], 'mode', mode)\n"
    "return {1, n, mode, new, peek(), feederr}\n");


/*
 * ARGV 6 member, 7 wamid, 8 status, 9 ts, 10 error code.  Statuses arrive
 * out of order: sent < delivered < read < played, and a failure is kept
 * unless the message was read anyway.  A status for someone who never
 * wrote (a template sent by another tool on the same number) creates
 * nothing.  Returns {applied, peek}.
 */
static wachat_lua_t  wachat_lua_status = wachat_lua(
    WACHAT_LUA_PEEK
    WACHAT_LUA_FEED
    WACHAT_LUA_LEASE_CHECK
    "if redis.call('EXISTS', KEYS[4]) == 0 then\n"
    "  redis.call('ZREM', KEYS[3], ARGV[6])\n"
    "  return {0, peek(), false}\n"
    "end\n"
    "local rank = {accepted = 0, sent = 1, delivered = 2, read = 3,\n"
    "              played = 4}\n"
    "local cur = redis.call('HGET', KEYS[6], ARGV[7])\n"
    "local was = cur and string.match(cur, '^[^|]*') or nil\n"
    "local new, apply = ARGV[8], false\n"
    "if new == 'failed' then\n"
    "  apply = was ~= 'read' and was ~= 'played' and was ~= 'failed'\n"
    "elseif was == nil then\n"
    "  apply = true\n"
    "elseif was ~= 'failed' then\n"
    "  apply = (rank[new] or 0) > (rank[was] or 0)\n"
    "end\n"
    "if apply then\n"
    "  redis.call('HSET', KEYS[6], ARGV[7],\n"
    "             new .. '|' .. ARGV[10] .. '|' .. ARGV[9])\n"
    "  feed('type', 'status', 'conv', ARGV[4], 'id', ARGV[7],\n"
    "       'status', ARGV[8], 'error_code', ARGV[10])\n"
    "end\n"
    "redis.call('ZREM', KEYS[3], ARGV[6])\n"
    "return {apply and 1 or 0, peek(), feederr}\n");


/*
 * ARGV 6 head, 7 wamid, 8 history id, 9 now, 10 tell the feed.  The feed
 * hears of the accepted reply whoever holds the lease now: Meta has it.
 * Returns {recorded, peek}.
 */
static wachat_lua_t  wachat_lua_sent = wachat_lua(
    WACHAT_LUA_PEEK
    WACHAT_LUA_FEED
    "if ARGV[10] == '1' then\n"
    "  feed('type', 'status', 'conv', ARGV[4], 'id', ARGV[7],\n"
    "       'hist', ARGV[8], 'status', 'accepted')\n"
    "end\n"
    WACHAT_LUA_LEASE_CHECK
    "if redis.call('LINDEX', KEYS[2], 0) ~= ARGV[6] then\n"
    "  return {0, peek(), feederr}\n"
    "end\n"
    "redis.call('LPOP', KEYS[2])\n"
    "redis.call('HSETNX', KEYS[6], ARGV[7], 'accepted||' .. ARGV[9])\n"
    "redis.call('HSET', KEYS[6], 'h:' .. ARGV[8], ARGV[7])\n"
    "redis.call('HSET', KEYS[4], 'last_out_at', ARGV[9])\n"
    "return {1, peek(), feederr}\n");


/* ARGV 6 head, 7 history id, 8 code, 9 now.  Returns 1, 0 or -1. */
static wachat_lua_t  wachat_lua_drop = wachat_lua(
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end\n"
    "if redis.call('LINDEX', KEYS[2], 0) ~= ARGV[6] then return 0 end\n"
    "redis.call('LPOP', KEYS[2])\n"
    "redis.call('HSET', KEYS[6], 'h:' .. ARGV[7],\n"
    "           'failed|' .. ARGV[8] .. '|' .. ARGV[9])\n"
    "return 1\n");


/* shutdown with work left: the lease goes, the ready set keeps it */
static wachat_lua_t  wachat_lua_release = wachat_lua(
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 1\n");


/*
 * KEYS stream ready convs, then one inbox per event; ARGV group, then per
 * event: id, conversation ('' = acknowledge only), counts as activity.
 * The inbox first, the acknowledgement second, in one atomic step; a
 * transfer done twice (a reclaimed entry) adds the same member again, a
 * no-op.  Members sort by stream id: the score is the id's milliseconds and
 * the member starts with the zero-padded id, so ties sort right too.
 *
 * The fields are read here rather than sent back; an entry deleted since it
 * was read (MAXLEN trimmed it) is left pending and its index returned: the
 * caller transfers it with the fields it read (TRANSFER_ONE).
 */
#define WACHAT_LUA_INBOX                                                    \
    "local function inbox(key, id, conv, msg, fields)\n"                    \
    "  local ms, seq = string.match(id, '^(%d+)%-(%d+)$')\n"                \
    "  if not ms then return end\n"                                         \
    "  local function pad(s) return string.rep('0', 20 - #s) .. s end\n"    \
    "  redis.call('ZADD', key, 'NX', ms,\n"                                 \
    "             pad(ms) .. '-' .. pad(seq) .. '\\n' .. cmsgpack.pack(fields))\n" \
    "  redis.call('SADD', KEYS[2], conv)\n"                                 \
    "  if msg == '1' then redis.call('ZADD', KEYS[3], ms, conv) end\n"      \
    "end\n"

static wachat_lua_t  wachat_lua_transfer = wachat_lua(
    WACHAT_LUA_INBOX
    "local missing = {}\n"
    "for i = 1, (#ARGV - 1) / 3 do\n"
    "  local id, conv, msg = ARGV[3 * i - 1], ARGV[3 * i], ARGV[3 * i + 1]\n"
    "  local e = conv ~= '' and redis.call('XRANGE', KEYS[1], id, id)[1]\n"
    "  if conv ~= '' and not e then\n"
    "    missing[#missing + 1] = i\n"
    "  else\n"
    "    if e then inbox(KEYS[3 + i], id, conv, msg, e[2]) end\n"
    "    redis.call('XACK', KEYS[1], ARGV[1], id)\n"
    "  end\n"
    "end\n"
    "return missing\n");


/* KEYS stream ready convs inbox; ARGV group id conv activity field value.. */
static wachat_lua_t  wachat_lua_transfer_one = wachat_lua(
    WACHAT_LUA_INBOX
    "local fields = {}\n"
    "for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end\n"
    "inbox(KEYS[4], ARGV[2], ARGV[3], ARGV[4], fields)\n"
    "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])\n"
    "return 1\n");


/* --- arguments ------------------------------------------------------- */


typedef struct {
    int          n;
    const char  *v[WACHAT_ARGS_MAX];
    size_t       len[WACHAT_ARGS_MAX];
    char         num[16][24];       /* room for the numbers pushed */
    int          nnum;
} wachat_args_t;


static void
wachat_args_bytes(wachat_args_t *a, const char *s, size_t len)
{
    if (a->n < WACHAT_ARGS_MAX) {
        a->v[a->n] = s ? s : "";
        a->len[a->n] = s ? len : 0;
        a->n++;
    }
}


static void
wachat_args_str(wachat_args_t *a, const char *s)
{
    wachat_args_bytes(a, s, s ? strlen(s) : 0);
}


static void
wachat_args_int(wachat_args_t *a, long long v)
{
    char  *p;

    if (a->nnum == 16) {
        return;
    }

    p = a->num[a->nnum++];
    snprintf(p, 24, "%lld", v);
    wachat_args_str(a, p);
}


/* a counted list: n, then the n strings */
static void
wachat_args_list(wachat_args_t *a, const char **kv, size_t n)
{
    size_t  i;

    wachat_args_int(a, (long long) n);

    for (i = 0; i < n; i++) {
        wachat_args_str(a, kv[i]);
    }
}


/* the nine conversation keys and ARGV 1..4 */
static void
wachat_args_conv(wachat_args_t *a, const wachat_conv_ref_t *ref)
{
    a->n = 0;
    a->nnum = 0;

    wachat_args_str(a, ref->lease);
    wachat_args_str(a, ref->outq);
    wachat_args_str(a, ref->inbox);
    wachat_args_str(a, ref->conv);
    wachat_args_str(a, ref->hist);
    wachat_args_str(a, ref->status);
    wachat_args_str(a, WACHAT_KEY_READY);
    wachat_args_str(a, ref->stream);
    wachat_args_str(a, WACHAT_KEY_FEED);
    wachat_args_str(a, ref->rate);
}


static void
wachat_args_conv_argv(wachat_args_t *a, const wachat_conv_ref_t *ref,
    int lease_ms)
{
    wachat_args_str(a, ref->owner);
    wachat_args_int(a, lease_ms);
    wachat_args_str(a, ref->group);
    wachat_args_str(a, ref->id);
    wachat_args_int(a, *ref->rate_per_s > 0 ? *ref->rate_per_s : 0);
}


static redisReply *
wachat_args_eval(wachat_redis_t *st, wachat_lua_t *lua, int nkeys,
    wachat_args_t *a)
{
    if (a->n == WACHAT_ARGS_MAX || a->nnum == 16) {
        snprintf(st->err, sizeof(st->err), "too many script arguments");
        return NULL;
    }

    return wachat_redis_eval(st, lua, nkeys, a->n, a->v, a->len);
}


/* --- replies ----------------------------------------------------------- */


static int
wachat_peek_read(const redisReply *r, wachat_peek_t *peek)
{
    const redisReply  *e;

    memset(peek, 0, sizeof(wachat_peek_t));

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1
        || r->element[0]->type != REDIS_REPLY_INTEGER)
    {
        return -1;
    }

    switch (r->element[0]->integer) {
    case -1: peek->state = WACHAT_PEEK_LOST; return 0;
    case 0:  peek->state = WACHAT_PEEK_OTHER; return 0;
    case 2:  peek->state = WACHAT_PEEK_IDLE; return 0;
    case 1:  peek->state = WACHAT_PEEK_WORK; break;
    default: return -1;
    }

    if (r->elements != 7 || r->element[6]->type != REDIS_REPLY_INTEGER) {
        return -1;
    }

    e = r->element[1];
    if (e->type == REDIS_REPLY_STRING) {
        peek->out = e->str;
        peek->out_len = e->len;
    }

    e = r->element[2];
    if (e->type == REDIS_REPLY_STRING) {
        peek->member = e->str;
        peek->member_len = e->len;
    }

    peek->older_pending = r->element[3]->type == REDIS_REPLY_INTEGER
                          && r->element[3]->integer == 1;

    e = r->element[4];
    peek->head_id = e->type == REDIS_REPLY_STRING ? e->str : NULL;
    peek->fields = r->element[5];
    peek->wait_ms = r->element[6]->integer;

    return 0;
}


/*
 * {result, ..., peek, feed error}: nres results; a lost lease is {-1}.
 */
static redisReply *
wachat_script_done(wachat_redis_t *st, redisReply *r, size_t nres,
    wachat_peek_t *peek)
{
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1
        && r->element[0]->type == REDIS_REPLY_INTEGER
        && r->element[0]->integer == -1)
    {
        memset(peek, 0, sizeof(wachat_peek_t));
        peek->state = WACHAT_PEEK_LOST;
        return r;
    }

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != nres + 2
        || wachat_peek_read(r->element[nres], peek) != 0)
    {
        if (r) {
            snprintf(st->err, sizeof(st->err), "%s",
                     r->type == REDIS_REPLY_ERROR ? r->str
                                                  : "unexpected reply");
        }

        freeReplyObject(r);
        return NULL;
    }

    if (r->element[nres + 1]->type == REDIS_REPLY_STRING) {
        wachat_log(WACHAT_LOG_WARNING, "redis: a feed XADD failed: %s",
                   r->element[nres + 1]->str);
    }

    return r;
}


/* --- the wrappers ------------------------------------------------------ */


static int wachat_script_transfer_one(wachat_redis_t *st, const char *stream,
    const char *group, const char *id, const char *conv, const char *inbox,
    int message, const redisReply *fields);


void
wachat_conv_ref_init(wachat_conv_ref_t *ref, const char *id,
    const char *owner, const char *stream, const char *group,
    const int *rate_per_s)
{
    size_t  n;

    ref->id = id;
    ref->owner = owner;
    ref->stream = stream;
    ref->group = group;
    ref->rate_per_s = rate_per_s;

    /* one bucket per business number, the id's first part */
    n = strcspn(id, ":");
    snprintf(ref->rate, sizeof(ref->rate), "wachat:rate:{%.*s}", (int) n,
             id);

    wachat_store_key_lease(ref->lease, id);
    wachat_store_key_outq(ref->outq, id);
    wachat_store_key_inbox(ref->inbox, id);
    wachat_store_key_conv(ref->conv, id);
    wachat_store_key_hist(ref->hist, id);
    wachat_store_key_status(ref->status, id);
}


redisReply *
wachat_script_step(wachat_redis_t *st, const wachat_conv_ref_t *ref,
    int lease_ms, wachat_peek_t *peek)
{
    redisReply     *r;
    wachat_args_t   a;

    wachat_args_conv(&a, ref);
    wachat_args_conv_argv(&a, ref, lease_ms);

    r = wachat_args_eval(st, &wachat_lua_step, WACHAT_CONV_NKEYS, &a);

    if (wachat_peek_read(r, peek) != 0) {
        if (r) {
            snprintf(st->err, sizeof(st->err), "%s",
                     r->type == REDIS_REPLY_ERROR ? r->str
                                                  : "unexpected reply");
        }

        freeReplyObject(r);
        return NULL;
    }

    return r;
}


int
wachat_script_renew(wachat_redis_t *st, const wachat_conv_ref_t *ref,
    int lease_ms)
{
    int             rc;
    redisReply     *r;
    wachat_args_t   a;

    wachat_args_conv(&a, ref);
    wachat_args_conv_argv(&a, ref, lease_ms);

    r = wachat_args_eval(st, &wachat_lua_renew, WACHAT_CONV_NKEYS, &a);

    rc = (r && r->type == REDIS_REPLY_INTEGER) ? (int) r->integer : -1;
    freeReplyObject(r);

    return rc;
}


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
    wachat_args_list(&a, c->conv_kv, c->nconv);
    wachat_args_list(&a, c->in_kv, c->nin);
    wachat_args_list(&a, c->reply_kv, c->nreply);
    wachat_args_list(&a, c->held_kv, c->nheld);

    memset(res, 0, sizeof(wachat_commit_result_t));

    r = wachat_script_done(st, wachat_args_eval(st, &wachat_lua_commit,
                                                WACHAT_CONV_NKEYS + 1, &a),
                           4, &res->peek);

    if (r == NULL || res->peek.state == WACHAT_PEEK_LOST) {
        return r;
    }

    if (r->element[0]->type != REDIS_REPLY_INTEGER
        || r->element[1]->type != REDIS_REPLY_INTEGER
        || r->element[2]->type != REDIS_REPLY_STRING
        || r->element[3]->type != REDIS_REPLY_INTEGER)
    {
        snprintf(st->err, sizeof(st->err), "unexpected commit reply");
        freeReplyObject(r);
        return NULL;
    }

    res->committed = r->element[0]->integer == 1;
    res->queued = r->element[1]->integer;
    res->mode = r->element[2]->str;
    res->is_new = r->element[3]->integer == 1;

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

    r = wachat_script_done(st, wachat_args_eval(st, &wachat_lua_status,
                                                WACHAT_CONV_NKEYS, &a),
                           1, peek);

    *applied = r && peek->state != WACHAT_PEEK_LOST
               && r->element[0]->type == REDIS_REPLY_INTEGER
               && r->element[0]->integer == 1;

    return r;
}


redisReply *
wachat_script_sent(wachat_redis_t *st, const wachat_conv_ref_t *ref,
    int lease_ms, const char *head, size_t head_len, const char *wamid,
    const char *hist, long long now, int feed, int *recorded,
    wachat_peek_t *peek)
{
    redisReply     *r;
    wachat_args_t   a;

    wachat_args_conv(&a, ref);
    wachat_args_conv_argv(&a, ref, lease_ms);
    wachat_args_bytes(&a, head, head_len);
    wachat_args_str(&a, wamid);
    wachat_args_str(&a, hist);
    wachat_args_int(&a, now);
    wachat_args_str(&a, feed ? "1" : "0");

    r = wachat_script_done(st, wachat_args_eval(st, &wachat_lua_sent,
                                                WACHAT_CONV_NKEYS, &a),
                           1, peek);

    *recorded = r && peek->state != WACHAT_PEEK_LOST
                && r->element[0]->type == REDIS_REPLY_INTEGER
                && r->element[0]->integer == 1;

    return r;
}


int
wachat_script_drop(wachat_redis_t *st, const wachat_conv_ref_t *ref,
    const char *head, size_t head_len, const char *hist, long code,
    long long now)
{
    int             rc;
    redisReply     *r;
    wachat_args_t   a;

    wachat_args_conv(&a, ref);
    wachat_args_conv_argv(&a, ref, 0);
    wachat_args_bytes(&a, head, head_len);
    wachat_args_str(&a, hist);
    wachat_args_int(&a, code);
    wachat_args_int(&a, now);

    r = wachat_args_eval(st, &wachat_lua_drop, WACHAT_CONV_NKEYS, &a);

    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        if (r) {
            snprintf(st->err, sizeof(st->err), "%s",
                     r->type == REDIS_REPLY_ERROR ? r->str
                                                  : "unexpected reply");
        }
        freeReplyObject(r);
        return -2;
    }

    rc = (int) r->integer;
    freeReplyObject(r);

    return rc;
}


void
wachat_script_release(wachat_redis_t *st, const wachat_conv_ref_t *ref)
{
    wachat_args_t  a;

    wachat_args_conv(&a, ref);
    wachat_args_conv_argv(&a, ref, 0);

    freeReplyObject(wachat_args_eval(st, &wachat_lua_release,
                                     WACHAT_CONV_NKEYS, &a));
}


int
wachat_script_transfer(wachat_redis_t *st, const char *stream,
    const char *group, size_t n, const char **ids, const char **convs,
    const int *message, const redisReply **fields)
{
    int            rc;
    size_t         i, k, argc;
    redisReply    *r;
    const char   **argv;
    size_t        *argvlen;
    char         (*inbox)[WACHAT_KEY_MAX];

    argc = 3 + n + 1 + 3 * n;
    argv = malloc(argc * sizeof(char *));
    argvlen = malloc(argc * sizeof(size_t));
    inbox = malloc((n ? n : 1) * sizeof(*inbox));

    if (argv == NULL || argvlen == NULL || inbox == NULL) {
        free(argv);
        free(argvlen);
        free(inbox);
        snprintf(st->err, sizeof(st->err), "out of memory");
        return -1;
    }

    argv[0] = stream;
    argv[1] = WACHAT_KEY_READY;
    argv[2] = WACHAT_KEY_CONVS;
    argv[3 + n] = group;

    for (i = 0; i < n; i++) {
        if (convs[i]) {
            wachat_store_key_inbox(inbox[i], convs[i]);
            argv[3 + i] = inbox[i];

        } else {
            argv[3 + i] = stream;       /* a key slot nobody writes */
        }

        argv[4 + n + 3 * i] = ids[i];
        argv[5 + n + 3 * i] = convs[i] ? convs[i] : "";
        argv[6 + n + 3 * i] = message[i] ? "1" : "0";
    }

    for (i = 0; i < argc; i++) {
        argvlen[i] = strlen(argv[i]);
    }

    r = wachat_redis_eval(st, &wachat_lua_transfer, (int) (3 + n),
                          (int) argc, argv, argvlen);

    rc = (r && r->type == REDIS_REPLY_ARRAY) ? 0 : -1;

    if (rc != 0 && r) {
        snprintf(st->err, sizeof(st->err), "%s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    }

    for (k = 0; rc == 0 && k < r->elements; k++) {
        i = r->element[k]->type == REDIS_REPLY_INTEGER
            ? (size_t) r->element[k]->integer - 1 : n;

        if (i < n) {
            rc = wachat_script_transfer_one(st, stream, group, ids[i],
                                            convs[i], inbox[i], message[i],
                                            fields[i]);
        }
    }

    freeReplyObject(r);
    free(argv);
    free(argvlen);
    free(inbox);

    return rc;
}


/* an entry deleted since it was read: the fields come from the read */
static int
wachat_script_transfer_one(wachat_redis_t *st, const char *stream,
    const char *group, const char *id, const char *conv, const char *inbox,
    int message, const redisReply *fields)
{
    int                rc;
    size_t             i, argc;
    redisReply        *r;
    const char       **argv;
    size_t            *argvlen;
    const redisReply  *f;

    argc = 8 + (fields ? fields->elements : 0);
    argv = malloc(argc * sizeof(char *));
    argvlen = malloc(argc * sizeof(size_t));

    if (argv == NULL || argvlen == NULL) {
        free(argv);
        free(argvlen);
        snprintf(st->err, sizeof(st->err), "out of memory");
        return -1;
    }

    argv[0] = stream;
    argv[1] = WACHAT_KEY_READY;
    argv[2] = WACHAT_KEY_CONVS;
    argv[3] = inbox;
    argv[4] = group;
    argv[5] = id;
    argv[6] = conv;
    argv[7] = message ? "1" : "0";

    for (i = 0; i < 8; i++) {
        argvlen[i] = strlen(argv[i]);
    }

    for (i = 0; fields && i < fields->elements; i++) {
        f = fields->element[i];
        argv[8 + i] = f->type == REDIS_REPLY_STRING ? f->str : "";
        argvlen[8 + i] = f->type == REDIS_REPLY_STRING ? f->len : 0;
    }

    r = wachat_redis_eval(st, &wachat_lua_transfer_one, 4, (int) argc, argv,
                          argvlen);

    rc = (r && r->type == REDIS_REPLY_INTEGER) ? 0 : -1;

    if (rc != 0 && r) {
        snprintf(st->err, sizeof(st->err), "%s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    }

    freeReplyObject(r);
    free(argv);
    free(argvlen);

    return rc;
}
