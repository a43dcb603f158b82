/*
 * Envelope unit test, part three: names and user ids from the contacts,
 * unicode escapes and whitespace between the items.
 */

#include <string.h>

#include "envelope_test.h"


/* contacts and metadata may come after the messages */
static void
test_contacts_after_messages(void)
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
}


/* each message gets the contact of its wa_id */
static void
test_contacts_several(void)
{
    char                 *body;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

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
}


/* business-scoped user ids (from_user_id, user_id) */
static void
test_contacts_user_ids(void)
{
    char                 *body;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

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
}


/* the only contact names the message even if wa_id differs */
static void
test_contacts_only_one(void)
{
    char                 *body;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

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
}


/* a status takes the user_id of its contact, not the name */
static void
test_contacts_status(void)
{
    char                 *body;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

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


void
test_contacts(void)
{
    test_contacts_after_messages();
    test_contacts_several();
    test_contacts_user_ids();
    test_contacts_only_one();
    test_contacts_status();
}


void
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


void
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


void
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
