
/*
 * What proves a request comes from Meta: the verify token of the
 * subscription handshake and the HMAC-SHA256 signature of every POST.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ngx_http_wachat_module.h"


#define NGX_HTTP_WACHAT_CHALLENGE_MAX  128


static ngx_int_t ngx_http_wachat_equal(u_char *a, size_t alen, u_char *b,
    size_t blen);


ngx_http_wachat_result_e
ngx_http_wachat_verify_challenge(ngx_http_request_t *r, ngx_str_t *token,
    ngx_str_t *challenge)
{
    u_char      *p, *dst, *src;
    ngx_str_t    mode, given;
    ngx_uint_t   i;

    if (ngx_http_arg(r, (u_char *) "hub.mode", 8, &mode) != NGX_OK
        || ngx_http_arg(r, (u_char *) "hub.verify_token", 16, &given)
           != NGX_OK
        || ngx_http_arg(r, (u_char *) "hub.challenge", 13, challenge)
           != NGX_OK
        || mode.len != 9 || ngx_strncmp(mode.data, "subscribe", 9) != 0)
    {
        return NGX_HTTP_WACHAT_BAD_REQUEST;
    }

    /*
     * The challenge is echoed back: only short runs of URL-safe characters,
     * so the answer can carry no markup and no header.
     */

    if (challenge->len == 0 || challenge->len > NGX_HTTP_WACHAT_CHALLENGE_MAX) {
        return NGX_HTTP_WACHAT_BAD_CHALLENGE;
    }

    for (p = challenge->data; p < challenge->data + challenge->len; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9')
              || *p == '.' || *p == '_' || *p == '~' || *p == '-'))
        {
            return NGX_HTTP_WACHAT_BAD_CHALLENGE;
        }
    }

    /* the token is form-encoded in the query string */

    dst = ngx_pnalloc(r->pool, given.len);
    if (dst == NULL) {
        return NGX_HTTP_WACHAT_INTERNAL_ERROR;
    }

    for (i = 0; i < given.len; i++) {
        dst[i] = (given.data[i] == '+') ? ' ' : given.data[i];
    }

    /* unescaping only shrinks, so it can work in place */
    src = dst;
    p = dst;
    ngx_unescape_uri(&p, &src, given.len, 0);

    if (!ngx_http_wachat_equal(dst, p - dst, token->data, token->len)) {
        return NGX_HTTP_WACHAT_BAD_VERIFY_TOKEN;
    }

    return NGX_HTTP_WACHAT_VERIFIED;
}


/*
 * A keyed HMAC-SHA256 context made once per location at configuration
 * time: the one-shot HMAC() of OpenSSL 3 fetches the algorithm and sets the
 * key on every call, which costs more than hashing a webhook.
 */

static void
ngx_http_wachat_hmac_cleanup(void *data)
{
    EVP_MAC_CTX_free(data);
}


EVP_MAC_CTX *
ngx_http_wachat_verify_hmac(ngx_conf_t *cf, ngx_str_t *secret)
{
    EVP_MAC             *mac;
    OSSL_PARAM           params[2];
    EVP_MAC_CTX         *ctx;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        return NULL;
    }

    ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);

    if (ctx == NULL) {
        return NULL;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (!EVP_MAC_init(ctx, secret->data, secret->len, params)) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }

    cln->handler = ngx_http_wachat_hmac_cleanup;
    cln->data = ctx;

    return ctx;
}


ngx_http_wachat_result_e
ngx_http_wachat_verify_signature(ngx_str_t *header, EVP_MAC_CTX *hmac,
    u_char *body, size_t len)
{
    u_char        *hex, c, hi, lo;
    size_t         mdlen;
    ngx_uint_t     i;
    u_char         given[SHA256_DIGEST_LENGTH];
    u_char         md[EVP_MAX_MD_SIZE];

    if (header->len != sizeof("sha256=") - 1 + 2 * SHA256_DIGEST_LENGTH
        || ngx_strncmp(header->data, "sha256=", 7) != 0)
    {
        return NGX_HTTP_WACHAT_BAD_SIGNATURE;
    }

    hex = header->data + 7;

    for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        c = ngx_tolower(hex[2 * i]);
        hi = (c >= '0' && c <= '9') ? c - '0'
             : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : 0xff;

        c = ngx_tolower(hex[2 * i + 1]);
        lo = (c >= '0' && c <= '9') ? c - '0'
             : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : 0xff;

        if (hi == 0xff || lo == 0xff) {
            return NGX_HTTP_WACHAT_BAD_SIGNATURE;
        }

        given[i] = (u_char) (hi << 4 | lo);
    }

    /* a NULL key restarts the context with the key it was made with */
    if (!EVP_MAC_init(hmac, NULL, 0, NULL)
        || !EVP_MAC_update(hmac, body, len)
        || !EVP_MAC_final(hmac, md, &mdlen, sizeof(md))
        || mdlen != SHA256_DIGEST_LENGTH)
    {
        return NGX_HTTP_WACHAT_INTERNAL_ERROR;
    }

    if (CRYPTO_memcmp(md, given, SHA256_DIGEST_LENGTH) != 0) {
        return NGX_HTTP_WACHAT_BAD_SIGNATURE;
    }

    return NGX_HTTP_WACHAT_ACCEPTED;
}


/*
 * Constant time whatever the lengths: compare digests, not the strings,
 * so that neither a prefix nor the token's length shows in the timing.
 */

static ngx_int_t
ngx_http_wachat_equal(u_char *a, size_t alen, u_char *b, size_t blen)
{
    u_char  da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];

    SHA256(a, alen, da);
    SHA256(b, blen, db);

    return CRYPTO_memcmp(da, db, SHA256_DIGEST_LENGTH) == 0;
}
