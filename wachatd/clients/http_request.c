/*
 * http request: what curl is told for a request (or another protocol's
 * transfer), and what its answer becomes: the body within its limit, our
 * error for curl's; apart from the transfer's life (http_xfer.c).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/http_int.h"


#define WACHAT_HTTP_DEFAULT_TIMEOUT  30000
#define WACHAT_HTTP_CONNECT_TIMEOUT  10000


static size_t
wachat_http_on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    wachat_http_xfer_t  *x = userdata;
    size_t               n = size * nmemb;
    size_t               cap;
    char                *p;

    /* Checked here too: a chunked answer carries no Content-Length. */
    if (n > x->max - x->len) {
        x->too_big = 1;
        return 0;
    }

    if (x->sink) {
        if (fwrite(ptr, 1, n, x->sink) != n) {
            return 0;
        }

        x->len += n;
        return n;
    }

    if (x->len + n + 1 > x->cap) {
        cap = x->cap ? x->cap : 4096;
        while (cap < x->len + n + 1) {
            cap *= 2;
        }

        p = realloc(x->buf, cap);
        if (p == NULL) {
            return 0;
        }

        x->buf = p;
        x->cap = cap;
    }

    memcpy(x->buf + x->len, ptr, n);
    x->len += n;
    x->buf[x->len] = '\0';

    return n;
}


void
wachat_http_finish_curl(wachat_http_xfer_t *x, CURLcode rc)
{
    wachat_http_err_e  err;
    const char        *text;
    long               status = 0;

    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);

    if (rc == CURLE_OK) {
        wachat_http_xfer_finish(x, WACHAT_HTTP_DONE, status, NULL);
        return;
    }

    text = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);

    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        err = WACHAT_HTTP_ETIMEOUT;
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        err = WACHAT_HTTP_ECONNECT;
        break;
    case CURLE_FILESIZE_EXCEEDED:
        err = WACHAT_HTTP_ETOOBIG;
        break;
    case CURLE_WRITE_ERROR:
        err = x->too_big ? WACHAT_HTTP_ETOOBIG : WACHAT_HTTP_EFAILED;
        break;
    default:
        err = WACHAT_HTTP_EFAILED;
        break;
    }

    if (err == WACHAT_HTTP_ETOOBIG) {
        snprintf(x->errbuf, sizeof(x->errbuf), "response body larger than "
                 "%zu bytes", x->max);
        text = x->errbuf;
        /* a partial body is no body */
        x->len = 0;

        if (x->buf) {
            x->buf[0] = '\0';
        }
    }

    wachat_http_xfer_finish(x, err, status, text);
}


static int
wachat_http_add_header(wachat_http_xfer_t *x, const char *line)
{
    struct curl_slist  *l;

    /* a CR or LF would let a value smuggle in another header */
    if (strpbrk(line, "\r\n") != NULL) {
        return -1;
    }

    l = curl_slist_append(x->headers, line);
    if (l == NULL) {
        return -1;
    }

    x->headers = l;

    return 0;
}


/*
 * What every transfer gets, whatever its protocol; wachat_http_transfer()
 * sets it after the caller's own options, so these win.
 */
static int
wachat_http_setup_common(wachat_http_xfer_t *x, long timeout_ms)
{
    CURL  *e = x->easy;
    long   timeout = timeout_ms > 0 ? timeout_ms : WACHAT_HTTP_DEFAULT_TIMEOUT;
    long   connect = timeout < WACHAT_HTTP_CONNECT_TIMEOUT
                     ? timeout : WACHAT_HTTP_CONNECT_TIMEOUT;
    int    rc = 0;

    x->timeout_ms = timeout;

    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, wachat_http_on_write);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *) x);
    rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);

    return rc == CURLE_OK ? 0 : -1;
}


static int
wachat_http_setup_easy(wachat_http_xfer_t *x, const wachat_http_req_t *req)
{
    CURL        *e = x->easy;
    const char  *method = req->method ? req->method : "GET";
    size_t       i;
    int          rc = 0;

    if (req->headers) {
        for (i = 0; req->headers[i]; i++) {
            if (wachat_http_add_header(x, req->headers[i]) != 0) {
                return -1;
            }
        }
    }

    /* no "Expect: 100-continue" round trip before a large body */
    if (wachat_http_add_header(x, "Expect:") != 0) {
        return -1;
    }

    if (wachat_http_setup_common(x, req->timeout_ms) != 0) {
        return -1;
    }

    rc |= curl_easy_setopt(e, CURLOPT_URL, x->url);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, "wachat");
    rc |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                           (curl_off_t) x->max);

    if (strcmp(method, "GET") == 0) {
        rc |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(method, "POST") != 0) {
            rc |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        }

        if (req->body || strcmp(method, "POST") == 0) {
            rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                                   (curl_off_t) req->body_len);
            rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS,
                                   x->body ? x->body : "");
        }
    }

    return rc == CURLE_OK ? 0 : -1;
}


int
wachat_http_request(wachat_http_t *h, const wachat_http_req_t *req,
    wachat_http_done_pt done, void *data)
{
    wachat_http_xfer_t  *x;

    if (h == NULL || h->closing || req == NULL || req->url == NULL
        || done == NULL || (req->body == NULL && req->body_len != 0))
    {
        return -1;
    }

    x = wachat_http_xfer_new(h, done, data);
    if (x == NULL) {
        return -1;
    }

    x->url = strdup(req->url);
    if (x->url == NULL) {
        goto failed;
    }

    x->sink = req->sink;
    x->max = req->max_body ? req->max_body : WACHAT_HTTP_MAX_BODY;

    if (req->body) {
        x->body = malloc(req->body_len + 1);
        if (x->body == NULL) {
            goto failed;
        }

        memcpy(x->body, req->body, req->body_len);
        x->body[req->body_len] = '\0';
    }

    x->easy = curl_easy_init();
    if (x->easy == NULL || wachat_http_setup_easy(x, req) != 0) {
        goto failed;
    }

    if (wachat_http_xfer_enqueue(h, x) != 0) {
        goto failed;
    }

    return 0;

failed:
    wachat_http_xfer_free(x);

    return -1;
}


int
wachat_http_transfer(wachat_http_t *h, long timeout_ms,
    wachat_http_setup_pt setup, wachat_http_done_pt done, void *data)
{
    wachat_http_xfer_t  *x;

    if (h == NULL || h->closing || setup == NULL || done == NULL) {
        return -1;
    }

    x = wachat_http_xfer_new(h, done, data);
    if (x == NULL) {
        return -1;
    }

    /* the caller's options first: ours (private pointer, ...) must win */
    x->easy = curl_easy_init();
    if (x->easy == NULL || setup(data, x->easy) != 0
        || wachat_http_setup_common(x, timeout_ms) != 0
        || wachat_http_xfer_enqueue(h, x) != 0)
    {
        wachat_http_xfer_free(x);
        return -1;
    }

    return 0;
}


const char *
wachat_http_err_name(wachat_http_err_e err)
{
    switch (err) {
    case WACHAT_HTTP_DONE:
        return "done";
    case WACHAT_HTTP_ETIMEOUT:
        return "timeout";
    case WACHAT_HTTP_ECONNECT:
        return "connect";
    case WACHAT_HTTP_ETOOBIG:
        return "too big";
    case WACHAT_HTTP_ECANCELLED:
        return "cancelled";
    case WACHAT_HTTP_EFAILED:
        return "failed";
    }

    return "?";
}
