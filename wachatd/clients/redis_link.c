/*
 * redis_link: hiredis' async API on libevent, with the reconnect policy
 * (see redis_link.h).
 */

#include <hiredis/adapters/libevent.h>

#include "clients/redis_link.h"
#include "lib/log.h"


static void wachat_redis_link_connected(const redisAsyncContext *ac,
    int status);
static void wachat_redis_link_disconnected(const redisAsyncContext *ac,
    int status);
static void wachat_redis_link_on_timer(evutil_socket_t fd, short what,
    void *arg);
static void wachat_redis_link_setup(redisAsyncContext *ac, void *r,
    void *data);
static void wachat_redis_link_role(redisAsyncContext *ac, void *r,
    void *data);
static int wachat_redis_link_wait(wachat_redis_link_t *l);


int
wachat_redis_link_init(wachat_redis_link_t *l, struct event_base *base,
    const wachat_redis_addr_t *addr, const char *name, wachat_link_pt down,
    wachat_link_pt retry, void *data)
{
    l->base = base;
    l->addr = addr;
    l->name = name;
    l->down = down;
    l->retry = retry;
    l->data = data;
    l->ac = NULL;
    l->retry_ms = 0;
    l->pause_ms = 0;
    l->refused = 0;
    l->closing = 0;
    l->timer = evtimer_new(base, wachat_redis_link_on_timer, l);

    return l->timer ? 0 : -1;
}


int
wachat_redis_link_waiting(wachat_redis_link_t *l)
{
    return evtimer_pending(l->timer, NULL);
}


void
wachat_redis_link_pause(wachat_redis_link_t *l)
{
    (void) wachat_redis_link_wait(l);
}


/* the pause armed, or already running (ms, for the log) */
static int
wachat_redis_link_wait(wachat_redis_link_t *l)
{
    int             ms;
    struct timeval  tv;

    if (l->closing || evtimer_pending(l->timer, NULL)) {
        return l->pause_ms;
    }

    ms = wachat_redis_retry_pause(&l->retry_ms, l->addr);
    l->pause_ms = ms;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    evtimer_add(l->timer, &tv);

    return ms;
}


void
wachat_redis_link_ok(wachat_redis_link_t *l)
{
    l->retry_ms = 0;
}


redisAsyncContext *
wachat_redis_link_get(wachat_redis_link_t *l)
{
    int                 ms, port, argc;
    char                primary[64], err[256];
    const char         *host, *argv[3];
    redisAsyncContext  *ac;

    if (l->ac || l->closing) {
        return l->ac;
    }

    host = l->addr->host;
    port = l->addr->port;

    if (l->addr->nsentinels) {
        if (wachat_redis_resolve(l->addr, primary, sizeof(primary), &port,
                                 err, sizeof(err))
            != 0)
        {
            ms = wachat_redis_link_wait(l);
            wachat_log(WACHAT_LOG_WARNING, "%s: %s, retrying in %d.%d s",
                       l->name, err, ms / 1000, ms % 1000 / 100);
            return NULL;
        }

        host = primary;
    }

    ac = l->addr->unix_path ? redisAsyncConnectUnix(l->addr->unix_path)
                            : redisAsyncConnect(host, port);

    if (ac == NULL || ac->err) {
        ms = wachat_redis_link_wait(l);
        wachat_log(WACHAT_LOG_WARNING, "%s: cannot connect to redis: %s, "
                   "retrying in %d.%d s", l->name,
                   ac ? ac->errstr : "out of memory", ms / 1000,
                   ms % 1000 / 100);
        if (ac) {
            redisAsyncFree(ac);
        }
        return NULL;
    }

    ac->data = l;
    l->ac = ac;
    l->refused = 0;

    if (l->addr->unix_path == NULL) {
        (void) redisEnableKeepAlive(&ac->c);
    }

    redisLibeventAttach(ac, l->base);
    redisAsyncSetConnectCallback(ac, wachat_redis_link_connected);
    redisAsyncSetDisconnectCallback(ac, wachat_redis_link_disconnected);

    /* queued before the connection is up: hiredis sends them first */
    argc = wachat_redis_auth_argv(l->addr, argv);

    if (argc) {
        redisAsyncCommandArgv(ac, wachat_redis_link_setup, "AUTH", argc,
                              argv, NULL);
    }

    if (l->addr->db) {
        redisAsyncCommand(ac, wachat_redis_link_setup, "SELECT",
                          "SELECT %d", l->addr->db);
    }

    /* a sentinel's answer may be stale: ROLE says whether it is still so */
    if (l->addr->nsentinels) {
        redisAsyncCommand(ac, wachat_redis_link_role, l, "ROLE");
    }

    return ac;
}


/*
 * AUTH's or SELECT's answer.  Refused, every command behind it would fail
 * (NOAUTH): say why once, with what to check, and end the connection now;
 * the commands behind it get no reply (NULL), and the pause follows.
 */
static void
wachat_redis_link_setup(redisAsyncContext *ac, void *r, void *data)
{
    redisReply           *reply = r;
    wachat_redis_link_t  *l = ac->data;

    if (l == NULL || reply == NULL || reply->type != REDIS_REPLY_ERROR
        || l->refused)
    {
        return;
    }

    l->refused = 1;

    wachat_redis_log_refused(l->name, data, reply->str,
                             wachat_redis_link_wait(l));

    /* in a callback: hiredis frees it on return, then calls disconnected */
    redisAsyncFree(ac);
}


static void
wachat_redis_link_role(redisAsyncContext *ac, void *r, void *data)
{
    wachat_redis_link_t  *l = data;

    if (ac->data == NULL || r == NULL || l->refused
        || wachat_redis_is_master(r))
    {
        return;
    }

    wachat_log(WACHAT_LOG_WARNING, "%s: redis is not the primary \"%s\" "
               "(yet), asking the sentinels again", l->name, l->addr->master);

    /* the commands behind it fail READONLY; down() and the pause follow */
    redisAsyncDisconnect(ac);
}


static void
wachat_redis_link_connected(const redisAsyncContext *ac, int status)
{
    int                   ms;
    wachat_redis_link_t  *l = ac->data;

    if (l == NULL || status == REDIS_OK) {
        return;
    }

    /* hiredis frees the context after this callback */
    l->ac = NULL;
    l->down(l->data);

    ms = wachat_redis_link_wait(l);

    wachat_log(WACHAT_LOG_WARNING, "%s: redis connect failed: %s, "
               "retrying in %d.%d s", l->name, ac->errstr, ms / 1000,
               ms % 1000 / 100);
}


static void
wachat_redis_link_disconnected(const redisAsyncContext *ac, int status)
{
    int                   ms;
    wachat_redis_link_t  *l = ac->data;

    if (l == NULL) {
        return;
    }

    l->ac = NULL;
    l->down(l->data);

    if (l->closing) {
        return;
    }

    ms = wachat_redis_link_wait(l);

    /* a refused AUTH or SELECT said why already */
    if (l->refused) {
        return;
    }

    wachat_log(WACHAT_LOG_WARNING, "%s: lost redis (%s), reconnecting in "
               "%d.%d s", l->name, status == REDIS_OK ? "closed" : ac->errstr,
               ms / 1000, ms % 1000 / 100);
}


static void
wachat_redis_link_on_timer(evutil_socket_t fd, short what, void *arg)
{
    wachat_redis_link_t  *l = arg;

    (void) fd;
    (void) what;

    if (!l->closing) {
        l->retry(l->data);
    }
}


void
wachat_redis_link_disconnect(wachat_redis_link_t *l, int last)
{
    if (last) {
        l->closing = 1;
        evtimer_del(l->timer);
    }

    if (l->ac) {
        redisAsyncDisconnect(l->ac);
    }
}


/* free, not disconnect: that would wait for a reply that is missing */
void
wachat_redis_link_drop(wachat_redis_link_t *l)
{
    if (l->ac == NULL) {
        return;
    }

    l->ac->data = NULL;
    redisAsyncFree(l->ac);
    l->ac = NULL;
    l->down(l->data);
    wachat_redis_link_pause(l);
}


void
wachat_redis_link_renew(wachat_redis_link_t *l)
{
    int             used;
    struct timeval  now = { 0, 0 };

    if (l->closing) {
        return;
    }

    used = l->ac != NULL || evtimer_pending(l->timer, NULL);

    if (l->ac) {
        l->ac->data = NULL;
        redisAsyncFree(l->ac);
        l->ac = NULL;
        l->down(l->data);
    }

    evtimer_del(l->timer);
    l->retry_ms = 0;
    l->pause_ms = 0;

    if (used) {
        evtimer_add(l->timer, &now);
    }
}


void
wachat_redis_link_close(wachat_redis_link_t *l)
{
    l->closing = 1;

    if (l->ac) {
        l->ac->data = NULL;
        redisAsyncFree(l->ac);
        l->ac = NULL;
    }

    if (l->timer) {
        event_free(l->timer);
        l->timer = NULL;
    }
}
