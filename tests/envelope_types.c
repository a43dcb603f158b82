/*
 * Envelope unit test, part one: the stream field names, every inbound
 * message type, their edge cases and the statuses.
 */

#include <string.h>

#include "envelope_test.h"


void
test_field_names(void)
{
    int                f;
    static const char  *names[] = {
        "v", "kind", "id", "from", "recipient", "user_id", "name",
        "phone_number_id", "ts", "type", "text", "payload", "context",
        "status", "error_code", "waba_id", "raw"
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


/* text and media: the caption is the text */
static void
test_types_media(void)
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
}


/* types whose content is no text */
static void
test_types_structured(void)
{
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
}


/* replies to buttons, lists, templates; reactions */
static void
test_types_replies(void)
{
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
}


/* order, system, unsupported, welcome, unknown types */
static void
test_types_special(void)
{
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
}


/* what the parser tolerates in a message */
static void
test_types_lenient(void)
{
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


void
test_inbound_types(void)
{
    test_types_media();
    test_types_structured();
    test_types_replies();
    test_types_special();
    test_types_lenient();
}


void
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


void
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


/* entry[].id, the WABA's, on every event of its entry, wherever it comes */
void
test_waba_id(void)
{
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

    rc = parse(&env, q("{'object':'whatsapp_business_account','entry':["
                       "{'id':'102290129340398','changes':["
                       "{'field':'messages','value':{'metadata':"
                       "{'phone_number_id':'1'},'messages':[{'from':'2',"
                       "'id':'wamid.W1','timestamp':'1','type':'text',"
                       "'text':{'body':'hi'}}]}},"
                       "{'field':'account_update','value':{}}]},"
                       "{'changes':[{'field':'messages','value':{'metadata':"
                       "{'phone_number_id':'1'},'statuses':[{'id':'wamid.S',"
                       "'status':'sent','timestamp':'1','recipient_id':'2'}"
                       "]}}],'id':'555'},"
                       "{'id':77,'changes':[{'field':'messages','value':{"
                       "'metadata':{'phone_number_id':'1'},'messages':[{"
                       "'from':'2','id':'wamid.W3','timestamp':'1','type':"
                       "'text','text':{'body':'hi'}}]}}]}]}"));
    if (parsed(&env, rc, 4, "waba_id: four events of three entries")) {
        ok(str_is(&env.events[0].field[WACHAT_FIELD_WABA_ID],
                  "102290129340398"),
           "waba_id: a message gets its entry's id");
        ok(str_is(&env.events[1].field[WACHAT_FIELD_WABA_ID],
                  "102290129340398"),
           "waba_id: so does an other event of the same entry");
        ok(str_is(&env.events[2].field[WACHAT_FIELD_WABA_ID], "555"),
           "waba_id: an id after the changes still counts");
        ok(env.events[3].field[WACHAT_FIELD_WABA_ID].data == NULL,
           "waba_id: a numeric id is none");
    }

    wachat_envelope_free(&env);
}
