/*
 * api events: the live feed (wachat:feed) as server-sent events.
 *
 * Every open stream of this process shares ONE blocking XREAD on its own
 * async Redis connection, read only while somebody listens; each entry is
 * written to the streams that have not had it.  A browser that reconnects
 * with Last-Event-ID is first caught up from the stream itself.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "api/api_int.h"
#include "lib/log.h"


#define WACHAT_API_CLIENTS_MAX    256           /* open event streams */
#define WACHAT_API_RETRY_MS       3000          /* the browser's reconnect */
#define WACHAT_API_FEED_BLOCK_MS  5000
#define WACHAT_API_FEED_COUNT     100
#define WACHAT_API_CATCH_UP       1000          /* Last-Event-ID replay */
#define WACHAT_API_SLOW_BYTES     (1024 * 1024) /* unread by a stream */


/* one open event stream */
struct wachat_api_client_s {
    wachat_api_t               *api;
    struct evhttp_request      *req;
    struct evhttp_connection   *conn;
    char                       *agent;
    wachat_api_id_t             after;      /* sent up to here */
    wachat_api_client_t        *prev;
    wachat_api_client_t        *next;
};


static void wachat_api_feed_read(wachat_api_t *api);


static int
wachat_api_id_parse(const char *s, wachat_api_id_t *id)
{
    char  *end;

    if (s == NULL || *s < '0' || *s > '9') {
        return -1;
    }

    errno = 0;
    id->ms = strtoull(s, &end, 10);

    if (errno || *end != '-' || end[1] < '0' || end[1] > '9') {
        return -1;
    }

    id->seq = strtoull(end + 1, &end, 10);

    return errno || *end != '\0' ? -1 : 0;
}


static int
wachat_api_id_cmp(const wachat_api_id_t *a, const wachat_api_id_t *b)
{
    if (a->ms != b->ms) {
        return a->ms < b->ms ? -1 : 1;
    }

    if (a->seq != b->seq) {
        return a->seq < b->seq ? -1 : 1;
    }

    return 0;
}


/* --- the live feed: server-sent events ---------------------------------- */


static void
wachat_api_write(wachat_api_client_t *c, const char *data, size_t len)
{
    struct evbuffer  *b;

    b = evbuffer_new();
    if (b == NULL) {
        return;
    }

    evbuffer_add(b, data, len);
    evhttp_send_reply_chunk(c->req, b);
    evbuffer_free(b);
}


static void
wachat_api_client_unlink(wachat_api_client_t *c)
{
    wachat_api_t  *api = c->api;

    if (c->prev) {
        c->prev->next = c->next;

    } else {
        api->clients = c->next;
    }

    if (c->next) {
        c->next->prev = c->prev;
    }

    api->nclients--;
}


/* we end the stream (a client too slow to read): evhttp closes it */
static void
wachat_api_client_end(wachat_api_client_t *c, const char *why)
{
    wachat_log(WACHAT_LOG_INFO, "api: %s event stream ended: %s", c->agent,
               why);

    wachat_api_client_unlink(c);
    evhttp_connection_set_closecb(c->conn, NULL, NULL);
    evhttp_send_reply_end(c->req);
    free(c->agent);
    free(c);
}


static int
wachat_api_client_slow(wachat_api_client_t *c)
{
    struct bufferevent  *bev;

    bev = evhttp_connection_get_bufferevent(c->conn);

    return bev && evbuffer_get_length(bufferevent_get_output(bev))
                  > WACHAT_API_SLOW_BYTES;
}


/* the client went away */
static void
wachat_api_on_client_close(struct evhttp_connection *conn, void *arg)
{
    wachat_api_client_t  *c = arg;

    (void) conn;

    wachat_log(WACHAT_LOG_INFO, "api: %s event stream closed", c->agent);

    wachat_api_client_unlink(c);

    /*
     * A reply cut off by the peer leaves the request detached from its
     * connection and ours to free; evhttp_send_reply_end() does that.
     */
    if (evhttp_request_get_connection(c->req) == NULL) {
        evhttp_send_reply_end(c->req);
    }

    free(c->agent);
    free(c);
}


/* "id: ..\nevent: ..\ndata: {..}\n\n" for one wachat:feed entry */
static struct evbuffer *
wachat_api_event_text(const redisReply *e)
{
    size_t                i, len;
    yajl_gen              g;
    const char           *type;
    struct evbuffer      *b;
    const redisReply     *kv;
    const unsigned char  *json;

    kv = e->element[1];
    type = wachat_redis_reply_field(kv, "type");

    if (type == NULL || type[0] == '\0' || type[strcspn(type, "\r\n")]) {
        type = "message";
    }

    g = yajl_gen_alloc(NULL);
    b = evbuffer_new();

    if (g == NULL || b == NULL) {
        if (g) {
            yajl_gen_free(g);
        }
        if (b) {
            evbuffer_free(b);
        }
        return NULL;
    }

    yajl_gen_map_open(g);

    for (i = 0; kv->type == REDIS_REPLY_ARRAY && i + 1 < kv->elements;
         i += 2)
    {
        if (kv->element[i]->type == REDIS_REPLY_STRING
            && kv->element[i + 1]->type == REDIS_REPLY_STRING)
        {
            wachat_json_text(g, kv->element[i]->str, kv->element[i]->len);
            wachat_json_text(g, kv->element[i + 1]->str,
                             kv->element[i + 1]->len);
        }
    }

    yajl_gen_map_close(g);
    yajl_gen_get_buf(g, &json, &len);

    /* yajl escapes control characters: the JSON is one line */
    evbuffer_add_printf(b, "id: %s\nevent: %s\ndata: ", e->element[0]->str,
                        type);
    evbuffer_add(b, json, len);
    evbuffer_add(b, "\n\n", 2);

    yajl_gen_free(g);

    return b;
}


static int
wachat_api_entry_ok(const redisReply *e, wachat_api_id_t *id)
{
    return e->type == REDIS_REPLY_ARRAY && e->elements == 2
           && e->element[0]->type == REDIS_REPLY_STRING
           && e->element[1]->type == REDIS_REPLY_ARRAY
           && wachat_api_id_parse(e->element[0]->str, id) == 0;
}


/* whether the client still needs this entry; from now on it has it */
static int
wachat_api_client_due(wachat_api_client_t *c, const wachat_api_id_t *id)
{
    if (wachat_api_id_cmp(id, &c->after) <= 0) {
        return 0;
    }

    c->after = *id;

    return 1;
}


static void
wachat_api_broadcast(wachat_api_t *api, const redisReply *e)
{
    wachat_api_id_t       id;
    struct evbuffer      *text;
    wachat_api_client_t  *c, *next;

    if (!wachat_api_entry_ok(e, &id)) {
        return;
    }

    if (wachat_api_id_cmp(&id, &api->cursor) > 0) {
        api->cursor = id;
    }

    text = wachat_api_event_text(e);
    if (text == NULL) {
        return;
    }

    for (c = api->clients; c; c = next) {
        next = c->next;

        if (!wachat_api_client_due(c, &id)) {
            continue;
        }

        if (wachat_api_client_slow(c)) {
            wachat_api_client_end(c, "too slow to read");
            continue;
        }

        wachat_api_write(c, (const char *) evbuffer_pullup(text, -1),
                         evbuffer_get_length(text));
    }

    evbuffer_free(text);
}


/* the newest entry of the feed now ("0-0" when it is empty) */
static int
wachat_api_feed_tail(wachat_api_t *api, wachat_api_id_t *id)
{
    redisReply  *r;

    r = wachat_redis_cmd(api->st, "XREVRANGE %s + - COUNT 1",
                         WACHAT_KEY_FEED);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }

    memset(id, 0, sizeof(wachat_api_id_t));

    if (r->elements > 0 && !wachat_api_entry_ok(r->element[0], id)) {
        memset(id, 0, sizeof(wachat_api_id_t));
    }

    freeReplyObject(r);

    return 0;
}


/*
 * A browser that reconnects says what it saw last: replay what came
 * after, up to a bound; past it the console is told to reload ("reset").
 * The live feed goes on after the tail (or the last entry replayed).
 */
static void
wachat_api_catch_up(wachat_api_client_t *c, const char *from)
{
    size_t            i;
    wachat_api_id_t   id, tail;
    redisReply       *r, *entries;
    struct evbuffer  *text;
    static const char reset[] = "event: reset\ndata: {}\n\n";

    tail = c->after;

    /* a bogus id from the future must not mute the stream */
    memset(&c->after, 0, sizeof(wachat_api_id_t));
    wachat_api_id_parse(from, &c->after);

    r = wachat_redis_cmd(c->api->st, "XREAD COUNT %d STREAMS %s %s",
                         WACHAT_API_CATCH_UP, WACHAT_KEY_FEED, from);

    entries = NULL;

    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1
        && r->element[0]->type == REDIS_REPLY_ARRAY
        && r->element[0]->elements == 2
        && r->element[0]->element[1]->type == REDIS_REPLY_ARRAY)
    {
        entries = r->element[0]->element[1];
    }

    for (i = 0; entries && i < entries->elements; i++) {
        if (!wachat_api_entry_ok(entries->element[i], &id)
            || !wachat_api_client_due(c, &id))
        {
            continue;
        }

        /* at most a thousand small entries: no slow-reader check here */
        text = wachat_api_event_text(entries->element[i]);

        if (text) {
            wachat_api_write(c, (const char *) evbuffer_pullup(text, -1),
                             evbuffer_get_length(text));
            evbuffer_free(text);
        }

        if (wachat_api_id_cmp(&id, &tail) > 0) {
            tail = id;
        }
    }

    if (entries && entries->elements >= WACHAT_API_CATCH_UP) {
        wachat_api_write(c, reset, sizeof(reset) - 1);
    }

    c->after = tail;

    freeReplyObject(r);
}


void
wachat_api_events(wachat_api_req_t *r)
{
    char                  line[32];
    int                   n;
    wachat_api_t         *api = r->api;
    const char           *last;
    wachat_api_id_t       from;
    struct evkeyvalq     *h;
    wachat_api_client_t  *c;

    if (api->nclients >= WACHAT_API_CLIENTS_MAX) {
        wachat_api_error(r, 503, "too_many_streams", "too many open event "
                         "streams; try again later");
        return;
    }

    c = calloc(1, sizeof(wachat_api_client_t));
    if (c == NULL || (c->agent = strdup(r->agent->id)) == NULL) {
        free(c);
        wachat_api_error(r, 503, "no_memory", "the server is out of memory");
        return;
    }

    if (wachat_api_feed_tail(api, &c->after) != 0) {
        free(c->agent);
        free(c);
        wachat_api_redis_error(r);
        return;
    }

    h = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    /* nginx: pass every event on at once, whatever proxy_buffering says */
    evhttp_add_header(h, "X-Accel-Buffering", "no");

    evhttp_send_reply_start(r->req, 200, "OK");

    c->api = api;
    c->req = r->req;
    c->conn = evhttp_request_get_connection(r->req);
    evhttp_connection_set_closecb(c->conn, wachat_api_on_client_close, c);

    c->next = api->clients;
    if (api->clients) {
        api->clients->prev = c;
    }
    api->clients = c;
    api->nclients++;

    n = snprintf(line, sizeof(line), "retry: %d\n\n", WACHAT_API_RETRY_MS);
    wachat_api_write(c, line, (size_t) n);

    last = evhttp_find_header(evhttp_request_get_input_headers(r->req),
                              "Last-Event-ID");

    if (last && wachat_api_id_parse(last, &from) == 0) {
        wachat_api_catch_up(c, last);
    }

    /* the first stream starts the shared reader at the feed's tail */
    if (api->nclients == 1 && !api->reading) {
        api->cursor = c->after;
    }

    wachat_api_log(r, 200, "event stream");
    wachat_api_feed_read(api);
}


static void
wachat_api_feed_down(void *data)
{
    wachat_api_t  *api = data;

    api->reading = 0;
}


static void
wachat_api_feed_retry(void *data)
{
    wachat_api_feed_read(data);
}


int
wachat_api_feed_init(wachat_api_t *api)
{
    return wachat_redis_link_init(&api->feed, api->base, &api->addr,
                                  "api: feed", wachat_api_feed_down,
                                  wachat_api_feed_retry, api);
}


static void
wachat_api_on_feed(redisAsyncContext *ac, void *reply, void *data)
{
    size_t             i;
    redisReply        *r = reply, *entries;
    wachat_api_t      *api = data;

    if (ac->data == NULL) {
        return;         /* being freed */
    }

    api->reading = 0;

    if (r == NULL) {
        return;         /* disconnected: the disconnect callback follows */
    }

    if (r->type == REDIS_REPLY_ERROR) {
        wachat_log(WACHAT_LOG_WARNING, "api: feed: XREAD: %s", r->str);
        wachat_redis_link_pause(&api->feed);
        return;
    }

    wachat_redis_link_ok(&api->feed);

    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1
        && r->element[0]->type == REDIS_REPLY_ARRAY
        && r->element[0]->elements == 2
        && r->element[0]->element[1]->type == REDIS_REPLY_ARRAY)
    {
        entries = r->element[0]->element[1];

        for (i = 0; i < entries->elements; i++) {
            wachat_api_broadcast(api, entries->element[i]);
        }
    }

    wachat_api_feed_read(api);
}


/* one blocking read at a time, only while somebody listens */
static void
wachat_api_feed_read(wachat_api_t *api)
{
    redisAsyncContext  *ac;
    char                cursor[64];

    if (api->closing || api->reading || api->nclients == 0
        || wachat_redis_link_waiting(&api->feed))
    {
        return;
    }

    ac = wachat_redis_link_get(&api->feed);
    if (ac == NULL) {
        return;         /* the link retries after its pause */
    }

    snprintf(cursor, sizeof(cursor), "%llu-%llu", api->cursor.ms,
             api->cursor.seq);

    api->reading = 1;

    redisAsyncCommand(ac, wachat_api_on_feed, api,
                      "XREAD COUNT %d BLOCK %d STREAMS %s %s",
                      WACHAT_API_FEED_COUNT, WACHAT_API_FEED_BLOCK_MS,
                      WACHAT_KEY_FEED, cursor);
}


/* proxies and browsers drop a silent stream: a comment now and then */
void
wachat_api_on_keepalive(evutil_socket_t fd, short what, void *arg)
{
    wachat_api_t         *api = arg;
    wachat_api_client_t  *c, *next;
    static const char     ping[] = ": keepalive\n\n";

    (void) fd;
    (void) what;

    for (c = api->clients; c; c = next) {
        next = c->next;

        if (wachat_api_client_slow(c)) {
            wachat_api_client_end(c, "too slow to read");
            continue;
        }

        wachat_api_write(c, ping, sizeof(ping) - 1);
    }
}


void
wachat_api_events_close(wachat_api_t *api)
{
    wachat_api_client_t  *c, *next;

    api->closing = 1;

    /* evhttp_free() closes the connections and frees the requests */
    for (c = api->clients; c; c = next) {
        next = c->next;
        evhttp_connection_set_closecb(c->conn, NULL, NULL);
        free(c->agent);
        free(c);
    }

    api->clients = NULL;
    api->nclients = 0;

    wachat_redis_link_close(&api->feed);
}
