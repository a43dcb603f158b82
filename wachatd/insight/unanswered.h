/*
 * unanswered: the questions the assistant fell short on, for the business
 * to improve its knowledge base.  Two kinds, read from the histories:
 *
 *   fallback  the assistant had no confident answer;
 *   handoff   the customer asked for a person right after an answer: the
 *             answer did not help.
 *
 * A fallback offers the nearest entries (kb_suggestions); the one the
 * customer then tapped is counted with the question's group: the words
 * customers use for that entry, for the business to add as a phrasing.
 *
 * Questions asked in about the same words are grouped (one group per
 * gist), with their count, when last asked and the conversations.
 */

#ifndef WACHAT_UNANSWERED_H
#define WACHAT_UNANSWERED_H

#include <stddef.h>

#include "clients/redis.h"


#define WACHAT_UNANSWERED_CONVS  5      /* conversations named per group */
#define WACHAT_UNANSWERED_PICKS  3      /* entries tapped, per group */


typedef struct {
    char        *id;            /* the entry tapped after the fallback */
    size_t       count;
} wachat_unanswered_pick_t;


typedef struct {
    char        *text;          /* the latest wording, as asked */
    const char  *why;           /* "fallback" or "handoff" */
    const char  *lang;          /* wachat_lang_detect() of it, or NULL */
    size_t       count;
    long long    last_ms;
    char        *convs[WACHAT_UNANSWERED_CONVS];
    size_t       nconvs;
    char        *source;        /* the answer it got (handoff), or NULL */
    char        *tokens;        /* the gist, for grouping */
    wachat_unanswered_pick_t  picks[WACHAT_UNANSWERED_PICKS];   /* most first */
    size_t                    npicks;
} wachat_unanswered_group_t;


typedef struct {
    wachat_unanswered_group_t  *groups;     /* most asked first */
    size_t                      n;
    size_t                      scanned;    /* conversations read */
    int                         truncated;  /* more than the scan bound */
} wachat_unanswered_t;


/*
 * Reads the conversations active since since_ms (at most max of them,
 * most recent first), keeps the questions in language lang (NULL: all).
 * 0, or -1 when Redis failed (err set).
 */
int wachat_unanswered_scan(wachat_redis_t *st, long long since_ms,
    const char *lang, size_t max, wachat_unanswered_t *out, char *err,
    size_t errlen);

void wachat_unanswered_free(wachat_unanswered_t *u);


#endif /* WACHAT_UNANSWERED_H */
