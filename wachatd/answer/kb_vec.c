/*
 * kb_vec: entry vectors (kb_vec.h); their fusion with the word ranking is
 * kb_fuse.c's.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "answer/kb_vec.h"
#include "clients/embed.h"


/*
 * Appends a separator (when buf has text) and s, as far as they fit,
 * never half a character, and no separator without text after it.
 */
static size_t
wachat_kb_vec_add(char *buf, size_t size, size_t n, const char *s,
    const char *sep)
{
    size_t  len, slen;

    slen = (n && sep) ? strlen(sep) : 0;

    if (n + slen + 1 >= size) {
        return n;
    }

    len = strlen(s);

    if (len > size - n - slen - 1) {
        len = size - n - slen - 1;

        /* back to the start of a UTF-8 character */
        while (len && ((unsigned char) s[len] & 0xc0) == 0x80) {
            len--;
        }
    }

    if (len == 0) {
        return n;
    }

    if (slen) {
        memcpy(buf + n, sep, slen);
    }

    memcpy(buf + n + slen, s, len);
    n += slen + len;
    buf[n] = '\0';

    return n;
}


size_t
wachat_kb_vec_text(const wachat_kb_entry_t *e, char *buf, size_t size)
{
    size_t  i, n;

    if (size == 0) {
        return 0;
    }

    buf[0] = '\0';
    n = wachat_kb_vec_add(buf, size, 0, e->question, NULL);

    for (i = 0; i < e->nalso; i++) {
        n = wachat_kb_vec_add(buf, size, n, e->also[i], i ? " | " : "\n");
    }

    return wachat_kb_vec_add(buf, size, n, e->answer, "\n");
}


void
wachat_kb_vec_key(const char *model, const char *text, char *out)
{
    size_t          i;
    unsigned int    len;
    EVP_MD_CTX     *ctx;
    unsigned char   md[EVP_MAX_MD_SIZE];

    len = 0;
    ctx = EVP_MD_CTX_new();

    if (ctx == NULL
        || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1
        || EVP_DigestUpdate(ctx, model, strlen(model)) != 1
        || EVP_DigestUpdate(ctx, "\n", 1) != 1
        || EVP_DigestUpdate(ctx, text, strlen(text)) != 1
        || EVP_DigestFinal_ex(ctx, md, &len) != 1)
    {
        len = 0;
    }

    EVP_MD_CTX_free(ctx);

    /* out of memory: a key nothing matches, the vector is computed */
    if (len != 32) {
        memset(md, 0, sizeof(md));
        len = 32;
    }

    for (i = 0; i < len; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}


int
wachat_kb_vectors_init(wachat_kb_vectors_t *vs, size_t n)
{
    memset(vs, 0, sizeof(wachat_kb_vectors_t));
    vs->n = n;
    vs->boost = WACHAT_KB_FUSE_BOOST;
    vs->have = calloc(n ? n : 1, 1);

    return vs->have ? 0 : -1;
}


void
wachat_kb_vectors_free(wachat_kb_vectors_t *vs)
{
    free(vs->vec);
    free(vs->have);
    memset(vs, 0, sizeof(wachat_kb_vectors_t));
}


int
wachat_kb_vectors_set(wachat_kb_vectors_t *vs, size_t i, const float *v,
    size_t dim)
{
    double  sum;
    size_t  k;
    float  *row;

    if (i >= vs->n || dim == 0 || dim > WACHAT_EMBED_MAX_DIM
        || (vs->dim && dim != vs->dim))
    {
        return -1;
    }

    sum = 0;

    for (k = 0; k < dim; k++) {
        sum += (double) v[k] * v[k];
    }

    if (!(sum > 0) || !isfinite(sum)) {
        return -1;
    }

    if (vs->vec == NULL) {
        vs->vec = calloc(vs->n * dim, sizeof(float));
        if (vs->vec == NULL) {
            return -1;
        }

        vs->dim = dim;
    }

    sum = sqrt(sum);
    row = vs->vec + i * dim;

    for (k = 0; k < dim; k++) {
        row[k] = (float) (v[k] / sum);
    }

    vs->nhave += !vs->have[i];
    vs->have[i] = 1;

    return 0;
}


int
wachat_kb_vectors_ready(const wachat_kb_vectors_t *vs)
{
    return vs && vs->n && vs->dim && vs->nhave == vs->n;
}
