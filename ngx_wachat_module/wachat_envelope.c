/*
 * wachat_envelope: a WhatsApp Cloud API webhook body -> flat events, as
 * documented in docs/events.md.
 *
 * One yajl pass over the whole body.  The levels the contract reads
 * (body, entry, change, value, message, ...) each get a frame on a short
 * fixed stack; any other subtree becomes one opaque frame that only counts
 * its nesting, so memory is bounded by the events and strings kept, not by
 * the shape of the input.
 *
 * Offsets: the body is handed to yajl_parse() in one piece, so during a
 * callback yajl_get_bytes_consumed() is the absolute offset just after the
 * token that triggered it.  That gives "raw" byte-exact slices for free.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <yajl/yajl_parse.h>

#include "wachat_envelope.h"


#define WACHAT_MAX_DEPTH     64
#define WACHAT_MAX_EVENTS    4096

#define WACHAT_BLOCK_SIZE    4096   /* one block holds a typical body */
#define WACHAT_ALIGN         16
#define WACHAT_NEVENTS       4      /* first event array */
#define WACHAT_NCONTACTS     4
#define WACHAT_MAX_FRAMES    16     /* deepest semantic path + 1 opaque */

#define WACHAT_OTHER_PREFIX  "other:"

#define wachat_string(s)     { s, sizeof(s) - 1 }
#define wachat_null_string   { NULL, 0 }


const char  *wachat_field_names[WACHAT_FIELD_COUNT] = {
    "v",
    "kind",
    "id",
    "from",
    "recipient",
    "user_id",
    "name",
    "phone_number_id",
    "ts",
    "type",
    "text",
    "payload",
    "context",
    "status",
    "error_code",
    "raw"
};


const size_t  wachat_field_name_lens[WACHAT_FIELD_COUNT] = {
    1, 4, 2, 4, 9, 7, 4, 15, 2, 4, 4, 7, 7, 6, 10, 3
};


/* arena: chained malloc blocks, freed all at once */

typedef struct wachat_block_s  wachat_block_t;

struct wachat_block_s {
    wachat_block_t  *next;
};

struct wachat_arena_s {
    wachat_block_t  *blocks;    /* all blocks but the one holding the arena */
    char            *pos;       /* free space of the current block */
    char            *end;
};


/* frames: what the innermost open container means */

typedef enum {
    WACHAT_F_BODY = 0,
    WACHAT_F_ENTRIES,
    WACHAT_F_ENTRY,
    WACHAT_F_CHANGES,
    WACHAT_F_CHANGE,
    WACHAT_F_VALUE,
    WACHAT_F_METADATA,
    WACHAT_F_CONTACTS,
    WACHAT_F_CONTACT,
    WACHAT_F_PROFILE,
    WACHAT_F_MESSAGES,
    WACHAT_F_STATUSES,
    WACHAT_F_MESSAGE,
    WACHAT_F_STATUS,
    WACHAT_F_PART,          /* text, button, image, ... of a message */
    WACHAT_F_REPLY,         /* interactive.button_reply / list_reply */
    WACHAT_F_ERRORS,
    WACHAT_F_ERROR,         /* errors[0] */
    WACHAT_F_SKIP,          /* opaque: nobody reads it */
    WACHAT_F_ITEM           /* opaque: an array item of messages[]: raw */
} wachat_frame_e;


/* message parts that carry "text" / "payload" */

typedef enum {
    WACHAT_P_TEXT = 0,
    WACHAT_P_BUTTON,
    WACHAT_P_IMAGE,
    WACHAT_P_VIDEO,
    WACHAT_P_DOCUMENT,
    WACHAT_P_REACTION,
    WACHAT_P_BUTTON_REPLY,
    WACHAT_P_LIST_REPLY,
    WACHAT_P_INTERACTIVE,
    WACHAT_P_CONTEXT,
    WACHAT_P_COUNT
} wachat_part_e;


/* the keys the contract reads; order matches wachat_keys[] */

typedef enum {
    WACHAT_K_NONE = 0,
    WACHAT_K_OBJECT,
    WACHAT_K_ENTRY,
    WACHAT_K_CHANGES,
    WACHAT_K_FIELD,
    WACHAT_K_VALUE,
    WACHAT_K_METADATA,
    WACHAT_K_PHONE_NUMBER_ID,
    WACHAT_K_CONTACTS,
    WACHAT_K_MESSAGES,
    WACHAT_K_STATUSES,
    WACHAT_K_WA_ID,
    WACHAT_K_USER_ID,
    WACHAT_K_PROFILE,
    WACHAT_K_NAME,
    WACHAT_K_FROM,
    WACHAT_K_ID,
    WACHAT_K_TIMESTAMP,
    WACHAT_K_TYPE,
    WACHAT_K_FROM_USER_ID,
    WACHAT_K_TEXT,
    WACHAT_K_BODY,
    WACHAT_K_INTERACTIVE,
    WACHAT_K_BUTTON_REPLY,
    WACHAT_K_LIST_REPLY,
    WACHAT_K_TITLE,
    WACHAT_K_BUTTON,
    WACHAT_K_PAYLOAD,
    WACHAT_K_IMAGE,
    WACHAT_K_VIDEO,
    WACHAT_K_DOCUMENT,
    WACHAT_K_CAPTION,
    WACHAT_K_REACTION,
    WACHAT_K_EMOJI,
    WACHAT_K_CONTEXT,
    WACHAT_K_ERRORS,
    WACHAT_K_CODE,
    WACHAT_K_STATUS,
    WACHAT_K_RECIPIENT_ID,
    WACHAT_K_RECIPIENT_USER_ID,
    WACHAT_K_COUNT
} wachat_key_e;


typedef enum {
    WACHAT_V_STRING = 0,
    WACHAT_V_NUMBER,
    WACHAT_V_LITERAL        /* true, false, null */
} wachat_value_e;


typedef struct {
    unsigned char  type;    /* wachat_frame_e */
    unsigned char  key;     /* objects: wachat_key_e of the current member */
    unsigned char  part;    /* WACHAT_F_PART, WACHAT_F_REPLY */
    size_t         start;   /* offset of the opening bracket */
    size_t         n;       /* arrays: items so far; opaque: nesting */
} wachat_frame_t;


typedef struct {
    wachat_str_t  wa_id;
    wachat_str_t  user_id;
    wachat_str_t  name;
} wachat_contact_t;


typedef struct {
    wachat_envelope_t     *env;
    wachat_arena_t        *arena;
    yajl_handle            yajl;
    const char            *body;
    size_t                 len;
    size_t                 max_depth;
    size_t                 max_events;
    size_t                 nalloc;          /* capacity of env->events */
    size_t                 depth;
    size_t                 last;            /* end of the previous token */
    wachat_envelope_rc_e   rc;              /* why a callback stopped yajl */

    unsigned               finishing:1;     /* in yajl_complete_parse() */
    unsigned               shape_bad:1;     /* the whole body is "other" */
    unsigned               object_ok:1;
    unsigned               entry_ok:1;
    unsigned               has_changes:1;   /* of the current entry */
    unsigned               value_ok:1;      /* of the current change */
    unsigned               full:1;          /* max_events reached */
    unsigned               too_many:1;      /* ... and it counts */

    /* the change being parsed */
    size_t                 change_first;    /* its first event */
    size_t                 nitems;          /* messages[], statuses[] items */
    wachat_str_t           field;

    /* the value being parsed */
    size_t                 value_first;
    wachat_str_t           phone_number_id;
    wachat_contact_t      *contacts;
    size_t                 ncontacts;
    size_t                 ncontacts_alloc;
    wachat_contact_t       contact;

    /* the message or status being parsed */
    size_t                 item;            /* its index in env->events */
    wachat_str_t           text[WACHAT_P_COUNT];
    wachat_str_t           payload[WACHAT_P_COUNT];
    wachat_str_t           ia_type;         /* interactive.type */

    size_t                 nframes;
    wachat_frame_t         frames[WACHAT_MAX_FRAMES];
} wachat_parse_t;


static const wachat_str_t  wachat_keys[WACHAT_K_COUNT] = {
    wachat_null_string,
    wachat_string("object"),
    wachat_string("entry"),
    wachat_string("changes"),
    wachat_string("field"),
    wachat_string("value"),
    wachat_string("metadata"),
    wachat_string("phone_number_id"),
    wachat_string("contacts"),
    wachat_string("messages"),
    wachat_string("statuses"),
    wachat_string("wa_id"),
    wachat_string("user_id"),
    wachat_string("profile"),
    wachat_string("name"),
    wachat_string("from"),
    wachat_string("id"),
    wachat_string("timestamp"),
    wachat_string("type"),
    wachat_string("from_user_id"),
    wachat_string("text"),
    wachat_string("body"),
    wachat_string("interactive"),
    wachat_string("button_reply"),
    wachat_string("list_reply"),
    wachat_string("title"),
    wachat_string("button"),
    wachat_string("payload"),
    wachat_string("image"),
    wachat_string("video"),
    wachat_string("document"),
    wachat_string("caption"),
    wachat_string("reaction"),
    wachat_string("emoji"),
    wachat_string("context"),
    wachat_string("errors"),
    wachat_string("code"),
    wachat_string("status"),
    wachat_string("recipient_id"),
    wachat_string("recipient_user_id")
};


/* message type -> the part whose text/payload the event carries */

typedef struct {
    wachat_str_t   type;
    wachat_part_e  part;
} wachat_type_part_t;

static const wachat_type_part_t  wachat_type_parts[] = {
    { wachat_string("text"), WACHAT_P_TEXT },
    { wachat_string("button"), WACHAT_P_BUTTON },
    { wachat_string("image"), WACHAT_P_IMAGE },
    { wachat_string("video"), WACHAT_P_VIDEO },
    { wachat_string("document"), WACHAT_P_DOCUMENT },
    { wachat_string("reaction"), WACHAT_P_REACTION }
};


static const wachat_str_t  wachat_version = wachat_string(WACHAT_EVENT_VERSION);
static const wachat_str_t  wachat_kind_message = wachat_string("message");
static const wachat_str_t  wachat_kind_status = wachat_string("status");
static const wachat_str_t  wachat_kind_other = wachat_string("other");
static const wachat_str_t  wachat_messages = wachat_string("messages");
static const wachat_str_t  wachat_unknown = wachat_string("unknown");
static const wachat_str_t  wachat_interactive = wachat_string("interactive");
static const wachat_str_t  wachat_button_reply = wachat_string("button_reply");
static const wachat_str_t  wachat_list_reply = wachat_string("list_reply");
static const wachat_str_t  wachat_waba =
    wachat_string("whatsapp_business_account");


/* arena */

static wachat_arena_t *
wachat_arena_create(void)
{
    wachat_arena_t  *a;

    /* the first block shares the arena's malloc */
    a = malloc(sizeof(wachat_arena_t) + WACHAT_BLOCK_SIZE);
    if (a == NULL) {
        return NULL;
    }

    a->blocks = NULL;
    a->pos = (char *) (a + 1);
    a->end = a->pos + WACHAT_BLOCK_SIZE;

    return a;
}


static void
wachat_arena_destroy(wachat_arena_t *a)
{
    wachat_block_t  *b, *next;

    for (b = a->blocks; b != NULL; b = next) {
        next = b->next;
        free(b);
    }

    free(a);
}


static size_t
wachat_pad(const char *p, size_t align)
{
    return (align - ((uintptr_t) p & (align - 1))) & (align - 1);
}


static void *
wachat_arena_alloc(wachat_arena_t *a, size_t size, size_t align)
{
    int              own;
    char            *p;
    size_t           pad, avail, bsize;
    wachat_block_t  *b;

    pad = wachat_pad(a->pos, align);
    avail = (size_t) (a->end - a->pos);

    if (pad <= avail && size <= avail - pad) {
        p = a->pos + pad;
        a->pos = p + size;
        return p;
    }

    if (size > SIZE_MAX - sizeof(wachat_block_t) - align) {
        return NULL;
    }

    /* a big chunk gets a block of its own; the current block stays */
    own = (size + align > WACHAT_BLOCK_SIZE / 4);
    bsize = own ? size + align : WACHAT_BLOCK_SIZE;

    b = malloc(sizeof(wachat_block_t) + bsize);
    if (b == NULL) {
        return NULL;
    }

    b->next = a->blocks;
    a->blocks = b;

    p = (char *) (b + 1);
    p += wachat_pad(p, align);

    if (!own) {
        a->pos = p + size;
        a->end = (char *) (b + 1) + bsize;
    }

    return p;
}


/*
 * yajl's own allocations (handle, lexer, byte stack, decode buffer) come
 * from the arena as well: one parse, one malloc in the common case.  Each
 * chunk remembers its size for realloc; free is a no-op, the arena goes
 * with the envelope.
 */

#define WACHAT_YAJL_HEADER  16

static void *
wachat_yajl_malloc(void *ctx, size_t size)
{
    char  *p;

    if (size > SIZE_MAX - WACHAT_YAJL_HEADER) {
        return NULL;
    }

    p = wachat_arena_alloc(ctx, WACHAT_YAJL_HEADER + size, WACHAT_YAJL_HEADER);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, &size, sizeof(size_t));

    return p + WACHAT_YAJL_HEADER;
}


static void *
wachat_yajl_realloc(void *ctx, void *ptr, size_t size)
{
    char    *p;
    size_t   old;

    if (ptr == NULL) {
        return wachat_yajl_malloc(ctx, size);
    }

    memcpy(&old, (char *) ptr - WACHAT_YAJL_HEADER, sizeof(size_t));

    if (size <= old) {
        return ptr;
    }

    p = wachat_yajl_malloc(ctx, size);
    if (p != NULL) {
        memcpy(p, ptr, old);
    }

    return p;
}


static void
wachat_yajl_free(void *ctx, void *ptr)
{
    (void) ctx;
    (void) ptr;
}


/* helpers */

static int
wachat_str_eq(const wachat_str_t *a, const wachat_str_t *b)
{
    return a->data != NULL && b->data != NULL && a->len == b->len
           && memcmp(a->data, b->data, a->len) == 0;
}


static int
wachat_fail(wachat_parse_t *p, wachat_envelope_rc_e rc)
{
    wachat_envelope_t  *env;

    env = p->env;
    p->rc = rc;

    switch (rc) {

    case WACHAT_ENVELOPE_TOO_DEEP:
        snprintf(env->error, sizeof(env->error),
                 "JSON nested deeper than %zu levels", p->max_depth);
        break;

    case WACHAT_ENVELOPE_TOO_MANY:
        snprintf(env->error, sizeof(env->error),
                 "more than %zu events", p->max_events);
        break;

    default:
        snprintf(env->error, sizeof(env->error), "out of memory");
        break;
    }

    return 0;
}


static int
wachat_copy(wachat_parse_t *p, wachat_str_t *dst, const char *s, size_t len)
{
    char  *d;

    /* yajl's buffers are reused at the next token: keep our own copy */

    if (len == 0) {
        dst->data = "";
        dst->len = 0;
        return 1;
    }

    d = wachat_arena_alloc(p->arena, len, 1);
    if (d == NULL) {
        return wachat_fail(p, WACHAT_ENVELOPE_NOMEM);
    }

    memcpy(d, s, len);
    dst->data = d;
    dst->len = len;

    return 1;
}


static size_t
wachat_offset(wachat_parse_t *p)
{
    size_t  off;

    /* yajl_complete_parse() feeds yajl its own " ", not the body */
    if (p->finishing) {
        return p->len;
    }

    off = yajl_get_bytes_consumed(p->yajl);

    return off < p->len ? off : p->len;
}


static size_t
wachat_token_start(wachat_parse_t *p, size_t from, size_t end)
{
    /*
     * Between two tokens that reach a callback there is only this; yajl
     * takes \v and \f for white space too (RFC 8259 does not).
     */

    while (from < end) {

        switch (p->body[from]) {
        case ' ':
        case '\t':
        case '\n':
        case '\v':
        case '\f':
        case '\r':
        case ',':
        case ':':
            from++;
            continue;
        }

        break;
    }

    return from;
}


static unsigned char
wachat_key(const char *s, size_t len)
{
    size_t  i;

    for (i = 1; i < WACHAT_K_COUNT; i++) {
        if (wachat_keys[i].len == len
            && memcmp(wachat_keys[i].data, s, len) == 0)
        {
            return (unsigned char) i;
        }
    }

    return WACHAT_K_NONE;
}


/* events */

static wachat_event_t *
wachat_event_add(wachat_parse_t *p, const wachat_str_t *kind)
{
    size_t              n;
    wachat_event_t     *ev, *events;
    wachat_envelope_t  *env;

    env = p->env;

    if (p->full) {
        return NULL;
    }

    if (env->nevents >= p->max_events) {
        /* not an error yet: the change may still turn into one "other" */
        p->full = 1;
        return NULL;
    }

    if (env->nevents == p->nalloc) {

        if (p->nalloc > SIZE_MAX / 2 / sizeof(wachat_event_t)) {
            wachat_fail(p, WACHAT_ENVELOPE_NOMEM);
            return NULL;
        }

        n = p->nalloc ? p->nalloc * 2 : WACHAT_NEVENTS;

        events = wachat_arena_alloc(p->arena, n * sizeof(wachat_event_t),
                                    WACHAT_ALIGN);
        if (events == NULL) {
            wachat_fail(p, WACHAT_ENVELOPE_NOMEM);
            return NULL;
        }

        if (env->nevents) {
            memcpy(events, env->events,
                   env->nevents * sizeof(wachat_event_t));
        }

        env->events = events;
        p->nalloc = n;
    }

    ev = &env->events[env->nevents++];

    memset(ev, 0, sizeof(wachat_event_t));
    ev->field[WACHAT_FIELD_V] = wachat_version;
    ev->field[WACHAT_FIELD_KIND] = *kind;

    return ev;
}


static int
wachat_other_fill(wachat_parse_t *p, wachat_event_t *ev,
    const wachat_str_t *type, size_t start, size_t end)
{
    char                  *d;
    size_t                 i;
    const unsigned char   *raw;
    unsigned char          md[SHA256_DIGEST_LENGTH];
    static const char      hex[] = "0123456789abcdef";

    raw = (const unsigned char *) p->body + start;

    ev->field[WACHAT_FIELD_TYPE] = *type;
    ev->field[WACHAT_FIELD_RAW].data = (const char *) raw;
    ev->field[WACHAT_FIELD_RAW].len = end - start;

    d = wachat_arena_alloc(p->arena,
                           sizeof(WACHAT_OTHER_PREFIX) - 1
                           + 2 * SHA256_DIGEST_LENGTH, 1);
    if (d == NULL) {
        return wachat_fail(p, WACHAT_ENVELOPE_NOMEM);
    }

    SHA256(raw, end - start, md);

    ev->dedup.data = d;
    ev->dedup.len = sizeof(WACHAT_OTHER_PREFIX) - 1
                    + 2 * SHA256_DIGEST_LENGTH;

    memcpy(d, WACHAT_OTHER_PREFIX, sizeof(WACHAT_OTHER_PREFIX) - 1);
    d += sizeof(WACHAT_OTHER_PREFIX) - 1;

    for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        *d++ = hex[md[i] >> 4];
        *d++ = hex[md[i] & 0xf];
    }

    return 1;
}


static int
wachat_other(wachat_parse_t *p, const wachat_str_t *type, size_t start,
    size_t end)
{
    wachat_event_t  *ev;

    ev = wachat_event_add(p, &wachat_kind_other);
    if (ev == NULL) {
        return p->rc == WACHAT_ENVELOPE_OK;
    }

    return wachat_other_fill(p, ev, type, start, end);
}


static int
wachat_item_other(wachat_parse_t *p, wachat_event_t *ev, size_t start,
    size_t end)
{
    /* the item keeps its place in the event order */

    memset(ev, 0, sizeof(wachat_event_t));
    ev->field[WACHAT_FIELD_V] = wachat_version;
    ev->field[WACHAT_FIELD_KIND] = wachat_kind_other;

    return wachat_other_fill(p, ev, &wachat_messages, start, end);
}


/* messages and statuses */

static int
wachat_item_start(wachat_parse_t *p, int status)
{
    wachat_event_t  *ev;

    ev = wachat_event_add(p, status ? &wachat_kind_status
                                    : &wachat_kind_message);
    if (ev == NULL) {
        /* full: the item still counts (nitems), its fields do not */
        return p->rc == WACHAT_ENVELOPE_OK ? WACHAT_F_SKIP : -1;
    }

    p->item = (size_t) (ev - p->env->events);

    memset(p->text, 0, sizeof(p->text));
    memset(p->payload, 0, sizeof(p->payload));
    p->ia_type.data = NULL;
    p->ia_type.len = 0;

    return status ? WACHAT_F_STATUS : WACHAT_F_MESSAGE;
}


static int
wachat_text_part(wachat_parse_t *p, const wachat_str_t *type)
{
    size_t  i;

    for (i = 0; i < sizeof(wachat_type_parts) / sizeof(wachat_type_parts[0]);
         i++)
    {
        if (wachat_str_eq(type, &wachat_type_parts[i].type)) {
            return wachat_type_parts[i].part;
        }
    }

    if (!wachat_str_eq(type, &wachat_interactive)) {
        return -1;
    }

    if (wachat_str_eq(&p->ia_type, &wachat_list_reply)) {
        return WACHAT_P_LIST_REPLY;
    }

    if (wachat_str_eq(&p->ia_type, &wachat_button_reply)
        || p->text[WACHAT_P_BUTTON_REPLY].data != NULL
        || p->payload[WACHAT_P_BUTTON_REPLY].data != NULL)
    {
        return WACHAT_P_BUTTON_REPLY;
    }

    return WACHAT_P_LIST_REPLY;
}


static int
wachat_message_end(wachat_parse_t *p, size_t start, size_t end)
{
    int              part;
    wachat_event_t  *ev;

    ev = &p->env->events[p->item];

    if (ev->field[WACHAT_FIELD_ID].len == 0) {
        return wachat_item_other(p, ev, start, end);
    }

    ev->field[WACHAT_FIELD_RAW].data = p->body + start;
    ev->field[WACHAT_FIELD_RAW].len = end - start;
    ev->dedup = ev->field[WACHAT_FIELD_ID];

    part = wachat_text_part(p, &ev->field[WACHAT_FIELD_TYPE]);

    if (part >= 0) {
        ev->field[WACHAT_FIELD_TEXT] = p->text[part];
        ev->field[WACHAT_FIELD_PAYLOAD] = p->payload[part];
    }

    return 1;
}


static int
wachat_status_end(wachat_parse_t *p, size_t start, size_t end)
{
    char            *d;
    wachat_str_t    *id, *status;
    wachat_event_t  *ev;

    ev = &p->env->events[p->item];
    id = &ev->field[WACHAT_FIELD_ID];
    status = &ev->field[WACHAT_FIELD_STATUS];

    if (id->len == 0 || status->len == 0) {
        return wachat_item_other(p, ev, start, end);
    }

    ev->field[WACHAT_FIELD_RAW].data = p->body + start;
    ev->field[WACHAT_FIELD_RAW].len = end - start;

    /* both are copies of body text, so the sum cannot overflow */
    d = wachat_arena_alloc(p->arena, id->len + 1 + status->len, 1);
    if (d == NULL) {
        return wachat_fail(p, WACHAT_ENVELOPE_NOMEM);
    }

    ev->dedup.data = d;
    ev->dedup.len = id->len + 1 + status->len;

    memcpy(d, id->data, id->len);
    d[id->len] = ':';
    memcpy(d + id->len + 1, status->data, status->len);

    return 1;
}


/* changes and values */

static void
wachat_change_start(wachat_parse_t *p)
{
    p->change_first = p->env->nevents;
    p->nitems = 0;
    p->value_ok = 0;
    p->field.data = NULL;
    p->field.len = 0;
}


static int
wachat_change_end(wachat_parse_t *p, size_t start, size_t end)
{
    if (p->value_ok && p->nitems && wachat_str_eq(&p->field, &wachat_messages))
    {
        if (p->full) {
            p->too_many = 1;
        }

        return 1;
    }

    /* not a messages change after all: its items are replaced by one event */

    p->env->nevents = p->change_first;
    p->full = p->too_many;

    if (!wachat_other(p, p->field.data ? &p->field : &wachat_unknown,
                      start, end))
    {
        return 0;
    }

    if (p->full) {
        p->too_many = 1;
    }

    return 1;
}


static void
wachat_value_start(wachat_parse_t *p)
{
    p->value_ok = 1;
    p->value_first = p->env->nevents;
    p->phone_number_id.data = NULL;
    p->phone_number_id.len = 0;
    p->ncontacts = 0;
}


static wachat_contact_t *
wachat_contact_find(wachat_parse_t *p, wachat_event_t *ev, int message)
{
    size_t         i;
    wachat_str_t  *who, *user_id;

    who = &ev->field[message ? WACHAT_FIELD_FROM : WACHAT_FIELD_RECIPIENT];
    user_id = &ev->field[WACHAT_FIELD_USER_ID];

    if (who->data != NULL) {
        for (i = 0; i < p->ncontacts; i++) {
            if (wachat_str_eq(who, &p->contacts[i].wa_id)) {
                return &p->contacts[i];
            }
        }
    }

    if (user_id->data != NULL) {
        for (i = 0; i < p->ncontacts; i++) {
            if (wachat_str_eq(user_id, &p->contacts[i].user_id)) {
                return &p->contacts[i];
            }
        }
    }

    /*
     * wa_id and "from" may differ (country number formats); a change
     * with one contact is about that contact
     */
    if (message && p->ncontacts == 1) {
        return &p->contacts[0];
    }

    return NULL;
}


static void
wachat_value_end(wachat_parse_t *p)
{
    int                message;
    size_t             i;
    wachat_event_t    *ev;
    wachat_contact_t  *c;

    /* metadata and contacts may come after messages: resolve them now */

    for (i = p->value_first; i < p->env->nevents; i++) {
        ev = &p->env->events[i];

        if (ev->field[WACHAT_FIELD_KIND].data == wachat_kind_other.data) {
            continue;
        }

        message = (ev->field[WACHAT_FIELD_KIND].data
                   == wachat_kind_message.data);

        if (p->phone_number_id.data != NULL) {
            ev->field[WACHAT_FIELD_PHONE_NUMBER_ID] = p->phone_number_id;
        }

        c = wachat_contact_find(p, ev, message);
        if (c == NULL) {
            continue;
        }

        if (ev->field[WACHAT_FIELD_USER_ID].data == NULL) {
            ev->field[WACHAT_FIELD_USER_ID] = c->user_id;
        }

        if (message) {
            ev->field[WACHAT_FIELD_NAME] = c->name;
        }
    }
}


static int
wachat_contact_end(wachat_parse_t *p)
{
    size_t             n;
    wachat_contact_t  *c, *contacts;

    c = &p->contact;

    if (c->wa_id.data == NULL && c->user_id.data == NULL
        && c->name.data == NULL)
    {
        return 1;
    }

    /* bounds the matching work at value end */
    if (p->ncontacts >= p->max_events) {
        return 1;
    }

    if (p->ncontacts == p->ncontacts_alloc) {

        if (p->ncontacts_alloc > SIZE_MAX / 2 / sizeof(wachat_contact_t)) {
            return wachat_fail(p, WACHAT_ENVELOPE_NOMEM);
        }

        n = p->ncontacts_alloc ? p->ncontacts_alloc * 2 : WACHAT_NCONTACTS;

        contacts = wachat_arena_alloc(p->arena, n * sizeof(wachat_contact_t),
                                      WACHAT_ALIGN);
        if (contacts == NULL) {
            return wachat_fail(p, WACHAT_ENVELOPE_NOMEM);
        }

        if (p->ncontacts) {
            memcpy(contacts, p->contacts,
                   p->ncontacts * sizeof(wachat_contact_t));
        }

        p->contacts = contacts;
        p->ncontacts_alloc = n;
    }

    p->contacts[p->ncontacts++] = *c;

    return 1;
}


/* dispatch */

/*
 * The slot a scalar member of object frame f is stored in, or NULL.
 * *strict: only a string counts (ids, "status", "field").
 */
static wachat_str_t *
wachat_slot(wachat_parse_t *p, wachat_frame_t *f, int *strict)
{
    wachat_event_t  *ev;

    *strict = 0;

    /* these frames only exist inside a message or status with an event */
    ev = (f->type >= WACHAT_F_MESSAGE && f->type <= WACHAT_F_ERROR)
         ? &p->env->events[p->item] : NULL;

    switch (f->type) {

    case WACHAT_F_CHANGE:
        *strict = 1;
        return f->key == WACHAT_K_FIELD ? &p->field : NULL;

    case WACHAT_F_METADATA:
        return f->key == WACHAT_K_PHONE_NUMBER_ID ? &p->phone_number_id
                                                   : NULL;

    case WACHAT_F_CONTACT:
        switch (f->key) {
        case WACHAT_K_WA_ID:
            return &p->contact.wa_id;
        case WACHAT_K_USER_ID:
            return &p->contact.user_id;
        }
        return NULL;

    case WACHAT_F_PROFILE:
        return f->key == WACHAT_K_NAME ? &p->contact.name : NULL;

    case WACHAT_F_MESSAGE:
        switch (f->key) {
        case WACHAT_K_ID:
            *strict = 1;
            return &ev->field[WACHAT_FIELD_ID];
        case WACHAT_K_FROM:
            return &ev->field[WACHAT_FIELD_FROM];
        case WACHAT_K_FROM_USER_ID:
            return &ev->field[WACHAT_FIELD_USER_ID];
        case WACHAT_K_TIMESTAMP:
            return &ev->field[WACHAT_FIELD_TS];
        case WACHAT_K_TYPE:
            return &ev->field[WACHAT_FIELD_TYPE];
        }
        return NULL;

    case WACHAT_F_STATUS:
        switch (f->key) {
        case WACHAT_K_ID:
            *strict = 1;
            return &ev->field[WACHAT_FIELD_ID];
        case WACHAT_K_STATUS:
            *strict = 1;
            return &ev->field[WACHAT_FIELD_STATUS];
        case WACHAT_K_TIMESTAMP:
            return &ev->field[WACHAT_FIELD_TS];
        case WACHAT_K_RECIPIENT_ID:
            return &ev->field[WACHAT_FIELD_RECIPIENT];
        case WACHAT_K_RECIPIENT_USER_ID:
            return &ev->field[WACHAT_FIELD_USER_ID];
        }
        return NULL;

    case WACHAT_F_PART:
        switch (f->part) {
        case WACHAT_P_TEXT:
            return f->key == WACHAT_K_BODY ? &p->text[f->part] : NULL;
        case WACHAT_P_BUTTON:
            if (f->key == WACHAT_K_PAYLOAD) {
                return &p->payload[f->part];
            }
            return f->key == WACHAT_K_TEXT ? &p->text[f->part] : NULL;
        case WACHAT_P_REACTION:
            return f->key == WACHAT_K_EMOJI ? &p->text[f->part] : NULL;
        case WACHAT_P_INTERACTIVE:
            return f->key == WACHAT_K_TYPE ? &p->ia_type : NULL;
        case WACHAT_P_CONTEXT:
            return f->key == WACHAT_K_ID ? &ev->field[WACHAT_FIELD_CONTEXT]
                                         : NULL;
        default:    /* image, video, document */
            return f->key == WACHAT_K_CAPTION ? &p->text[f->part] : NULL;
        }

    case WACHAT_F_REPLY:
        if (f->key == WACHAT_K_ID) {
            return &p->payload[f->part];
        }
        return f->key == WACHAT_K_TITLE ? &p->text[f->part] : NULL;

    case WACHAT_F_ERROR:
        return f->key == WACHAT_K_CODE ? &ev->field[WACHAT_FIELD_ERROR_CODE]
                                       : NULL;
    }

    return NULL;
}


static int
wachat_part(unsigned char key)
{
    switch (key) {
    case WACHAT_K_TEXT:
        return WACHAT_P_TEXT;
    case WACHAT_K_BUTTON:
        return WACHAT_P_BUTTON;
    case WACHAT_K_IMAGE:
        return WACHAT_P_IMAGE;
    case WACHAT_K_VIDEO:
        return WACHAT_P_VIDEO;
    case WACHAT_K_DOCUMENT:
        return WACHAT_P_DOCUMENT;
    case WACHAT_K_REACTION:
        return WACHAT_P_REACTION;
    case WACHAT_K_INTERACTIVE:
        return WACHAT_P_INTERACTIVE;
    case WACHAT_K_CONTEXT:
        return WACHAT_P_CONTEXT;
    }

    return -1;
}


/* The frame a container opened inside f becomes; -1 on error. */
static int
wachat_container(wachat_parse_t *p, wachat_frame_t *f, int map, int *part)
{
    int  k;

    k = f->key;

    switch (f->type) {

    case WACHAT_F_BODY:
        if (k == WACHAT_K_ENTRY && !map) {
            p->entry_ok = 1;
            return WACHAT_F_ENTRIES;
        }

        if (k == WACHAT_K_ENTRY || k == WACHAT_K_OBJECT) {
            p->shape_bad = 1;
        }

        return WACHAT_F_SKIP;

    case WACHAT_F_ENTRIES:
        if (map) {
            p->has_changes = 0;
            return WACHAT_F_ENTRY;
        }

        p->shape_bad = 1;
        return WACHAT_F_SKIP;

    case WACHAT_F_ENTRY:
        if (k == WACHAT_K_CHANGES) {
            if (!map) {
                p->has_changes = 1;
                return WACHAT_F_CHANGES;
            }

            p->shape_bad = 1;
        }

        return WACHAT_F_SKIP;

    case WACHAT_F_CHANGES:
        if (map) {
            wachat_change_start(p);
            return WACHAT_F_CHANGE;
        }

        p->shape_bad = 1;
        return WACHAT_F_SKIP;

    case WACHAT_F_CHANGE:
        if (k == WACHAT_K_VALUE && map) {
            wachat_value_start(p);
            return WACHAT_F_VALUE;
        }

        return WACHAT_F_SKIP;

    case WACHAT_F_VALUE:
        switch (k) {
        case WACHAT_K_METADATA:
            return map ? WACHAT_F_METADATA : WACHAT_F_SKIP;
        case WACHAT_K_CONTACTS:
            return map ? WACHAT_F_SKIP : WACHAT_F_CONTACTS;
        case WACHAT_K_MESSAGES:
            return map ? WACHAT_F_SKIP : WACHAT_F_MESSAGES;
        case WACHAT_K_STATUSES:
            return map ? WACHAT_F_SKIP : WACHAT_F_STATUSES;
        }

        return WACHAT_F_SKIP;

    case WACHAT_F_CONTACTS:
        if (map) {
            memset(&p->contact, 0, sizeof(wachat_contact_t));
            return WACHAT_F_CONTACT;
        }

        return WACHAT_F_SKIP;

    case WACHAT_F_CONTACT:
        return (k == WACHAT_K_PROFILE && map) ? WACHAT_F_PROFILE
                                              : WACHAT_F_SKIP;

    case WACHAT_F_MESSAGES:
    case WACHAT_F_STATUSES:
        p->nitems++;

        if (!map) {
            return WACHAT_F_ITEM;
        }

        return wachat_item_start(p, f->type == WACHAT_F_STATUSES);

    case WACHAT_F_MESSAGE:
        if (!map) {
            return k == WACHAT_K_ERRORS ? WACHAT_F_ERRORS : WACHAT_F_SKIP;
        }

        *part = wachat_part(f->key);
        return *part >= 0 ? WACHAT_F_PART : WACHAT_F_SKIP;

    case WACHAT_F_STATUS:
        return (k == WACHAT_K_ERRORS && !map) ? WACHAT_F_ERRORS
                                              : WACHAT_F_SKIP;

    case WACHAT_F_PART:
        if (f->part != WACHAT_P_INTERACTIVE || !map) {
            return WACHAT_F_SKIP;
        }

        if (k == WACHAT_K_BUTTON_REPLY) {
            *part = WACHAT_P_BUTTON_REPLY;
            return WACHAT_F_REPLY;
        }

        if (k == WACHAT_K_LIST_REPLY) {
            *part = WACHAT_P_LIST_REPLY;
            return WACHAT_F_REPLY;
        }

        return WACHAT_F_SKIP;

    case WACHAT_F_ERRORS:
        /* only errors[0] is read */
        if (f->n++ == 0 && map) {
            return WACHAT_F_ERROR;
        }

        return WACHAT_F_SKIP;
    }

    return WACHAT_F_SKIP;
}


static int
wachat_is_array(wachat_frame_t *f)
{
    switch (f->type) {
    case WACHAT_F_ENTRIES:
    case WACHAT_F_CHANGES:
    case WACHAT_F_CONTACTS:
    case WACHAT_F_MESSAGES:
    case WACHAT_F_STATUSES:
    case WACHAT_F_ERRORS:
        return 1;
    }

    return 0;
}


static void
wachat_clear_slot(wachat_parse_t *p, wachat_frame_t *f)
{
    int            strict;
    wachat_str_t  *dst;

    /* a later duplicate key wins, even when it is no string */

    if (wachat_is_array(f)) {
        return;
    }

    dst = wachat_slot(p, f, &strict);
    if (dst != NULL) {
        dst->data = NULL;
        dst->len = 0;
    }
}


static int
wachat_start(wachat_parse_t *p, int map)
{
    int              type, part;
    size_t           start;
    wachat_frame_t  *f;

    start = wachat_offset(p);
    p->last = start;
    start = start ? start - 1 : 0;

    if (++p->depth > p->max_depth) {
        return wachat_fail(p, WACHAT_ENVELOPE_TOO_DEEP);
    }

    part = 0;

    if (p->nframes == 0) {
        if (map) {
            type = WACHAT_F_BODY;

        } else {
            p->shape_bad = 1;
            type = WACHAT_F_SKIP;
        }

    } else {
        f = &p->frames[p->nframes - 1];

        if (f->type >= WACHAT_F_SKIP) {
            f->n++;
            return 1;
        }

        wachat_clear_slot(p, f);

        if (p->shape_bad) {
            /* the body becomes one event anyway */
            type = WACHAT_F_SKIP;

        } else {
            type = wachat_container(p, f, map, &part);
            if (type < 0) {
                return 0;
            }
        }
    }

    /* semantic paths are shorter than the stack; just in case */
    if (p->nframes == WACHAT_MAX_FRAMES) {
        return wachat_fail(p, WACHAT_ENVELOPE_NOMEM);
    }

    f = &p->frames[p->nframes++];
    f->type = (unsigned char) type;
    f->key = WACHAT_K_NONE;
    f->part = (unsigned char) part;
    f->start = start;
    f->n = 0;

    return 1;
}


static int
wachat_end(wachat_parse_t *p)
{
    size_t           end;
    wachat_frame_t  *f;

    end = wachat_offset(p);
    p->last = end;
    p->depth--;

    if (p->nframes == 0) {
        return 1;
    }

    f = &p->frames[p->nframes - 1];

    if (f->type >= WACHAT_F_SKIP && f->n > 0) {
        f->n--;
        return 1;
    }

    p->nframes--;

    switch (f->type) {

    case WACHAT_F_ITEM:
        return wachat_other(p, &wachat_messages, f->start, end);

    case WACHAT_F_ENTRY:
        if (!p->has_changes) {
            p->shape_bad = 1;
        }
        return 1;

    case WACHAT_F_CHANGE:
        return wachat_change_end(p, f->start, end);

    case WACHAT_F_VALUE:
        wachat_value_end(p);
        return 1;

    case WACHAT_F_CONTACT:
        return wachat_contact_end(p);

    case WACHAT_F_MESSAGE:
        return wachat_message_end(p, f->start, end);

    case WACHAT_F_STATUS:
        return wachat_status_end(p, f->start, end);
    }

    return 1;
}


static int
wachat_scalar(wachat_parse_t *p, const char *s, size_t len, int vt)
{
    int              strict;
    size_t           prev, end;
    wachat_str_t    *dst, v;
    wachat_frame_t  *f;

    prev = p->last;
    end = wachat_offset(p);
    p->last = end;

    if (p->nframes == 0) {
        p->shape_bad = 1;
        return 1;
    }

    f = &p->frames[p->nframes - 1];

    switch (f->type) {

    case WACHAT_F_BODY:
        if (f->key == WACHAT_K_OBJECT) {
            v.data = s;
            v.len = len;

            if (vt == WACHAT_V_STRING && wachat_str_eq(&v, &wachat_waba)) {
                p->object_ok = 1;

            } else {
                p->shape_bad = 1;
            }

        } else if (f->key == WACHAT_K_ENTRY) {
            p->shape_bad = 1;
        }

        return 1;

    case WACHAT_F_ENTRIES:
    case WACHAT_F_CHANGES:
        p->shape_bad = 1;
        return 1;

    case WACHAT_F_ENTRY:
        if (f->key == WACHAT_K_CHANGES) {
            p->shape_bad = 1;
        }
        return 1;

    case WACHAT_F_MESSAGES:
    case WACHAT_F_STATUSES:
        p->nitems++;
        return wachat_other(p, &wachat_messages,
                            wachat_token_start(p, prev, end), end);

    case WACHAT_F_ERRORS:
        f->n++;
        return 1;

    case WACHAT_F_CONTACTS:
    case WACHAT_F_SKIP:
    case WACHAT_F_ITEM:
        return 1;
    }

    dst = wachat_slot(p, f, &strict);
    if (dst == NULL) {
        return 1;
    }

    if (vt == WACHAT_V_LITERAL || (strict && vt != WACHAT_V_STRING)) {
        dst->data = NULL;
        dst->len = 0;
        return 1;
    }

    return wachat_copy(p, dst, s, len);
}


/* yajl callbacks */

static int
wachat_cb_null(void *ctx)
{
    return wachat_scalar(ctx, NULL, 0, WACHAT_V_LITERAL);
}


static int
wachat_cb_boolean(void *ctx, int value)
{
    (void) value;

    return wachat_scalar(ctx, NULL, 0, WACHAT_V_LITERAL);
}


static int
wachat_cb_number(void *ctx, const char *s, size_t len)
{
    /* kept as text, exactly as sent */
    return wachat_scalar(ctx, s, len, WACHAT_V_NUMBER);
}


static int
wachat_cb_string(void *ctx, const unsigned char *s, size_t len)
{
    return wachat_scalar(ctx, (const char *) s, len, WACHAT_V_STRING);
}


static int
wachat_cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
    wachat_parse_t  *p;
    wachat_frame_t  *f;

    p = ctx;
    p->last = wachat_offset(p);

    if (p->nframes == 0) {
        return 1;
    }

    f = &p->frames[p->nframes - 1];

    if (f->type < WACHAT_F_SKIP) {
        f->key = wachat_key((const char *) key, len);
    }

    return 1;
}


static int
wachat_cb_start_map(void *ctx)
{
    return wachat_start(ctx, 1);
}


static int
wachat_cb_start_array(void *ctx)
{
    return wachat_start(ctx, 0);
}


static int
wachat_cb_end(void *ctx)
{
    return wachat_end(ctx);
}


static const yajl_callbacks  wachat_callbacks = {
    wachat_cb_null,
    wachat_cb_boolean,
    NULL,                   /* integers and doubles come as text */
    NULL,
    wachat_cb_number,
    wachat_cb_string,
    wachat_cb_start_map,
    wachat_cb_map_key,
    wachat_cb_end,
    wachat_cb_start_array,
    wachat_cb_end
};


/* parse */

static void
wachat_yajl_error(wachat_parse_t *p)
{
    size_t          n, off;
    unsigned char  *msg;

    off = wachat_offset(p);

    /* not verbose: the verbose text quotes the body */
    msg = yajl_get_error(p->yajl, 0, (const unsigned char *) p->body, p->len);

    if (msg == NULL) {
        snprintf(p->env->error, sizeof(p->env->error),
                 "invalid JSON at byte %zu", off);
        return;
    }

    n = strlen((char *) msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) {
        n--;
    }

    snprintf(p->env->error, sizeof(p->env->error), "%.*s at byte %zu",
             (int) (n < 100 ? n : 100), (char *) msg, off);

    yajl_free_error(p->yajl, msg);
}


static wachat_envelope_rc_e
wachat_finish(wachat_parse_t *p)
{
    wachat_event_t  *ev;

    if (p->shape_bad || !p->object_ok || !p->entry_ok) {
        p->env->nevents = 0;
        p->full = 0;

        ev = wachat_event_add(p, &wachat_kind_other);
        if (ev == NULL || !wachat_other_fill(p, ev, &wachat_unknown, 0, p->len))
        {
            return p->rc != WACHAT_ENVELOPE_OK ? p->rc
                                               : WACHAT_ENVELOPE_NOMEM;
        }

        return WACHAT_ENVELOPE_OK;
    }

    if (p->too_many) {
        wachat_fail(p, WACHAT_ENVELOPE_TOO_MANY);
        return WACHAT_ENVELOPE_TOO_MANY;
    }

    return WACHAT_ENVELOPE_OK;
}


/*
 * yajl's own check lets overlong forms and UTF-16 surrogates encoded in
 * UTF-8 through; JSON (RFC 8259) is strict UTF-8 (RFC 3629), and so must be
 * the fields consumers get.  Returns the offset of the first bad byte, or
 * len.  Meta escapes non-ASCII, so the 8-byte ASCII stride is the usual path.
 */

static size_t
wachat_utf8_check(const unsigned char *s, size_t len)
{
    size_t         i, n, k;
    uint64_t       word;
    unsigned char  c, lo, hi;

    i = 0;

    while (i < len) {

        if (len - i >= 8) {
            memcpy(&word, s + i, 8);

            if ((word & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }

        c = s[i];

        if (c < 0x80) {
            i++;
            continue;
        }

        lo = 0x80;
        hi = 0xbf;

        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;

        } else if (c == 0xe0) {
            n = 2;
            lo = 0xa0;          /* overlong */

        } else if (c == 0xed) {
            n = 2;
            hi = 0x9f;          /* U+D800..U+DFFF surrogates */

        } else if (c >= 0xe1 && c <= 0xef) {
            n = 2;

        } else if (c == 0xf0) {
            n = 3;
            lo = 0x90;          /* overlong */

        } else if (c >= 0xf1 && c <= 0xf3) {
            n = 3;

        } else if (c == 0xf4) {
            n = 3;
            hi = 0x8f;          /* above U+10FFFF */

        } else {
            return i;
        }

        if (len - i <= n || s[i + 1] < lo || s[i + 1] > hi) {
            return i;
        }

        for (k = 2; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return i;
            }
        }

        i += n + 1;
    }

    return len;
}


wachat_envelope_rc_e
wachat_envelope_parse(wachat_envelope_t *env, const char *body, size_t len,
    const wachat_envelope_limits_t *limits)
{
    size_t                bad;
    yajl_status           st;
    wachat_parse_t        p;
    yajl_alloc_funcs      yajl_funcs;
    wachat_envelope_rc_e  rc;

    env->events = NULL;
    env->nevents = 0;
    env->error[0] = '\0';

    env->arena = wachat_arena_create();
    if (env->arena == NULL) {
        snprintf(env->error, sizeof(env->error), "out of memory");
        return WACHAT_ENVELOPE_NOMEM;
    }

    bad = wachat_utf8_check((const unsigned char *) body, len);

    if (bad != len) {
        snprintf(env->error, sizeof(env->error),
                 "invalid UTF-8 at byte %zu", bad);
        return WACHAT_ENVELOPE_BAD_JSON;
    }

    memset(&p, 0, sizeof(wachat_parse_t));

    p.env = env;
    p.arena = env->arena;
    p.body = body;
    p.len = len;
    p.rc = WACHAT_ENVELOPE_OK;
    p.max_depth = WACHAT_MAX_DEPTH;
    p.max_events = WACHAT_MAX_EVENTS;

    if (limits != NULL) {
        if (limits->max_depth) {
            p.max_depth = limits->max_depth;
        }

        if (limits->max_events) {
            p.max_events = limits->max_events;
        }
    }

    /* yajl validates UTF-8 and rejects trailing garbage by default */
    yajl_funcs.malloc = wachat_yajl_malloc;
    yajl_funcs.realloc = wachat_yajl_realloc;
    yajl_funcs.free = wachat_yajl_free;
    yajl_funcs.ctx = env->arena;

    p.yajl = yajl_alloc(&wachat_callbacks, &yajl_funcs, &p);
    if (p.yajl == NULL) {
        snprintf(env->error, sizeof(env->error), "out of memory");
        return WACHAT_ENVELOPE_NOMEM;
    }

    st = yajl_status_ok;

    if (len) {
        st = yajl_parse(p.yajl, (const unsigned char *) body, len);
    }

    if (st == yajl_status_ok) {
        p.finishing = 1;
        st = yajl_complete_parse(p.yajl);
    }

    switch (st) {

    case yajl_status_ok:
        rc = wachat_finish(&p);
        break;

    case yajl_status_client_canceled:
        rc = p.rc != WACHAT_ENVELOPE_OK ? p.rc : WACHAT_ENVELOPE_NOMEM;
        break;

    default:
        rc = WACHAT_ENVELOPE_BAD_JSON;
        wachat_yajl_error(&p);
        break;
    }

    yajl_free(p.yajl);

    if (rc != WACHAT_ENVELOPE_OK) {
        env->events = NULL;
        env->nevents = 0;
    }

    return rc;
}


void
wachat_envelope_free(wachat_envelope_t *env)
{
    if (env == NULL) {
        return;
    }

    if (env->arena != NULL) {
        wachat_arena_destroy(env->arena);
        env->arena = NULL;
    }

    env->events = NULL;
    env->nevents = 0;
}
