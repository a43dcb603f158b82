/*
 * wachat stt: OpenAI-compatible transcription client (see stt.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <yajl/yajl_tree.h>

#include "clients/stt.h"
#include "lib/buf.h"
#include "lib/json.h"


#define WACHAT_STT_TIMEOUT  60000


struct wachat_stt_s {
    wachat_http_t      *http;
    wachat_http_api_t   api;        /* {url}/audio/transcriptions */
    long                timeout_ms;
};


typedef struct {
    wachat_stt_done_pt   done;
    void                *data;
} wachat_stt_call_t;


wachat_stt_t *
wachat_stt_new(wachat_http_t *http, const wachat_stt_conf_t *conf,
    const char **why)
{
    wachat_stt_t  *s;

    if (http == NULL || conf == NULL) {
        *why = "no http client or config";
        return NULL;
    }

    *why = wachat_http_api_check("stt", "transcription", conf->url, conf->model,
                                 conf->key);
    if (*why != NULL) {
        return NULL;
    }

    s = calloc(1, sizeof(wachat_stt_t));
    if (s == NULL) {
        *why = "out of memory";
        return NULL;
    }

    s->http = http;
    s->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms
                                         : WACHAT_STT_TIMEOUT;

    if (wachat_http_api_init(&s->api, conf->url, "/audio/transcriptions",
                             conf->model, conf->key) != 0)
    {
        free(s);
        *why = "out of memory";
        return NULL;
    }

    return s;
}


void
wachat_stt_free(wachat_stt_t *s)
{
    if (s == NULL) {
        return;
    }

    wachat_http_api_free(&s->api);
    free(s);
}


/* a part's header values must not break the multipart framing */
static int
wachat_stt_header_ok(const char *s)
{
    return strpbrk(s, "\"\r\n") == NULL;
}


int
wachat_stt_build(const char *model, const char *filename, const char *mime,
    const char *audio, size_t len, char *boundary, char **body, size_t *blen)
{
    size_t         i;
    unsigned char  rnd[16];
    wachat_buf_t   b = WACHAT_BUF_INIT;

    if (!wachat_stt_header_ok(model) || !wachat_stt_header_ok(filename)
        || !wachat_stt_header_ok(mime))
    {
        return -1;
    }

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        memset(rnd, 0x5a, sizeof(rnd));
    }

    strcpy(boundary, "wachat-");
    for (i = 0; i < sizeof(rnd); i++) {
        snprintf(boundary + 7 + 2 * i, 3, "%02x", rnd[i]);
    }

    wachat_buf_fmt(&b, "--%s\r\nContent-Disposition: form-data; "
                   "name=\"model\"\r\n\r\n%s\r\n", boundary, model);
    wachat_buf_fmt(&b, "--%s\r\nContent-Disposition: form-data; "
                   "name=\"response_format\"\r\n\r\njson\r\n", boundary);
    wachat_buf_fmt(&b, "--%s\r\nContent-Disposition: form-data; "
                   "name=\"file\"; filename=\"%s\"\r\nContent-Type: %s"
                   "\r\n\r\n", boundary, filename, mime);
    wachat_buf_add(&b, audio, len);
    wachat_buf_fmt(&b, "\r\n--%s--\r\n", boundary);

    *body = wachat_buf_detach(&b, blen);

    return *body ? 0 : -1;
}


static void
wachat_stt_on_done(void *data, const wachat_http_resp_t *resp)
{
    char                 why[256];
    size_t               n;
    yajl_val             root;
    const char          *text;
    char                *copy;
    wachat_stt_call_t   *c = data;
    wachat_stt_result_t  res;

    static const char  *text_p[] = { "text", NULL };

    memset(&res, 0, sizeof(wachat_stt_result_t));
    res.http_status = resp->status;
    root = NULL;
    copy = NULL;

    if (resp->error != WACHAT_HTTP_DONE) {
        snprintf(why, sizeof(why), "transcription: %s", resp->error_text);
        res.error = why;

    } else if (resp->status != 200) {
        snprintf(why, sizeof(why), "transcription: HTTP %ld", resp->status);
        res.error = why;

    } else {
        root = wachat_json_parse(resp->body, resp->body_len);
        text = root ? wachat_json_get_str(root, text_p) : NULL;

        /* surrounding spaces are whisper's habit, not the customer's */
        while (text && (*text == ' ' || *text == '\n' || *text == '\t')) {
            text++;
        }

        copy = text ? strdup(text) : NULL;
        n = copy ? strlen(copy) : 0;

        while (n && (copy[n - 1] == ' ' || copy[n - 1] == '\n'
                     || copy[n - 1] == '\t'))
        {
            copy[--n] = '\0';
        }

        if (n == 0) {
            res.error = "transcription: no text in the answer";

        } else {
            res.ok = 1;
            res.text = copy;
        }
    }

    c->done(c->data, &res);

    free(copy);
    yajl_tree_free(root);
    free(c);
}


/* the audio, read whole: a voice note is small, and the bound is ours */
static char *
wachat_stt_read(const char *path, size_t *len)
{
    FILE    *f;
    char    *buf, *p;
    size_t   cap, n;

    f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }

    cap = 64 * 1024;
    buf = malloc(cap);
    *len = 0;

    while (buf && (n = fread(buf + *len, 1, cap - *len, f)) > 0) {
        *len += n;

        if (*len == cap) {
            if (cap >= WACHAT_STT_FILE_MAX) {
                free(buf);
                buf = NULL;
                break;
            }

            cap *= 2;
            p = realloc(buf, cap);
            if (p == NULL) {
                free(buf);
            }
            buf = p;
        }
    }

    fclose(f);

    return buf;
}


int
wachat_stt_transcribe(wachat_stt_t *s, const char *path, const char *mime,
    wachat_stt_done_pt done, void *data)
{
    int                 rc;
    char               *audio, *body, ctype[128], boundary[64];
    size_t              len, blen;
    const char         *headers[3];
    const char         *filename;
    wachat_http_req_t   req;
    wachat_stt_call_t  *c;

    if (s == NULL || path == NULL || done == NULL) {
        return -1;
    }

    audio = wachat_stt_read(path, &len);
    if (audio == NULL) {
        return -1;
    }

    /* whisper servers tell the format by the file name's extension */
    mime = mime && mime[0] ? mime : "application/octet-stream";
    filename = strncmp(mime, "audio/ogg", 9) == 0 ? "voice.ogg"
               : strncmp(mime, "audio/mpeg", 10) == 0 ? "audio.mp3"
               : strncmp(mime, "audio/mp4", 9) == 0 ? "audio.m4a"
               : strncmp(mime, "audio/aac", 9) == 0 ? "audio.aac"
               : strncmp(mime, "audio/amr", 9) == 0 ? "audio.amr"
               : "audio.ogg";

    /* "audio/ogg; codecs=opus": the part's type is the bare type */
    snprintf(ctype, sizeof(ctype), "%.*s", (int) strcspn(mime, ";"), mime);

    rc = wachat_stt_build(s->api.model, filename, ctype, audio, len, boundary,
                          &body, &blen);
    free(audio);

    if (rc != 0) {
        return -1;
    }

    c = malloc(sizeof(wachat_stt_call_t));
    if (c == NULL) {
        free(body);
        return -1;
    }

    c->done = done;
    c->data = data;

    snprintf(ctype, sizeof(ctype), "Content-Type: multipart/form-data; "
             "boundary=%s", boundary);

    headers[0] = ctype;
    headers[1] = s->api.auth;
    headers[2] = NULL;

    memset(&req, 0, sizeof(wachat_http_req_t));
    req.method = "POST";
    req.url = s->api.endpoint;
    req.headers = headers;
    req.body = body;
    req.body_len = blen;
    req.timeout_ms = s->timeout_ms;

    rc = wachat_http_request(s->http, &req, wachat_stt_on_done, c);
    free(body);

    if (rc != 0) {
        free(c);
    }

    return rc;
}
