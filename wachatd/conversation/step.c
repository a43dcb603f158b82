/*
 * step: one step of a conversation.  The oldest reply not yet sent goes
 * first; then the inbox head, once no older event of the conversation can
 * still arrive, is answered (message.c) or recorded (a status).
 */

#include <string.h>

#include "conversation/conv_int.h"
#include "conversation/stream.h"
#include "lib/log.h"


static void wachat_conv_go(wachat_conv_t *cv);
static int wachat_conv_settled(wachat_conv_t *cv);
static void wachat_conv_unreadable(wachat_conv_t *cv);


void
wachat_conv_step(wachat_conv_t *cv)
{
    redisReply       *r;
    wachat_engine_t  *en = cv->engine;

    if (cv->busy) {
        return;
    }

    if (cv->peeked == NULL) {
        /* take or renew the lease, and see what is next, in one trip */
        r = wachat_script_step(en->store, &cv->ref, WACHAT_LEASE_MS,
                               &cv->peek);
        if (r == NULL) {
            wachat_conv_store_failed(cv, WACHAT_STORE_STEP,
                                     en->store->refused);
            return;
        }

        wachat_conv_keep_peek(cv, r);
        wachat_conv_store_ok(cv, WACHAT_STORE_STEP);
    }

    wachat_conv_go(cv);
}


/*
 * The script that ran and peeked: its reply r holds what comes next, in
 * cv->peek.  The next step uses it without asking again.  NULL: it failed
 * (refused: on its data), and is tried again after a backoff.
 */

void
wachat_conv_after(wachat_conv_t *cv, redisReply *r, wachat_conv_store_e what,
    int refused)
{
    if (r == NULL) {
        wachat_conv_drop_peek(cv);
        wachat_conv_store_failed(cv, what, refused);
        return;
    }

    wachat_conv_keep_peek(cv, r);
    wachat_conv_store_ok(cv, what);

    if (cv->peek.state == WACHAT_PEEK_LOST) {
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: lease lost, "
                   "another consumer goes on", cv->id);
        wachat_conv_forget(cv);
        return;
    }

    wachat_conv_schedule(cv, 0);
}


/*
 * After a commit: a reply it queued goes out at once (the send is
 * asynchronous, nothing waits for it here); anything else is the next
 * step's.  Not after a record: with the sandbox, whose answer comes
 * before the call returns, a long queue would nest one call per reply.
 * what: the script a failure is logged as (COMMIT; STEP once it ran but
 * its WAIT fell short: the commit is done, the next step waits).
 */

void
wachat_conv_after_commit(wachat_conv_t *cv, redisReply *r,
    wachat_conv_store_e what, int refused)
{
    wachat_peek_t  *p = &cv->peek;

    if (r == NULL || p->state != WACHAT_PEEK_WORK || p->out == NULL
        || cv->unrecorded || cv->engine->draining || cv->busy)
    {
        wachat_conv_after(cv, r, what, refused);
        return;
    }

    wachat_conv_keep_peek(cv, r);
    wachat_conv_store_ok(cv, what);

    if (wachat_conv_send_head(cv) < 0) {
        wachat_conv_schedule(cv, 1000);
    }
}


static void
wachat_conv_go(wachat_conv_t *cv)
{
    int               rc;
    wachat_event_t    ev;
    wachat_peek_t    *p = &cv->peek;

    if (p->state != WACHAT_PEEK_WORK) {
        /* someone else's, lost, or given back with nothing left */
        wachat_conv_forget(cv);
        return;
    }

    if (cv->unrecorded) {
        /* sent but not recorded: nothing else before it is */
        (void) wachat_conv_record(cv);
        return;
    }

    if (wachat_conv_stopping(cv)) {
        return;
    }

    if (p->out) {
        rc = wachat_conv_send_head(cv);
        if (rc < 0) {
            wachat_conv_schedule(cv, 1000);
        }
        return;         /* busy, or waiting: the send callback goes on */
    }

    if (p->member == NULL || p->head_id == NULL
        || wachat_event_decode(&ev, p->head_id, p->fields) != 0)
    {
        wachat_conv_unreadable(cv);
        return;
    }

    if (p->older_pending && !wachat_conv_settled(cv)) {
        return;
    }

    if (ev.kind == WACHAT_KIND_STATUS) {
        wachat_conv_status(cv, p->member, p->member_len, &ev);

    } else {
        wachat_conv_message(cv, p->member, p->member_len, &ev);
    }

    /* the handlers may have forgotten cv (lease lost): they say so */
}


/*
 * An older event of the stream is still pending in the group (read, not
 * yet in its inbox): if it is of this conversation, the head must wait.
 * 1: go on; 0: not now, the next step is scheduled.
 */

static int
wachat_conv_settled(wachat_conv_t *cv)
{
    int               settled;
    redisReply       *head;
    wachat_peek_t    *p = &cv->peek;
    wachat_engine_t  *en = cv->engine;

    settled = wachat_stream_is_settled(en->stream, p->head_id, cv->id);

    if (settled != 1) {
        wachat_conv_schedule(cv, settled == 0 ? WACHAT_UNSETTLED_MS : 1000);
        return 0;
    }

    /*
     * An older event may have landed in the inbox (and left the pending
     * list) between the two reads: the head must still be the same.  The
     * transfer adds to the inbox before it acknowledges, so this is enough.
     */
    head = wachat_redis_cmd(en->store, "ZRANGE %s 0 0", cv->ref.inbox);

    if (head == NULL || head->type != REDIS_REPLY_ARRAY
        || head->elements != 1
        || head->element[0]->len != p->member_len
        || memcmp(head->element[0]->str, p->member, p->member_len) != 0)
    {
        freeReplyObject(head);
        wachat_conv_drop_peek(cv);
        wachat_conv_schedule(cv, 0);
        return 0;
    }

    freeReplyObject(head);

    return 1;
}


static void
wachat_conv_unreadable(wachat_conv_t *cv)
{
    int               had;
    wachat_peek_t    *p = &cv->peek;
    wachat_engine_t  *en = cv->engine;

    had = p->member != NULL;

    if (had) {
        wachat_log(WACHAT_LOG_ERROR, "conversation %s: unreadable inbox "
                   "entry dropped", cv->id);
        freeReplyObject(wachat_redis_cmd(en->store, "ZREM %s %b",
                                         cv->ref.inbox, p->member,
                                         p->member_len));
    }

    wachat_conv_drop_peek(cv);
    wachat_conv_schedule(cv, had ? 0 : 1000);
}
