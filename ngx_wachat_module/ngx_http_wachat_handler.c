
/*
 * The request path of a "wachat" location: GET answers Meta's verification
 * handshake; a POST's body is read, its signature checked, parsed into
 * events and queued with one script call, and the request is answered only
 * once Redis has them (or has failed to take them).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wachat_module.h"


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
static void ngx_http_wachat_queued(void *data, ngx_int_t rc,
    ngx_int_t queued);
static void ngx_http_wachat_timeout_handler(ngx_event_t *ev);
static void ngx_http_wachat_cleanup(void *data);
static ngx_int_t ngx_http_wachat_finish(ngx_http_request_t *r,
    ngx_http_wachat_ctx_t *ctx, ngx_http_wachat_result_e result,
    ngx_str_t *text);
static ngx_buf_t *ngx_http_wachat_answer(ngx_http_request_t *r,
    ngx_http_wachat_ctx_t *ctx, ngx_http_wachat_outcome_t *oc,
    ngx_str_t *text);
static ngx_int_t ngx_http_wachat_add_header(ngx_http_request_t *r,
    char *name, char *value);


ngx_int_t
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
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_wachat_finish(r, ctx,
                                      NGX_HTTP_WACHAT_METHOD_NOT_ALLOWED,
                                      NULL);
    }

    /* an unsigned POST is refused before its body is read */

    if (ngx_http_wachat_signature_header(r, &sig) == NGX_DECLINED) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
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
    ngx_int_t                    rc;
    ngx_str_t                    challenge;
    ngx_http_wachat_result_e     result;
    ngx_http_wachat_loc_conf_t  *wlcf;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
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


static ngx_int_t
ngx_http_wachat_queue(ngx_http_request_t *r, ngx_http_wachat_ctx_t *ctx,
    ngx_http_wachat_loc_conf_t *wlcf)
{
    ngx_str_t   args;
    ngx_uint_t  nargs;

    if (ngx_http_wachat_script_args(r->pool, wlcf, &ctx->envelope, &args,
                                    &nargs)
        != NGX_OK)
    {
        return ngx_http_wachat_finish(r, ctx, NGX_HTTP_WACHAT_INTERNAL_ERROR,
                                      NULL);
    }

    ctx->call = ngx_http_wachat_redis_eval(r->connection->log, args.data,
                                           args.len, nargs,
                                           ngx_http_wachat_queued, ctx);
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

    } else if (rc == NGX_AGAIN) {
        result = NGX_HTTP_WACHAT_REDIS_NOT_REPLICATED;

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
 * Records the outcome (ngx_http_wachat_result.c) and sends the answer: the
 * challenge as text/plain for a verified GET, a short JSON object otherwise.
 */

static ngx_int_t
ngx_http_wachat_finish(ngx_http_request_t *r, ngx_http_wachat_ctx_t *ctx,
    ngx_http_wachat_result_e result, ngx_str_t *text)
{
    ngx_int_t                   rc;
    ngx_buf_t                  *b;
    ngx_chain_t                 out;
    ngx_http_wachat_outcome_t  *oc;

    oc = ngx_http_wachat_result_record(r, ctx, result);

    b = ngx_http_wachat_answer(r, ctx, oc, text);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

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


/* the answer's body, and its Content-Type */

static ngx_buf_t *
ngx_http_wachat_answer(ngx_http_request_t *r, ngx_http_wachat_ctx_t *ctx,
    ngx_http_wachat_outcome_t *oc, ngx_str_t *text)
{
    size_t      len;
    ngx_buf_t  *b;

    if (text) {
        len = text->len;

    } else if (ctx->result == NGX_HTTP_WACHAT_ACCEPTED) {
        len = sizeof("{\"result\":\"accepted\",\"events\":,\"queued\":}") - 1
              + 2 * NGX_INT_T_LEN;

    } else {
        len = sizeof("{\"error\":\"\"}") - 1 + oc->name.len;
    }

    b = ngx_create_temp_buf(r->pool, len ? len : 1);
    if (b == NULL) {
        return NULL;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    if (text) {
        b->last = ngx_cpymem(b->last, text->data, text->len);
        ngx_str_set(&r->headers_out.content_type, "text/plain");
        return b;
    }

    if (ctx->result == NGX_HTTP_WACHAT_ACCEPTED) {
        b->last = ngx_sprintf(b->last,
                              "{\"result\":\"accepted\",\"events\":%i,"
                              "\"queued\":%i}", ctx->nevents, ctx->queued);

    } else {
        b->last = ngx_sprintf(b->last, "{\"error\":\"%V\"}", &oc->name);
    }

    ngx_str_set(&r->headers_out.content_type, "application/json");

    return b;
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
#if (nginx_version >= 1023000)
    h->next = NULL;         /* the list of headers of one name, since 1.23 */
#endif
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);

    return NGX_OK;
}
