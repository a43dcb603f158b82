/*
 * wachat_envelope_fields: the keys of Meta's JSON the contract reads, and
 * the slot each scalar member is kept in until its object closes: a field
 * of the current event, or the parser's own note (change "field",
 * metadata, a contact, the text and payload of each message part).
 */

#include "wachat_envelope_int.h"


static wachat_str_t *wachat_slot_message(wachat_envelope_event_t *ev,
    unsigned char key, int *strict);
static wachat_str_t *wachat_slot_status(wachat_envelope_event_t *ev,
    unsigned char key, int *strict);
static wachat_str_t *wachat_slot_part(wachat_envelope_parser_t *p,
    wachat_envelope_frame_t *f, wachat_envelope_event_t *ev);


/* indexed by wachat_envelope_key_e */
static const wachat_str_t  wachat_keys[WACHAT_ENVELOPE_K_COUNT] = {
    { NULL, 0 },
    wachat_envelope_string("object"),
    wachat_envelope_string("entry"),
    wachat_envelope_string("changes"),
    wachat_envelope_string("field"),
    wachat_envelope_string("value"),
    wachat_envelope_string("metadata"),
    wachat_envelope_string("phone_number_id"),
    wachat_envelope_string("contacts"),
    wachat_envelope_string("messages"),
    wachat_envelope_string("statuses"),
    wachat_envelope_string("wa_id"),
    wachat_envelope_string("user_id"),
    wachat_envelope_string("profile"),
    wachat_envelope_string("name"),
    wachat_envelope_string("from"),
    wachat_envelope_string("id"),
    wachat_envelope_string("timestamp"),
    wachat_envelope_string("type"),
    wachat_envelope_string("from_user_id"),
    wachat_envelope_string("text"),
    wachat_envelope_string("body"),
    wachat_envelope_string("interactive"),
    wachat_envelope_string("button_reply"),
    wachat_envelope_string("list_reply"),
    wachat_envelope_string("title"),
    wachat_envelope_string("button"),
    wachat_envelope_string("payload"),
    wachat_envelope_string("image"),
    wachat_envelope_string("video"),
    wachat_envelope_string("document"),
    wachat_envelope_string("caption"),
    wachat_envelope_string("reaction"),
    wachat_envelope_string("emoji"),
    wachat_envelope_string("context"),
    wachat_envelope_string("errors"),
    wachat_envelope_string("code"),
    wachat_envelope_string("status"),
    wachat_envelope_string("recipient_id"),
    wachat_envelope_string("recipient_user_id")
};


unsigned char
wachat_envelope_key(const char *s, size_t len)
{
    size_t  i;

    /* every map key of the body comes here: the first byte sorts most out */

    for (i = 1; i < WACHAT_ENVELOPE_K_COUNT; i++) {
        if (wachat_keys[i].len == len && wachat_keys[i].data[0] == s[0]
            && memcmp(wachat_keys[i].data, s, len) == 0)
        {
            return (unsigned char) i;
        }
    }

    return WACHAT_ENVELOPE_K_NONE;
}


/*
 * The slot a scalar member of object frame f is stored in, or NULL.
 * *strict: only a string counts (ids, "status", "field").
 */

wachat_str_t *
wachat_envelope_slot(wachat_envelope_parser_t *p, wachat_envelope_frame_t *f,
    int *strict)
{
    wachat_envelope_event_t  *ev;

    *strict = 0;

    /* these frames only exist inside a message or status with an event */
    ev = (f->type >= WACHAT_ENVELOPE_F_MESSAGE
          && f->type <= WACHAT_ENVELOPE_F_ERROR)
         ? &p->env->events[p->item] : NULL;

    switch (f->type) {

    case WACHAT_ENVELOPE_F_ENTRY:
        *strict = 1;
        return f->key == WACHAT_ENVELOPE_K_ID ? &p->entry_id : NULL;

    case WACHAT_ENVELOPE_F_CHANGE:
        *strict = 1;
        return f->key == WACHAT_ENVELOPE_K_FIELD ? &p->field : NULL;

    case WACHAT_ENVELOPE_F_METADATA:
        return f->key == WACHAT_ENVELOPE_K_PHONE_NUMBER_ID
               ? &p->phone_number_id : NULL;

    case WACHAT_ENVELOPE_F_CONTACT:
        switch (f->key) {
        case WACHAT_ENVELOPE_K_WA_ID:
            return &p->contact.wa_id;
        case WACHAT_ENVELOPE_K_USER_ID:
            return &p->contact.user_id;
        }
        return NULL;

    case WACHAT_ENVELOPE_F_PROFILE:
        return f->key == WACHAT_ENVELOPE_K_NAME ? &p->contact.name : NULL;

    case WACHAT_ENVELOPE_F_MESSAGE:
        return wachat_slot_message(ev, f->key, strict);

    case WACHAT_ENVELOPE_F_STATUS:
        return wachat_slot_status(ev, f->key, strict);

    case WACHAT_ENVELOPE_F_PART:
    case WACHAT_ENVELOPE_F_REPLY:
        return wachat_slot_part(p, f, ev);

    case WACHAT_ENVELOPE_F_ERROR:
        return f->key == WACHAT_ENVELOPE_K_CODE
               ? &ev->field[WACHAT_FIELD_ERROR_CODE] : NULL;
    }

    return NULL;
}


static wachat_str_t *
wachat_slot_message(wachat_envelope_event_t *ev, unsigned char key,
    int *strict)
{
    switch (key) {
    case WACHAT_ENVELOPE_K_ID:
        *strict = 1;
        return &ev->field[WACHAT_FIELD_ID];
    case WACHAT_ENVELOPE_K_FROM:
        return &ev->field[WACHAT_FIELD_FROM];
    case WACHAT_ENVELOPE_K_FROM_USER_ID:
        return &ev->field[WACHAT_FIELD_USER_ID];
    case WACHAT_ENVELOPE_K_TIMESTAMP:
        return &ev->field[WACHAT_FIELD_TS];
    case WACHAT_ENVELOPE_K_TYPE:
        return &ev->field[WACHAT_FIELD_TYPE];
    }

    return NULL;
}


static wachat_str_t *
wachat_slot_status(wachat_envelope_event_t *ev, unsigned char key,
    int *strict)
{
    switch (key) {
    case WACHAT_ENVELOPE_K_ID:
        *strict = 1;
        return &ev->field[WACHAT_FIELD_ID];
    case WACHAT_ENVELOPE_K_STATUS:
        *strict = 1;
        return &ev->field[WACHAT_FIELD_STATUS];
    case WACHAT_ENVELOPE_K_TIMESTAMP:
        return &ev->field[WACHAT_FIELD_TS];
    case WACHAT_ENVELOPE_K_RECIPIENT_ID:
        return &ev->field[WACHAT_FIELD_RECIPIENT];
    case WACHAT_ENVELOPE_K_RECIPIENT_USER_ID:
        return &ev->field[WACHAT_FIELD_USER_ID];
    }

    return NULL;
}


/*
 * A message part's text and payload are kept per part: which of them the
 * event carries is known only once "type" has been read, and that may come
 * last (wachat_envelope_message_end()).
 */

static wachat_str_t *
wachat_slot_part(wachat_envelope_parser_t *p, wachat_envelope_frame_t *f,
    wachat_envelope_event_t *ev)
{
    unsigned char  k;

    k = f->key;

    if (f->type == WACHAT_ENVELOPE_F_REPLY) {
        if (k == WACHAT_ENVELOPE_K_ID) {
            return &p->payload[f->part];
        }
        return k == WACHAT_ENVELOPE_K_TITLE ? &p->text[f->part] : NULL;
    }

    switch (f->part) {
    case WACHAT_ENVELOPE_P_TEXT:
        return k == WACHAT_ENVELOPE_K_BODY ? &p->text[f->part] : NULL;
    case WACHAT_ENVELOPE_P_BUTTON:
        if (k == WACHAT_ENVELOPE_K_PAYLOAD) {
            return &p->payload[f->part];
        }
        return k == WACHAT_ENVELOPE_K_TEXT ? &p->text[f->part] : NULL;
    case WACHAT_ENVELOPE_P_REACTION:
        return k == WACHAT_ENVELOPE_K_EMOJI ? &p->text[f->part] : NULL;
    case WACHAT_ENVELOPE_P_INTERACTIVE:
        return k == WACHAT_ENVELOPE_K_TYPE ? &p->ia_type : NULL;
    case WACHAT_ENVELOPE_P_CONTEXT:
        return k == WACHAT_ENVELOPE_K_ID ? &ev->field[WACHAT_FIELD_CONTEXT]
                                         : NULL;
    default:    /* image, video, document */
        return k == WACHAT_ENVELOPE_K_CAPTION ? &p->text[f->part] : NULL;
    }
}


/* the part a member of a message opens, or -1 */

int
wachat_envelope_part(unsigned char key)
{
    switch (key) {
    case WACHAT_ENVELOPE_K_TEXT:
        return WACHAT_ENVELOPE_P_TEXT;
    case WACHAT_ENVELOPE_K_BUTTON:
        return WACHAT_ENVELOPE_P_BUTTON;
    case WACHAT_ENVELOPE_K_IMAGE:
        return WACHAT_ENVELOPE_P_IMAGE;
    case WACHAT_ENVELOPE_K_VIDEO:
        return WACHAT_ENVELOPE_P_VIDEO;
    case WACHAT_ENVELOPE_K_DOCUMENT:
        return WACHAT_ENVELOPE_P_DOCUMENT;
    case WACHAT_ENVELOPE_K_REACTION:
        return WACHAT_ENVELOPE_P_REACTION;
    case WACHAT_ENVELOPE_K_INTERACTIVE:
        return WACHAT_ENVELOPE_P_INTERACTIVE;
    case WACHAT_ENVELOPE_K_CONTEXT:
        return WACHAT_ENVELOPE_P_CONTEXT;
    }

    return -1;
}
