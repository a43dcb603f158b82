
/*
 * The adapter: hiredis' five event hooks on an ngx_connection_t of the
 * worker's event loop, for any async context of this module (the link's,
 * the sentinels').  It knows nothing of the link or of webhooks.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_wachat_redis.h"


static void ngx_http_wachat_redis_event(ngx_event_t *ev);
static void ngx_http_wachat_redis_add_read(void *privdata);
static void ngx_http_wachat_redis_del_read(void *privdata);
static void ngx_http_wachat_redis_add_write(void *privdata);
static void ngx_http_wachat_redis_del_write(void *privdata);
static void ngx_http_wachat_redis_cleanup(void *privdata);


/* in redisAsyncHandleWrite: a write asked for now must wait for epoll */
static ngx_uint_t  ngx_http_wachat_redis_writing;


ngx_int_t
ngx_http_wachat_redis_attach(redisAsyncContext *ac, ngx_log_t *log)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(ac->c.fd, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = ac;
    c->log = log;
    c->read->handler = ngx_http_wachat_redis_event;
    c->write->handler = ngx_http_wachat_redis_event;
    c->read->log = log;
    c->write->log = log;

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_wachat_redis_add_read;
    ac->ev.delRead = ngx_http_wachat_redis_del_read;
    ac->ev.addWrite = ngx_http_wachat_redis_add_write;
    ac->ev.delWrite = ngx_http_wachat_redis_del_write;
    ac->ev.cleanup = ngx_http_wachat_redis_cleanup;

    return NGX_OK;
}


static void
ngx_http_wachat_redis_event(ngx_event_t *ev)
{
    ngx_connection_t   *c = ev->data;
    redisAsyncContext  *ac = c->data;

    /* hiredis may free the context, and with it c, inside these calls */

    if (ev->write) {
        ngx_http_wachat_redis_writing = 1;
        redisAsyncHandleWrite(ac);
        ngx_http_wachat_redis_writing = 0;

    } else {
        redisAsyncHandleRead(ac);
    }
}


static void
ngx_http_wachat_redis_add_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_wachat_redis_del_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


/*
 * Once connected, a command is not written at once nor through epoll: the
 * write event is posted, so every command issued in this turn of the event
 * loop (one per webhook) leaves in one write(), with no epoll_ctl() churn.
 * Only a socket that did not take everything (hiredis asks for the write
 * event again from inside its write handler) waits for epoll; so does the
 * connect, which hiredis detects on the first write event.
 */

static void
ngx_http_wachat_redis_add_write(void *privdata)
{
    ngx_connection_t   *c = privdata;
    redisAsyncContext  *ac = c->data;

    if (c->write->active || c->write->posted) {
        return;
    }

    if (!ngx_http_wachat_redis_writing && (ac->c.flags & REDIS_CONNECTED)) {
        ngx_post_event(c->write, &ngx_posted_events);
        return;
    }

    (void) ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
}


static void
ngx_http_wachat_redis_del_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


static void
ngx_http_wachat_redis_cleanup(void *privdata)
{
    ngx_connection_t  *c = privdata;

    ngx_http_wachat_redis_del_read(c);
    ngx_http_wachat_redis_del_write(c);

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    /*
     * hiredis closes the socket itself; the fd is still ours while the
     * connection is freed (with select or poll, ngx_free_connection()
     * clears ngx_cycle->files[c->fd]), as in ngx_close_connection()
     */
    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
}
