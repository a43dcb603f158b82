/*
 * json: the yajl helpers (see json.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/json.h"
#include "wachat_utf8.h"


void
wachat_json_bytes(yajl_gen g, const char *s, size_t len)
{
    yajl_gen_string(g, (const unsigned char *) s, len);
}


void
wachat_json_str(yajl_gen g, const char *s)
{
    if (s == NULL) {
        yajl_gen_null(g);
        return;
    }

    wachat_json_bytes(g, s, strlen(s));
}


void
wachat_json_kv(yajl_gen g, const char *name, const char *value)
{
    wachat_json_str(g, name);
    wachat_json_str(g, value);
}


void
wachat_json_kv_bytes(yajl_gen g, const char *name, const char *value,
    size_t len)
{
    wachat_json_str(g, name);

    if (value == NULL) {
        yajl_gen_null(g);
        return;
    }

    wachat_json_bytes(g, value, len);
}


void
wachat_json_kv_int(yajl_gen g, const char *name, long long value)
{
    wachat_json_str(g, name);
    yajl_gen_integer(g, value);
}


void
wachat_json_kv_bool(yajl_gen g, const char *name, int value)
{
    wachat_json_str(g, name);
    yajl_gen_bool(g, value);
}


void
wachat_json_kv_opt(yajl_gen g, const char *name, const char *value)
{
    if (value) {
        wachat_json_kv(g, name, value);
    }
}


void
wachat_json_text(yajl_gen g, const char *s, size_t len)
{
    size_t        i, n;
    uint32_t      cp;
    wachat_buf_t  fixed = WACHAT_BUF_INIT;

    if (s == NULL) {
        yajl_gen_null(g);
        return;
    }

    i = wachat_utf8_check(s, len);

    if (i == len) {
        wachat_json_bytes(g, s, len);
        return;
    }

    wachat_buf_add(&fixed, s, i);

    for ( /* void */ ; i < len; i += n) {
        n = wachat_utf8_decode(s + i, len - i, &cp);

        if (n == 0) {
            wachat_buf_add(&fixed, "\xef\xbf\xbd", 3);
            n = 1;

        } else {
            wachat_buf_add(&fixed, s + i, n);
        }
    }

    if (fixed.oom) {
        wachat_json_bytes(g, "", 0);

    } else {
        wachat_json_bytes(g, fixed.p, fixed.len);
    }

    wachat_buf_free(&fixed);
}


void
wachat_json_kv_text(yajl_gen g, const char *name, const char *value)
{
    wachat_json_str(g, name);
    wachat_json_text(g, value, value ? strlen(value) : 0);
}


yajl_gen
wachat_json_gen_strict(void)
{
    yajl_gen  g;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    yajl_gen_config(g, yajl_gen_validate_utf8, 1);

    return g;
}


int
wachat_json_put_str(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *) s, strlen(s))
           == yajl_gen_status_ok ? 0 : -1;
}


int
wachat_json_put_kv(yajl_gen g, const char *name, const char *value)
{
    int  rc;

    rc = wachat_json_put_str(g, name);
    rc |= wachat_json_put_str(g, value);

    return rc;
}


int
wachat_json_gen_finish(yajl_gen g, int failed, char **json, size_t *len)
{
    char                 *out;
    size_t                n;
    const unsigned char  *buf;

    if (failed || yajl_gen_get_buf(g, &buf, &n) != yajl_gen_status_ok) {
        yajl_gen_free(g);
        return -1;
    }

    out = malloc(n + 1);
    if (out == NULL) {
        yajl_gen_free(g);
        return -1;
    }

    memcpy(out, buf, n);
    out[n] = '\0';
    yajl_gen_free(g);

    *json = out;
    *len = n;

    return 0;
}


yajl_val
wachat_json_parse(const char *body, size_t len)
{
    char      *copy;
    yajl_val   root;

    if (body == NULL || len == 0) {
        return NULL;
    }

    /* yajl_tree_parse() wants a NUL-terminated string */
    copy = malloc(len + 1);
    if (copy == NULL) {
        return NULL;
    }

    memcpy(copy, body, len);
    copy[len] = '\0';

    root = yajl_tree_parse(copy, NULL, 0);
    free(copy);

    return root;
}


const char *
wachat_json_get_str(yajl_val root, const char **path)
{
    yajl_val  v;

    v = yajl_tree_get(root, path, yajl_t_string);

    return v ? v->u.string : NULL;
}


void
wachat_json_score(yajl_gen g, double value)
{
    int   n;
    char  buf[32];

    n = snprintf(buf, sizeof(buf), "%.3f", value);

    if (n > 0 && (size_t) n < sizeof(buf)) {
        yajl_gen_number(g, buf, (size_t) n);

    } else {
        yajl_gen_null(g);
    }
}
