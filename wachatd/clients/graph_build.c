/*
 * graph_build: the Graph API request bodies (see graph.h): a reply with
 * its limits checked, and the mark-as-read.  Built once per reply, when
 * the conversation commits it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yajl/yajl_gen.h>

#include "clients/graph.h"
#include "lib/json.h"
#include "wachat_utf8.h"


/* --- UTF-8 ------------------------------------------------------------ */

/* Code points in s, or -1 when s is not valid UTF-8. */
static long
wachat_graph_chars(const char *s)
{
    size_t  len;

    len = strlen(s);
    if (!wachat_utf8_valid(s, len)) {
        return -1;
    }

    return (long) wachat_utf8_count(s, len);
}


/* stops at the first byte that is not UTF-8, as the builders refuse it */
size_t
wachat_graph_clip(const char *s, size_t max)
{
    size_t    i, n, len;
    uint32_t  cp;

    len = strlen(s);

    for (i = 0; i < len && max > 0; i += n, max--) {
        n = wachat_utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            break;
        }
    }

    return i;
}


/* Non-empty, valid UTF-8, at most max code points. */
static int
wachat_graph_check_text(const char *s, long max)
{
    long  n;

    if (s == NULL) {
        return -1;
    }

    n = wachat_graph_chars(s);

    return (n >= 1 && n <= max) ? 0 : -1;
}


/* --- JSON generation -------------------------------------------------- */

/* "key": {"name": "value"} */
static int
wachat_graph_put_obj(yajl_gen g, const char *key, const char *name,
    const char *value)
{
    int  rc;

    rc = wachat_json_put_str(g, key);
    rc |= yajl_gen_map_open(g) != yajl_gen_status_ok;
    rc |= wachat_json_put_kv(g, name, value);
    rc |= yajl_gen_map_close(g) != yajl_gen_status_ok;

    return rc ? -1 : 0;
}


/* "messaging_product", "recipient_type", "to": common head of a send */
static int
wachat_graph_gen_head(yajl_gen g, const char *to, const char *type)
{
    int  rc = 0;

    rc |= wachat_json_put_kv(g, "messaging_product", "whatsapp");
    rc |= wachat_json_put_kv(g, "recipient_type", "individual");
    rc |= wachat_json_put_kv(g, "to", to);
    rc |= wachat_json_put_kv(g, "type", type);

    return rc;
}


static int
wachat_graph_gen_buttons(yajl_gen g, const wachat_graph_msg_t *m)
{
    size_t  i;
    int     rc = 0;

    rc |= wachat_json_put_str(g, "interactive");
    rc |= yajl_gen_map_open(g);
    rc |= wachat_json_put_kv(g, "type", "button");
    rc |= wachat_graph_put_obj(g, "body", "text", m->text);

    if (m->footer) {
        rc |= wachat_graph_put_obj(g, "footer", "text", m->footer);
    }

    rc |= wachat_json_put_str(g, "action");
    rc |= yajl_gen_map_open(g);
    rc |= wachat_json_put_str(g, "buttons");
    rc |= yajl_gen_array_open(g);

    for (i = 0; i < m->nbuttons; i++) {
        rc |= yajl_gen_map_open(g);
        rc |= wachat_json_put_kv(g, "type", "reply");
        rc |= wachat_json_put_str(g, "reply");
        rc |= yajl_gen_map_open(g);
        rc |= wachat_json_put_kv(g, "id", m->buttons[i].id);
        rc |= wachat_json_put_kv(g, "title", m->buttons[i].title);
        rc |= yajl_gen_map_close(g);
        rc |= yajl_gen_map_close(g);
    }

    rc |= yajl_gen_array_close(g);
    rc |= yajl_gen_map_close(g);
    rc |= yajl_gen_map_close(g);

    return rc;
}


static const char *
wachat_graph_check_msg(const wachat_graph_msg_t *m)
{
    size_t                        i, j;
    const wachat_graph_button_t  *b;

    if (m->to == NULL || m->to[0] == '\0') {
        return "no recipient (to)";
    }

    if (m->reply_to && m->reply_to[0] == '\0') {
        return "empty context.message_id";
    }

    if (m->nbuttons == 0) {
        if (wachat_graph_check_text(m->text, WACHAT_GRAPH_TEXT_MAX) != 0) {
            return "text.body must be 1..4096 characters of valid UTF-8";
        }

        return NULL;
    }

    if (m->nbuttons > WACHAT_GRAPH_BUTTONS_MAX || m->buttons == NULL) {
        return "at most 3 reply buttons";
    }

    if (wachat_graph_check_text(m->text, WACHAT_GRAPH_BUTTON_BODY_MAX) != 0) {
        return "interactive body.text must be 1..1024 characters of UTF-8";
    }

    if (m->footer
        && wachat_graph_check_text(m->footer, WACHAT_GRAPH_FOOTER_MAX) != 0)
    {
        return "footer.text must be 1..60 characters of valid UTF-8";
    }

    for (i = 0; i < m->nbuttons; i++) {
        b = &m->buttons[i];
        if (wachat_graph_check_text(b->id, WACHAT_GRAPH_ID_MAX) != 0) {
            return "a reply button id must be 1..256 characters";
        }

        if (wachat_graph_check_text(b->title, WACHAT_GRAPH_TITLE_MAX) != 0) {
            return "a reply button title must be 1..20 characters";
        }

        for (j = 0; j < i; j++) {
            if (strcmp(m->buttons[i].id, m->buttons[j].id) == 0) {
                return "reply button ids must be unique";
            }

            if (strcmp(m->buttons[i].title, m->buttons[j].title) == 0) {
                return "reply button titles must be unique";
            }
        }
    }

    return NULL;
}


int
wachat_graph_build(const wachat_graph_msg_t *m, char **json, size_t *len,
    const char **why)
{
    const char  *bad;
    yajl_gen     g;
    int          rc = 0;

    bad = m ? wachat_graph_check_msg(m) : "no message";
    if (bad) {
        *why = bad;
        return -1;
    }

    if (wachat_graph_chars(m->to) < 0
        || (m->reply_to && wachat_graph_chars(m->reply_to) < 0))
    {
        *why = "invalid UTF-8 in to or context.message_id";
        return -1;
    }

    g = wachat_json_gen_strict();
    if (g == NULL) {
        *why = "out of memory";
        return -1;
    }

    rc |= yajl_gen_map_open(g);

    if (m->nbuttons == 0) {
        rc |= wachat_graph_gen_head(g, m->to, "text");
        rc |= wachat_json_put_str(g, "text");
        rc |= yajl_gen_map_open(g);
        rc |= wachat_json_put_str(g, "preview_url");
        rc |= yajl_gen_bool(g, m->preview_url != 0);
        rc |= wachat_json_put_kv(g, "body", m->text);
        rc |= yajl_gen_map_close(g);
    } else {
        rc |= wachat_graph_gen_head(g, m->to, "interactive");
        rc |= wachat_graph_gen_buttons(g, m);
    }

    if (m->reply_to) {
        rc |= wachat_graph_put_obj(g, "context", "message_id", m->reply_to);
    }

    rc |= yajl_gen_map_close(g);

    if (wachat_json_gen_finish(g, rc, json, len) != 0) {
        *why = "cannot generate the JSON body";
        return -1;
    }

    return 0;
}


/* --- media ----------------------------------------------------------- */

#define WACHAT_MB  (1024 * 1024)

static const wachat_graph_media_type_t  wachat_graph_media_types[] = {
    { "image/jpeg", ".jpg", "image", 5 * WACHAT_MB },
    { "image/jpeg", ".jpeg", "image", 5 * WACHAT_MB },
    { "image/png", ".png", "image", 5 * WACHAT_MB },
    { "audio/aac", ".aac", "audio", 16 * WACHAT_MB },
    { "audio/amr", ".amr", "audio", 16 * WACHAT_MB },
    { "audio/mpeg", ".mp3", "audio", 16 * WACHAT_MB },
    { "audio/mp4", ".m4a", "audio", 16 * WACHAT_MB },
    { "audio/ogg", ".ogg", "audio", 16 * WACHAT_MB },
    { "video/mp4", ".mp4", "video", 16 * WACHAT_MB },
    { "video/3gpp", ".3gp", "video", 16 * WACHAT_MB },
    { "application/pdf", ".pdf", "document", 100 * WACHAT_MB },
    { "text/plain", ".txt", "document", 100 * WACHAT_MB },
    { "application/msword", ".doc", "document", 100 * WACHAT_MB },
    { "application/vnd.openxmlformats-officedocument.wordprocessingml"
      ".document", ".docx", "document", 100 * WACHAT_MB },
    { "application/vnd.ms-excel", ".xls", "document", 100 * WACHAT_MB },
    { "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
      ".xlsx", "document", 100 * WACHAT_MB },
    { "application/vnd.ms-powerpoint", ".ppt", "document", 100 * WACHAT_MB },
    { "application/vnd.openxmlformats-officedocument.presentationml"
      ".presentation", ".pptx", "document", 100 * WACHAT_MB },
    { NULL, NULL, NULL, 0 }
};


const wachat_graph_media_type_t *
wachat_graph_media_type(const char *mime)
{
    size_t                            n;
    const wachat_graph_media_type_t  *t;

    if (mime == NULL) {
        return NULL;
    }

    /* "audio/ogg; codecs=opus": the bare type decides */
    n = strcspn(mime, "; ");

    for (t = wachat_graph_media_types; t->mime; t++) {
        if (strlen(t->mime) == n && strncasecmp(t->mime, mime, n) == 0) {
            return t;
        }
    }

    return NULL;
}


const wachat_graph_media_type_t *
wachat_graph_media_type_of(const char *filename)
{
    const char                       *dot;
    const wachat_graph_media_type_t  *t;

    dot = filename ? strrchr(filename, '.') : NULL;
    if (dot == NULL) {
        return NULL;
    }

    for (t = wachat_graph_media_types; t->mime; t++) {
        if (strcasecmp(t->ext, dot) == 0) {
            return t;
        }
    }

    return NULL;
}


int
wachat_graph_media_allowed(const char *mime, size_t size, char *why,
    size_t len)
{
    const wachat_graph_media_type_t  *t;

    t = wachat_graph_media_type(mime);

    if (t == NULL) {
        snprintf(why, len, "WhatsApp does not take files of type %s: send "
                 "an image (jpeg, png), audio (aac, amr, mp3, m4a, ogg), "
                 "video (mp4, 3gpp) or a document (pdf, txt, office)",
                 mime && mime[0] ? mime : "unknown");
        return -1;
    }

    if (size == 0) {
        snprintf(why, len, "the file is empty");
        return -1;
    }

    if (size > t->max) {
        snprintf(why, len, "%s %s (%s) may be %zu MB at most; this one is "
                 "%.1f MB", strcmp(t->kind, "image") == 0 ? "an" : "a",
                 t->kind, t->mime, t->max / WACHAT_MB,
                 (double) size / WACHAT_MB);
        return -1;
    }

    return 0;
}


int
wachat_graph_build_media(const char *to, const char *kind,
    const char *media_id, const char *caption, const char *filename,
    char **json, size_t *len, const char **why)
{
    int       rc = 0;
    yajl_gen  g;

    if (to == NULL || kind == NULL || media_id == NULL
        || wachat_graph_chars(to) < 0 || wachat_graph_chars(media_id) < 1)
    {
        *why = "no recipient, kind or media id";
        return -1;
    }

    if (strcmp(kind, "audio") == 0) {
        caption = NULL;         /* WhatsApp takes none with audio */
    }

    if (caption && caption[0]
        && wachat_graph_check_text(caption, WACHAT_GRAPH_CAPTION_MAX) != 0)
    {
        *why = "caption is not 1-1024 characters of UTF-8";
        return -1;
    }

    if (filename && filename[0] && wachat_graph_chars(filename) < 0) {
        *why = "file name is not UTF-8";
        return -1;
    }

    g = wachat_json_gen_strict();
    if (g == NULL) {
        *why = "out of memory";
        return -1;
    }

    rc |= yajl_gen_map_open(g);
    rc |= wachat_graph_gen_head(g, to, kind);
    rc |= wachat_json_put_str(g, kind);
    rc |= yajl_gen_map_open(g);
    rc |= wachat_json_put_kv(g, "id", media_id);

    if (caption && caption[0]) {
        rc |= wachat_json_put_kv(g, "caption", caption);
    }

    if (filename && filename[0] && strcmp(kind, "document") == 0) {
        rc |= wachat_json_put_kv(g, "filename", filename);
    }

    rc |= yajl_gen_map_close(g);
    rc |= yajl_gen_map_close(g);

    if (wachat_json_gen_finish(g, rc, json, len) != 0) {
        *why = "cannot generate the JSON body";
        return -1;
    }

    return 0;
}


int
wachat_graph_build_template(const char *to, const char *name,
    const char *language, const char *const *params, size_t nparams,
    char **json, size_t *len, const char **why)
{
    int       rc = 0;
    size_t    i;
    yajl_gen  g;

    if (to == NULL || name == NULL || language == NULL
        || wachat_graph_chars(to) < 0 || wachat_graph_chars(name) < 1
        || wachat_graph_chars(language) < 1)
    {
        *why = "no recipient, template name or language";
        return -1;
    }

    for (i = 0; i < nparams; i++) {
        if (wachat_graph_check_text(params[i], WACHAT_GRAPH_TEXT_MAX) != 0) {
            *why = "a template parameter is empty or not UTF-8";
            return -1;
        }
    }

    g = wachat_json_gen_strict();
    if (g == NULL) {
        *why = "out of memory";
        return -1;
    }

    rc |= yajl_gen_map_open(g);
    rc |= wachat_graph_gen_head(g, to, "template");
    rc |= wachat_json_put_str(g, "template");
    rc |= yajl_gen_map_open(g);
    rc |= wachat_json_put_kv(g, "name", name);
    rc |= wachat_graph_put_obj(g, "language", "code", language);

    if (nparams) {
        rc |= wachat_json_put_str(g, "components");
        rc |= yajl_gen_array_open(g);
        rc |= yajl_gen_map_open(g);
        rc |= wachat_json_put_kv(g, "type", "body");
        rc |= wachat_json_put_str(g, "parameters");
        rc |= yajl_gen_array_open(g);

        for (i = 0; i < nparams; i++) {
            rc |= yajl_gen_map_open(g);
            rc |= wachat_json_put_kv(g, "type", "text");
            rc |= wachat_json_put_kv(g, "text", params[i]);
            rc |= yajl_gen_map_close(g);
        }

        rc |= yajl_gen_array_close(g);
        rc |= yajl_gen_map_close(g);
        rc |= yajl_gen_array_close(g);
    }

    rc |= yajl_gen_map_close(g);
    rc |= yajl_gen_map_close(g);

    if (wachat_json_gen_finish(g, rc, json, len) != 0) {
        *why = "cannot generate the JSON body";
        return -1;
    }

    return 0;
}


size_t
wachat_graph_template_params(const char *body)
{
    char          *end;
    size_t         max;
    unsigned long  n;
    const char    *p;

    max = 0;

    for (p = body ? strstr(body, "{{") : NULL; p; p = strstr(p + 2, "{{")) {
        n = strtoul(p + 2, &end, 10);

        if (end != p + 2 && strncmp(end, "}}", 2) == 0 && n > max
            && n < 100)
        {
            max = n;
        }
    }

    return max;
}


int
wachat_graph_build_read(const char *wamid, int typing, char **json,
    size_t *len, const char **why)
{
    yajl_gen  g;
    int       rc = 0;

    if (wamid == NULL || wamid[0] == '\0' || wachat_graph_chars(wamid) < 0) {
        *why = "no message id to mark read";
        return -1;
    }

    g = wachat_json_gen_strict();
    if (g == NULL) {
        *why = "out of memory";
        return -1;
    }

    rc |= yajl_gen_map_open(g);
    rc |= wachat_json_put_kv(g, "messaging_product", "whatsapp");
    rc |= wachat_json_put_kv(g, "status", "read");
    rc |= wachat_json_put_kv(g, "message_id", wamid);

    if (typing) {
        rc |= wachat_graph_put_obj(g, "typing_indicator", "type", "text");
    }

    rc |= yajl_gen_map_close(g);

    if (wachat_json_gen_finish(g, rc, json, len) != 0) {
        *why = "cannot generate the JSON body";
        return -1;
    }

    return 0;
}
