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
#include "clients/embed_sync.h"
#include "lib/buf.h"


static size_t
wachat_embed_sync_write(char *p, size_t size, size_t n, void *data)
{
    wachat_buf_add(data, p, size * n);

    return size * n;
}


int
wachat_embed_sync(wachat_embed_sync_t *e, const char *const *texts, size_t n, float **vec,
    size_t *dim, char *why, size_t whylen)
{
    int                 rc;
    char               *body, *url, *auth;
    long                status;
    size_t              blen, len;
    CURL               *c;
    CURLcode            cc;
    wachat_buf_t        resp = WACHAT_BUF_INIT;
    struct timespec     t0, t1;
    struct curl_slist  *h;

    if (wachat_embed_build(e->model, texts, n, &body, &blen) != 0) {
        snprintf(why, whylen, "cannot build the request (bad UTF-8?)");
        return -1;
    }

    len = strlen(e->url);
    url = malloc(len + sizeof("/embeddings"));
    auth = e->key && e->key[0] ? malloc(strlen(e->key) + 32) : NULL;
    c = curl_easy_init();

    if (url == NULL || c == NULL || (e->key && e->key[0] && auth == NULL)) {
        snprintf(why, whylen, "out of memory");
        free(body);
        free(url);
        free(auth);
        curl_easy_cleanup(c);
        return -1;
    }

    while (len && e->url[len - 1] == '/') {
        len--;
    }

    memcpy(url, e->url, len);
    strcpy(url + len, "/embeddings");

    h = curl_slist_append(NULL, "Content-Type: application/json");

    if (auth) {
        sprintf(auth, "Authorization: Bearer %s", e->key);
        h = curl_slist_append(h, auth);
    }

    curl_easy_setopt(c, CURLOPT_URL, url);
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
        snprintf(why, whylen, "%s: %s", url, curl_easy_strerror(cc));
        rc = -1;

    } else {
        rc = wachat_embed_parse(status, resp.p ? resp.p : "",
                                resp.len, n, 0, vec, dim, why, whylen);
    }

    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    wachat_buf_free(&resp);

    if (auth) {
        memset(auth, 0, strlen(auth));
    }

    free(auth);
    free(url);
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
