/*
 * api insight: where the assistant falls short (unanswered questions), for
 * the console's improvement view.  Reading only; what a group means is
 * insight/unanswered.c's business.
 */

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

#include "api/api_int.h"
#include "insight/unanswered.h"
#include "lib/clock.h"


#define WACHAT_API_INSIGHT_SCAN  10000  /* conversations read at most */


static void
wachat_api_gen_group(yajl_gen g, const wachat_unanswered_group_t *grp)
{
    size_t  k;

    yajl_gen_map_open(g);
    wachat_json_kv_text(g, "text", grp->text);
    wachat_json_kv_text(g, "why", grp->why);
    wachat_json_kv_opt(g, "lang", grp->lang);
    wachat_json_kv_opt(g, "answered_by", grp->source);
    wachat_json_kv_int(g, "count", (long long) grp->count);
    wachat_json_kv_int(g, "last_ms", grp->last_ms);
    wachat_json_str(g, "conversations");
    yajl_gen_array_open(g);

    for (k = 0; k < grp->nconvs; k++) {
        wachat_json_text(g, grp->convs[k], strlen(grp->convs[k]));
    }

    yajl_gen_array_close(g);

    /* what customers tapped among the entries the fallback suggested */
    wachat_json_str(g, "picked");
    yajl_gen_array_open(g);

    for (k = 0; k < grp->npicks; k++) {
        yajl_gen_map_open(g);
        wachat_json_kv_text(g, "id", grp->picks[k].id);
        wachat_json_kv_int(g, "count", (long long) grp->picks[k].count);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}


/* GET /api/unanswered?since=7d&lang=zh */
void
wachat_api_unanswered(wachat_api_req_t *r)
{
    char                 err[256];
    size_t               i;
    yajl_gen             g;
    long long            since;
    const char          *span, *lang;
    struct evkeyvalq     q;
    wachat_unanswered_t  u;

    TAILQ_INIT(&q);

    if (r->query && evhttp_parse_query_str(r->query, &q) != 0) {
        wachat_api_error(r, 400, "bad_input", "the query string is not "
                         "valid");
        return;
    }

    span = evhttp_find_header(&q, "since");
    lang = evhttp_find_header(&q, "lang");

    if (lang && *lang == '\0') {
        lang = NULL;
    }

    if (wachat_config_duration(span && *span ? span : "7d", &since) != 0) {
        evhttp_clear_headers(&q);
        wachat_api_error(r, 400, "bad_input", "since is a duration such as "
                         "24h, 7d or 30d");
        return;
    }

    if (wachat_unanswered_scan(r->api->st, wachat_clock_ms() - since, lang,
                               WACHAT_API_INSIGHT_SCAN, &u, err, sizeof(err))
        != 0)
    {
        evhttp_clear_headers(&q);
        wachat_api_redis_error(r);
        return;
    }

    evhttp_clear_headers(&q);

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        wachat_unanswered_free(&u);
        wachat_api_error(r, 503, "no_memory", "the server is out of memory");
        return;
    }

    yajl_gen_map_open(g);
    wachat_json_kv_int(g, "since_ms", wachat_clock_ms() - since);
    wachat_json_kv_int(g, "scanned", (long long) u.scanned);
    wachat_json_kv_bool(g, "truncated", u.truncated);
    wachat_json_str(g, "groups");
    yajl_gen_array_open(g);

    for (i = 0; i < u.n; i++) {
        wachat_api_gen_group(g, &u.groups[i]);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    wachat_api_send(r, 200, g, "ok");
    yajl_gen_free(g);
    wachat_unanswered_free(&u);
}
