/*
 * Unit test of wachat_envelope (docs/events.md), TAP on stdout: the
 * helpers every part uses and main(); the cases are in envelope_types.c,
 * envelope_batch.c, envelope_contacts.c and envelope_other.c.
 *
 * JSON in these files is written with ' for " (see q()) to stay readable;
 * none of the test data needs a literal apostrophe (\u0027 is used).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#define TAP_MAIN
#include "envelope_test.h"


static char   *owned[4096];
static size_t  nowned;


/* strings */

static char *
own(char *p)
{
    if (p == NULL || nowned == sizeof(owned) / sizeof(owned[0])) {
        fprintf(stderr, "test: out of memory\n");
        exit(2);
    }

    owned[nowned++] = p;
    return p;
}


static char *
xstrndup(const char *s, size_t len)
{
    char  *p;

    p = own(malloc(len + 1));
    memcpy(p, s, len);
    p[len] = '\0';

    return p;
}


/* ' -> ": JSON written the readable way */
char *
q(const char *s)
{
    char  *p, *c;

    p = xstrndup(s, strlen(s));

    for (c = p; *c; c++) {
        if (*c == '\'') {
            *c = '"';
        }
    }

    return p;
}


char *
cat3(const char *a, const char *b, const char *c)
{
    char    *p;
    size_t   la, lb, lc;

    la = strlen(a);
    lb = strlen(b);
    lc = strlen(c);

    p = own(malloc(la + lb + lc + 1));
    memcpy(p, a, la);
    memcpy(p + la, b, lb);
    memcpy(p + la + lb, c, lc);
    p[la + lb + lc] = '\0';

    return p;
}


char *
repeat(const char *s, size_t n)
{
    char    *p;
    size_t   i, len;

    len = strlen(s);
    p = own(malloc(len * n + 1));

    for (i = 0; i < n; i++) {
        memcpy(p + i * len, s, len);
    }

    p[len * n] = '\0';

    return p;
}


static const char *
show(const wachat_str_t *s)
{
    static char    buf[512];
    size_t         i, n;
    unsigned char  c;

    if (s->data == NULL) {
        return "(absent)";
    }

    n = 0;
    buf[n++] = '\'';

    for (i = 0; i < s->len && n < sizeof(buf) - 8; i++) {
        c = (unsigned char) s->data[i];

        if (c >= 0x20 && c < 0x7f) {
            buf[n++] = (char) c;

        } else {
            n += (size_t) snprintf(buf + n, sizeof(buf) - n, "\\x%02x", c);
        }
    }

    buf[n++] = '\'';
    buf[n] = '\0';

    return buf;
}


int
str_is(const wachat_str_t *s, const char *want)
{
    if (want == NULL) {
        return s->data == NULL;
    }

    return s->data != NULL && s->len == strlen(want)
           && memcmp(s->data, want, s->len) == 0;
}


static void
sha_hex(const char *data, size_t len, char *out)
{
    size_t         i;
    unsigned char  md[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *) data, len, md);

    for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        sprintf(out + 2 * i, "%02x", md[i]);
    }
}


/* the dedup suffix the contract asks for, from the event's own fields */
static char *
expected_dedup(const wachat_envelope_event_t *ev)
{
    char                *p;
    const wachat_str_t  *kind, *id, *status, *raw;

    kind = &ev->field[WACHAT_FIELD_KIND];
    id = &ev->field[WACHAT_FIELD_ID];
    status = &ev->field[WACHAT_FIELD_STATUS];
    raw = &ev->field[WACHAT_FIELD_RAW];

    if (str_is(kind, "message") && id->data) {
        return xstrndup(id->data, id->len);
    }

    if (str_is(kind, "status") && id->data && status->data) {
        p = own(malloc(id->len + status->len + 2));
        memcpy(p, id->data, id->len);
        p[id->len] = ':';
        memcpy(p + id->len + 1, status->data, status->len);
        p[id->len + 1 + status->len] = '\0';
        return p;
    }

    if (raw->data == NULL) {
        return xstrndup("?", 1);
    }

    p = own(malloc(6 + 64 + 1));
    memcpy(p, "other:", 6);
    sha_hex(raw->data, raw->len, p + 6);

    return p;
}


/* parsing */

const char *
rc_name(wachat_envelope_rc_e rc)
{
    switch (rc) {
    case WACHAT_ENVELOPE_OK:
        return "OK";
    case WACHAT_ENVELOPE_BAD_JSON:
        return "BAD_JSON";
    case WACHAT_ENVELOPE_TOO_DEEP:
        return "TOO_DEEP";
    case WACHAT_ENVELOPE_TOO_MANY:
        return "TOO_MANY";
    case WACHAT_ENVELOPE_NOMEM:
        return "NOMEM";
    }

    return "?";
}


wachat_envelope_rc_e
parse_n(wachat_envelope_t *env, const char *body, size_t len,
    size_t max_depth, size_t max_events)
{
    wachat_envelope_limits_t  limits;

    limits.max_depth = max_depth;
    limits.max_events = max_events;

    return wachat_envelope_parse(env, body, len, &limits);
}


wachat_envelope_rc_e
parse(wachat_envelope_t *env, const char *body)
{
    return parse_n(env, body, strlen(body), 0, 0);
}


int
parsed(wachat_envelope_t *env, wachat_envelope_rc_e rc, size_t n,
    const char *desc)
{
    if (ok(rc == WACHAT_ENVELOPE_OK && env->nevents == n,
           "%s: parsed into %zu event(s)", desc, n))
    {
        return 1;
    }

    diag("  rc %s, %zu events, error '%s'", rc_name(rc), env->nevents,
         env->error);

    return 0;
}


/*
 * One TAP line per event: every field against want (NULL: must be absent;
 * v is always "1"; raw NULL: present, not compared; waba_id NULL: not
 * compared, test_waba_id() checks it) and the dedup string.
 */
void
check_event(const wachat_envelope_t *env, size_t i, const char *desc,
    const want_t want)
{
    int                             good, f;
    char                           *dedup;
    const char                     *w;
    const wachat_envelope_event_t  *ev;

    if (i >= env->nevents) {
        ok(0, "%s", desc);
        diag("  no event %zu (%zu events)", i, env->nevents);
        return;
    }

    ev = &env->events[i];
    good = 1;

    for (f = 0; f < WACHAT_FIELD_COUNT; f++) {
        w = (f == WACHAT_FIELD_V) ? "1" : want[f];

        if (f == WACHAT_FIELD_WABA_ID && w == NULL) {
            continue;
        }

        if (f == WACHAT_FIELD_RAW && w == NULL) {
            if (ev->field[f].data == NULL || ev->field[f].len == 0) {
                good = 0;
                diag("  raw: absent");
            }
            continue;
        }

        if (!str_is(&ev->field[f], w)) {
            good = 0;
            diag("  %s: got %s", wachat_field_names[f].data,
                 show(&ev->field[f]));
            diag("  %s: want %s", wachat_field_names[f].data,
                 w ? w : "(absent)");
        }
    }

    dedup = expected_dedup(ev);

    if (!str_is(&ev->dedup, dedup)) {
        good = 0;
        diag("  dedup: got %s, want %s", show(&ev->dedup), dedup);
    }

    ok(good, "%s", desc);
}



void
one_item(const char *desc, const char *array, const char *item,
    const char **want)
{
    char                 *body, *head;
    want_t                w;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

    head = cat3(HEAD "'", array, "':[");
    body = q(cat3(head, item, TAIL));

    memcpy(w, want, sizeof(w));
    w[WACHAT_FIELD_RAW] = q(item);

    rc = parse(&env, body);

    if (parsed(&env, rc, 1, desc)) {
        check_event(&env, 0, desc, w);

    } else {
        ok(0, "%s", desc);
    }

    wachat_envelope_free(&env);
}


int
main(void)
{
    size_t  i;

    test_field_names();
    test_waba_id();
    test_inbound_types();
    test_inbound_edges();
    test_statuses();
    test_batch();
    test_contacts();
    test_many_contacts();
    test_unicode();
    test_whitespace();
    test_other();
    test_dedup();
    test_too_deep();
    test_too_many();
    test_bad_json();
    test_absent();

    printf("1..%d\n", ntests);

    for (i = 0; i < nowned; i++) {
        free(owned[i]);
    }

    return nfailed ? 1 : 0;
}
