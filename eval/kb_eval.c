/*
 * kb_eval: how well the embedded kb backend answers customers (issue 15).
 *
 *     build/kb_eval [-v] [--show SPLIT] [--only SPLIT] [--min-score X]
 *                   [--repeat N] [--record FILE] DIR...
 *
 * Every DIR holds kb.md (the knowledge base) and question files, dev.txt,
 * heldout.txt, fresh.txt, probe.txt, blind.txt, blind2.txt, blind3.txt,
 * blind4.txt, blind5.txt, blind6.txt, blind7.txt, blind8.txt,
 * blind9.txt and blind10.txt (eval/README.md): one question a line,
 * "expected<TAB>question", where expected is the entry id the customer
 * should get, several ids as "a|b" when more than one entry answers it,
 * or "-" when the KB cannot answer it.  Lines starting with "#" and
 * blank lines are skipped.
 *
 * Each question goes through wachat_answer_kb(), the daemon's own
 * answerer, with the config's defaults (kb_min_score, kb_suggestions,
 * kb_suggest_min_score), as a text message would.  Per
 * KB and split, and over all, it prints:
 *
 *   right     answerable questions that got their entry
 *   wrong     questions (of all) that got an entry that does not answer
 *             them: a wrong confident answer
 *   fallback  questions the KB cannot answer that got the fallback
 *   one tap   answerable questions that got their entry, or the fallback
 *             with their entry among the suggested ones (kb_suggestions):
 *             one tap from the answer
 *
 * and, to see where the ranking stands apart from the decision, how often
 * the expected entry is the top hit and among the top 3 whatever the
 * score, and the time to answer one (the mean of --repeat answers, 20).
 * -v lists the dev questions that were not right, --show SPLIT those of
 * another split that has become a seen set; a sealed split (blind2,
 * blind9, blind10, eval/README.md) is never listed: it is for judging,
 * not for tuning.  --record appends one dated line per split to FILE
 * (bench/RESULTS.md).
 *
 * With EMBED_URL and EMBED_MODEL (and EMBED_KEY if the endpoint wants
 * one) in the environment, the KB's entries and every question are also
 * embedded (clients/embed_sync.c, synchronously) and each question
 * ranked by words and meaning together as the daemon does with embed_url
 * (kb_vec.h).  A second line per split then gives, for the answerable
 * questions, how often the expected entry is among the --passages N
 * (llm_passages' default) passages the openai backend would give the
 * model, by words alone and hybrid, and the kb backend's right / wrong /
 * fallback with the hybrid ranking.  --fuse-k, --boost and --doubt try
 * other knobs of the fusion than the daemon's.  Without EMBED_URL nothing
 * changes.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "answer/answer.h"
#include "answer/answer_preview.h"
#include "answer/kb.h"
#include "answer/kb_vec.h"
#include "clients/embed_sync.h"


#define EVAL_LINE     1024
#define EVAL_TOP      3
#define EVAL_SPLITS   14


/*
 * A sealed split is for judging, not for tuning: its questions are never
 * listed, only its aggregate line is printed.  Once a round has been
 * judged by it, the next round studies it (eval/README.md).
 */

typedef struct {
    const char  *name;
    unsigned     sealed;
} eval_split_t;


static const eval_split_t  eval_splits[EVAL_SPLITS] = {
    { "dev",     0 },
    { "heldout", 0 },
    { "fresh",   0 },
    { "probe",   0 },
    { "blind",   0 },
    { "blind2",  1 },
    { "blind3",  0 },           /* read at the fifth round's end */
    { "blind4",  0 },           /* read at the sixth round's end */
    { "blind5",  0 },           /* read at the seventh round's end */
    { "blind6",  0 },           /* read at the eighth round's end */
    { "blind7",  0 },           /* read at the ninth round's end */
    { "blind8",  0 },           /* read at the tenth round's end */
    { "blind9",  0 },           /* read at the eleventh round's end */
    { "blind10", 1 },
};


typedef struct {
    unsigned  answerable;
    unsigned  unknown;
    unsigned  right;
    unsigned  wrong;            /* answered with an entry not expected */
    unsigned  fallback;         /* unknowns that got the fallback */
    unsigned  suggested;        /* answerable: fallback, entry suggested */
    unsigned  u_suggested;      /* unknowns offered entries */
    unsigned  top1;             /* expected entry ranked first */
    unsigned  top3;
    unsigned  zh, zh_right;     /* answerable questions with CJK */
    double    usec;             /* answering time, all questions */

    /* with EMBED_URL: the hybrid ranking */
    unsigned  hybrid;           /* questions ranked so */
    unsigned  h_right, h_wrong, h_fallback;
    unsigned  h_tap;            /* one tap, the daemon's own hybrid answer */
    unsigned  p_words, p_hybrid;    /* expected among the passages */
} eval_count_t;


typedef struct {
    int          verbose;
    unsigned     repeat;        /* answer each question this many times */
    const char  *only;
    const char  *show;          /* list this split's misses, not dev's */
    const char  *record;
    wachat_answer_opts_t  answer;   /* the config's defaults, or options */
    int          no_cjk;        /* --no-cjk: the questions without CJK only */

    wachat_embed_sync_t        *embed;     /* NULL: no EMBED_URL */
    size_t               passages;
    wachat_kb_fuse_t     fuse;
} eval_opts_t;


static void
eval_add(eval_count_t *to, const eval_count_t *c)
{
    to->answerable += c->answerable;
    to->unknown += c->unknown;
    to->right += c->right;
    to->wrong += c->wrong;
    to->fallback += c->fallback;
    to->suggested += c->suggested;
    to->u_suggested += c->u_suggested;
    to->top1 += c->top1;
    to->top3 += c->top3;
    to->zh += c->zh;
    to->zh_right += c->zh_right;
    to->usec += c->usec;
    to->hybrid += c->hybrid;
    to->h_right += c->h_right;
    to->h_wrong += c->h_wrong;
    to->h_fallback += c->h_fallback;
    to->h_tap += c->h_tap;
    to->p_words += c->p_words;
    to->p_hybrid += c->p_hybrid;
}


static double
eval_pct(unsigned n, unsigned of)
{
    return of ? 100.0 * n / of : 0;
}


static double
eval_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}


/* id is one of expected's "|"-separated alternatives */
static int
eval_expects(const char *expected, const char *id)
{
    size_t       n;
    const char  *p, *bar;

    n = strlen(id);

    for (p = expected; ; p = bar + 1) {
        bar = strchr(p, '|');

        if ((size_t) ((bar ? bar : p + strlen(p)) - p) == n
            && strncmp(p, id, n) == 0)
        {
            return 1;
        }

        if (bar == NULL) {
            return 0;
        }
    }
}


static int
eval_has_cjk(const char *s)
{
    /* a lead byte of a 3- or 4-byte sequence: CJK in these sets */
    for ( ; *s; s++) {
        if ((unsigned char) *s >= 0xe3) {
            return 1;
        }
    }

    return 0;
}


/* the expected entry among the first n hits */
static int
eval_among(const char *expected, const wachat_kb_hit_t *hits, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (eval_expects(expected, hits[i].entry->id)) {
            return 1;
        }
    }

    return 0;
}


/* the reply is the expected entry, or the fallback suggesting it */
static int
eval_tap(const char *expected, const wachat_reply_t *r)
{
    size_t  i;

    if (strncmp(r->source, "kb:", 3) == 0) {
        return eval_expects(expected, r->source + 3);
    }

    for (i = 0; i < r->nbuttons; i++) {
        if (eval_expects(expected, r->button_id[i])) {
            return 1;
        }
    }

    return 0;
}


/* with EMBED_URL: the question ranked by words and meaning */
static void
eval_hybrid(const wachat_kb_t *kb, const wachat_kb_vectors_t *vs,
    const eval_opts_t *o, const char *file, unsigned line,
    const char *expected, const char *text, eval_count_t *c)
{
    int                got;
    char               why[256];
    float             *qv;
    size_t             n, nlex, dim, best, max;
    wachat_reply_t     reply;
    wachat_kb_hit_t    lex[WACHAT_KB_FUSE_DEPTH], hits[WACHAT_KB_FUSE_DEPTH];
    wachat_question_t  q = { "text", text, NULL };

    if (wachat_embed_sync(o->embed, &text, 1, &qv, &dim, why, sizeof(why))
        != 0)
    {
        fprintf(stderr, "%s:%u: %s\n", file, line, why);
        exit(2);
    }

    max = o->passages < WACHAT_KB_FUSE_DEPTH ? o->passages
                                            : WACHAT_KB_FUSE_DEPTH;
    nlex = wachat_kb_search(kb, text, strlen(text), lex,
                            WACHAT_KB_FUSE_DEPTH);
    n = wachat_kb_fuse(kb, vs, &o->fuse, lex, nlex, qv, dim, hits, max,
                       &best);

    /* one tap: the daemon's answer, its fusion and its suggestions */
    if (strcmp(expected, "-") != 0 && vs->dim == dim
        && wachat_answer_kb_hybrid(kb, vs, qv, dim, &o->answer, &q, &reply)
           == 1)
    {
        c->h_tap += eval_tap(expected, &reply);
        wachat_answer_free(&reply);
    }

    free(qv);

    if (n == 0 || vs->dim != dim) {
        fprintf(stderr, "%s:%u: the question's vector has %zu numbers, the "
                "KB's %zu\n", file, line, dim, vs->dim);
        exit(2);
    }

    c->hybrid++;

    /* the answer of wachat_answer_kb_hybrid(), with these knobs */
    got = hits[best].score >= o->answer.min_score;

    if (strcmp(expected, "-") == 0) {
        c->h_fallback += !got;
        c->h_wrong += got;
        return;
    }

    c->p_words += eval_among(expected, lex, nlex < max ? nlex : max);
    c->p_hybrid += eval_among(expected, hits, n < max ? n : max);

    if (got && eval_expects(expected, hits[best].entry->id)) {
        c->h_right++;

    } else if (got) {
        c->h_wrong++;
    }
}


static void
eval_question(const wachat_kb_t *kb, const wachat_kb_vectors_t *vs,
    const eval_opts_t *o, const char *file, unsigned line,
    const char *expected, const char *text, int show, eval_count_t *c)
{
    int                 rc, unknown, got;
    size_t              i, n;
    double              t0;
    const char         *id;
    wachat_reply_t      reply;
    wachat_kb_hit_t     hits[EVAL_TOP];
    wachat_question_t   q;

    q.type = "text";
    q.text = text;
    q.payload = NULL;

    t0 = eval_now();

    for (i = 1; i < o->repeat; i++) {
        rc = wachat_answer_kb(kb, &o->answer, &q, &reply);
        if (rc == 1) {
            wachat_answer_free(&reply);
        }
    }

    rc = wachat_answer_kb(kb, &o->answer, &q, &reply);
    c->usec += (eval_now() - t0) / o->repeat;

    if (rc != 1) {
        fprintf(stderr, "%s:%u: no reply (%d)\n", file, line, rc);
        exit(2);
    }

    unknown = strcmp(expected, "-") == 0;
    got = strncmp(reply.source, "kb:", 3) == 0;
    id = got ? reply.source + 3 : "(fallback)";

    n = wachat_kb_search(kb, text, strlen(text), hits, EVAL_TOP);

    if (unknown) {
        c->unknown++;
        c->fallback += !got;
        c->wrong += got;
        c->u_suggested += wachat_answer_suggested(&reply) > 0;

    } else {
        c->answerable++;

        for (i = 0; i < n; i++) {
            if (eval_expects(expected, hits[i].entry->id)) {
                c->top1 += (i == 0);
                c->top3++;
                break;
            }
        }

        if (got && eval_expects(expected, id)) {
            c->right++;
            c->zh_right += eval_has_cjk(text);
            show = 0;

        } else if (got) {
            c->wrong++;

        } else {
            c->suggested += eval_tap(expected, &reply);
        }

        c->zh += eval_has_cjk(text);
    }

    if (unknown && !got) {
        show = 0;
    }

    if (vs != NULL) {
        eval_hybrid(kb, vs, o, file, line, expected, text, c);
    }

    if (show) {
        printf("  %s:%u %-7s want %s, got %s (%.2f; top:", file, line,
               got ? "WRONG" : "missed", expected, id, reply.score);

        for (i = 0; i < n; i++) {
            printf(" %s %.2f", hits[i].entry->id, hits[i].score);
        }

        printf(")  %s\n", text);
    }

    wachat_answer_free(&reply);
}


/* 0, or -1 when the file cannot be read */
static int
eval_file(const wachat_kb_t *kb, const wachat_kb_vectors_t *vs,
    const eval_opts_t *o, const char *path, int show, eval_count_t *c)
{
    char      buf[EVAL_LINE], *tab, *nl;
    FILE     *f;
    unsigned  line;

    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }

    line = 0;

    while (fgets(buf, sizeof(buf), f) != NULL) {
        line++;

        nl = strchr(buf, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }

        if (buf[0] == '#' || buf[0] == '\0') {
            continue;
        }

        tab = strchr(buf, '\t');

        if (tab == NULL) {
            fprintf(stderr, "%s:%u: no TAB between expected id and "
                    "question\n", path, line);
            exit(2);
        }

        *tab = '\0';

        if (o->no_cjk && eval_has_cjk(tab + 1)) {
            continue;       /* e.g. a model that knows no Chinese */
        }

        eval_question(kb, vs, o, path, line, buf, tab + 1, show, c);
    }

    fclose(f);

    return 0;
}


static void
eval_print(const char *what, const eval_count_t *c)
{
    unsigned  all;

    all = c->answerable + c->unknown;

    printf("%-16s %4u  right %5.1f%%  wrong %4.1f%%  fallback on unknowns "
           "%5.1f%%  | one tap %5.1f%% (unknowns offered entries %5.1f%%)  "
           "top1 %5.1f%% top3 %5.1f%%  zh right %5.1f%%  %.1f us/q\n",
           what, all, eval_pct(c->right, c->answerable),
           eval_pct(c->wrong, all), eval_pct(c->fallback, c->unknown),
           eval_pct(c->right + c->suggested, c->answerable),
           eval_pct(c->u_suggested, c->unknown),
           eval_pct(c->top1, c->answerable), eval_pct(c->top3, c->answerable),
           eval_pct(c->zh_right, c->zh), all ? c->usec / all : 0);

    if (c->hybrid == 0) {
        return;
    }

    printf("%-16s %4s  right %5.1f%%  wrong %4.1f%%  fallback on unknowns "
           "%5.1f%%  | one tap %5.1f%%  passages: words %5.1f%% -> hybrid "
           "%5.1f%%\n",
           "    + meaning", "", eval_pct(c->h_right, c->answerable),
           eval_pct(c->h_wrong, all), eval_pct(c->h_fallback, c->unknown),
           eval_pct(c->h_tap, c->answerable),
           eval_pct(c->p_words, c->answerable),
           eval_pct(c->p_hybrid, c->answerable));
}


static void
eval_record(const eval_opts_t *o, eval_count_t *split, size_t nkbs)
{
    char        date[32], rev[64];
    FILE       *f, *git;
    size_t      s, n;
    time_t      now;
    unsigned    all;
    struct tm   tm;

    f = fopen(o->record, "a");
    if (f == NULL) {
        perror(o->record);
        exit(2);
    }

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm);

    snprintf(rev, sizeof(rev), "?");
    git = popen("git describe --always --dirty 2>/dev/null", "r");

    if (git != NULL) {
        if (fgets(rev, sizeof(rev), git) != NULL) {
            n = strcspn(rev, "\n");
            rev[n] = '\0';
        }

        pclose(git);
    }

    fprintf(f, "\n");

    for (s = 0; s < EVAL_SPLITS; s++) {
        all = split[s].answerable + split[s].unknown;

        if (all == 0) {
            continue;
        }

        fprintf(f, "- %s, make eval, %s, %zu KBs, %s%s: %u questions, "
                "right %.1f %%, wrong %.1f %%, fallback on unknowns "
                "%.1f %%, right in one tap %.1f %% (kb_min_score %.2f, "
                "kb_suggestions %zu from %.2f, %.1f us per question)\n",
                date, rev, nkbs, eval_splits[s].name,
                o->no_cjk ? " (no CJK)" : "", all,
                eval_pct(split[s].right, split[s].answerable),
                eval_pct(split[s].wrong, all),
                eval_pct(split[s].fallback, split[s].unknown),
                eval_pct(split[s].right + split[s].suggested,
                         split[s].answerable),
                o->answer.min_score, o->answer.suggestions,
                o->answer.suggest_min_score, split[s].usec / all);

        if (split[s].hybrid) {
            fprintf(f, "  - hybrid (embed_model %s, fusion k %.0f, words "
                    "%.2f, agree %d, boost %.2f, doubt %.2f): right %.1f %%, "
                    "wrong %.1f %%, "
                    "fallback on unknowns %.1f %%, right in one tap (the "
                    "daemon's fusion) %.1f %%; expected entry among "
                    "the %zu passages: words %.1f %%, hybrid %.1f %%\n",
                    o->embed->model, o->fuse.k, o->fuse.words, o->fuse.agree,
                    o->fuse.boost, o->fuse.doubt,
                    eval_pct(split[s].h_right, split[s].answerable),
                    eval_pct(split[s].h_wrong, all),
                    eval_pct(split[s].h_fallback, split[s].unknown),
                    eval_pct(split[s].h_tap, split[s].answerable),
                    o->passages, eval_pct(split[s].p_words,
                                          split[s].answerable),
                    eval_pct(split[s].p_hybrid, split[s].answerable));
        }
    }

    fclose(f);
}


int
main(int argc, char **argv)
{
    int            i, first, show, problem;
    char           path[1024], err[1024], what[64];
    const char    *thesaurus, *note;
    size_t         s, nkbs;
    double         t0, load;
    eval_opts_t    o;
    wachat_kb_t   *kb;
    wachat_embed_sync_t   embed;
    eval_count_t   c, split[EVAL_SPLITS], total;
    wachat_kb_vectors_t   vs, *vsp;
    wachat_config_t      *defaults;

    memset(&o, 0, sizeof(o));
    thesaurus = "";                 /* kb_thesaurus: off by default */

    /* the daemon's defaults: a config of nothing but a sandbox outbound */
    defaults = wachat_config_parse("defaults", "outbound sandbox\n", 17, err,
                                   sizeof(err));
    if (defaults == NULL) {
        fprintf(stderr, "kb_eval: %s\n", err);
        return 2;
    }

    wachat_answer_opts(defaults, NULL, &o.answer);
    o.repeat = 20;
    o.passages = (size_t) defaults->llm_passages;
    wachat_kb_fuse_default(&o.fuse);

    memset(&embed, 0, sizeof(embed));
    embed.url = getenv("EMBED_URL");
    embed.model = getenv("EMBED_MODEL");
    embed.key = getenv("EMBED_KEY");

    if (embed.url && embed.url[0]) {
        if (embed.model == NULL || embed.model[0] == '\0') {
            fprintf(stderr, "kb_eval: EMBED_URL needs EMBED_MODEL\n");
            return 2;
        }

        o.embed = &embed;
    }

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            o.verbose = 1;

        } else if (strcmp(argv[i], "--no-cjk") == 0) {
            o.no_cjk = 1;

        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            o.only = argv[++i];

        } else if (strcmp(argv[i], "--show") == 0 && i + 1 < argc) {
            o.show = argv[++i];
            o.verbose = 1;

            for (s = 0; s < EVAL_SPLITS; s++) {
                if (eval_splits[s].sealed
                    && strcmp(o.show, eval_splits[s].name) == 0)
                {
                    fprintf(stderr, "kb_eval: the %s split is never listed\n",
                            o.show);
                    return 2;
                }
            }

        } else if (strcmp(argv[i], "--record") == 0 && i + 1 < argc) {
            o.record = argv[++i];

        } else if (strcmp(argv[i], "--min-score") == 0 && i + 1 < argc) {
            o.answer.min_score = atof(argv[++i]);

        } else if (strcmp(argv[i], "--suggestions") == 0 && i + 1 < argc) {
            o.answer.suggestions = (size_t) atoi(argv[++i]);

        } else if (strcmp(argv[i], "--suggest-min-score") == 0
                   && i + 1 < argc)
        {
            o.answer.suggest_min_score = atof(argv[++i]);

        } else if (strcmp(argv[i], "--passages") == 0 && i + 1 < argc) {
            o.passages = (size_t) atoi(argv[++i]);
            o.passages = o.passages ? o.passages : 1;

        } else if (strcmp(argv[i], "--fuse-k") == 0 && i + 1 < argc) {
            o.fuse.k = atof(argv[++i]);

        } else if (strcmp(argv[i], "--words") == 0 && i + 1 < argc) {
            o.fuse.words = atof(argv[++i]);

        } else if (strcmp(argv[i], "--agree") == 0 && i + 1 < argc) {
            o.fuse.agree = atoi(argv[++i]);

        } else if (strcmp(argv[i], "--boost") == 0 && i + 1 < argc) {
            o.fuse.boost = atof(argv[++i]);

        } else if (strcmp(argv[i], "--doubt") == 0 && i + 1 < argc) {
            o.fuse.doubt = atof(argv[++i]);

        } else if (strcmp(argv[i], "--thesaurus") == 0 && i + 1 < argc) {
            thesaurus = argv[++i];

        } else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
            o.repeat = (unsigned) atoi(argv[++i]);
            o.repeat = o.repeat ? o.repeat : 1;

        } else {
            fprintf(stderr, "usage: kb_eval [-v] [--show SPLIT] "
                    "[--only SPLIT] [--no-cjk] [--min-score X] [--repeat N] "
                    "[--suggestions N] [--suggest-min-score X] "
                    "[--record FILE] [--thesaurus DIR] "
                    "[--passages N] [--fuse-k K] [--words W] [--agree 0|1] "
                    "[--boost B] [--doubt D] "
                    "DIR...\n");
            return 2;
        }
    }

    first = i;
    wachat_kb_thesaurus_use(thesaurus);
    memset(split, 0, sizeof(split));
    nkbs = 0;

    for (i = first; i < argc; i++) {
        snprintf(path, sizeof(path), "%s/kb.md", argv[i]);

        t0 = eval_now();
        kb = wachat_kb_load(path, err, sizeof(err));
        load = eval_now() - t0;

        if (kb == NULL) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }

        nkbs++;
        printf("%s: %zu entries, loaded in %.0f us\n", path,
               wachat_kb_count(kb), load);

        note = wachat_kb_thesaurus_note(kb, &problem);
        if (note[0] != '\0') {
            printf("%s: thesaurus: %s%s\n", path, note,
                   problem ? ": words alone" : "");
        }

        vsp = NULL;

        if (o.embed) {
            t0 = embed.ms;

            if (wachat_kb_vectors_init(&vs, wachat_kb_count(kb)) != 0
                || wachat_embed_sync_kb(&embed, kb, &vs, err, sizeof(err))
                   != 0)
            {
                fprintf(stderr, "%s: embeddings: %s\n", path, err);
                return 2;
            }

            printf("%s: embedded with %s (%zu dimensions) in %.0f ms\n",
                   path, embed.model, vs.dim, embed.ms - t0);
            vsp = &vs;
        }

        for (s = 0; s < EVAL_SPLITS; s++) {
            if (o.only != NULL && strcmp(o.only, eval_splits[s].name) != 0) {
                continue;
            }

            snprintf(path, sizeof(path), "%s/%s.txt", argv[i],
                     eval_splits[s].name);
            memset(&c, 0, sizeof(c));

            show = o.verbose && !eval_splits[s].sealed
                   && strcmp(o.show ? o.show : "dev", eval_splits[s].name)
                      == 0;

            if (eval_file(kb, vsp, &o, path, show, &c) != 0) {
                continue;
            }

            snprintf(what, sizeof(what), "  %s", eval_splits[s].name);
            eval_print(what, &c);
            eval_add(&split[s], &c);
        }

        if (vsp) {
            wachat_kb_vectors_free(vsp);
        }

        wachat_kb_free(kb);
    }

    printf("\nall KBs (kb_min_score %.2f, kb_suggestions %zu from %.2f)\n",
           o.answer.min_score, o.answer.suggestions,
           o.answer.suggest_min_score);
    memset(&total, 0, sizeof(total));

    for (s = 0; s < EVAL_SPLITS; s++) {
        if (split[s].answerable + split[s].unknown > 0) {
            snprintf(what, sizeof(what), "  %s", eval_splits[s].name);
            eval_print(what, &split[s]);
            eval_add(&total, &split[s]);
        }
    }

    eval_print("  together", &total);
    wachat_config_free(defaults);

    if (o.embed) {
        printf("\nembeddings: %s at %s, %u calls, %.1f ms each; fusion k "
               "%.0f, words %.2f, agree %d, boost %.2f, doubt %.2f; %zu "
               "passages\n", embed.model, embed.url, embed.calls,
               embed.calls ? embed.ms / embed.calls : 0, o.fuse.k,
               o.fuse.words, o.fuse.agree, o.fuse.boost, o.fuse.doubt,
               o.passages);
    }

    if (o.record != NULL) {
        eval_record(&o, split, nkbs);
    }

    return 0;
}
