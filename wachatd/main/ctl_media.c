/*
 * wachatctl send-file, templates, send-template: what an agent sends that
 * is not plain text, and the approved templates it may send.
 */

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "agents/agents.h"
#include "clients/graph.h"
#include "main/ctl_int.h"
#include "store/media.h"


/*
 * The file is checked (type by its extension, size) before anything else,
 * copied into media_dir, and queued: wachatd uploads it and sends it.
 */
int
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


int
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


int
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
