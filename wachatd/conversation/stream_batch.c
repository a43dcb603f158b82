/*
 * stream_batch: what the reader read, into the conversations' inboxes by
 * one transfer script, and what belongs to none set aside; one batch at a
 * time, whether read anew or reclaimed.
 */

#include <stdlib.h>
#include <string.h>

#include "conversation/event.h"
#include "lib/log.h"
#include "conversation/stream_int.h"


#define WACHAT_SIDE_MAXLEN    "10000"
#define WACHAT_KEY_PARKED     "wachat:parked"   /* unknown contract versions */
#define WACHAT_KEY_OTHER      "wachat:other"    /* kind=other, for operators */


static int wachat_stream_set_aside(wachat_stream_t *s,
    const wachat_event_t *ev, const redisReply *fields);


/*
 * A batch of read entries: each is decoded once, to find its
 * conversation; the ones that belong to none are set aside first; then one
 * script moves the batch into the inboxes, acknowledges it and takes the
 * conversations nobody holds (their first step comes with them).  An entry
 * that fails (cannot be read or set aside) stays pending alone, the rest
 * go on; the reclaim timer brings it back.
 */

typedef struct {
    size_t               n;
    wachat_event_t      *ev;
    const char         **ids;
    const char         **convs;
    int                 *message;
    const redisReply   **fields;
} wachat_stream_batch_t;


static int
wachat_stream_batch_add(wachat_stream_t *s, wachat_stream_batch_t *b,
    const redisReply *e)
{
    wachat_event_t  *ev = &b->ev[b->n];

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


void
wachat_stream_entries(wachat_stream_t *s, const redisReply *entries)
{
    size_t                  i, n;
    wachat_transfer_t       t;
    wachat_stream_batch_t   b;

    if (entries->type != REDIS_REPLY_ARRAY || entries->elements == 0) {
        return;
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
        goto done;
    }

    for (i = 0; i < n; i++) {
        s->stats.read++;
        (void) wachat_stream_batch_add(s, &b, entries->element[i]);
    }

    t.stream = s->conf.stream;
    t.group = s->conf.group;
    t.owner = s->conf.consumer;
    t.lease_ms = s->conf.lease_ms;
    memset(&t.limits, 0, sizeof(wachat_limits_t));
    if (s->conf.limits) {
        t.limits = *s->conf.limits;
    }
    t.n = b.n;
    t.ids = b.ids;
    t.convs = b.convs;
    t.message = b.message;
    t.fields = b.fields;

    if (b.n == 0
        || wachat_script_transfer(s->store, &t, s->conf.take, s->conf.data)
           != 0)
    {
        if (b.n) {
            wachat_log(WACHAT_LOG_WARNING, "stream: transfer failed: %s",
                       s->store->err);
        }
        goto done;
    }

    for (i = 0; i < b.n; i++) {
        if (b.convs[i]) {
            s->stats.transferred++;
            s->conf.work(s->conf.data, b.convs[i]);

        } else {
            s->stats.ignored++;
        }
    }

done:

    free(b.ev);
    free(b.ids);
    free(b.convs);
    free(b.message);
    free(b.fields);
}


void
wachat_stream_deleted(wachat_stream_t *s, const redisReply *ids)
{
    size_t           i;
    wachat_event_t   ev;

    for (i = 0; ids->type == REDIS_REPLY_ARRAY && i < ids->elements; i++) {
        if (ids->element[i]->type != REDIS_REPLY_STRING
            || wachat_event_decode(&ev, ids->element[i]->str, NULL) != 0)
        {
            continue;
        }

        ev.refused = "deleted from the stream while pending";

        if (wachat_stream_set_aside(s, &ev, NULL) != 0) {
            wachat_log(WACHAT_LOG_WARNING, "stream: event %s was deleted "
                       "from the stream while pending and could not be "
                       "set aside: %s", ev.stream_id, s->store->err);
        }
    }
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
    const char   *argv[10 + 2 * 32];
    size_t        argvlen[10 + 2 * 32];

    key = ev->known ? WACHAT_KEY_OTHER : WACHAT_KEY_PARKED;

    argc = 0;
    argv[argc++] = "XADD";
    argv[argc++] = key;
    argv[argc++] = "MAXLEN";
    argv[argc++] = "~";
    argv[argc++] = WACHAT_SIDE_MAXLEN;
    argv[argc++] = "*";
    argv[argc++] = "event";
    argv[argc++] = ev->stream_id;

    if (ev->refused) {
        argv[argc++] = "reason";
        argv[argc++] = ev->refused;
    }

    for (i = 0; i < (size_t) argc; i++) {
        argvlen[i] = strlen(argv[i]);
    }

    for (i = 0; fields && fields->type == REDIS_REPLY_ARRAY
                && i + 1 < fields->elements && argc + 2 <= 10 + 2 * 32;
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
