/*
 * guard: the model's answer, checked before a customer sees it (issue 11,
 * finding 4).
 *
 * A model follows instructions in the customer's text as readily as the
 * business's, so what it writes is text from an untrusted source.  Two
 * things never go out:
 *
 * - a host no KB entry names: every URL host (scheme://host) and every bare
 *   domain (evil.example, www.x.io/path, an e-mail's domain, a dotted IPv4)
 *   must be one the knowledge base, the config's own texts or
 *   llm_allowed_domains name.  The same scanner reads the KB and the
 *   answer, so whatever looks like a host in the KB is allowed as written
 *   there ("www." aside).  An entry "*.example.com" of llm_allowed_domains
 *   also allows its subdomains.
 * - an echo of the instructions (the system prompt): a run of
 *   WACHAT_GUARD_RUN words (CJK: characters) as they stand there, or
 *   WACHAT_GUARD_SHARE of its word 4-grams.  Only the instructions are
 *   compared: the KB passages are in the prompt too, and quoting them is
 *   what a good answer does.
 *
 * What passes is cut to WhatsApp's limit with wachat_guard_cap().  Pure
 * functions over plain strings: no Redis, no network, no log.
 */

#ifndef WACHAT_GUARD_H
#define WACHAT_GUARD_H

#include <stddef.h>

#include "answer/kb.h"


#define WACHAT_GUARD_RUN       12      /* words of the instructions in a row */
#define WACHAT_GUARD_RUN_MIN   6       /* shorter instructions: not checked */
#define WACHAT_GUARD_SHARE     0.4     /* of their distinct 4-grams */
#define WACHAT_GUARD_HOST_MAX  255     /* bytes of a host looked at */


typedef enum {
    WACHAT_GUARD_PASS = 0,
    WACHAT_GUARD_ECHO,              /* repeats the instructions */
    WACHAT_GUARD_LINK,              /* names a host no KB entry names */
    WACHAT_GUARD_NREASONS
} wachat_guard_e;


typedef struct {
    const wachat_kb_t   *kb;            /* its entries' hosts are allowed */
    const char          *instructions;  /* the system prompt, or NULL */
    const char *const   *texts;         /* the config's texts: their */
    size_t               ntexts;        /* hosts are allowed too */
    const char *const   *domains;       /* llm_allowed_domains */
    size_t               ndomains;
    int                  links;         /* 0: hosts are not checked */
} wachat_guard_conf_t;


typedef struct wachat_guard_s  wachat_guard_t;


/* the allowed hosts and the instructions' words, copied; NULL: no memory */
wachat_guard_t *wachat_guard_new(const wachat_guard_conf_t *conf);
void wachat_guard_free(wachat_guard_t *g);

/*
 * PASS, or why text must not be sent; why gets the host or the overlap,
 * for the log.  Out of memory refuses too (as an echo: nothing is known).
 */
wachat_guard_e wachat_guard_check(const wachat_guard_t *g, const char *text,
    char *why, size_t whylen);

/* "prompt_echo", "foreign_link" (the metrics' labels); "pass" */
const char *wachat_guard_name(wachat_guard_e reason);

/*
 * A copy of text of at most max code points, valid UTF-8 (it stops before
 * the first byte that is not).  A longer text ends at its last sentence end
 * in the second half of the room, else at its last space with "…", else
 * at a character with "…".  NULL when out of memory.
 */
char *wachat_guard_cap(const char *text, size_t max);


/* the parts, for the unit test */

/*
 * Calls cb with every host in text, lowercased, a trailing dot and a
 * leading "www." dropped; a nonzero return stops the scan and is returned.
 */
typedef int (*wachat_guard_host_pt)(void *ctx, const char *host,
    size_t len);

int wachat_guard_hosts(const char *text, size_t len, wachat_guard_host_pt cb,
    void *ctx);

/* 1 when the host is allowed */
int wachat_guard_allowed(const wachat_guard_t *g, const char *host,
    size_t len);

/*
 * How much of the instructions text repeats: the longest run of their words
 * in a row, and the share of their distinct word 4-grams.  -1: no memory.
 */
int wachat_guard_overlap(const wachat_guard_t *g, const char *text,
    size_t *run, double *share);


#endif /* WACHAT_GUARD_H */
