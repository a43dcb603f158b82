/*
 * api kb ask: "what would the assistant answer?" from the console.  The
 * running KB answers as the engine would: with embed_url and the KB's
 * vectors there, the question is embedded first (on the loop; the agent's
 * request waits, no more than embed_timeout) and ranked by words and
 * meaning; else, or when the endpoint fails, by words alone, and the
 * answer says which.
 */

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "answer/answer.h"
#include "answer/answer_preview.h"
#include "clients/embed.h"
#include "api/api_int.h"
#include "lib/log.h"


#define WACHAT_API_KB_HITS   5


/* a question being embedded while the agent's request waits */
typedef struct {
    wachat_api_t               *api;
    struct evhttp_request      *req;
    struct evhttp_connection   *conn;
    char                       *path;
    char                       *who;
    char                       *text;
    int                         gone;   /* the agent's connection closed */
} wachat_api_ask_t;


/* the answer, its source and the best entries, ranked with qv if given */
static void
wachat_api_kb_answer(wachat_api_req_t *r, const char *text,
    const wachat_kb_vectors_t *vs, const float *qv, size_t dim,
    const char *why)
{
    int                 rc;
    size_t              i, n, best;
    yajl_gen            g;
    const wachat_kb_t  *kb = r->api->kb;
    wachat_reply_t      reply;
    wachat_kb_hit_t     hits[WACHAT_API_KB_HITS];

    rc = wachat_answer_preview(kb, vs, qv, dim, r->api->cfg, text, &reply);
    n = qv ? wachat_kb_hybrid(kb, vs, qv, dim, text, strlen(text), hits,
                              WACHAT_API_KB_HITS, &best)
           : wachat_kb_search(kb, text, strlen(text), hits,
                              WACHAT_API_KB_HITS);

    g = yajl_gen_alloc(NULL);

    if (g == NULL || rc < 0) {
        if (g) {
            yajl_gen_free(g);
        }
        if (rc > 0) {
            wachat_answer_free(&reply);
        }
        wachat_api_error(r, 503, "no_memory", "the server is out of memory");
        return;
    }

    yajl_gen_map_open(g);
    wachat_json_kv_text(g, "question", text);
    wachat_json_kv_text(g, "source", rc > 0 ? reply.source : "none");
    wachat_json_kv_opt(g, "answer", rc > 0 ? reply.text : NULL);

    /* the buttons sent with it: an entry's own, or the suggested ones */
    wachat_json_str(g, "buttons");
    yajl_gen_array_open(g);

    for (i = 0; rc > 0 && i < reply.nbuttons; i++) {
        yajl_gen_map_open(g);
        wachat_json_kv_text(g, "id", reply.button_id[i]);
        wachat_json_kv_text(g, "title", reply.button_title[i]);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    wachat_json_str(g, "min_score");
    wachat_json_score(g, r->api->cfg->kb_min_score);
    wachat_json_kv_text(g, "ranking", qv ? "words and meaning" : "words");
    wachat_json_kv_opt(g, "ranking_note", why);
    wachat_json_str(g, "hits");
    yajl_gen_array_open(g);

    for (i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        wachat_json_kv_text(g, "id", hits[i].entry->id);
        wachat_json_kv_text(g, "question", hits[i].entry->question);
        wachat_json_str(g, "score");
        wachat_json_score(g, hits[i].score);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    wachat_api_send(r, 200, g, "ok");
    yajl_gen_free(g);

    if (rc > 0) {
        wachat_answer_free(&reply);
    }
}


static void
wachat_api_ask_free(wachat_api_ask_t *a)
{
    free(a->path);
    free(a->who);
    free(a->text);
    free(a);
}


/* the agent left before the question was embedded: nothing to answer */
static void
wachat_api_ask_on_close(struct evhttp_connection *conn, void *arg)
{
    wachat_api_ask_t  *a = arg;

    (void) conn;
    a->gone = 1;
}


static void
wachat_api_ask_embedded(void *data, const wachat_embed_result_t *res)
{
    wachat_api_ask_t           *a = data;
    wachat_embed_t             *embed;
    wachat_api_req_t            r;
    const wachat_kb_vectors_t  *vs;

    if (a->gone) {
        wachat_log(WACHAT_LOG_INFO, "api: %s left before %s was answered",
                   a->who, a->path);
        wachat_api_ask_free(a);
        return;
    }

    evhttp_connection_set_closecb(a->conn, NULL, NULL);

    memset(&r, 0, sizeof(r));
    r.api = a->api;
    r.req = a->req;
    r.method = "GET";
    r.path = a->path;
    r.who = a->who;

    /* the KB may have been reloaded meanwhile: its own vectors, or none */
    vs = a->api->kb && a->api->vectors
         ? a->api->vectors(a->api->vectors_data, a->api->kb, &embed) : NULL;

    if (a->api->kb == NULL) {
        wachat_api_error(&r, 503, "no_kb", "the knowledge base is being "
                         "loaded again; ask again");

    } else if (res->ok && vs && res->n == 1 && res->dim == vs->dim) {
        wachat_api_kb_answer(&r, a->text, vs, res->vec, res->dim, NULL);

    } else {
        /* as the engine does when the endpoint fails */
        wachat_api_kb_answer(&r, a->text, NULL, NULL, 0,
                             res->ok ? "the knowledge base changed while "
                                       "the question was embedded"
                                     : res->error);
    }

    wachat_api_ask_free(a);
}


/*
 * With the engine's embeddings client and vectors: the question goes to
 * the endpoint and the answer comes from wachat_api_ask_embedded().  0,
 * or -1 when it cannot be asked (then by words alone, now).
 */
static int
wachat_api_ask_embed(wachat_api_req_t *r, const char *text)
{
    wachat_embed_t             *embed;
    wachat_api_ask_t           *a;
    const wachat_kb_vectors_t  *vs;

    vs = r->api->vectors
         ? r->api->vectors(r->api->vectors_data, r->api->kb, &embed) : NULL;

    if (vs == NULL || embed == NULL) {
        return -1;
    }

    a = calloc(1, sizeof(wachat_api_ask_t));
    if (a == NULL) {
        return -1;
    }

    a->api = r->api;
    a->req = r->req;
    a->conn = evhttp_request_get_connection(r->req);
    a->path = strdup(r->path);
    a->who = strdup(r->who ? r->who : "");
    a->text = strdup(text);

    if (a->conn == NULL || a->path == NULL || a->who == NULL
        || a->text == NULL)
    {
        wachat_api_ask_free(a);
        return -1;
    }

    evhttp_connection_set_closecb(a->conn, wachat_api_ask_on_close, a);

    if (wachat_embed_request(embed, (const char *const *) &a->text, 1, 0,
                             wachat_api_ask_embedded, a) != 0)
    {
        evhttp_connection_set_closecb(a->conn, NULL, NULL);
        wachat_api_ask_free(a);
        return -1;
    }

    return 0;
}


/* GET /api/kb/ask?q=...: the running KB's answer and its best entries */
void
wachat_api_kb_ask(wachat_api_req_t *r)
{
    const char        *text;
    struct evkeyvalq   q;

    TAILQ_INIT(&q);

    if (r->query == NULL || evhttp_parse_query_str(r->query, &q) != 0
        || (text = evhttp_find_header(&q, "q")) == NULL || *text == '\0'
        || r->api->kb == NULL)
    {
        evhttp_clear_headers(&q);
        wachat_api_error(r, 400, "bad_input", "ask with ?q=<a question, as "
                         "a customer would write it>");
        return;
    }

    if (wachat_api_ask_embed(r, text) != 0) {
        wachat_api_kb_answer(r, text, NULL, NULL, 0, NULL);
    }

    evhttp_clear_headers(&q);
}
