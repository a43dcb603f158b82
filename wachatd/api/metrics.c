/*
 * metrics: wachatd's Prometheus text.
 */

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "agents/agents.h"
#include "api/metrics.h"
#include "clients/graph.h"
#include "wachat_contract.h"


static void
wachat_metrics_head(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                        type);
}


static long long
wachat_metrics_card(wachat_redis_t *st, const char *key)
{
    long long    n;
    redisReply  *r;

    r = wachat_redis_cmd(st, "ZCARD %s", key);
    n = (r && r->type == REDIS_REPLY_INTEGER) ? r->integer : -1;
    freeReplyObject(r);

    return n;
}


/* the group's pending entries and its lag (entries not yet read) */
static void
wachat_metrics_backlog(wachat_redis_t *st, const wachat_config_t *cfg,
    long long *pending, long long *lag)
{
    size_t             i, k;
    redisReply        *r, *g, *v;
    const char        *name;

    *pending = -1;
    *lag = -1;

    r = wachat_redis_cmd(st, "XINFO GROUPS %s", cfg->stream);

    for (i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        g = r->element[i];
        name = wachat_redis_reply_field(g, "name");

        if (name == NULL || strcmp(name, cfg->group) != 0) {
            continue;
        }

        for (k = 0; g->type == REDIS_REPLY_ARRAY && k + 1 < g->elements;
             k += 2)
        {
            v = g->element[k + 1];

            if (v->type != REDIS_REPLY_INTEGER) {
                continue;
            }

            if (strcmp(g->element[k]->str, "pending") == 0) {
                *pending = v->integer;

            } else if (strcmp(g->element[k]->str, "lag") == 0) {
                *lag = v->integer;
            }
        }
    }

    freeReplyObject(r);
}


/* what became of events, messages, replies and sends (this process) */
static void
wachat_metrics_flow(struct evbuffer *out, const wachat_engine_stats_t *es,
    const wachat_stream_stats_t *ss)
{
    wachat_metrics_head(out, "wachatd_events_total", "counter",
                  "Stream events read, by what became of them.");
    evbuffer_add_printf(out,
        "wachatd_events_total{outcome=\"transferred\"} %llu\n"
        "wachatd_events_total{outcome=\"ignored\"} %llu\n"
        "wachatd_events_total{outcome=\"reclaimed\"} %llu\n"
        "wachatd_events_total{outcome=\"parked\"} %llu\n",
        ss->transferred, ss->ignored, ss->reclaimed, ss->parked);

    wachat_metrics_head(out, "wachatd_messages_total", "counter",
                  "Inbound messages committed, by outcome (withheld: over "
                  "the customer's answers per minute, kept, not answered).");
    evbuffer_add_printf(out,
        "wachatd_messages_total{outcome=\"answered\"} %llu\n"
        "wachatd_messages_total{outcome=\"silent\"} %llu\n"
        "wachatd_messages_total{outcome=\"duplicate\"} %llu\n"
        "wachatd_messages_total{outcome=\"handoff\"} %llu\n"
        "wachatd_messages_total{outcome=\"withheld\"} %llu\n",
        es->answered, es->silent, es->duplicates, es->handoffs,
        es->withheld);

    wachat_metrics_head(out, "wachatd_replies_total", "counter",
                  "AI replies, by where they came from.");
    evbuffer_add_printf(out,
        "wachatd_replies_total{source=\"kb\"} %llu\n"
        "wachatd_replies_total{source=\"llm\"} %llu\n"
        "wachatd_replies_total{source=\"fallback\"} %llu\n",
        es->from_kb, es->from_llm, es->from_fallback);

    wachat_metrics_head(out, "wachatd_media_total", "counter",
                  "Customers' media items: kept in media_dir, failed for "
                  "good (recorded with the reason), download attempts "
                  "retried.");
    evbuffer_add_printf(out,
        "wachatd_media_total{outcome=\"kept\"} %llu\n"
        "wachatd_media_total{outcome=\"failed\"} %llu\n"
        "wachatd_media_total{outcome=\"retried\"} %llu\n",
        es->media_kept, es->media_failed, es->media_retries);

    wachat_metrics_head(out, "wachatd_transcriptions_total", "counter",
                  "Voice notes sent to stt_url, by outcome.");
    evbuffer_add_printf(out,
        "wachatd_transcriptions_total{outcome=\"ok\"} %llu\n"
        "wachatd_transcriptions_total{outcome=\"failed\"} %llu\n",
        es->transcribed, es->transcribe_failed);

    wachat_metrics_head(out, "wachatd_statuses_total", "counter",
                  "Delivery statuses applied.");
    evbuffer_add_printf(out, "wachatd_statuses_total %llu\n", es->statuses);

    wachat_metrics_head(out, "wachatd_sends_total", "counter",
                  "Replies delivered, retried and dead-lettered; and those "
                  "recorded as sent from Meta's status before their send's "
                  "own answer (lost, or not back yet): not sent again.");
    evbuffer_add_printf(out,
        "wachatd_sends_total{outcome=\"sent\"} %llu\n"
        "wachatd_sends_total{outcome=\"retried\"} %llu\n"
        "wachatd_sends_total{outcome=\"dead\"} %llu\n"
        "wachatd_sends_total{outcome=\"confirmed_by_status\"} %llu\n",
        es->sent, es->retried, es->dead, ss->confirmed);

    wachat_metrics_head(out, "wachatd_store_failures_total", "counter",
                  "Conversation scripts that failed, each tried again with "
                  "backoff: on the conversation's own data (a key of the "
                  "wrong type), or Redis' (down, a replica short).");
    evbuffer_add_printf(out,
        "wachatd_store_failures_total{cause=\"data\"} %llu\n"
        "wachatd_store_failures_total{cause=\"redis\"} %llu\n",
        es->store_refused, es->store_failed);

    wachat_metrics_head(out, "wachatd_store_backoff_conversations", "gauge",
                  "Conversations whose last store script failed, waiting "
                  "to try again.");
    evbuffer_add_printf(out, "wachatd_store_backoff_conversations %llu\n",
                        es->store_backoff);
}


/* Graph API calls by result: the names are graph.h's */
static void
wachat_metrics_graph(struct evbuffer *out, const wachat_outbound_stats_t *os)
{
    int  i;

    wachat_metrics_head(out, "wachatd_graph_calls_total", "counter",
                  "Graph API calls, by result (sandbox: not sent to Meta).");

    for (i = WACHAT_GRAPH_OK; i <= WACHAT_GRAPH_PERMANENT; i++) {
        evbuffer_add_printf(out, "wachatd_graph_calls_total{result=\"%s\"} "
                            "%llu\n", wachat_graph_result_name(i),
                            os->graph[i]);
    }

    evbuffer_add_printf(out, "wachatd_graph_calls_total{result=\"sandbox\"} "
                        "%llu\n", os->sandbox);
}


/* hybrid retrieval (embed_url): zero everywhere without it */
static void
wachat_metrics_embed(struct evbuffer *out, const wachat_engine_stats_t *es)
{
    wachat_metrics_head(out, "wachatd_kb_vectors_total", "counter",
                  "Knowledge base entry vectors at load and reload: read "
                  "from the Redis cache, or computed by the embeddings "
                  "endpoint.");
    evbuffer_add_printf(out,
        "wachatd_kb_vectors_total{source=\"cache\"} %llu\n"
        "wachatd_kb_vectors_total{source=\"endpoint\"} %llu\n",
        es->kbvec.cached, es->kbvec.embedded);

    wachat_metrics_head(out, "wachatd_embed_calls_total", "counter",
                  "Calls to the embeddings endpoint, by what they embed "
                  "and outcome.");
    evbuffer_add_printf(out,
        "wachatd_embed_calls_total{what=\"kb\",outcome=\"ok\"} %llu\n"
        "wachatd_embed_calls_total{what=\"kb\",outcome=\"failed\"} "
        "%llu\n"
        "wachatd_embed_calls_total{what=\"question\",outcome=\"ok\"} "
        "%llu\n"
        "wachatd_embed_calls_total{what=\"question\",outcome=\"failed\"} "
        "%llu\n",
        es->kbvec.calls, es->kbvec.failures,
        es->embedded, es->embed_failed);

    wachat_metrics_head(out, "wachatd_embed_lexical_total", "counter",
                  "Questions ranked by words alone though embed_url is set: "
                  "the endpoint failed, or the knowledge base has no "
                  "vectors yet.");
    evbuffer_add_printf(out, "wachatd_embed_lexical_total %llu\n",
                        es->embed_lexical);
}


static void
wachat_metrics_llm(struct evbuffer *out, const wachat_engine_stats_t *es)
{
    size_t              i;
    unsigned long long  cum;

    wachat_metrics_head(out, "wachatd_llm_seconds", "histogram",
                  "Latency of the model's answers (failures included).");
    cum = 0;

    for (i = 0; i < WACHAT_LLM_BUCKETS; i++) {
        cum += es->llm_le[i];

        if (wachat_engine_llm_buckets_ms[i] < 0) {
            evbuffer_add_printf(out, "wachatd_llm_seconds_bucket{le=\"+Inf\"} "
                                "%llu\n", cum);
        } else {
            evbuffer_add_printf(out, "wachatd_llm_seconds_bucket{le=\"%g\"} "
                                "%llu\n", wachat_engine_llm_buckets_ms[i] / 1000.0,
                                cum);
        }
    }

    evbuffer_add_printf(out, "wachatd_llm_seconds_sum %.3f\n"
                        "wachatd_llm_seconds_count %llu\n",
                        es->llm_ms_sum / 1000.0, es->llm_calls);

    wachat_metrics_head(out, "wachatd_llm_failures_total", "counter",
                  "Model calls that failed (the KB answered instead).");
    evbuffer_add_printf(out, "wachatd_llm_failures_total %llu\n",
                        es->llm_failures);

    /* the reasons are answer/guard.h's */
    wachat_metrics_head(out, "wachatd_llm_refusals_total", "counter",
                  "Model answers the guard refused, by reason (the KB "
                  "answered instead).");

    for (i = WACHAT_GUARD_PASS + 1; i < WACHAT_GUARD_NREASONS; i++) {
        evbuffer_add_printf(out, "wachatd_llm_refusals_total{reason=\"%s\"} "
                            "%llu\n", wachat_guard_name(i),
                            es->llm_refused[i]);
    }
}


/* shared state, from Redis: the same on every wachatd */
static void
wachat_metrics_shared(struct evbuffer *out, wachat_redis_t *st,
    const wachat_config_t *cfg)
{
    size_t     i, online;
    long long  pending, lag, total, waiting, held;

    wachat_metrics_backlog(st, cfg, &pending, &lag);

    wachat_metrics_head(out, "wachat_stream_backlog", "gauge",
                  "Events of the group pending (read, not acknowledged) "
                  "and not yet read (lag).");
    evbuffer_add_printf(out,
        "wachat_stream_backlog{state=\"pending\"} %lld\n"
        "wachat_stream_backlog{state=\"unread\"} %lld\n", pending, lag);

    total = wachat_metrics_card(st, WACHAT_KEY_CONVS);
    waiting = wachat_metrics_card(st, WACHAT_KEY_WAITING);
    held = wachat_metrics_card(st, WACHAT_KEY_ASSIGNED);

    wachat_metrics_head(out, "wachat_conversations", "gauge",
                  "Known conversations by mode.");
    evbuffer_add_printf(out,
        "wachat_conversations{mode=\"" WACHAT_MODE_NAME_WAITING_AGENT "\"} "
        "%lld\n"
        "wachat_conversations{mode=\"" WACHAT_MODE_NAME_AGENT "\"} %lld\n"
        "wachat_conversations{mode=\"" WACHAT_MODE_NAME_AI "\"} %lld\n",
        waiting, held,
        total >= 0 && waiting >= 0 && held >= 0 && total >= waiting + held
        ? total - waiting - held : -1);

    online = 0;

    for (i = 0; i < cfg->agents.n; i++) {
        if (strcmp(wachat_agent_effective_presence(st, cfg,
                                                   cfg->agents.items[i].id),
                   "online") == 0)
        {
            online++;
        }
    }

    wachat_metrics_head(out, "wachat_agents_online", "gauge",
                  "Agents online (with a recent heartbeat).");
    evbuffer_add_printf(out, "wachat_agents_online %zu\n", online);
}


void
wachat_metrics_write(void *data, struct evbuffer *out)
{
    wachat_metrics_src_t  *src = data;

    wachat_metrics_flow(out, wachat_engine_stats(src->engine),
                        wachat_stream_stats(src->stream));
    wachat_metrics_graph(out, wachat_outbound_stats(src->ob));
    wachat_metrics_llm(out, wachat_engine_stats(src->engine));
    wachat_metrics_embed(out, wachat_engine_stats(src->engine));

    wachat_metrics_head(out, "wachatd_active_conversations", "gauge",
                  "Conversations this process is working on.");
    evbuffer_add_printf(out, "wachatd_active_conversations %zu\n",
                        wachat_engine_active(src->engine));

    wachat_metrics_shared(out, src->store, *src->cfg);
}
