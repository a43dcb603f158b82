/*
 * embed_sync: synchronous calls to the embeddings endpoint, for the tools
 * (embed_sync.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "clients/embed.h"
#include "clients/http.h"
#include "clients/embed_sync.h"
#include "lib/buf.h"


static size_t
wachat_embed_sync_write(char *p, size_t size, size_t n, void *data)
{
    wachat_buf_add(data, p, size * n);

    return size * n;
}


int
wachat_embed_sync(wachat_embed_sync_t *e, const char *const *texts, size_t n,
    float **vec, size_t *dim, char *why, size_t whylen)
{
    int                 rc;
    char               *body;
    long                status;
    size_t              blen;
    CURL               *c;
    CURLcode            cc;
    const char         *bad;
    wachat_buf_t        resp = WACHAT_BUF_INIT;
    struct timespec     t0, t1;
    struct curl_slist  *h;
    wachat_http_api_t   api;

    /* the daemon's checks and copies: a stray newline in a key is refused */
    bad = wachat_http_api_check("embed", "embeddings", e->url, e->model,
                                e->key);
    if (bad != NULL) {
        snprintf(why, whylen, "%s", bad);
        return -1;
    }

    if (wachat_embed_build(e->model, texts, n, &body, &blen) != 0) {
        snprintf(why, whylen, "cannot build the request (bad UTF-8?)");
        return -1;
    }

    c = curl_easy_init();

    if (c == NULL || wachat_http_api_init(&api, e->url, "/embeddings",
                                          e->model, e->key) != 0)
    {
        snprintf(why, whylen, "out of memory");
        free(body);
        curl_easy_cleanup(c);
        return -1;
    }

    h = curl_slist_append(NULL, "Content-Type: application/json");

    if (api.auth) {
        h = curl_slist_append(h, api.auth);
    }

    curl_easy_setopt(c, CURLOPT_URL, api.endpoint);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) blen);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     e->timeout_ms > 0 ? e->timeout_ms : 120000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wachat_embed_sync_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    cc = curl_easy_perform(c);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    e->ms += (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    e->calls++;

    status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);

    if (cc != CURLE_OK) {
        snprintf(why, whylen, "%s: %s", api.endpoint, curl_easy_strerror(cc));
        rc = -1;

    } else {
        rc = wachat_embed_parse(status, resp.p ? resp.p : "",
                                resp.len, n, 0, vec, dim, why, whylen);
    }

    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    wachat_buf_free(&resp);
    wachat_http_api_free(&api);
    free(body);

    return rc;
}


int
wachat_embed_sync_kb(wachat_embed_sync_t *e, const wachat_kb_t *kb,
    wachat_kb_vectors_t *vs, char *why, size_t whylen)
{
    int          rc;
    char        *texts[WACHAT_EMBED_BATCH];
    float       *vec;
    size_t       i, k, n, idx[WACHAT_EMBED_BATCH], dim;

    for (i = 0; i < vs->n; ) {

        /* the next batch of entries the vectors lack */
        for (n = 0; i < vs->n && n < WACHAT_EMBED_BATCH; i++) {
            if (!vs->have[i]) {
                idx[n++] = i;
            }
        }

        if (n == 0) {
            break;
        }

        rc = 0;

        for (k = 0; k < n; k++) {
            texts[k] = malloc(WACHAT_EMBED_MAX_TEXT);

            if (texts[k] == NULL) {
                rc = -1;

            } else {
                wachat_kb_vec_text(wachat_kb_entry(kb, idx[k]), texts[k],
                                   WACHAT_EMBED_MAX_TEXT);
            }
        }

        vec = NULL;

        if (rc != 0) {
            snprintf(why, whylen, "out of memory");

        } else {
            rc = wachat_embed_sync(e, (const char *const *) texts, n, &vec,
                                   &dim, why, whylen);
        }

        for (k = 0; rc == 0 && k < n; k++) {
            if (wachat_kb_vectors_set(vs, idx[k], vec + k * dim, dim) != 0) {
                snprintf(why, whylen, "a vector of another dimension or "
                         "of zeros");
                rc = -1;
            }
        }

        for (k = 0; k < n; k++) {
            free(texts[k]);
        }

        free(vec);

        if (rc != 0) {
            return -1;
        }
    }

    return 0;
}
