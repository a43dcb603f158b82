/*
 * wachat_envelope's private parts, shared by its files:
 *
 *   wachat_envelope.c          the entry points: UTF-8 gate, one yajl pass,
 *                              the verdict on the body's shape
 *   wachat_envelope_frames.c   the yajl event machine: a short stack of
 *                              frames, what each container opens
 *   wachat_envelope_fields.c   the keys the contract reads and the slot each
 *                              scalar is kept in
 *   wachat_envelope_events.c   what a message, status, change or value turns
 *                              into once it is closed
 *   wachat_envelope_arena.c    the memory all of it lives in
 *
 * Offsets: the body is handed to yajl_parse() in one piece, so during a
 * callback yajl_get_bytes_consumed() is the absolute offset just after the
 * token that triggered it.  That gives "raw" byte-exact slices for free.
 */

#ifndef WACHAT_ENVELOPE_INT_H
#define WACHAT_ENVELOPE_INT_H

#include <stddef.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "wachat_envelope.h"


#define WACHAT_ENVELOPE_MAX_DEPTH   64
#define WACHAT_ENVELOPE_MAX_EVENTS  4096
#define WACHAT_ENVELOPE_ALIGN       16
#define WACHAT_ENVELOPE_MAX_FRAMES  16  /* deepest semantic path + 1 opaque */

#define wachat_envelope_string(s)   { s, sizeof(s) - 1 }


/* frames: what the innermost open container means */

typedef enum {
    WACHAT_ENVELOPE_F_BODY = 0,
    WACHAT_ENVELOPE_F_ENTRIES,
    WACHAT_ENVELOPE_F_ENTRY,
    WACHAT_ENVELOPE_F_CHANGES,
    WACHAT_ENVELOPE_F_CHANGE,
    WACHAT_ENVELOPE_F_VALUE,
    WACHAT_ENVELOPE_F_METADATA,
    WACHAT_ENVELOPE_F_CONTACTS,
    WACHAT_ENVELOPE_F_CONTACT,
    WACHAT_ENVELOPE_F_PROFILE,
    WACHAT_ENVELOPE_F_MESSAGES,
    WACHAT_ENVELOPE_F_STATUSES,
    WACHAT_ENVELOPE_F_MESSAGE,
    WACHAT_ENVELOPE_F_STATUS,
    WACHAT_ENVELOPE_F_PART,     /* text, button, image, ... of a message */
    WACHAT_ENVELOPE_F_REPLY,    /* interactive.button_reply / list_reply */
    WACHAT_ENVELOPE_F_ERRORS,
    WACHAT_ENVELOPE_F_ERROR,    /* errors[0] */
    WACHAT_ENVELOPE_F_SKIP,     /* opaque: nobody reads it */
    WACHAT_ENVELOPE_F_ITEM      /* opaque: an array item of messages[]: raw */
} wachat_envelope_frame_e;


/* message parts that carry "text" / "payload" */

typedef enum {
    WACHAT_ENVELOPE_P_TEXT = 0,
    WACHAT_ENVELOPE_P_BUTTON,
    WACHAT_ENVELOPE_P_IMAGE,
    WACHAT_ENVELOPE_P_VIDEO,
    WACHAT_ENVELOPE_P_DOCUMENT,
    WACHAT_ENVELOPE_P_REACTION,
    WACHAT_ENVELOPE_P_BUTTON_REPLY,
    WACHAT_ENVELOPE_P_LIST_REPLY,
    WACHAT_ENVELOPE_P_INTERACTIVE,
    WACHAT_ENVELOPE_P_CONTEXT,
    WACHAT_ENVELOPE_P_COUNT
} wachat_envelope_part_e;


/* the keys of Meta's JSON the contract reads (wachat_envelope_fields.c) */

typedef enum {
    WACHAT_ENVELOPE_K_NONE = 0,
    WACHAT_ENVELOPE_K_OBJECT,
    WACHAT_ENVELOPE_K_ENTRY,
    WACHAT_ENVELOPE_K_CHANGES,
    WACHAT_ENVELOPE_K_FIELD,
    WACHAT_ENVELOPE_K_VALUE,
    WACHAT_ENVELOPE_K_METADATA,
    WACHAT_ENVELOPE_K_PHONE_NUMBER_ID,
    WACHAT_ENVELOPE_K_CONTACTS,
    WACHAT_ENVELOPE_K_MESSAGES,
    WACHAT_ENVELOPE_K_STATUSES,
    WACHAT_ENVELOPE_K_WA_ID,
    WACHAT_ENVELOPE_K_USER_ID,
    WACHAT_ENVELOPE_K_PROFILE,
    WACHAT_ENVELOPE_K_NAME,
    WACHAT_ENVELOPE_K_FROM,
    WACHAT_ENVELOPE_K_ID,
    WACHAT_ENVELOPE_K_TIMESTAMP,
    WACHAT_ENVELOPE_K_TYPE,
    WACHAT_ENVELOPE_K_FROM_USER_ID,
    WACHAT_ENVELOPE_K_TEXT,
    WACHAT_ENVELOPE_K_BODY,
    WACHAT_ENVELOPE_K_INTERACTIVE,
    WACHAT_ENVELOPE_K_BUTTON_REPLY,
    WACHAT_ENVELOPE_K_LIST_REPLY,
    WACHAT_ENVELOPE_K_TITLE,
    WACHAT_ENVELOPE_K_BUTTON,
    WACHAT_ENVELOPE_K_PAYLOAD,
    WACHAT_ENVELOPE_K_IMAGE,
    WACHAT_ENVELOPE_K_VIDEO,
    WACHAT_ENVELOPE_K_DOCUMENT,
    WACHAT_ENVELOPE_K_CAPTION,
    WACHAT_ENVELOPE_K_REACTION,
    WACHAT_ENVELOPE_K_EMOJI,
    WACHAT_ENVELOPE_K_CONTEXT,
    WACHAT_ENVELOPE_K_ERRORS,
    WACHAT_ENVELOPE_K_CODE,
    WACHAT_ENVELOPE_K_STATUS,
    WACHAT_ENVELOPE_K_RECIPIENT_ID,
    WACHAT_ENVELOPE_K_RECIPIENT_USER_ID,
    WACHAT_ENVELOPE_K_COUNT
} wachat_envelope_key_e;


typedef enum {
    WACHAT_ENVELOPE_V_STRING = 0,
    WACHAT_ENVELOPE_V_NUMBER,
    WACHAT_ENVELOPE_V_LITERAL       /* true, false, null */
} wachat_envelope_value_e;


typedef struct {
    unsigned char  type;    /* wachat_envelope_frame_e */
    unsigned char  key;     /* objects: wachat_envelope_key_e of the member */
    unsigned char  part;    /* F_PART, F_REPLY: wachat_envelope_part_e */
    size_t         start;   /* offset of the opening bracket */
    size_t         n;       /* arrays: items so far; opaque: nesting */
} wachat_envelope_frame_t;


typedef struct {
    wachat_str_t  wa_id;
    wachat_str_t  user_id;
    wachat_str_t  name;
} wachat_envelope_contact_t;


/* one parse: yajl's context in every callback */

typedef struct {
    wachat_envelope_t          *env;
    wachat_envelope_arena_t    *arena;
    yajl_handle                 yajl;
    const char                 *body;
    size_t                      len;
    size_t                      max_depth;
    size_t                      max_events;
    size_t                      nalloc;         /* capacity of env->events */
    size_t                      depth;
    size_t                      last;           /* end of the previous token */
    wachat_envelope_rc_e        rc;             /* why a callback stopped */

    unsigned                    finishing:1;    /* in yajl_complete_parse() */
    unsigned                    shape_bad:1;    /* the whole body is "other" */
    unsigned                    object_ok:1;
    unsigned                    entry_ok:1;
    unsigned                    has_changes:1;  /* of the current entry */
    unsigned                    value_ok:1;     /* of the current change */
    unsigned                    full:1;         /* max_events reached */
    unsigned                    too_many:1;     /* ... and it counts */

    /* the entry being parsed: the WABA's id, for all its events */
    size_t                      entry_first;    /* its first event */
    wachat_str_t                entry_id;

    /* the change being parsed */
    size_t                      change_first;   /* its first event */
    size_t                      nitems;         /* messages[], statuses[] */
    wachat_str_t                field;

    /* the value being parsed */
    size_t                      value_first;
    wachat_str_t                phone_number_id;
    wachat_envelope_contact_t  *contacts;
    size_t                      ncontacts;
    size_t                      ncontacts_alloc;
    wachat_envelope_contact_t   contact;

    /* the message or status being parsed */
    size_t                      item;           /* its index in env->events */
    wachat_str_t                text[WACHAT_ENVELOPE_P_COUNT];
    wachat_str_t                payload[WACHAT_ENVELOPE_P_COUNT];
    wachat_str_t                ia_type;        /* interactive.type */

    size_t                      nframes;
    wachat_envelope_frame_t     frames[WACHAT_ENVELOPE_MAX_FRAMES];
} wachat_envelope_parser_t;


static inline int
wachat_envelope_str_eq(const wachat_str_t *a, const wachat_str_t *b)
{
    return a->data != NULL && b->data != NULL && a->len == b->len
           && memcmp(a->data, b->data, a->len) == 0;
}


/* the offset just after the token of the current callback */

static inline size_t
wachat_envelope_offset(wachat_envelope_parser_t *p)
{
    size_t  off;

    /* yajl_complete_parse() feeds yajl its own " ", not the body */
    if (p->finishing) {
        return p->len;
    }

    off = yajl_get_bytes_consumed(p->yajl);

    return off < p->len ? off : p->len;
}


/* wachat_envelope.c: records why the parse stops; returns 0 for yajl */
int wachat_envelope_fail(wachat_envelope_parser_t *p, wachat_envelope_rc_e rc);

/* wachat_envelope_frames.c */
extern const yajl_callbacks  wachat_envelope_callbacks;

/* wachat_envelope_fields.c */
unsigned char wachat_envelope_key(const char *s, size_t len);
wachat_str_t *wachat_envelope_slot(wachat_envelope_parser_t *p,
    wachat_envelope_frame_t *f, int *strict);
int wachat_envelope_part(unsigned char key);

/* wachat_envelope_events.c */
wachat_envelope_event_t *wachat_envelope_event_add(
    wachat_envelope_parser_t *p, wachat_kind_e kind);
int wachat_envelope_item_other(wachat_envelope_parser_t *p, size_t start,
    size_t end);
int wachat_envelope_body_other(wachat_envelope_parser_t *p);
int wachat_envelope_item_start(wachat_envelope_parser_t *p, int status);
int wachat_envelope_message_end(wachat_envelope_parser_t *p, size_t start,
    size_t end);
int wachat_envelope_status_end(wachat_envelope_parser_t *p, size_t start,
    size_t end);
void wachat_envelope_change_start(wachat_envelope_parser_t *p);
int wachat_envelope_change_end(wachat_envelope_parser_t *p, size_t start,
    size_t end);
void wachat_envelope_value_start(wachat_envelope_parser_t *p);
void wachat_envelope_value_end(wachat_envelope_parser_t *p);
void wachat_envelope_entry_end(wachat_envelope_parser_t *p);
int wachat_envelope_contact_end(wachat_envelope_parser_t *p);

/* wachat_envelope_arena.c */
wachat_envelope_arena_t *wachat_envelope_arena_create(void);
void wachat_envelope_arena_destroy(wachat_envelope_arena_t *a);
void *wachat_envelope_arena_alloc(wachat_envelope_arena_t *a, size_t size,
    size_t align);
void wachat_envelope_arena_yajl(wachat_envelope_arena_t *a,
    yajl_alloc_funcs *funcs);
int wachat_envelope_copy(wachat_envelope_parser_t *p, wachat_str_t *dst,
    const char *s, size_t len);


#endif /* WACHAT_ENVELOPE_INT_H */
