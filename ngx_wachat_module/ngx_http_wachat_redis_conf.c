
/*
 * ngx_http_wachat_redis_conf: the Redis directives (wachat_redis and its
 * parameters, wachat_redis_replicas): addresses resolved once, here, at
 * configuration time, and the password files read.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wachat_module.h"


/* wachat_redis_replicas' default WAIT timeout */
#define NGX_HTTP_WACHAT_WAIT_TIMEOUT  500


static ngx_int_t ngx_http_wachat_redis_param(ngx_conf_t *cf,
    ngx_str_t *param, ngx_http_wachat_redis_conf_t *rcf);
static ngx_int_t ngx_http_wachat_parse_sentinels(ngx_conf_t *cf,
    ngx_str_t *list, ngx_http_wachat_redis_conf_t *rcf);
static ngx_int_t ngx_http_wachat_parse_addr(ngx_conf_t *cf, ngx_str_t *text,
    ngx_http_wachat_redis_addr_t *addr);


char *
ngx_http_wachat_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_wachat_main_conf_t *wmcf = conf;

    ngx_str_t                     *value;
    ngx_int_t                      rc;
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
            rc = ngx_http_wachat_parse_redis(cf, &value[i], rcf);

        } else {
            rc = ngx_http_wachat_redis_param(cf, &value[i], rcf);
        }

        if (rc == NGX_DECLINED) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", expected db=N, "
                               "user=name, password_file=path, "
                               "sentinel=host:port,..., "
                               "master=name or sentinel_password_file=path",
                               &value[i]);
        }

        if (rc != NGX_OK) {
            return NGX_CONF_ERROR;
        }
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


/* one name=value parameter of wachat_redis; NGX_DECLINED: no such name */

static ngx_int_t
ngx_http_wachat_redis_param(ngx_conf_t *cf, ngx_str_t *param,
    ngx_http_wachat_redis_conf_t *rcf)
{
    ngx_str_t  v;
    ngx_int_t  db;

    if (ngx_strncmp(param->data, "db=", 3) == 0) {
        db = ngx_atoi(param->data + 3, param->len - 3);
        if (db == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid Redis database \"%V\"", param);
            return NGX_ERROR;
        }

        rcf->db = db;
        return NGX_OK;
    }

    if (ngx_strncmp(param->data, "user=", 5) == 0 && param->len > 5) {
        rcf->user.data = param->data + 5;
        rcf->user.len = param->len - 5;
        return NGX_OK;
    }

    if (ngx_strncmp(param->data, "password_file=", 14) == 0) {
        v.data = param->data + 14;
        v.len = param->len - 14;

        return ngx_http_wachat_read_secret(cf, &v, &rcf->password);
    }

    if (ngx_strncmp(param->data, "sentinel=", 9) == 0) {
        v.data = param->data + 9;
        v.len = param->len - 9;

        return ngx_http_wachat_parse_sentinels(cf, &v, rcf);
    }

    if (ngx_strncmp(param->data, "master=", 7) == 0 && param->len > 7) {
        rcf->master.data = param->data + 7;
        rcf->master.len = param->len - 7;

        /* the log lines name the primary by its sentinel name */
        rcf->name = *param;
        return NGX_OK;
    }

    if (ngx_strncmp(param->data, "sentinel_password_file=", 23) == 0) {
        v.data = param->data + 23;
        v.len = param->len - 23;

        return ngx_http_wachat_read_secret(cf, &v, &rcf->sentinel_password);
    }

    return NGX_DECLINED;
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


char *
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


ngx_int_t
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
