/*
 * wachatctl ask, unanswered: what the knowledge base answers, and the
 * questions the assistant fell short on.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/answer.h"
#include "answer/answer_preview.h"
#include "answer/kb_embed.h"
#include "answer/kb_vec.h"
#include "clients/embed_sync.h"
#include "insight/unanswered.h"
#include "lib/clock.h"
#include "main/ctl_int.h"


/*
 * With embed_url, the KB's vectors and the question's, as the daemon ranks
 * by them: vs set and *qv malloc'ed; 0, or -1 and why (words alone then).
 */
static int
wachatctl_ask_vectors(wachatctl_t *ctl, const wachat_kb_t *kb,
    const char *question, wachat_kb_vectors_t *vs, float **qv, size_t *dim,
    char *why, size_t whylen)
{
    char                (*keys)[65], *text;
    size_t                i, n;
    wachat_embed_sync_t   e;

    memset(&e, 0, sizeof(e));
    e.url = ctl->cfg->embed_url;
    e.model = ctl->cfg->embed_model;
    e.key = ctl->cfg->embed_key.value;
    e.timeout_ms = (long) ctl->cfg->embed_timeout_ms * 10;

    n = wachat_kb_count(kb);
    keys = calloc(n ? n : 1, sizeof(*keys));
    text = malloc(WACHAT_EMBED_MAX_TEXT);

    if (keys == NULL || text == NULL || wachat_kb_vectors_init(vs, n) != 0) {
        snprintf(why, whylen, "out of memory");
        free(keys);
        free(text);
        return -1;
    }

    /* the daemon's cache first, so only what it lacks is embedded */
    for (i = 0; i < n; i++) {
        wachat_kb_vec_text(wachat_kb_entry(kb, i), text,
                           WACHAT_EMBED_MAX_TEXT);
        wachat_kb_vec_key(e.model, text, keys[i]);
    }

    (void) wachat_kb_embed_read_cache(ctl->st, keys, vs);
    free(keys);
    free(text);

    if (wachat_embed_sync_kb(&e, kb, vs, why, whylen) != 0) {
        wachat_kb_vectors_free(vs);
        return -1;
    }

    vs->boost = ctl->cfg->embed_kb_boost;
    e.timeout_ms = (long) ctl->cfg->embed_timeout_ms;

    if (wachat_embed_sync(&e, &question, 1, qv, dim, why, whylen) != 0) {
        wachat_kb_vectors_free(vs);
        return -1;
    }

    /* a cache of another model's size under the same name: not comparable */
    if (*dim != vs->dim) {
        snprintf(why, whylen, "the question has %zu dimensions, the "
                 "knowledge base's vectors %zu", *dim, vs->dim);
        wachat_kb_vectors_free(vs);
        free(*qv);
        *qv = NULL;
        return -1;
    }

    return 0;
}


/*
 * ask <question>: the kb file's answer, as the daemon would give it; with
 * embed_url, ranked by words and meaning as the daemon ranks it
 */
int
wachatctl_ask(wachatctl_t *ctl, int argc, char **argv)
{
    int                   rc, hybrid;
    char                  err[WACHAT_ERRLEN];
    float                *qv;
    size_t                i, n, dim, best;
    wachat_kb_t          *kb;
    wachat_reply_t        reply;
    wachat_kb_hit_t       hits[5];
    wachat_kb_vectors_t   vs;

    (void) argc;

    wachat_kb_thesaurus_use(ctl->cfg->kb_thesaurus);

    kb = wachat_kb_load(ctl->cfg->kb, err, sizeof(err));
    if (kb == NULL) {
        fprintf(stderr, "wachatctl: %s\n", err);
        return 1;
    }

    qv = NULL;
    dim = 0;
    hybrid = 0;

    if (ctl->cfg->embed_url && ctl->cfg->embed_url[0]) {
        hybrid = wachatctl_ask_vectors(ctl, kb, argv[0], &vs, &qv, &dim, err,
                                       sizeof(err)) == 0;
        if (!hybrid) {
            /* as the daemon does when the endpoint fails */
            printf("(embeddings failed: %s; ranked by words alone)\n", err);
        }
    }

    rc = wachat_answer_preview(kb, hybrid ? &vs : NULL, qv, dim, ctl->cfg,
                               argv[0], &reply);
    n = hybrid ? wachat_kb_hybrid(kb, &vs, qv, dim, argv[0], strlen(argv[0]),
                                  hits, 5, &best)
               : wachat_kb_search(kb, argv[0], strlen(argv[0]), hits, 5);

    if (rc > 0) {
        printf("%s\n%s\n", strcmp(reply.source, "fallback") == 0
                              ? "no confident answer: the fallback"
                              : reply.source, reply.text);

        /* the buttons, as the customer sees them: [title] and the entry */
        for (i = 0; i < reply.nbuttons; i++) {
            printf("%s[%s] #%s", i ? "  " : "", reply.button_title[i],
                   reply.button_id[i]);
        }

        printf("%s\n", reply.nbuttons ? "\n" : "");
        wachat_answer_free(&reply);
    }

    for (i = 0; i < n; i++) {
        printf("  %.2f %s #%s  %s\n", hits[i].score,
               hits[i].score >= ctl->cfg->kb_min_score ? ">=" : "< ",
               hits[i].entry->id, hits[i].entry->question);
    }

    printf("(kb_min_score %.2f, %s%s%s)\n", ctl->cfg->kb_min_score,
           ctl->cfg->kb, hybrid ? ", ranked by words and meaning: "
                                : "", hybrid ? ctl->cfg->embed_model : "");

    if (hybrid) {
        wachat_kb_vectors_free(&vs);
        free(qv);
    }

    wachat_kb_free(kb);

    return rc < 0;
}


/* unanswered [--since 7d] [--lang xx] */
int
wachatctl_unanswered(wachatctl_t *ctl, int argc, char **argv)
{
    int                               i;
    char                              err[256], when[64], how[800];
    size_t                            g, k;
    long long                         since;
    const char                       *lang, *span;
    wachat_unanswered_t               u;
    const wachat_unanswered_group_t  *grp;

    span = "7d";
    lang = NULL;

    for (i = 0; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--since") == 0) {
            span = argv[i + 1];

        } else if (strcmp(argv[i], "--lang") == 0) {
            lang = argv[i + 1];

        } else {
            break;
        }
    }

    if (i < argc || wachat_config_duration(span, &since) != 0) {
        fprintf(stderr, "wachatctl: unanswered [--since 7d] [--lang xx] "
                "(a duration such as 24h or 30d; a language such as en, zh, "
                "zh-Hant)\n");
        return 2;
    }

    if (wachat_unanswered_scan(ctl->st, wachat_clock_ms() - since, lang,
                               10000, &u, err, sizeof(err)) != 0)
    {
        fprintf(stderr, "wachatctl: %s\n", err);
        return 1;
    }

    printf("%zu question%s the assistant fell short on in the last %s "
           "(%zu conversation%s read%s)\n", u.n, u.n == 1 ? "" : "s", span,
           u.scanned, u.scanned == 1 ? "" : "s",
           u.truncated ? ", the 10000 most recent" : "");

    for (g = 0; g < u.n; g++) {
        grp = &u.groups[g];
        wachatctl_time_ms(grp->last_ms, when, sizeof(when));

        if (strcmp(grp->why, "fallback") == 0) {
            snprintf(how, sizeof(how), "no confident answer");

        } else if (grp->source && strncmp(grp->source, "kb:", 3) == 0) {
            snprintf(how, sizeof(how), "answered from #%s, then asked for a "
                     "person", grp->source + 3);

        } else {
            snprintf(how, sizeof(how), "answered by the model, then asked for "
                     "a person");
        }

        printf("\n%4zux  %s\n       %s; last %s; %s\n       ", grp->count,
               grp->text, how, when, grp->lang ? grp->lang : "language ?");

        for (k = 0; k < grp->nconvs; k++) {
            printf("%s%s", k ? " " : "", grp->convs[k]);
        }

        printf("\n");

        /* the words customers use for an entry: a phrasing to add */
        for (k = 0; k < grp->npicks; k++) {
            printf("%s#%s (%zu)", k ? ", " : "       then picked ",
                   grp->picks[k].id, grp->picks[k].count);
        }

        printf("%s", grp->npicks ? "\n" : "");
    }

    wachat_unanswered_free(&u);

    return 0;
}
