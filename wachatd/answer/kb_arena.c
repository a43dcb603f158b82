/*
 * kb arena: everything a KB owns comes from a few large chunks and goes
 * away in one wachat_kb_free().
 */

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "answer/kb_int.h"


#define WACHAT_KB_CHUNK  65536


struct wachat_kb_chunk_s {
    wachat_kb_chunk_t  *next;
    size_t              size;
    size_t              used;
    max_align_t         data[];
};


void *
wachat_kb_alloc(wachat_kb_arena_t *a, size_t size)
{
    size_t              room;
    wachat_kb_chunk_t  *c;

    size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    c = a->head;

    if (c != NULL && c->size - c->used >= size) {
        c->used += size;
        return (char *) c->data + c->used - size;
    }

    room = size > WACHAT_KB_CHUNK / 4 ? size : WACHAT_KB_CHUNK;

    c = malloc(sizeof(wachat_kb_chunk_t) + room);
    if (c == NULL) {
        return NULL;
    }

    c->size = room;
    c->used = size;

    if (room == size && a->head != NULL) {
        /* a big one: keep the current chunk's free room in use */
        c->next = a->head->next;
        a->head->next = c;

    } else {
        c->next = a->head;
        a->head = c;
    }

    return c->data;
}


char *
wachat_kb_strndup(wachat_kb_arena_t *a, const char *s, size_t len)
{
    char  *p;

    p = wachat_kb_alloc(a, len + 1);
    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }

    return p;
}


void
wachat_kb_arena_free(wachat_kb_arena_t *a)
{
    wachat_kb_chunk_t  *c, *next;

    for (c = a->head; c != NULL; c = next) {
        next = c->next;
        free(c);
    }

    a->head = NULL;
}
