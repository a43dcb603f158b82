
/*
 * ngx_http_wachat_module: answers Meta's webhook verification, checks the
 * signature of every POST, splits the body into events and queues them in
 * a Redis Stream with one atomic script call, answering 200 only once Redis
 * has them.
 *
 * This file holds the directives, the configuration and the variables;
 * the Redis directives are parsed in ngx_http_wachat_redis_conf.c, the
 * secret files read in ngx_http_wachat_secret.c, and the request path is
 * in ngx_http_wachat_handler.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wachat_module.h"


static ngx_int_t ngx_http_wachat_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_wachat_result_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_wachat_events_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_wachat_api_secret_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static void *ngx_http_wachat_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_wachat_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_wachat_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_wachat_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_wachat_seen_prefix(ngx_conf_t *cf,
    ngx_http_wachat_loc_conf_t *conf);
static char *ngx_http_wachat(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_wachat_positive_msec(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_wachat_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_wachat_init_process(ngx_cycle_t *cycle);
static void ngx_http_wachat_exit_process(ngx_cycle_t *cycle);


/* a zero timeout would answer every webhook 503 at once */
static ngx_conf_post_t  ngx_http_wachat_positive_msec_post = {
    ngx_http_wachat_positive_msec
};


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

    { ngx_string("wachat_api_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_wachat_secret_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_wachat_loc_conf_t, api_secret),
      NULL },

    { ngx_string("wachat_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_wachat_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("wachat_redis_replicas"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_wachat_redis_replicas,
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
      &ngx_http_wachat_positive_msec_post },

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


static ngx_http_variable_t  ngx_http_wachat_vars[] = {

    { ngx_string("wachat_result"), NULL, ngx_http_wachat_result_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("wachat_events"), NULL, ngx_http_wachat_events_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("wachat_api_secret"), NULL,
      ngx_http_wachat_api_secret_variable, 0, NGX_HTTP_VAR_NOHASH, 0 },

      ngx_http_null_variable
};


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

    name = ngx_http_wachat_result_name(ctx->result);

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


/*
 * What proves to wachatd that a request to its agent API comes through
 * this nginx, which authenticated the agent: "proxy_set_header
 * X-Wachat-Proxy-Secret $wachat_api_secret".  Not found (so the header is
 * not sent) where no wachat_api_secret_file applies.
 */

static ngx_int_t
ngx_http_wachat_api_secret_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_wachat_loc_conf_t  *wlcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_wachat_module);

    if (wlcf->api_secret.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = wlcf->api_secret.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = wlcf->api_secret.data;

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
     *     conf->api_secret = { 0, NULL };
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

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_str_value(conf->verify_token, prev->verify_token, "");
    ngx_conf_merge_str_value(conf->app_secret, prev->app_secret, "");
    ngx_conf_merge_str_value(conf->api_secret, prev->api_secret, "");
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

    conf->hmac = ngx_http_wachat_verify_hmac(cf, &conf->app_secret);
    if (conf->hmac == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cannot set up HMAC-SHA256 (OpenSSL)");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_wachat_seen_prefix(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Dedup keys share the stream's Redis Cluster slot: "{stream}:seen:", or
 * "stream:seen:" when the stream name has its own hash tag.
 */

static ngx_int_t
ngx_http_wachat_seen_prefix(ngx_conf_t *cf, ngx_http_wachat_loc_conf_t *conf)
{
    u_char  *p, *open;

    p = ngx_strlchr(conf->stream.data, conf->stream.data + conf->stream.len,
                    '{');
    open = p;

    if (p) {
        p = ngx_strlchr(p + 1, conf->stream.data + conf->stream.len, '}');
    }

    conf->seen_prefix.len = conf->stream.len + sizeof("{}:seen:") - 1;
    conf->seen_prefix.data = ngx_pnalloc(cf->pool, conf->seen_prefix.len);
    if (conf->seen_prefix.data == NULL) {
        return NGX_ERROR;
    }

    if (p && p > open + 1) {
        conf->seen_prefix.len -= 2;
        ngx_sprintf(conf->seen_prefix.data, "%V:seen:", &conf->stream);

    } else {
        ngx_sprintf(conf->seen_prefix.data, "{%V}:seen:", &conf->stream);
    }

    return NGX_OK;
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
ngx_http_wachat_positive_msec(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *ms = data;

    if (*ms == 0) {
        return "must be more than 0";
    }

    return NGX_CONF_OK;
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
                                              &metrics->redis,
                                              &ngx_http_wachat_script_text);
}


static void
ngx_http_wachat_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_wachat_redis_exit_process();
}
