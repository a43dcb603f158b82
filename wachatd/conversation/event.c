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


/*
 * The conversation: "<phone_number_id>:<customer>", the customer being the
 * wa_id (from / recipient) or else the business-scoped user id.
 */

static void
wachat_event_conv(wachat_event_t *ev)
{
    int          n;
    const char  *pnid, *who;

    pnid = wachat_event_str(ev, PHONE_NUMBER_ID);

    if (ev->kind == WACHAT_KIND_MESSAGE) {
        who = wachat_event_str(ev, FROM);

    } else if (ev->kind == WACHAT_KIND_STATUS) {
        who = wachat_event_str(ev, RECIPIENT);

    } else {
        return;
    }

    if (who == NULL || *who == '\0') {
        who = wachat_event_str(ev, USER_ID);
    }

    if (pnid == NULL || *pnid == '\0' || who == NULL || *who == '\0') {
        return;
    }

    ev->customer = who;

    /* braces would break the hash tag the id is wrapped in */
    if (strpbrk(pnid, "{}") || strpbrk(who, "{}")) {
        return;
    }

    n = snprintf(ev->conv_id, sizeof(ev->conv_id), "%s:%s", pnid, who);

    if (n < 0 || (size_t) n >= sizeof(ev->conv_id)) {
        ev->conv_id[0] = '\0';
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
