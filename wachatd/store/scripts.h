/*
 * scripts: the Lua scripts that change a conversation, each behind a
 * typed wrapper, so the order of KEYS and ARGV lives only here.
 *
 * Every script that works on a conversation first checks that this
 * consumer holds its lease, and every one ends by looking at what comes
 * next (a "peek"): it renews the lease and returns the head of the outbound
 * queue and of the inbox, the inbox head unpacked into the stream entry's
 * own shape, and whether an older event of the stream is still pending.
 * With nothing left, the same script gives the conversation back; with a
 * reply to send, it takes a token of the business number's rate bucket;
 * with an inbox head, it says whether the customer's AI answers are spent
 * (so an over-limit message costs no model call and no extra trip).
 * So one round trip both records a step and prepares the next.
 */

#ifndef WACHAT_SCRIPTS_H
#define WACHAT_SCRIPTS_H

#include <stddef.h>

#include "store/store.h"


/*
 * The limits every peek applies: the business number's send rate, and
 * each customer's AI answers (a bucket of answers_burst tokens, refilled
 * at answers_per_min; 0: no limit).  Kept by the engine across reloads.
 */
typedef struct {
    int  rate_per_s;
    int  answers_per_min;
    int  answers_burst;
} wachat_limits_t;


/* the keys and names of one conversation, computed once */
typedef struct {
    const char              *id;        /* "<phone_number_id>:<customer>" */
    const char              *owner;     /* this consumer */
    const char              *stream;
    const char              *group;
    const wachat_limits_t   *limits;
    char         rate[WACHAT_KEY_MAX];
    char         lease[WACHAT_KEY_MAX];
    char         outq[WACHAT_KEY_MAX];
    char         inbox[WACHAT_KEY_MAX];
    char         conv[WACHAT_KEY_MAX];
    char         hist[WACHAT_KEY_MAX];
    char         status[WACHAT_KEY_MAX];
} wachat_conv_ref_t;

void wachat_conv_ref_init(wachat_conv_ref_t *ref, const char *id,
    const char *owner, const char *stream, const char *group,
    const wachat_limits_t *limits);


typedef enum {
    WACHAT_PEEK_LOST = -1,      /* the lease is someone else's now */
    WACHAT_PEEK_OTHER = 0,      /* another consumer holds it (STEP) */
    WACHAT_PEEK_WORK,           /* ours, with work: see the heads */
    WACHAT_PEEK_IDLE            /* nothing left: given back */
} wachat_peek_e;


typedef struct {
    wachat_peek_e        state;
    const char          *out;           /* outq head or NULL */
    size_t               out_len;
    const char          *member;        /* inbox head or NULL */
    size_t               member_len;
    const char          *head_id;       /* its stream id */
    const redisReply    *fields;        /* its fields, stream-entry shape */
    int                  older_pending; /* an older entry is pending */
    long long            wait_ms;       /* until the outq head may go */
    int                  limited;       /* the customer's AI answers are
                                           spent: the head gets none */
} wachat_peek_t;


/*
 * Each wrapper returns the reply the peek points into (the caller frees
 * it when done with the peek), or NULL on a Redis error (st->err says
 * what).
 */

/* takes or renews the lease, then peeks; OTHER when it is not ours */
redisReply *wachat_script_step(wachat_redis_t *st,
    const wachat_conv_ref_t *ref, int lease_ms, wachat_peek_t *peek);

/* renews the lease only: 1 ours, 0 someone else's, -1 Redis trouble */
int wachat_script_renew(wachat_redis_t *st, const wachat_conv_ref_t *ref,
    int lease_ms);


/*
 * An inbound message, the history entries and the replies, committed at
 * once.  The *_kv arrays are field, value, ... (nkv strings); a reply is
 * its history entry and its outbound record, JSON without its closing
 * "hist" value, which the script appends once the history entry has an id.
 */
typedef struct {
    const char   *member;       /* the inbox head being committed */
    size_t        member_len;
    const char   *done_key;     /* the conversation's committed ids */
    const char   *done_id;      /* this message's: its wamid */
    const char   *feed_id;      /* the wamid, for the live feed */
    long long     now;
    int           done_ttl;
    int           histmax;
    long long     retention_s;
    const char  **conv_kv;
    size_t        nconv;
    const char  **in_kv;
    size_t        nin;
    const char  **reply_kv;     /* nreply 0: no reply */
    size_t        nreply;
    const char   *reply_send;
    size_t        reply_send_len;
    int           handoff;
    const char   *agent;        /* handoff: the agent chosen, or NULL */
    const char  **held_kv;      /* handoff while an agent holds it */
    size_t        nheld;
    const char   *held_send;
    size_t        held_send_len;
    int           limited;      /* over the customer's limit: the reply
                                   is the notice, sent once a period */
} wachat_commit_t;


typedef struct {
    int           committed;    /* 0: the wamid was done already */
    long long     queued;       /* replies queued */
    const char   *mode;         /* after the commit */
    int           is_new;       /* a first message of this customer */
    int           moved;        /* the hand-over changed the mode */
    wachat_peek_t peek;
} wachat_commit_result_t;

/*
 * COMMIT and STATUS return their reply also when the script ran and its
 * WAIT (redis_replicas) fell short, with st->unreplicated set: the inbox
 * head is committed on the primary and will not come back (unless a
 * failover loses it), so what follows it must be done now; the caller
 * does it, then treats the step as failed (the peek is not to be used).
 */
redisReply *wachat_script_commit(wachat_redis_t *st,
    const wachat_conv_ref_t *ref, int lease_ms, const wachat_commit_t *c,
    wachat_commit_result_t *res);


/* a delivery status: 1 applied, 0 not (older, or nobody), -1 lease lost */
redisReply *wachat_script_status(wachat_redis_t *st,
    const wachat_conv_ref_t *ref, int lease_ms, const char *member,
    size_t member_len, const char *wamid, const char *status,
    const char *ts, const char *code, int *applied, wachat_peek_t *peek);


/*
 * The outbound head was accepted by Meta as wamid: record it, pop it,
 * peek.  *recorded 0 when the head had changed meanwhile.
 */
redisReply *wachat_script_sent(wachat_redis_t *st,
    const wachat_conv_ref_t *ref, int lease_ms, const char *head,
    size_t head_len, const char *wamid, const char *hist, long long now,
    int feed, int *recorded, wachat_peek_t *peek);

/* the outbound head failed for good: 1 dropped, 0 head changed, -1 lost */
int wachat_script_drop(wachat_redis_t *st, const wachat_conv_ref_t *ref,
    const char *head, size_t head_len, const char *hist, long code,
    long long now);

/* gives the conversation back (at shutdown, with work left) */
void wachat_script_release(wachat_redis_t *st, const wachat_conv_ref_t *ref);

/*
 * After a script of the conversation failed on its data (st->refused):
 * the first of the keys the scripts touch that holds another type than
 * theirs, as "<key> holds a <type>, not a <type>" into buf: 1; 0 when
 * each has its type (a Lua error on a value, or the key fixed since); -1
 * when Redis could not tell (st->err).
 */
int wachat_script_wrong_key(wachat_redis_t *st, const wachat_conv_ref_t *ref,
    char *buf, size_t len);


/*
 * Moves read stream entries into their conversations' inboxes and
 * acknowledges them, in one round trip: ids[i] goes to the inbox of
 * convs[i] (NULL: acknowledged only, it was set aside); message[i] marks
 * the ones that count as activity of their conversation; fields[i] are
 * the fields as read, used only for an entry deleted since (one more
 * round trip for each such).
 *
 * A conversation of the batch that nobody holds is taken for owner in the
 * same step: take() gets its peek (a reply it now owns and must free), as
 * the STEP script would have returned it.
 */
typedef struct {
    const char          *stream;
    const char          *group;
    const char          *owner;
    int                  lease_ms;
    wachat_limits_t      limits;
    size_t               n;
    const char         **ids;
    const char         **convs;
    const int           *message;
    const redisReply   **fields;
    unsigned long long  *confirmed;     /* NULL, or counts the replies a
                                           status recorded as sent */
} wachat_transfer_t;

typedef void (*wachat_transfer_take_pt)(void *data, const char *conv_id,
    redisReply *peek);

/*
 * 0; -1 when Redis could not run it now (no answer, a WAIT short, an error
 * that is the server's condition: st->err), which a later try may pass;
 * WACHAT_TRANSFER_REFUSED when the script itself failed on the data it
 * touched (a key of the wrong type: st->err is the error), which a later
 * try of the same entries fails again.  Either way the entries may be
 * partly transferred (Redis keeps a failed script's writes); a transfer
 * done again is a no-op for what was.
 */
#define WACHAT_TRANSFER_REFUSED  -2

int wachat_script_transfer(wachat_redis_t *st, const wachat_transfer_t *t,
    wachat_transfer_take_pt take, void *data);

/* a peek handed over by the transfer, read: 0, or -1 when it is none */
int wachat_script_peek(const redisReply *r, wachat_peek_t *peek);


#endif /* WACHAT_SCRIPTS_H */
