/*
 * wachat_envelope: a WhatsApp Cloud API webhook body (bytes) -> flat events.
 *
 * Plain C with yajl and libcrypto only, no nginx headers, so that it can be
 * unit-tested and fuzzed on its own.  The event contract it produces is
 * documented in docs/events.md; its field names, kinds and version come from
 * common/wachat_contract.h, which the daemon reads them with.
 */

#ifndef WACHAT_ENVELOPE_H
#define WACHAT_ENVELOPE_H

#include <stddef.h>

#include "wachat_contract.h"


typedef struct {
    const char  *data;      /* NULL: field absent, not written */
    size_t       len;
} wachat_str_t;


/* one stream entry: its fields indexed by wachat_field_e, in stream order */
typedef struct {
    wachat_str_t  field[WACHAT_FIELD_COUNT];

    /* the key's suffix: "<wamid>", "<wamid>:<status>", "other:<sha256>" */
    wachat_str_t  dedup;
} wachat_envelope_event_t;


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


typedef struct wachat_envelope_arena_s  wachat_envelope_arena_t;

typedef struct {
    wachat_envelope_event_t  *events;
    size_t                    nevents;

    /* why parsing failed; never holds body text */
    char                      error[160];

    /* owns events and decoded strings */
    wachat_envelope_arena_t  *arena;
} wachat_envelope_t;


/*
 * Parses body[0..len).  On WACHAT_ENVELOPE_OK env->events holds one event per
 * message, status or "other" delivery; "raw" fields point into body, so body
 * must outlive env.  Always call wachat_envelope_free(), whatever the result.
 */
wachat_envelope_rc_e wachat_envelope_parse(wachat_envelope_t *env,
    const char *body, size_t len, const wachat_envelope_limits_t *limits);

void wachat_envelope_free(wachat_envelope_t *env);


#endif /* WACHAT_ENVELOPE_H */
