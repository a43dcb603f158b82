/*
 * wachat_envelope_frames: the yajl event machine.
 *
 * The levels the contract reads (body, entry, change, value, message, ...)
 * each get a frame on a short fixed stack; any other subtree becomes one
 * opaque frame that only counts its nesting, so memory is bounded by the
 * events and strings kept, not by the shape of the input.
 */

#include "wachat_envelope_int.h"


static int wachat_start(wachat_envelope_parser_t *p, int map);
static int wachat_end(wachat_envelope_parser_t *p);
static int wachat_scalar(wachat_envelope_parser_t *p, const char *s,
    size_t len, int vt);
static int wachat_scalar_shape(wachat_envelope_parser_t *p,
    wachat_envelope_frame_t *f, const char *s, size_t len, int vt);
static int wachat_push(wachat_envelope_parser_t *p, int type, int part,
    size_t start);
static int wachat_container(wachat_envelope_parser_t *p,
    wachat_envelope_frame_t *f, int map, int *part);
static int wachat_container_envelope(wachat_envelope_parser_t *p,
    wachat_envelope_frame_t *f, int map);
static int wachat_container_value(wachat_envelope_parser_t *p,
    wachat_envelope_frame_t *f, int map);
static int wachat_container_item(wachat_envelope_parser_t *p,
    wachat_envelope_frame_t *f, int map, int *part);
static void wachat_clear_slot(wachat_envelope_parser_t *p,
    wachat_envelope_frame_t *f);
static size_t wachat_token_start(wachat_envelope_parser_t *p, size_t from,
    size_t end);

static int wachat_cb_null(void *ctx);
static int wachat_cb_boolean(void *ctx, int value);
static int wachat_cb_number(void *ctx, const char *s, size_t len);
static int wachat_cb_string(void *ctx, const unsigned char *s, size_t len);
static int wachat_cb_map_key(void *ctx, const unsigned char *key, size_t len);
static int wachat_cb_start_map(void *ctx);
static int wachat_cb_start_array(void *ctx);
static int wachat_cb_end(void *ctx);


const yajl_callbacks  wachat_envelope_callbacks = {
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


static const wachat_str_t  wachat_waba =
    wachat_envelope_string("whatsapp_business_account");


/* yajl callbacks */

static int
wachat_cb_null(void *ctx)
{
    return wachat_scalar(ctx, NULL, 0, WACHAT_ENVELOPE_V_LITERAL);
}


static int
wachat_cb_boolean(void *ctx, int value)
{
    (void) value;

    return wachat_scalar(ctx, NULL, 0, WACHAT_ENVELOPE_V_LITERAL);
}


static int
wachat_cb_number(void *ctx, const char *s, size_t len)
{
    /* kept as text, exactly as sent */
    return wachat_scalar(ctx, s, len, WACHAT_ENVELOPE_V_NUMBER);
}


static int
wachat_cb_string(void *ctx, const unsigned char *s, size_t len)
{
    return wachat_scalar(ctx, (const char *) s, len, WACHAT_ENVELOPE_V_STRING);
}


static int
wachat_cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
    wachat_envelope_parser_t  *p;
    wachat_envelope_frame_t   *f;

    p = ctx;
    p->last = wachat_envelope_offset(p);

    if (p->nframes == 0) {
        return 1;
    }

    f = &p->frames[p->nframes - 1];

    if (f->type < WACHAT_ENVELOPE_F_SKIP) {
        f->key = wachat_envelope_key((const char *) key, len);
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


/* containers */

static int
wachat_start(wachat_envelope_parser_t *p, int map)
{
    int                       type, part;
    size_t                    start;
    wachat_envelope_frame_t  *f;

    start = wachat_envelope_offset(p);
    p->last = start;
    start = start ? start - 1 : 0;

    if (++p->depth > p->max_depth) {
        return wachat_envelope_fail(p, WACHAT_ENVELOPE_TOO_DEEP);
    }

    part = 0;

    if (p->nframes == 0) {
        if (map) {
            type = WACHAT_ENVELOPE_F_BODY;

        } else {
            p->shape_bad = 1;
            type = WACHAT_ENVELOPE_F_SKIP;
        }

        return wachat_push(p, type, part, start);
    }

    f = &p->frames[p->nframes - 1];

    if (f->type >= WACHAT_ENVELOPE_F_SKIP) {
        f->n++;
        return 1;
    }

    wachat_clear_slot(p, f);

    if (p->shape_bad) {
        /* the body becomes one event anyway */
        type = WACHAT_ENVELOPE_F_SKIP;

    } else {
        type = wachat_container(p, f, map, &part);
        if (type < 0) {
            return 0;
        }
    }

    return wachat_push(p, type, part, start);
}


static int
wachat_push(wachat_envelope_parser_t *p, int type, int part, size_t start)
{
    wachat_envelope_frame_t  *f;

    /* semantic paths are shorter than the stack; just in case */
    if (p->nframes == WACHAT_ENVELOPE_MAX_FRAMES) {
        return wachat_envelope_fail(p, WACHAT_ENVELOPE_NOMEM);
    }

    f = &p->frames[p->nframes++];
    f->type = (unsigned char) type;
    f->key = WACHAT_ENVELOPE_K_NONE;
    f->part = (unsigned char) part;
    f->start = start;
    f->n = 0;

    return 1;
}


static int
wachat_end(wachat_envelope_parser_t *p)
{
    size_t                    end;
    wachat_envelope_frame_t  *f;

    end = wachat_envelope_offset(p);
    p->last = end;
    p->depth--;

    if (p->nframes == 0) {
        return 1;
    }

    f = &p->frames[p->nframes - 1];

    if (f->type >= WACHAT_ENVELOPE_F_SKIP && f->n > 0) {
        f->n--;
        return 1;
    }

    p->nframes--;

    switch (f->type) {

    case WACHAT_ENVELOPE_F_ITEM:
        return wachat_envelope_item_other(p, f->start, end);

    case WACHAT_ENVELOPE_F_ENTRY:
        if (!p->has_changes) {
            p->shape_bad = 1;
        }
        wachat_envelope_entry_end(p);
        return 1;

    case WACHAT_ENVELOPE_F_CHANGE:
        return wachat_envelope_change_end(p, f->start, end);

    case WACHAT_ENVELOPE_F_VALUE:
        wachat_envelope_value_end(p);
        return 1;

    case WACHAT_ENVELOPE_F_CONTACT:
        return wachat_envelope_contact_end(p);

    case WACHAT_ENVELOPE_F_MESSAGE:
        return wachat_envelope_message_end(p, f->start, end);

    case WACHAT_ENVELOPE_F_STATUS:
        return wachat_envelope_status_end(p, f->start, end);
    }

    return 1;
}


/* The frame a container opened inside f becomes; -1 on error. */

static int
wachat_container(wachat_envelope_parser_t *p, wachat_envelope_frame_t *f,
    int map, int *part)
{
    switch (f->type) {

    case WACHAT_ENVELOPE_F_BODY:
    case WACHAT_ENVELOPE_F_ENTRIES:
    case WACHAT_ENVELOPE_F_ENTRY:
    case WACHAT_ENVELOPE_F_CHANGES:
    case WACHAT_ENVELOPE_F_CHANGE:
        return wachat_container_envelope(p, f, map);

    case WACHAT_ENVELOPE_F_VALUE:
    case WACHAT_ENVELOPE_F_CONTACTS:
    case WACHAT_ENVELOPE_F_CONTACT:
        return wachat_container_value(p, f, map);

    case WACHAT_ENVELOPE_F_MESSAGES:
    case WACHAT_ENVELOPE_F_STATUSES:
    case WACHAT_ENVELOPE_F_MESSAGE:
    case WACHAT_ENVELOPE_F_STATUS:
    case WACHAT_ENVELOPE_F_PART:
    case WACHAT_ENVELOPE_F_ERRORS:
        return wachat_container_item(p, f, map, part);
    }

    return WACHAT_ENVELOPE_F_SKIP;
}


/*
 * {"object":..., "entry":[{"changes":[{"field":..., "value":{...}}]}]}:
 * a container out of this place makes the whole body one "other" event.
 */

static int
wachat_container_envelope(wachat_envelope_parser_t *p,
    wachat_envelope_frame_t *f, int map)
{
    int  k;

    k = f->key;

    switch (f->type) {

    case WACHAT_ENVELOPE_F_BODY:
        if (k == WACHAT_ENVELOPE_K_ENTRY && !map) {
            p->entry_ok = 1;
            return WACHAT_ENVELOPE_F_ENTRIES;
        }

        if (k == WACHAT_ENVELOPE_K_ENTRY || k == WACHAT_ENVELOPE_K_OBJECT) {
            p->shape_bad = 1;
        }

        return WACHAT_ENVELOPE_F_SKIP;

    case WACHAT_ENVELOPE_F_ENTRIES:
        if (map) {
            p->has_changes = 0;
            p->entry_first = p->env->nevents;
            p->entry_id.data = NULL;
            p->entry_id.len = 0;
            return WACHAT_ENVELOPE_F_ENTRY;
        }

        p->shape_bad = 1;
        return WACHAT_ENVELOPE_F_SKIP;

    case WACHAT_ENVELOPE_F_ENTRY:
        if (k == WACHAT_ENVELOPE_K_CHANGES) {
            if (!map) {
                p->has_changes = 1;
                return WACHAT_ENVELOPE_F_CHANGES;
            }

            p->shape_bad = 1;
        }

        return WACHAT_ENVELOPE_F_SKIP;

    case WACHAT_ENVELOPE_F_CHANGES:
        if (map) {
            wachat_envelope_change_start(p);
            return WACHAT_ENVELOPE_F_CHANGE;
        }

        p->shape_bad = 1;
        return WACHAT_ENVELOPE_F_SKIP;

    default:    /* WACHAT_ENVELOPE_F_CHANGE */
        if (k == WACHAT_ENVELOPE_K_VALUE && map) {
            wachat_envelope_value_start(p);
            return WACHAT_ENVELOPE_F_VALUE;
        }

        return WACHAT_ENVELOPE_F_SKIP;
    }
}


/* a change's value: metadata, contacts[], messages[], statuses[] */

static int
wachat_container_value(wachat_envelope_parser_t *p,
    wachat_envelope_frame_t *f, int map)
{
    switch (f->type) {

    case WACHAT_ENVELOPE_F_VALUE:
        switch (f->key) {
        case WACHAT_ENVELOPE_K_METADATA:
            return map ? WACHAT_ENVELOPE_F_METADATA : WACHAT_ENVELOPE_F_SKIP;
        case WACHAT_ENVELOPE_K_CONTACTS:
            return map ? WACHAT_ENVELOPE_F_SKIP : WACHAT_ENVELOPE_F_CONTACTS;
        case WACHAT_ENVELOPE_K_MESSAGES:
            return map ? WACHAT_ENVELOPE_F_SKIP : WACHAT_ENVELOPE_F_MESSAGES;
        case WACHAT_ENVELOPE_K_STATUSES:
            return map ? WACHAT_ENVELOPE_F_SKIP : WACHAT_ENVELOPE_F_STATUSES;
        }

        return WACHAT_ENVELOPE_F_SKIP;

    case WACHAT_ENVELOPE_F_CONTACTS:
        if (map) {
            memset(&p->contact, 0, sizeof(wachat_envelope_contact_t));
            return WACHAT_ENVELOPE_F_CONTACT;
        }

        return WACHAT_ENVELOPE_F_SKIP;

    default:    /* WACHAT_ENVELOPE_F_CONTACT */
        return (f->key == WACHAT_ENVELOPE_K_PROFILE && map)
               ? WACHAT_ENVELOPE_F_PROFILE : WACHAT_ENVELOPE_F_SKIP;
    }
}


/* a message or status, its parts, its errors[] */

static int
wachat_container_item(wachat_envelope_parser_t *p, wachat_envelope_frame_t *f,
    int map, int *part)
{
    int  k, status;

    k = f->key;

    switch (f->type) {

    case WACHAT_ENVELOPE_F_MESSAGES:
    case WACHAT_ENVELOPE_F_STATUSES:
        p->nitems++;

        if (!map) {
            return WACHAT_ENVELOPE_F_ITEM;
        }

        status = (f->type == WACHAT_ENVELOPE_F_STATUSES);

        return wachat_envelope_item_start(p, status);

    case WACHAT_ENVELOPE_F_MESSAGE:
        if (!map) {
            return k == WACHAT_ENVELOPE_K_ERRORS ? WACHAT_ENVELOPE_F_ERRORS
                                                 : WACHAT_ENVELOPE_F_SKIP;
        }

        *part = wachat_envelope_part(f->key);
        return *part >= 0 ? WACHAT_ENVELOPE_F_PART : WACHAT_ENVELOPE_F_SKIP;

    case WACHAT_ENVELOPE_F_STATUS:
        return (k == WACHAT_ENVELOPE_K_ERRORS && !map)
               ? WACHAT_ENVELOPE_F_ERRORS : WACHAT_ENVELOPE_F_SKIP;

    case WACHAT_ENVELOPE_F_PART:
        if (f->part != WACHAT_ENVELOPE_P_INTERACTIVE || !map) {
            return WACHAT_ENVELOPE_F_SKIP;
        }

        if (k == WACHAT_ENVELOPE_K_BUTTON_REPLY) {
            *part = WACHAT_ENVELOPE_P_BUTTON_REPLY;
            return WACHAT_ENVELOPE_F_REPLY;
        }

        if (k == WACHAT_ENVELOPE_K_LIST_REPLY) {
            *part = WACHAT_ENVELOPE_P_LIST_REPLY;
            return WACHAT_ENVELOPE_F_REPLY;
        }

        return WACHAT_ENVELOPE_F_SKIP;

    default:    /* WACHAT_ENVELOPE_F_ERRORS: only errors[0] is read */
        if (f->n++ == 0 && map) {
            return WACHAT_ENVELOPE_F_ERROR;
        }

        return WACHAT_ENVELOPE_F_SKIP;
    }
}


/* a later duplicate key wins, even when it is no string */

static void
wachat_clear_slot(wachat_envelope_parser_t *p, wachat_envelope_frame_t *f)
{
    int            strict;
    wachat_str_t  *dst;

    switch (f->type) {
    case WACHAT_ENVELOPE_F_ENTRIES:
    case WACHAT_ENVELOPE_F_CHANGES:
    case WACHAT_ENVELOPE_F_CONTACTS:
    case WACHAT_ENVELOPE_F_MESSAGES:
    case WACHAT_ENVELOPE_F_STATUSES:
    case WACHAT_ENVELOPE_F_ERRORS:
        return;     /* arrays: no keys */
    }

    dst = wachat_envelope_slot(p, f, &strict);
    if (dst != NULL) {
        dst->data = NULL;
        dst->len = 0;
    }
}


/* scalars */

static int
wachat_scalar(wachat_envelope_parser_t *p, const char *s, size_t len, int vt)
{
    int                       strict;
    size_t                    prev, end;
    wachat_str_t             *dst;
    wachat_envelope_frame_t  *f;

    prev = p->last;
    end = wachat_envelope_offset(p);
    p->last = end;

    if (p->nframes == 0) {
        p->shape_bad = 1;
        return 1;
    }

    f = &p->frames[p->nframes - 1];

    switch (f->type) {

    case WACHAT_ENVELOPE_F_BODY:
    case WACHAT_ENVELOPE_F_ENTRIES:
    case WACHAT_ENVELOPE_F_CHANGES:
        return wachat_scalar_shape(p, f, s, len, vt);

    case WACHAT_ENVELOPE_F_ENTRY:
        (void) wachat_scalar_shape(p, f, s, len, vt);
        break;      /* its "id", the WABA's, goes to its slot below */

    case WACHAT_ENVELOPE_F_MESSAGES:
    case WACHAT_ENVELOPE_F_STATUSES:
        p->nitems++;
        return wachat_envelope_item_other(p,
                                          wachat_token_start(p, prev, end),
                                          end);

    case WACHAT_ENVELOPE_F_ERRORS:
        f->n++;
        return 1;

    case WACHAT_ENVELOPE_F_CONTACTS:
    case WACHAT_ENVELOPE_F_SKIP:
    case WACHAT_ENVELOPE_F_ITEM:
        return 1;
    }

    dst = wachat_envelope_slot(p, f, &strict);
    if (dst == NULL) {
        return 1;
    }

    if (vt == WACHAT_ENVELOPE_V_LITERAL
        || (strict && vt != WACHAT_ENVELOPE_V_STRING))
    {
        dst->data = NULL;
        dst->len = 0;
        return 1;
    }

    return wachat_envelope_copy(p, dst, s, len);
}


/* a scalar where the envelope's shape is decided */

static int
wachat_scalar_shape(wachat_envelope_parser_t *p, wachat_envelope_frame_t *f,
    const char *s, size_t len, int vt)
{
    wachat_str_t  v;

    switch (f->type) {

    case WACHAT_ENVELOPE_F_BODY:
        if (f->key == WACHAT_ENVELOPE_K_OBJECT) {
            v.data = s;
            v.len = len;

            if (vt == WACHAT_ENVELOPE_V_STRING
                && wachat_envelope_str_eq(&v, &wachat_waba))
            {
                p->object_ok = 1;

            } else {
                p->shape_bad = 1;
            }

        } else if (f->key == WACHAT_ENVELOPE_K_ENTRY) {
            p->shape_bad = 1;
        }

        return 1;

    case WACHAT_ENVELOPE_F_ENTRY:
        if (f->key == WACHAT_ENVELOPE_K_CHANGES) {
            p->shape_bad = 1;
        }

        return 1;

    default:    /* entry[], changes[] hold objects only */
        p->shape_bad = 1;
        return 1;
    }
}


/*
 * Where the token that ends at end starts: between two tokens that reach a
 * callback there is only this; yajl takes \v and \f for white space too
 * (RFC 8259 does not).
 */

static size_t
wachat_token_start(wachat_envelope_parser_t *p, size_t from, size_t end)
{
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
