/*
 * script_transfer: read stream entries into their conversations' inboxes
 * (TRANSFER, TRANSFER_ONE).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/scripts_int.h"


static int wachat_script_transfer_one(wachat_redis_t *st, const char *stream,
    const char *group, const char *id, const char *conv, const char *inbox,
    int message, const redisReply *fields);


/*
 * KEYS stream ready convs, then six per event: its inbox, and its
 * conversation's lease, outq, rate bucket, hash and statuses; ARGV group owner
 * lease-ms rate answers-per-min answers-burst, then per event: id,
 * conversation ('' = acknowledge only), counts as activity.  The inbox
 * first, the acknowledgement second, in one atomic step; a transfer done
 * twice (a reclaimed entry) adds the same member again, a no-op.  Members sort by stream id: the score is the id's
 * milliseconds and the member starts with the zero-padded id, so ties sort
 * right too.
 *
 * The fields are read here rather than sent back; an entry deleted since it
 * was read (MAXLEN trimmed it) is left pending and its index returned: the
 * caller transfers it with the fields it read (TRANSFER_ONE).
 *
 * A status that echoes the tag of the reply at the head of its
 * conversation's queue (WACHAT_SEND_TAG and the reply's history id, in
 * biz_opaque_callback_data) says Meta accepted that reply: it is recorded
 * as sent here, as SENT would have, whoever holds the lease.  So a reply
 * whose send's own answer was lost (a timeout, a consumer killed before
 * its record) is not sent again once Meta's status has come: the holder
 * re-peeks before a retry, and a successor takes the conversation only
 * after the dead one's lease (60 s), by when the status has come.  The
 * send's own record, if it comes later, finds another head and does
 * nothing.  (An entry trimmed from the stream before its transfer,
 * TRANSFER_ONE, is not looked at: its status records nothing.)
 *
 * A conversation of the batch that nobody holds is taken for this
 * consumer here, with the peek of its first step: {missing, {index, peek,
 * ...}, {index, history id, ...} of the replies recorded from statuses}.
 * The others are left to whoever holds them.
 */
#define WACHAT_LUA_CONFIRM                                                  \
    "local function confirm(outq, conv, st, f)\n"                           \
    "  local kind, id, raw\n"                                               \
    "  for j = 1, #f - 1, 2 do\n"                                           \
    "    if f[j] == 'kind' then kind = f[j + 1]\n"                          \
    "    elseif f[j] == 'id' then id = f[j + 1]\n"                          \
    "    elseif f[j] == 'raw' then raw = f[j + 1] end\n"                    \
    "  end\n"                                                               \
    "  if kind ~= '" WACHAT_KIND_NAME_STATUS "' or not id or not raw\n"     \
    "     or not string.find(raw, '\"" WACHAT_SEND_TAG "', 1, true) then\n" \
    "    return\n"                                                          \
    "  end\n"                                                               \
    "  local ok, s = pcall(cjson.decode, raw)\n"                            \
    "  local tag = ok and type(s) == 'table' and s.biz_opaque_callback_data\n"\
    "  local hist = type(tag) == 'string'\n"                                \
    "               and string.match(tag, '^" WACHAT_SEND_TAG "(%d+%-%d+)$')\n"\
    "  if not hist then return end\n"                                       \
    "  local head = redis.pcall('LINDEX', outq, 0)\n"                       \
    "  if type(head) ~= 'string' then return end\n"                         \
    "  local rok, rec = pcall(cjson.decode, head)\n"                        \
    "  if not rok or type(rec) ~= 'table' or rec.hist ~= hist then return end\n"\
    "  record_sent(outq, st, conv, id, hist, tostring(clock()))\n"         \
    "  return hist\n"                                                       \
    "end\n"
#define WACHAT_LUA_INBOX                                                    \
    "local function inbox(key, id, conv, msg, fields)\n"                    \
    "  local ms, seq = string.match(id, '^(%d+)%-(%d+)$')\n"                \
    "  if not ms then return end\n"                                         \
    "  local function pad(s) return string.rep('0', 20 - #s) .. s end\n"    \
    "  redis.call('ZADD', key, 'NX', ms,\n"                                 \
    "             pad(ms) .. '-' .. pad(seq) .. '\\n'\n"                   \
    "             .. cmsgpack.pack(fields))\n"                              \
    "  redis.call('SADD', KEYS[2], conv)\n"                                 \
    "  if msg == '1' then redis.call('ZADD', KEYS[3], ms, conv) end\n"      \
    "end\n"

static wachat_lua_t  wachat_lua_transfer = wachat_lua_replicated(
    WACHAT_LUA_PEEK
    WACHAT_LUA_INBOX
    WACHAT_LUA_RECORD_SENT
    WACHAT_LUA_CONFIRM
    "local missing, taken, seen, sent = {}, {}, {}, {}\n"
    "local n = (#ARGV - 6) / 3\n"
    "for i = 1, n do\n"
    "  local id, conv = ARGV[3 * i + 4], ARGV[3 * i + 5]\n"
    "  local e = conv ~= '' and redis.call('XRANGE', KEYS[1], id, id)[1]\n"
    "  if conv ~= '' and not e then\n"
    "    missing[#missing + 1] = i\n"
    "  else\n"
    "    if e then\n"
    "      inbox(KEYS[6 * i - 2], id, conv, ARGV[3 * i + 6], e[2])\n"
    "      local hist = confirm(KEYS[6 * i], KEYS[6 * i + 2],\n"
    "                           KEYS[6 * i + 3], e[2])\n"
    "      if hist then sent[#sent + 1] = i; sent[#sent + 1] = hist end\n"
    "    end\n"
    "    redis.call('XACK', KEYS[1], ARGV[1], id)\n"
    "  end\n"
    "end\n"
    "for i = 1, n do\n"
    "  local conv = ARGV[3 * i + 5]\n"
    "  if conv ~= '' and not seen[conv] then\n"
    "    seen[conv] = true\n"
    "    if not redis.call('GET', KEYS[6 * i - 1]) then\n"
    "      PK = {KEYS[6 * i - 1], KEYS[6 * i], KEYS[6 * i - 2],\n"
    "            KEYS[6 * i + 2], false, false, KEYS[2], KEYS[1], false,\n"
    "            KEYS[6 * i + 1]}\n"
    "      PA = {ARGV[2], ARGV[3], ARGV[1], conv, ARGV[4], ARGV[5],\n"
    "            ARGV[6]}\n"
    "      taken[#taken + 1] = i\n"
    "      taken[#taken + 1] = peek()\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return {missing, taken, sent}\n");


/* KEYS stream ready convs inbox; ARGV group id conv activity field value.. */
static wachat_lua_t  wachat_lua_transfer_one = wachat_lua_replicated(
    WACHAT_LUA_INBOX
    "local fields = {}\n"
    "for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end\n"
    "inbox(KEYS[4], ARGV[2], ARGV[3], ARGV[4], fields)\n"
    "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])\n"
    "return 1\n");


/*
 * The keys of one event: its inbox, its conversation's lease, outq, the
 * number's bucket, the conversation hash (the customer's bucket) and its
 * statuses.
 */
#define WACHAT_TRANSFER_NKEYS  6     /* per event */

typedef struct {
    char  inbox[WACHAT_KEY_MAX];
    char  lease[WACHAT_KEY_MAX];
    char  outq[WACHAT_KEY_MAX];
    char  rate[WACHAT_KEY_MAX];
    char  conv[WACHAT_KEY_MAX];
    char  status[WACHAT_KEY_MAX];
} wachat_transfer_keys_t;


static void
wachat_transfer_keys(wachat_transfer_keys_t *k, const char *conv)
{
    wachat_store_key_inbox(k->inbox, conv);
    wachat_store_key_lease(k->lease, conv);
    wachat_store_key_outq(k->outq, conv);
    wachat_store_key_rate(k->rate, conv);
    wachat_store_key_conv(k->conv, conv);
    wachat_store_key_status(k->status, conv);
}


/* the script's 1-based event number as an index into t; n if it is none */
static size_t
wachat_transfer_index(const redisReply *r, size_t n)
{
    return r->type == REDIS_REPLY_INTEGER && r->integer >= 1
           && (size_t) r->integer <= n ? (size_t) r->integer - 1 : n;
}


/* a transfer's reply r: 0 to be read, or why not (into st->err) */
static int
wachat_transfer_refused(wachat_redis_t *st, const redisReply *r)
{
    if (r == NULL) {
        return -1;
    }

    if (r->type != REDIS_REPLY_ERROR) {
        return 0;
    }

    wachat_script_failed(st, r);

    return wachat_redis_script_error(r) ? WACHAT_TRANSFER_REFUSED : -1;
}


/* the events, and (in taken) what the script took for this consumer */
static int
wachat_transfer_done(wachat_redis_t *st, const wachat_transfer_t *t,
    const wachat_transfer_keys_t *keys, redisReply *r,
    wachat_transfer_take_pt take, void *data)
{
    int           rc;
    size_t        k, i;
    redisReply   *missing, *taken, *sent;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3
        || r->element[0]->type != REDIS_REPLY_ARRAY
        || r->element[1]->type != REDIS_REPLY_ARRAY
        || r->element[2]->type != REDIS_REPLY_ARRAY)
    {
        wachat_script_failed(st, r);
        return -1;
    }

    missing = r->element[0];
    taken = r->element[1];
    sent = r->element[2];
    rc = 0;

    for (k = 0; k + 1 < sent->elements; k += 2) {
        i = wachat_transfer_index(sent->element[k], t->n);

        if (i < t->n && t->convs[i]
            && sent->element[k + 1]->type == REDIS_REPLY_STRING)
        {
            if (t->confirmed) {
                (*t->confirmed)++;
            }

            wachat_log(WACHAT_LOG_NOTICE, "conversation %s: reply %s "
                       "recorded as sent from Meta's status, before its "
                       "send's own answer (lost, or not back yet): it is not "
                       "sent again", t->convs[i], sent->element[k + 1]->str);
        }
    }

    for (k = 0; rc == 0 && k < missing->elements; k++) {
        i = wachat_transfer_index(missing->element[k], t->n);

        if (i < t->n) {
            rc = wachat_script_transfer_one(st, t->stream, t->group,
                                            t->ids[i], t->convs[i],
                                            keys[i].inbox, t->message[i],
                                            t->fields[i]);
        }
    }

    /* each peek is handed over: detached from the reply, the taker's */
    for (k = 0; k + 1 < taken->elements; k += 2) {
        i = wachat_transfer_index(taken->element[k], t->n);

        if (i < t->n && t->convs[i]) {
            take(data, t->convs[i], taken->element[k + 1]);
            taken->element[k + 1] = NULL;
        }
    }

    return rc;
}


int
wachat_script_transfer(wachat_redis_t *st, const wachat_transfer_t *t,
    wachat_transfer_take_pt take, void *data)
{
    int                       rc;
    size_t                    i, k, argc, nkeys;
    redisReply               *r;
    const char              **argv;
    size_t                   *argvlen;
    wachat_transfer_keys_t   *keys;
    char                      lease[32], rate[32], per[32], burst[32];

    nkeys = 3 + WACHAT_TRANSFER_NKEYS * t->n;
    argc = nkeys + 6 + 3 * t->n;
    argv = malloc(argc * sizeof(char *));
    argvlen = malloc(argc * sizeof(size_t));
    keys = malloc((t->n ? t->n : 1) * sizeof(wachat_transfer_keys_t));

    if (argv == NULL || argvlen == NULL || keys == NULL) {
        free(argv);
        free(argvlen);
        free(keys);
        snprintf(st->err, sizeof(st->err), "out of memory");
        return -1;
    }

    snprintf(lease, sizeof(lease), "%d", t->lease_ms);
    snprintf(rate, sizeof(rate), "%d",
             t->limits.rate_per_s > 0 ? t->limits.rate_per_s : 0);
    snprintf(per, sizeof(per), "%d",
             t->limits.answers_per_min > 0 ? t->limits.answers_per_min : 0);
    snprintf(burst, sizeof(burst), "%d",
             t->limits.answers_burst > 0 ? t->limits.answers_burst : 1);

    argv[0] = t->stream;
    argv[1] = WACHAT_KEY_READY;
    argv[2] = WACHAT_KEY_CONVS;
    argv[nkeys] = t->group;
    argv[nkeys + 1] = t->owner;
    argv[nkeys + 2] = lease;
    argv[nkeys + 3] = rate;
    argv[nkeys + 4] = per;
    argv[nkeys + 5] = burst;

    for (i = 0; i < t->n; i++) {
        if (t->convs[i]) {
            wachat_transfer_keys(&keys[i], t->convs[i]);
            argv[3 + WACHAT_TRANSFER_NKEYS * i] = keys[i].inbox;
            argv[4 + WACHAT_TRANSFER_NKEYS * i] = keys[i].lease;
            argv[5 + WACHAT_TRANSFER_NKEYS * i] = keys[i].outq;
            argv[6 + WACHAT_TRANSFER_NKEYS * i] = keys[i].rate;
            argv[7 + WACHAT_TRANSFER_NKEYS * i] = keys[i].conv;
            argv[8 + WACHAT_TRANSFER_NKEYS * i] = keys[i].status;

        } else {
            /* key slots nobody writes */
            for (k = 0; k < WACHAT_TRANSFER_NKEYS; k++) {
                argv[3 + WACHAT_TRANSFER_NKEYS * i + k] = t->stream;
            }
        }

        argv[nkeys + 6 + 3 * i] = t->ids[i];
        argv[nkeys + 7 + 3 * i] = t->convs[i] ? t->convs[i] : "";
        argv[nkeys + 8 + 3 * i] = t->message[i] ? "1" : "0";
    }

    for (i = 0; i < argc; i++) {
        argvlen[i] = strlen(argv[i]);
    }

    r = wachat_redis_eval(st, &wachat_lua_transfer, (int) nkeys, (int) argc,
                          argv, argvlen);

    rc = wachat_transfer_refused(st, r);

    if (rc == 0) {
        rc = wachat_transfer_done(st, t, keys, r, take, data);
    }

    freeReplyObject(r);
    free(argv);
    free(argvlen);
    free(keys);

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

    rc = wachat_transfer_refused(st, r);

    if (rc == 0 && r->type != REDIS_REPLY_INTEGER) {
        wachat_script_failed(st, r);
        rc = -1;
    }

    freeReplyObject(r);
    free(argv);
    free(argvlen);

    return rc;
}
