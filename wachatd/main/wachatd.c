/*
 * wachatd: answers WhatsApp customers from the webhook stream.
 *
 *   wachatd [-c config] [-t [-q]] [-v]
 *
 * The config is -c, else $WACHAT_CONF, else WACHAT_CONF_PATH (built in:
 * /etc/wachat/wachatd.conf for installed builds, conf/wachatd.conf in the
 * tree).  Under systemd (Type=notify) READY=1 is sent once Redis answers,
 * the consumer group exists and the config and knowledge base are loaded;
 * RELOADING=1 / READY=1 frame a SIGHUP reload, STOPPING=1 a stop.
 *
 * One libevent loop drives everything: the stream's blocking read, the
 * conversations' timers and all HTTP through libcurl's multi interface.
 * Signals only set state the loop acts on: SIGHUP reloads the config and
 * the knowledge base (keeping the old ones if the new ones do not load),
 * SIGTERM / SIGINT stop reading, finish what is in flight up to
 * shutdown_timeout, and leave the rest pending in Redis.
 */


#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "lib/clock.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/version.h"
#include "main/wachatd_int.h"


static void
wachatd_usage(FILE *out)
{
    fprintf(out,
            "usage: wachatd [-c config] [-t [-q]] [-v]\n"
            "  -c path  config file (default $WACHAT_CONF, else "
            WACHAT_CONF_PATH ")\n"
            "  -t       test the config and the knowledge base, print the\n"
            "           effective config, and exit\n"
            "  -q       with -t: print errors only\n"
            "  -v       print the version and exit\n");
}


/* the command line: -1 to go on, else the exit status */
static int
wachatd_options(int argc, char **argv, wachatd_t *d, int *test)
{
    int  opt;

    d->conf_path = NULL;
    *test = 0;

    while ((opt = getopt(argc, argv, "c:tqvh")) != -1) {
        switch (opt) {
        case 'c':
            d->conf_path = optarg;
            break;
        case 't':
            *test = 1;
            break;
        case 'q':
            d->quiet = 1;
            break;
        case 'v':
            printf("wachatd %s\n", WACHAT_VERSION);
            return 0;
        case 'h':
            wachatd_usage(stdout);
            return 0;
        default:
            wachatd_usage(stderr);
            return 2;
        }
    }

    if (optind < argc) {
        wachatd_usage(stderr);
        return 2;
    }

    d->conf_path = wachat_config_path(d->conf_path);

    return -1;
}


/* -t: the effective configuration, then exit; -q: nothing but errors */
static int
wachatd_test_config(wachatd_t *d)
{
    if (!d->quiet) {
        wachat_config_dump(d->cfg, stdout);
        printf("# knowledge base %s: %zu entries\n", d->cfg->kb,
               wachat_kb_count(d->kb));
        printf("wachatd: the configuration file %s syntax is ok\n"
               "wachatd: configuration file %s test is successful\n",
               d->conf_path, d->conf_path);
    }

    wachat_kb_free(d->kb);
    wachat_config_free(d->cfg);

    return 0;
}


int
main(int argc, char **argv)
{
    int        rc, test;
    char       err[WACHAT_ERRLEN];
    wachatd_t  d;

    memset(&d, 0, sizeof(wachatd_t));

    rc = wachatd_options(argc, argv, &d, &test);
    if (rc >= 0) {
        return rc;
    }

    if (wachatd_load(d.conf_path, &d.cfg, &d.kb, err, sizeof(err)) != 0) {
        fprintf(stderr, "%swachatd: %s\n",
                wachat_log_journal_prefix(WACHAT_LOG_ERROR), err);
        return 1;
    }

    if (test) {
        return wachatd_test_config(&d);
    }

    wachat_clock_zone(d.cfg->timezone);

    if (wachat_log_setup(d.cfg->logfile, d.cfg->verbosity, err, sizeof(err))
        != 0)
    {
        fprintf(stderr, "%swachatd: %s\n",
                wachat_log_journal_prefix(WACHAT_LOG_ERROR), err);
        wachatd_teardown(&d);
        return 1;
    }

    /* the packages and the unit run it as "wachat"; root is a mistake */
    if (geteuid() == 0) {
        wachat_log(WACHAT_LOG_WARNING, "running as root: run wachatd as an "
                   "unprivileged user of its own (the packages' systemd unit "
                   "runs it as \"wachat\")");
    }

    /* behind sentinels, a failover can take back a write Meta acted on */
    if (d.cfg->redis.nsentinels > 0 && d.cfg->redis_replicas == 0) {
        wachat_log(WACHAT_LOG_WARNING, "redis: behind sentinels with "
                   "redis_replicas 0: a failover can take back a reply's "
                   "record and the reply go out again; set redis_replicas 1 "
                   "(docs/deployment.md)");
    }

    signal(SIGPIPE, SIG_IGN);
    srandom((unsigned) time(NULL) ^ (unsigned) getpid());

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        snprintf(err, sizeof(err), "libcurl failed to initialise");
        goto failed;
    }

    wachatd_redis_addr(&d);
    wachatd_consumer_name(&d);

    if (wachatd_start_engine(&d, err, sizeof(err)) != 0
        || wachatd_start_feeds(&d, err, sizeof(err)) != 0)
    {
        goto failed;
    }

    wachatd_start_events(&d);

    wachat_log(WACHAT_LOG_NOTICE, "wachatd %s started: consumer %s of group "
               "%s on stream %s, backend %s, outbound %s, %zu KB entries",
               WACHAT_VERSION, d.cfg->consumer, d.cfg->group, d.cfg->stream,
               d.cfg->backend == WACHAT_BACKEND_KB ? "kb" : "openai",
               d.cfg->outbound == WACHAT_OUTBOUND_SANDBOX ? "sandbox"
                                                          : "graph",
               wachat_kb_count(d.kb));

    wachatd_notify("READY=1\nSTATUS=answering");

    event_base_dispatch(d.base);

    wachatd_on_stats(-1, 0, &d);
    wachat_log(WACHAT_LOG_NOTICE, "wachatd stopped");

    wachatd_teardown(&d);

    return 0;

failed:

    wachat_log(WACHAT_LOG_ERROR, "cannot start: %s", err);
    wachatd_notify("STATUS=cannot start");
    wachatd_teardown(&d);

    return 1;
}
