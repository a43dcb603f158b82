/*
 * wachatctl: look at and act on what wachatd keeps in Redis.
 *
 *   wachatctl [-c config] conversations [--mode M]
 *   wachatctl [-c ...] agent <id> online|away|offline
 *   wachatctl [-c ...] take <agent> <wa_id>
 *   wachatctl [-c ...] reply <agent> <wa_id> <text>
 *   wachatctl [-c ...] send-file <agent> <wa_id> <path> [caption]
 *   wachatctl [-c ...] templates [--refresh]
 *   wachatctl [-c ...] send-template <agent> <wa_id> <name> <language>
 *                                    [param ...]
 *   wachatctl [-c ...] resolve <wa_id>
 *   wachatctl [-c ...] show <wa_id | phone_number_id:wa_id>
 *   wachatctl [-c ...] dead
 *   wachatctl [-c ...] retry <dead-letter id>
 *   wachatctl [-c ...] doctor [--phone-number-id ID]
 *                             [--callback URL --app-secret-file PATH]
 *   wachatctl help | -h | -v
 *
 * The config is -c, else $WACHAT_CONF, else the built-in default (as for
 * wachatd), so on a server where WACHAT_CONF is set no -c is needed.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "agents/agents.h"
#include "answer/answer.h"
#include "clients/graph.h"
#include "insight/unanswered.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/version.h"
#include "main/doctor.h"
#include "store/store.h"


#define WACHAT_ERRLEN  1024


typedef struct {
    wachat_redis_t         *st;
    const wachat_config_t  *cfg;
} wachatctl_t;


/* argv holds the words after the command's name, at least args of them */
typedef struct {
    const char  *name;
    int          args;
    int        (*run)(wachatctl_t *ctl, int argc, char **argv);
} wachatctl_command_t;


static const wachatctl_command_t *wachatctl_command(const char *name);
static wachat_redis_t *wachatctl_open(const wachat_config_t *cfg, char *err,
    size_t errlen);
static int wachatctl_conversations(wachatctl_t *ctl, int argc, char **argv);
static int wachatctl_agent(wachatctl_t *ctl, int argc, char **argv);
static int wachatctl_take(wachatctl_t *ctl, int argc, char **argv);
static int wachatctl_reply(wachatctl_t *ctl, int argc, char **argv);
static int wachatctl_send_file(wachatctl_t *ctl, int argc, char **argv);
static int wachatctl_templates(wachatctl_t *ctl, int argc, char **argv);
static int wachatctl_send_template(wachatctl_t *ctl, int argc, char **argv);
static int wachatctl_resolve(wachatctl_t *ctl, int argc, char **argv);
static int wachatctl_transfer(wachatctl_t *ctl, int argc, char **argv);
static int wachatctl_note(wachatctl_t *ctl, int argc, char **argv);
static int wachatctl_unanswered(wachatctl_t *ctl, int argc, char **argv);
static int wachatctl_ask(wachatctl_t *ctl, int argc, char **argv);
static int wachatctl_show(wachatctl_t *ctl, int argc, char **argv);
static int wachatctl_dead(wachatctl_t *ctl, int argc, char **argv);
static int wachatctl_retry(wachatctl_t *ctl, int argc, char **argv);
static int wachatctl_doctor(wachatctl_t *ctl, int argc, char **argv);
static int wachatctl_agent_rc(wachat_agent_rc_e rc, const char *done);
static void wachatctl_time(const char *unix_s, char *buf, size_t len);
static void wachatctl_time_ms(long long ms, char *buf, size_t len);
static int wachatctl_list(wachat_redis_t *st, const char *only);
static int wachatctl_conv(wachat_redis_t *st, const char *who, char *conv,
    size_t len);
static int wachatctl_find(wachat_redis_t *st, const char *who, char *conv,
    size_t len);
static void wachatctl_show_customer(wachat_redis_t *st, const char *conv);
static void wachatctl_show_entry(const redisReply *e,
    const redisReply *stat);
static void wachatctl_show_status(const char *id, const redisReply *stat);
static void wachatctl_show_media(const redisReply *kv);


static const wachatctl_command_t  wachatctl_commands[] = {
    { "conversations", 0, wachatctl_conversations },
    { "agent",         2, wachatctl_agent },
    { "take",          2, wachatctl_take },
    { "reply",         3, wachatctl_reply },
    { "send-file",     3, wachatctl_send_file },
    { "templates",     0, wachatctl_templates },
    { "send-template", 4, wachatctl_send_template },
    { "resolve",       1, wachatctl_resolve },
    { "transfer",      3, wachatctl_transfer },
    { "note",          3, wachatctl_note },
    { "unanswered",    0, wachatctl_unanswered },
    { "ask",           1, wachatctl_ask },
    { "show",          1, wachatctl_show },
    { "dead",          0, wachatctl_dead },
    { "retry",         1, wachatctl_retry },
    { "doctor",        0, wachatctl_doctor },
};


static void
wachatctl_usage(FILE *out)
{
    fprintf(out,
            "usage: wachatctl [-c config] <command>\n"
            "  -c path               config file (default $WACHAT_CONF, "
            "else\n"
            "                        " WACHAT_CONF_PATH ")\n"
            "  -v                    print the version and exit\n"
            "  help                  this text (needs no config or Redis)"
            "\n"
            "  conversations [--mode ai|waiting_agent|agent]\n"
            "                        list conversations, most recent first\n"
            "  agent <id> online|away|offline\n"
            "                        set an agent's presence (it stays "
            "until changed)\n"
            "  take <agent> <wa_id>  the agent takes the conversation\n"
            "  reply <agent> <wa_id> <text>\n"
            "                        send the customer a message as the "
            "agent\n"
            "  send-file <agent> <wa_id> <path> [caption]\n"
            "                        send a picture, audio, video or "
            "document as the agent\n"
            "                        (its type and size checked against "
            "WhatsApp's limits)\n"
            "  templates [--refresh]  the approved message templates "
            "(waba_id), with their\n"
            "                        {{n}} variables; --refresh asks the "
            "Graph API again\n"
            "  send-template <agent> <wa_id> <name> <language> [param ...]\n"
            "                        a template message as the agent, "
            "also after the 24-hour\n"
            "                        window (one param per {{n}}, checked "
            "before the call)\n"
            "  resolve <wa_id>       hand the conversation back to the AI\n"
            "  transfer <agent> <wa_id> <to>\n"
            "                        the agent hands its conversation to a "
            "colleague\n"
            "  note <agent> <wa_id> <text>\n"
            "                        an internal note: agents see it, the "
            "customer never\n"
            "  ask <question>        what the knowledge base answers, with "
            "the best entries'\n"
            "                        scores\n"
            "  unanswered [--since 7d] [--lang xx]\n"
            "                        questions the assistant had no answer "
            "for, or whose\n"
            "                        answer was followed by a request for a "
            "person\n"
            "  show <wa_id>          one conversation's history: names, "
            "replies, statuses\n"
            "  dead                  replies that could not be sent, with "
            "the reason\n"
            "  retry <id>            send a dead-lettered reply again\n"
            "  doctor [--phone-number-id ID] [--callback URL "
            "--app-secret-file PATH]\n"
            "         [--replicas N] check Redis (primary, replicas, "
            "sentinels), the stream,\n"
            "                        the knowledge base, the Graph token, "
            "the LLM, and nginx\n"
            "                        end to end; N: nginx's "
            "wachat_redis_replicas\n");
}


/*
 * The config is loaded and Redis reached before the command is looked at:
 * a broken config is reported first, whatever the command.
 */
int
main(int argc, char **argv)
{
    int                         opt, rc;
    char                        err[WACHAT_ERRLEN];
    const char                 *conf;
    wachatctl_t                 ctl;
    wachat_config_t            *cfg;
    const wachatctl_command_t  *cmd;

    conf = NULL;

    while ((opt = getopt(argc, argv, "c:hv")) != -1) {
        switch (opt) {
        case 'c':
            conf = optarg;
            break;
        case 'h':
            wachatctl_usage(stdout);
            return 0;
        case 'v':
            printf("wachatctl %s\n", WACHAT_VERSION);
            return 0;
        default:
            wachatctl_usage(stderr);
            return 2;
        }
    }

    if (optind >= argc) {
        wachatctl_usage(stderr);
        return 2;
    }

    if (strcmp(argv[optind], "help") == 0) {
        wachatctl_usage(stdout);
        return 0;
    }

    conf = wachat_config_path(conf);
    cfg = wachat_config_load(conf, err, sizeof(err));
    if (cfg == NULL) {
        fprintf(stderr, "wachatctl: %s\n", err);
        return 1;
    }

    ctl.cfg = cfg;
    wachat_clock_zone(cfg->timezone);     /* working_hours are local */
    ctl.st = wachatctl_open(cfg, err, sizeof(err));

    if (ctl.st == NULL) {
        fprintf(stderr, "wachatctl: %s\n", err);
        wachat_config_free(cfg);
        return 1;
    }

    cmd = wachatctl_command(argv[optind]);
    argc -= optind + 1;
    argv += optind + 1;

    if (cmd == NULL || argc < cmd->args) {
        wachatctl_usage(stderr);
        rc = 2;

    } else {
        rc = cmd->run(&ctl, argc, argv);
    }

    wachat_redis_close(ctl.st);
    wachat_config_free(cfg);

    return rc;
}


static const wachatctl_command_t *
wachatctl_command(const char *name)
{
    size_t  i;

    for (i = 0; i < sizeof(wachatctl_commands) / sizeof(wachatctl_commands[0]);
         i++)
    {
        if (strcmp(wachatctl_commands[i].name, name) == 0) {
            return &wachatctl_commands[i];
        }
    }

    return NULL;
}


static wachat_redis_t *
wachatctl_open(const wachat_config_t *cfg, char *err, size_t errlen)
{
    wachat_redis_t       *st;
    wachat_redis_addr_t   addr;

    if (wachat_redis_addr_config(&addr, cfg, 5000) != 0) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    /* the link keeps addr's strings: they live as long as the process */
    st = wachat_redis_open(&addr, err, errlen);
    if (st == NULL) {
        wachat_redis_addr_free(&addr);
    }

    return st;
}


/* conversations [--mode M] */
static int
wachatctl_conversations(wachatctl_t *ctl, int argc, char **argv)
{
    const char  *only;

    only = argc >= 2 && strcmp(argv[0], "--mode") == 0 ? argv[1] : NULL;

    return wachatctl_list(ctl->st, only);
}


/* agent <id> online|away|offline */
static int
wachatctl_agent(wachatctl_t *ctl, int argc, char **argv)
{
    (void) argc;

    return wachatctl_agent_rc(wachat_agent_presence(ctl->st, ctl->cfg,
                                                    argv[0], argv[1], 0),
                              "presence set");
}


/* take, reply, resolve: what the console's buttons do */

static int
wachatctl_take(wachatctl_t *ctl, int argc, char **argv)
{
    char  conv[256];

    (void) argc;

    if (wachatctl_conv(ctl->st, argv[1], conv, sizeof(conv)) != 0) {
        return 1;
    }

    return wachatctl_agent_rc(wachat_agent_take(ctl->st, ctl->cfg, argv[0],
                                                conv),
                              "taken");
}


static int
wachatctl_reply(wachatctl_t *ctl, int argc, char **argv)
{
    char  conv[256];

    (void) argc;

    if (wachatctl_conv(ctl->st, argv[1], conv, sizeof(conv)) != 0) {
        return 1;
    }

    return wachatctl_agent_rc(wachat_agent_reply(ctl->st, ctl->cfg, argv[0],
                                                 conv, argv[2], NULL, 0),
                              "queued: wachatd sends it");
}


/*
 * The file is checked (type by its extension, size) before anything else,
 * copied into media_dir, and queued: wachatd uploads it and sends it.
 */
static int
wachatctl_send_file(wachatctl_t *ctl, int argc, char **argv)
{
    int                    rc;
    long                   size;
    FILE                  *in;
    wachat_agent_rc_e      arc;
    wachat_media_store_t  *ms;
    char                   conv[256], err[WACHAT_ERRLEN], why[512];

    if (argc > 4) {
        fprintf(stderr, "wachatctl: send-file takes a path and one caption "
                "(quote it)\n");
        return 2;
    }

    in = fopen(argv[2], "r");
    if (in == NULL || fseek(in, 0, SEEK_END) != 0
        || (size = ftell(in)) < 0 || fseek(in, 0, SEEK_SET) != 0)
    {
        fprintf(stderr, "wachatctl: %s: cannot read it\n", argv[2]);
        if (in) {
            fclose(in);
        }
        return 1;
    }

    if (wachatctl_conv(ctl->st, argv[1], conv, sizeof(conv)) != 0) {
        fclose(in);
        return 1;
    }

    ms = wachat_media_store_open(ctl->cfg->media_dir,
                                 ctl->cfg->media_max_bytes,
                                 ctl->cfg->media_max_age_ms, err,
                                 sizeof(err));

    arc = wachat_agent_send_file(ctl->st, ctl->cfg, ms, argv[0], conv, in,
                                 (size_t) size, argv[2], NULL,
                                 argc > 3 ? argv[3] : NULL, NULL, 0, why,
                                 sizeof(why));
    fclose(in);
    wachat_media_store_close(ms);

    if (arc != WACHAT_AGENT_OK && why[0]) {
        fprintf(stderr, "wachatctl: %s: %s%s%s\n",
                wachat_agent_error_name(arc), why,
                ms == NULL ? ": " : "", ms == NULL ? err : "");
        return 1;
    }

    rc = wachatctl_agent_rc(arc, "queued: wachatd uploads and sends it");

    return rc;
}


/* --- templates ---------------------------------------------------------- */

typedef struct {
    struct event_base  *base;
    int                 done;
    int                 ok;
    char                why[512];
    wachat_redis_t     *st;
    const char         *waba;
} wachatctl_fetch_t;


static void
wachatctl_fetched(void *data, const wachat_graph_reply_t *reply,
    const char *json, size_t len)
{
    const char         *explain;
    wachatctl_fetch_t  *f = data;

    f->done = 1;

    if (reply->result == WACHAT_GRAPH_OK && json) {
        f->ok = wachat_templates_save(f->st, f->waba, json, len) == 0;
        snprintf(f->why, sizeof(f->why), "%s", f->ok ? "" : "cannot write "
                 "them to Redis");

    } else {
        explain = reply->code >= 0 ? wachat_graph_explain(reply->code) : NULL;
        snprintf(f->why, sizeof(f->why), "HTTP %ld, code %ld: %s%s%s",
                 reply->http_status, reply->code,
                 reply->message ? reply->message : "-",
                 explain ? " \xe2\x80\x94 " : "", explain ? explain : "");
    }

    event_base_loopbreak(f->base);
}


/* the templates, fetched now into the cache wachatd keeps */
static int
wachatctl_fetch_templates(wachatctl_t *ctl)
{
    const char           *why;
    wachat_http_t        *http;
    wachat_graph_t       *g;
    wachatctl_fetch_t     f;
    wachat_graph_conf_t   gc;
    char                  waba[40];

    memset(&f, 0, sizeof(f));
    f.st = ctl->st;

    if (wachat_templates_waba(ctl->st, ctl->cfg, waba, sizeof(waba)) != 0) {
        fprintf(stderr, "wachatctl: no WABA id known (waba_id)\n");
        return 1;
    }

    f.waba = waba;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    f.base = event_base_new();
    http = f.base ? wachat_http_new(f.base, 2) : NULL;

    gc.api_url = ctl->cfg->graph_api_url;
    gc.token = ctl->cfg->graph_token.value;
    gc.timeout_ms = ctl->cfg->graph_timeout_ms;
    why = NULL;
    g = http ? wachat_graph_new(http, &gc, &why) : NULL;

    if (g == NULL) {
        snprintf(f.why, sizeof(f.why), "%s", why ? why : "out of memory");

    } else if (wachat_graph_templates(g, f.waba, wachatctl_fetched, &f)
               != 0)
    {
        snprintf(f.why, sizeof(f.why), "cannot ask the Graph API");

    } else {
        while (!f.done) {
            event_base_dispatch(f.base);
        }
    }

    wachat_graph_free(g);
    wachat_http_free(http);
    if (f.base) {
        event_base_free(f.base);
    }
    curl_global_cleanup();

    if (!f.ok) {
        fprintf(stderr, "wachatctl: templates of WABA %s not fetched: %s\n",
                f.waba, f.why);
        return 1;
    }

    return 0;
}


static int
wachatctl_templates(wachatctl_t *ctl, int argc, char **argv)
{
    size_t       i;
    yajl_val     root, list, t;
    long long    fetched;
    const char  *category;
    char         when[64], waba[40];

    static const char  *list_p[] = { "templates", NULL };

    if (wachat_templates_waba(ctl->st, ctl->cfg, waba, sizeof(waba)) != 0) {
        fprintf(stderr, "wachatctl: templates need waba_id in the config "
                "(the WhatsApp Business Account id, WhatsApp Manager), or "
                "a webhook that names the account\n");
        return 1;
    }

    root = (argc > 0 && strcmp(argv[0], "--refresh") == 0)
           ? NULL : wachat_templates_load(ctl->st, &fetched);

    if (argc > 0 && strcmp(argv[0], "--refresh") != 0) {
        fprintf(stderr, "wachatctl: templates takes --refresh only\n");
        return 2;
    }

    if (root == NULL) {
        if (wachatctl_fetch_templates(ctl) != 0) {
            return 1;
        }

        root = wachat_templates_load(ctl->st, &fetched);
    }

    list = root ? yajl_tree_get(root, list_p, yajl_t_array) : NULL;
    wachatctl_time_ms(fetched, when, sizeof(when));
    printf("%zu approved template(s) of WABA %s, fetched %s\n",
           list ? list->u.array.len : 0, waba, when);

    for (i = 0; list && i < list->u.array.len; i++) {
        t = list->u.array.values[i];
        category = wachat_template_str(t, "category");
        printf("\n%s  %s  %s\n  %s\n",
               wachat_template_str(t, "name"),
               wachat_template_str(t, "language"),
               category ? category : "-",
               wachat_template_str(t, "body")
               ? wachat_template_str(t, "body") : "");
    }

    yajl_tree_free(root);

    return 0;
}


static int
wachatctl_send_template(wachatctl_t *ctl, int argc, char **argv)
{
    yajl_val           root;
    wachat_agent_rc_e  rc;
    char               conv[256], why[512];

    if (wachatctl_conv(ctl->st, argv[1], conv, sizeof(conv)) != 0) {
        return 1;
    }

    /* the first use may come before wachatd fetched them */
    root = wachat_templates_load(ctl->st, NULL);

    if (root == NULL && wachatctl_fetch_templates(ctl) != 0)
    {
        return 1;
    }

    yajl_tree_free(root);

    rc = wachat_agent_send_template(ctl->st, ctl->cfg, argv[0], conv,
                                    argv[2], argv[3],
                                    (const char *const *) argv + 4,
                                    (size_t) (argc - 4), NULL, 0, why,
                                    sizeof(why));

    if (rc != WACHAT_AGENT_OK && why[0]) {
        fprintf(stderr, "wachatctl: %s: %s\n", wachat_agent_error_name(rc),
                why);
        return 1;
    }

    return wachatctl_agent_rc(rc, "queued: wachatd sends it");
}


static int
wachatctl_resolve(wachatctl_t *ctl, int argc, char **argv)
{
    char  conv[256];

    (void) argc;

    if (wachatctl_conv(ctl->st, argv[0], conv, sizeof(conv)) != 0) {
        return 1;
    }

    return wachatctl_agent_rc(wachat_agent_resolve(ctl->st, ctl->cfg, NULL,
                                                   conv),
                              "back with the AI");
}


static int
wachatctl_transfer(wachatctl_t *ctl, int argc, char **argv)
{
    char  conv[256];

    (void) argc;

    if (wachatctl_conv(ctl->st, argv[1], conv, sizeof(conv)) != 0) {
        return 1;
    }

    return wachatctl_agent_rc(wachat_agent_transfer(ctl->st, ctl->cfg,
                                                    argv[0], conv, argv[2]),
                              "transferred");
}


static int
wachatctl_note(wachatctl_t *ctl, int argc, char **argv)
{
    char  conv[256];

    (void) argc;

    if (wachatctl_conv(ctl->st, argv[1], conv, sizeof(conv)) != 0) {
        return 1;
    }

    return wachatctl_agent_rc(wachat_agent_note(ctl->st, ctl->cfg, argv[0],
                                                conv, argv[2]),
                              "noted");
}


/* ask <question>: the kb file's answer, as the daemon would give it */
static int
wachatctl_ask(wachatctl_t *ctl, int argc, char **argv)
{
    int                 rc;
    char                err[WACHAT_ERRLEN];
    size_t              i, n;
    wachat_kb_t        *kb;
    wachat_reply_t      reply;
    wachat_kb_hit_t     hits[5];
    wachat_question_t   q;

    (void) argc;

    kb = wachat_kb_load(ctl->cfg->kb, err, sizeof(err));
    if (kb == NULL) {
        fprintf(stderr, "wachatctl: %s\n", err);
        return 1;
    }

    memset(&q, 0, sizeof(q));
    q.type = "text";
    q.text = argv[0];

    rc = wachat_answer_kb(kb, ctl->cfg->kb_min_score, ctl->cfg->fallback_text,
                          &q, &reply);
    n = wachat_kb_search(kb, argv[0], strlen(argv[0]), hits, 5);

    if (rc > 0) {
        printf("%s\n%s\n\n", strcmp(reply.source, "fallback") == 0
                                ? "no confident answer: the fallback"
                                : reply.source, reply.text);
        wachat_answer_free(&reply);
    }

    for (i = 0; i < n; i++) {
        printf("  %.2f %s #%s  %s\n", hits[i].score,
               hits[i].score >= ctl->cfg->kb_min_score ? ">=" : "< ",
               hits[i].entry->id, hits[i].entry->question);
    }

    printf("(kb_min_score %.2f, %s)\n", ctl->cfg->kb_min_score, ctl->cfg->kb);
    wachat_kb_free(kb);

    return rc < 0;
}


/* unanswered [--since 7d] [--lang xx] */
static int
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
    }

    wachat_unanswered_free(&u);

    return 0;
}


/* the conversation a wa_id names, or a message saying there is none */
static int
wachatctl_conv(wachat_redis_t *st, const char *who, char *conv, size_t len)
{
    if (wachatctl_find(st, who, conv, len) != 0) {
        fprintf(stderr, "wachatctl: no conversation with %s\n", who);
        return -1;
    }

    return 0;
}


/* a field of a HGETALL reply or a stream entry, or dflt where it has none */
static const char *
wachatctl_field_or(const redisReply *kv, const char *name, const char *dflt)
{
    const char  *v = wachat_redis_reply_field(kv, name);

    return v ? v : dflt;
}


static void
wachatctl_time(const char *unix_s, char *buf, size_t len)
{
    time_t     t;
    struct tm  tm;

    t = unix_s ? (time_t) atoll(unix_s) : 0;

    if (t == 0 || gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, len, "-");
        return;
    }

    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}


static void
wachatctl_time_ms(long long ms, char *buf, size_t len)
{
    char  s[32];

    snprintf(s, sizeof(s), "%lld", ms / 1000);
    wachatctl_time(s, buf, len);
    snprintf(buf + strlen(buf), len - strlen(buf), " UTC");
}


static int
wachatctl_agent_rc(wachat_agent_rc_e rc, const char *done)
{
    if (rc == WACHAT_AGENT_OK) {
        printf("%s\n", done);
        return 0;
    }

    fprintf(stderr, "wachatctl: %s: %s\n", wachat_agent_error_name(rc),
            wachat_agent_error_text(rc));

    return 1;
}


/* the 200 most recent conversations, those in one mode if only is set */
static int
wachatctl_list(wachat_redis_t *st, const char *only)
{
    size_t       i;
    redisReply  *list, *c;
    char         key[WACHAT_KEY_MAX], when[64];
    const char  *name, *mode;

    list = wachat_redis_cmd(st, "ZREVRANGE %s 0 199", WACHAT_KEY_CONVS);
    if (list == NULL || list->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "wachatctl: %s\n", list ? list->str : st->err);
        freeReplyObject(list);
        return 1;
    }

    printf("%-32s %-24s %-14s %-12s %s\n", "CONVERSATION", "NAME", "MODE",
           "AGENT", "LAST MESSAGE (UTC)");

    for (i = 0; i < list->elements; i++) {
        wachat_store_key_conv(key, list->element[i]->str);
        c = wachat_redis_cmd(st, "HGETALL %s", key);

        name = wachat_redis_reply_field(c, "name");
        mode = wachat_redis_reply_field(c, "mode");
        wachatctl_time(wachat_redis_reply_field(c, "last_in_ts"), when,
                       sizeof(when));

        if (only == NULL || (mode && strcmp(mode, only) == 0)) {
            printf("%-32s %-24s %-14s %-12s %s\n", list->element[i]->str,
                   name ? name : "-", mode ? mode : "-",
                   wachatctl_field_or(c, "agent", "-"), when);
        }

        freeReplyObject(c);
    }

    freeReplyObject(list);

    return 0;
}


/* a bare wa_id is looked up among the known conversations */
static int
wachatctl_find(wachat_redis_t *st, const char *who, char *conv, size_t len)
{
    size_t       i, wlen, clen;
    redisReply  *list;

    if (strchr(who, ':')) {
        snprintf(conv, len, "%s", who);
        return 0;
    }

    list = wachat_redis_cmd(st, "ZREVRANGE %s 0 -1", WACHAT_KEY_CONVS);
    if (list == NULL || list->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(list);
        return -1;
    }

    wlen = strlen(who);

    for (i = 0; i < list->elements; i++) {
        clen = list->element[i]->len;

        if (clen > wlen + 1
            && strcmp(list->element[i]->str + clen - wlen, who) == 0
            && list->element[i]->str[clen - wlen - 1] == ':')
        {
            snprintf(conv, len, "%s", list->element[i]->str);
            freeReplyObject(list);
            return 0;
        }
    }

    freeReplyObject(list);

    return -1;
}


/* show <wa_id | phone_number_id:wa_id>: one conversation's history */
static int
wachatctl_show(wachatctl_t *ctl, int argc, char **argv)
{
    size_t           i;
    redisReply      *hist, *stat;
    char             conv[256], key[WACHAT_KEY_MAX];
    wachat_redis_t  *st;

    (void) argc;

    st = ctl->st;

    if (wachatctl_conv(st, argv[0], conv, sizeof(conv)) != 0) {
        return 1;
    }

    wachatctl_show_customer(st, conv);

    wachat_store_key_hist(key, conv);
    hist = wachat_redis_cmd(st, "XRANGE %s - +", key);
    wachat_store_key_status(key, conv);
    stat = wachat_redis_cmd(st, "HGETALL %s", key);

    if (hist == NULL || hist->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "wachatctl: %s\n", hist ? hist->str : st->err);
        freeReplyObject(hist);
        freeReplyObject(stat);
        return 1;
    }

    for (i = 0; i < hist->elements; i++) {
        wachatctl_show_entry(hist->element[i], stat);
    }

    freeReplyObject(hist);
    freeReplyObject(stat);

    return 0;
}


static void
wachatctl_show_customer(wachat_redis_t *st, const char *conv)
{
    char         key[WACHAT_KEY_MAX];
    redisReply  *c;

    wachat_store_key_conv(key, conv);
    c = wachat_redis_cmd(st, "HGETALL %s", key);

    printf("conversation %s\n", conv);
    printf("customer     %s (%s)\n",
           wachatctl_field_or(c, "name", "-"),
           wachatctl_field_or(c, "wa_id", "-"));
    printf("mode         %s\n", wachatctl_field_or(c, "mode", "-"));
    freeReplyObject(c);
}


/* one history entry: who said what, and for a reply how it fared */
static void
wachatctl_show_entry(const redisReply *e, const redisReply *stat)
{
    int                k;
    char               when[64], bn[16], how[800];
    const char        *dir, *text, *b;
    const redisReply  *kv;

    kv = e->element[1];

    dir = wachat_redis_reply_field(kv, "dir");
    text = wachat_redis_reply_field(kv, "text");
    wachatctl_time(wachat_redis_reply_field(kv, "ts") && dir
                   && strcmp(dir, "in") == 0
                   ? wachat_redis_reply_field(kv, "ts") : NULL, when,
                   sizeof(when));

    if (dir && strcmp(dir, "in") == 0) {
        printf("%s  %s: %s\n", when,
               wachatctl_field_or(kv, "name", "customer"),
               text ? text : wachat_redis_reply_field(kv, "type"));
        wachatctl_show_media(kv);
        return;
    }

    if (dir && strcmp(dir, "note") == 0) {
        printf("%-19s  note by %s: %s\n", "", wachatctl_field_or(kv, "who", "?"),
               text ? text : "");
        return;
    }

    printf("%-19s  %s: %s", "", wachatctl_field_or(kv, "who", "?"),
           text ? text : "");

    if (wachat_redis_reply_field(kv, "score")) {
        wachat_answer_describe(wachat_redis_reply_field(kv, "source"),
                               wachat_redis_reply_field(kv, "score"),
                               wachat_redis_reply_field(kv, "context"),
                               how, sizeof(how));
        printf("  (%s)", how);
    }

    for (k = 1; k <= 3; k++) {
        snprintf(bn, sizeof(bn), "button%d", k);
        b = wachat_redis_reply_field(kv, bn);
        if (b) {
            printf(" [%s]", b);
        }
    }

    wachatctl_show_status(e->element[0]->str, stat);
    wachatctl_show_media(kv);
}


/* a picture's, voice note's or file's line; a location's, a card's */
static void
wachatctl_show_media(const redisReply *kv)
{
    const char  *type, *state, *v;

    type = wachatctl_field_or(kv, "type", "media");
    state = wachat_redis_reply_field(kv, "media_state");

    if (state && strcmp(state, "stored") == 0) {
        printf("%-19s    [%s %s, %s bytes, media_dir/%s%s%s]\n", "", type,
               wachatctl_field_or(kv, "media_mime", "?"),
               wachatctl_field_or(kv, "media_size", "?"),
               wachatctl_field_or(kv, "media_id", "?"),
               wachat_redis_reply_field(kv, "media_name") ? ", " : "",
               wachatctl_field_or(kv, "media_name", ""));

    } else if (state) {
        printf("%-19s    [%s not downloaded: %s]\n", "", type,
               wachatctl_field_or(kv, "media_error", "?"));
    }

    if ((v = wachat_redis_reply_field(kv, "transcript")) != NULL) {
        printf("%-19s    transcript: %s\n", "", v);
    }

    if (wachat_redis_reply_field(kv, "lat")) {
        printf("%-19s    [location %s, %s %s %s]\n", "",
               wachatctl_field_or(kv, "lat", "?"),
               wachatctl_field_or(kv, "lon", "?"),
               wachatctl_field_or(kv, "place", ""),
               wachatctl_field_or(kv, "address", ""));
    }

    if ((v = wachat_redis_reply_field(kv, "contact")) != NULL) {
        printf("%-19s    [contact %s %s]\n", "", v,
               wachatctl_field_or(kv, "phones", ""));
    }

    if ((v = wachat_redis_reply_field(kv, "react_to")) != NULL) {
        printf("%-19s    [reaction to %s]\n", "", v);
    }
}


/* an outbound entry's delivery status, through the wamid it got */
static void
wachatctl_show_status(const char *id, const redisReply *stat)
{
    char         hkey[128];
    const char  *wamid, *status;

    snprintf(hkey, sizeof(hkey), "h:%s", id);
    wamid = wachat_redis_reply_field(stat, hkey);
    status = wamid ? wachat_redis_reply_field(stat, wamid) : NULL;

    if (wamid && strncmp(wamid, "failed|", 7) == 0) {
        printf("  (failed, code %.*s)\n", (int) strcspn(wamid + 7, "|"),
               wamid + 7);

    } else if (status) {
        printf("  (%.*s)\n", (int) strcspn(status, "|"), status);

    } else {
        printf("  (%s)\n", wamid ? "sent" : "queued");
    }
}


static int
wachatctl_dead(wachatctl_t *ctl, int argc, char **argv)
{
    size_t                  i;
    redisReply             *r, *kv;
    wachat_redis_t         *st;
    const wachat_config_t  *cfg;

    (void) argc;
    (void) argv;

    st = ctl->st;
    cfg = ctl->cfg;

    r = wachat_redis_cmd(st, "XRANGE %s - +", cfg->dead_stream);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "wachatctl: %s\n", r ? r->str : st->err);
        freeReplyObject(r);
        return 1;
    }

    for (i = 0; i < r->elements; i++) {
        kv = r->element[i]->element[1];
        printf("%s  %s  code %s  %s\n", r->element[i]->element[0]->str,
               wachatctl_field_or(kv, "conv", "?"),
               wachatctl_field_or(kv, "code", "?"),
               wachatctl_field_or(kv, "reason", ""));
    }

    printf("%zu dead letter(s)\n", r->elements);
    freeReplyObject(r);

    return 0;
}


/*
 * retry <id>: back at the end of the conversation's outbound queue; the
 * daemon's scan of ready conversations picks it up within seconds.
 */
static int
wachatctl_retry(wachatctl_t *ctl, int argc, char **argv)
{
    char                    key[WACHAT_KEY_MAX];
    redisReply             *r, *kv, *x;
    const char             *conv, *reply, *id;
    wachat_redis_t         *st;
    const wachat_config_t  *cfg;

    (void) argc;

    st = ctl->st;
    cfg = ctl->cfg;
    id = argv[0];

    r = wachat_redis_cmd(st, "XRANGE %s %s %s", cfg->dead_stream, id, id);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 1) {
        fprintf(stderr, "wachatctl: no dead letter %s\n", id);
        freeReplyObject(r);
        return 1;
    }

    kv = r->element[0]->element[1];
    conv = wachat_redis_reply_field(kv, "conv");
    reply = wachat_redis_reply_field(kv, "reply");

    if (conv == NULL || reply == NULL) {
        fprintf(stderr, "wachatctl: dead letter %s has no reply\n", id);
        freeReplyObject(r);
        return 1;
    }

    wachat_store_key_outq(key, conv);
    x = wachat_redis_cmd(st, "RPUSH %s %s", key, reply);
    freeReplyObject(x);
    x = wachat_redis_cmd(st, "SADD %s %s", WACHAT_KEY_READY, conv);
    freeReplyObject(x);
    x = wachat_redis_cmd(st, "XDEL %s %s", cfg->dead_stream, id);
    freeReplyObject(x);

    printf("requeued %s for %s\n", id, conv);
    freeReplyObject(r);

    return 0;
}


static char *
wachatctl_read_secret(const char *path)
{
    char    buf[4096];
    FILE   *f;
    size_t  n;

    f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }

    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';

    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'
                 || buf[n - 1] == ' '))
    {
        buf[--n] = '\0';
    }

    return n ? strdup(buf) : NULL;
}


/*
 * doctor [--phone-number-id ID] [--callback URL --app-secret-file PATH]
 *        [--replicas N]
 */
static int
wachatctl_doctor(wachatctl_t *ctl, int argc, char **argv)
{
    int                    i, rc;
    char                  *secret;
    wachat_doctor_opts_t   opts;

    memset(&opts, 0, sizeof(opts));
    opts.replicas = -1;
    secret = NULL;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--phone-number-id") == 0 && i + 1 < argc) {
            opts.phone_number_id = argv[++i];

        } else if (strcmp(argv[i], "--callback") == 0 && i + 1 < argc) {
            opts.callback_url = argv[++i];

        } else if (strcmp(argv[i], "--replicas") == 0 && i + 1 < argc) {
            opts.replicas = atoi(argv[++i]);

        } else if (strcmp(argv[i], "--app-secret-file") == 0 && i + 1 < argc) {
            secret = wachatctl_read_secret(argv[++i]);

            if (secret == NULL) {
                fprintf(stderr, "wachatctl: cannot read the app secret from "
                        "%s\n", argv[i]);
                return 2;
            }

        } else {
            fprintf(stderr, "wachatctl: doctor: unknown option %s\n",
                    argv[i]);
            free(secret);
            return 2;
        }
    }

    opts.app_secret = secret;
    rc = wachat_doctor(ctl->st, ctl->cfg, &opts);

    if (secret) {
        memset(secret, 0, strlen(secret));
        free(secret);
    }

    return rc;
}
