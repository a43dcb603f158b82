/*
 * wachat_envelope_arena: the memory of one parse, chained malloc blocks
 * freed all at once with the envelope.  yajl allocates from it too, so a
 * typical body costs one malloc.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wachat_envelope_int.h"


#define WACHAT_ENVELOPE_BLOCK_SIZE   4096   /* one block holds a typical body */
#define WACHAT_ENVELOPE_YAJL_HEADER  16


typedef struct wachat_envelope_block_s  wachat_envelope_block_t;

struct wachat_envelope_block_s {
    wachat_envelope_block_t  *next;
};

struct wachat_envelope_arena_s {
    wachat_envelope_block_t  *blocks;   /* all but the one holding the arena */
    char                     *pos;      /* free space of the current block */
    char                     *end;
};


static size_t wachat_pad(const char *p, size_t align);
static void *wachat_yajl_malloc(void *ctx, size_t size);
static void *wachat_yajl_realloc(void *ctx, void *ptr, size_t size);
static void wachat_yajl_free(void *ctx, void *ptr);


wachat_envelope_arena_t *
wachat_envelope_arena_create(void)
{
    wachat_envelope_arena_t  *a;

    /* the first block shares the arena's malloc */
    a = malloc(sizeof(wachat_envelope_arena_t) + WACHAT_ENVELOPE_BLOCK_SIZE);
    if (a == NULL) {
        return NULL;
    }

    a->blocks = NULL;
    a->pos = (char *) (a + 1);
    a->end = a->pos + WACHAT_ENVELOPE_BLOCK_SIZE;

    return a;
}


void
wachat_envelope_arena_destroy(wachat_envelope_arena_t *a)
{
    wachat_envelope_block_t  *b, *next;

    for (b = a->blocks; b != NULL; b = next) {
        next = b->next;
        free(b);
    }

    free(a);
}


void *
wachat_envelope_arena_alloc(wachat_envelope_arena_t *a, size_t size,
    size_t align)
{
    int                       own;
    char                     *p;
    size_t                    pad, avail, bsize;
    wachat_envelope_block_t  *b;

    pad = wachat_pad(a->pos, align);
    avail = (size_t) (a->end - a->pos);

    if (pad <= avail && size <= avail - pad) {
        p = a->pos + pad;
        a->pos = p + size;
        return p;
    }

    if (size > SIZE_MAX - sizeof(wachat_envelope_block_t) - align) {
        return NULL;
    }

    /* a big chunk gets a block of its own; the current block stays */
    own = (size + align > WACHAT_ENVELOPE_BLOCK_SIZE / 4);
    bsize = own ? size + align : WACHAT_ENVELOPE_BLOCK_SIZE;

    b = malloc(sizeof(wachat_envelope_block_t) + bsize);
    if (b == NULL) {
        return NULL;
    }

    b->next = a->blocks;
    a->blocks = b;

    p = (char *) (b + 1);
    p += wachat_pad(p, align);

    if (!own) {
        a->pos = p + size;
        a->end = (char *) (b + 1) + bsize;
    }

    return p;
}


static size_t
wachat_pad(const char *p, size_t align)
{
    return (align - ((uintptr_t) p & (align - 1))) & (align - 1);
}


int
wachat_envelope_copy(wachat_envelope_parser_t *p, wachat_str_t *dst,
    const char *s, size_t len)
{
    char  *d;

    /* yajl's buffers are reused at the next token: keep our own copy */

    if (len == 0) {
        dst->data = "";
        dst->len = 0;
        return 1;
    }

    d = wachat_envelope_arena_alloc(p->arena, len, 1);
    if (d == NULL) {
        return wachat_envelope_fail(p, WACHAT_ENVELOPE_NOMEM);
    }

    memcpy(d, s, len);
    dst->data = d;
    dst->len = len;

    return 1;
}


/*
 * yajl's own allocations (handle, lexer, byte stack, decode buffer): each
 * chunk remembers its size for realloc; free is a no-op, the arena goes
 * with the envelope.
 */

void
wachat_envelope_arena_yajl(wachat_envelope_arena_t *a, yajl_alloc_funcs *funcs)
{
    funcs->malloc = wachat_yajl_malloc;
    funcs->realloc = wachat_yajl_realloc;
    funcs->free = wachat_yajl_free;
    funcs->ctx = a;
}


static void *
wachat_yajl_malloc(void *ctx, size_t size)
{
    char  *p;

    if (size > SIZE_MAX - WACHAT_ENVELOPE_YAJL_HEADER) {
        return NULL;
    }

    p = wachat_envelope_arena_alloc(ctx, WACHAT_ENVELOPE_YAJL_HEADER + size,
                                    WACHAT_ENVELOPE_YAJL_HEADER);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, &size, sizeof(size_t));

    return p + WACHAT_ENVELOPE_YAJL_HEADER;
}


static void *
wachat_yajl_realloc(void *ctx, void *ptr, size_t size)
{
    char    *p;
    size_t   old;

    if (ptr == NULL) {
        return wachat_yajl_malloc(ctx, size);
    }

    memcpy(&old, (char *) ptr - WACHAT_ENVELOPE_YAJL_HEADER, sizeof(size_t));

    if (size <= old) {
        return ptr;
    }

    p = wachat_yajl_malloc(ctx, size);
    if (p != NULL) {
        memcpy(p, ptr, old);
    }

    return p;
}


static void
wachat_yajl_free(void *ctx, void *ptr)
{
    (void) ctx;
    (void) ptr;
}
