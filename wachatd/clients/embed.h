/*
 * wachat embed: client of an OpenAI-compatible embeddings endpoint
 * (OpenAI, llama.cpp server, Ollama, vLLM): POST {embed_url}/embeddings
 * with {"model": ..., "input": [texts]}, answered by
 * {"data": [{"index": i, "embedding": [numbers]}, ...]}.
 *
 * Anything but one vector per text, all of one dimension, of finite
 * numbers (an HTTP status not 200, a body that is not that JSON, a
 * missing index, a timeout) is a failure with a reason: the caller then
 * ranks by words alone.  Plain strings in, no knowledge of the KB.
 */

#ifndef WACHAT_EMBED_H
#define WACHAT_EMBED_H

#include <stddef.h>

#include "clients/http.h"


/* texts in one request: servers cap their batch (llama.cpp's ubatch) */
#define WACHAT_EMBED_BATCH     16

/* the largest dimension taken (OpenAI's largest model has 3072) */
#define WACHAT_EMBED_MAX_DIM   8192

/* bytes of one text sent: a KB entry is cut there (on a UTF-8 boundary) */
#define WACHAT_EMBED_MAX_TEXT  2048


typedef struct {
    const char  *url;           /* base, e.g. http://127.0.0.1:8081/v1 */
    const char  *model;
    const char  *key;           /* NULL or "": no Authorization header */
    long         timeout_ms;    /* 0: 10 s */
} wachat_embed_conf_t;


/*
 * In a done callback everything lives only during the call.  vec holds n
 * vectors of dim floats, in the order of the texts, each scaled to length
 * 1 (cosine similarity is then a dot product).
 */
typedef struct {
    int          ok;
    size_t       n;
    size_t       dim;
    const float *vec;
    const char  *error;         /* why not; NULL if ok */
    long         http_status;   /* 0: no HTTP answer */
    long         total_ms;
} wachat_embed_result_t;


typedef void (*wachat_embed_done_pt)(void *data,
    const wachat_embed_result_t *res);


typedef struct wachat_embed_s  wachat_embed_t;


/* the request body for n texts (malloc'ed); -1 out of memory or bad UTF-8 */
int wachat_embed_build(const char *model, const char *const *texts,
    size_t n, char **json, size_t *len);

/*
 * The n vectors of an answer, normalised, in *vec (malloc'ed, n x *dim);
 * 0, or -1 with a reason in why.  want_dim 0: any dimension.
 */
int wachat_embed_parse(long http_status, const char *body, size_t len,
    size_t n, size_t want_dim, float **vec, size_t *dim, char *why,
    size_t whylen);


/* conf is copied; NULL and *why on a missing URL or model, a bad key */
wachat_embed_t *wachat_embed_new(wachat_http_t *http,
    const wachat_embed_conf_t *conf, const char **why);

/* calls in flight do not refer to embed: it may go on reload */
void wachat_embed_free(wachat_embed_t *embed);

const char *wachat_embed_model(const wachat_embed_t *embed);

/*
 * Embeds n texts (1..WACHAT_EMBED_BATCH) within timeout_ms (0: the
 * conf's).  0: done comes exactly once (see http.h for cancellation);
 * -1: bad input or out of memory, done does not come.
 */
int wachat_embed_request(wachat_embed_t *embed, const char *const *texts,
    size_t n, long timeout_ms, wachat_embed_done_pt done, void *data);

/* the conf's timeout_ms (the question's) */
long wachat_embed_timeout(const wachat_embed_t *embed);


#endif /* WACHAT_EMBED_H */
