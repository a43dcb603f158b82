/*
 * stream_batch: what the reader read, into the conversations' inboxes by
 * one transfer script, and what belongs to none set aside; one batch at a
 * time, whether read anew or reclaimed.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conversation/event.h"
#include "lib/log.h"
#include "conversation/stream_int.h"


#define WACHAT_SIDE_MAXLEN    "10000"
#define WACHAT_KEY_PARKED     "wachat:parked"   /* unknown contract versions */
#define WACHAT_KEY_OTHER      "wachat:other"    /* kind=other, for operators */


typedef struct wachat_stream_batch_s  wachat_stream_batch_t;

static void wachat_stream_moved(wachat_stream_t *s,
    const wachat_stream_batch_t *b, size_t i);
static int wachat_stream_transfer_batch(wachat_stream_t *s,
    const wachat_stream_batch_t *b);
static int wachat_stream_one_by_one(wachat_stream_t *s,
    const wachat_stream_batch_t *b, const wachat_transfer_t *t);
static int wachat_stream_park_deleted(wachat_stream_t *s,
    wachat_event_t *ev, const char *id);
static int wachat_stream_refused(wachat_stream_t *s,
    const wachat_stream_batch_t *b, size_t i);
static int wachat_stream_set_aside(wachat_stream_t *s,
    const wachat_event_t *ev, const redisReply *fields);
static int wachat_stream_side_fields(const char **argv, size_t *argvlen,
    int argc, const wachat_event_t *ev, const char *reason,
    const redisReply *fields);


/*
 * A batch of read entries: each is decoded once, to find its
 * conversation; the ones that belong to none are set aside first; then one
 * script moves the batch into the inboxes, acknowledges it and takes the
 * conversations nobody holds (their first step comes with them).  An entry
 * that fails (cannot be read or set aside) stays pending alone, the rest
 * go on; the reclaim timer brings it back.
 *
 * When the script itself fails on one entry's keys (a key of the wrong
 * type), the batch is transferred again one entry at a time, and the
 * entry whose own transfer fails is parked with the error, so that
 * neither the batch's other customers nor the log wait on it for ever.
 * A failure of Redis rather than of the data (down, loading, a replica,
 * out of memory, a WAIT short) parks nothing: the batch stays pending.
 */

#define WACHAT_SIDE_ARGS  (10 + 2 * 32)

/*
 * KEYS parked stream ready convs; ARGV group id maxlen, then the parked
 * entry's field, value, ...  Parks the entry and acknowledges it, once:
 * 1; 0 when it is no longer pending (its transfer got as far as the
 * inbox).  A key every transfer writes that holds the wrong type is no
 * entry's fault: nothing is parked and the key is named.
 */
static wachat_lua_t  wachat_lua_park = wachat_lua_replicated(
    "local function wrong(key, want)\n"
    "  local t = redis.call('TYPE', key).ok\n"
    "  if t ~= want and t ~= 'none' then\n"
    "    return key .. ' holds a ' .. t .. ', not a ' .. want\n"
    "  end\n"
    "end\n"
    "local shared = wrong(KEYS[3], 'set') or wrong(KEYS[4], 'zset')\n"
    "if shared then return shared end\n"
    "if #redis.call('XPENDING', KEYS[2], ARGV[1], ARGV[2], ARGV[2], 1) == 0\n"
    "then\n"
    "  return 0\n"
    "end\n"
    "redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*',\n"
    "           unpack(ARGV, 4))\n"
    "redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])\n"
    "return 1\n");

struct wachat_stream_batch_s {
    size_t               n;
    wachat_event_t      *ev;
    const char         **ids;
    const char         **convs;
    int                 *message;
    const redisReply   **fields;
};


static int
wachat_stream_batch_add(wachat_stream_t *s, wachat_stream_batch_t *b,
    const redisReply *e)
{
    wachat_event_t  *ev = &b->ev[b->n];

    /*
     * Read again by id (this consumer's pending entries), an entry deleted
     * since comes without fields: set aside, then acknowledged (no
     * conversation) with the batch, as XAUTOCLAIM's deleted ids are.
     */
    if (e->type == REDIS_REPLY_ARRAY && e->elements == 2
        && e->element[0]->type == REDIS_REPLY_STRING
        && e->element[1]->type == REDIS_REPLY_NIL)
    {
        if (wachat_stream_park_deleted(s, ev, e->element[0]->str) != 0) {
            return -1;
        }

        b->ids[b->n] = ev->stream_id;
        b->convs[b->n] = NULL;
        b->message[b->n] = 0;
        b->fields[b->n] = NULL;
        b->n++;

        return 0;
    }

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
        || e->element[0]->type != REDIS_REPLY_STRING
        || wachat_event_decode(ev, e->element[0]->str, e->element[1]) != 0)
    {
        wachat_log(WACHAT_LOG_WARNING, "stream: transfer failed: "
                   "malformed entry");
        return -1;
    }

    if (ev->conv_id[0] == '\0'
        && wachat_stream_set_aside(s, ev, e->element[1]) != 0)
    {
        wachat_log(WACHAT_LOG_WARNING, "stream: transfer of %s failed: %s",
                   ev->stream_id, s->store->err);
        return -1;
    }

    b->ids[b->n] = ev->stream_id;
    b->convs[b->n] = ev->conv_id[0] ? ev->conv_id : NULL;
    b->message[b->n] = ev->kind == WACHAT_KIND_MESSAGE;
    b->fields[b->n] = e->element[1];
    b->n++;

    return 0;
}


/* entry i sits in its conversation's inbox (or, set aside, nowhere) */
static void
wachat_stream_moved(wachat_stream_t *s, const wachat_stream_batch_t *b,
    size_t i)
{
    if (b->convs[i]) {
        s->stats.transferred++;
        s->conf.work(s->conf.data, b->convs[i]);

    } else {
        s->stats.ignored++;
    }
}


/*
 * The batch t failed on its data: each entry again, alone, in order; the
 * ones the failed run moved already (no longer pending) are not sent
 * again.  A failure of Redis stops it: the rest stays pending.
 */
static int
wachat_stream_one_by_one(wachat_stream_t *s, const wachat_stream_batch_t *b,
    const wachat_transfer_t *t)
{
    int                 rc;
    size_t              i;
    wachat_transfer_t   one;

    for (i = 0; i < b->n; i++) {
        rc = wachat_stream_is_pending(s, b->ids[i]);

        if (rc == 0) {
            wachat_stream_moved(s, b, i);
            continue;
        }

        if (rc == 1) {
            one = *t;
            one.n = 1;
            one.ids = &b->ids[i];
            one.convs = &b->convs[i];
            one.message = &b->message[i];
            one.fields = &b->fields[i];

            rc = wachat_script_transfer(s->store, &one, s->conf.take,
                                        s->conf.data);
        }

        if (rc == 0) {
            wachat_stream_moved(s, b, i);
            continue;
        }

        if (rc == WACHAT_TRANSFER_REFUSED) {
            if (wachat_stream_refused(s, b, i) == 0) {
                continue;
            }

        } else {
            wachat_log(WACHAT_LOG_WARNING, "stream: transfer failed: %s",
                       s->store->err);
        }

        return -1;  /* this entry and the rest stay pending */
    }

    return 0;
}


/*
 * Entry i's own transfer failed on its data (st->err): parked with the
 * error as its reason, and acknowledged.  -1 when it could not be (the
 * rest of the batch then waits with it: a failure of Redis, or a key
 * every transfer writes).
 */
static int
wachat_stream_refused(wachat_stream_t *s, const wachat_stream_batch_t *b,
    size_t i)
{
    int                   argc;
    size_t                k;
    redisReply           *r;
    const char           *argv[7 + WACHAT_SIDE_ARGS];
    size_t                argvlen[7 + WACHAT_SIDE_ARGS];
    char                  reason[sizeof(s->store->err)];
    const wachat_event_t *ev = &b->ev[i];

    snprintf(reason, sizeof(reason), "%s", s->store->err);

    argv[0] = WACHAT_KEY_PARKED;
    argv[1] = s->conf.stream;
    argv[2] = WACHAT_KEY_READY;
    argv[3] = WACHAT_KEY_CONVS;
    argv[4] = s->conf.group;
    argv[5] = ev->stream_id;
    argv[6] = WACHAT_SIDE_MAXLEN;

    for (k = 0; k < 7; k++) {
        argvlen[k] = strlen(argv[k]);
    }

    argc = wachat_stream_side_fields(argv, argvlen, 7, ev, reason,
                                     b->fields[i]);

    r = wachat_redis_eval(s->store, &wachat_lua_park, 4, argc, argv,
                          argvlen);

    if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
        s->stats.parked++;
        wachat_log(WACHAT_LOG_WARNING, "stream: event %s of conversation "
                   "%s parked in %s, its own transfer failed: %s",
                   ev->stream_id, ev->conv_id[0] ? ev->conv_id : "(none)",
                   WACHAT_KEY_PARKED, reason);
        freeReplyObject(r);
        return 0;
    }

    if (r && r->type == REDIS_REPLY_INTEGER) {
        /* it reached the inbox before the script failed: not parked too */
        wachat_log(WACHAT_LOG_WARNING, "stream: event %s of conversation "
                   "%s is in its inbox, but its transfer failed: %s",
                   ev->stream_id, ev->conv_id, reason);
        wachat_stream_moved(s, b, i);
        freeReplyObject(r);
        return 0;
    }

    if (r && r->type == REDIS_REPLY_STRING) {
        wachat_log(WACHAT_LOG_ERROR, "stream: transfer failed: %s: %s; no "
                   "event can be transferred until it is fixed", reason,
                   r->str);

    } else {
        if (r) {
            snprintf(s->store->err, sizeof(s->store->err), "%s",
                     r->type == REDIS_REPLY_ERROR ? r->str
                                                  : "unexpected reply");
        }

        wachat_log(WACHAT_LOG_WARNING, "stream: event %s of conversation %s: "
                   "its transfer failed: %s; parking it failed: %s",
                   ev->stream_id, ev->conv_id, reason, s->store->err);
    }

    freeReplyObject(r);

    return -1;
}


int
wachat_stream_entries(wachat_stream_t *s, const redisReply *entries)
{
    int                     rc;
    size_t                  i, n;
    wachat_stream_batch_t   b;

    if (entries->type != REDIS_REPLY_ARRAY || entries->elements == 0) {
        return 0;
    }

    n = entries->elements;
    b.n = 0;
    b.ev = malloc(n * sizeof(wachat_event_t));
    b.ids = malloc(n * sizeof(char *));
    b.convs = malloc(n * sizeof(char *));
    b.message = malloc(n * sizeof(int));
    b.fields = malloc(n * sizeof(redisReply *));

    if (b.ev == NULL || b.ids == NULL || b.convs == NULL || b.message == NULL
        || b.fields == NULL)
    {
        wachat_log(WACHAT_LOG_WARNING, "stream: transfer failed: out of "
                   "memory");
        rc = -1;
        goto done;
    }

    for (i = 0; i < n; i++) {
        s->stats.read++;
        (void) wachat_stream_batch_add(s, &b, entries->element[i]);
    }

    rc = b.n ? wachat_stream_transfer_batch(s, &b) : 0;

done:

    free(b.ev);
    free(b.ids);
    free(b.convs);
    free(b.message);
    free(b.fields);

    return rc;
}


/*
 * The batch read, in one TRANSFER; on a refusal by the data, each entry
 * alone.  0, or -1 when some stay pending (what wachat_stream_entries
 * says).
 */
static int
wachat_stream_transfer_batch(wachat_stream_t *s, const wachat_stream_batch_t *b)
{
    int                 rc;
    size_t              i;
    wachat_transfer_t   t;

    t.stream = s->conf.stream;
    t.group = s->conf.group;
    t.owner = s->conf.consumer;
    t.lease_ms = s->conf.lease_ms;
    memset(&t.limits, 0, sizeof(wachat_limits_t));
    if (s->conf.limits) {
        t.limits = *s->conf.limits;
    }
    t.n = b->n;
    t.ids = b->ids;
    t.convs = b->convs;
    t.message = b->message;
    t.fields = b->fields;
    t.confirmed = &s->stats.confirmed;

    rc = wachat_script_transfer(s->store, &t, s->conf.take, s->conf.data);

    if (rc == WACHAT_TRANSFER_REFUSED && b->n > 1) {
        wachat_log(WACHAT_LOG_WARNING, "stream: transfer of %zu events "
                   "failed, transferring them one by one: %s", b->n,
                   s->store->err);
        return wachat_stream_one_by_one(s, b, &t);
    }

    if (rc == WACHAT_TRANSFER_REFUSED) {
        return wachat_stream_refused(s, b, 0) == 0 ? 0 : -1;
    }

    if (rc != 0) {
        wachat_log(WACHAT_LOG_WARNING, "stream: transfer failed: %s",
                   s->store->err);
        return -1;
    }

    for (i = 0; i < b->n; i++) {
        wachat_stream_moved(s, b, i);
    }

    return 0;
}


void
wachat_stream_deleted(wachat_stream_t *s, const redisReply *ids)
{
    size_t           i;
    wachat_event_t   ev;

    for (i = 0; ids->type == REDIS_REPLY_ARRAY && i < ids->elements; i++) {
        if (ids->element[i]->type == REDIS_REPLY_STRING) {
            (void) wachat_stream_park_deleted(s, &ev, ids->element[i]->str);
        }
    }
}


/* an entry deleted from the stream while pending: parked with its id, why */
static int
wachat_stream_park_deleted(wachat_stream_t *s, wachat_event_t *ev,
    const char *id)
{
    if (wachat_event_decode(ev, id, NULL) != 0) {
        return -1;
    }

    ev->refused = "deleted from the stream while pending";

    if (wachat_stream_set_aside(s, ev, NULL) != 0) {
        wachat_log(WACHAT_LOG_WARNING, "stream: event %s was deleted from "
                   "the stream while pending and could not be set aside: %s",
                   ev->stream_id, s->store->err);
        return -1;
    }

    return 0;
}


/*
 * A contract version this wachatd does not know (a newer module during a
 * rolling upgrade) is parked, not lost; kind=other (account updates,
 * unexpected shapes) has nothing to answer and is kept for operators.
 * Either way the copy comes before the acknowledgement.
 */

static int
wachat_stream_set_aside(wachat_stream_t *s, const wachat_event_t *ev,
    const redisReply *fields)
{
    int           argc, rc;
    size_t        i;
    redisReply   *r;
    const char   *key, *v, *kind, *type;
    const char   *argv[6 + WACHAT_SIDE_ARGS];
    size_t        argvlen[6 + WACHAT_SIDE_ARGS];

    key = ev->known ? WACHAT_KEY_OTHER : WACHAT_KEY_PARKED;

    argv[0] = "XADD";
    argv[1] = key;
    argv[2] = "MAXLEN";
    argv[3] = "~";
    argv[4] = WACHAT_SIDE_MAXLEN;
    argv[5] = "*";

    for (i = 0; i < 6; i++) {
        argvlen[i] = strlen(argv[i]);
    }

    argc = wachat_stream_side_fields(argv, argvlen, 6, ev, ev->refused,
                                     fields);

    r = wachat_redis_argv(s->store, argc, argv, argvlen);
    rc = (r && r->type == REDIS_REPLY_STRING) ? 0 : -1;

    if (rc == 0) {
        v = wachat_event_str(ev, V);
        kind = wachat_event_str(ev, KIND);
        type = wachat_event_str(ev, TYPE);

        wachat_log(ev->known && ev->refused == NULL ? WACHAT_LOG_NOTICE
                                                    : WACHAT_LOG_WARNING,
                   "stream: %s event %s (v=%s, type=%s) is not for a "
                   "conversation%s%s: kept in %s", kind ? kind : "?",
                   ev->stream_id, v ? v : "?", type ? type : "?",
                   ev->refused ? ", " : "",
                   ev->refused ? ev->refused : "", key);
    }

    freeReplyObject(r);

    return rc;
}


/*
 * An entry set aside: "event" its id, "reason" (if any), then its own
 * fields as read, after the argc arguments already in argv (which has room
 * for WACHAT_SIDE_ARGS more).  Returns the new argc.
 */
static int
wachat_stream_side_fields(const char **argv, size_t *argvlen, int argc,
    const wachat_event_t *ev, const char *reason, const redisReply *fields)
{
    int     max;
    size_t  i;

    max = argc + WACHAT_SIDE_ARGS;

    argv[argc] = "event";
    argvlen[argc++] = 5;
    argv[argc] = ev->stream_id;
    argvlen[argc++] = strlen(ev->stream_id);

    if (reason) {
        argv[argc] = "reason";
        argvlen[argc++] = 6;
        argv[argc] = reason;
        argvlen[argc++] = strlen(reason);
    }

    for (i = 0; fields && fields->type == REDIS_REPLY_ARRAY
                && i + 1 < fields->elements && argc + 2 <= max;
         i += 2)
    {
        if (fields->element[i]->type != REDIS_REPLY_STRING
            || fields->element[i + 1]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        argv[argc] = fields->element[i]->str;
        argvlen[argc++] = fields->element[i]->len;
        argv[argc] = fields->element[i + 1]->str;
        argvlen[argc++] = fields->element[i + 1]->len;
    }

    return argc;
}
