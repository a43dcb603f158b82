/*
 * event: the typed decode of a stream entry (see event.h).
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conversation/event.h"


static void wachat_event_conv(wachat_event_t *ev);
static int wachat_stream_id_parse(const char *id, uint64_t *ms,
    uint64_t *seq);


int
wachat_event_decode(wachat_event_t *ev, const char *stream_id,
    const redisReply *fields)
{
    int                f;
    size_t             i;
    uint64_t           ms, seq;
    const char        *v;
    const redisReply  *name, *value;

    memset(ev, 0, sizeof(wachat_event_t));
    ev->kind = -1;

    if (stream_id == NULL
        || wachat_stream_id_parse(stream_id, &ms, &seq) != 0)
    {
        return -1;
    }

    ev->stream_id = stream_id;

    /* a deleted entry that is still pending comes back with nil fields */
    if (fields == NULL || fields->type != REDIS_REPLY_ARRAY) {
        return 0;
    }

    for (i = 0; i + 1 < fields->elements; i += 2) {
        name = fields->element[i];
        value = fields->element[i + 1];

        if (name->type != REDIS_REPLY_STRING
            || value->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        /* a newer contract's extra fields are ignored */
        f = wachat_field_lookup(name->str, name->len);
        if (f >= 0) {
            ev->field[f] = value->str;
            ev->len[f] = value->len;
        }
    }

    v = wachat_event_str(ev, V);
    ev->known = v && strcmp(v, WACHAT_CONTRACT_VERSION) == 0;

    v = wachat_event_str(ev, KIND);
    if (v) {
        ev->kind = wachat_kind_lookup(v, ev->len[WACHAT_FIELD_KIND]);
    }

    v = wachat_event_str(ev, TS);
    ev->ts = v ? atoll(v) : 0;

    if (ev->known) {
        wachat_event_conv(ev);
    }

    return 0;
}


/* 1 when the field f is 1..max characters, each one of allowed */
static int
wachat_event_id_ok(const wachat_event_t *ev, wachat_field_e f, size_t max,
    int user_id)
{
    size_t        i, len;
    unsigned char c;
    const char   *v;

    v = ev->field[f];
    len = ev->len[f];

    if (v == NULL || len == 0 || len > max) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) v[i];

        if (c >= '0' && c <= '9') {
            continue;
        }

        if (user_id && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                        || c == '.' || c == '_' || c == '-'))
        {
            continue;
        }

        return 0;       /* a NUL, a ':', a brace, anything else */
    }

    return 1;
}


/*
 * The conversation: "<phone_number_id>:<customer>", the customer being the
 * wa_id (from / recipient) or else the business-scoped user id.  The ids
 * are checked first (see event.h): with ':' and '{' impossible in them, two
 * conversations cannot share an id and the hash tag stays whole.
 */

static void
wachat_event_conv(wachat_event_t *ev)
{
    int             n;
    wachat_field_e  who;

    if (ev->kind == WACHAT_KIND_MESSAGE) {
        who = WACHAT_FIELD_FROM;

    } else if (ev->kind == WACHAT_KIND_STATUS) {
        who = WACHAT_FIELD_RECIPIENT;

    } else {
        return;
    }

    if (!wachat_event_id_ok(ev, WACHAT_FIELD_PHONE_NUMBER_ID,
                            WACHAT_EVENT_DIGITS_MAX, 0))
    {
        ev->refused = "phone_number_id is not 1-32 digits";
        return;
    }

    if (ev->field[who] && ev->len[who]) {
        if (!wachat_event_id_ok(ev, who, WACHAT_EVENT_DIGITS_MAX, 0)) {
            ev->refused = who == WACHAT_FIELD_FROM
                          ? "from is not 1-32 digits"
                          : "recipient is not 1-32 digits";
            return;
        }

    } else if (wachat_event_id_ok(ev, WACHAT_FIELD_USER_ID,
                                  WACHAT_EVENT_USER_ID_MAX, 1))
    {
        who = WACHAT_FIELD_USER_ID;

    } else {
        ev->refused = ev->field[WACHAT_FIELD_USER_ID]
                      ? "user_id is not 1-128 of [A-Za-z0-9._-]"
                      : "no customer id";
        return;
    }

    ev->customer = ev->field[who];

    n = snprintf(ev->conv_id, sizeof(ev->conv_id), "%s:%s",
                 ev->field[WACHAT_FIELD_PHONE_NUMBER_ID], ev->customer);

    if (n < 0 || (size_t) n >= sizeof(ev->conv_id)) {
        ev->conv_id[0] = '\0';
        ev->refused = "ids too long";
    }
}


static int
wachat_stream_id_parse(const char *id, uint64_t *ms, uint64_t *seq)
{
    char  *end;

    *ms = strtoull(id, &end, 10);
    if (end == id || *end != '-') {
        return -1;
    }

    *seq = strtoull(end + 1, &end, 10);

    return *end == '\0' ? 0 : -1;
}


int
wachat_event_id_cmp(const char *a, const char *b)
{
    uint64_t  ams, aseq, bms, bseq;

    if (wachat_stream_id_parse(a, &ams, &aseq) != 0
        || wachat_stream_id_parse(b, &bms, &bseq) != 0)
    {
        return strcmp(a, b);
    }

    if (ams != bms) {
        return ams < bms ? -1 : 1;
    }

    return aseq < bseq ? -1 : (aseq > bseq ? 1 : 0);
}
