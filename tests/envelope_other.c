/*
 * Envelope unit test, part four: bodies and items that become "other"
 * events, malformed JSON, absent fields.
 */

#include <stdio.h>
#include <string.h>

#include "envelope_test.h"


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


/* changes that are not a messages change with events */
static void
test_other_changes(void)
{
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
}


/* message and status items without what makes them one */
static void
test_other_items(void)
{
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
}


/* bodies that are not a business account envelope */
static void
test_other_shapes(void)
{
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
}


/* empty arrays; others keep their place among the items */
static void
test_other_empty(void)
{
    char                 *body;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

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


void
test_other(void)
{
    test_other_changes();
    test_other_items();
    test_other_shapes();
    test_other_empty();
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


void
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


void
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
        case WACHAT_FIELD_WABA_ID:      /* the entry's id, '1' */
            good = str_is(&env.events[0].field[f], "1");
            break;
        default:
            good = env.events[0].field[f].data == NULL
                   && env.events[0].field[f].len == 0;
        }
    }

    ok(good, "absent fields: a bare {id} message has only v, kind, id, raw "
       "(and its entry's waba_id)");
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
