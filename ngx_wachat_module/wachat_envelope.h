/*
 * wachat_envelope: a WhatsApp Cloud API webhook body (bytes) -> flat events.
 *
 * Plain C with yajl and libcrypto only, no nginx headers, so that it can be
 * unit-tested and fuzzed on its own.  The event contract it produces is
 * documented in docs/events.md.
 */

#ifndef WACHAT_ENVELOPE_H
#define WACHAT_ENVELOPE_H

#include <stddef.h>


#define WACHAT_EVENT_VERSION  "1"


/* Stream entry fields, in the order they are written to the stream. */
typedef enum {
    WACHAT_FIELD_V = 0,
    WACHAT_FIELD_KIND,
    WACHAT_FIELD_ID,
    WACHAT_FIELD_FROM,
    WACHAT_FIELD_RECIPIENT,
    WACHAT_FIELD_USER_ID,
    WACHAT_FIELD_NAME,
    WACHAT_FIELD_PHONE_NUMBER_ID,
    WACHAT_FIELD_TS,
    WACHAT_FIELD_TYPE,
    WACHAT_FIELD_TEXT,
    WACHAT_FIELD_PAYLOAD,
    WACHAT_FIELD_CONTEXT,
    WACHAT_FIELD_STATUS,
    WACHAT_FIELD_ERROR_CODE,
    WACHAT_FIELD_RAW,
    WACHAT_FIELD_COUNT
} wachat_field_e;


typedef struct {
    const char  *data;      /* NULL: field absent, not written */
    size_t       len;
} wachat_str_t;


typedef struct {
    wachat_str_t  field[WACHAT_FIELD_COUNT];
    wachat_str_t  dedup;    /* "<wamid>", "<wamid>:<status>", "other:<sha256>" */
} wachat_event_t;


typedef struct {
    size_t  max_depth;      /* JSON nesting; 0 means the default (64) */
    size_t  max_events;     /* events per body; 0 means the default (4096) */
} wachat_envelope_limits_t;


typedef enum {
    WACHAT_ENVELOPE_OK = 0,
    WACHAT_ENVELOPE_BAD_JSON,       /* not JSON, invalid UTF-8, trailing junk */
    WACHAT_ENVELOPE_TOO_DEEP,       /* nesting beyond max_depth */
    WACHAT_ENVELOPE_TOO_MANY,       /* more than max_events events */
    WACHAT_ENVELOPE_NOMEM
} wachat_envelope_rc_e;


typedef struct wachat_arena_s  wachat_arena_t;

typedef struct {
    wachat_event_t  *events;
    size_t           nevents;
    char             error[160];    /* why parsing failed; never holds body text */
    wachat_arena_t  *arena;         /* owns events and decoded strings */
} wachat_envelope_t;


extern const char    *wachat_field_names[WACHAT_FIELD_COUNT];
extern const size_t   wachat_field_name_lens[WACHAT_FIELD_COUNT];


/*
 * Parses body[0..len).  On WACHAT_ENVELOPE_OK env->events holds one event per
 * message, status or "other" delivery; "raw" fields point into body, so body
 * must outlive env.  Always call wachat_envelope_free(), whatever the result.
 */
wachat_envelope_rc_e wachat_envelope_parse(wachat_envelope_t *env,
    const char *body, size_t len, const wachat_envelope_limits_t *limits);

void wachat_envelope_free(wachat_envelope_t *env);


#endif /* WACHAT_ENVELOPE_H */
