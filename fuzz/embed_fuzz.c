/*
 * libFuzzer target for the embeddings client's parser
 * (wachatd/clients/embed.h): wachat_embed_parse() of an answer.
 *
 * Input: byte 0 picks the number of texts asked for (1..4), byte 1 the
 * dimension wanted (0: any, else 1..8); the rest is the answer body.
 *
 * Besides ASan/UBSan it aborts when a result breaks embed.h: success
 * without n vectors of the wanted dimension, each of length 1, or a
 * failure without a reason or with vectors.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clients/embed.h"
#include "fuzz_common.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char     why[256];
    float   *vec;
    double   sum;
    size_t   n, want, dim, i, k;

    if (size < 2) {
        return 0;
    }

    n = 1 + data[0] % 4;
    want = data[1] % 9;
    why[0] = '\0';

    if (wachat_embed_parse(200, (const char *) data + 2, size - 2, n, want,
                           &vec, &dim, why, sizeof(why)) != 0)
    {
        check(vec == NULL && why[0] != '\0');
        return 0;
    }

    check(vec != NULL && dim > 0 && dim <= WACHAT_EMBED_MAX_DIM
          && (want == 0 || dim == want));

    for (i = 0; i < n; i++) {
        sum = 0;

        for (k = 0; k < dim; k++) {
            sum += (double) vec[i * dim + k] * vec[i * dim + k];
        }

        check(fabs(sum - 1) < 1e-3);
    }

    free(vec);

    return 0;
}
