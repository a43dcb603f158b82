/*
 * api media: a customer's media item, served to an agent from the local
 * store (GET /api/media/<id>), and the media fields of a history entry.
 *
 * The id is the path's one segment, checked against the store's rule
 * (1..128 of [A-Za-z0-9._-], not starting with a dot): no path from the
 * client ever reaches the file system.  The bytes are the customer's, so
 * they are never let run as a page: nosniff, a sandboxing CSP, and only
 * plain pictures, audio and video are shown inline; anything else is a
 * download with its file name.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "api/api_int.h"
#include "wachat_utf8.h"


/* what a browser may show inline: nothing that runs */
static int
wachat_api_media_inline(const char *mime)
{
    static const char  *types[] = {
        "image/jpeg", "image/png", "image/webp", "image/gif", NULL
    };

    const char  **t;

    if (strncmp(mime, "audio/", 6) == 0 || strncmp(mime, "video/", 6) == 0) {
        return 1;
    }

    for (t = types; *t; t++) {
        if (strcmp(*t, mime) == 0) {
            return 1;
        }
    }

    return 0;
}


/* a type fit for a header: token/token, parameters cut off */
static void
wachat_api_media_type(const char *mime, char *buf, size_t len)
{
    size_t  n;

    n = strspn(mime, "abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/.+-");

    if (n == 0 || (mime[n] != '\0' && mime[n] != ';' && mime[n] != ' ')) {
        snprintf(buf, len, "application/octet-stream");
        return;
    }

    snprintf(buf, len, "%.*s", (int) n, mime);
}


/*
 * attachment; filename="<ASCII, quotes and controls replaced>";
 * filename*=UTF-8''<percent-encoded> (RFC 6266): any name, safely.
 */
static void
wachat_api_media_disposition(const char *name, int show, char *buf,
    size_t len)
{
    size_t          n;
    unsigned char   c;
    const char     *p;
    char            ascii[WACHAT_MEDIA_NAME_MAX], pct[WACHAT_MEDIA_NAME_MAX * 3];

    if (name[0] == '\0') {
        snprintf(buf, len, "%s", show ? "inline" : "attachment");
        return;
    }

    n = 0;
    for (p = name; *p && n + 1 < sizeof(ascii); p++) {
        c = (unsigned char) *p;
        ascii[n++] = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
                     ? '_' : (char) c;
    }
    ascii[n] = '\0';

    n = 0;
    for (p = name; *p && n + 4 < sizeof(pct); p++) {
        c = (unsigned char) *p;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
        {
            pct[n++] = (char) c;

        } else {
            n += (size_t) snprintf(pct + n, 4, "%%%02X", c);
        }
    }
    pct[n] = '\0';

    snprintf(buf, len, "%s; filename=\"%s\"; filename*=UTF-8''%s",
             show ? "inline" : "attachment", ascii, pct);
}


void
wachat_api_media(wachat_api_req_t *r)
{
    int                   fd, show;
    off_t                 size;
    struct evbuffer      *out;
    struct evkeyvalq     *h;
    wachat_media_meta_t   meta;
    char                  type[WACHAT_MEDIA_MIME_MAX], len[32],
                          disp[WACHAT_MEDIA_NAME_MAX * 5];

    if (r->api->media == NULL) {
        wachat_api_error(r, 404, "no_media", "this server keeps no media "
                         "(media_dir is not usable)");
        return;
    }

    if (wachat_media_store_check_id(r->conv) != 0) {
        wachat_api_error(r, 404, "no_media", "no such media item");
        return;
    }

    if (wachat_media_store_get(r->api->media, r->conv, &fd, &meta) != 0) {
        wachat_api_error(r, 404, "no_media", "this media item is not (or no "
                         "longer) kept here");
        return;
    }

    size = lseek(fd, 0, SEEK_END);
    out = evbuffer_new();

    if (size < 0 || out == NULL
        || evbuffer_add_file(out, fd, 0, size) != 0)    /* takes fd */
    {
        if (out) {
            evbuffer_free(out);
        }
        close(fd);
        wachat_api_error(r, 503, "media_unreadable", "the media item cannot "
                         "be read");
        return;
    }

    wachat_api_media_type(meta.mime, type, sizeof(type));
    show = wachat_api_media_inline(type);
    wachat_api_media_disposition(meta.name, show, disp, sizeof(disp));
    snprintf(len, sizeof(len), "%lld", (long long) size);

    h = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Content-Disposition", disp);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Content-Security-Policy",
                      "default-src 'none'; sandbox");
    evhttp_add_header(h, "Cache-Control", "private, max-age=3600");

    evhttp_send_reply(r->req, 200, "OK", out);
    evbuffer_free(out);

    wachat_api_log(r, 200, "media");
}


int
wachat_api_is_file(const char *path)
{
    size_t  n;

    n = path ? strlen(path) : 0;

    return n > 5 && strcmp(path + n - 5, "/file") == 0
           && strstr(path, "/api/conversations/") != NULL;
}


/* a header's percent-encoded UTF-8, decoded; NULL when absent or bad */
static char *
wachat_api_file_header(struct evkeyvalq *in, const char *name)
{
    char        *v;
    size_t       n;
    const char  *h;

    h = evhttp_find_header(in, name);
    if (h == NULL) {
        return NULL;
    }

    v = evhttp_uridecode(h, 0, &n);

    if (v && (strlen(v) != n || !wachat_utf8_valid(v, n))) {
        free(v);
        return NULL;
    }

    return v;
}


void
wachat_api_file(wachat_api_req_t *r)
{
    FILE               *in;
    size_t              len;
    const char         *type;
    char               *name, *caption, hist[64], why[512];
    unsigned char      *bytes;
    struct evbuffer    *body;
    struct evkeyvalq   *h;
    wachat_agent_rc_e   rc;

    h = evhttp_request_get_input_headers(r->req);
    body = evhttp_request_get_input_buffer(r->req);
    len = evbuffer_get_length(body);

    if (len > WACHAT_API_FILE_MAX) {
        wachat_api_error(r, 413, "too_large", "files sent from the console "
                         "may be 16 MB at most; send a larger document with "
                         "wachatctl send-file");
        return;
    }

    type = evhttp_find_header(h, "X-Wachat-File-Type");
    name = wachat_api_file_header(h, "X-Wachat-File-Name");
    caption = wachat_api_file_header(h, "X-Wachat-Caption");

    bytes = evbuffer_pullup(body, -1);
    in = len ? fmemopen(bytes, len, "r") : NULL;

    if (in == NULL) {
        free(name);
        free(caption);
        wachat_api_error(r, 400, "bad_media", "the file is empty");
        return;
    }

    why[0] = '\0';
    hist[0] = '\0';

    rc = wachat_agent_send_file(r->api->st, r->api->cfg, r->api->media,
                                r->agent->id, r->conv, in, len,
                                name ? name : "", type, caption, hist,
                                sizeof(hist), why, sizeof(why));
    fclose(in);
    free(name);
    free(caption);

    wachat_api_queued(r, rc, why, hist, "file queued");
}


static void
wachat_api_media_kv(yajl_gen g, const redisReply *kv, const char *name,
    const char *field)
{
    const redisReply  *v;

    v = wachat_redis_reply_value(kv, field);

    if (v) {
        wachat_api_kv_reply(g, name, v);
    }
}


/*
 * "media": {id, mime, name, state, size, sha256, error, voice, transcript,
 * url}; "location": {lat, lon, name, address}; "contact": {name, phones};
 * "react_to": the wamid a reaction marks.  Only what the entry has.
 */
void
wachat_api_gen_media(yajl_gen g, const redisReply *kv)
{
    const char  *id, *state, *voice;
    char         url[160];

    id = wachat_redis_reply_field(kv, "media_id");
    state = wachat_redis_reply_field(kv, "media_state");

    if (id || state) {
        wachat_json_str(g, "media");
        yajl_gen_map_open(g);
        wachat_api_media_kv(g, kv, "id", "media_id");
        wachat_api_media_kv(g, kv, "mime", "media_mime");
        wachat_api_media_kv(g, kv, "name", "media_name");
        wachat_api_media_kv(g, kv, "state", "media_state");
        wachat_api_media_kv(g, kv, "size", "media_size");
        wachat_api_media_kv(g, kv, "sha256", "media_sha256");
        wachat_api_media_kv(g, kv, "error", "media_error");
        wachat_api_media_kv(g, kv, "transcript", "transcript");

        voice = wachat_redis_reply_field(kv, "voice");
        wachat_json_kv_bool(g, "voice", voice && strcmp(voice, "1") == 0);

        /* relative to the API's own base: the console adds its prefix */
        if (id && state && strcmp(state, "stored") == 0
            && wachat_media_store_check_id(id) == 0)
        {
            snprintf(url, sizeof(url), "api/media/%s", id);
            wachat_json_kv_text(g, "url", url);
        }

        yajl_gen_map_close(g);
    }

    if (wachat_redis_reply_field(kv, "lat")
        && wachat_redis_reply_field(kv, "lon"))
    {
        wachat_json_str(g, "location");
        yajl_gen_map_open(g);
        wachat_api_media_kv(g, kv, "lat", "lat");
        wachat_api_media_kv(g, kv, "lon", "lon");
        wachat_api_media_kv(g, kv, "name", "place");
        wachat_api_media_kv(g, kv, "address", "address");
        yajl_gen_map_close(g);
    }

    if (wachat_redis_reply_field(kv, "contact")) {
        wachat_json_str(g, "contact");
        yajl_gen_map_open(g);
        wachat_api_media_kv(g, kv, "name", "contact");
        wachat_api_media_kv(g, kv, "phones", "phones");
        yajl_gen_map_close(g);
    }

    wachat_api_media_kv(g, kv, "react_to", "react_to");
}
