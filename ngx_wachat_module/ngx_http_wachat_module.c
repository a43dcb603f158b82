
/*
 * ngx_http_wachat_module: answers Meta's webhook verification, checks the
 * signature of every POST, splits the body into events and queues them in
 * a Redis Stream with one atomic script call, answering 200 only once Redis
 * has them.
 *
 * This file holds the directives, the configuration and the variables; the
 * request path is in ngx_http_wachat_handler.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wachat_module.h"


/* wachat_redis_replicas' default WAIT timeout */
#define NGX_HTTP_WACHAT_WAIT_TIMEOUT  500


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
static char *ngx_http_wachat_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_wachat_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_wachat_check_secret(ngx_conf_t *cf, ngx_fd_t fd,
    ngx_str_t *name, ngx_file_info_t *fi);
static ngx_int_t ngx_http_wachat_read_secret(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *secret);
static char *ngx_http_wachat_redis_replicas(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_wachat_parse_redis(ngx_conf_t *cf, ngx_str_t *addr,
    ngx_http_wachat_redis_conf_t *rcf);
static ngx_int_t ngx_http_wachat_parse_sentinels(ngx_conf_t *cf,
    ngx_str_t *list, ngx_http_wachat_redis_conf_t *rcf);
static ngx_int_t ngx_http_wachat_parse_addr(ngx_conf_t *cf, ngx_str_t *text,
    ngx_http_wachat_redis_addr_t *addr);
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


/* wachat_app_secret_file, wachat_api_secret_file */

static char *
ngx_http_wachat_secret_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t  *value, *secret;

    secret = (ngx_str_t *) (p + cmd->offset);

    if (secret->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_wachat_read_secret(cf, &value[1], secret) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_wachat_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_wachat_main_conf_t *wmcf = conf;

    ngx_str_t                     *value, v;
    ngx_int_t                      db;
    ngx_uint_t                     i;
    ngx_http_wachat_redis_conf_t  *rcf;

    if (wmcf->redis_set) {
        return "is duplicate";
    }

    wmcf->redis_set = 1;
    rcf = &wmcf->redis;
    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (i == 1
            && ngx_strlchr(value[i].data, value[i].data + value[i].len, '=')
               == NULL)
        {
            if (ngx_http_wachat_parse_redis(cf, &value[i], rcf) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            db = ngx_atoi(value[i].data + 3, value[i].len - 3);
            if (db == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid Redis database \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            rcf->db = db;
            continue;
        }

        if (ngx_strncmp(value[i].data, "password_file=", 14) == 0) {
            v.data = value[i].data + 14;
            v.len = value[i].len - 14;

            if (ngx_http_wachat_read_secret(cf, &v, &rcf->password)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "sentinel=", 9) == 0) {
            v.data = value[i].data + 9;
            v.len = value[i].len - 9;

            if (ngx_http_wachat_parse_sentinels(cf, &v, rcf) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "master=", 7) == 0
            && value[i].len > 7)
        {
            rcf->master.data = value[i].data + 7;
            rcf->master.len = value[i].len - 7;

            /* the log lines name the primary by its sentinel name */
            rcf->name = value[i];
            continue;
        }

        if (ngx_strncmp(value[i].data, "sentinel_password_file=", 23) == 0) {
            v.data = value[i].data + 23;
            v.len = value[i].len - 23;

            if (ngx_http_wachat_read_secret(cf, &v, &rcf->sentinel_password)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", expected db=N, "
                           "password_file=path, sentinel=host:port,..., "
                           "master=name or sentinel_password_file=path",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    if ((rcf->sentinels != NULL) != (rcf->master.len != 0)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sentinel=\" and \"master=\" go together");
        return NGX_CONF_ERROR;
    }

    if ((rcf->sentinels != NULL) == (rcf->host.len || rcf->unix_path.len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "expected one Redis address (host:port or "
                           "unix:/path) or \"sentinel=\", not %s",
                           rcf->sentinels ? "both" : "neither");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* sentinel=host:port,host:port,...: each resolved here, once */

static ngx_int_t
ngx_http_wachat_parse_sentinels(ngx_conf_t *cf, ngx_str_t *list,
    ngx_http_wachat_redis_conf_t *rcf)
{
    u_char                        *p, *last, *comma;
    ngx_str_t                      one;
    ngx_http_wachat_redis_addr_t  *addr;

    if (rcf->sentinels == NULL) {
        rcf->sentinels = ngx_array_create(cf->pool, 3,
                                          sizeof(ngx_http_wachat_redis_addr_t));
        if (rcf->sentinels == NULL) {
            return NGX_ERROR;
        }
    }

    p = list->data;
    last = list->data + list->len;

    while (p < last) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        one.data = p;
        one.len = comma - p;
        p = comma + 1;

        if (one.len == 0) {
            continue;
        }

        addr = ngx_array_push(rcf->sentinels);
        if (addr == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_wachat_parse_addr(cf, &one, addr) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (rcf->sentinels->nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sentinel=\" names no sentinel");
        return NGX_ERROR;
    }

    return NGX_OK;
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


static char *
ngx_http_wachat_redis_replicas(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_wachat_main_conf_t *wmcf = conf;

    ngx_str_t   *value, v;
    ngx_int_t    n;
    ngx_msec_t   ms;

    if (wmcf->redis.wait_timeout) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);
    if (n == NGX_ERROR || n > 64) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of replicas \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    wmcf->redis.replicas = n;
    wmcf->redis.wait_timeout = NGX_HTTP_WACHAT_WAIT_TIMEOUT;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "timeout=", 8) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", expected "
                               "timeout=time", &value[2]);
            return NGX_CONF_ERROR;
        }

        v.data = value[2].data + 8;
        v.len = value[2].len - 8;

        ms = ngx_parse_time(&v, 0);

        /* WAIT 0 waits for ever; a long one holds every call behind it */
        if (ms == (ngx_msec_t) NGX_ERROR || ms == 0 || ms > 5000) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid WAIT timeout \"%V\", expected 1ms "
                               "to 5s", &value[2]);
            return NGX_CONF_ERROR;
        }

        wmcf->redis.wait_timeout = ms;
    }

    return NGX_CONF_OK;
}


/*
 * A small regular file only its owner (and group) may read or write: a
 * secret others may read is no secret, and one others may write lets them
 * sign webhooks, so nginx -t refuses both.
 */

static ngx_int_t
ngx_http_wachat_check_secret(ngx_conf_t *cf, ngx_fd_t fd, ngx_str_t *name,
    ngx_file_info_t *fi)
{
    ngx_uint_t  mode;

    if (ngx_fd_info(fd, fi) == NGX_FILE_ERROR || ngx_file_size(fi) > 4096) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%s\" is not a small regular file",
                           name->data);
        return NGX_ERROR;
    }

    mode = ngx_file_access(fi);

    if (mode & (S_IROTH | S_IWOTH)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%s\" may be read or written by "
                           "other users (mode 0%ui%ui%ui); run chmod o-rw "
                           "on it", name->data, (mode >> 6) & 7,
                           (mode >> 3) & 7, mode & 7);
        return NGX_ERROR;
    }

    return NGX_OK;
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

    if (ngx_http_wachat_check_secret(cf, fd, &name, &fi) != NGX_OK) {
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


static ngx_int_t
ngx_http_wachat_parse_redis(ngx_conf_t *cf, ngx_str_t *addr,
    ngx_http_wachat_redis_conf_t *rcf)
{
    ngx_http_wachat_redis_addr_t  a;

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

    if (ngx_http_wachat_parse_addr(cf, addr, &a) != NGX_OK) {
        return NGX_ERROR;
    }

    rcf->host = a.host;
    rcf->port = a.port;

    return NGX_OK;
}


/*
 * host:port is resolved here, once: hiredis would resolve a name with a
 * blocking getaddrinfo() on every reconnect, inside a worker.
 */

static ngx_int_t
ngx_http_wachat_parse_addr(ngx_conf_t *cf, ngx_str_t *text,
    ngx_http_wachat_redis_addr_t *addr)
{
    u_char     *p;
    ngx_url_t   u;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *text;
    u.no_resolve = 0;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.no_port || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid Redis address \"%V\"%s%s, expected "
                           "host:port or unix:/path", text,
                           u.err ? ": " : "", u.err ? u.err : "");
        return NGX_ERROR;
    }

    p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    addr->name = *text;
    addr->host.data = p;
    addr->host.len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, p,
                                   NGX_SOCKADDR_STRLEN, 0);
    p[addr->host.len] = '\0';
    addr->port = u.port;

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
                                              &metrics->redis,
                                              &ngx_http_wachat_script_text);
}


static void
ngx_http_wachat_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_wachat_redis_exit_process();
}
