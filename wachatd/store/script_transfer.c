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
