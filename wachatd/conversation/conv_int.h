/*
 * conv_int: the conversation room's private parts, shared by its files:
 * engine.c (the table, the scheduler, the lease), step.c (one step),
 * message.c (what a message gets), message_not_for_ai.c (what the
 * assistant does not answer), message_model.c (the model's answer),
 * commit.c (committing it) and deliver.c (the send path: rate, backoff,
 * dead letters).
 */

#ifndef WACHAT_CONV_INT_H
#define WACHAT_CONV_INT_H

#include <event2/event.h>

#include "answer/answer.h"
#include "conversation/engine.h"
#include "conversation/event.h"
#include "store/scripts.h"


#define WACHAT_LEASE_MS       WACHAT_ENGINE_LEASE_MS
#define WACHAT_UNSETTLED_MS   50
#define WACHAT_RENEW_MS       (WACHAT_LEASE_MS / 3)
#define WACHAT_TOKEN_WAIT_MS  60000

/*
 * Backoff (wachat_conv_backoff()): 1 s doubled per failure in a row, up to
 * 30 s, then jittered.  30 s keeps a conversation within half a minute of
 * Redis coming back (or of its key being fixed), at two tries a minute
 * while it is not; and it is shorter than the lease (60 s), which a
 * failing STEP renews before it trips (the peek's first write), so a
 * conversation that keeps failing stays with one consumer and its log.
 */
#define WACHAT_BACKOFF_MS     1000
#define WACHAT_BACKOFF_MAX    30000


typedef struct wachat_conv_s  wachat_conv_t;


/* the conversation's store scripts, for what their failure keeps */
typedef enum {
    WACHAT_STORE_STEP = 0,      /* STEP: the lease, and what comes next */
    WACHAT_STORE_COMMIT,        /* COMMIT: a message with its reply */
    WACHAT_STORE_STATUS,        /* STATUS: a delivery status */
    WACHAT_STORE_RECORD         /* SENT: a reply Meta accepted */
} wachat_conv_store_e;


/*
 * What a message carries besides its text (media.c): a media item (its
 * download and, for audio, its transcript), a location, a contact card,
 * a reaction.  Decoded from the event's raw JSON once, kept while the
 * download and the transcription run, recorded with the message.
 */
typedef enum {
    WACHAT_MEDIA_NONE = 0,
    WACHAT_MEDIA_ITEM,          /* image, audio, video, document, sticker */
    WACHAT_MEDIA_LOCATION,
    WACHAT_MEDIA_CONTACTS,
    WACHAT_MEDIA_REACTION
} wachat_media_kind_e;

typedef enum {
    WACHAT_MEDIA_FETCH = 0,     /* the download is to do, or running */
    WACHAT_MEDIA_TRANSCRIBE,    /* kept: the transcription is to do */
    WACHAT_MEDIA_READY          /* all done, either way */
} wachat_media_step_e;

typedef struct {
    char                 wamid[256];    /* the message it belongs to */
    wachat_media_kind_e  kind;
    wachat_media_step_e  step;
    int                  voice;
    int                  attempt;
    long long            retry_at;      /* ms: no attempt before */
    FILE                *sink;
    char                 tmp[WACHAT_MEDIA_PATH_MAX];

    /* the item */
    char                 id[WACHAT_GRAPH_MEDIA_ID_MAX + 1];
    char                 sha_given[128];
    wachat_media_meta_t  meta;
    const char          *state;         /* "stored", "failed" or NULL */
    char                 size_text[32];
    char                 error[256];
    char                *transcript;

    /* a location, a contact card, a reaction */
    char                 lat[32];
    char                 lon[32];
    char                 place[256];
    char                 address[256];
    char                 contact[256];
    char                 phones[256];
    char                 react_to[256];
} wachat_conv_media_t;

/* the head message's question as a vector (embed.c) */
typedef enum {
    WACHAT_QVEC_TODO = 0,
    WACHAT_QVEC_RUNNING,
    WACHAT_QVEC_READY           /* vec, or NULL: ranked by words alone */
} wachat_qvec_step_e;

typedef struct {
    char                 wamid[256];
    wachat_qvec_step_e   step;
    float               *vec;
    size_t               dim;
} wachat_conv_qvec_t;

struct wachat_conv_s {
    wachat_conv_t      *next;
    wachat_engine_t    *engine;
    struct event       *timer;
    struct event       *renew;          /* keeps the lease while busy */
    int                 busy;           /* a send or LLM call is in flight */
    int                 attempt;        /* of the outbound head */
    int                 store_failures; /* store scripts failed in a row */
    wachat_conv_store_e store_failed;   /* the last one that failed */

    /* what the last script saw next, while it is still current */
    redisReply         *peeked;
    wachat_peek_t       peek;

    char               *head;           /* the outbound head being sent */
    size_t              head_len;
    char                head_hist[WACHAT_SEND_HIST_MAX];   /* its id */
    char               *unrecorded;     /* its wamid: sent, to record */
    int                 unrecorded_fed; /* the live feed was told */

    /* a message waiting for the model: its event points into pending */
    redisReply         *pending;
    wachat_event_t      pending_ev;
    const char         *pending_member;
    size_t              pending_member_len;
    char                pending_hit[WACHAT_KB_MAX_ID * 4 + 1];  /* top */
    char                pending_context[512];   /* ids given to the model */
    double              pending_score;

    /* what the head message carries besides text (media.c) */
    wachat_conv_media_t *media;

    /* the question's vector (embed.c) */
    wachat_conv_qvec_t  *qvec;

    /* the customer's language: of this message, else remembered */
    char                lang[16];
    int                 lang_new;       /* detected now: remember it */
    int                 lang_known;     /* lang is this message's or read */

    wachat_conv_ref_t   ref;
    char                id[WACHAT_CONV_ID_MAX];
};


struct wachat_engine_s {
    struct event_base        *base;
    wachat_redis_t           *store;
    wachat_stream_t          *stream;
    wachat_outbound_t        *ob;
    wachat_llm_t             *llm;
    wachat_guard_t           *guard;
    wachat_graph_t           *media_graph;
    wachat_media_store_t     *media_store;
    wachat_stt_t             *stt;
    wachat_embed_t           *embed;
    wachat_kb_embed_t        *kbe;          /* the KB's vectors */
    int                       embed_failing;    /* logged once */
    size_t                    embed_other_dim;  /* a question's size that
                                                   was not the KB's */
    wachat_notify_pt          notify;
    void                     *notify_data;
    const wachat_config_t    *cfg;
    const wachat_kb_t        *kb;
    char                     *owner;
    char                      stream_name[WACHAT_KEY_MAX];  /* the config's, */
    char                      group_name[WACHAT_KEY_MAX];   /* across reloads */
    char                      waba[40];     /* the WABA id learnt last */
    wachat_limits_t           limits;
    int                       draining;
    int                       closing;      /* callbacks do nothing */
    size_t                    active;
    wachat_engine_stats_t     stats;
    wachat_conv_t            *buckets[1024];
};

#define WACHAT_BUCKETS  1024


/* engine.c */
void wachat_conv_schedule(wachat_conv_t *cv, long ms);
void wachat_conv_forget(wachat_conv_t *cv);
/* stopping: cv given back and forgotten (1), else 0 */
int wachat_conv_stopping(wachat_conv_t *cv);
void wachat_conv_set_busy(wachat_conv_t *cv, int busy);
void wachat_conv_keep_peek(wachat_conv_t *cv, redisReply *r);
void wachat_conv_drop_peek(wachat_conv_t *cv);

/*
 * engine.c: the delay before try attempt + 1 of something that failed
 * attempt times: WACHAT_BACKOFF_MS doubled per attempt up to
 * WACHAT_BACKOFF_MAX, less a random part of up to a half, so that many
 * conversations hit by one outage do not retry in step; at least
 * at_least (a Retry-After).
 */
long wachat_conv_backoff(int attempt, long at_least);

/*
 * engine.c: a store script of cv failed (refused: on the data it touched,
 * en->store->refused read right after it; else Redis, a replica or the
 * link: en->store->err says what).  The one place that decides when it
 * is tried again: with backoff, per failure in a row.  It logs the first
 * failure (naming the key of the wrong type), the one that reaches the
 * longest delay, the others at debug only.
 */
void wachat_conv_store_failed(wachat_conv_t *cv, wachat_conv_store_e what,
    int refused);

/*
 * engine.c: a store script of cv ran: after failures, the store works
 * again (logged once), unless it was a STEP that only leads up to the
 * script that failed.
 */
void wachat_conv_store_ok(wachat_conv_t *cv, wachat_conv_store_e what);

/* step.c */
void wachat_conv_step(wachat_conv_t *cv);
void wachat_conv_after(wachat_conv_t *cv, redisReply *r,
    wachat_conv_store_e what, int refused);
void wachat_conv_after_commit(wachat_conv_t *cv, redisReply *r,
    wachat_conv_store_e what, int refused);

/* message.c */
void wachat_conv_message(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev);

/* message.c: a system text in the customer's language (<key>.<lang>) */
const char *wachat_conv_text(wachat_conv_t *cv, const char *key,
    const char *plain);

/* message.c: the question a message asks (a voice note's, its transcript) */
void wachat_conv_question(const wachat_conv_t *cv, const wachat_event_t *ev,
    wachat_question_t *q);

/*
 * message.c: the kb backend's answer, the fallback in the customer's
 * language: 1 a reply, 0 none, -1 out of memory (try again later).
 */
int wachat_conv_answer_kb(wachat_conv_t *cv, const wachat_question_t *q,
    wachat_reply_t *reply);

/*
 * message_not_for_ai.c: a message the assistant does not answer (too
 * old, a hand-over, a reaction, a voice note, a type it cannot read, the
 * customer over the limit): 1 when it was taken care of there.
 */
int wachat_conv_not_for_ai(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev, const wachat_question_t *q);

/*
 * message_model.c: the openai backend.  0: the model is asked, the
 * message waits in cv->pending and is committed with its answer; -1: not
 * a question for the model, or it could not be asked: the KB answers.
 */
int wachat_conv_ask_llm(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev, const wachat_question_t *q);

/*
 * media.c: the head message's media, location, contact or reaction.  1:
 * a download or transcription runs (or waits for its retry): the
 * conversation is busy or scheduled, the message comes back later; 0:
 * cv->media is ready (or NULL: the message has none), go on.
 */
int wachat_conv_media(wachat_conv_t *cv, const wachat_event_t *ev);
void wachat_conv_media_free(wachat_conv_t *cv);

/*
 * llm_vision: the head message's picture, kept, of a type a model takes
 * (jpeg, png, webp): 1 when it goes to the model; data_url then makes
 * "data:<type>;base64,<bytes>" (malloc'ed; NULL when it cannot be read).
 */
int wachat_conv_media_picture(const wachat_conv_t *cv);
char *wachat_conv_media_data_url(const wachat_conv_t *cv);

/*
 * embed.c: the head message's question as a vector, with embed_url.  1:
 * the endpoint is asked, the message comes back later; 0: go on (the
 * vector is there, or the question is ranked by words alone).
 */
/* 1 when this message's question was already embedded (or tried) */
int wachat_conv_embed_done(const wachat_conv_t *cv, const wachat_event_t *ev);

int wachat_conv_embed(wachat_conv_t *cv, const wachat_event_t *ev,
    const wachat_question_t *q);
void wachat_conv_embed_free(wachat_conv_t *cv);

/*
 * The KB's vectors and the question's, when both are there for the
 * current KB (else all NULL / 0): what wachat_answer_kb_hybrid() and
 * wachat_kb_hybrid() take.
 */
const wachat_kb_vectors_t *wachat_conv_vectors(wachat_conv_t *cv,
    const float **q, size_t *dim);

/* the message's media fields for its history entry (commit.c) */
typedef void (*wachat_conv_kv_pt)(void *kv, const char *name,
    const char *value);
void wachat_conv_media_fields(const wachat_conv_t *cv,
    const wachat_event_t *ev, wachat_conv_kv_pt add, void *kv);

/* commit.c: what a message's reply is */
typedef enum {
    WACHAT_COMMIT_ANSWER = 0,   /* the AI's answer, or none */
    WACHAT_COMMIT_HANDOFF,      /* what happens now that a person is asked */
    WACHAT_COMMIT_VOICE,        /* a voice note nobody could transcribe:
                                   the hand-over, without "connecting you"
                                   when an agent holds it already */
    WACHAT_COMMIT_LIMITED       /* over the customer's limit: the notice */
} wachat_commit_e;

void wachat_conv_commit(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev, wachat_reply_t *reply,
    wachat_commit_e kind, const char *agent);
void wachat_conv_status(wachat_conv_t *cv, const char *member,
    size_t mlen, const wachat_event_t *ev);

/* deliver.c: 0 nothing to send, 1 in flight or waiting, -1 trouble */
int wachat_conv_send_head(wachat_conv_t *cv);
int wachat_conv_record(wachat_conv_t *cv);


#endif /* WACHAT_CONV_INT_H */
