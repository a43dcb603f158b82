
/*
 * ngx_http_wachat_secret: the secret files (wachat_app_secret_file,
 * wachat_api_secret_file, a Redis password_file), read once at
 * configuration time and refused when others may read or write them.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wachat_module.h"


static ngx_int_t ngx_http_wachat_check_secret(ngx_conf_t *cf, ngx_fd_t fd,
    ngx_str_t *name, ngx_file_info_t *fi);


/* wachat_app_secret_file, wachat_api_secret_file */

char *
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

    if (ngx_fd_info(fd, fi) == NGX_FILE_ERROR
        || !ngx_is_file(fi)
        || ngx_file_size(fi) > 4096)
    {
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

ngx_int_t
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

    /* nonblocking: a FIFO given by mistake must not hang nginx -t */
    fd = ngx_open_file(name.data, NGX_FILE_RDONLY|NGX_FILE_NONBLOCK,
                       NGX_FILE_OPEN, 0);
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
