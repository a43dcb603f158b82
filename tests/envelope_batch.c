/*
 * Envelope unit test, part two: a batch of entries and changes, the dedup
 * strings and the depth and event-count limits.
 */

#include <string.h>

#include "envelope_test.h"


/* 2 entries, 5 changes: messages, statuses, an other, no contacts */
static char *
batch_body(void)
{
    return q(
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
}


void
test_batch(void)
{
    char                 *body;
    wachat_envelope_t     env;
    wachat_envelope_rc_e  rc;

    body = batch_body();

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


void
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


void
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


void
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
