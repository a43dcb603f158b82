/*
 * deliver: the send path of a conversation.  The head of its outbound
 * queue goes out under the business number's rate limit; what Meta
 * accepted is recorded before anything else of the conversation moves;
 * what fails is retried with backoff, and what fails for good goes to the
 * dead-letter stream.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conversation/conv_int.h"
#include "lib/clock.h"
#include "lib/log.h"


static void wachat_conv_sent(void *data, const wachat_send_result_t *res);
static void wachat_conv_dead(wachat_conv_t *cv, const char *hist,
    long code, const char *reason);


int
wachat_conv_send_head(wachat_conv_t *cv)
{
    wachat_peek_t    *p = &cv->peek;
    wachat_engine_t  *en = cv->engine;

    /* the peek took a token of the number's bucket, or says how long */
    if (p->wait_ms > 0) {
        /* over the number's rate: the reply stays first in line */
        wachat_conv_schedule(cv, (long) p->wait_ms);
        return 1;
    }

    free(cv->head);
    cv->head = malloc(p->out_len + 1);

    if (cv->head == NULL) {
        return -1;
    }

    memcpy(cv->head, p->out, p->out_len);
    cv->head[p->out_len] = '\0';
    cv->head_len = p->out_len;

    wachat_conv_set_busy(cv, 1);

    if (wachat_outbound_send(en->ob, cv->head, cv->head_len, cv->attempt,
                             wachat_conv_sent, cv)
        != 0)
    {
        wachat_conv_set_busy(cv, 0);
        return -1;
    }

    return 1;
}


/*
 * Records the head of the outbound queue as sent with cv->unrecorded, its
 * wamid, and goes on with what the script saw next.  Redis trouble keeps
 * cv->unrecorded and retries the record; -1: the lease is lost, cv is
 * forgotten.
 */

int
wachat_conv_record(wachat_conv_t *cv)
{
    int               recorded;
    redisReply       *r;
    wachat_peek_t     peek;
    wachat_engine_t  *en = cv->engine;

    r = wachat_script_sent(en->store, &cv->ref, WACHAT_LEASE_MS, cv->head,
                           cv->head_len, cv->unrecorded, cv->head_hist,
                           wachat_clock_ms(), !cv->unrecorded_fed,
                           &recorded, &peek);

    /* the script ran: the live feed has heard of it, once is enough */
    cv->unrecorded_fed = r != NULL || en->store->unreplicated
                         || cv->unrecorded_fed;

    if (r == NULL) {
        wachat_conv_store_failed(cv, WACHAT_STORE_RECORD,
                                 en->store->refused);
        return 0;
    }

    if (peek.state == WACHAT_PEEK_LOST) {
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: reply %s sent "
                   "after this consumer lost the lease; the new owner may "
                   "send it again", cv->id, cv->unrecorded);
        freeReplyObject(r);
        wachat_conv_forget(cv);
        return -1;
    }

    free(cv->unrecorded);
    cv->unrecorded = NULL;
    cv->unrecorded_fed = 0;

    cv->peek = peek;
    wachat_conv_after(cv, r, WACHAT_STORE_RECORD, 0);

    return 0;
}


static void
wachat_conv_sent_ok(wachat_conv_t *cv, const wachat_send_result_t *res)
{
    wachat_engine_t  *en = cv->engine;

    en->stats.sent++;
    cv->attempt = 0;

    /*
     * Meta has it: from here on the reply must be recorded, never sent
     * again.  If Redis cannot take the record now, it is kept and retried
     * before anything else of this conversation.
     */
    free(cv->unrecorded);
    cv->unrecorded = strdup(res->wamid);
    cv->unrecorded_fed = 0;

    if (cv->unrecorded == NULL) {
        wachat_conv_schedule(cv, 1000);
        return;
    }

    (void) wachat_conv_record(cv);
}


static void
wachat_conv_sent(void *data, const wachat_send_result_t *res)
{
    long              delay;
    wachat_conv_t    *cv = data;
    wachat_engine_t  *en = cv->engine;
    const char       *hist;

    wachat_conv_set_busy(cv, 0);

    if (en->closing) {
        return;         /* forced stop: the reply stays queued in Redis */
    }

    /* the history entry of the reply, for the status records */
    snprintf(cv->head_hist, sizeof(cv->head_hist), "%s", res->hist);
    hist = cv->head_hist;

    if (res->result == WACHAT_SEND_OK) {
        wachat_conv_sent_ok(cv, res);
        return;
    }

    switch (res->result) {

    case WACHAT_SEND_RETRY:
        cv->attempt++;

        if (cv->attempt > en->cfg->graph_max_retries) {
            wachat_conv_dead(cv, hist, res->code, res->reason);
            cv->attempt = 0;
            wachat_conv_drop_peek(cv);
            wachat_conv_schedule(cv, 0);
            break;
        }

        en->stats.retried++;

        if (wachat_conv_stopping(cv)) {
            break;
        }

        /*
         * The delay drops the peek: the retry asks again, and finds another
         * head if Meta's status recorded this one meanwhile (a call that
         * timed out had reached Meta; script_transfer.c).
         */
        delay = wachat_conv_backoff(cv->attempt, res->retry_ms);

        wachat_log(WACHAT_LOG_WARNING, "conversation %s: send failed (%s), "
                   "retry %d/%d in %ld ms", cv->id, res->reason, cv->attempt,
                   en->cfg->graph_max_retries, delay);

        wachat_conv_schedule(cv, delay);
        break;

    case WACHAT_SEND_TOKEN:
        if (wachat_conv_stopping(cv)) {
            break;
        }

        wachat_log(WACHAT_LOG_ERROR, "conversation %s: the Graph API "
                   "refused the access token (%s). The reply is kept: fix "
                   "graph_token_file with a permanent System User token and "
                   "reload (kill -HUP); retrying every %d s meanwhile",
                   cv->id, res->reason, WACHAT_TOKEN_WAIT_MS / 1000);
        wachat_conv_schedule(cv, WACHAT_TOKEN_WAIT_MS);
        break;

    default:
        wachat_conv_dead(cv, hist, res->code, res->reason);
        cv->attempt = 0;
        wachat_conv_drop_peek(cv);
        wachat_conv_schedule(cv, 0);
        break;
    }
}


/*
 * What finally fails goes to the dead-letter stream with its reason, first,
 * and only then leaves the queue: a crash in between duplicates a dead
 * letter, never loses a reply.
 */

static void
wachat_conv_dead(wachat_conv_t *cv, const char *hist, long code,
    const char *reason)
{
    int               rc;
    redisReply       *r;
    wachat_engine_t  *en = cv->engine;
    char              codebuf[32];

    snprintf(codebuf, sizeof(codebuf), "%ld", code);

    wachat_log(WACHAT_LOG_ERROR, "conversation %s: reply dead-lettered: %s",
               cv->id, reason);

    r = wachat_redis_cmd(en->store, "XADD %s MAXLEN ~ 100000 * conv %s "
                         "code %s reason %s reply %b", en->cfg->dead_stream,
                         cv->id, codebuf, reason, cv->head, cv->head_len);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return;         /* kept in the queue: retried on the next step */
    }

    freeReplyObject(r);

    rc = wachat_script_drop(en->store, &cv->ref, cv->head, cv->head_len,
                            hist, code, wachat_clock_ms());

    if (rc < -1) {
        wachat_log(WACHAT_LOG_ERROR, "conversation %s: recording the dead "
                   "letter failed: %s", cv->id, en->store->err);
    }

    en->stats.dead++;
}
