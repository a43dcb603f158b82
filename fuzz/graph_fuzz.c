/*
 * libFuzzer target for the Graph API answers and bodies (wachatd/clients/graph.h):
 * wachat_graph_parse() for each op, wachat_graph_build() and
 * wachat_graph_build_read() with strings cut from the input, and the pure
 * helpers (clip, classify, backoff, attempts, explain).
 *
 * Input: byte 0 picks the op, the transport error and the message shape;
 * bytes 1-2 pick the HTTP status (a table of the usual ones, or any value
 * up to 999); the rest is the answer body.  The same rest, split at \x01,
 * gives to, text, context.message_id, footer and up to 4 buttons.
 *
 * Besides ASan/UBSan it aborts when a reply breaks graph.h: a result out
 * of range, OK without messages[0].id for a send or outside 2xx, no
 * message when not OK; or when a body built from the strings is not JSON
 * that carries exactly those strings within WhatsApp's limits.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "clients/graph.h"
#include "fuzz_common.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#define NFIELDS  12


static const long  statuses[] = {
    0, 200, 201, 204, 299, 301, 400, 401, 403, 404, 408, 429, 500, 502,
    503, 504
};


/* code points of valid UTF-8 */
static size_t
chars(const char *s)
{
    size_t  n = 0;

    for ( /* void */ ; *s; s++) {
        n += ((unsigned char) *s & 0xc0) != 0x80;
    }
    return n;
}


static const char *
get(yajl_val root, const char *a, const char *b, const char *c)
{
    const char  *path[4] = { a, b, c, NULL };
    yajl_val     v;

    v = yajl_tree_get(root, path, yajl_t_string);
    return v ? v->u.string : NULL;
}


static void
check_parse(wachat_graph_op_e op, long status, const char *body, size_t len,
    const char *terr)
{
    wachat_graph_reply_t   r;
    wachat_graph_result_e  res;

    res = wachat_graph_parse(op, status, body, len, terr, &r);

    check(res == r.result && res >= WACHAT_GRAPH_OK
          && res <= WACHAT_GRAPH_PERMANENT);
    check(r.op == op && r.http_status == status);
    check(wachat_graph_result_name(res) != NULL);

    if (res == WACHAT_GRAPH_OK) {
        check(status >= 200 && status <= 299 && r.code == -1);
        check(op != WACHAT_GRAPH_OP_SEND
              || (r.wamid != NULL && r.wamid[0] != '\0'));
    } else {
        check(r.message != NULL && r.wamid == NULL);
    }

    (void) wachat_graph_explain(r.code);
    (void) wachat_graph_max_attempts(r.code, res);
    (void) wachat_graph_classify(r.subcode, status);

    wachat_graph_reply_free(&r);
    check(r.message == NULL && r.wamid == NULL);
}


static void
check_built(const wachat_graph_msg_t *m, const char *json, size_t len)
{
    char         errbuf[128];
    size_t       i;
    yajl_val     root, v;
    const char  *s;
    const char  *btn_p[] = { "interactive", "action", "buttons", NULL };

    check(json != NULL && strlen(json) == len);

    root = yajl_tree_parse(json, errbuf, sizeof(errbuf));
    check(root != NULL && YAJL_IS_OBJECT(root));

    s = get(root, "to", NULL, NULL);
    check(s != NULL && strcmp(s, m->to) == 0);

    s = get(root, "context", "message_id", NULL);
    check(m->reply_to ? s && strcmp(s, m->reply_to) == 0 : s == NULL);

    if (m->nbuttons == 0) {
        s = get(root, "text", "body", NULL);
        check(s != NULL && strcmp(s, m->text) == 0
              && chars(s) <= WACHAT_GRAPH_TEXT_MAX);

    } else {
        s = get(root, "interactive", "body", "text");
        check(s != NULL && strcmp(s, m->text) == 0
              && chars(s) <= WACHAT_GRAPH_BUTTON_BODY_MAX);

        s = get(root, "interactive", "footer", "text");
        check(m->footer ? s && strcmp(s, m->footer) == 0
                          && chars(s) <= WACHAT_GRAPH_FOOTER_MAX
                        : s == NULL);

        v = yajl_tree_get(root, btn_p, yajl_t_array);
        check(v != NULL && v->u.array.len == m->nbuttons
              && m->nbuttons <= WACHAT_GRAPH_BUTTONS_MAX);

        for (i = 0; i < m->nbuttons; i++) {
            s = get(v->u.array.values[i], "reply", "id", NULL);
            check(s && strcmp(s, m->buttons[i].id) == 0
                  && chars(s) <= WACHAT_GRAPH_ID_MAX);
            s = get(v->u.array.values[i], "reply", "title", NULL);
            check(s && strcmp(s, m->buttons[i].title) == 0
                  && chars(s) <= WACHAT_GRAPH_TITLE_MAX);
        }
    }

    yajl_tree_free(root);
}


static void
check_build(const char *rest, size_t len, unsigned flags)
{
    char                   *copy, *f[NFIELDS], *json;
    size_t                  n, i, jlen, clip;
    const char             *why;
    wachat_graph_msg_t      m;
    wachat_graph_button_t   b[4];

    copy = split_fields(rest, len, f, NFIELDS, &n);

    for (i = 0; i < 4; i++) {
        b[i].id = f[4 + 2 * i];
        b[i].title = f[5 + 2 * i];
    }

    memset(&m, 0, sizeof(m));
    m.to = f[0];
    m.text = f[1];
    m.reply_to = (flags & 0x10) ? f[2] : NULL;
    m.footer = (flags & 0x20) ? f[3] : NULL;
    m.buttons = b;
    m.nbuttons = (flags >> 6) & 3;
    if (m.nbuttons == 3 && (flags & 0x08)) {
        m.nbuttons = 4;                 /* one too many */
    }
    m.preview_url = flags & 1;

    json = NULL;
    why = NULL;
    if (wachat_graph_build(&m, &json, &jlen, &why) == 0) {
        check_built(&m, json, jlen);
        free(json);
    } else {
        check(why != NULL && json == NULL);
    }

    json = NULL;
    why = NULL;
    if (wachat_graph_build_read(f[2], flags & 2, &json, &jlen, &why) == 0) {
        char      errbuf[128];
        yajl_val  root;

        check(json != NULL && strlen(json) == jlen);
        root = yajl_tree_parse(json, errbuf, sizeof(errbuf));
        check(root != NULL
              && strcmp(get(root, "message_id", NULL, NULL), f[2]) == 0);
        yajl_tree_free(root);
        free(json);
    } else {
        check(why != NULL);
    }

    clip = wachat_graph_clip(f[1], len % 64);
    check(clip <= strlen(f[1]));

    free(copy);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long         status, backoff;
    unsigned     flags, attempt;
    const char  *body, *terr;
    wachat_graph_op_e  op;

    if (size < 3) {
        return 0;
    }

    flags = data[0];
    if (data[1] & 0x80) {
        status = (((long) (data[1] & 0x7f) << 8) | data[2]) % 1000;
    } else {
        status = statuses[data[1] % (sizeof(statuses) / sizeof(statuses[0]))];
    }
    body = (const char *) data + 3;
    size -= 3;

    terr = (flags & 4) ? "Operation timed out after 20000 milliseconds"
                       : NULL;

    for (op = WACHAT_GRAPH_OP_SEND; op <= WACHAT_GRAPH_OP_CHECK; op++) {
        check_parse(op, status, body, size, terr);
    }
    check_parse(flags % 3, status, NULL, 0, terr);

    attempt = data[2];
    backoff = wachat_graph_backoff_ms(attempt, WACHAT_GRAPH_RETRY);
    check(backoff >= 100 && backoff <= 60000);
    backoff = wachat_graph_backoff_ms(attempt, WACHAT_GRAPH_PACE);
    check(backoff >= 1000 && backoff <= 15 * 60 * 1100);   /* + 10 % */
    check(wachat_graph_backoff_ms(attempt, WACHAT_GRAPH_OK) == -1);

    check_build(body, size, flags);

    return 0;
}
