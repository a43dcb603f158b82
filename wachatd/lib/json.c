/*
 * json: the yajl helpers (see json.h).
 */

#include <stdlib.h>
#include <string.h>

#include "lib/json.h"


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
