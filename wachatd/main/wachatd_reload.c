/*
 * SIGHUP, and an agent's edit of the knowledge base: the config and the
 * KB are loaded again and swapped in, or the running ones are kept if the
 * new ones do not load.  Redis' address and db, the stream and the group
 * stay until the next restart; a new Redis password or user is taken at
 * once (a rotated password).
 */

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "main/wachatd_int.h"


static void wachatd_reload_keep_identity(wachatd_t *d, wachat_config_t *cfg);
static void wachatd_reload_redis(wachatd_t *d, const wachat_config_t *cfg);
static void wachatd_reload_settings(wachatd_t *d, const wachat_config_t *cfg,
    const wachat_kb_t *kb);
static void wachatd_reload_mail(wachatd_t *d, const wachat_config_t *cfg);
static void wachatd_reload_clients(wachatd_t *d, const wachat_config_t *cfg,
    const wachat_kb_t *kb);
static void wachatd_reload_swap(wachatd_t *d, wachat_config_t *cfg,
    wachat_kb_t *kb);
static int wachatd_redis_changed(const wachat_config_t *a,
    const wachat_config_t *b);


/* an agent edited the knowledge base: reload once this request is done */
void
wachatd_reload_soon(void *data)
{
    wachatd_t       *d = data;
    struct timeval   now = { 0, 0 };

    if (event_base_once(d->base, -1, EV_TIMEOUT, wachatd_on_hup, d, &now)
        != 0)
    {
        wachat_log(WACHAT_LOG_ERROR, "cannot schedule the reload after a "
                   "knowledge base edit: send SIGHUP");
    }
}


void
wachatd_on_hup(evutil_socket_t fd, short what, void *arg)
{
    char              err[WACHAT_ERRLEN];
    wachatd_t        *d = arg;
    wachat_kb_t      *kb;
    wachat_config_t  *cfg;

    (void) fd;
    (void) what;

    if (d->stopping) {
        return;
    }

    wachatd_notify("RELOADING=1");

    if (wachatd_load(d->conf_path, &cfg, &kb, err, sizeof(err)) != 0) {
        wachat_log(WACHAT_LOG_ERROR, "reload failed, keeping the running "
                   "config and knowledge base: %s", err);

        /* a new config may have named another thesaurus, then failed */
        wachat_kb_thesaurus_use(d->cfg->kb_thesaurus);
        wachatd_notify("READY=1\nSTATUS=answering (the last reload failed)");
        return;
    }

    wachatd_reload_keep_identity(d, cfg);
    wachatd_reload_redis(d, cfg);
    wachatd_reload_settings(d, cfg, kb);
    wachatd_reload_mail(d, cfg);
    wachatd_reload_clients(d, cfg, kb);
    wachatd_reload_swap(d, cfg, kb);

    wachat_log(WACHAT_LOG_NOTICE, "reloaded %s: %zu KB entries",
               d->conf_path, wachat_kb_count(kb));
    wachatd_notify("READY=1\nSTATUS=answering");

    wachatd_templates(d);

    wachat_engine_kick(d->engine);
}


/*
 * What only a restart changes: where Redis is (address, db, sentinels), the
 * stream, the group, the consumer.  Redis' credentials are another step's.
 */
static void
wachatd_reload_keep_identity(wachatd_t *d, wachat_config_t *cfg)
{
    if (strcmp(cfg->stream, d->cfg->stream) != 0
        || strcmp(cfg->group, d->cfg->group) != 0
        || wachatd_redis_changed(cfg, d->cfg))
    {
        wachat_log(WACHAT_LOG_WARNING, "reload: redis, stream and group "
                   "changes take effect at the next restart");
    }

    /* the identity of this consumer must not change under the stream */
    free(cfg->consumer);
    cfg->consumer = strdup(d->cfg->consumer);
}


/*
 * A rotated Redis password (or another ACL user, or sentinel password):
 * every link takes it now and reconnects with it, the synchronous one
 * (no command of it is in flight: they are synchronous), the stream
 * reader's and the live feed's (their blocking reads are sent again), so
 * a password Redis refuses is said now, not when a connection drops, and
 * the old one can be removed from Redis once this line is logged.  The
 * links' addr outlive the config (d->addr, the API's copy): changed in
 * place.  A failed reconnect is in the log, as at any reconnect.
 */
static void
wachatd_reload_redis(wachatd_t *d, const wachat_config_t *cfg)
{
    int                  rc;
    wachat_redis_addr_t  addr;

    if (wachat_redis_addr_config(&addr, cfg, d->addr.timeout_ms) != 0) {
        wachat_log(WACHAT_LOG_ERROR, "reload: out of memory, keeping the "
                   "running redis credentials");
        return;
    }

    rc = wachat_redis_addr_credentials(&d->addr, &addr);

    if (rc < 0) {
        wachat_log(WACHAT_LOG_ERROR, "reload: out of memory, keeping the "
                   "running redis credentials");
    }

    if (rc > 0) {
        wachat_log(WACHAT_LOG_NOTICE, "reload: new redis credentials "
                   "(redis_user, redis_password or redis_sentinel_password), "
                   "reconnecting with them");

        /* first: it keeps d->addr's strings, the old ones are freed */
        (void) wachat_redis_reauth(d->store, &d->addr);

        if (d->stream) {
            wachat_stream_reauth(d->stream);
        }

        if (wachat_api_reauth(d->api, &addr) != 0) {
            wachat_log(WACHAT_LOG_ERROR, "reload: out of memory, the live "
                       "feed keeps the old redis credentials");
        }
    }

    wachat_redis_addr_free(&addr);
}


/* the log, the time zone and the settings the running parts read */
static void
wachatd_reload_settings(wachatd_t *d, const wachat_config_t *cfg,
    const wachat_kb_t *kb)
{
    char  err[WACHAT_ERRLEN];

    if (wachat_log_setup(cfg->logfile, cfg->verbosity, err, sizeof(err))
        != 0)
    {
        wachat_log(WACHAT_LOG_ERROR, "reload: %s", err);
    }

    wachat_clock_zone(cfg->timezone);

    wachat_engine_configure(d->engine, cfg, kb);
    wachat_outbound_reload(d->ob, cfg);
    wachat_api_reload(d->api, cfg);
}


/* smtp_url may have been set or removed */
static void
wachatd_reload_mail(wachatd_t *d, const wachat_config_t *cfg)
{
    if (d->mail && cfg->smtp_url[0] != '\0') {
        wachat_notify_reload(d->mail, cfg);

    } else {
        wachat_notify_free(d->mail);
        d->mail = wachat_notify_new(d->base, d->store, cfg);
    }

    wachat_engine_set_notify(d->engine, d->mail ? wachat_notify_send : NULL,
                             d->mail);
}


/* the clients built from the config, new ones in, then the old ones out */
static void
wachatd_reload_clients(wachatd_t *d, const wachat_config_t *cfg,
    const wachat_kb_t *kb)
{
    wachat_guard_t  *guard;
    wachat_embed_t  *embed;

    wachatd_media(d, cfg);

    /* calls in flight do not refer to the old client */
    wachat_llm_free(d->llm);
    d->llm = wachatd_llm(d->http, cfg);
    wachat_engine_set_llm(d->engine, d->llm);

    /* built from the new KB and texts: a new KB may name new hosts */
    guard = wachatd_guard(cfg, kb);
    wachat_engine_set_guard(d->engine, guard);
    wachat_guard_free(d->guard);
    d->guard = guard;

    /* the new KB's vectors: the unchanged entries' come from the cache */
    embed = wachatd_embed(d->http, cfg);
    wachat_engine_set_embed(d->engine, embed);
    wachat_embed_free(d->embed);
    d->embed = embed;
}


/* the new config and KB become the running ones; the old ones go */
static void
wachatd_reload_swap(wachatd_t *d, wachat_config_t *cfg, wachat_kb_t *kb)
{
    wachat_api_set_kb(d->api, kb, wachatd_reload_soon, d);
    wachat_kb_free(d->kb);
    wachat_config_free(d->cfg);
    d->kb = kb;
    d->cfg = cfg;
}


static int
wachatd_redis_changed(const wachat_config_t *a, const wachat_config_t *b)
{
    size_t  i;

    if (a->redis.server.port != b->redis.server.port
        || a->redis_db != b->redis_db
        || a->redis.nsentinels != b->redis.nsentinels
        || strcmp(a->redis.server.host ? a->redis.server.host : "",
                  b->redis.server.host ? b->redis.server.host : "") != 0
        || strcmp(a->redis.server.path ? a->redis.server.path : "",
                  b->redis.server.path ? b->redis.server.path : "") != 0
        || strcmp(a->redis.master ? a->redis.master : "",
                  b->redis.master ? b->redis.master : "") != 0)
    {
        return 1;
    }

    for (i = 0; i < a->redis.nsentinels; i++) {
        if (a->redis.sentinels[i].port != b->redis.sentinels[i].port
            || strcmp(a->redis.sentinels[i].host,
                      b->redis.sentinels[i].host) != 0)
        {
            return 1;
        }
    }

    return 0;
}
