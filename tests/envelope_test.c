/*
 * Unit test of wachat_envelope (docs/events.md), TAP on stdout.
 *
 * JSON in this file is written with ' for " (see q()) to stay readable;
 * none of the test data needs a literal apostrophe (\u0027 is used).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#define TAP_DIAG_STREAM  stderr

#include "wachat_envelope.h"
#include "tap.h"


typedef const char  *want_t[WACHAT_FIELD_COUNT];


static char   *owned[4096];
static size_t  nowned;


/* strings */

static char *
own(char *p)
{
    if (p == NULL || nowned == sizeof(owned) / sizeof(owned[0])) {
        fprintf(stderr, "test: out of memory\n");
        exit(2);
    }

    owned[nowned++] = p;
    return p;
}


static char *
xstrndup(const char *s, size_t len)
{
    char  *p;

    p = own(malloc(len + 1));
    memcpy(p, s, len);
    p[len] = '\0';

    return p;
}


/* ' -> ": JSON written the readable way */
static char *
q(const char *s)
{
    char  *p, *c;

    p = xstrndup(s, strlen(s));

    for (c = p; *c; c++) {
        if (*c == '\'') {
            *c = '"';
        }
    }

    return p;
}


static char *
cat3(const char *a, const char *b, const char *c)
{
    char    *p;
    size_t   la, lb, lc;

    la = strlen(a);
    lb = strlen(b);
    lc = strlen(c);

    p = own(malloc(la + lb + lc + 1));
    memcpy(p, a, la);
    memcpy(p + la, b, lb);
    memcpy(p + la + lb, c, lc);
    p[la + lb + lc] = '\0';

    return p;
}


static char *
repeat(const char *s, size_t n)
{
    char    *p;
    size_t   i, len;

    len = strlen(s);
    p = own(malloc(len * n + 1));

    for (i = 0; i < n; i++) {
        memcpy(p + i * len, s, len);
    }

    p[len * n] = '\0';

    return p;
}


static const char *
show(const wachat_str_t *s)
{
    static char    buf[512];
    size_t         i, n;
    unsigned char  c;

    if (s->data == NULL) {
        return "(absent)";
    }

    n = 0;
    buf[n++] = '\'';

    for (i = 0; i < s->len && n < sizeof(buf) - 8; i++) {
        c = (unsigned char) s->data[i];

        if (c >= 0x20 && c < 0x7f) {
            buf[n++] = (char) c;

        } else {
            n += (size_t) snprintf(buf + n, sizeof(buf) - n, "\\x%02x", c);
        }
    }

    buf[n++] = '\'';
    buf[n] = '\0';

    return buf;
}


static int
str_is(const wachat_str_t *s, const char *want)
{
    if (want == NULL) {
        return s->data == NULL;
    }

    return s->data != NULL && s->len == strlen(want)
           && memcmp(s->data, want, s->len) == 0;
}


static void
sha_hex(const char *data, size_t len, char *out)
{
    size_t         i;
    unsigned char  md[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *) data, len, md);

    for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        sprintf(out + 2 * i, "%02x", md[i]);
    }
}


/* the dedup suffix the contract asks for, from the event's own fields */
static char *
expected_dedup(const wachat_envelope_event_t *ev)
{
    char                *p;
    const wachat_str_t  *kind, *id, *status, *raw;

    kind = &ev->field[WACHAT_FIELD_KIND];
    id = &ev->field[WACHAT_FIELD_ID];
    status = &ev->field[WACHAT_FIELD_STATUS];
    raw = &ev->field[WACHAT_FIELD_RAW];

    if (str_is(kind, "message") && id->data) {
        return xstrndup(id->data, id->len);
    }

    if (str_is(kind, "status") && id->data && status->data) {
        p = own(malloc(id->len + status->len + 2));
        memcpy(p, id->data, id->len);
        p[id->len] = ':';
        memcpy(p + id->len + 1, status->data, status->len);
        p[id->len + 1 + status->len] = '\0';
        return p;
    }

    if (raw->data == NULL) {
        return xstrndup("?", 1);
    }

    p = own(malloc(6 + 64 + 1));
    memcpy(p, "other:", 6);
    sha_hex(raw->data, raw->len, p + 6);

    return p;
}


/* parsing */

static const char *
rc_name(wachat_envelope_rc_e rc)
{
    switch (rc) {
    case WACHAT_ENVELOPE_OK:
        return "OK";
    case WACHAT_ENVELOPE_BAD_JSON:
        return "BAD_JSON";
    case WACHAT_ENVELOPE_TOO_DEEP:
        return "TOO_DEEP";
    case WACHAT_ENVELOPE_TOO_MANY:
        return "TOO_MANY";
    case WACHAT_ENVELOPE_NOMEM:
        return "NOMEM";
    }

    return "?";
}


static wachat_envelope_rc_e
parse_n(wachat_envelope_t *env, const char *body, size_t len,
    size_t max_depth, size_t max_events)
{
    wachat_envelope_limits_t  limits;

    limits.max_depth = max_depth;
    limits.max_events = max_events;

    return wachat_envelope_parse(env, body, len, &limits);
}


static wachat_envelope_rc_e
parse(wachat_envelope_t *env, const char *body)
{
    return parse_n(env, body, strlen(body), 0, 0);
}


static int
parsed(wachat_envelope_t *env, wachat_envelope_rc_e rc, size_t n,
    const char *desc)
{
    if (ok(rc == WACHAT_ENVELOPE_OK && env->nevents == n,
           "%s: parsed into %zu event(s)", desc, n))
    {
        return 1;
    }

    diag("  rc %s, %zu events, error '%s'", rc_name(rc), env->nevents,
         env->error);

    return 0;
}


/*
 * One TAP line per event: every field against want (NULL: must be absent;
 * v is always "1"; raw NULL: present, not compared) and the dedup string.
 */
static void
check_event(const wachat_envelope_t *env, size_t i, const char *desc,
    const want_t want)
{
    int                             good, f;
    char                           *dedup;
    const char                     *w;
    const wachat_envelope_event_t  *ev;

    if (i >= env->nevents) {
        ok(0, "%s", desc);
        diag("  no event %zu (%zu events)", i, env->nevents);
        return;
    }

    ev = &env->events[i];
    good = 1;

    for (f = 0; f < WACHAT_FIELD_COUNT; f++) {
        w = (f == WACHAT_FIELD_V) ? "1" : want[f];

        if (f == WACHAT_FIELD_RAW && w == NULL) {
            if (ev->field[f].data == NULL || ev->field[f].len == 0) {
                good = 0;
                diag("  raw: absent");
            }
            continue;
        }

        if (!str_is(&ev->field[f], w)) {
            good = 0;
            diag("  %s: got %s", wachat_field_names[f].data,
                 show(&ev->field[f]));
            diag("  %s: want %s", wachat_field_names[f].data,
                 w ? w : "(absent)");
        }
    }

    dedup = expected_dedup(ev);

    if (!str_is(&ev->dedup, dedup)) {
        good = 0;
        diag("  dedup: got %s, want %s", show(&ev->dedup), dedup);
    }

    ok(good, "%s", desc);
}


/* an envelope with one messages change; the item goes into `array` */

#define HEAD                                                                 \
    "{'object':'whatsapp_business_account','entry':[{'id':'102290129340398'," \
    "'changes':[{'field':'messages','value':{'messaging_product':"           \
    "'whatsapp','metadata':{'display_phone_number':'15550783881',"           \
    "'phone_number_id':'106540352242922'},'contacts':[{'profile':{'name':"   \
    "'Sheena Nelson'},'wa_id':'16505551234'}],"
#define TAIL  "]}}]}]}"

#define PNID  "106540352242922"
#define WA    "16505551234"
#define NAME  "Sheena Nelson"

#define BODY_OF_CHANGE(c)                                                    \
    "{'object':'whatsapp_business_account','entry':[{'id':'1','changes':["  \
    c "]}]}"


static void
one_item(const char *desc, const char *array, const char *item,
    const char **want)
{
    char                 *body, *head;
    want_t                w;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

    head = cat3(HEAD "'", array, "':[");
    body = q(cat3(head, item, TAIL));

    memcpy(w, want, sizeof(w));
    w[WACHAT_FIELD_RAW] = q(item);

    rc = parse(&env, body);

    if (parsed(&env, rc, 1, desc)) {
        check_event(&env, 0, desc, w);

    } else {
        ok(0, "%s", desc);
    }

    wachat_envelope_free(&env);
}


static void
test_field_names(void)
{
    int                f;
    static const char  *names[] = {
        "v", "kind", "id", "from", "recipient", "user_id", "name",
        "phone_number_id", "ts", "type", "text", "payload", "context",
        "status", "error_code", "raw"
    };

    for (f = 0; f < WACHAT_FIELD_COUNT; f++) {
        if (wachat_field_names[f].data == NULL
            || strlen(wachat_field_names[f].data) != wachat_field_names[f].len
            || strcmp(wachat_field_names[f].data, names[f]) != 0)
        {
            break;
        }
    }

    ok(f == WACHAT_FIELD_COUNT
       && sizeof(names) / sizeof(names[0]) == WACHAT_FIELD_COUNT,
       "wachat_field_names: the %d stream field names, in order",
       WACHAT_FIELD_COUNT);
}


static void
test_inbound_types(void)
{
    one_item("text message", "messages",
        "{'from':'16505551234','id':'wamid.TEXT','timestamp':'1749416383',"
        "'type':'text','text':{'body':'Does it come in another color?'}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.TEXT",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID,
            [WACHAT_FIELD_TS] = "1749416383", [WACHAT_FIELD_TYPE] = "text",
            [WACHAT_FIELD_TEXT] = "Does it come in another color?" });

    one_item("image with caption", "messages",
        "{'from':'16505551234','id':'wamid.IMAGE','timestamp':'2',"
        "'type':'image','image':{'caption':'Black tee','mime_type':"
        "'image/jpeg','sha256':'47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=',"
        "'id':'1003383421387256','url':'https://lookaside.example/x'}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.IMAGE",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "2",
            [WACHAT_FIELD_TYPE] = "image", [WACHAT_FIELD_TEXT] = "Black tee" });

    one_item("audio voice note: no text", "messages",
        "{'from':'16505551234','id':'wamid.AUDIO','timestamp':'3',"
        "'type':'audio','audio':{'mime_type':'audio/ogg; codecs=opus',"
        "'sha256':'abc=','id':'1234','voice':true}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.AUDIO",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "3",
            [WACHAT_FIELD_TYPE] = "audio" });

    one_item("video with caption", "messages",
        "{'from':'16505551234','id':'wamid.VIDEO','timestamp':'4',"
        "'type':'video','video':{'caption':'Unboxing','mime_type':"
        "'video/mp4','sha256':'abc=','id':'4567'}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.VIDEO",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "4",
            [WACHAT_FIELD_TYPE] = "video", [WACHAT_FIELD_TEXT] = "Unboxing" });

    one_item("document with caption and filename", "messages",
        "{'from':'16505551234','id':'wamid.DOC','timestamp':'5',"
        "'type':'document','document':{'caption':'Invoice for May',"
        "'filename':'invoice-05.pdf','mime_type':'application/pdf',"
        "'sha256':'abc=','id':'7890'}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.DOC",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "5",
            [WACHAT_FIELD_TYPE] = "document",
            [WACHAT_FIELD_TEXT] = "Invoice for May" });

    one_item("sticker: no text", "messages",
        "{'from':'16505551234','id':'wamid.STICKER','timestamp':'6',"
        "'type':'sticker','sticker':{'mime_type':'image/webp','sha256':'x',"
        "'id':'99','animated':false}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message",
            [WACHAT_FIELD_ID] = "wamid.STICKER",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "6",
            [WACHAT_FIELD_TYPE] = "sticker" });

    one_item("location: numbers, no text", "messages",
        "{'from':'16505551234','id':'wamid.LOC','timestamp':'7',"
        "'type':'location','location':{'address':'1 Hacker Way',"
        "'latitude':37.483307,'longitude':-122.148981,'name':'Meta HQ',"
        "'url':'https://www.example.com'}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.LOC",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "7",
            [WACHAT_FIELD_TYPE] = "location" });

    one_item("contacts (vCards) message: its wa_id/profile are not contacts",
        "messages",
        "{'from':'16505551234','id':'wamid.VCARD','timestamp':'8',"
        "'type':'contacts','contacts':[{'name':{'formatted_name':"
        "'Barbara Johnson','first_name':'Barbara'},'phones':[{'phone':"
        "'+1 (940) 555-1234','wa_id':'19405551234','type':'HOME'}],"
        "'profile':{'name':'WRONG'},'wa_id':'99','user_id':'US.WRONG'}]}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.VCARD",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "8",
            [WACHAT_FIELD_TYPE] = "contacts" });

    one_item("interactive button_reply: title, id, context", "messages",
        "{'context':{'from':'15550783881','id':'wamid.CTX1'},"
        "'from':'16505551234','id':'wamid.BTN','timestamp':'1750025136',"
        "'type':'interactive','interactive':{'type':'button_reply',"
        "'button_reply':{'id':'cancel-button','title':'Cancel'}}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.BTN",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID,
            [WACHAT_FIELD_TS] = "1750025136",
            [WACHAT_FIELD_TYPE] = "interactive",
            [WACHAT_FIELD_TEXT] = "Cancel",
            [WACHAT_FIELD_PAYLOAD] = "cancel-button",
            [WACHAT_FIELD_CONTEXT] = "wamid.CTX1" });

    one_item("interactive list_reply: title, id, context", "messages",
        "{'context':{'from':'15550783881','id':'wamid.CTX2'},"
        "'from':'16505551234','id':'wamid.LIST','timestamp':'9',"
        "'type':'interactive','interactive':{'type':'list_reply',"
        "'list_reply':{'id':'priority_express','title':"
        "'Priority Mail Express','description':'Next Day to 2 Days'}}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.LIST",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "9",
            [WACHAT_FIELD_TYPE] = "interactive",
            [WACHAT_FIELD_TEXT] = "Priority Mail Express",
            [WACHAT_FIELD_PAYLOAD] = "priority_express",
            [WACHAT_FIELD_CONTEXT] = "wamid.CTX2" });

    one_item("template quick reply (type button): text, payload", "messages",
        "{'context':{'from':'15550783881','id':'wamid.TPL'},"
        "'from':'16505551234','id':'wamid.QR','timestamp':'10',"
        "'type':'button','button':{'payload':'callback_data',"
        "'text':'Yes please'}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.QR",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "10",
            [WACHAT_FIELD_TYPE] = "button",
            [WACHAT_FIELD_TEXT] = "Yes please",
            [WACHAT_FIELD_PAYLOAD] = "callback_data",
            [WACHAT_FIELD_CONTEXT] = "wamid.TPL" });

    one_item("reaction: emoji (surrogate pair) is the text", "messages",
        "{'from':'16505551234','id':'wamid.REACT','timestamp':'11',"
        "'type':'reaction','reaction':{'message_id':'wamid.ORIG',"
        "'emoji':'\\ud83d\\ude2e'}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.REACT",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "11",
            [WACHAT_FIELD_TYPE] = "reaction",
            [WACHAT_FIELD_TEXT] = "\xf0\x9f\x98\xae" });

    one_item("reaction removed: empty emoji is an empty, present text",
        "messages",
        "{'from':'16505551234','id':'wamid.UNREACT','timestamp':'12',"
        "'type':'reaction','reaction':{'message_id':'wamid.ORIG',"
        "'emoji':''}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message",
            [WACHAT_FIELD_ID] = "wamid.UNREACT",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "12",
            [WACHAT_FIELD_TYPE] = "reaction", [WACHAT_FIELD_TEXT] = "" });

    one_item("order: no text", "messages",
        "{'from':'16505551234','id':'wamid.ORDER','timestamp':'13',"
        "'type':'order','order':{'catalog_id':'c1','text':'please hurry',"
        "'product_items':[{'product_retailer_id':'p1','quantity':'2',"
        "'item_price':'10.5','currency':'USD'}]}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.ORDER",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "13",
            [WACHAT_FIELD_TYPE] = "order" });

    one_item("system: its inner type/body do not leak", "messages",
        "{'from':'16505551234','id':'wamid.SYS','system':{'body':"
        "'NAME changed from 1 to 2','wa_id':'16505550000','type':"
        "'user_changed_number'},'timestamp':'14','type':'system'}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.SYS",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "14",
            [WACHAT_FIELD_TYPE] = "system" });

    one_item("unsupported: errors[0].code 131051", "messages",
        "{'from':'16505551234','id':'wamid.UNS','timestamp':'15',"
        "'type':'unsupported','unsupported':{'type':'poll_update'},"
        "'errors':[{'code':131051,'title':'Message type unknown',"
        "'message':'Message type unknown','error_data':{'details':"
        "'Message type is currently not supported.'}},{'code':1}]}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.UNS",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "15",
            [WACHAT_FIELD_TYPE] = "unsupported",
            [WACHAT_FIELD_ERROR_CODE] = "131051" });

    one_item("request_welcome: no type object at all", "messages",
        "{'from':'16505551234','id':'wamid.WELCOME','timestamp':'16',"
        "'type':'request_welcome'}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message",
            [WACHAT_FIELD_ID] = "wamid.WELCOME",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "16",
            [WACHAT_FIELD_TYPE] = "request_welcome" });

    one_item("unknown type is still a message, extra keys ignored",
        "messages",
        "{'from':'16505551234','id':'wamid.NEW','timestamp':'17',"
        "'type':'hologram','hologram':{'text':{'body':'no'}},"
        "'referral':{'source_url':'https://fb.me/x','source_type':'ad',"
        "'body':'b','headline':'h'},'group_id':'G1','extra':[1,{'a':null}]}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.NEW",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "17",
            [WACHAT_FIELD_TYPE] = "hologram" });

    one_item("text of the type only: a stray caption is not the text",
        "messages",
        "{'from':'16505551234','id':'wamid.MIX','timestamp':'18',"
        "'image':{'caption':'not me'},'text':{'body':'me'},'type':'text'}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.MIX",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "18",
            [WACHAT_FIELD_TYPE] = "text", [WACHAT_FIELD_TEXT] = "me" });

    one_item("interactive without interactive.type: the reply present",
        "messages",
        "{'from':'16505551234','id':'wamid.IA','timestamp':'19',"
        "'type':'interactive','interactive':{'list_reply':{'id':'r1',"
        "'title':'Row 1'}}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.IA",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "19",
            [WACHAT_FIELD_TYPE] = "interactive",
            [WACHAT_FIELD_TEXT] = "Row 1", [WACHAT_FIELD_PAYLOAD] = "r1" });

    one_item("numbers kept as text: numeric timestamp, exponent code",
        "messages",
        "{'from':16505551234,'id':'wamid.NUM','timestamp':1749416383,"
        "'type':'unsupported','errors':[{'code':1.31051e5}]}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.NUM",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID,
            [WACHAT_FIELD_TS] = "1749416383",
            [WACHAT_FIELD_TYPE] = "unsupported",
            [WACHAT_FIELD_ERROR_CODE] = "1.31051e5" });

    one_item("escaped keys are decoded before matching", "messages",
        "{'fr\\u006fm':'16505551234','\\u0069d':'wamid.ESC','timestamp':'20',"
        "'type':'text','t\\u0065xt':{'body':'esc'}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.ESC",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "20",
            [WACHAT_FIELD_TYPE] = "text", [WACHAT_FIELD_TEXT] = "esc" });

    one_item("null and false values are absent fields", "messages",
        "{'from':null,'id':'wamid.NULLS','timestamp':false,'type':'text',"
        "'text':{'body':null},'context':{'id':true}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.NULLS",
            [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID,
            [WACHAT_FIELD_TYPE] = "text" });
}


static void
test_inbound_edges(void)
{
    one_item("interactive nfm_reply (flow): no text, no payload", "messages",
        "{'from':'16505551234','id':'wamid.NFM','timestamp':'21',"
        "'type':'interactive','interactive':{'type':'nfm_reply',"
        "'nfm_reply':{'name':'flow','body':'Sent','response_json':"
        "'{\\\"a\\\":1}'}}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.NFM",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "21",
            [WACHAT_FIELD_TYPE] = "interactive" });

    one_item("text.body that is an object is no text", "messages",
        "{'from':'16505551234','id':'wamid.OBJ','timestamp':'22',"
        "'type':'text','text':{'body':'first','body':{'x':'y'}}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.OBJ",
            [WACHAT_FIELD_FROM] = WA, [WACHAT_FIELD_NAME] = NAME,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "22",
            [WACHAT_FIELD_TYPE] = "text" });

    one_item("errors[0] that is no object gives no error_code", "statuses",
        "{'id':'wamid.E0','status':'failed','timestamp':'23',"
        "'recipient_id':'16505551234','errors':['oops',{'code':131047}]}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "status", [WACHAT_FIELD_ID] = "wamid.E0",
            [WACHAT_FIELD_RECIPIENT] = WA,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "23",
            [WACHAT_FIELD_STATUS] = "failed" });

    one_item("error code as a string is kept", "statuses",
        "{'id':'wamid.E1','status':'failed','timestamp':'24',"
        "'recipient_id':'16505551234','errors':[{'code':'131047'}]}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "status", [WACHAT_FIELD_ID] = "wamid.E1",
            [WACHAT_FIELD_RECIPIENT] = WA,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID, [WACHAT_FIELD_TS] = "24",
            [WACHAT_FIELD_STATUS] = "failed",
            [WACHAT_FIELD_ERROR_CODE] = "131047" });
}


static void
test_statuses(void)
{
    one_item("status sent (conversation, pricing ignored)", "statuses",
        "{'id':'wamid.OUT','status':'sent','timestamp':'1751142880',"
        "'recipient_id':'16505551234','conversation':{'id':'c1',"
        "'expiration_timestamp':'1751229280','origin':{'type':'service'}},"
        "'pricing':{'billable':true,'pricing_model':'PMP','category':"
        "'service','type':'free_customer_service'}}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "status", [WACHAT_FIELD_ID] = "wamid.OUT",
            [WACHAT_FIELD_RECIPIENT] = WA,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID,
            [WACHAT_FIELD_TS] = "1751142880", [WACHAT_FIELD_STATUS] = "sent" });

    one_item("status delivered", "statuses",
        "{'id':'wamid.OUT','status':'delivered','timestamp':'1751142881',"
        "'recipient_id':'16505551234'}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "status", [WACHAT_FIELD_ID] = "wamid.OUT",
            [WACHAT_FIELD_RECIPIENT] = WA,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID,
            [WACHAT_FIELD_TS] = "1751142881",
            [WACHAT_FIELD_STATUS] = "delivered" });

    one_item("status read", "statuses",
        "{'recipient_id':'16505551234','timestamp':'1751142882',"
        "'status':'read','id':'wamid.OUT'}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "status", [WACHAT_FIELD_ID] = "wamid.OUT",
            [WACHAT_FIELD_RECIPIENT] = WA,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID,
            [WACHAT_FIELD_TS] = "1751142882", [WACHAT_FIELD_STATUS] = "read" });

    one_item("status failed: error_code 131049", "statuses",
        "{'id':'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA',"
        "'status':'failed','timestamp':'1751142888','recipient_id':"
        "'16505551234','errors':[{'code':131049,'title':'This message was "
        "not delivered to maintain healthy ecosystem engagement.','message':"
        "'This message was not delivered.','error_data':{'details':'In order"
        " to maintain a healthy ecosystem engagement, the message failed to "
        "be delivered.'},'href':'/documentation/support/error-codes'}]}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "status",
            [WACHAT_FIELD_ID] =
                "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA",
            [WACHAT_FIELD_RECIPIENT] = WA,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID,
            [WACHAT_FIELD_TS] = "1751142888",
            [WACHAT_FIELD_STATUS] = "failed",
            [WACHAT_FIELD_ERROR_CODE] = "131049" });

    one_item("status played (voice)", "statuses",
        "{'id':'wamid.VOICE','status':'played','timestamp':'1751142890',"
        "'recipient_id':'16505551234'}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "status", [WACHAT_FIELD_ID] = "wamid.VOICE",
            [WACHAT_FIELD_RECIPIENT] = WA,
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID,
            [WACHAT_FIELD_TS] = "1751142890",
            [WACHAT_FIELD_STATUS] = "played" });

    one_item("status with recipient_user_id and an unknown status value",
        "statuses",
        "{'id':'wamid.BS','status':'deleted','timestamp':'1',"
        "'recipient_user_id':'US.1','recipient_type':'group'}",
        (want_t) {
            [WACHAT_FIELD_KIND] = "status", [WACHAT_FIELD_ID] = "wamid.BS",
            [WACHAT_FIELD_USER_ID] = "US.1",
            [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID,
            [WACHAT_FIELD_TS] = "1", [WACHAT_FIELD_STATUS] = "deleted" });
}


static void
test_batch(void)
{
    char                 *body;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

    body = q(
        "{'object':'whatsapp_business_account','entry':["
        "{'id':'W1','changes':["
          "{'field':'messages','value':{'metadata':{'phone_number_id':'P1'},"
          "'contacts':[{'profile':{'name':'Alice'},'wa_id':'111'}],"
          "'messages':[{'from':'111','id':'wamid.M1','timestamp':'1',"
          "'type':'text','text':{'body':'one'}},{'from':'111','id':"
          "'wamid.M2','timestamp':'2','type':'text','text':{'body':'two'}}],"
          "'statuses':[{'id':'wamid.S1','status':'sent','timestamp':'3',"
          "'recipient_id':'111'}]}},"
          "{'field':'account_update','value':{'event':'VERIFIED_ACCOUNT'}}]},"
        "{'id':'W2','changes':["
          "{'field':'messages','value':{'metadata':{'phone_number_id':'P2'},"
          "'contacts':[{'profile':{'name':'Bob'},'wa_id':'222'}],"
          "'statuses':[{'id':'wamid.S2','status':'delivered','timestamp':"
          "'4','recipient_id':'222'},{'id':'wamid.S3','status':'read',"
          "'timestamp':'5','recipient_id':'333'}],"
          "'messages':[{'from':'222','id':'wamid.M3','timestamp':'6',"
          "'type':'text','text':{'body':'three'}}]}},"
          "{'field':'messages','value':{'metadata':{'phone_number_id':'P3'},"
          "'messages':[{'from':'444','id':'wamid.M4','timestamp':'7',"
          "'type':'request_welcome'}]}}]}]}");

    rc = parse(&env, body);

    if (parsed(&env, rc, 8, "batch: 2 entries, 5 changes")) {
        check_event(&env, 0, "batch: first message of change 1",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.M1",
                [WACHAT_FIELD_FROM] = "111", [WACHAT_FIELD_NAME] = "Alice",
                [WACHAT_FIELD_PHONE_NUMBER_ID] = "P1", [WACHAT_FIELD_TS] = "1",
                [WACHAT_FIELD_TYPE] = "text", [WACHAT_FIELD_TEXT] = "one" });
        check_event(&env, 1, "batch: second message of change 1",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.M2",
                [WACHAT_FIELD_FROM] = "111", [WACHAT_FIELD_NAME] = "Alice",
                [WACHAT_FIELD_PHONE_NUMBER_ID] = "P1", [WACHAT_FIELD_TS] = "2",
                [WACHAT_FIELD_TYPE] = "text", [WACHAT_FIELD_TEXT] = "two" });
        check_event(&env, 2, "batch: status of change 1 (no name)",
            (want_t) {
                [WACHAT_FIELD_KIND] = "status", [WACHAT_FIELD_ID] = "wamid.S1",
                [WACHAT_FIELD_RECIPIENT] = "111",
                [WACHAT_FIELD_PHONE_NUMBER_ID] = "P1", [WACHAT_FIELD_TS] = "3",
                [WACHAT_FIELD_STATUS] = "sent" });
        check_event(&env, 3, "batch: account_update change is other",
            (want_t) {
                [WACHAT_FIELD_KIND] = "other",
                [WACHAT_FIELD_TYPE] = "account_update",
                [WACHAT_FIELD_RAW] = q("{'field':'account_update','value':"
                                       "{'event':'VERIFIED_ACCOUNT'}}") });
        check_event(&env, 4, "batch: entry 2, statuses before messages",
            (want_t) {
                [WACHAT_FIELD_KIND] = "status", [WACHAT_FIELD_ID] = "wamid.S2",
                [WACHAT_FIELD_RECIPIENT] = "222",
                [WACHAT_FIELD_PHONE_NUMBER_ID] = "P2", [WACHAT_FIELD_TS] = "4",
                [WACHAT_FIELD_STATUS] = "delivered" });
        check_event(&env, 5, "batch: second status",
            (want_t) {
                [WACHAT_FIELD_KIND] = "status", [WACHAT_FIELD_ID] = "wamid.S3",
                [WACHAT_FIELD_RECIPIENT] = "333",
                [WACHAT_FIELD_PHONE_NUMBER_ID] = "P2", [WACHAT_FIELD_TS] = "5",
                [WACHAT_FIELD_STATUS] = "read" });
        check_event(&env, 6, "batch: message after the statuses",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.M3",
                [WACHAT_FIELD_FROM] = "222", [WACHAT_FIELD_NAME] = "Bob",
                [WACHAT_FIELD_PHONE_NUMBER_ID] = "P2", [WACHAT_FIELD_TS] = "6",
                [WACHAT_FIELD_TYPE] = "text", [WACHAT_FIELD_TEXT] = "three" });
        check_event(&env, 7, "batch: change without contacts has no name",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.M4",
                [WACHAT_FIELD_FROM] = "444",
                [WACHAT_FIELD_PHONE_NUMBER_ID] = "P3", [WACHAT_FIELD_TS] = "7",
                [WACHAT_FIELD_TYPE] = "request_welcome" });
    }

    wachat_envelope_free(&env);
}


static void
test_contacts(void)
{
    char                 *body;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

    body = q(BODY_OF_CHANGE(
        "{'value':{'messages':[{'from':'16505551234','id':'wamid.LATE',"
        "'timestamp':'1','type':'text','text':{'body':'hi'}}],"
        "'contacts':[{'profile':{'name':'Late Contact'},"
        "'wa_id':'16505551234','user_id':'US.9'}],"
        "'messaging_product':'whatsapp','metadata':{'phone_number_id':"
        "'106540352242922'}},'field':'messages'}"));

    rc = parse(&env, body);

    if (parsed(&env, rc, 1, "contacts and metadata after messages")) {
        check_event(&env, 0, "contacts after messages: name, user_id, pnid",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message",
                [WACHAT_FIELD_ID] = "wamid.LATE", [WACHAT_FIELD_FROM] = WA,
                [WACHAT_FIELD_USER_ID] = "US.9",
                [WACHAT_FIELD_NAME] = "Late Contact",
                [WACHAT_FIELD_PHONE_NUMBER_ID] = PNID,
                [WACHAT_FIELD_TS] = "1", [WACHAT_FIELD_TYPE] = "text",
                [WACHAT_FIELD_TEXT] = "hi" });
    }

    wachat_envelope_free(&env);

    body = q(BODY_OF_CHANGE(
        "{'field':'messages','value':{'contacts':["
        "{'profile':{'name':'Alice'},'wa_id':'111'},"
        "{'wa_id':'222','profile':{'name':'Bob','username':'bob'}},"
        "{},"
        "{'profile':{'name':'Carol'},'wa_id':'333','user_id':'US.3'}],"
        "'messages':["
        "{'from':'333','id':'wamid.C','timestamp':'1','type':'text'},"
        "{'from':'111','id':'wamid.A','timestamp':'2','type':'text'},"
        "{'from':'222','id':'wamid.B','timestamp':'3','type':'text'},"
        "{'from':'444','id':'wamid.D','timestamp':'4','type':'text'}]}}"));

    rc = parse(&env, body);

    if (parsed(&env, rc, 4, "several contacts")) {
        check_event(&env, 0, "several contacts: Carol by wa_id (+user_id)",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.C",
                [WACHAT_FIELD_FROM] = "333", [WACHAT_FIELD_USER_ID] = "US.3",
                [WACHAT_FIELD_NAME] = "Carol", [WACHAT_FIELD_TS] = "1",
                [WACHAT_FIELD_TYPE] = "text" });
        check_event(&env, 1, "several contacts: Alice by wa_id",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.A",
                [WACHAT_FIELD_FROM] = "111", [WACHAT_FIELD_NAME] = "Alice",
                [WACHAT_FIELD_TS] = "2", [WACHAT_FIELD_TYPE] = "text" });
        check_event(&env, 2, "several contacts: Bob by wa_id",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.B",
                [WACHAT_FIELD_FROM] = "222", [WACHAT_FIELD_NAME] = "Bob",
                [WACHAT_FIELD_TS] = "3", [WACHAT_FIELD_TYPE] = "text" });
        check_event(&env, 3, "several contacts: no match, no name",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.D",
                [WACHAT_FIELD_FROM] = "444", [WACHAT_FIELD_TS] = "4",
                [WACHAT_FIELD_TYPE] = "text" });
    }

    wachat_envelope_free(&env);

    body = q(BODY_OF_CHANGE(
        "{'field':'messages','value':{'metadata':{'phone_number_id':'P'},"
        "'contacts':[{'profile':{'name':'Dana','username':'dana'},"
        "'user_id':'US.13491208655302741918'},"
        "{'profile':{'name':'Eve'},'wa_id':'555','user_id':'US.2'}],"
        "'messages':[{'from_user_id':'US.13491208655302741918','id':"
        "'wamid.BSUID','timestamp':'1','type':'text','text':{'body':'hi'}},"
        "{'from':'555','id':'wamid.EVE','timestamp':'2','type':'text',"
        "'text':{'body':'yo'}}]}}"));

    rc = parse(&env, body);

    if (parsed(&env, rc, 2, "business-scoped user ids")) {
        check_event(&env, 0, "no from, only from_user_id: still a message, "
                    "name matched by user_id",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message",
                [WACHAT_FIELD_ID] = "wamid.BSUID",
                [WACHAT_FIELD_USER_ID] = "US.13491208655302741918",
                [WACHAT_FIELD_NAME] = "Dana",
                [WACHAT_FIELD_PHONE_NUMBER_ID] = "P", [WACHAT_FIELD_TS] = "1",
                [WACHAT_FIELD_TYPE] = "text", [WACHAT_FIELD_TEXT] = "hi" });
        check_event(&env, 1, "user_id taken from the matching contact",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message",
                [WACHAT_FIELD_ID] = "wamid.EVE",
                [WACHAT_FIELD_FROM] = "555", [WACHAT_FIELD_USER_ID] = "US.2",
                [WACHAT_FIELD_NAME] = "Eve",
                [WACHAT_FIELD_PHONE_NUMBER_ID] = "P", [WACHAT_FIELD_TS] = "2",
                [WACHAT_FIELD_TYPE] = "text", [WACHAT_FIELD_TEXT] = "yo" });
    }

    wachat_envelope_free(&env);

    body = q(BODY_OF_CHANGE(
        "{'field':'messages','value':{"
        "'contacts':[{'profile':{'name':'Brazil'},'wa_id':'5511999998888',"
        "'user_id':'US.BR'}],"
        "'messages':[{'from':'551199998888','id':'wamid.BR','timestamp':'1',"
        "'type':'text','text':{'body':'oi'}}],"
        "'statuses':[{'id':'wamid.ST','status':'sent','timestamp':'2',"
        "'recipient_id':'1999'}]}}"));

    rc = parse(&env, body);

    if (parsed(&env, rc, 2, "the only contact of the change")) {
        check_event(&env, 0, "from differs from wa_id: the only contact",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.BR",
                [WACHAT_FIELD_FROM] = "551199998888",
                [WACHAT_FIELD_USER_ID] = "US.BR",
                [WACHAT_FIELD_NAME] = "Brazil", [WACHAT_FIELD_TS] = "1",
                [WACHAT_FIELD_TYPE] = "text", [WACHAT_FIELD_TEXT] = "oi" });
        check_event(&env, 1, "a status is not given the only contact",
            (want_t) {
                [WACHAT_FIELD_KIND] = "status", [WACHAT_FIELD_ID] = "wamid.ST",
                [WACHAT_FIELD_RECIPIENT] = "1999", [WACHAT_FIELD_TS] = "2",
                [WACHAT_FIELD_STATUS] = "sent" });
    }

    wachat_envelope_free(&env);

    body = q(BODY_OF_CHANGE(
        "{'field':'messages','value':{"
        "'contacts':[{'wa_id':'777','user_id':'US.7','profile':{'name':'S'}},"
        "{'wa_id':'778','user_id':'US.8'}],"
        "'statuses':[{'id':'wamid.ST7','status':'read','timestamp':'2',"
        "'recipient_id':'777'}]}}"));

    rc = parse(&env, body);

    if (parsed(&env, rc, 1, "status with contacts")) {
        check_event(&env, 0, "status: user_id from the contact, no name",
            (want_t) {
                [WACHAT_FIELD_KIND] = "status", [WACHAT_FIELD_ID] = "wamid.ST7",
                [WACHAT_FIELD_RECIPIENT] = "777",
                [WACHAT_FIELD_USER_ID] = "US.7", [WACHAT_FIELD_TS] = "2",
                [WACHAT_FIELD_STATUS] = "read" });
    }

    wachat_envelope_free(&env);
}


static void
test_many_contacts(void)
{
    char                 *body;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

    body = q(BODY_OF_CHANGE(
        "{'field':'messages','value':{'contacts':["
        "{'wa_id':'1','profile':{'name':'N1'}},[{'wa_id':'6'}],'x',null,"
        "{'wa_id':'2','profile':{'name':'N2'}},"
        "{'wa_id':'3','profile':{'name':'N3'}},"
        "{'wa_id':'4','profile':{'name':'N4'}},"
        "{'wa_id':'5','profile':{'name':'N5'}},"
        "{'wa_id':'6','profile':{'name':'N6'},'user_id':'US.6'}],"
        "'messages':[{'from':'6','id':'wamid.6'},{'from':'1','id':"
        "'wamid.1'}]}}"));

    rc = parse(&env, body);

    if (parsed(&env, rc, 2, "six contacts, odd items among them")) {
        check_event(&env, 0, "six contacts: the last one matches",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.6",
                [WACHAT_FIELD_FROM] = "6", [WACHAT_FIELD_USER_ID] = "US.6",
                [WACHAT_FIELD_NAME] = "N6" });
        check_event(&env, 1, "six contacts: the first one matches",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.1",
                [WACHAT_FIELD_FROM] = "1", [WACHAT_FIELD_NAME] = "N1" });
    }

    wachat_envelope_free(&env);

    body = q(BODY_OF_CHANGE(
        "{'field':'messages','value':{'contacts':["
        "{'wa_id':'1','profile':{'name':'N1'}},"
        "{'wa_id':'2','profile':{'name':'N2'}},"
        "{'wa_id':'3','profile':{'name':'N3'}}],"
        "'messages':[{'from':'3','id':'wamid.3'},{'from':'2','id':"
        "'wamid.2'}]}}"));

    rc = parse_n(&env, body, strlen(body), 0, 2);

    ok(rc == WACHAT_ENVELOPE_OK && env.nevents == 2
       && env.events[0].field[WACHAT_FIELD_NAME].data == NULL
       && str_is(&env.events[1].field[WACHAT_FIELD_NAME], "N2"),
       "contacts beyond max_events are not kept (bounded matching)");

    wachat_envelope_free(&env);
}


static void
test_unicode(void)
{
    char                 *body, *msg;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

    msg = q("{'from':'16505551234','id':'wamid.UNI','timestamp':'1',"
            "'type':'text','text':{'body':"
            "'J\\u0027ai mang\\u00e9 des p\\u00e2tes \\ud83d\\ude2e "
            "a\\/b\\u0040c \\\"q\\\" caf\xc3\xa9'}}");

    body = cat3(q("{'object':'whatsapp_business_account','entry':[{"
                  "'changes':[{'field':'messages','value':{'contacts':[{"
                  "'profile':{'name':'Jos\\u00e9'},'wa_id':'16505551234'}],"
                  "'messages':["),
                msg, q(TAIL));

    rc = parse(&env, body);

    if (parsed(&env, rc, 1, "unicode escapes")) {
        check_event(&env, 0, "unicode: decoded UTF-8 text and name, "
                    "raw keeps the escapes",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message",
                [WACHAT_FIELD_ID] = "wamid.UNI",
                [WACHAT_FIELD_FROM] = WA,
                [WACHAT_FIELD_NAME] = "Jos\xc3\xa9",
                [WACHAT_FIELD_TS] = "1", [WACHAT_FIELD_TYPE] = "text",
                [WACHAT_FIELD_TEXT] = "J'ai mang\xc3\xa9 des p\xc3\xa2tes "
                                      "\xf0\x9f\x98\xae a/b@c \"q\" "
                                      "caf\xc3\xa9",
                [WACHAT_FIELD_RAW] = msg });

        ok(env.events[0].field[WACHAT_FIELD_RAW].data == strstr(body, msg),
           "unicode: raw points into the body, at the message");
    }

    wachat_envelope_free(&env);

    body = q(BODY_OF_CHANGE(
        "{'field':'messages','value':{'messages':[{'id':'wamid.NUL',"
        "'type':'text','text':{'body':'a\\u0000b'}}]}}"));

    rc = parse(&env, body);

    ok(rc == WACHAT_ENVELOPE_OK && env.nevents == 1
       && env.events[0].field[WACHAT_FIELD_TEXT].len == 3
       && memcmp(env.events[0].field[WACHAT_FIELD_TEXT].data, "a\0b", 3)
          == 0,
       "unicode: \\u0000 decodes to a NUL byte, length kept");

    wachat_envelope_free(&env);
}


static void
test_whitespace(void)
{
    char                 *body;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

    body = q("\r\n {\n  'object' : 'whatsapp_business_account' ,\r\n"
             "  'entry' : [ {\n\t'id':'1', 'changes' : [ { 'field' : "
             "'messages' , 'value' : {\n    'messages' : [\n      {\n"
             "        'from' : '1' ,\n        'id' : 'wamid.WS'\n      }\n"
             "      ,\n      42 ,  'str'\n ,\t[ 1 , 2 ] ,{'id':'wamid.T'}"
             ",\n-1.5e3\n,true,null,\n{}\n    ]\n  } } ] } ]\n}\n\t ");

    rc = parse(&env, body);

    if (parsed(&env, rc, 9, "whitespace and newlines around objects")) {
        check_event(&env, 0, "whitespace: object raw from { to }",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.WS",
                [WACHAT_FIELD_FROM] = "1",
                [WACHAT_FIELD_RAW] = q("{\n        'from' : '1' ,\n"
                                       "        'id' : 'wamid.WS'\n      }") });
        check_event(&env, 1, "whitespace: number item raw",
            (want_t) {
                [WACHAT_FIELD_KIND] = "other", [WACHAT_FIELD_TYPE] = "messages",
                [WACHAT_FIELD_RAW] = "42" });
        check_event(&env, 2, "whitespace: string item raw keeps quotes",
            (want_t) {
                [WACHAT_FIELD_KIND] = "other", [WACHAT_FIELD_TYPE] = "messages",
                [WACHAT_FIELD_RAW] = "\"str\"" });
        check_event(&env, 3, "whitespace: array item raw from [ to ]",
            (want_t) {
                [WACHAT_FIELD_KIND] = "other", [WACHAT_FIELD_TYPE] = "messages",
                [WACHAT_FIELD_RAW] = "[ 1 , 2 ]" });
        check_event(&env, 4, "whitespace: compact object after a comma",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.T",
                [WACHAT_FIELD_RAW] = q("{'id':'wamid.T'}") });
        check_event(&env, 5, "whitespace: negative exponent number item",
            (want_t) {
                [WACHAT_FIELD_KIND] = "other", [WACHAT_FIELD_TYPE] = "messages",
                [WACHAT_FIELD_RAW] = "-1.5e3" });
        check_event(&env, 6, "whitespace: true item",
            (want_t) {
                [WACHAT_FIELD_KIND] = "other", [WACHAT_FIELD_TYPE] = "messages",
                [WACHAT_FIELD_RAW] = "true" });
        check_event(&env, 7, "whitespace: null item",
            (want_t) {
                [WACHAT_FIELD_KIND] = "other", [WACHAT_FIELD_TYPE] = "messages",
                [WACHAT_FIELD_RAW] = "null" });
        check_event(&env, 8, "whitespace: empty object item (no id)",
            (want_t) {
                [WACHAT_FIELD_KIND] = "other", [WACHAT_FIELD_TYPE] = "messages",
                [WACHAT_FIELD_RAW] = "{}" });
    }

    wachat_envelope_free(&env);

    /* found by the fuzzer: a value after \v or \f lost its start */
    body = q("{'object':'whatsapp_business_account','entry':[{'id':'1',"
             "'changes':[{'field':'messages','value':{'messages':"
             "[1,\v\v\fnull,\f{'id':'wamid.V'}\v]}}]}]}");

    rc = parse(&env, body);

    if (parsed(&env, rc, 3, "vertical tab and form feed between items")) {
        check_event(&env, 1, "\\v\\f: null item raw starts at null",
            (want_t) {
                [WACHAT_FIELD_KIND] = "other", [WACHAT_FIELD_TYPE] = "messages",
                [WACHAT_FIELD_RAW] = "null" });
        check_event(&env, 2, "\\f: object item raw starts at {",
            (want_t) {
                [WACHAT_FIELD_KIND] = "message", [WACHAT_FIELD_ID] = "wamid.V",
                [WACHAT_FIELD_RAW] = q("{'id':'wamid.V'}") });
    }

    wachat_envelope_free(&env);
}


/* a body whose only event is an "other" with this type and raw */
static void
one_other(const char *desc, const char *body_q, const char *type,
    const char *raw_q)
{
    char                 *body;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

    body = q(body_q);
    rc = parse(&env, body);

    if (parsed(&env, rc, 1, desc)) {
        check_event(&env, 0, desc,
            (want_t) {
                [WACHAT_FIELD_KIND] = "other", [WACHAT_FIELD_TYPE] = type,
                [WACHAT_FIELD_RAW] = raw_q ? q(raw_q) : body });

    } else {
        ok(0, "%s", desc);
    }

    wachat_envelope_free(&env);
}


#define VALID_CHANGE                                                         \
    "{'field':'messages','value':{'messages':[{'id':'wamid.V','from':'1',"  \
    "'type':'text','text':{'body':'x'}}]}}"

#define OTHER_CHANGE(c)  BODY_OF_CHANGE(c), "messages", c


static void
test_other(void)
{
    char                 *body;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

    one_other("other: account_update change",
              BODY_OF_CHANGE("{'value':{'phone_number':'15550783881',"
                             "'event':'VERIFIED_ACCOUNT'},"
                             "'field':'account_update'}"),
              "account_update",
              "{'value':{'phone_number':'15550783881',"
              "'event':'VERIFIED_ACCOUNT'},'field':'account_update'}");

    one_other("other: a non-messages change with messages inside",
              BODY_OF_CHANGE("{'field':'smb_message_echoes','value':"
                             "{'messages':[{'id':'wamid.E'}],"
                             "'message_echoes':[{'id':'wamid.F'}]}}"),
              "smb_message_echoes",
              "{'field':'smb_message_echoes','value':"
              "{'messages':[{'id':'wamid.E'}],"
              "'message_echoes':[{'id':'wamid.F'}]}}");

    one_other("other: field after value decides (messages discarded)",
              BODY_OF_CHANGE("{'value':{'messages':[{'id':'wamid.G'}]},"
                             "'field':'history'}"),
              "history",
              "{'value':{'messages':[{'id':'wamid.G'}]},'field':'history'}");

    one_other("other: messages change with only value.errors",
              OTHER_CHANGE("{'field':'messages','value':{"
                           "'messaging_product':'whatsapp','metadata':{"
                           "'phone_number_id':'2'},'errors':[{'code':130429,"
                           "'title':'Rate limit hit'}]}}"));

    one_other("other: messages change with empty arrays",
              OTHER_CHANGE("{'field':'messages','value':{'messages':[],"
                           "'statuses':[]}}"));

    one_other("other: messages change where messages is no array",
              OTHER_CHANGE("{'field':'messages','value':{'messages':"
                           "{'id':'wamid.H'}}}"));

    one_other("other: change without value",
              OTHER_CHANGE("{'field':'messages'}"));

    one_other("other: change whose value is an array",
              OTHER_CHANGE("{'field':'messages','value':[{'messages':"
                           "[{'id':'wamid.I'}]}]}"));

    one_other("other: change whose value is a string",
              OTHER_CHANGE("{'value':'x','field':'messages'}"));

    one_other("other: change without field is type unknown",
              BODY_OF_CHANGE("{'value':{'messages':[{'id':'wamid.J'}]}}"),
              "unknown", "{'value':{'messages':[{'id':'wamid.J'}]}}");

    one_other("other: numeric field is type unknown",
              BODY_OF_CHANGE("{'field':7,'value':{'messages':[{'id':'x'}]}}"),
              "unknown", "{'field':7,'value':{'messages':[{'id':'x'}]}}");

    one_other("other: message without id",
              HEAD "'messages':[{'from':'1','type':'text','text':"
              "{'body':'x'}}" TAIL,
              "messages", "{'from':'1','type':'text','text':{'body':'x'}}");

    one_other("other: message with a numeric id",
              HEAD "'messages':[{'id':12345,'from':'1'}" TAIL,
              "messages", "{'id':12345,'from':'1'}");

    one_other("other: message with an empty id",
              HEAD "'messages':[{'id':'','from':'1'}" TAIL,
              "messages", "{'id':'','from':'1'}");

    one_other("other: message whose id is an object",
              HEAD "'messages':[{'id':{'x':'wamid.K'}}" TAIL,
              "messages", "{'id':{'x':'wamid.K'}}");

    one_other("other: duplicate id key, the null one last",
              HEAD "'messages':[{'id':'wamid.L','id':null}" TAIL,
              "messages", "{'id':'wamid.L','id':null}");

    one_other("other: status without status",
              HEAD "'statuses':[{'id':'wamid.M','timestamp':'1',"
              "'recipient_id':'1'}" TAIL,
              "messages", "{'id':'wamid.M','timestamp':'1',"
              "'recipient_id':'1'}");

    one_other("other: status without id",
              HEAD "'statuses':[{'status':'read'}" TAIL,
              "messages", "{'status':'read'}");

    one_other("other: status item that is a string",
              HEAD "'statuses':['wamid.N:read'" TAIL,
              "messages", "'wamid.N:read'");

    one_other("other: top level is an array", "[]", "unknown", NULL);
    one_other("other: top level is a string", " 'x' ", "unknown", NULL);
    one_other("other: top level is a number", "123", "unknown", NULL);
    one_other("other: top level is a number with spaces", "\t-0.5e-3 \n",
              "unknown", NULL);
    one_other("other: top level is null", "null", "unknown", NULL);
    one_other("other: empty object", "{}", "unknown", NULL);

    one_other("other: object is not whatsapp_business_account",
              "{'object':'page','entry':[{'id':'1','changes':["
              VALID_CHANGE "]}]}", "unknown", NULL);
    one_other("other: object is a number",
              "{'object':1,'entry':[{'changes':[" VALID_CHANGE "]}]}",
              "unknown", NULL);
    one_other("other: wrong object after entry drops the messages",
              "{'entry':[{'id':'1','changes':[" VALID_CHANGE "]}],"
              "'object':'instagram'}", "unknown", NULL);
    one_other("other: no object key",
              "{'entry':[{'id':'1','changes':[" VALID_CHANGE "]}]}",
              "unknown", NULL);
    one_other("other: no entry",
              "{'object':'whatsapp_business_account'}", "unknown", NULL);
    one_other("other: entry is an object",
              "{'object':'whatsapp_business_account','entry':{'changes':["
              VALID_CHANGE "]}}", "unknown", NULL);
    one_other("other: entry item is a string",
              "{'object':'whatsapp_business_account','entry':["
              "{'changes':[" VALID_CHANGE "]},'x']}", "unknown", NULL);
    one_other("other: entry is a string",
              "{'object':'whatsapp_business_account','entry':'x'}",
              "unknown", NULL);
    one_other("other: entry item is an array",
              "{'object':'whatsapp_business_account','entry':[[{'changes':["
              VALID_CHANGE "]}]]}", "unknown", NULL);
    one_other("other: entry without changes",
              "{'object':'whatsapp_business_account','entry':[{'id':'1'}]}",
              "unknown", NULL);
    one_other("other: changes is an object",
              "{'object':'whatsapp_business_account','entry':[{'changes':"
              VALID_CHANGE "}]}", "unknown", NULL);
    one_other("other: changes is a string",
              "{'object':'whatsapp_business_account','entry':[{'changes':"
              "'x'}]}", "unknown", NULL);
    one_other("other: a change that is an array",
              "{'object':'whatsapp_business_account','entry':[{'changes':["
              VALID_CHANGE ",[]]}]}", "unknown", NULL);
    one_other("other: a change that is a number",
              "{'object':'whatsapp_business_account','entry':[{'changes':["
              "1," VALID_CHANGE "]}]}", "unknown", NULL);

    body = q("{'object':'whatsapp_business_account','entry':[],"
             "'extra':{'entry':'x','object':'y'}}");
    rc = parse(&env, body);
    ok(rc == WACHAT_ENVELOPE_OK && env.nevents == 0,
       "empty entry array: valid shape, no events; nested keys ignored");
    wachat_envelope_free(&env);

    body = q("{'object':'whatsapp_business_account','entry':[{'id':'1',"
             "'changes':[]}]}");
    rc = parse(&env, body);
    ok(rc == WACHAT_ENVELOPE_OK && env.nevents == 0,
       "empty changes array: no events");
    wachat_envelope_free(&env);

    body = q(HEAD "'messages':[{'id':'wamid.OK1'},7,{'from':'1'},"
             "{'id':'wamid.OK2'}" TAIL);
    rc = parse(&env, body);

    if (parsed(&env, rc, 4, "items: others keep their place")) {
        ok(str_is(&env.events[0].field[WACHAT_FIELD_ID], "wamid.OK1")
           && str_is(&env.events[1].field[WACHAT_FIELD_RAW], "7")
           && str_is(&env.events[2].field[WACHAT_FIELD_KIND], "other")
           && env.events[2].field[WACHAT_FIELD_PHONE_NUMBER_ID].data == NULL
           && env.events[2].field[WACHAT_FIELD_NAME].data == NULL
           && str_is(&env.events[3].field[WACHAT_FIELD_ID], "wamid.OK2"),
           "items: message, other, other (no pnid/name), message in order");
    }

    wachat_envelope_free(&env);
}


static void
test_dedup(void)
{
    char                 *body;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

    body = q(BODY_OF_CHANGE(
        "{'field':'messages','value':{'messages':[{'id':'wamid.X1'}],"
        "'statuses':[{'id':'wamid.X1','status':'delivered'}]}},"
        "{'field':'account_update','value':{'event':'VERIFIED_ACCOUNT'}}"));

    rc = parse(&env, body);

    if (parsed(&env, rc, 3, "dedup")) {
        ok(str_is(&env.events[0].dedup, "wamid.X1"),
           "dedup: message is the wamid");
        ok(str_is(&env.events[1].dedup, "wamid.X1:delivered"),
           "dedup: status is wamid:status");
        ok(str_is(&env.events[2].dedup, "other:ad3191f7bb5ac0bd4e689807405b1"
                  "af61fd1b38ff9fe423d682929c301d21dc8"),
           "dedup: other is other:<sha256 hex of raw>");
    }

    wachat_envelope_free(&env);

    rc = parse(&env, "[]");
    ok(rc == WACHAT_ENVELOPE_OK && env.nevents == 1
       && str_is(&env.events[0].dedup, "other:4f53cda18c2baa0c0354bb5f9a3ec"
                 "be5ed12ab4d8e11ba873c2f11161202b945"),
       "dedup: whole-body other hashes the whole body");
    wachat_envelope_free(&env);
}


static char *
nested(const char *open, const char *close, size_t n)
{
    return cat3(repeat(open, n), "", repeat(close, n));
}


static void
test_too_deep(void)
{
    char                 *body;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

    rc = parse(&env, nested("[", "]", 64));
    ok(rc == WACHAT_ENVELOPE_OK && env.nevents == 1,
       "depth: 64 levels are fine (an other)");
    wachat_envelope_free(&env);

    rc = parse(&env, nested("[", "]", 65));
    ok(rc == WACHAT_ENVELOPE_TOO_DEEP && env.nevents == 0
       && env.events == NULL && env.error[0] != '\0',
       "depth: 65 levels are TOO_DEEP");
    wachat_envelope_free(&env);

    /* body(1) entry(2) {3} changes(4) {5} value(6) messages(7) {8} x(9..) */
    body = q(cat3(HEAD "'messages':[{'id':'wamid.D','x':",
                  cat3(repeat("{'a':", 56), "1", repeat("}", 56)),
                  "}" TAIL));
    rc = parse(&env, body);
    ok(rc == WACHAT_ENVELOPE_OK && env.nevents == 1
       && str_is(&env.events[0].field[WACHAT_FIELD_ID], "wamid.D"),
       "depth: 64 levels down into a message are fine");
    wachat_envelope_free(&env);

    body = q(cat3(HEAD "'messages':[{'id':'wamid.D','x':",
                  cat3(repeat("{'a':", 57), "1", repeat("}", 57)),
                  "}" TAIL));
    rc = parse(&env, body);
    ok(rc == WACHAT_ENVELOPE_TOO_DEEP,
       "depth: 65 levels inside a message are TOO_DEEP");
    wachat_envelope_free(&env);

    body = q(HEAD "'messages':[{'id':'wamid.D'}" TAIL);
    rc = parse_n(&env, body, strlen(body), 3, 0);
    ok(rc == WACHAT_ENVELOPE_TOO_DEEP && strstr(env.error, "3") != NULL,
       "depth: max_depth limit is honoured");
    wachat_envelope_free(&env);

    rc = parse(&env, nested("[", "]", 100000));
    ok(rc == WACHAT_ENVELOPE_TOO_DEEP, "depth: 100000 levels, no crash");
    wachat_envelope_free(&env);
}


static void
test_too_many(void)
{
    char                 *body, *items;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

    body = q(HEAD "'messages':[{'id':'a'},{'id':'b'},{'id':'c'}" TAIL);
    rc = parse_n(&env, body, strlen(body), 0, 2);
    ok(rc == WACHAT_ENVELOPE_TOO_MANY && env.nevents == 0
       && env.events == NULL && strstr(env.error, "2") != NULL,
       "too many: 3 messages, max_events 2");
    wachat_envelope_free(&env);

    body = q(HEAD "'messages':[{'id':'a'},{'id':'b'}" TAIL);
    rc = parse_n(&env, body, strlen(body), 0, 2);
    ok(rc == WACHAT_ENVELOPE_OK && env.nevents == 2,
       "too many: 2 messages, max_events 2 is fine");
    wachat_envelope_free(&env);

    body = q(HEAD "'messages':[{'id':'a'},1,[],{}" TAIL);
    rc = parse_n(&env, body, strlen(body), 0, 3);
    ok(rc == WACHAT_ENVELOPE_TOO_MANY,
       "too many: other items count as events");
    wachat_envelope_free(&env);

    body = q(BODY_OF_CHANGE("{'field':'messages','value':{'messages':["
                            "{'id':'a'},{'id':'b'}]}},{'field':'messages',"
                            "'value':{'statuses':[{'id':'c','status':"
                            "'read'}]}}"));
    rc = parse_n(&env, body, strlen(body), 0, 2);
    ok(rc == WACHAT_ENVELOPE_TOO_MANY, "too many: across changes");
    wachat_envelope_free(&env);

    body = q(BODY_OF_CHANGE("{'field':'messages','value':{'messages':["
                            "{'id':'a'},{'id':'b'}]}},{'field':'security',"
                            "'value':{}}"));
    rc = parse_n(&env, body, strlen(body), 0, 2);
    ok(rc == WACHAT_ENVELOPE_TOO_MANY,
       "too many: 2 messages + 1 other change");
    wachat_envelope_free(&env);

    body = q(BODY_OF_CHANGE("{'value':{'messages':[{'id':'a'},{'id':'b'},"
                            "{'id':'c'}]},'field':'history'},"
                            "{'field':'messages','value':{'messages':"
                            "[{'id':'d'}]}}"));
    rc = parse_n(&env, body, strlen(body), 0, 2);
    ok(rc == WACHAT_ENVELOPE_OK && env.nevents == 2
       && str_is(&env.events[0].field[WACHAT_FIELD_TYPE], "history")
       && str_is(&env.events[1].field[WACHAT_FIELD_ID], "d"),
       "too many: a non-messages change counts once, however big");
    wachat_envelope_free(&env);

    body = q("{'entry':[{'changes':[{'field':'messages','value':{"
             "'messages':[{'id':'a'},{'id':'b'},{'id':'c'}]}}]}],"
             "'object':'page'}");
    rc = parse_n(&env, body, strlen(body), 0, 2);
    ok(rc == WACHAT_ENVELOPE_OK && env.nevents == 1
       && str_is(&env.events[0].field[WACHAT_FIELD_TYPE], "unknown"),
       "too many: an unexpected body is one event, however big");
    wachat_envelope_free(&env);

    items = repeat("{'id':'wamid.Z'},", 4096);
    body = q(cat3(HEAD "'messages':[", items, "{'id':'last'}" TAIL));
    rc = parse(&env, body);
    ok(rc == WACHAT_ENVELOPE_TOO_MANY, "too many: 4097 > default 4096");
    wachat_envelope_free(&env);

    items = repeat("{'id':'wamid.Z'},", 4095);
    body = q(cat3(HEAD "'messages':[", items, "{'id':'last'}" TAIL));
    rc = parse(&env, body);
    ok(rc == WACHAT_ENVELOPE_OK && env.nevents == 4096
       && str_is(&env.events[4095].field[WACHAT_FIELD_ID], "last")
       && str_is(&env.events[4095].field[WACHAT_FIELD_NAME], NAME),
       "too many: 4096 events are fine, all resolved");
    wachat_envelope_free(&env);
}


static void
bad_json(const char *desc, const char *body, size_t len)
{
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

    rc = parse_n(&env, body, len, 0, 0);

    if (!ok(rc == WACHAT_ENVELOPE_BAD_JSON && env.nevents == 0
            && env.events == NULL && env.error[0] != '\0'
            && strstr(env.error, "SECRET") == NULL,
            "bad json: %s", desc))
    {
        diag("  rc %s, error '%s'", rc_name(rc), env.error);

    } else {
        printf("# %s -> %s\n", desc, env.error);
    }

    wachat_envelope_free(&env);
}


static void
test_bad_json(void)
{
    char  *body;

    body = q(HEAD "'messages':[{'id':'wamid.SECRET','text':{'body':"
             "'SECRET'}}" TAIL);

    bad_json("truncated body", body, strlen(body) - 3);
    bad_json("truncated inside a string", body, strlen(body) / 2);
    bad_json("trailing junk", cat3(body, " x", ""), strlen(body) + 2);
    bad_json("a second value", cat3(body, "{}", ""), strlen(body) + 2);
    body = q("{'object':'SECRET\xff'}");
    bad_json("invalid UTF-8 (0xff) inside a string", body, strlen(body));
    body = q("{'SECRET\xc3\x28':1}");
    bad_json("invalid UTF-8 (0xc3 0x28) inside a key", body, strlen(body));
    bad_json("byte 0xff outside a string", "{\xff}", 3);
    body = q("{'SECRET':'\xc0\xaf'}");
    bad_json("overlong UTF-8 (0xc0 0xaf)", body, strlen(body));
    body = q("{'SECRET':'\xe0\x80\xaf'}");
    bad_json("overlong 3-byte UTF-8", body, strlen(body));
    body = q("{'SECRET':'\xed\xa0\xbd'}");
    bad_json("UTF-16 surrogate encoded in UTF-8", body, strlen(body));
    body = q("{'SECRET':'\xf4\x90\x80\x80'}");
    bad_json("code point above U+10FFFF", body, strlen(body));
    body = q("{'SECRET':'\xf0\x9f\x98'}");
    bad_json("4-byte sequence cut short", body, strlen(body));
    bad_json("multibyte lead as the last byte", "[\"\xe2", 3);
    bad_json("empty body", "", 0);
    bad_json("only whitespace", " \r\n\t", 4);
    bad_json("a lone closing brace", "}", 1);
    bad_json("comment", "/* SECRET */ {}", 15);
    bad_json("single quotes", "{'SECRET':1}", 12);
    bad_json("NaN", "[NaN]", 5);
    bad_json("NUL byte inside the body", "{\"a\":\"b\0\"}", 10);
    bad_json("bad escape", "[\"\\x41\"]", 8);
    bad_json("truncated number at the end", "[1", 2);
}


static void
test_absent(void)
{
    int                   f, good;
    char                 *body;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

    body = q(BODY_OF_CHANGE("{'field':'messages','value':{'messages':"
                            "[{'id':'wamid.ONLY'}]}}"));
    rc = parse(&env, body);

    good = (rc == WACHAT_ENVELOPE_OK && env.nevents == 1);

    for (f = 0; good && f < WACHAT_FIELD_COUNT; f++) {
        switch (f) {
        case WACHAT_FIELD_V:
        case WACHAT_FIELD_KIND:
        case WACHAT_FIELD_ID:
        case WACHAT_FIELD_RAW:
            good = env.events[0].field[f].data != NULL;
            break;
        default:
            good = env.events[0].field[f].data == NULL
                   && env.events[0].field[f].len == 0;
        }
    }

    ok(good, "absent fields: a bare {id} message has only v, kind, id, raw");
    wachat_envelope_free(&env);

    rc = wachat_envelope_parse(&env, "{}", 2, NULL);
    ok(rc == WACHAT_ENVELOPE_OK && env.nevents == 1,
       "limits NULL means the defaults");
    wachat_envelope_free(&env);

    /* raw UTF-8 (not escaped) of 2, 3 and 4 bytes is valid JSON */
    body = q("{'t':'caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\xae padding'}");
    rc = wachat_envelope_parse(&env, body, strlen(body), NULL);
    ok(rc == WACHAT_ENVELOPE_OK && env.nevents == 1,
       "strict UTF-8 check accepts 2, 3 and 4 byte sequences");
    wachat_envelope_free(&env);
    wachat_envelope_free(&env);
    ok(env.arena == NULL && env.events == NULL,
       "free twice is harmless; free clears the envelope");
}


int
main(void)
{
    size_t  i;

    test_field_names();
    test_inbound_types();
    test_inbound_edges();
    test_statuses();
    test_batch();
    test_contacts();
    test_many_contacts();
    test_unicode();
    test_whitespace();
    test_other();
    test_dedup();
    test_too_deep();
    test_too_many();
    test_bad_json();
    test_absent();

    printf("1..%d\n", ntests);

    for (i = 0; i < nowned; i++) {
        free(owned[i]);
    }

    return nfailed ? 1 : 0;
}
