/*
 * The clients wachatd builds from its config, at the start and again at
 * every reload: the customers' media and transcription, the account's
 * templates, the model, the embeddings and the model's answer guard.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agents.h"
#include "lib/log.h"
#include "main/wachatd_int.h"


/*
 * The customers' media: the store (opened once; on reload only its bounds
 * change), the Graph client that downloads (whatever outbound says: a
 * sandbox with a token still keeps what customers send) and the
 * transcription client.  Calls in flight do not refer to the old clients.
 */

void
wachatd_media(wachatd_t *d, const wachat_config_t *cfg)
{
    char                  err[WACHAT_ERRLEN];
    const char           *why;
    wachat_graph_conf_t   gc;
    wachat_stt_conf_t     sc;

    if (d->media == NULL) {
        d->media = wachat_media_store_open(cfg->media_dir,
                                           cfg->media_max_bytes,
                                           cfg->media_max_age_ms, err,
                                           sizeof(err));
        if (d->media == NULL) {
            wachat_log(WACHAT_LOG_ERROR, "media: %s: customers' media will "
                       "be recorded as not downloaded", err);
        }

    } else {
        if (strcmp(cfg->media_dir, d->cfg->media_dir) != 0) {
            wachat_log(WACHAT_LOG_WARNING, "reload: media_dir changes take "
                       "effect at the next restart");
        }

        wachat_media_store_limits(d->media, cfg->media_max_bytes,
                                  cfg->media_max_age_ms);
    }

    wachat_graph_free(d->media_graph);
    d->media_graph = NULL;

    if (cfg->graph_token.value) {
        gc.api_url = cfg->graph_api_url;
        gc.token = cfg->graph_token.value;
        gc.timeout_ms = cfg->graph_timeout_ms;
        why = NULL;
        d->media_graph = wachat_graph_new(d->http, &gc, &why);

        if (d->media_graph == NULL) {
            wachat_log(WACHAT_LOG_ERROR, "media: %s: customers' media will "
                       "not be downloaded", why ? why : "unusable");
        }
    }

    wachat_stt_free(d->stt);
    d->stt = NULL;

    if (cfg->stt_url[0]) {
        sc.url = cfg->stt_url;
        sc.model = cfg->stt_model;
        sc.key = cfg->stt_key.value;
        sc.timeout_ms = cfg->stt_timeout_ms;
        why = NULL;
        d->stt = wachat_stt_new(d->http, &sc, &why);

        if (d->stt == NULL) {
            wachat_log(WACHAT_LOG_ERROR, "stt: %s: voice notes go to a "
                       "person untranscribed", why ? why : "unusable");
        }
    }

    wachat_engine_set_media(d->engine, d->media_graph, d->media, d->stt);
    wachat_outbound_set_media(d->ob, d->media);
}


/* the account's approved templates, into the cache every process reads */
static void
wachatd_templates_done(void *data, const wachat_graph_reply_t *reply,
    const char *json, size_t len)
{
    long         code;
    const char  *explain;
    wachatd_t   *d = data;

    d->templates_busy = 0;

    if (d->stopping) {
        return;
    }

    if (reply->result == WACHAT_GRAPH_OK && json) {
        if (wachat_templates_save(d->store, d->templates_waba, json, len)
            == 0)
        {
            wachat_log(WACHAT_LOG_INFO, "templates of WABA %s fetched",
                       d->templates_waba);
        }
        return;
    }

    code = reply->code;
    explain = code >= 0 ? wachat_graph_explain(code) : NULL;

    wachat_log(WACHAT_LOG_WARNING, "templates of WABA %s not fetched: HTTP "
               "%ld, code %ld: %s%s%s", d->templates_waba, reply->http_status,
               code, reply->message ? reply->message : "-",
               explain ? " \xe2\x80\x94 " : "", explain ? explain : "");
}


void
wachatd_templates(void *data)
{
    wachatd_t  *d = data;
    char        waba[40];

    /* waba_id, or the one the webhooks named */
    if (d->stopping || d->templates_busy
        || wachat_templates_waba(d->store, d->cfg, waba, sizeof(waba)) != 0)
    {
        return;
    }

    snprintf(d->templates_waba, sizeof(d->templates_waba), "%s", waba);

    if (d->media_graph == NULL) {
        wachat_log(WACHAT_LOG_WARNING, "templates: no Graph token to list "
                   "them with (graph_token_file)");
        return;
    }

    if (wachat_graph_templates(d->media_graph, waba,
                               wachatd_templates_done, d) == 0)
    {
        d->templates_busy = 1;
    }
}


wachat_llm_t *
wachatd_llm(wachat_http_t *http, const wachat_config_t *cfg)
{
    const char         *why;
    wachat_llm_t       *llm;
    wachat_llm_conf_t   lc;

    if (cfg->backend != WACHAT_BACKEND_OPENAI) {
        return NULL;
    }

    memset(&lc, 0, sizeof(wachat_llm_conf_t));
    lc.url = cfg->llm_url;
    lc.model = cfg->llm_model;
    lc.key = cfg->llm_key.value;
    lc.system_prompt = cfg->llm_system_prompt;
    lc.timeout_ms = cfg->llm_timeout_ms;
    lc.max_tokens = cfg->llm_max_tokens;
    lc.temperature = cfg->llm_temperature;

    why = NULL;
    llm = wachat_llm_new(http, &lc, &why);

    if (llm == NULL) {
        wachat_log(WACHAT_LOG_ERROR, "llm: %s: answering from the knowledge "
                   "base only", why ? why : "unusable configuration");
    }

    return llm;
}


/* hybrid retrieval's client: NULL without embed_url (words alone) */
wachat_embed_t *
wachatd_embed(wachat_http_t *http, const wachat_config_t *cfg)
{
    const char           *why;
    wachat_embed_t       *embed;
    wachat_embed_conf_t   ec;

    if (cfg->embed_url[0] == '\0') {
        return NULL;
    }

    memset(&ec, 0, sizeof(wachat_embed_conf_t));
    ec.url = cfg->embed_url;
    ec.model = cfg->embed_model;
    ec.key = cfg->embed_key.value;
    ec.timeout_ms = cfg->embed_timeout_ms;
    why = NULL;

    embed = wachat_embed_new(http, &ec, &why);

    if (embed == NULL) {
        wachat_log(WACHAT_LOG_ERROR, "embed: %s: ranking the knowledge base "
                   "by words alone", why ? why : "unusable");
    }

    return embed;
}


/*
 * The openai backend's guard: hosts the KB and the config's own texts
 * name are allowed in the model's answers, and the system prompt is what
 * they must not repeat.  NULL (out of memory): the KB answers alone.
 */

wachat_guard_t *
wachatd_guard(const wachat_config_t *cfg, const wachat_kb_t *kb)
{
    wachat_guard_t       *g;
    wachat_guard_conf_t   gc;
    const char           *texts[4];

    if (cfg->backend != WACHAT_BACKEND_OPENAI) {
        return NULL;
    }

    texts[0] = cfg->fallback_text;
    texts[1] = cfg->handoff_text;
    texts[2] = cfg->handoff_offline_text;
    texts[3] = cfg->closing_text;

    memset(&gc, 0, sizeof(wachat_guard_conf_t));
    gc.kb = kb;
    gc.instructions = cfg->llm_system_prompt;
    gc.texts = texts;
    gc.ntexts = 4;
    gc.domains = (const char *const *) cfg->llm_allowed_domains.items;
    gc.ndomains = cfg->llm_allowed_domains.n;
    gc.links = cfg->llm_check_links;

    g = wachat_guard_new(&gc);

    if (g == NULL) {
        wachat_log(WACHAT_LOG_ERROR, "llm: out of memory for the answer "
                   "guard: answering from the knowledge base only");
    }

    return g;
}


const wachat_kb_vectors_t *
wachatd_vectors(void *data, const wachat_kb_t *kb, wachat_embed_t **embed)
{
    wachatd_t  *d = data;

    *embed = NULL;

    return d->engine ? wachat_engine_vectors(d->engine, kb, embed) : NULL;
}
