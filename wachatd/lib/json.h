/*
 * json: wachatd's one set of yajl helpers, for writing (key/value pairs on a
 * yajl_gen) and for reading (a tree from bytes that need not end in NUL).
 */

#ifndef WACHAT_JSON_H
#define WACHAT_JSON_H

#include <stddef.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>


/* a string; NULL becomes JSON null */
void wachat_json_str(yajl_gen g, const char *s);
void wachat_json_bytes(yajl_gen g, const char *s, size_t len);

/* "name": value; a NULL value becomes null */
void wachat_json_kv(yajl_gen g, const char *name, const char *value);
void wachat_json_kv_bytes(yajl_gen g, const char *name, const char *value,
    size_t len);
void wachat_json_kv_int(yajl_gen g, const char *name, long long value);
void wachat_json_kv_bool(yajl_gen g, const char *name, int value);

/* "name": value, left out altogether when value is NULL */
void wachat_json_kv_opt(yajl_gen g, const char *name, const char *value);

/* a tree of body[0..len), or NULL (not JSON, empty, out of memory) */
yajl_val wachat_json_parse(const char *body, size_t len);

/* the string at a path ({"a", "b", NULL}), or NULL */
const char *wachat_json_get_str(yajl_val root, const char **path);


#endif /* WACHAT_JSON_H */
