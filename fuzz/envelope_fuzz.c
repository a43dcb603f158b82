/*
 * libFuzzer target for wachat_envelope_parse() (make fuzz; docs/fuzzing.md).
 *
 * Besides ASan/UBSan findings it aborts when a result breaks the contract:
 * raw outside the input or not one JSON value, a message without id, a
 * dedup string of the wrong form, more events than the limit.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "wachat_envelope.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static int
is(const wachat_str_t *s, const char *v)
{
    return s->data != NULL && s->len == strlen(v)
           && memcmp(s->data, v, s->len) == 0;
}


static int
valid_json(const char *p, size_t len)
{
    int          good;
    yajl_handle  h;

    h = yajl_alloc(NULL, NULL, NULL);
    if (h == NULL) {
        return 1;
    }

    good = yajl_parse(h, (const unsigned char *) p, len) == yajl_status_ok
           && yajl_complete_parse(h) == yajl_status_ok;

    yajl_free(h);

    return good;
}


static void
check(const wachat_envelope_t *env, const char *body, size_t size,
    size_t max_events)
{
    size_t                          i;
    const wachat_str_t             *kind, *raw, *id;
    const wachat_envelope_event_t  *ev;

    if (env->nevents > max_events) {
        abort();
    }

    for (i = 0; i < env->nevents; i++) {
        ev = &env->events[i];
        kind = &ev->field[WACHAT_FIELD_KIND];
        raw = &ev->field[WACHAT_FIELD_RAW];
        id = &ev->field[WACHAT_FIELD_ID];

        if (!is(&ev->field[WACHAT_FIELD_V], WACHAT_CONTRACT_VERSION)
            || raw->data < body || raw->len == 0
            || raw->len > size - (size_t) (raw->data - body)
            || !valid_json(raw->data, raw->len)
            || ev->dedup.data == NULL)
        {
            abort();
        }

        if (is(kind, "message")) {
            if (id->len == 0 || ev->dedup.len != id->len
                || raw->data[0] != '{' || raw->data[raw->len - 1] != '}')
            {
                abort();
            }

        } else if (is(kind, "status")) {
            if (id->len == 0 || ev->field[WACHAT_FIELD_STATUS].len == 0
                || ev->dedup.len
                   != id->len + 1 + ev->field[WACHAT_FIELD_STATUS].len)
            {
                abort();
            }

        } else if (is(kind, "other")) {
            if (ev->dedup.len != 70 || memcmp(ev->dedup.data, "other:", 6)
                || ev->field[WACHAT_FIELD_TYPE].data == NULL
                || id->data != NULL)
            {
                abort();
            }

        } else {
            abort();
        }
    }
}


static void
run(const char *body, size_t size, size_t max_depth, size_t max_events)
{
    wachat_envelope_t         env;
    wachat_envelope_limits_t  limits;

    limits.max_depth = max_depth;
    limits.max_events = max_events;

    if (wachat_envelope_parse(&env, body, size, &limits)
        == WACHAT_ENVELOPE_OK)
    {
        check(&env, body, size, max_events ? max_events : 4096);
    }

    wachat_envelope_free(&env);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char  *body;

    body = (const char *) data;

    run(body, size, 0, 0);      /* the defaults: 64 levels, 4096 events */
    run(body, size, 10, 2);     /* deep enough to reach message parts */
    run(body, size, 1, 1);

    return 0;
}
