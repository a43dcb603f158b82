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
/* a score 0..1 as a number of 3 decimals, not 0.81999999999999995 */
void wachat_json_score(yajl_gen g, double value);
void wachat_json_kv_bool(yajl_gen g, const char *name, int value);

/* "name": value, left out altogether when value is NULL */
void wachat_json_kv_opt(yajl_gen g, const char *name, const char *value);

/*
 * Text from outside (Redis, a URL): a byte that is not UTF-8 becomes U+FFFD,
 * so the JSON is valid whatever was stored.  NULL becomes null.
 */
void wachat_json_text(yajl_gen g, const char *s, size_t len);
void wachat_json_kv_text(yajl_gen g, const char *name, const char *value);


/*
 * Bodies that must come out whole (a request to Graph or to the model): a
 * generator that refuses invalid UTF-8 (NULL when out of memory), writers
 * that say whether yajl took the string (0, or -1), and the copy of the
 * result: a malloc'ed, NUL-terminated *json of *len bytes, or -1.  finish
 * frees g in any case, and fails when failed is nonzero.
 */
yajl_gen wachat_json_gen_strict(void);
int wachat_json_put_str(yajl_gen g, const char *s);
int wachat_json_put_kv(yajl_gen g, const char *name, const char *value);
int wachat_json_gen_finish(yajl_gen g, int failed, char **json, size_t *len);


/* a tree of body[0..len), or NULL (not JSON, empty, out of memory) */
yajl_val wachat_json_parse(const char *body, size_t len);

/* the string at a path ({"a", "b", NULL}), or NULL */
const char *wachat_json_get_str(yajl_val root, const char **path);


#endif /* WACHAT_JSON_H */
