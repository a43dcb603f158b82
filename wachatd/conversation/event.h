/*
 * event: one entry of the webhook stream (docs/events.md), as wachatd
 * holds it, and its form as a member of a conversation's inbox.
 */

#ifndef WACHAT_EVENT_H
#define WACHAT_EVENT_H

#include <stddef.h>
#include <hiredis/hiredis.h>


#define WACHAT_EVENT_MAX_FIELDS  32
#define WACHAT_CONV_ID_MAX       160


typedef struct {
    char     *stream_id;            /* "ms-seq" */
    size_t    nfields;
    char     *name[WACHAT_EVENT_MAX_FIELDS];
    char     *value[WACHAT_EVENT_MAX_FIELDS];
    size_t    value_len[WACHAT_EVENT_MAX_FIELDS];
} wachat_event_t;


/* from an XREADGROUP / XAUTOCLAIM entry: [id, [field, value, ...]] */
int wachat_event_from_reply(wachat_event_t *ev, const redisReply *entry);
void wachat_event_free(wachat_event_t *ev);

/* the value of a field, or NULL */
const char *wachat_event_get(const wachat_event_t *ev, const char *name);

/*
 * The conversation an event belongs to: "<phone_number_id>:<customer>",
 * the customer being the wa_id (from / recipient) or else the user_id.
 * Returns -1 for events that belong to no conversation (kind=other).
 */
int wachat_event_conv_id(const wachat_event_t *ev, char *buf, size_t len);

/*
 * Inbox members sort by stream id: the score is the id's milliseconds and
 * the member starts with the zero-padded id, so ties sort right too.
 */
char *wachat_event_to_member(const wachat_event_t *ev, size_t *len,
    double *score);
int wachat_event_from_member(wachat_event_t *ev, const char *member,
    size_t len);

/* compares two stream ids ("ms-seq"), like strcmp */
int wachat_stream_id_cmp(const char *a, const char *b);


#endif /* WACHAT_EVENT_H */
