/*
 * unanswered: see unanswered.h.
 *
 * A history is read in order: the last customer text is the question; an
 * AI reply with source "fallback" marks it unanswered; a hand-over reply
 * (source "handoff") right after an AI answer (kb:<id>, llm) marks the
 * question that answer was for; a customer message that is a tap on an
 * entry the fallback suggested (its payload the id of the kb:<id> reply
 * that follows) is counted as that entry, picked, with the fallback's
 * question; a tap that gets the fallback again is no second asking of
 * it.  Grouping is by the gist of the words:
 * lower-case words of two letters or more without the small ones, and
 * pairs of neighbouring Han characters; two questions whose gists share
 * half their tokens (Jaccard >= 0.5) are one group.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/answer.h"
#include "answer/lang.h"
#include "insight/unanswered.h"
#include "store/store.h"
#include "wachat_utf8.h"


#define WACHAT_GIST_MAX     2048        /* bytes of one gist */
#define WACHAT_HIST_READ    1000        /* entries read per conversation */
#define WACHAT_SAME_GIST    0.5
#define WACHAT_NO_GROUP     ((size_t) -1)


static const char  wachat_gist_stop[] =
    " the a an is are do does did you your i me my we our us it its this "
    "that to of for and or in on at by with be can could would will how "
    "what when where which who why have has had there here please pls "
    "thanks thank hi hello hey ok yes no not any some ";


typedef struct {
    char        *text;
    long long    ts_ms;
} wachat_question_seen_t;


/* " word " into the gist once */
static void
wachat_gist_add(char *gist, size_t *n, const char *w, size_t wn)
{
    char  probe[WACHAT_GIST_MAX];

    if (wn == 0 || *n + wn + 2 >= WACHAT_GIST_MAX || wn + 3 > sizeof(probe))
    {
        return;
    }

    probe[0] = ' ';
    memcpy(probe + 1, w, wn);
    probe[wn + 1] = ' ';
    probe[wn + 2] = '\0';

    if (strstr(wachat_gist_stop, probe) || strstr(gist, probe)) {
        return;
    }

    memcpy(gist + *n, w, wn);
    *n += wn;
    gist[(*n)++] = ' ';
    gist[*n] = '\0';
}


static int
wachat_gist_han(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF)
           || (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0xAC00 && cp <= 0xD7AF);
}


static char *
wachat_gist(const char *text, size_t len)
{
    char       *gist, word[64], pair[2 * WACHAT_UTF8_MAX];
    size_t      i, n, k, g, prev_len;
    uint32_t    cp;

    gist = malloc(WACHAT_GIST_MAX);
    if (gist == NULL) {
        return NULL;
    }

    gist[0] = ' ';
    gist[1] = '\0';
    g = 1;
    k = 0;
    prev_len = 0;

    for (i = 0; i <= len; i += n) {
        n = i < len ? wachat_utf8_decode(text + i, len - i, &cp) : 1;

        if (n == 0) {
            n = 1;
            cp = ' ';

        } else if (i == len) {
            cp = ' ';
        }

        if (wachat_gist_han(cp)) {
            wachat_gist_add(gist, &g, word, k);
            k = 0;

            /* a pair with the character before, or the first alone */
            if (prev_len) {
                memcpy(pair + prev_len, text + i, n);
                wachat_gist_add(gist, &g, pair, prev_len + n);
            }

            memcpy(pair, text + i, n);
            prev_len = n;
            continue;
        }

        prev_len = 0;

        if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')
            || (cp >= 'A' && cp <= 'Z') || cp >= 0xC0)
        {
            if (k + n < sizeof(word)) {
                memcpy(word + k, text + i, n);

                if (cp >= 'A' && cp <= 'Z') {
                    word[k] = (char) (cp + 32);
                }

                k += n;
            }

            continue;
        }

        if (k >= 2) {
            wachat_gist_add(gist, &g, word, k);
        }

        k = 0;
    }

    return gist;
}


/* |a and b| / |a or b| over the tokens of two gists */
static double
wachat_gist_same(const char *a, const char *b)
{
    size_t       na, nb, both, n;
    const char  *p, *e;
    char         probe[WACHAT_GIST_MAX];

    na = nb = both = 0;

    for (p = b; *p; p++) {
        nb += *p == ' ';
    }

    nb = nb ? nb - 1 : 0;

    for (p = a + 1; *p; p = e + 1) {
        e = strchr(p, ' ');

        if (e == NULL) {
            break;
        }

        n = (size_t) (e - p);
        na++;

        if (n + 3 <= sizeof(probe)) {
            probe[0] = ' ';
            memcpy(probe + 1, p, n);
            probe[n + 1] = ' ';
            probe[n + 2] = '\0';
            both += strstr(b, probe) != NULL;
        }
    }

    return na + nb - both ? (double) both / (double) (na + nb - both) : 1.0;
}


/*
 * The question into its group, whose index is set in *at (WACHAT_NO_GROUP
 * when the question is not counted: no text, another language).
 */
static int
wachat_unanswered_note(wachat_unanswered_t *u, const char *conv,
    const wachat_question_seen_t *q, const char *why, const char *source,
    const char *lang, size_t *at)
{
    char                       *gist;
    size_t                      i, k;
    const char                 *l;
    wachat_unanswered_group_t  *grp, *more;

    *at = WACHAT_NO_GROUP;

    if (q->text == NULL || *q->text == '\0') {
        return 0;
    }

    l = wachat_lang_detect(q->text, strlen(q->text));

    if (lang && !wachat_lang_matches(l, lang)) {
        return 0;
    }

    gist = wachat_gist(q->text, strlen(q->text));
    if (gist == NULL) {
        return -1;
    }

    for (i = 0; i < u->n; i++) {
        grp = &u->groups[i];

        if (strcmp(grp->why, why) == 0
            && wachat_gist_same(gist, grp->tokens) >= WACHAT_SAME_GIST)
        {
            free(gist);
            grp->count++;
            *at = i;

            if (q->ts_ms >= grp->last_ms) {
                free(grp->text);
                grp->text = strdup(q->text);
                grp->lang = l;
                grp->last_ms = q->ts_ms;
            }

            for (k = 0; k < grp->nconvs; k++) {
                if (strcmp(grp->convs[k], conv) == 0) {
                    return 0;
                }
            }

            if (grp->nconvs < WACHAT_UNANSWERED_CONVS) {
                grp->convs[grp->nconvs] = strdup(conv);
                grp->nconvs += grp->convs[grp->nconvs] != NULL;
            }

            return 0;
        }
    }

    more = realloc(u->groups, (u->n + 1) * sizeof(*more));
    if (more == NULL) {
        free(gist);
        return -1;
    }

    u->groups = more;
    grp = &u->groups[u->n++];
    memset(grp, 0, sizeof(*grp));

    grp->tokens = gist;
    grp->text = strdup(q->text);
    grp->why = why;
    grp->lang = l;
    grp->count = 1;
    grp->last_ms = q->ts_ms;
    grp->source = source ? strdup(source) : NULL;
    grp->convs[0] = strdup(conv);
    grp->nconvs = grp->convs[0] != NULL;
    *at = u->n - 1;

    return grp->text ? 0 : -1;
}


/* the entry id tapped after the group's fallback; kept most tapped first */
static int
wachat_unanswered_pick(wachat_unanswered_group_t *grp, const char *id)
{
    size_t                    i;
    wachat_unanswered_pick_t  t;

    for (i = 0; i < grp->npicks; i++) {
        if (strcmp(grp->picks[i].id, id) == 0) {
            break;
        }
    }

    if (i == grp->npicks) {
        /*
         * the first few entries tapped are kept, ordered by their taps;
         * one first tapped when they are all there is not counted (a
         * fallback names two at most, so a group seldom sees more)
         */
        if (grp->npicks == WACHAT_UNANSWERED_PICKS) {
            return 0;
        }

        grp->picks[i].id = strdup(id);
        if (grp->picks[i].id == NULL) {
            return -1;
        }

        grp->picks[i].count = 0;
        grp->npicks++;
    }

    grp->picks[i].count++;

    for (; i > 0 && grp->picks[i].count > grp->picks[i - 1].count; i--) {
        t = grp->picks[i];
        grp->picks[i] = grp->picks[i - 1];
        grp->picks[i - 1] = t;
    }

    return 0;
}


/* what one conversation's history has said so far, read in order */
typedef struct {
    wachat_unanswered_t     *u;
    const char              *conv;
    const char              *lang;
    wachat_question_seen_t   last;          /* the last customer text */
    wachat_question_seen_t   answered;      /* the question of ... */
    const char              *answered_src;  /* ... the last AI answer */
    size_t                   fell_short;    /* the last fallback's group */
    const char              *offered;       /* ... the entries it named */
    const char              *tapped;        /* the last message's payload */
} wachat_hist_walk_t;


static void
wachat_unanswered_in(wachat_hist_walk_t *w, const redisReply *kv)
{
    const char  *text, *payload;

    text = wachat_redis_reply_field(kv, "text");

    /* a voice note's question is its transcript */
    if (text == NULL) {
        text = wachat_redis_reply_field(kv, "transcript");
    }

    payload = wachat_redis_reply_field(kv, "payload");
    w->tapped = payload && *payload ? payload : NULL;

    /* a tap is not a question: the one the fallback had stays */
    if (w->tapped == NULL || w->fell_short == WACHAT_NO_GROUP) {
        w->last.text = (char *) text;
        w->last.ts_ms = wachat_store_entry_ms(kv);
    }
}


static int
wachat_unanswered_out(wachat_hist_walk_t *w, const redisReply *kv)
{
    int          rc;
    size_t       unused;
    const char  *who, *src;

    who = wachat_redis_reply_field(kv, "who");
    src = wachat_redis_reply_field(kv, "source");

    if (src == NULL) {
        return 0;                           /* notes; agents' replies */
    }

    if (strcmp(src, "fallback") == 0) {
        w->answered_src = NULL;
        w->offered = wachat_redis_reply_field(kv, "context");

        /*
         * a tap after a fallback that falls short again (a stale button
         * whose title is not enough) is no new question: the one asked
         * is counted once, and a tap on what this fallback offers is
         * still its pick
         */
        if (w->tapped && w->fell_short != WACHAT_NO_GROUP) {
            return 0;
        }

        return wachat_unanswered_note(w->u, w->conv, &w->last, "fallback",
                                      NULL, w->lang, &w->fell_short);
    }

    rc = 0;

    /*
     * the entry it answered is the one the customer tapped after it, if
     * the fallback named it: not an older message's button, nor a crafted
     * one (the console offers the question as that entry's phrasing)
     */
    if (w->fell_short != WACHAT_NO_GROUP && w->tapped
        && strncmp(src, "kb:", 3) == 0 && strcmp(src + 3, w->tapped) == 0
        && wachat_answer_has_id(w->offered, w->tapped))
    {
        rc = wachat_unanswered_pick(&w->u->groups[w->fell_short], w->tapped);
    }

    w->fell_short = WACHAT_NO_GROUP;

    if (strcmp(src, "handoff") == 0) {
        if (w->answered_src && rc == 0) {
            rc = wachat_unanswered_note(w->u, w->conv, &w->answered,
                                        "handoff", w->answered_src, w->lang,
                                        &unused);
        }

        w->answered_src = NULL;

    } else if (who && strcmp(who, "ai") == 0) {
        w->answered = w->last;              /* kb:<id>, llm */
        w->answered_src = src;
    }

    return rc;
}


static int
wachat_unanswered_conv(wachat_redis_t *st, wachat_unanswered_t *u,
    const char *conv, long long since_ms, const char *lang)
{
    int                  rc;
    size_t               i;
    redisReply          *r;
    const char          *dir;
    const redisReply    *kv;
    wachat_hist_walk_t   w;
    char                 key[WACHAT_KEY_MAX];

    wachat_store_key_hist(key, conv);
    r = wachat_redis_cmd(st, "XRANGE %s %lld + COUNT %d", key, since_ms,
                         WACHAT_HIST_READ);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }

    memset(&w, 0, sizeof(w));
    w.u = u;
    w.conv = conv;
    w.lang = lang;
    w.fell_short = WACHAT_NO_GROUP;
    rc = 0;

    for (i = 0; i < r->elements && rc == 0; i++) {
        if (r->element[i]->type != REDIS_REPLY_ARRAY
            || r->element[i]->elements != 2)
        {
            continue;
        }

        kv = r->element[i]->element[1];
        dir = wachat_redis_reply_field(kv, "dir");

        if (dir && strcmp(dir, "in") == 0) {
            wachat_unanswered_in(&w, kv);

        } else if (dir && strcmp(dir, "out") == 0) {
            rc = wachat_unanswered_out(&w, kv);
        }
    }

    freeReplyObject(r);

    return rc;
}


static int
wachat_unanswered_order(const void *a, const void *b)
{
    const wachat_unanswered_group_t  *x = a, *y = b;

    if (x->count != y->count) {
        return x->count > y->count ? -1 : 1;
    }

    return x->last_ms > y->last_ms ? -1 : x->last_ms < y->last_ms;
}


int
wachat_unanswered_scan(wachat_redis_t *st, long long since_ms,
    const char *lang, size_t max, wachat_unanswered_t *out, char *err,
    size_t errlen)
{
    size_t       i;
    redisReply  *r;

    memset(out, 0, sizeof(*out));

    r = wachat_redis_cmd(st, "ZREVRANGEBYSCORE %s +inf %lld LIMIT 0 %lld",
                         WACHAT_KEY_CONVS, since_ms, (long long) max + 1);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "redis: %s", r && r->type == REDIS_REPLY_ERROR
                                           ? r->str : st->err);
        freeReplyObject(r);
        return -1;
    }

    out->truncated = r->elements > max;

    for (i = 0; i < r->elements && i < max; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING) {
            continue;
        }

        if (wachat_unanswered_conv(st, out, r->element[i]->str, since_ms,
                                   lang) != 0)
        {
            snprintf(err, errlen, "redis: cannot read the history of %s: %s",
                     r->element[i]->str, st->err);
            freeReplyObject(r);
            wachat_unanswered_free(out);
            return -1;
        }

        out->scanned++;
    }

    freeReplyObject(r);

    if (out->n > 1) {
        qsort(out->groups, out->n, sizeof(*out->groups),
              wachat_unanswered_order);
    }

    return 0;
}


void
wachat_unanswered_free(wachat_unanswered_t *u)
{
    size_t  i, k;

    for (i = 0; i < u->n; i++) {
        free(u->groups[i].text);
        free(u->groups[i].tokens);
        free(u->groups[i].source);

        for (k = 0; k < u->groups[i].npicks; k++) {
            free(u->groups[i].picks[k].id);
        }

        for (k = 0; k < u->groups[i].nconvs; k++) {
            free(u->groups[i].convs[k]);
        }
    }

    free(u->groups);
    memset(u, 0, sizeof(*u));
}
