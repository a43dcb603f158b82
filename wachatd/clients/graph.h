/*
 * wachat graph: the WhatsApp Cloud API (Graph API) client.
 *
 * Builds the JSON of outbound messages exactly as Meta documents them
 * (docs: whatsapp-cloud-api.md section 4), POSTs them to
 * {graph_api_url}/{phone_number_id}/messages over wachat_http, and turns
 * the answer into one of five results that say what to do next.
 *
 * Classification branches on the Graph error code, not on the HTTP status:
 * Meta sends e.g. a throughput limit (130429) with 400 as well as 429, and
 * a 200 without messages[0].id is no delivery.  The HTTP status decides
 * only when the body carries no error code.
 *
 * Character limits count Unicode code points of UTF-8 text; invalid UTF-8
 * is refused by the builders.
 */

#ifndef WACHAT_GRAPH_H
#define WACHAT_GRAPH_H

#include <stddef.h>
#include <stdio.h>

#include "clients/http.h"


#define WACHAT_GRAPH_TEXT_MAX        4096   /* text.body */
#define WACHAT_GRAPH_BUTTON_BODY_MAX 1024   /* interactive body.text */
#define WACHAT_GRAPH_FOOTER_MAX      60
#define WACHAT_GRAPH_BUTTONS_MAX     3
#define WACHAT_GRAPH_TITLE_MAX       20     /* reply.title */
#define WACHAT_GRAPH_ID_MAX          256    /* reply.id */


typedef enum {
    WACHAT_GRAPH_OK = 0,        /* sent: wamid is set */
    WACHAT_GRAPH_RETRY,         /* transient: retry with backoff */
    WACHAT_GRAPH_PACE,          /* 131056 pair limit: retry after 4^X s */
    WACHAT_GRAPH_TOKEN,         /* token expired/invalid: keep, reload */
    WACHAT_GRAPH_PERMANENT      /* never retry: dead-letter it */
} wachat_graph_result_e;


/* What an answer must contain to count as success. */
typedef enum {
    WACHAT_GRAPH_OP_SEND = 0,   /* messages[0].id */
    WACHAT_GRAPH_OP_READ,       /* "success": true */
    WACHAT_GRAPH_OP_CHECK       /* GET /{phone_number_id}: "id" */
} wachat_graph_op_e;


typedef struct {
    const char  *id;            /* postback id, 1..256 chars, unique */
    const char  *title;         /* 1..20 chars, unique */
} wachat_graph_button_t;


/*
 * One outbound message.  nbuttons == 0: a text message (text.body);
 * otherwise an interactive reply-button message whose body.text is text.
 */
typedef struct {
    const char                   *to;       /* wa_id, digits or +digits */
    const char                   *text;
    const char                   *reply_to; /* context.message_id or NULL */
    const wachat_graph_button_t  *buttons;
    size_t                        nbuttons;
    const char                   *footer;   /* buttons only; NULL: none */
    int                           preview_url;  /* text only */
} wachat_graph_msg_t;


/*
 * The outcome of one call.  Strings are NULL when absent; in a done
 * callback they live only during the call.
 */
typedef struct {
    wachat_graph_result_e   result;
    wachat_graph_op_e       op;
    long                    http_status;    /* 0: no HTTP answer */
    long                    code;           /* error.code, -1: none */
    long                    subcode;        /* error.error_subcode, -1 */
    char                   *wamid;          /* SEND: messages[0].id */
    char                   *message;        /* error.message or our why */
    char                   *details;        /* error.error_data.details */
    char                   *err_type;       /* error.type */
    char                   *fbtrace_id;
    char                   *phone;          /* CHECK: display_phone_number */
    char                   *verified_name;  /* CHECK */
    long                    total_ms;
} wachat_graph_reply_t;


typedef void (*wachat_graph_done_pt)(void *data,
    const wachat_graph_reply_t *reply);


typedef struct {
    const char  *api_url;       /* e.g. https://graph.facebook.com/v25.0 */
    const char  *token;         /* the bearer token; never logged */
    long         timeout_ms;    /* per call; 0: 20 s */
} wachat_graph_conf_t;


typedef struct wachat_graph_s  wachat_graph_t;


/* --- JSON bodies (pure, no I/O) ------------------------------------- */

/*
 * A malloc'ed JSON body in *json (NUL-terminated, length *len).  On -1,
 * *why says which limit or field is wrong (a static string).
 */
int wachat_graph_build(const wachat_graph_msg_t *msg, char **json,
    size_t *len, const char **why);

/*
 * What WhatsApp takes from a business (whatsapp-cloud-api.md 4.4): the
 * message type a file of type mime goes as, and the most bytes.  NULL
 * when the type is not one WhatsApp sends.
 */
typedef struct {
    const char  *mime;          /* "image/jpeg" */
    const char  *ext;           /* ".jpg": how a file name tells it */
    const char  *kind;          /* "image", "audio", "video", "document" */
    size_t       max;
} wachat_graph_media_type_t;

const wachat_graph_media_type_t *wachat_graph_media_type(const char *mime);

/* the same by a file name's extension (case aside); NULL: none */
const wachat_graph_media_type_t *wachat_graph_media_type_of(
    const char *filename);

/*
 * 0 when a file of that type and size may be sent; -1 with why (a
 * sentence for the agent: "an image (image/jpeg) may be 5 MB at most").
 */
int wachat_graph_media_allowed(const char *mime, size_t size, char *why,
    size_t len);

/* the caption's limit (image, video, document) */
#define WACHAT_GRAPH_CAPTION_MAX  1024

/*
 * A media message by media id: {"type": kind, kind: {"id", "caption",
 * "filename"}} (caption: image, video, document; filename: document).
 */
int wachat_graph_build_media(const char *to, const char *kind,
    const char *media_id, const char *caption, const char *filename,
    char **json, size_t *len, const char **why);

/*
 * A template message (whatsapp-cloud-api.md 4.5): {"type": "template",
 * "template": {"name", "language": {"code"}, "components": [{"type":
 * "body", "parameters": [{"type": "text", "text"}, ...]}]}}; no
 * components without parameters.
 */
int wachat_graph_build_template(const char *to, const char *name,
    const char *language, const char *const *params, size_t nparams,
    char **json, size_t *len, const char **why);

/* mark as read, plus the typing indicator when typing is set */
int wachat_graph_build_read(const char *wamid, int typing, char **json,
    size_t *len, const char **why);

/* Bytes of the longest prefix of s with at most max code points. */
size_t wachat_graph_clip(const char *s, size_t max);


/* --- answers ---------------------------------------------------------- */

/*
 * Fills r from an HTTP answer (status 0 and body NULL for a network
 * error, with transport_error saying what happened).  Always returns the
 * result; free the strings with wachat_graph_reply_free().
 */
wachat_graph_result_e wachat_graph_parse(wachat_graph_op_e op,
    long http_status, const char *body, size_t len,
    const char *transport_error, wachat_graph_reply_t *r);

void wachat_graph_reply_free(wachat_graph_reply_t *r);

/*
 * The result for an error code (-1: none) and HTTP status (0: none).
 * Also for the errors[].code of a "failed" status webhook.
 */
wachat_graph_result_e wachat_graph_classify(long code, long http_status);

/* "ok", "retry", "pace", "token", "permanent" */
const char *wachat_graph_result_name(wachat_graph_result_e r);

/*
 * Milliseconds to wait before retry number attempt (0 = the first retry):
 * RETRY: full jitter, uniform in [100 ms, min(60 s, 1 s * 2^attempt)];
 * PACE: 4^attempt s (Meta's pair-limit rule) plus up to 10 % jitter,
 * capped at 15 min.  -1 for OK, TOKEN and PERMANENT: no timed retry.
 */
long wachat_graph_backoff_ms(unsigned attempt, wachat_graph_result_e r);

/* Attempts worth making for an error code before dead-lettering. */
unsigned wachat_graph_max_attempts(long code, wachat_graph_result_e r);

/*
 * One line that says what a code means and what to do, for logs and
 * wachatctl doctor; NULL for a code we know nothing about.
 */
const char *wachat_graph_explain(long code);


/* Setup problems the Graph API cannot report as a code. */
typedef struct {
    const char  *topic;
    const char  *symptom;
    const char  *fix;
} wachat_graph_hint_t;

const wachat_graph_hint_t *wachat_graph_troubleshooting(size_t *n);


/* --- calls ------------------------------------------------------------ */

/*
 * conf is copied.  NULL on a missing URL or token, or a token or URL with
 * characters that cannot go into a header; *why says which.
 */
wachat_graph_t *wachat_graph_new(wachat_http_t *http,
    const wachat_graph_conf_t *conf, const char **why);

/*
 * In-flight calls do not refer to g: it may be freed (e.g. replaced on
 * reload) while they run; their done callbacks still come.
 */
void wachat_graph_free(wachat_graph_t *g);

/*
 * POST a body from wachat_graph_build() (or one kept in the dead-letter
 * stream) to {api_url}/{phone_number_id}/messages.  phone_number_id must
 * be digits.  0: done will be called exactly once (see http.h); -1: bad
 * input or out of memory, done is not called.
 */
int wachat_graph_send_json(wachat_graph_t *g, const char *phone_number_id,
    const char *json, size_t len, wachat_graph_done_pt done, void *data);

/* Mark wamid read (and show typing): one call, as Meta documents. */
int wachat_graph_mark_read(wachat_graph_t *g, const char *phone_number_id,
    const char *wamid, int typing, wachat_graph_done_pt done, void *data);

/* GET {api_url}/{phone_number_id}: is the token accepted (doctor)? */
int wachat_graph_check(wachat_graph_t *g, const char *phone_number_id,
    wachat_graph_done_pt done, void *data);


/* --- media (graph_media.c) -------------------------------------------- */

#define WACHAT_GRAPH_MEDIA_ID_MAX  128

/*
 * A customer's media item, fetched in Meta's two steps: GET /{media-id}
 * answers its metadata and a URL valid for minutes, GET <url> (with the
 * bearer token too) its bytes, which go to the caller's sink.  Strings
 * live only during the done call.
 */
typedef struct {
    wachat_graph_result_e   result;     /* OK: the bytes are in the sink */
    long                    http_status;
    long                    code;       /* Graph error code, -1: none */
    const char             *why;        /* what went wrong; NULL with OK */
    const char             *mime;       /* mime_type, or NULL */
    const char             *sha256;     /* as Meta gave it (hex), or NULL */
    long long               declared;   /* file_size (a string), -1 */
    size_t                  bytes;      /* written to the sink */
} wachat_graph_media_t;

typedef void (*wachat_graph_media_done_pt)(void *data,
    const wachat_graph_media_t *m);

/* 0 when id can be a media id: 1..128 of [A-Za-z0-9._-] */
int wachat_graph_media_check_id(const char *id);

/*
 * Fetches media_id into sink (at most max bytes; larger is PERMANENT).
 * The URL must be https, or on graph_api_url's own origin: the token is
 * never sent anywhere else.  An expired URL is RETRY (a new one comes
 * with the next metadata call), an unknown or expired id PERMANENT.  0:
 * done comes exactly once; -1: bad input, done does not.
 */
int wachat_graph_media_get(wachat_graph_t *g, const char *media_id,
    FILE *sink, size_t max, wachat_graph_media_done_pt done, void *data);

/* --- templates (graph_templates.c) ------------------------------------- */

/*
 * The approved templates of a WhatsApp Business Account: GET
 * {api_url}/{waba_id}/message_templates?status=APPROVED&fields=..., every
 * page (paging.next), as one JSON array of {"name", "language",
 * "category", "status", "body", "params"} (body: the BODY component's
 * text; params: how many {{n}} variables it has), in json of done (NULL
 * unless the result is OK; it lives only during the call).
 */
typedef void (*wachat_graph_templates_done_pt)(void *data,
    const wachat_graph_reply_t *reply, const char *json, size_t len);

int wachat_graph_templates(wachat_graph_t *g, const char *waba_id,
    wachat_graph_templates_done_pt done, void *data);

/* the number of {{n}} variables of a template body: the highest n */
size_t wachat_graph_template_params(const char *body);

/*
 * POST {api_url}/{phone_number_id}/media, multipart/form-data with
 * messaging_product=whatsapp, type and the file at path (streamed from
 * disk).  In done, reply->wamid is the media id Meta gave it (30 days).
 */
int wachat_graph_media_upload(wachat_graph_t *g, const char *phone_number_id,
    const char *path, const char *mime, const char *filename,
    wachat_graph_done_pt done, void *data);


#endif /* WACHAT_GRAPH_H */
