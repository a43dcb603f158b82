/*
 * The loop's own events: signals (SIGHUP reloads, wachatd_reload.c;
 * SIGTERM / SIGINT stop and drain), the periodic stats and chores, and
 * what systemd is told.
 */

#include <signal.h>
#include <stdio.h>

#include <event2/event.h>

#ifdef WACHAT_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "agents/agents.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "main/wachatd_int.h"


static void wachatd_on_term(evutil_socket_t fd, short what, void *arg);
static void wachatd_on_drain(evutil_socket_t fd, short what, void *arg);
static void wachatd_on_chores(evutil_socket_t fd, short what, void *arg);


/* signals become events of the loop; the periodic chores and stats */
void
wachatd_start_events(wachatd_t *d)
{
    struct timeval  tv;

    d->sighup = evsignal_new(d->base, SIGHUP, wachatd_on_hup, d);
    d->sigterm = evsignal_new(d->base, SIGTERM, wachatd_on_term, d);
    d->sigint = evsignal_new(d->base, SIGINT, wachatd_on_term, d);
    d->drain = evtimer_new(d->base, wachatd_on_drain, d);
    d->stats = event_new(d->base, -1, EV_PERSIST, wachatd_on_stats, d);
    d->chores = event_new(d->base, -1, EV_PERSIST, wachatd_on_chores, d);

    evsignal_add(d->sighup, NULL);
    evsignal_add(d->sigterm, NULL);
    evsignal_add(d->sigint, NULL);

    tv.tv_sec = 60;
    tv.tv_usec = 0;
    event_add(d->stats, &tv);

    tv.tv_sec = 2;
    event_add(d->chores, &tv);
}


static void
wachatd_on_term(evutil_socket_t fd, short what, void *arg)
{
    struct timeval   tv;
    wachatd_t       *d = arg;

    (void) fd;
    (void) what;

    if (d->stopping) {
        wachat_log(WACHAT_LOG_WARNING, "second signal: stopping now");
        event_base_loopbreak(d->base);
        return;
    }

    d->stopping = 1;
    wachatd_notify("STOPPING=1");
    d->drain_deadline = wachat_clock_mono_ms() + d->cfg->shutdown_timeout_ms;

    wachat_log(WACHAT_LOG_NOTICE, "stopping: finishing %zu conversations "
               "in flight (up to %lld ms)", wachat_engine_active(d->engine),
               d->cfg->shutdown_timeout_ms);

    wachat_stream_stop(d->stream);
    wachat_engine_drain(d->engine);

    tv.tv_sec = 0;
    tv.tv_usec = 0;
    evtimer_add(d->drain, &tv);
}


static void
wachatd_on_drain(evutil_socket_t fd, short what, void *arg)
{
    struct timeval   tv;
    wachatd_t       *d = arg;

    (void) fd;
    (void) what;

    if (wachat_engine_active(d->engine) == 0
        && wachat_http_running(d->http) == 0)
    {
        event_base_loopbreak(d->base);
        return;
    }

    if (wachat_clock_mono_ms() >= d->drain_deadline) {
        wachat_log(WACHAT_LOG_WARNING, "shutdown_timeout reached with %zu "
                   "conversations in flight: they stay in Redis for the "
                   "next start", wachat_engine_active(d->engine));
        event_base_loopbreak(d->base);
        return;
    }

    tv.tv_sec = 0;
    tv.tv_usec = 50000;
    evtimer_add(d->drain, &tv);
}


void
wachatd_on_stats(evutil_socket_t fd, short what, void *arg)
{
    wachatd_t                    *d = arg;
    const wachat_engine_stats_t  *es;
    const wachat_stream_stats_t  *ss;

    (void) fd;
    (void) what;

    es = wachat_engine_stats(d->engine);
    ss = wachat_stream_stats(d->stream);

    wachat_log(WACHAT_LOG_INFO, "stats: read %llu, ignored %llu, reclaimed "
               "%llu, answered %llu, silent %llu, withheld %llu, duplicates "
               "%llu, statuses %llu, sent %llu, retried %llu, dead %llu, "
               "active %zu",
               ss->read, ss->ignored, ss->reclaimed, es->answered,
               es->silent, es->withheld, es->duplicates, es->statuses,
               es->sent, es->retried, es->dead,
               wachat_engine_active(d->engine));
}


/* what no event triggers: conversations left idle by their agent */
static void
wachatd_on_chores(evutil_socket_t fd, short what, void *arg)
{
    size_t      n;
    wachatd_t  *d = arg;
    char        max[32];

    (void) fd;
    (void) what;

    if (d->stopping) {
        return;
    }

    /* the listing of conversations forgets those retention deleted */
    snprintf(max, sizeof(max), "%lld",
             wachat_clock_ms() - d->cfg->retention_ms);
    freeReplyObject(wachat_redis_cmd(d->store, "ZREMRANGEBYSCORE %s -inf %s",
                                     WACHAT_KEY_CONVS, max));

    n = wachat_agent_expire_idle(d->store, d->cfg);

    /*
     * The templates, every hour (chores come every 2 s); and as soon as the
     * webhooks named the account, when the config does not
     */
    if (d->chores_run % 1800 == 1799
        || (d->templates_waba[0] == '\0' && d->cfg->waba_id[0] == '\0'))
    {
        wachatd_templates(d);
    }

    /* media_max_age passes even when nothing new comes in */
    if (d->media && ++d->chores_run % 30 == 0) {
        wachat_media_store_evict(d->media);
    }

    if (d->mail) {
        wachat_notify_tick(d->mail);
    }

    if (n) {
        wachat_log(WACHAT_LOG_NOTICE, "%zu conversation(s) idle for "
                   "agent_idle_timeout went back to the AI", n);
    }
}


/* systemd's notification socket; nothing without one, or without systemd */
void
wachatd_notify(const char *state)
{
#ifdef WACHAT_HAVE_SYSTEMD
    (void) sd_notify(0, state);
#else
    (void) state;
#endif
}
