/*
 * graph_media: a customer's media item from the Graph API, in Meta's two
 * steps (whatsapp-cloud-api.md 4.4): GET /{media-id} for its metadata and
 * a short-lived URL, then GET <url>, the bearer token on both.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <yajl/yajl_tree.h>

#include "clients/graph.h"
#include "clients/graph_int.h"
#include "lib/json.h"


/* What a download in flight needs: nothing of the wachat_graph_t. */
typedef struct {
    wachat_http_t               *http;
    char                        *auth;
    char                        *origin;    /* "http://127.0.0.1:8080/" */
    long                         timeout_ms;
    FILE                        *sink;
    size_t                       max;
    wachat_graph_media_done_pt   done;
    void                        *data;
    char                        *mime;
    char                        *sha256;
    long long                    declared;
} wachat_graph_dl_t;


static void
wachat_graph_dl_free(wachat_graph_dl_t *dl)
{
    wachat_http_bearer_free(dl->auth);
    free(dl->origin);
    free(dl->mime);
    free(dl->sha256);
    free(dl);
}


static void
wachat_graph_dl_finish(wachat_graph_dl_t *dl, wachat_graph_result_e result,
    long status, long code, const char *why, size_t bytes)
{
    wachat_graph_media_t  m;

    memset(&m, 0, sizeof(wachat_graph_media_t));
    m.result = result;
    m.http_status = status;
    m.code = code;
    m.why = result == WACHAT_GRAPH_OK ? NULL : why;
    m.mime = dl->mime;
    m.sha256 = dl->sha256;
    m.declared = dl->declared;
    m.bytes = bytes;

    dl->done(dl->data, &m);
    wachat_graph_dl_free(dl);
}


int
wachat_graph_media_check_id(const char *id)
{
    size_t  n;

    if (id == NULL) {
        return -1;
    }

    n = strspn(id, "0123456789abcdefghijklmnopqrstuvwxyz"
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ._-");

    return (n > 0 && n <= WACHAT_GRAPH_MEDIA_ID_MAX && id[n] == '\0'
            && strcmp(id, ".") != 0 && strcmp(id, "..") != 0)
           ? 0 : -1;
}


/* "scheme://host[:port]/" of url, malloc'ed; NULL if it has none */
static char *
wachat_graph_origin(const char *url)
{
    char        *o;
    const char  *p;
    size_t       n;

    p = strstr(url, "://");
    if (p == NULL) {
        return NULL;
    }

    p += 3;
    n = (size_t) (p - url) + strcspn(p, "/?#");

    o = malloc(n + 2);
    if (o) {
        memcpy(o, url, n);
        o[n] = '/';
        o[n + 1] = '\0';
    }

    return o;
}


/* the token goes to https URLs, or to graph_api_url's own origin */
static int
wachat_graph_url_ok(const wachat_graph_dl_t *dl, const char *url)
{
    if (wachat_http_check_token(url) != 0) {
        return 0;
    }

    return strncmp(url, "https://", 8) == 0
           || strncmp(url, dl->origin, strlen(dl->origin)) == 0;
}


static void wachat_graph_dl_bytes(void *data, const wachat_http_resp_t *resp);


/* file_size comes as a string ("303833"); a number is taken too */
static long long
wachat_graph_dl_size(yajl_val root)
{
    static const char  *size_p[] = { "file_size", NULL };
    char               *end;
    long long           n;
    yajl_val            v;

    v = yajl_tree_get(root, size_p, yajl_t_any);

    if (v && YAJL_IS_INTEGER(v)) {
        return YAJL_GET_INTEGER(v);
    }

    if (v && YAJL_IS_STRING(v) && v->u.string[0] != '\0') {
        n = strtoll(v->u.string, &end, 10);
        return *end == '\0' && n >= 0 ? n : -1;
    }

    return -1;
}


/* step 1: the metadata, then the bytes */
static void
wachat_graph_dl_meta(void *data, const wachat_http_resp_t *resp)
{
    static const char  *url_p[] = { "url", NULL };
    static const char  *mime_p[] = { "mime_type", NULL };
    static const char  *sha_p[] = { "sha256", NULL };
    const char         *url, *headers[2];
    wachat_graph_dl_t  *dl = data;
    wachat_http_req_t   req;
    wachat_graph_reply_t r;
    yajl_val            root;
    char                why[256];

    wachat_graph_parse(WACHAT_GRAPH_OP_CHECK,
                       resp->error == WACHAT_HTTP_DONE ? resp->status : 0,
                       resp->body, resp->body_len,
                       resp->error == WACHAT_HTTP_DONE
                       ? NULL : resp->error_text, &r);

    if (r.result != WACHAT_GRAPH_OK) {
        snprintf(why, sizeof(why), "media metadata: %s",
                 r.message ? r.message : "refused");
        wachat_graph_dl_finish(dl, r.result, r.http_status, r.code, why, 0);
        wachat_graph_reply_free(&r);
        return;
    }

    wachat_graph_reply_free(&r);

    root = wachat_json_parse(resp->body, resp->body_len);
    url = root ? wachat_json_get_str(root, url_p) : NULL;

    if (url == NULL || !wachat_graph_url_ok(dl, url)) {
        wachat_graph_dl_finish(dl, WACHAT_GRAPH_PERMANENT, resp->status, -1,
                               url ? "media URL is not https (the token is "
                                     "not sent there)"
                                   : "media metadata without a url", 0);
        yajl_tree_free(root);
        return;
    }

    dl->mime = wachat_json_get_str(root, mime_p)
               ? strdup(wachat_json_get_str(root, mime_p)) : NULL;
    dl->sha256 = wachat_json_get_str(root, sha_p)
                 ? strdup(wachat_json_get_str(root, sha_p)) : NULL;
    dl->declared = wachat_graph_dl_size(root);

    if (dl->declared >= 0 && (unsigned long long) dl->declared > dl->max) {
        snprintf(why, sizeof(why), "media of %lld bytes is larger than "
                 "%zu", dl->declared, dl->max);
        wachat_graph_dl_finish(dl, WACHAT_GRAPH_PERMANENT, resp->status, -1,
                               why, 0);
        yajl_tree_free(root);
        return;
    }

    headers[0] = dl->auth;
    headers[1] = NULL;

    memset(&req, 0, sizeof(wachat_http_req_t));
    req.url = url;
    req.headers = headers;
    req.timeout_ms = dl->timeout_ms * 6;    /* bytes, not a small answer */
    req.sink = dl->sink;
    req.max_body = dl->max;

    if (wachat_http_request(dl->http, &req, wachat_graph_dl_bytes, dl) != 0) {
        wachat_graph_dl_finish(dl, WACHAT_GRAPH_RETRY, 0, -1,
                               "media download could not start", 0);
    }

    yajl_tree_free(root);
}


/* step 2: the bytes are in the sink, or they are not */
static void
wachat_graph_dl_bytes(void *data, const wachat_http_resp_t *resp)
{
    wachat_graph_dl_t     *dl = data;
    wachat_graph_result_e  res;
    char                   why[256];

    if (resp->error == WACHAT_HTTP_ETOOBIG) {
        snprintf(why, sizeof(why), "media larger than %zu bytes", dl->max);
        wachat_graph_dl_finish(dl, WACHAT_GRAPH_PERMANENT, resp->status, -1,
                               why, 0);
        return;
    }

    if (resp->error != WACHAT_HTTP_DONE) {
        snprintf(why, sizeof(why), "media download: %s", resp->error_text);
        wachat_graph_dl_finish(dl, WACHAT_GRAPH_RETRY, 0, -1, why, 0);
        return;
    }

    if (resp->status == 200) {
        wachat_graph_dl_finish(dl, WACHAT_GRAPH_OK, 200, -1, NULL,
                               resp->body_len);
        return;
    }

    /*
     * The URL lives minutes: a 403/404/410 is most likely an expired one,
     * and the next attempt asks for a new URL first.
     */
    res = resp->status == 401 ? WACHAT_GRAPH_TOKEN : WACHAT_GRAPH_RETRY;
    snprintf(why, sizeof(why), "media download: HTTP %ld", resp->status);
    wachat_graph_dl_finish(dl, res, resp->status, -1, why, 0);
}


int
wachat_graph_media_get(wachat_graph_t *g, const char *media_id, FILE *sink,
    size_t max, wachat_graph_media_done_pt done, void *data)
{
    int                 rc;
    char               *url;
    size_t              n;
    const char         *headers[2];
    wachat_http_req_t   req;
    wachat_graph_dl_t  *dl;

    if (g == NULL || sink == NULL || done == NULL || max == 0
        || wachat_graph_media_check_id(media_id) != 0)
    {
        return -1;
    }

    dl = calloc(1, sizeof(wachat_graph_dl_t));
    n = strlen(g->api_url) + strlen(media_id) + 2;
    url = malloc(n);

    if (dl == NULL || url == NULL) {
        free(dl);
        free(url);
        return -1;
    }

    dl->http = g->http;
    dl->auth = strdup(g->auth);
    dl->origin = wachat_graph_origin(g->api_url);
    dl->timeout_ms = g->timeout_ms;
    dl->sink = sink;
    dl->max = max;
    dl->done = done;
    dl->data = data;
    dl->declared = -1;

    if (dl->auth == NULL || dl->origin == NULL) {
        wachat_graph_dl_free(dl);
        free(url);
        return -1;
    }

    snprintf(url, n, "%s/%s", g->api_url, media_id);

    headers[0] = dl->auth;
    headers[1] = NULL;

    memset(&req, 0, sizeof(wachat_http_req_t));
    req.url = url;
    req.headers = headers;
    req.timeout_ms = g->timeout_ms;

    rc = wachat_http_request(g->http, &req, wachat_graph_dl_meta, dl);
    free(url);

    if (rc != 0) {
        wachat_graph_dl_free(dl);
    }

    return rc;
}


/* --- upload ------------------------------------------------------------- */

/* An upload in flight: the multipart form lives until done. */
typedef struct {
    char                  *url;
    char                  *path;
    char                  *mime;
    char                  *filename;
    struct curl_slist     *headers;
    curl_mime             *form;
    wachat_graph_done_pt   done;
    void                  *data;
} wachat_graph_up_t;


static void
wachat_graph_up_free(wachat_graph_up_t *up)
{
    curl_mime_free(up->form);
    curl_slist_free_all(up->headers);
    free(up->url);
    free(up->path);
    free(up->mime);
    free(up->filename);
    free(up);
}


/* the form is made here, with the handle that will send it */
static int
wachat_graph_up_form(wachat_graph_up_t *up, void *easy)
{
    curl_mimepart  *part;

    up->form = curl_mime_init(easy);
    if (up->form == NULL) {
        return -1;
    }

    part = curl_mime_addpart(up->form);
    if (part == NULL || curl_mime_name(part, "messaging_product") != CURLE_OK
        || curl_mime_data(part, "whatsapp", CURL_ZERO_TERMINATED) != CURLE_OK)
    {
        return -1;
    }

    part = curl_mime_addpart(up->form);
    if (part == NULL || curl_mime_name(part, "type") != CURLE_OK
        || curl_mime_data(part, up->mime, CURL_ZERO_TERMINATED) != CURLE_OK)
    {
        return -1;
    }

    /* the bytes are read from disk as they go: no copy in memory */
    part = curl_mime_addpart(up->form);
    if (part == NULL || curl_mime_name(part, "file") != CURLE_OK
        || curl_mime_filedata(part, up->path) != CURLE_OK
        || curl_mime_filename(part, up->filename) != CURLE_OK
        || curl_mime_type(part, up->mime) != CURLE_OK)
    {
        return -1;
    }

    return 0;
}


static int
wachat_graph_up_setup(void *data, void *easy)
{
    int                 rc = 0;
    wachat_graph_up_t  *up = data;

    if (wachat_graph_up_form(up, easy) != 0) {
        return -1;
    }

    rc |= curl_easy_setopt(easy, CURLOPT_URL, up->url);
    rc |= curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(easy, CURLOPT_HTTPHEADER, up->headers);
    rc |= curl_easy_setopt(easy, CURLOPT_USERAGENT, "wachat");
    rc |= curl_easy_setopt(easy, CURLOPT_MIMEPOST, up->form);

    return rc == CURLE_OK ? 0 : -1;
}


static void
wachat_graph_up_done(void *data, const wachat_http_resp_t *resp)
{
    static const char     *id_p[] = { "id", NULL };
    const char            *id;
    yajl_val               root;
    wachat_graph_up_t     *up = data;
    wachat_graph_reply_t   r;

    wachat_graph_parse(WACHAT_GRAPH_OP_CHECK,
                       resp->error == WACHAT_HTTP_DONE ? resp->status : 0,
                       resp->body, resp->body_len,
                       resp->error == WACHAT_HTTP_DONE
                       ? NULL : resp->error_text, &r);
    r.total_ms = resp->total_ms;

    /* the media id goes where a send's wamid would */
    if (r.result == WACHAT_GRAPH_OK) {
        root = wachat_json_parse(resp->body, resp->body_len);
        id = root ? wachat_json_get_str(root, id_p) : NULL;
        r.wamid = id ? strdup(id) : NULL;
        yajl_tree_free(root);
    }

    up->done(up->data, &r);

    wachat_graph_reply_free(&r);
    wachat_graph_up_free(up);
}


int
wachat_graph_media_upload(wachat_graph_t *g, const char *phone_number_id,
    const char *path, const char *mime, const char *filename,
    wachat_graph_done_pt done, void *data)
{
    size_t              n;
    wachat_graph_up_t  *up;
    struct curl_slist  *l;

    if (g == NULL || path == NULL || mime == NULL || done == NULL
        || phone_number_id == NULL
        || strspn(phone_number_id, "0123456789") != strlen(phone_number_id)
        || phone_number_id[0] == '\0' || strpbrk(mime, "\r\n\";") != NULL)
    {
        return -1;
    }

    up = calloc(1, sizeof(wachat_graph_up_t));
    if (up == NULL) {
        return -1;
    }

    up->done = done;
    up->data = data;

    n = strlen(g->api_url) + strlen(phone_number_id) + sizeof("//media");
    up->url = malloc(n);
    l = curl_slist_append(NULL, g->auth);
    up->headers = l ? curl_slist_append(l, "Expect:") : NULL;

    if (up->headers == NULL && l) {
        curl_slist_free_all(l);
    }

    up->path = strdup(path);
    up->mime = strdup(mime);
    up->filename = strdup(filename && filename[0] ? filename : "file");

    if (up->url == NULL || up->headers == NULL || up->path == NULL
        || up->mime == NULL || up->filename == NULL)
    {
        wachat_graph_up_free(up);
        return -1;
    }

    snprintf(up->url, n, "%s/%s/media", g->api_url, phone_number_id);

    /* an upload of 100 MB takes longer than a message */
    if (wachat_http_transfer(g->http, g->timeout_ms * 12,
                             wachat_graph_up_setup, wachat_graph_up_done, up)
        != 0)
    {
        wachat_graph_up_free(up);
        return -1;
    }

    return 0;
}
