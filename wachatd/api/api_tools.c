/*
 * api tools: what helps an agent write and find: the canned replies (the
 * config's and the knowledge base's answers) and a search of every
 * conversation's history on the server, not only what the console loaded.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

#include "api/api_int.h"


#define WACHAT_API_SEARCH_CONVS    5000     /* conversations read at most */
#define WACHAT_API_SEARCH_HITS     50
#define WACHAT_API_SEARCH_QUERY    200      /* bytes */


/* GET /api/canned */
void
wachat_api_canned(wachat_api_req_t *r)
{
    size_t                    i;
    yajl_gen                  g;
    const wachat_list_t      *c;
    const wachat_kb_entry_t  *e;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        wachat_api_error(r, 503, "no_memory", "the server is out of memory");
        return;
    }

    c = &r->api->cfg->canned;

    yajl_gen_map_open(g);
    wachat_json_str(g, "canned");
    yajl_gen_array_open(g);

    for (i = 0; i + 1 < c->n; i += 2) {
        yajl_gen_map_open(g);
        wachat_json_kv_text(g, "name", c->items[i]);
        wachat_json_kv_text(g, "text", c->items[i + 1]);
        wachat_json_kv_text(g, "from", "config");
        yajl_gen_map_close(g);
    }

    for (i = 0; r->api->kb && i < wachat_kb_count(r->api->kb); i++) {
        e = wachat_kb_entry(r->api->kb, i);
        yajl_gen_map_open(g);
        wachat_json_kv_text(g, "name", e->id);
        wachat_json_kv_text(g, "text", e->answer);
        wachat_json_kv_text(g, "from", "kb");
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    wachat_api_send(r, 200, g, "ok");
    yajl_gen_free(g);
}


/* ASCII case aside; other bytes as they are (a CJK word matches itself) */
static const char *
wachat_api_find(const char *hay, const char *needle, size_t n)
{
    for ( /* void */ ; *hay; hay++) {
        if (strncasecmp(hay, needle, n) == 0) {
            return hay;
        }
    }

    return NULL;
}


/* one conversation's matching history entries into the open array */
static size_t
wachat_api_search_conv(wachat_api_req_t *r, yajl_gen g, const char *conv,
    const char *q, size_t qlen, size_t room)
{
    size_t             i, found;
    redisReply        *h;
    const char        *text, *who, *dir;
    const redisReply  *kv;
    char               key[WACHAT_KEY_MAX];

    wachat_store_key_hist(key, conv);
    h = wachat_redis_cmd(r->api->st, "XRANGE %s - +", key);
    found = 0;

    for (i = 0; h && h->type == REDIS_REPLY_ARRAY && i < h->elements
                && found < room; i++)
    {
        if (h->element[i]->type != REDIS_REPLY_ARRAY
            || h->element[i]->elements != 2)
        {
            continue;
        }

        kv = h->element[i]->element[1];
        text = wachat_redis_reply_field(kv, "text");

        if (text == NULL || wachat_api_find(text, q, qlen) == NULL) {
            continue;
        }

        dir = wachat_redis_reply_field(kv, "dir");
        who = wachat_redis_reply_field(kv, "who");

        yajl_gen_map_open(g);
        wachat_json_kv_text(g, "conv", conv);
        wachat_json_kv_text(g, "id", h->element[i]->element[0]->str);
        wachat_json_kv_opt(g, "dir", dir);
        wachat_json_kv_opt(g, "who", who);
        wachat_json_kv_int(g, "ts_ms", wachat_store_entry_ms(kv));
        wachat_json_kv_text(g, "text", text);
        yajl_gen_map_close(g);

        found++;
    }

    freeReplyObject(h);

    return found;
}


/* GET /api/search?q=...: the newest conversations first, 50 hits at most */
void
wachat_api_search(wachat_api_req_t *r)
{
    size_t             i, n, qlen, scanned;
    yajl_gen           g;
    redisReply        *convs;
    const char        *q;
    struct evkeyvalq   args;

    TAILQ_INIT(&args);

    if (r->query == NULL || evhttp_parse_query_str(r->query, &args) != 0
        || (q = evhttp_find_header(&args, "q")) == NULL
        || (qlen = strlen(q)) < 2 || qlen > WACHAT_API_SEARCH_QUERY)
    {
        evhttp_clear_headers(&args);
        wachat_api_error(r, 400, "bad_input", "search with ?q=<2 to 200 "
                         "bytes>");
        return;
    }

    convs = wachat_redis_cmd(r->api->st, "ZREVRANGE %s 0 %d", WACHAT_KEY_CONVS,
                             WACHAT_API_SEARCH_CONVS - 1);

    if (convs == NULL || convs->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(convs);
        evhttp_clear_headers(&args);
        wachat_api_redis_error(r);
        return;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        freeReplyObject(convs);
        evhttp_clear_headers(&args);
        wachat_api_error(r, 503, "no_memory", "the server is out of memory");
        return;
    }

    yajl_gen_map_open(g);
    wachat_json_str(g, "hits");
    yajl_gen_array_open(g);

    n = 0;
    scanned = 0;

    for (i = 0; i < convs->elements && n < WACHAT_API_SEARCH_HITS; i++) {
        if (convs->element[i]->type == REDIS_REPLY_STRING) {
            n += wachat_api_search_conv(r, g, convs->element[i]->str, q, qlen,
                                        WACHAT_API_SEARCH_HITS - n);
            scanned++;
        }
    }

    yajl_gen_array_close(g);
    wachat_json_kv_int(g, "scanned", (long long) scanned);
    wachat_json_kv_bool(g, "more", n >= WACHAT_API_SEARCH_HITS);
    yajl_gen_map_close(g);

    wachat_api_send(r, 200, g, "ok");
    yajl_gen_free(g);
    freeReplyObject(convs);
    evhttp_clear_headers(&args);
}
