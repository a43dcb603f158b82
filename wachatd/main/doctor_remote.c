/*
 * doctor_remote: the doctor's checks of the APIs wachatd calls out to: the
 * Graph token (GET /{phone-number-id}) and the LLM endpoint.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "main/doctor_int.h"
#include "clients/graph.h"


static void
wachat_doctor_graph_done(void *data, const wachat_graph_reply_t *reply)
{
    wachat_doctor_wait_t  *w = data;

    w->done = 1;
    w->graph = *reply;

    /* the strings live only during the call: keep what we print */
    w->graph.message = reply->message ? strdup(reply->message) : NULL;
    w->graph.phone = reply->phone ? strdup(reply->phone) : NULL;
    w->graph.verified_name = reply->verified_name
                             ? strdup(reply->verified_name) : NULL;
    w->graph.wamid = NULL;
    w->graph.details = NULL;
    w->graph.err_type = NULL;
    w->graph.fbtrace_id = NULL;

    event_base_loopbreak(w->base);
}


static void
wachat_doctor_phone(wachat_doctor_t *doc, wachat_graph_t *g,
    const char *pnid)
{
    size_t                      i, n;
    const char                 *explain;
    wachat_doctor_wait_t        w;
    const wachat_graph_hint_t  *hints;

    memset(&w, 0, sizeof(w));
    w.base = doc->base;

    if (wachat_graph_check(g, pnid, wachat_doctor_graph_done, &w) != 0) {
        wachat_doctor_say(doc, "FAIL", "graph: cannot check %s (is it a "
                          "phone number id, digits only?)", pnid);
        return;
    }

    while (!w.done) {
        event_base_dispatch(doc->base);
    }

    if (w.graph.result == WACHAT_GRAPH_OK) {
        wachat_doctor_say(doc, "ok", "graph: the token is accepted for phone "
                          "number id %s (%s, %s)", pnid,
                          w.graph.phone ? w.graph.phone : "?",
                          w.graph.verified_name ? w.graph.verified_name
                                                : "?");

    } else {
        explain = w.graph.code >= 0 ? wachat_graph_explain(w.graph.code)
                                    : NULL;

        wachat_doctor_say(doc, "FAIL", "graph: GET /%s: HTTP %ld, code %ld: "
                          "%s%s%s", pnid, w.graph.http_status, w.graph.code,
                          w.graph.message ? w.graph.message : "no answer",
                          explain ? " — " : "", explain ? explain : "");

        hints = wachat_graph_troubleshooting(&n);

        for (i = 0; i < n; i++) {
            printf("      if %s (%s): %s\n", hints[i].topic,
                   hints[i].symptom, hints[i].fix);
        }
    }

    free(w.graph.message);
    free(w.graph.phone);
    free(w.graph.verified_name);
}


void
wachat_doctor_graph(wachat_doctor_t *doc, wachat_redis_t *st,
    const wachat_config_t *cfg, const char *pnid)
{
    size_t                i, n;
    redisReply           *r;
    const char           *why;
    wachat_graph_t       *g;
    wachat_graph_conf_t   gc;
    char                  seen[8][64];

    if (cfg->outbound == WACHAT_OUTBOUND_SANDBOX) {
        wachat_doctor_say(doc, "warn", "outbound sandbox: replies go to the "
                          "stream %s, no customer receives them",
                          cfg->outbox_stream);
        return;
    }

    gc.api_url = cfg->graph_api_url;
    gc.token = cfg->graph_token.value;
    gc.timeout_ms = cfg->graph_timeout_ms;

    why = NULL;
    g = wachat_graph_new(doc->http, &gc, &why);

    if (g == NULL) {
        wachat_doctor_say(doc, "FAIL", "graph: %s", why ? why : "unusable");
        return;
    }

    if (pnid) {
        wachat_doctor_phone(doc, g, pnid);
        wachat_graph_free(g);
        return;
    }

    /* the business numbers customers wrote to, from the conversations */
    n = 0;
    r = wachat_redis_cmd(st, "ZREVRANGE %s 0 999", WACHAT_KEY_CONVS);

    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        size_t  k, len = strcspn(r->element[i]->str, ":");
        int     dup = 0;

        for (k = 0; k < n; k++) {
            if (strlen(seen[k]) == len
                && strncmp(seen[k], r->element[i]->str, len) == 0)
            {
                dup = 1;
            }
        }

        if (!dup && n < 8 && len < sizeof(seen[0])) {
            snprintf(seen[n++], sizeof(seen[0]), "%.*s", (int) len,
                     r->element[i]->str);
        }
    }

    freeReplyObject(r);

    if (n == 0) {
        wachat_doctor_say(doc, "warn", "graph: no conversation yet, so no "
                          "phone number id to check the token with: run "
                          "`wachatctl doctor --phone-number-id <id>`");
    }

    for (i = 0; i < n; i++) {
        wachat_doctor_phone(doc, g, seen[i]);
    }

    wachat_graph_free(g);
}


void
wachat_doctor_llm(wachat_doctor_t *doc, const wachat_config_t *cfg)
{
    char                   url[2048], auth[1024];
    const char            *headers[2];
    wachat_http_req_t      req;
    wachat_doctor_wait_t   w;

    if (cfg->backend != WACHAT_BACKEND_OPENAI) {
        return;
    }

    snprintf(url, sizeof(url), "%s/models", cfg->llm_url);
    memset(&req, 0, sizeof(req));
    req.url = url;
    req.timeout_ms = cfg->llm_timeout_ms;

    if (cfg->llm_key.value && *cfg->llm_key.value) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
                 cfg->llm_key.value);
        headers[0] = auth;
        headers[1] = NULL;
        req.headers = headers;
    }

    if (wachat_doctor_request(doc, &req, &w) != 0) {
        wachat_doctor_say(doc, "FAIL", "llm: cannot request %s", url);
        return;
    }

    memset(auth, 0, sizeof(auth));

    if (w.error != WACHAT_HTTP_DONE) {
        wachat_doctor_say(doc, "FAIL", "llm: %s unreachable: %s (replies "
                          "fall back to the knowledge base)", cfg->llm_url,
                          w.error_text);

    } else if (w.status == 401 || w.status == 403) {
        wachat_doctor_say(doc, "FAIL", "llm: %s refuses the key (HTTP %ld): "
                          "check llm_key_file", cfg->llm_url, w.status);

    } else {
        wachat_doctor_say(doc, w.status == 200 ? "ok" : "warn",
                          "llm: %s answers (GET /models: HTTP %ld)",
                          cfg->llm_url, w.status);
    }
}
