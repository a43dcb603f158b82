/*
 * The guard's private parts, shared by guard.c (the guard: built from the
 * KB and the config, and the check), guard_hosts.c (hosts and links in a
 * text), guard_echo.c (an echo of the system prompt) and guard_cap.c
 * (WhatsApp's length).  Not for the rest of the daemon.
 */

#ifndef WACHAT_GUARD_INT_H
#define WACHAT_GUARD_INT_H

#include <stddef.h>
#include <stdint.h>

#include "answer/guard.h"



typedef struct {
    uint64_t  *v;
    size_t     n;
    size_t     cap;
} wachat_guard_vec_t;


typedef struct {
    char    **v;
    size_t    n;
    size_t    cap;
} wachat_guard_set_t;


struct wachat_guard_s {
    int                  links;
    wachat_guard_set_t   hosts;     /* sorted, exact */
    wachat_guard_set_t   suffixes;  /* "*.x" of llm_allowed_domains: x */
    wachat_guard_vec_t   words;     /* the instructions' words, in order */
    wachat_guard_vec_t   grams;     /* their distinct 4-grams, sorted */
};


/* guard.c: small containers */
int wachat_guard_vec_push(wachat_guard_vec_t *w, uint64_t x);
int wachat_guard_cmp_u64(const void *a, const void *b);
int wachat_guard_cmp_str(const void *a, const void *b);

/* guard_hosts.c: a host folded and handed to cb, as the scanner does */
void wachat_guard_lower(char *s, size_t len);
int wachat_guard_emit(const char *h, size_t len, wachat_guard_host_pt cb,
    void *ctx);

/* guard_echo.c: a text's words and 4-grams; the system prompt echoed */
int wachat_guard_words(const char *s, wachat_guard_vec_t *w);
int wachat_guard_grams(const wachat_guard_vec_t *w, wachat_guard_vec_t *g);
int wachat_guard_echo(const wachat_guard_t *g, const char *text, char *why,
    size_t whylen);


#endif /* WACHAT_GUARD_INT_H */
