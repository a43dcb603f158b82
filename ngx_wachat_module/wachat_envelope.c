/*
 * wachat_envelope: a WhatsApp Cloud API webhook body -> flat events, as
 * documented in docs/events.md.
 *
 * The body must be strict UTF-8, then it goes through yajl in one pass
 * (wachat_envelope_frames.c); once the whole of it has been seen, its
 * shape decides between the events found and one "other" event.
 */

#include <stdio.h>
#include <string.h>

#include "wachat_utf8.h"
#include "wachat_envelope_int.h"


static void wachat_parser_init(wachat_envelope_parser_t *p,
    wachat_envelope_t *env, const char *body, size_t len,
    const wachat_envelope_limits_t *limits);
static wachat_envelope_rc_e wachat_parse_json(wachat_envelope_parser_t *p);
static wachat_envelope_rc_e wachat_verdict(wachat_envelope_parser_t *p);
static void wachat_yajl_error(wachat_envelope_parser_t *p);


wachat_envelope_rc_e
wachat_envelope_parse(wachat_envelope_t *env, const char *body, size_t len,
    const wachat_envelope_limits_t *limits)
{
    size_t                    bad;
    wachat_envelope_rc_e      rc;
    wachat_envelope_parser_t  p;

    env->events = NULL;
    env->nevents = 0;
    env->error[0] = '\0';

    env->arena = wachat_envelope_arena_create();
    if (env->arena == NULL) {
        snprintf(env->error, sizeof(env->error), "out of memory");
        return WACHAT_ENVELOPE_NOMEM;
    }

    /*
     * yajl's own check lets overlong forms and UTF-16 surrogates encoded in
     * UTF-8 through; JSON (RFC 8259) is strict UTF-8 (RFC 3629), and so
     * must be the fields consumers get.
     */

    bad = wachat_utf8_check(body, len);

    if (bad != len) {
        snprintf(env->error, sizeof(env->error),
                 "invalid UTF-8 at byte %zu", bad);
        return WACHAT_ENVELOPE_BAD_JSON;
    }

    wachat_parser_init(&p, env, body, len, limits);

    rc = wachat_parse_json(&p);

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
        wachat_envelope_arena_destroy(env->arena);
        env->arena = NULL;
    }

    env->events = NULL;
    env->nevents = 0;
}


static void
wachat_parser_init(wachat_envelope_parser_t *p, wachat_envelope_t *env,
    const char *body, size_t len, const wachat_envelope_limits_t *limits)
{
    memset(p, 0, sizeof(wachat_envelope_parser_t));

    p->env = env;
    p->arena = env->arena;
    p->body = body;
    p->len = len;
    p->rc = WACHAT_ENVELOPE_OK;
    p->max_depth = WACHAT_ENVELOPE_MAX_DEPTH;
    p->max_events = WACHAT_ENVELOPE_MAX_EVENTS;

    if (limits != NULL) {
        if (limits->max_depth) {
            p->max_depth = limits->max_depth;
        }

        if (limits->max_events) {
            p->max_events = limits->max_events;
        }
    }
}


static wachat_envelope_rc_e
wachat_parse_json(wachat_envelope_parser_t *p)
{
    yajl_status           st;
    yajl_alloc_funcs      funcs;
    wachat_envelope_rc_e  rc;

    /* yajl validates UTF-8 and rejects trailing garbage by default */
    wachat_envelope_arena_yajl(p->arena, &funcs);

    p->yajl = yajl_alloc(&wachat_envelope_callbacks, &funcs, p);
    if (p->yajl == NULL) {
        snprintf(p->env->error, sizeof(p->env->error), "out of memory");
        return WACHAT_ENVELOPE_NOMEM;
    }

    st = yajl_status_ok;

    if (p->len) {
        st = yajl_parse(p->yajl, (const unsigned char *) p->body, p->len);
    }

    if (st == yajl_status_ok) {
        p->finishing = 1;
        st = yajl_complete_parse(p->yajl);
    }

    switch (st) {

    case yajl_status_ok:
        rc = wachat_verdict(p);
        break;

    case yajl_status_client_canceled:
        rc = p->rc != WACHAT_ENVELOPE_OK ? p->rc : WACHAT_ENVELOPE_NOMEM;
        break;

    default:
        rc = WACHAT_ENVELOPE_BAD_JSON;
        wachat_yajl_error(p);
        break;
    }

    yajl_free(p->yajl);

    return rc;
}


/* valid JSON: the envelope Meta documents, or one "other" event */

static wachat_envelope_rc_e
wachat_verdict(wachat_envelope_parser_t *p)
{
    if (p->shape_bad || !p->object_ok || !p->entry_ok) {

        if (!wachat_envelope_body_other(p)) {
            return p->rc != WACHAT_ENVELOPE_OK ? p->rc
                                               : WACHAT_ENVELOPE_NOMEM;
        }

        return WACHAT_ENVELOPE_OK;
    }

    if (p->too_many) {
        (void) wachat_envelope_fail(p, WACHAT_ENVELOPE_TOO_MANY);
        return WACHAT_ENVELOPE_TOO_MANY;
    }

    return WACHAT_ENVELOPE_OK;
}


int
wachat_envelope_fail(wachat_envelope_parser_t *p, wachat_envelope_rc_e rc)
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


static void
wachat_yajl_error(wachat_envelope_parser_t *p)
{
    size_t          n, off;
    unsigned char  *msg;

    off = wachat_envelope_offset(p);

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
