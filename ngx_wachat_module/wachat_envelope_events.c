/*
 * wachat_envelope_events: the events of a body.  A message or status gets
 * its event when its object opens and is completed (raw, dedup, text) when
 * it closes; a change that is not about messages, an item that is not what
 * Meta documents, or a body of another shape is queued as one "other" event
 * keyed by the SHA-256 of its raw text.
 */

#include <stdint.h>

#include <openssl/sha.h>

#include "wachat_envelope_int.h"


#define WACHAT_ENVELOPE_NEVENTS     4       /* first event array */
#define WACHAT_ENVELOPE_NCONTACTS   4

#define WACHAT_ENVELOPE_OTHER_PREFIX  WACHAT_KIND_NAME_OTHER ":"


/* message type -> the part whose text/payload the event carries */

typedef struct {
    wachat_str_t            type;
    wachat_envelope_part_e  part;
} wachat_type_part_t;


static int wachat_events_grow(wachat_envelope_parser_t *p);
static void wachat_event_kind(wachat_envelope_event_t *ev,
    wachat_kind_e kind);
static int wachat_is_kind(wachat_envelope_event_t *ev, wachat_kind_e kind);
static int wachat_other(wachat_envelope_parser_t *p, const wachat_str_t *type,
    size_t start, size_t end);
static int wachat_other_fill(wachat_envelope_parser_t *p,
    wachat_envelope_event_t *ev, const wachat_str_t *type, size_t start,
    size_t end);
static int wachat_item_replace(wachat_envelope_parser_t *p,
    wachat_envelope_event_t *ev, size_t start, size_t end);
static int wachat_text_part(wachat_envelope_parser_t *p,
    const wachat_str_t *type);
static wachat_envelope_contact_t *wachat_contact_find(
    wachat_envelope_parser_t *p, wachat_envelope_event_t *ev, int message);
static int wachat_contacts_grow(wachat_envelope_parser_t *p);


static const wachat_type_part_t  wachat_type_parts[] = {
    { wachat_envelope_string("text"), WACHAT_ENVELOPE_P_TEXT },
    { wachat_envelope_string("button"), WACHAT_ENVELOPE_P_BUTTON },
    { wachat_envelope_string("image"), WACHAT_ENVELOPE_P_IMAGE },
    { wachat_envelope_string("video"), WACHAT_ENVELOPE_P_VIDEO },
    { wachat_envelope_string("document"), WACHAT_ENVELOPE_P_DOCUMENT },
    { wachat_envelope_string("reaction"), WACHAT_ENVELOPE_P_REACTION }
};


/* texts an event carries or is compared with */

static const wachat_str_t  wachat_version =
    wachat_envelope_string(WACHAT_CONTRACT_VERSION);
static const wachat_str_t  wachat_messages =
    wachat_envelope_string("messages");
static const wachat_str_t  wachat_unknown =
    wachat_envelope_string("unknown");
static const wachat_str_t  wachat_interactive =
    wachat_envelope_string("interactive");
static const wachat_str_t  wachat_button_reply =
    wachat_envelope_string("button_reply");
static const wachat_str_t  wachat_list_reply =
    wachat_envelope_string("list_reply");


wachat_envelope_event_t *
wachat_envelope_event_add(wachat_envelope_parser_t *p, wachat_kind_e kind)
{
    wachat_envelope_t        *env;
    wachat_envelope_event_t  *ev;

    env = p->env;

    if (p->full) {
        return NULL;
    }

    if (env->nevents >= p->max_events) {
        /* not an error yet: the change may still turn into one "other" */
        p->full = 1;
        return NULL;
    }

    if (env->nevents == p->nalloc && !wachat_events_grow(p)) {
        return NULL;
    }

    ev = &env->events[env->nevents++];

    memset(ev, 0, sizeof(wachat_envelope_event_t));
    ev->field[WACHAT_FIELD_V] = wachat_version;
    wachat_event_kind(ev, kind);

    return ev;
}


static int
wachat_events_grow(wachat_envelope_parser_t *p)
{
    size_t                    n;
    wachat_envelope_t        *env;
    wachat_envelope_event_t  *events;

    env = p->env;

    if (p->nalloc > SIZE_MAX / 2 / sizeof(wachat_envelope_event_t)) {
        return wachat_envelope_fail(p, WACHAT_ENVELOPE_NOMEM);
    }

    n = p->nalloc ? p->nalloc * 2 : WACHAT_ENVELOPE_NEVENTS;

    events = wachat_envelope_arena_alloc(p->arena,
                                         n * sizeof(wachat_envelope_event_t),
                                         WACHAT_ENVELOPE_ALIGN);
    if (events == NULL) {
        return wachat_envelope_fail(p, WACHAT_ENVELOPE_NOMEM);
    }

    if (env->nevents) {
        memcpy(events, env->events,
               env->nevents * sizeof(wachat_envelope_event_t));
    }

    env->events = events;
    p->nalloc = n;

    return 1;
}


/* the kind's text is the contract's own, so kinds compare by pointer */

static void
wachat_event_kind(wachat_envelope_event_t *ev, wachat_kind_e kind)
{
    ev->field[WACHAT_FIELD_KIND].data = wachat_kind_names[kind].data;
    ev->field[WACHAT_FIELD_KIND].len = wachat_kind_names[kind].len;
}


static int
wachat_is_kind(wachat_envelope_event_t *ev, wachat_kind_e kind)
{
    return ev->field[WACHAT_FIELD_KIND].data == wachat_kind_names[kind].data;
}


/* other events */

static int
wachat_other(wachat_envelope_parser_t *p, const wachat_str_t *type,
    size_t start, size_t end)
{
    wachat_envelope_event_t  *ev;

    ev = wachat_envelope_event_add(p, WACHAT_KIND_OTHER);
    if (ev == NULL) {
        return p->rc == WACHAT_ENVELOPE_OK;
    }

    return wachat_other_fill(p, ev, type, start, end);
}


static int
wachat_other_fill(wachat_envelope_parser_t *p, wachat_envelope_event_t *ev,
    const wachat_str_t *type, size_t start, size_t end)
{
    char                 *d;
    size_t                i;
    const unsigned char  *raw;
    unsigned char         md[SHA256_DIGEST_LENGTH];

    static const char     hex[] = "0123456789abcdef";

    raw = (const unsigned char *) p->body + start;

    ev->field[WACHAT_FIELD_TYPE] = *type;
    ev->field[WACHAT_FIELD_RAW].data = (const char *) raw;
    ev->field[WACHAT_FIELD_RAW].len = end - start;

    d = wachat_envelope_arena_alloc(p->arena,
                                    sizeof(WACHAT_ENVELOPE_OTHER_PREFIX) - 1
                                    + 2 * SHA256_DIGEST_LENGTH, 1);
    if (d == NULL) {
        return wachat_envelope_fail(p, WACHAT_ENVELOPE_NOMEM);
    }

    SHA256(raw, end - start, md);

    ev->dedup.data = d;
    ev->dedup.len = sizeof(WACHAT_ENVELOPE_OTHER_PREFIX) - 1
                    + 2 * SHA256_DIGEST_LENGTH;

    memcpy(d, WACHAT_ENVELOPE_OTHER_PREFIX,
           sizeof(WACHAT_ENVELOPE_OTHER_PREFIX) - 1);
    d += sizeof(WACHAT_ENVELOPE_OTHER_PREFIX) - 1;

    for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        *d++ = hex[md[i] >> 4];
        *d++ = hex[md[i] & 0xf];
    }

    return 1;
}


/* an item of messages[] or statuses[] that is not an object */

int
wachat_envelope_item_other(wachat_envelope_parser_t *p, size_t start,
    size_t end)
{
    return wachat_other(p, &wachat_messages, start, end);
}


/* a message or status object that lacks what its event needs */

static int
wachat_item_replace(wachat_envelope_parser_t *p, wachat_envelope_event_t *ev,
    size_t start, size_t end)
{
    /* the item keeps its place in the event order */

    memset(ev, 0, sizeof(wachat_envelope_event_t));
    ev->field[WACHAT_FIELD_V] = wachat_version;
    wachat_event_kind(ev, WACHAT_KIND_OTHER);

    return wachat_other_fill(p, ev, &wachat_messages, start, end);
}


/*
 * The body is not the envelope Meta documents: all it held becomes one
 * event, whatever was found in it before.
 */

int
wachat_envelope_body_other(wachat_envelope_parser_t *p)
{
    wachat_envelope_event_t  *ev;

    p->env->nevents = 0;
    p->full = 0;

    ev = wachat_envelope_event_add(p, WACHAT_KIND_OTHER);

    return ev != NULL && wachat_other_fill(p, ev, &wachat_unknown, 0, p->len);
}


/* messages and statuses */

/* the frame the item's object becomes, or -1 */

int
wachat_envelope_item_start(wachat_envelope_parser_t *p, int status)
{
    wachat_envelope_event_t  *ev;

    ev = wachat_envelope_event_add(p, status ? WACHAT_KIND_STATUS
                                             : WACHAT_KIND_MESSAGE);
    if (ev == NULL) {
        /* full: the item still counts (nitems), its fields do not */
        return p->rc == WACHAT_ENVELOPE_OK ? WACHAT_ENVELOPE_F_SKIP : -1;
    }

    p->item = (size_t) (ev - p->env->events);

    memset(p->text, 0, sizeof(p->text));
    memset(p->payload, 0, sizeof(p->payload));
    p->ia_type.data = NULL;
    p->ia_type.len = 0;

    return status ? WACHAT_ENVELOPE_F_STATUS : WACHAT_ENVELOPE_F_MESSAGE;
}


int
wachat_envelope_message_end(wachat_envelope_parser_t *p, size_t start,
    size_t end)
{
    int                       part;
    wachat_envelope_event_t  *ev;

    ev = &p->env->events[p->item];

    if (ev->field[WACHAT_FIELD_ID].len == 0) {
        return wachat_item_replace(p, ev, start, end);
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
wachat_text_part(wachat_envelope_parser_t *p, const wachat_str_t *type)
{
    size_t  i;

    for (i = 0; i < sizeof(wachat_type_parts) / sizeof(wachat_type_parts[0]);
         i++)
    {
        if (wachat_envelope_str_eq(type, &wachat_type_parts[i].type)) {
            return wachat_type_parts[i].part;
        }
    }

    if (!wachat_envelope_str_eq(type, &wachat_interactive)) {
        return -1;
    }

    if (wachat_envelope_str_eq(&p->ia_type, &wachat_list_reply)) {
        return WACHAT_ENVELOPE_P_LIST_REPLY;
    }

    if (wachat_envelope_str_eq(&p->ia_type, &wachat_button_reply)
        || p->text[WACHAT_ENVELOPE_P_BUTTON_REPLY].data != NULL
        || p->payload[WACHAT_ENVELOPE_P_BUTTON_REPLY].data != NULL)
    {
        return WACHAT_ENVELOPE_P_BUTTON_REPLY;
    }

    return WACHAT_ENVELOPE_P_LIST_REPLY;
}


int
wachat_envelope_status_end(wachat_envelope_parser_t *p, size_t start,
    size_t end)
{
    char                     *d;
    wachat_str_t             *id, *status;
    wachat_envelope_event_t  *ev;

    ev = &p->env->events[p->item];
    id = &ev->field[WACHAT_FIELD_ID];
    status = &ev->field[WACHAT_FIELD_STATUS];

    if (id->len == 0 || status->len == 0) {
        return wachat_item_replace(p, ev, start, end);
    }

    ev->field[WACHAT_FIELD_RAW].data = p->body + start;
    ev->field[WACHAT_FIELD_RAW].len = end - start;

    /* both are copies of body text, so the sum cannot overflow */
    d = wachat_envelope_arena_alloc(p->arena, id->len + 1 + status->len, 1);
    if (d == NULL) {
        return wachat_envelope_fail(p, WACHAT_ENVELOPE_NOMEM);
    }

    ev->dedup.data = d;
    ev->dedup.len = id->len + 1 + status->len;

    memcpy(d, id->data, id->len);
    d[id->len] = ':';
    memcpy(d + id->len + 1, status->data, status->len);

    return 1;
}


/* changes */

void
wachat_envelope_change_start(wachat_envelope_parser_t *p)
{
    p->change_first = p->env->nevents;
    p->nitems = 0;
    p->value_ok = 0;
    p->field.data = NULL;
    p->field.len = 0;
}


int
wachat_envelope_change_end(wachat_envelope_parser_t *p, size_t start,
    size_t end)
{
    if (p->value_ok && p->nitems
        && wachat_envelope_str_eq(&p->field, &wachat_messages))
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


/* an entry: its id (the WABA's, which may come after its changes) */

void
wachat_envelope_entry_end(wachat_envelope_parser_t *p)
{
    size_t  i;

    if (p->entry_id.data == NULL) {
        return;
    }

    for (i = p->entry_first; i < p->env->nevents; i++) {
        p->env->events[i].field[WACHAT_FIELD_WABA_ID] = p->entry_id;
    }
}


/* values: the contacts and metadata their messages and statuses share */

void
wachat_envelope_value_start(wachat_envelope_parser_t *p)
{
    p->value_ok = 1;
    p->value_first = p->env->nevents;
    p->phone_number_id.data = NULL;
    p->phone_number_id.len = 0;
    p->ncontacts = 0;
}


void
wachat_envelope_value_end(wachat_envelope_parser_t *p)
{
    int                         message;
    size_t                      i;
    wachat_envelope_event_t    *ev;
    wachat_envelope_contact_t  *c;

    /* metadata and contacts may come after messages: resolve them now */

    for (i = p->value_first; i < p->env->nevents; i++) {
        ev = &p->env->events[i];

        if (wachat_is_kind(ev, WACHAT_KIND_OTHER)) {
            continue;
        }

        message = wachat_is_kind(ev, WACHAT_KIND_MESSAGE);

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


static wachat_envelope_contact_t *
wachat_contact_find(wachat_envelope_parser_t *p, wachat_envelope_event_t *ev,
    int message)
{
    size_t         i;
    wachat_str_t  *who, *user_id;

    who = &ev->field[message ? WACHAT_FIELD_FROM : WACHAT_FIELD_RECIPIENT];
    user_id = &ev->field[WACHAT_FIELD_USER_ID];

    if (who->data != NULL) {
        for (i = 0; i < p->ncontacts; i++) {
            if (wachat_envelope_str_eq(who, &p->contacts[i].wa_id)) {
                return &p->contacts[i];
            }
        }
    }

    if (user_id->data != NULL) {
        for (i = 0; i < p->ncontacts; i++) {
            if (wachat_envelope_str_eq(user_id, &p->contacts[i].user_id)) {
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


int
wachat_envelope_contact_end(wachat_envelope_parser_t *p)
{
    wachat_envelope_contact_t  *c;

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

    if (p->ncontacts == p->ncontacts_alloc && !wachat_contacts_grow(p)) {
        return 0;
    }

    p->contacts[p->ncontacts++] = *c;

    return 1;
}


static int
wachat_contacts_grow(wachat_envelope_parser_t *p)
{
    size_t                      n, size;
    wachat_envelope_contact_t  *contacts;

    size = sizeof(wachat_envelope_contact_t);

    if (p->ncontacts_alloc > SIZE_MAX / 2 / size) {
        return wachat_envelope_fail(p, WACHAT_ENVELOPE_NOMEM);
    }

    n = p->ncontacts_alloc ? p->ncontacts_alloc * 2
                           : WACHAT_ENVELOPE_NCONTACTS;

    contacts = wachat_envelope_arena_alloc(p->arena, n * size,
                                           WACHAT_ENVELOPE_ALIGN);
    if (contacts == NULL) {
        return wachat_envelope_fail(p, WACHAT_ENVELOPE_NOMEM);
    }

    if (p->ncontacts) {
        memcpy(contacts, p->contacts, p->ncontacts * size);
    }

    p->contacts = contacts;
    p->ncontacts_alloc = n;

    return 1;
}
