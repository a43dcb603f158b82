/*
 * outbound: delivers a committed reply.  "graph" sends it through the
 * WhatsApp Graph API; "sandbox" appends it to a Redis stream instead (for
 * trying a knowledge base before going live, and for `make run`).
 *
 * A reply travels as the small JSON object the conversation committed:
 * {"to","phone_number_id","conv","reply_to","graph","hist"}, "graph" being
 * the Graph request body, built once at the commit and sent as it is.
 * Replies queued by an agent (or by an older wachatd) carry "text" and
 * "buttons" [{"id","title"}] instead, and the body is built at send time.
 * An agent's file carries "media": {"local","kind","mime","name",
 * "caption"}: the file in media_dir is uploaded, then sent by its id.
 */

#ifndef WACHAT_OUTBOUND_H
#define WACHAT_OUTBOUND_H

#include <stddef.h>

#include "lib/config.h"
#include "clients/http.h"
#include "store/media.h"
#include "store/store.h"


typedef enum {
    WACHAT_SEND_OK = 0,
    WACHAT_SEND_RETRY,          /* try again after retry_ms */
    WACHAT_SEND_TOKEN,          /* the token is bad: keep, retry slowly */
    WACHAT_SEND_PERMANENT       /* never retry: dead letter */
} wachat_send_e;


#define WACHAT_SEND_HIST_MAX  64

/*
 * The sandbox outbox (outbox_stream) is looked at, never drained: it keeps
 * about the last this many replies (MAXLEN ~: up to a stream node more).
 */
#define WACHAT_OUTBOX_MAXLEN  10000


typedef struct {
    wachat_send_e   result;
    char            wamid[256];     /* with OK */
    char            hist[WACHAT_SEND_HIST_MAX];  /* the reply's history id */
    long            code;           /* Graph error code, -1 if none */
    long            retry_ms;       /* with RETRY, at least this */
    char            reason[512];    /* for logs and the dead letter */
} wachat_send_result_t;


typedef void (*wachat_send_done_pt)(void *data,
    const wachat_send_result_t *res);


/* Graph API calls by outcome (graph.h's five results), sandbox deliveries */
typedef struct {
    unsigned long long  graph[5];
    unsigned long long  sandbox;
} wachat_outbound_stats_t;

typedef struct wachat_outbound_s  wachat_outbound_t;


wachat_outbound_t *wachat_outbound_new(const wachat_config_t *cfg,
    wachat_redis_t *store, wachat_http_t *http);
void wachat_outbound_free(wachat_outbound_t *ob);

/* where the agents' files are (NULL: none can be sent) */
void wachat_outbound_set_media(wachat_outbound_t *ob,
    wachat_media_store_t *media);

/* on SIGHUP: new token, URL or mode for the next sends */
void wachat_outbound_reload(wachat_outbound_t *ob, const wachat_config_t *cfg);

const wachat_outbound_stats_t *wachat_outbound_stats(wachat_outbound_t *ob);

/*
 * Sends one reply; done is called exactly once, possibly before this
 * returns (sandbox).  Returns -1 when it could not even start (done is
 * then not called).
 */
int wachat_outbound_send(wachat_outbound_t *ob, const char *reply_json,
    size_t len, int attempt, wachat_send_done_pt done, void *data);


/*
 * With mark_read on (graph mode): the customer sees the message read and
 * "typing…" while the answer is prepared.  One call, fire and forget.
 */
void wachat_outbound_mark_read(wachat_outbound_t *ob, const char *pnid,
    const char *wamid);


#endif /* WACHAT_OUTBOUND_H */
