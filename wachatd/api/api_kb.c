/*
 * api kb: the knowledge base from the console: browse it, try a question
 * against it ("what would the assistant answer?"), and add to it (a new
 * entry, new phrasings), for the agents kb_editors allows.  Editing the
 * file is answer/kb_edit.c's business; the daemon reloads it after the
 * answer has gone out.
 */

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

#include "answer/answer.h"
#include "answer/kb_edit.h"
#include "api/api_int.h"
#include "lib/log.h"


#define WACHAT_API_KB_ALSO   16         /* phrasings in one request */


static void
wachat_api_gen_kb_entry(yajl_gen g, const wachat_kb_entry_t *e)
{
    size_t  i;

    yajl_gen_map_open(g);
    wachat_json_kv_text(g, "id", e->id);
    wachat_json_kv_text(g, "question", e->question);
    wachat_json_str(g, "also");
    yajl_gen_array_open(g);

    for (i = 0; i < e->nalso; i++) {
        wachat_json_text(g, e->also[i], strlen(e->also[i]));
    }

    yajl_gen_array_close(g);
    wachat_json_kv_text(g, "answer", e->answer);
    wachat_json_str(g, "buttons");
    yajl_gen_array_open(g);

    for (i = 0; i < e->nbuttons; i++) {
        yajl_gen_map_open(g);
        wachat_json_kv_text(g, "title", e->buttons[i].title);
        wachat_json_kv_text(g, "id", e->buttons[i].id);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}


/* GET /api/kb: the file as it is on disk, with the version to edit it */
void
wachat_api_kb(wachat_api_req_t *r)
{
    char          err[512], version[WACHAT_KB_VERSION_LEN + 1];
    size_t        i;
    yajl_gen      g;
    wachat_kb_t  *kb;

    if (wachat_kb_version(r->api->cfg->kb, version, err, sizeof(err)) != 0
        || (kb = wachat_kb_load(r->api->cfg->kb, err, sizeof(err))) == NULL)
    {
        wachat_api_error(r, 503, "kb_unreadable", err);
        return;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        wachat_kb_free(kb);
        wachat_api_error(r, 503, "no_memory", "the server is out of memory");
        return;
    }

    yajl_gen_map_open(g);
    wachat_json_kv_text(g, "version", version);
    wachat_json_kv_bool(g, "editable", wachat_api_kb_editor(r));
    wachat_json_str(g, "entries");
    yajl_gen_array_open(g);

    for (i = 0; i < wachat_kb_count(kb); i++) {
        wachat_api_gen_kb_entry(g, wachat_kb_entry(kb, i));
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    wachat_api_send(r, 200, g, "ok");
    yajl_gen_free(g);
    wachat_kb_free(kb);
}


/* kb_editors: "*" every agent, "-" nobody, else the ids listed */
int
wachat_api_kb_editor(wachat_api_req_t *r)
{
    size_t                i;
    const wachat_list_t  *l;

    l = &r->api->cfg->kb_editors;

    for (i = 0; i < l->n; i++) {
        if (strcmp(l->items[i], "*") == 0
            || strcmp(l->items[i], r->agent->id) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* the outcome of an edit as HTTP; 0 when it was written */
static int
wachat_api_kb_outcome(wachat_api_req_t *r, wachat_kb_edit_rc_e rc,
    const char *err)
{
    switch (rc) {
    case WACHAT_KB_EDIT_OK:
        return 0;
    case WACHAT_KB_EDIT_EINPUT:
        wachat_api_error(r, 400, "bad_entry", err);
        break;
    case WACHAT_KB_EDIT_ECONFLICT:
        wachat_api_error(r, 409, "kb_changed", err);
        break;
    case WACHAT_KB_EDIT_ENOENTRY:
        wachat_api_error(r, 404, "no_entry", err);
        break;
    case WACHAT_KB_EDIT_EIO:
        wachat_log(WACHAT_LOG_ERROR, "api: knowledge base edit by %s: %s",
                   r->agent->id, err);
        wachat_api_error(r, 503, "kb_unwritable", err);
        break;
    }

    return -1;
}


/* the strings of an array member, at most max; -1 when not strings */
static int
wachat_api_kb_strings(yajl_val body, const char *name, const char **out,
    size_t max, size_t *n)
{
    size_t        i;
    yajl_val      a;
    const char   *path[2];

    path[0] = name;
    path[1] = NULL;
    *n = 0;

    a = yajl_tree_get(body, path, yajl_t_any);

    if (a == NULL) {
        return 0;
    }

    if (!YAJL_IS_ARRAY(a) || a->u.array.len > max) {
        return -1;
    }

    for (i = 0; i < a->u.array.len; i++) {
        if (!YAJL_IS_STRING(a->u.array.values[i])) {
            return -1;
        }

        out[(*n)++] = YAJL_GET_STRING(a->u.array.values[i]);
    }

    return 0;
}


/* after the answer: the daemon reloads, the new text answers */
static void
wachat_api_kb_written(wachat_api_req_t *r, const char *what, const char *id)
{
    char      version[WACHAT_KB_VERSION_LEN + 1], err[256];
    yajl_gen  g;

    wachat_log(WACHAT_LOG_NOTICE, "api: agent %s %s #%s in the knowledge "
               "base %s", r->agent->id, what, id, r->api->cfg->kb);

    if (wachat_kb_version(r->api->cfg->kb, version, err, sizeof(err)) != 0) {
        version[0] = '\0';
    }

    g = yajl_gen_alloc(NULL);

    if (g) {
        yajl_gen_map_open(g);
        wachat_json_kv_text(g, "id", id);
        wachat_json_kv_text(g, "version", version);
        yajl_gen_map_close(g);
    }

    wachat_api_send(r, strcmp(what, "added") == 0 ? 201 : 200, g, what);

    if (g) {
        yajl_gen_free(g);
    }

    if (r->api->reload) {
        r->api->reload(r->api->reload_data);
    }
}


static yajl_val
wachat_api_kb_body(wachat_api_req_t *r)
{
    if (!wachat_api_kb_editor(r)) {
        wachat_api_error(r, 403, "not_kb_editor", "this agent may not edit "
                         "the knowledge base (kb_editors in wachatd's "
                         "config)");
        return NULL;
    }

    return wachat_api_body(r);
}


/* POST /api/kb/entries {question, answer, also: [...], id?, version} */
void
wachat_api_kb_add(wachat_api_req_t *r)
{
    char                    err[512], id[256];
    size_t                  n;
    yajl_val                body, v;
    const char             *also[WACHAT_API_KB_ALSO], *path[2];
    wachat_kb_edit_rc_e     rc;
    wachat_kb_new_entry_t   e;

    body = wachat_api_kb_body(r);
    if (body == NULL) {
        return;
    }

    memset(&e, 0, sizeof(e));
    path[1] = NULL;

    path[0] = "question";
    v = yajl_tree_get(body, path, yajl_t_string);
    e.question = v ? YAJL_GET_STRING(v) : NULL;
    path[0] = "answer";
    v = yajl_tree_get(body, path, yajl_t_string);
    e.answer = v ? YAJL_GET_STRING(v) : NULL;
    path[0] = "id";
    v = yajl_tree_get(body, path, yajl_t_string);
    e.id = v && *YAJL_GET_STRING(v) ? YAJL_GET_STRING(v) : NULL;
    path[0] = "version";
    v = yajl_tree_get(body, path, yajl_t_string);

    if (e.question == NULL || e.answer == NULL || v == NULL
        || wachat_api_kb_strings(body, "also", also, WACHAT_API_KB_ALSO, &n)
           != 0)
    {
        yajl_tree_free(body);
        wachat_api_error(r, 400, "bad_input", "send {\"question\": ..., "
                         "\"answer\": ..., \"also\": [phrasings], \"id\": "
                         "optional, \"version\": of GET /api/kb}");
        return;
    }

    e.also = also;
    e.nalso = n;

    rc = wachat_kb_add_entry(r->api->cfg->kb, YAJL_GET_STRING(v), &e, id,
                             err, sizeof(err));
    yajl_tree_free(body);

    if (wachat_api_kb_outcome(r, rc, err) == 0) {
        wachat_api_kb_written(r, "added", id);
    }
}


/* POST /api/kb/also {id, also: [...], version} */
void
wachat_api_kb_also(wachat_api_req_t *r)
{
    char                 err[512], id[256];
    size_t               n;
    yajl_val             body, v, idv;
    const char          *also[WACHAT_API_KB_ALSO], *path[2];
    wachat_kb_edit_rc_e  rc;

    body = wachat_api_kb_body(r);
    if (body == NULL) {
        return;
    }

    path[1] = NULL;
    path[0] = "id";
    idv = yajl_tree_get(body, path, yajl_t_string);
    path[0] = "version";
    v = yajl_tree_get(body, path, yajl_t_string);

    if (idv == NULL || v == NULL
        || wachat_api_kb_strings(body, "also", also, WACHAT_API_KB_ALSO, &n)
           != 0 || n == 0)
    {
        yajl_tree_free(body);
        wachat_api_error(r, 400, "bad_input", "send {\"id\": ..., \"also\": "
                         "[phrasings], \"version\": of GET /api/kb}");
        return;
    }

    snprintf(id, sizeof(id), "%s", YAJL_GET_STRING(idv));
    rc = wachat_kb_add_also(r->api->cfg->kb, YAJL_GET_STRING(v), id, also, n,
                            err, sizeof(err));
    yajl_tree_free(body);

    if (wachat_api_kb_outcome(r, rc, err) == 0) {
        wachat_api_kb_written(r, "rephrased", id);
    }
}
