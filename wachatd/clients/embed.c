/*
 * wachat embed: OpenAI-compatible embeddings client (see embed.h).
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "clients/embed.h"
#include "lib/json.h"


#define WACHAT_EMBED_TIMEOUT   10000

/* a batch of 16 vectors of 8192 numbers, written out: well below */
#define WACHAT_EMBED_MAX_BODY  (16 * 1024 * 1024)


struct wachat_embed_s {
    wachat_http_t      *http;
    wachat_http_api_t   api;        /* {url}/embeddings */
    long                timeout_ms;
};


typedef struct {
    wachat_embed_done_pt   done;
    void                  *data;
    size_t                 n;
} wachat_embed_call_t;


/* an answer being read: what it must hold, what it has given, why not */
typedef struct {
    size_t   n;
    size_t   want_dim;          /* 0: any */
    size_t   dim;               /* 0 until the first vector */
    float   *vec;               /* n x dim */
    char    *seen;              /* n: 1 when the text's vector came */
    char    *why;
    size_t   whylen;
} wachat_embed_parse_t;


int
wachat_embed_build(const char *model, const char *const *texts, size_t n,
    char **json, size_t *len)
{
    int       failed;
    size_t    i;
    yajl_gen  g;

    g = wachat_json_gen_strict();
    if (g == NULL) {
        return -1;
    }

    failed = yajl_gen_map_open(g) != yajl_gen_status_ok;
    failed |= wachat_json_put_kv(g, "model", model);
    failed |= wachat_json_put_str(g, "input");
    failed |= yajl_gen_array_open(g) != yajl_gen_status_ok;

    for (i = 0; i < n && !failed; i++) {
        failed |= wachat_json_put_str(g, texts[i]);
    }

    failed |= yajl_gen_array_close(g) != yajl_gen_status_ok;
    failed |= wachat_json_put_str(g, "encoding_format");
    failed |= wachat_json_put_str(g, "float");
    failed |= yajl_gen_map_close(g) != yajl_gen_status_ok;

    return wachat_json_gen_finish(g, failed, json, len);
}


static double
wachat_embed_number(yajl_val v, int *bad)
{
    if (YAJL_IS_DOUBLE(v)) {
        return YAJL_GET_DOUBLE(v);
    }

    if (YAJL_IS_INTEGER(v)) {
        return (double) YAJL_GET_INTEGER(v);
    }

    *bad = 1;

    return 0;
}


/*
 * One item of data[]: its numbers into out (dim of them), normalised in
 * double (a number beyond a float's range is fine until it is scaled).
 */
static int
wachat_embed_vector(yajl_val emb, float *out, size_t dim, char *why,
    size_t whylen)
{
    int     bad;
    double  x, sum;
    size_t  k;

    bad = 0;
    sum = 0;

    for (k = 0; k < dim; k++) {
        x = wachat_embed_number(emb->u.array.values[k], &bad);

        if (bad || !isfinite(x)) {
            snprintf(why, whylen, "embeddings: not a number in a vector");
            return -1;
        }

        sum += x * x;
    }

    if (!(sum > 0) || !isfinite(sum)) {
        snprintf(why, whylen, "embeddings: a vector of zeros or out of "
                 "range");
        return -1;
    }

    sum = sqrt(sum);

    for (k = 0; k < dim; k++) {
        out[k] = (float) (wachat_embed_number(emb->u.array.values[k], &bad)
                          / sum);
    }

    return 0;
}


/* data[]: one item per text; NULL, and why, when the answer has not */
static yajl_val
wachat_embed_data(yajl_val root, size_t n, char *why, size_t whylen)
{
    yajl_val  data;

    static const char  *data_p[] = { "data", NULL };

    data = root ? yajl_tree_get(root, data_p, yajl_t_array) : NULL;

    if (data == NULL || data->u.array.len != n || n == 0) {
        snprintf(why, whylen, "embeddings: %s", root == NULL
                 ? "the answer is not JSON"
                 : data == NULL ? "no data array in the answer"
                 : "not one vector per text");
        return NULL;
    }

    return data;
}


/*
 * The first vector's length is the dimension (want_dim, if given): room
 * for n vectors of it.  Every other vector must have it too.
 */
static int
wachat_embed_dim(wachat_embed_parse_t *p, size_t len)
{
    if (p->dim != 0) {
        if (len != p->dim) {
            snprintf(p->why, p->whylen, "embeddings: vectors of different "
                     "dimensions");
            return -1;
        }

        return 0;
    }

    p->dim = len;

    if (p->want_dim && p->dim != p->want_dim) {
        snprintf(p->why, p->whylen, "embeddings: vectors of %zu numbers, "
                 "%zu expected (another model?)", p->dim, p->want_dim);
        return -1;
    }

    p->vec = malloc(p->n * p->dim * sizeof(float));
    if (p->vec == NULL) {
        snprintf(p->why, p->whylen, "embeddings: out of memory");
        return -1;
    }

    return 0;
}


/* whose vector data[i] is, into *idx: each text's comes once */
static int
wachat_embed_index(wachat_embed_parse_t *p, yajl_val item, size_t i,
    size_t *idx)
{
    yajl_val  ix;

    static const char  *index_p[] = { "index", NULL };

    /* OpenAI says the order may differ: index says whose it is */
    ix = yajl_tree_get(item, index_p, yajl_t_number);
    *idx = i;

    if (ix) {
        if (!YAJL_IS_INTEGER(ix) || YAJL_GET_INTEGER(ix) < 0
            || (size_t) YAJL_GET_INTEGER(ix) >= p->n)
        {
            snprintf(p->why, p->whylen, "embeddings: an index out of range");
            return -1;
        }

        *idx = (size_t) YAJL_GET_INTEGER(ix);
    }

    if (p->seen[*idx]) {
        snprintf(p->why, p->whylen, "embeddings: index %zu twice", *idx);
        return -1;
    }

    p->seen[*idx] = 1;

    return 0;
}


/* data[i]: its vector, normalised, in its text's place */
static int
wachat_embed_item(wachat_embed_parse_t *p, yajl_val item, size_t i)
{
    size_t    idx;
    yajl_val  emb;

    static const char  *emb_p[] = { "embedding", NULL };

    emb = yajl_tree_get(item, emb_p, yajl_t_array);

    if (emb == NULL || emb->u.array.len == 0
        || emb->u.array.len > WACHAT_EMBED_MAX_DIM)
    {
        snprintf(p->why, p->whylen, "embeddings: an item without a usable "
                 "embedding array");
        return -1;
    }

    if (wachat_embed_dim(p, emb->u.array.len) != 0
        || wachat_embed_index(p, item, i, &idx) != 0)
    {
        return -1;
    }

    return wachat_embed_vector(emb, p->vec + idx * p->dim, p->dim, p->why,
                               p->whylen);
}


int
wachat_embed_parse(long http_status, const char *body, size_t len, size_t n,
    size_t want_dim, float **vec, size_t *dim, char *why, size_t whylen)
{
    size_t                i;
    yajl_val              root, data;
    wachat_embed_parse_t  p;

    *vec = NULL;
    *dim = 0;

    if (http_status != 200) {
        snprintf(why, whylen, "embeddings: HTTP %ld", http_status);
        return -1;
    }

    root = wachat_json_parse(body, len);

    data = wachat_embed_data(root, n, why, whylen);
    if (data == NULL) {
        yajl_tree_free(root);
        return -1;
    }

    p.n = n;
    p.want_dim = want_dim;
    p.dim = 0;
    p.vec = NULL;
    p.why = why;
    p.whylen = whylen;

    p.seen = calloc(n, 1);
    if (p.seen == NULL) {
        snprintf(why, whylen, "embeddings: out of memory");
        goto failed;
    }

    for (i = 0; i < n; i++) {
        if (wachat_embed_item(&p, data->u.array.values[i], i) != 0) {
            goto failed;
        }
    }

    free(p.seen);
    yajl_tree_free(root);
    *vec = p.vec;
    *dim = p.dim;

    return 0;

failed:

    free(p.seen);
    free(p.vec);
    yajl_tree_free(root);

    return -1;
}


wachat_embed_t *
wachat_embed_new(wachat_http_t *http, const wachat_embed_conf_t *conf,
    const char **why)
{
    wachat_embed_t  *e;

    if (http == NULL || conf == NULL) {
        *why = "no http client or config";
        return NULL;
    }

    *why = wachat_http_api_check("embed", "embeddings", conf->url, conf->model,
                                 conf->key);
    if (*why != NULL) {
        return NULL;
    }

    e = calloc(1, sizeof(wachat_embed_t));
    if (e == NULL) {
        *why = "out of memory";
        return NULL;
    }

    e->http = http;
    e->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms
                                         : WACHAT_EMBED_TIMEOUT;

    if (wachat_http_api_init(&e->api, conf->url, "/embeddings", conf->model,
                             conf->key) != 0)
    {
        free(e);
        *why = "out of memory";
        return NULL;
    }

    return e;
}


void
wachat_embed_free(wachat_embed_t *e)
{
    if (e == NULL) {
        return;
    }

    wachat_http_api_free(&e->api);
    free(e);
}


const char *
wachat_embed_model(const wachat_embed_t *e)
{
    return e ? e->api.model : "";
}


long
wachat_embed_timeout(const wachat_embed_t *e)
{
    return e ? e->timeout_ms : 0;
}


static void
wachat_embed_on_done(void *data, const wachat_http_resp_t *resp)
{
    char                    why[256];
    float                  *vec;
    size_t                  dim;
    wachat_embed_call_t    *c = data;
    wachat_embed_result_t   res;

    memset(&res, 0, sizeof(wachat_embed_result_t));
    res.http_status = resp->status;
    res.total_ms = resp->total_ms;
    vec = NULL;

    if (resp->error != WACHAT_HTTP_DONE) {
        snprintf(why, sizeof(why), "embeddings: %s", resp->error_text);
        res.error = why;

    } else if (wachat_embed_parse(resp->status, resp->body, resp->body_len,
                                  c->n, 0, &vec, &dim, why, sizeof(why))
               != 0)
    {
        res.error = why;

    } else {
        res.ok = 1;
        res.n = c->n;
        res.dim = dim;
        res.vec = vec;
    }

    c->done(c->data, &res);

    free(vec);
    free(c);
}


int
wachat_embed_request(wachat_embed_t *e, const char *const *texts, size_t n,
    long timeout_ms, wachat_embed_done_pt done, void *data)
{
    int                   rc;
    char                 *body;
    size_t                blen;
    const char           *headers[3];
    wachat_http_req_t     req;
    wachat_embed_call_t  *c;

    if (e == NULL || texts == NULL || n == 0 || n > WACHAT_EMBED_BATCH
        || done == NULL)
    {
        return -1;
    }

    if (wachat_embed_build(e->api.model, texts, n, &body, &blen) != 0) {
        return -1;
    }

    c = malloc(sizeof(wachat_embed_call_t));
    if (c == NULL) {
        free(body);
        return -1;
    }

    c->done = done;
    c->data = data;
    c->n = n;

    headers[0] = "Content-Type: application/json";
    headers[1] = e->api.auth;
    headers[2] = NULL;

    memset(&req, 0, sizeof(wachat_http_req_t));
    req.method = "POST";
    req.url = e->api.endpoint;
    req.headers = headers;
    req.body = body;
    req.body_len = blen;
    req.timeout_ms = timeout_ms > 0 ? timeout_ms : e->timeout_ms;
    req.max_body = WACHAT_EMBED_MAX_BODY;

    rc = wachat_http_request(e->http, &req, wachat_embed_on_done, c);
    free(body);

    if (rc != 0) {
        free(c);
    }

    return rc;
}
