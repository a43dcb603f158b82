
/*
 * ngx_http_wachat_module: answers Meta's webhook verification, checks the
 * signature of every POST, splits the body into events and queues them in
 * a Redis Stream with one atomic script call, answering 200 only once Redis
 * has them.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wachat_module.h"


typedef struct {
    ngx_str_t    name;
    ngx_uint_t   status;
    ngx_uint_t   level;         /* of the error_log line; 0: not logged */
    char        *why;
} ngx_http_wachat_outcome_t;


static ngx_int_t ngx_http_wachat_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_wachat_get(ngx_http_request_t *r,
    ngx_http_wachat_ctx_t *ctx);
static ngx_int_t ngx_http_wachat_signature_header(ngx_http_request_t *r,
    ngx_table_elt_t **sig);
static void ngx_http_wachat_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_wachat_process(ngx_http_request_t *r,
    ngx_http_wachat_ctx_t *ctx);
static u_char *ngx_http_wachat_read_body(ngx_http_request_t *r, size_t *len);
static ngx_int_t ngx_http_wachat_json_content_type(ngx_http_request_t *r);
static ngx_int_t ngx_http_wachat_queue(ngx_http_request_t *r,
    ngx_http_wachat_ctx_t *ctx, ngx_http_wachat_loc_conf_t *wlcf);
static u_char *ngx_http_wachat_resp_arg(u_char *p, u_char *data, size_t len);
static u_char *ngx_http_wachat_resp_number(u_char *p, int64_t value);
static void ngx_http_wachat_queued(void *data, ngx_int_t rc,
    ngx_int_t queued);
static void ngx_http_wachat_timeout_handler(ngx_event_t *ev);
static void ngx_http_wachat_cleanup(void *data);
static ngx_int_t ngx_http_wachat_finish(ngx_http_request_t *r,
    ngx_http_wachat_ctx_t *ctx, ngx_http_wachat_result_e result,
    ngx_str_t *body);
static ngx_int_t ngx_http_wachat_add_header(ngx_http_request_t *r,
    char *name, char *value);

static ngx_int_t ngx_http_wachat_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_wachat_result_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_wachat_events_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static void *ngx_http_wachat_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_wachat_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_wachat_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_wachat_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_wachat(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_wachat_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_wachat_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_wachat_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_wachat_read_secret(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *secret);
static ngx_int_t ngx_http_wachat_parse_redis(ngx_conf_t *cf, ngx_str_t *addr,
    ngx_http_wachat_redis_conf_t *rcf);
static ngx_int_t ngx_http_wachat_init_process(ngx_cycle_t *cycle);
static void ngx_http_wachat_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_wachat_commands[] = {

    { ngx_string("wachat"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_wachat,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("wachat_verify_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_wachat_loc_conf_t, verify_token),
      NULL },

    { ngx_string("wachat_app_secret"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_wachat_loc_conf_t, app_secret),
      NULL },

    { ngx_string("wachat_app_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_wachat_secret_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_wachat_loc_conf_t, app_secret),
      NULL },

    { ngx_string("wachat_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_wachat_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("wachat_stream"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_wachat_loc_conf_t, stream),
      NULL },

    { ngx_string("wachat_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_wachat_loc_conf_t, redis_timeout),
      NULL },

    { ngx_string("wachat_dedup_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_wachat_loc_conf_t, dedup_ttl),
      NULL },

    { ngx_string("wachat_stream_maxlen"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_wachat_loc_conf_t, stream_maxlen),
      NULL },

    { ngx_string("wachat_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_wachat_metrics,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_wachat_module_ctx = {
    ngx_http_wachat_add_variables,         /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_wachat_create_main_conf,      /* create main configuration */
    ngx_http_wachat_init_main_conf,        /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_wachat_create_loc_conf,       /* create location configuration */
    ngx_http_wachat_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_wachat_module = {
    NGX_MODULE_V1,
    &ngx_http_wachat_module_ctx,           /* module context */
    ngx_http_wachat_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_wachat_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_wachat_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* indexed by ngx_http_wachat_result_e */
static ngx_http_wachat_outcome_t  ngx_http_wachat_outcomes[] = {
    { ngx_string("-"), NGX_HTTP_INTERNAL_SERVER_ERROR, 0, NULL },
    { ngx_string("verified"), NGX_HTTP_OK, 0, NULL },
    { ngx_string("bad_request"), NGX_HTTP_BAD_REQUEST, NGX_LOG_INFO,
      "verification request without hub.mode=subscribe, hub.verify_token "
      "and hub.challenge" },
    { ngx_string("bad_challenge"), NGX_HTTP_BAD_REQUEST, NGX_LOG_INFO,
      "hub.challenge is too long or has unsafe characters, not echoed" },
    { ngx_string("bad_verify_token"), NGX_HTTP_FORBIDDEN, NGX_LOG_WARN,
      "hub.verify_token does not match wachat_verify_token" },
    { ngx_string("no_signature"), NGX_HTTP_UNAUTHORIZED, NGX_LOG_INFO,
      "POST without X-Hub-Signature-256 header" },
    { ngx_string("bad_signature"), NGX_HTTP_FORBIDDEN, NGX_LOG_WARN,
      "X-Hub-Signature-256 is malformed or does not match the body, "
      "check wachat_app_secret" },
    { ngx_string("bad_content_type"), NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
      NGX_LOG_INFO, "signed POST whose Content-Type is not application/json" },
    { ngx_string("bad_json"), NGX_HTTP_BAD_REQUEST, NGX_LOG_WARN,
      "signed body is not valid JSON" },
    { ngx_string("too_many_events"), NGX_HTTP_BAD_REQUEST, NGX_LOG_WARN,
      "signed body holds too many events" },
    { ngx_string("accepted"), NGX_HTTP_OK, 0, NULL },
    { ngx_string("redis_unavailable"), NGX_HTTP_SERVICE_UNAVAILABLE,
      NGX_LOG_ERR, "redis is not connected, answering 503 so that Meta "
      "retries" },
    { ngx_string("redis_timeout"), NGX_HTTP_SERVICE_UNAVAILABLE, NGX_LOG_ERR,
      "redis did not answer within wachat_redis_timeout, answering 503 so "
      "that Meta retries" },
    { ngx_string("redis_error"), NGX_HTTP_SERVICE_UNAVAILABLE, NGX_LOG_ERR,
      "redis answered an error, answering 503 so that Meta retries" },
    { ngx_string("method_not_allowed"), NGX_HTTP_NOT_ALLOWED, NGX_LOG_INFO,
      "method other than GET and POST" },
    { ngx_string("internal_error"), NGX_HTTP_INTERNAL_SERVER_ERROR,
      NGX_LOG_ALERT, "internal error" }
};


static ngx_http_variable_t  ngx_http_wachat_vars[] = {

    { ngx_string("wachat_result"), NULL, ngx_http_wachat_result_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("wachat_events"), NULL, ngx_http_wachat_events_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_wachat_handler(ngx_http_request_t *r)
{
    ngx_int_t               rc;
    ngx_table_elt_t        *sig;
    ngx_pool_cleanup_t     *cln;
    ngx_http_wachat_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_wachat_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->queued = -1;
    cln->handler = ngx_http_wachat_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_wachat_module);

    if (r->method == NGX_HTTP_GET) {
        return ngx_http_wachat_get(r, ctx);
    }

    if (r->method != NGX_HTTP_POST) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_wachat_finish(r, ctx,
                                      NGX_HTTP_WACHAT_METHOD_NOT_ALLOWED,
                                      NULL);
    }

    /* an unsigned POST is refused before its body is read */

    if (ngx_http_wachat_signature_header(r, &sig) == NGX_DECLINED) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_wachat_finish(r, ctx, NGX_HTTP_WACHAT_NO_SIGNATURE,
                                      NULL);
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_wachat_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_http_wachat_get(ngx_http_request_t *r, ngx_http_wachat_ctx_t *ctx)
{
    ngx_str_t                    challenge;
    ngx_http_wachat_result_e     result;
    ngx_http_wachat_loc_conf_t  *wlcf;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_wachat_module);

    ngx_str_null(&challenge);

    result = ngx_http_wachat_verify_challenge(r, &wlcf->verify_token,
                                              &challenge);

    return ngx_http_wachat_finish(r, ctx, result,
                                  result == NGX_HTTP_WACHAT_VERIFIED
                                  ? &challenge : NULL);
}


/*
 * NGX_OK with the one X-Hub-Signature-256, NGX_DECLINED without any, and
 * NGX_ERROR when there are several: a request that carries a wrong
 * signature next to a right one is not Meta's and is refused.
 */

static ngx_int_t
ngx_http_wachat_signature_header(ngx_http_request_t *r, ngx_table_elt_t **sig)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    *sig = NULL;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return *sig ? NGX_OK : NGX_DECLINED;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("X-Hub-Signature-256") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "X-Hub-Signature-256",
                               sizeof("X-Hub-Signature-256") - 1)
               == 0)
        {
            if (*sig) {
                return NGX_ERROR;
            }

            *sig = &h[i];
        }
    }
}


static void
ngx_http_wachat_body_handler(ngx_http_request_t *r)
{
    ngx_int_t               rc;
    ngx_http_wachat_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_wachat_module);

    rc = ngx_http_wachat_process(r, ctx);

    if (rc == NGX_DONE) {
        /* waiting for Redis; notice a client that goes away meanwhile */
        r->read_event_handler = ngx_http_test_reading;
        return;
    }

    ngx_http_finalize_request(r, rc);
}


static ngx_int_t
ngx_http_wachat_process(ngx_http_request_t *r, ngx_http_wachat_ctx_t *ctx)
{
    u_char                      *body;
    ngx_table_elt_t             *sig;
    size_t                       len;
    wachat_envelope_rc_e         erc;
    ngx_http_wachat_result_e     result;
    ngx_http_wachat_loc_conf_t  *wlcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_wachat_module);

    body = ngx_http_wachat_read_body(r, &len);
    if (body == NULL) {
        return ngx_http_wachat_finish(r, ctx, NGX_HTTP_WACHAT_INTERNAL_ERROR,
                                      NULL);
    }

    if (ngx_http_wachat_signature_header(r, &sig) != NGX_OK) {
        return ngx_http_wachat_finish(r, ctx, NGX_HTTP_WACHAT_BAD_SIGNATURE,
                                      NULL);
    }

    result = ngx_http_wachat_verify_signature(&sig->value, wlcf->hmac, body,
                                              len);

    if (result != NGX_HTTP_WACHAT_ACCEPTED) {
        return ngx_http_wachat_finish(r, ctx, result, NULL);
    }

    if (ngx_http_wachat_json_content_type(r) != NGX_OK) {
        return ngx_http_wachat_finish(r, ctx, NGX_HTTP_WACHAT_BAD_CONTENT_TYPE,
                                      NULL);
    }

    erc = wachat_envelope_parse(&ctx->envelope, (const char *) body, len,
                                NULL);

    switch (erc) {

    case WACHAT_ENVELOPE_OK:
        break;

    case WACHAT_ENVELOPE_TOO_MANY:
        return ngx_http_wachat_finish(r, ctx, NGX_HTTP_WACHAT_TOO_MANY_EVENTS,
                                      NULL);

    case WACHAT_ENVELOPE_NOMEM:
        return ngx_http_wachat_finish(r, ctx, NGX_HTTP_WACHAT_INTERNAL_ERROR,
                                      NULL);

    default:
        return ngx_http_wachat_finish(r, ctx, NGX_HTTP_WACHAT_BAD_JSON, NULL);
    }

    ctx->nevents = ctx->envelope.nevents;

    if (ctx->nevents == 0) {
        /* e.g. "entry":[]: nothing to keep, no reason to wait for Redis */
        ctx->queued = 0;
        return ngx_http_wachat_finish(r, ctx, NGX_HTTP_WACHAT_ACCEPTED, NULL);
    }

    return ngx_http_wachat_queue(r, ctx, wlcf);
}


/*
 * The signature and the parser need the body in one piece: nginx hands it
 * in several buffers, some of them perhaps in its temp file.
 */

static u_char *
ngx_http_wachat_read_body(ngx_http_request_t *r, size_t *len)
{
    u_char       *body, *p;
    off_t         size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    *len = 0;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return (u_char *) "";
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && !cl->buf->in_file) {
        *len = cl->buf->last - cl->buf->pos;
        return *len ? cl->buf->pos : (u_char *) "";
    }

    size = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        size += ngx_buf_size(cl->buf);
    }

    body = ngx_pnalloc(r->pool, (size_t) size + 1);
    if (body == NULL) {
        return NULL;
    }

    p = body;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, (size_t) (b->file_last - b->file_pos),
                              b->file_pos);

            if (n != b->file_last - b->file_pos) {
                ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                              "wachat: short read of the body's temp file");
                return NULL;
            }

            p += n;

        } else if (b->last > b->pos) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    *len = p - body;

    return body;
}


static ngx_int_t
ngx_http_wachat_json_content_type(ngx_http_request_t *r)
{
    u_char     c;
    ngx_str_t  *type;

    static const size_t  json_len = sizeof("application/json") - 1;

    if (r->headers_in.content_type == NULL) {
        return NGX_DECLINED;
    }

    type = &r->headers_in.content_type->value;

    if (type->len < json_len
        || ngx_strncasecmp(type->data, (u_char *) "application/json",
                           json_len)
           != 0)
    {
        return NGX_DECLINED;
    }

    if (type->len == json_len) {
        return NGX_OK;
    }

    c = type->data[json_len];

    return (c == ';' || c == ' ' || c == '\t') ? NGX_OK : NGX_DECLINED;
}


/*
 * The queuing script's arguments, written straight into one RESP buffer:
 * numkeys, the stream, one dedup key per event, the ttl and MAXLEN, then
 * per event its field count and field/value pairs.  The link writes the
 * command's head into the room left in front.
 */

static ngx_int_t
ngx_http_wachat_queue(ngx_http_request_t *r, ngx_http_wachat_ctx_t *ctx,
    ngx_http_wachat_loc_conf_t *wlcf)
{
    u_char           *buf, *p;
    size_t            size;
    ngx_uint_t        i, f, n, nargs, nfields;
    wachat_envelope_event_t  *ev;

    n = ctx->envelope.nevents;

    /* numkeys, stream, ttl, maxlen: a number is at most NGX_INT64_LEN */
    nargs = 4 + n;
    size = 4 * (1 + NGX_SIZE_T_LEN + 4) + 3 * NGX_INT64_LEN + wlcf->stream.len;

    for (i = 0; i < n; i++) {
        ev = &ctx->envelope.events[i];

        /* its dedup key (counted above) and its field count */
        nargs += 1;
        size += 2 * (1 + NGX_SIZE_T_LEN + 4) + NGX_INT64_LEN
                + wlcf->seen_prefix.len + ev->dedup.len;

        for (f = 0; f < WACHAT_FIELD_COUNT; f++) {
            if (ev->field[f].data) {
                nargs += 2;
                size += 2 * (1 + NGX_SIZE_T_LEN + 4)
                        + wachat_field_names[f].len + ev->field[f].len;
            }
        }
    }

    buf = ngx_pnalloc(r->pool, NGX_HTTP_WACHAT_REDIS_HEADROOM + size);
    if (buf == NULL) {
        return ngx_http_wachat_finish(r, ctx, NGX_HTTP_WACHAT_INTERNAL_ERROR,
                                      NULL);
    }

    p = buf + NGX_HTTP_WACHAT_REDIS_HEADROOM;

    p = ngx_http_wachat_resp_number(p, n + 1);
    p = ngx_http_wachat_resp_arg(p, (u_char *) wlcf->stream.data,
                                 wlcf->stream.len);

    for (i = 0; i < n; i++) {
        ev = &ctx->envelope.events[i];

        p = ngx_sprintf(p, "$%uz\r\n%V",
                        wlcf->seen_prefix.len + ev->dedup.len,
                        &wlcf->seen_prefix);
        p = ngx_cpymem(p, ev->dedup.data, ev->dedup.len);
        *p++ = CR; *p++ = LF;
    }

    p = ngx_http_wachat_resp_number(p, wlcf->dedup_ttl);
    p = ngx_http_wachat_resp_number(p, wlcf->stream_maxlen);

    for (i = 0; i < n; i++) {
        ev = &ctx->envelope.events[i];

        nfields = 0;

        for (f = 0; f < WACHAT_FIELD_COUNT; f++) {
            nfields += (ev->field[f].data != NULL);
        }

        p = ngx_http_wachat_resp_number(p, nfields);

        for (f = 0; f < WACHAT_FIELD_COUNT; f++) {
            if (ev->field[f].data == NULL) {
                continue;
            }

            p = ngx_http_wachat_resp_arg(p, (u_char *) wachat_field_names[f].data,
                                         wachat_field_names[f].len);
            p = ngx_http_wachat_resp_arg(p, (u_char *) ev->field[f].data,
                                         ev->field[f].len);
        }
    }

    ctx->call = ngx_http_wachat_redis_queue(r->connection->log,
                                            buf + NGX_HTTP_WACHAT_REDIS_HEADROOM,
                                            p - buf
                                            - NGX_HTTP_WACHAT_REDIS_HEADROOM,
                                            nargs, ngx_http_wachat_queued,
                                            ctx);
    if (ctx->call == NULL) {
        return ngx_http_wachat_finish(r, ctx,
                                      NGX_HTTP_WACHAT_REDIS_UNAVAILABLE, NULL);
    }

    ctx->timeout.handler = ngx_http_wachat_timeout_handler;
    ctx->timeout.data = ctx;
    ctx->timeout.log = r->connection->log;

    ngx_add_timer(&ctx->timeout, wlcf->redis_timeout);

    return NGX_DONE;
}


/* one RESP bulk string: $<len>\r\n<data>\r\n */

static u_char *
ngx_http_wachat_resp_arg(u_char *p, u_char *data, size_t len)
{
    p = ngx_sprintf(p, "$%uz\r\n", len);
    p = ngx_cpymem(p, data, len);
    *p++ = CR; *p++ = LF;

    return p;
}


static u_char *
ngx_http_wachat_resp_number(u_char *p, int64_t value)
{
    u_char   digits[NGX_INT64_LEN];
    u_char  *last;

    last = ngx_sprintf(digits, "%L", value);

    return ngx_http_wachat_resp_arg(p, digits, last - digits);
}


static void
ngx_http_wachat_queued(void *data, ngx_int_t rc, ngx_int_t queued)
{
    ngx_http_wachat_ctx_t  *ctx = data;

    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_wachat_result_e   result;

    r = ctx->request;
    ctx->call = NULL;

    if (ctx->timeout.timer_set) {
        ngx_del_timer(&ctx->timeout);
    }

    if (rc == NGX_OK) {
        ctx->queued = queued;
        result = NGX_HTTP_WACHAT_ACCEPTED;

    } else if (rc == NGX_ERROR) {
        result = NGX_HTTP_WACHAT_REDIS_ERROR;

    } else {
        result = NGX_HTTP_WACHAT_REDIS_UNAVAILABLE;
    }

    c = r->connection;

    ngx_http_finalize_request(r, ngx_http_wachat_finish(r, ctx, result, NULL));
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_wachat_timeout_handler(ngx_event_t *ev)
{
    ngx_http_wachat_ctx_t  *ctx = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    /* the script may still run: the dedup keys make Meta's retry harmless */

    if (ctx->call) {
        ngx_http_wachat_redis_cancel(ctx->call);
        ctx->call = NULL;
    }

    ngx_http_finalize_request(r, ngx_http_wachat_finish(r, ctx,
                                               NGX_HTTP_WACHAT_REDIS_TIMEOUT,
                                               NULL));
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_wachat_cleanup(void *data)
{
    ngx_http_wachat_ctx_t  *ctx = data;

    if (ctx->call) {
        ngx_http_wachat_redis_cancel(ctx->call);
        ctx->call = NULL;
    }

    if (ctx->timeout.timer_set) {
        ngx_del_timer(&ctx->timeout);
    }

    wachat_envelope_free(&ctx->envelope);
}


/*
 * Records the outcome, logs it once and sends the answer: the challenge as
 * text/plain for a verified GET, a short JSON object otherwise.
 */

static ngx_int_t
ngx_http_wachat_finish(ngx_http_request_t *r, ngx_http_wachat_ctx_t *ctx,
    ngx_http_wachat_result_e result, ngx_str_t *text)
{
    u_char                       *p;
    size_t                        len;
    ngx_int_t                     rc;
    ngx_buf_t                    *b;
    ngx_log_t                     log;
    ngx_chain_t                   out;
    ngx_http_wachat_outcome_t    *oc;
    ngx_http_wachat_metrics_t    *metrics;
    ngx_http_wachat_main_conf_t  *wmcf;

    ctx->result = result;
    oc = &ngx_http_wachat_outcomes[result];

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wachat_module);
    metrics = wmcf->metrics_zone->data;

    (void) ngx_atomic_fetch_add(&metrics->requests[result], 1);

    if (result == NGX_HTTP_WACHAT_ACCEPTED && ctx->queued > 0) {
        (void) ngx_atomic_fetch_add(&metrics->events_queued, ctx->queued);
    }

    if (result == NGX_HTTP_WACHAT_ACCEPTED && ctx->nevents > ctx->queued) {
        /* parsed but already seen: a retried delivery */
        (void) ngx_atomic_fetch_add(&metrics->events_duplicate,
                                    ctx->nevents - ctx->queued);
    }

    if (oc->level) {
        /*
         * Not through r's log handler: it would append the request line,
         * whose query string holds the verify token.
         */
        log = *r->connection->log;
        log.handler = NULL;
        log.data = NULL;

        ngx_log_error(oc->level, &log, 0,
                      "wachat: %s, client: %V, host: \"%V\"",
                      oc->why, &r->connection->addr_text,
                      &r->headers_in.server);
    }

    if (text) {
        len = text->len;

    } else if (result == NGX_HTTP_WACHAT_ACCEPTED) {
        len = sizeof("{\"result\":\"accepted\",\"events\":,\"queued\":}") - 1
              + 2 * NGX_INT_T_LEN;

    } else {
        len = sizeof("{\"error\":\"\"}") - 1 + oc->name.len;
    }

    b = ngx_create_temp_buf(r->pool, len ? len : 1);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (text) {
        p = ngx_cpymem(b->last, text->data, text->len);
        ngx_str_set(&r->headers_out.content_type, "text/plain");

    } else {
        if (result == NGX_HTTP_WACHAT_ACCEPTED) {
            p = ngx_sprintf(b->last,
                            "{\"result\":\"accepted\",\"events\":%i,"
                            "\"queued\":%i}", ctx->nevents, ctx->queued);

        } else {
            p = ngx_sprintf(b->last, "{\"error\":\"%V\"}", &oc->name);
        }

        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = oc->status;
    r->headers_out.content_length_n = b->last - b->pos;

    if (oc->status == NGX_HTTP_SERVICE_UNAVAILABLE
        && ngx_http_wachat_add_header(r, "Retry-After", "1") != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (oc->status == NGX_HTTP_NOT_ALLOWED
        && ngx_http_wachat_add_header(r, "Allow", "GET, POST") != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (b->last == b->pos) {
        b->sync = 1;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_wachat_add_header(ngx_http_request_t *r, char *name, char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);

    return NGX_OK;
}


ngx_str_t *
ngx_http_wachat_result_name(ngx_http_wachat_result_e result)
{
    return &ngx_http_wachat_outcomes[result].name;
}


static ngx_int_t
ngx_http_wachat_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_wachat_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_wachat_result_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t              *name;
    ngx_http_wachat_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_wachat_module);

    if (ctx == NULL || ctx->result == NGX_HTTP_WACHAT_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    name = &ngx_http_wachat_outcomes[ctx->result].name;

    v->len = name->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = name->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_wachat_events_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                 *p;
    ngx_http_wachat_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_wachat_module);

    if (ctx == NULL || ctx->queued < 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%i", ctx->queued) - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static void *
ngx_http_wachat_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_wachat_main_conf_t  *wmcf;

    wmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_wachat_main_conf_t));
    if (wmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     wmcf->redis = { 0 };
     *     wmcf->redis_set = 0;
     *     wmcf->enabled = 0;
     *     wmcf->metrics_zone = NULL;
     */

    return wmcf;
}


static char *
ngx_http_wachat_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_wachat_main_conf_t *wmcf = conf;

    ngx_str_t  addr = ngx_string("127.0.0.1:6379");

    if (wmcf->redis_set) {
        return NGX_CONF_OK;
    }

    if (ngx_http_wachat_parse_redis(cf, &addr, &wmcf->redis) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_wachat_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_wachat_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_wachat_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->verify_token = { 0, NULL };
     *     conf->app_secret = { 0, NULL };
     *     conf->stream = { 0, NULL };
     *     conf->seen_prefix = { 0, NULL };
     */

    conf->enable = NGX_CONF_UNSET;
    conf->redis_timeout = NGX_CONF_UNSET_MSEC;
    conf->dedup_ttl = NGX_CONF_UNSET;
    conf->stream_maxlen = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_wachat_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_wachat_loc_conf_t *prev = parent;
    ngx_http_wachat_loc_conf_t *conf = child;

    u_char  *p, *open;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_str_value(conf->verify_token, prev->verify_token, "");
    ngx_conf_merge_str_value(conf->app_secret, prev->app_secret, "");
    ngx_conf_merge_str_value(conf->stream, prev->stream,
                             WACHAT_STREAM_DEFAULT);
    ngx_conf_merge_msec_value(conf->redis_timeout, prev->redis_timeout, 2000);
    ngx_conf_merge_sec_value(conf->dedup_ttl, prev->dedup_ttl,
                             WACHAT_DEDUP_TTL_DEFAULT);
    ngx_conf_merge_value(conf->stream_maxlen, prev->stream_maxlen, 0);

    if (conf->dedup_ttl <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"wachat_dedup_ttl\" must be at least 1s");
        return NGX_CONF_ERROR;
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    if (conf->verify_token.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"wachat\" needs \"wachat_verify_token\": the "
                           "token you give Meta with the callback URL");
        return NGX_CONF_ERROR;
    }

    if (conf->app_secret.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"wachat\" needs \"wachat_app_secret\" or "
                           "\"wachat_app_secret_file\": the App Secret "
                           "that signs Meta's POSTs");
        return NGX_CONF_ERROR;
    }

    conf->hmac = ngx_http_wachat_hmac_create(cf, &conf->app_secret);
    if (conf->hmac == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cannot set up HMAC-SHA256 (OpenSSL)");
        return NGX_CONF_ERROR;
    }

    /*
     * Dedup keys share the stream's Redis Cluster slot: "{stream}:seen:",
     * or "stream:seen:" when the stream name has its own hash tag.
     */

    p = ngx_strlchr(conf->stream.data, conf->stream.data + conf->stream.len,
                    '{');
    open = p;

    if (p) {
        p = ngx_strlchr(p + 1, conf->stream.data + conf->stream.len, '}');
    }

    conf->seen_prefix.len = conf->stream.len + sizeof("{}:seen:") - 1;
    conf->seen_prefix.data = ngx_pnalloc(cf->pool, conf->seen_prefix.len);
    if (conf->seen_prefix.data == NULL) {
        return NGX_CONF_ERROR;
    }

    if (p && p > open + 1) {
        conf->seen_prefix.len -= 2;
        ngx_sprintf(conf->seen_prefix.data, "%V:seen:", &conf->stream);

    } else {
        ngx_sprintf(conf->seen_prefix.data, "{%V}:seen:", &conf->stream);
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_wachat(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_wachat_loc_conf_t *wlcf = conf;

    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_wachat_main_conf_t  *wmcf;

    if (wlcf->enable != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    wlcf->enable = 1;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_wachat_module);
    wmcf->enabled = 1;

    wmcf->metrics_zone = ngx_http_wachat_metrics_zone(cf);
    if (wmcf->metrics_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_wachat_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_wachat_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_wachat_main_conf_t  *wmcf;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_wachat_module);

    wmcf->metrics_zone = ngx_http_wachat_metrics_zone(cf);
    if (wmcf->metrics_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_wachat_metrics_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_wachat_secret_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_wachat_loc_conf_t *wlcf = conf;

    ngx_str_t  *value;

    if (wlcf->app_secret.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_wachat_read_secret(cf, &value[1], &wlcf->app_secret)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_wachat_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_wachat_main_conf_t *wmcf = conf;

    ngx_str_t   *value, path;
    ngx_int_t    db;
    ngx_uint_t   i;

    if (wmcf->redis_set) {
        return "is duplicate";
    }

    wmcf->redis_set = 1;
    value = cf->args->elts;

    if (ngx_http_wachat_parse_redis(cf, &value[1], &wmcf->redis) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            db = ngx_atoi(value[i].data + 3, value[i].len - 3);
            if (db == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid Redis database \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            wmcf->redis.db = db;
            continue;
        }

        if (ngx_strncmp(value[i].data, "password_file=", 14) == 0) {
            path.data = value[i].data + 14;
            path.len = value[i].len - 14;

            if (ngx_http_wachat_read_secret(cf, &path, &wmcf->redis.password)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", expected db=N or "
                           "password_file=path", &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Reads a secret at configuration time, so it need not sit in nginx.conf;
 * a trailing newline, as editors leave it, is not part of the secret.
 */

static ngx_int_t
ngx_http_wachat_read_secret(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *secret)
{
    u_char           *buf;
    size_t            len;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_str_t         name;
    ngx_file_info_t   fi;

    name = *path;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot open secret file \"%s\"", name.data);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > 4096)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%s\" is not a small regular file",
                           name.data);
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    len = (size_t) ngx_file_size(&fi);

    buf = ngx_pnalloc(cf->pool, len + 1);
    if (buf == NULL) {
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    n = ngx_read_fd(fd, buf, len);
    ngx_close_file(fd);

    if (n < 0 || (size_t) n != len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot read secret file \"%s\"", name.data);
        return NGX_ERROR;
    }

    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'
                   || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
    {
        len--;
    }

    if (len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%s\" is empty", name.data);
        return NGX_ERROR;
    }

    buf[len] = '\0';
    secret->data = buf;
    secret->len = len;

    return NGX_OK;
}


/*
 * host:port is resolved here, once: hiredis would resolve a name with a
 * blocking getaddrinfo() on every reconnect, inside a worker.
 */

static ngx_int_t
ngx_http_wachat_parse_redis(ngx_conf_t *cf, ngx_str_t *addr,
    ngx_http_wachat_redis_conf_t *rcf)
{
    u_char     *p;
    ngx_url_t   u;

    rcf->name = *addr;

    if (addr->len > 5 && ngx_strncmp(addr->data, "unix:", 5) == 0) {
        rcf->unix_path.len = addr->len - 5;
        rcf->unix_path.data = ngx_pnalloc(cf->pool, rcf->unix_path.len + 1);
        if (rcf->unix_path.data == NULL) {
            return NGX_ERROR;
        }

        ngx_cpystrn(rcf->unix_path.data, addr->data + 5,
                    rcf->unix_path.len + 1);
        return NGX_OK;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *addr;
    u.no_resolve = 0;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.no_port || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid Redis address \"%V\"%s%s, expected "
                           "host:port or unix:/path", addr,
                           u.err ? ": " : "", u.err ? u.err : "");
        return NGX_ERROR;
    }

    p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    rcf->host.data = p;
    rcf->host.len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, p,
                                  NGX_SOCKADDR_STRLEN, 0);
    p[rcf->host.len] = '\0';
    rcf->port = u.port;

    return NGX_OK;
}


static ngx_int_t
ngx_http_wachat_init_process(ngx_cycle_t *cycle)
{
    ngx_http_conf_ctx_t          *ctx;
    ngx_http_wachat_metrics_t    *metrics;
    ngx_http_wachat_main_conf_t  *wmcf;

    /* workers only: the cache manager and loader serve no requests */
    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    ctx = (ngx_http_conf_ctx_t *) cycle->conf_ctx[ngx_http_module.index];
    if (ctx == NULL) {
        return NGX_OK;
    }

    wmcf = ctx->main_conf[ngx_http_wachat_module.ctx_index];

    if (!wmcf->enabled) {
        return NGX_OK;
    }

    metrics = wmcf->metrics_zone->data;

    return ngx_http_wachat_redis_init_process(cycle, &wmcf->redis,
                                              &metrics->redis);
}


static void
ngx_http_wachat_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_wachat_redis_exit_process();
}
