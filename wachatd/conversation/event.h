/*
 * event: one entry of the webhook stream (docs/events.md), decoded once
 * into typed fields when it leaves the stream.
 *
 * Both places an event is read from hand over the same shape, the stream
 * entry's own: [id, [field, value, ...]] from XREADGROUP / XAUTOCLAIM, and
 * {id, field, value, ...} unpacked from a conversation's inbox by the STEP
 * script.  Decoding copies nothing: the fields point into the reply, which
 * must outlive the event.
 */

#ifndef WACHAT_EVENT_H
#define WACHAT_EVENT_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#include "wachat_contract.h"


#define WACHAT_CONV_ID_MAX   160
#define WACHAT_STREAM_ID_MAX 48


typedef struct {
    const char     *stream_id;                  /* "ms-seq" */
    int             known;                      /* v is ours */
    int             kind;                       /* wachat_kind_e, or -1 */
    const char     *field[WACHAT_FIELD_COUNT];  /* NULL: absent */
    size_t          len[WACHAT_FIELD_COUNT];
    long long       ts;                         /* unix s, 0 if none */
    const char     *customer;   /* from / recipient, else user_id */
    char            conv_id[WACHAT_CONV_ID_MAX];    /* "" for none */
    const char     *refused;    /* why ids were refused, or NULL */
} wachat_event_t;


/*
 * Ids become Redis keys and the address of a reply, so they are checked
 * before: phone_number_id and a wa_id (from / recipient) are 1 to 32
 * digits, a business-scoped user_id 1 to 128 of [A-Za-z0-9._-]; none may
 * hold a NUL.  An event whose ids fail decodes with conv_id "" and the
 * reason in refused: it is set aside, never answered.
 */
#define WACHAT_EVENT_DIGITS_MAX   32
#define WACHAT_EVENT_USER_ID_MAX  128


/*
 * Decodes fields (an array of field, value, ...; nil for an entry deleted
 * while pending) of the entry stream_id.  -1 when stream_id is not a
 * stream id.  An event that belongs to no conversation (kind=other, no
 * customer, a contract version not ours) decodes with conv_id "".
 */
int wachat_event_decode(wachat_event_t *ev, const char *stream_id,
    const redisReply *fields);

/* a field's value, NULL when absent */
#define wachat_event_str(ev, f)  ((ev)->field[WACHAT_FIELD_##f])

/* compares two stream ids ("ms-seq"), like strcmp */
int wachat_event_id_cmp(const char *a, const char *b);


#endif /* WACHAT_EVENT_H */
