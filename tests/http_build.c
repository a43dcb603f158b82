/*
 * HTTP clients' test, units: the Graph message bodies wachat_graph_build
 * makes, and what it refuses (limits in characters, not bytes).
 */

#include <stdlib.h>
#include <string.h>

#include "http_test.h"


/* why a message is refused, NULL when it builds */
static const char *
refusal(const wachat_graph_msg_t *m)
{
    const char  *why;
    char        *json;
    size_t       len;

    if (wachat_graph_build(m, &json, &len, &why) == 0) {
        free(json);
        return NULL;
    }
    return why;
}


/* text, with and without the message it replies to */
static void
build_text(void)
{
    wachat_graph_msg_t   m;
    const char          *why;
    char                *json;
    size_t               len;

    memset(&m, 0, sizeof(m));
    m.to = "16505551234";
    m.text = "Hi!";
    m.reply_to = "wamid.ABC";
    ok(wachat_graph_build(&m, &json, &len, &why) == 0, "text builds");
    is_str(json, "{\"messaging_product\":\"whatsapp\","
           "\"recipient_type\":\"individual\",\"to\":\"16505551234\","
           "\"type\":\"text\",\"text\":{\"preview_url\":false,"
           "\"body\":\"Hi!\"},\"context\":{\"message_id\":\"wamid.ABC\"}}",
           "text JSON as documented, context.message_id last");
    is_long((long) len, (long) strlen(json), "length returned");
    free(json);

    m.reply_to = NULL;
    m.text = "line 1\n\"quoted\" \\ 中文 😀 </tag>";
    ok(wachat_graph_build(&m, &json, &len, &why) == 0, "text with escapes");
    is_str(json, "{\"messaging_product\":\"whatsapp\","
           "\"recipient_type\":\"individual\",\"to\":\"16505551234\","
           "\"type\":\"text\",\"text\":{\"preview_url\":false,"
           "\"body\":\"line 1\\n\\\"quoted\\\" \\\\ 中文 😀 </tag>\"}}",
           "no context without reply_to; escapes right, UTF-8 raw");
    free(json);
}


/* reply buttons, byte for byte the example of the Cloud API docs */
static void
build_doc_buttons(void)
{
    static const wachat_graph_button_t  doc_buttons[] = {
        { "change-button", "Change" },
        { "cancel-button", "Cancel" },
    };
    wachat_graph_msg_t                  m;
    const char                         *why;
    char                               *json;
    size_t                              len;

    memset(&m, 0, sizeof(m));
    m.to = "+16505551234";
    m.text = "Reschedule?";
    m.footer = "Lucky Shrub";
    m.buttons = doc_buttons;
    m.nbuttons = 2;
    ok(wachat_graph_build(&m, &json, &len, &why) == 0, "buttons build");
    is_str(json, "{\"messaging_product\":\"whatsapp\","
           "\"recipient_type\":\"individual\",\"to\":\"+16505551234\","
           "\"type\":\"interactive\",\"interactive\":{\"type\":\"button\","
           "\"body\":{\"text\":\"Reschedule?\"},"
           "\"footer\":{\"text\":\"Lucky Shrub\"},"
           "\"action\":{\"buttons\":["
           "{\"type\":\"reply\",\"reply\":{\"id\":\"change-button\","
           "\"title\":\"Change\"}},"
           "{\"type\":\"reply\",\"reply\":{\"id\":\"cancel-button\","
           "\"title\":\"Cancel\"}}]}}}",
           "buttons JSON byte for byte Meta's example");
    free(json);
}


/* limits, in characters: CJK is 3 bytes a character */
static void
build_text_limits(void)
{
    wachat_graph_msg_t   m;
    const char          *why;
    char                *json, *s;
    size_t               len;

    memset(&m, 0, sizeof(m));
    m.to = "16505551234";
    s = repeat("營", 4096);
    m.text = s;
    ok(wachat_graph_build(&m, &json, &len, &why) == 0,
       "text of 4096 CJK characters (12288 bytes) accepted");
    free(json);
    free(s);
    s = repeat("a", 4097);
    m.text = s;
    why = refusal(&m);
    ok(why != NULL && has(why, "4096"),
       "text of 4097 characters refused: %s", why ? why : "accepted");
    free(s);
    m.text = "";
    why = refusal(&m);
    ok(why != NULL, "empty text refused");
    m.text = "bad \xc3\x28 utf8";
    why = refusal(&m);
    ok(why != NULL, "invalid UTF-8 refused");
    m.text = "overlong \xc0\xaf";
    why = refusal(&m);
    ok(why != NULL, "overlong UTF-8 refused");
    m.text = "hi";
    m.to = "";
    why = refusal(&m);
    ok(why != NULL, "no recipient");
    m.to = "16505551234";
}


/* three buttons at their limits, then one limit broken at a time */
static void
build_button_limits(void)
{
    wachat_graph_button_t   b[4];
    wachat_graph_msg_t      m;
    const char             *why;
    char                   *json, *s;
    size_t                  len;

    memset(&m, 0, sizeof(m));
    m.to = "16505551234";

    memset(b, 0, sizeof(b));
    b[0].id = "a";
    /* 20 characters */
    b[0].title = "營業時間營業時間營業時間營業時間營業時間";
    b[1].id = s = repeat("i", 256);
    b[1].title = "Prices";
    b[2].id = "live_agent";
    b[2].title = "Talk to a person";
    b[3].id = "d";
    b[3].title = "Four";
    m.buttons = b;
    m.nbuttons = 3;
    m.text = "Body";
    ok(wachat_graph_build(&m, &json, &len, &why) == 0,
       "3 buttons, a 20-character CJK title, a 256-character id");
    free(json);

    m.nbuttons = 4;
    why = refusal(&m);
    ok(why != NULL && has(why, "3"), "4 buttons refused: %s",
       why ? why : "accepted");
    m.nbuttons = 3;

    /* 21 characters */
    b[0].title = "營業時間營業時間營業時間營業時間營業時間營";
    why = refusal(&m);
    ok(why != NULL && has(why, "20"), "21-character title refused: %s",
       why ? why : "accepted");
    b[0].title = "Hours";
    free(s);
    b[1].id = s = repeat("i", 257);
    why = refusal(&m);
    ok(why != NULL && has(why, "256"), "257-character id refused: %s",
       why ? why : "accepted");
    free(s);
    b[1].id = "a";
    why = refusal(&m);
    ok(why != NULL && has(why, "unique"), "duplicate ids refused: %s",
       why ? why : "accepted");
    b[1].id = "b";
    b[1].title = "Hours";
    why = refusal(&m);
    ok(why != NULL && has(why, "unique"), "duplicate titles refused: %s",
       why ? why : "accepted");
    b[1].title = "Prices";
    b[1].id = "";
    why = refusal(&m);
    ok(why != NULL, "empty id refused");
    b[1].id = "b";
}


/* the body of a button message: 1024 characters at most */
static void
build_button_body(void)
{
    wachat_graph_button_t   b[4];
    wachat_graph_msg_t      m;
    const char             *why;
    char                   *json, *s;
    size_t                  len;

    memset(b, 0, sizeof(b));
    b[0].id = "a";
    b[0].title = "Hours";
    b[1].id = "b";
    b[1].title = "Prices";
    b[2].id = "live_agent";
    b[2].title = "Talk to a person";
    b[3].id = "d";
    b[3].title = "Four";
    memset(&m, 0, sizeof(m));
    m.to = "16505551234";
    m.buttons = b;
    m.nbuttons = 3;

    s = repeat("é", 1024);
    m.text = s;
    ok(wachat_graph_build(&m, &json, &len, &why) == 0,
       "button body of 1024 characters accepted");
    free(json);
    free(s);
    s = repeat("é", 1025);
    m.text = s;
    why = refusal(&m);
    ok(why != NULL && has(why, "1024"),
       "button body of 1025 characters refused: %s",
       why ? why : "accepted");
    free(s);
}


/* mark read (+ typing indicator); clipping a text */
static void
build_read_and_clip(void)
{
    const char  *why;
    char        *json;
    size_t       len;

    ok(wachat_graph_build_read("wamid.HBgL", 1, &json, &len, &why) == 0,
       "mark-read builds");
    is_str(json, "{\"messaging_product\":\"whatsapp\",\"status\":\"read\","
           "\"message_id\":\"wamid.HBgL\","
           "\"typing_indicator\":{\"type\":\"text\"}}",
           "mark read + typing indicator as documented");
    free(json);
    ok(wachat_graph_build_read("wamid.HBgL", 0, &json, &len, &why) == 0,
       "mark-read without typing builds");
    is_str(json, "{\"messaging_product\":\"whatsapp\",\"status\":\"read\","
           "\"message_id\":\"wamid.HBgL\"}", "no typing_indicator");
    free(json);

    is_long((long) wachat_graph_clip("ab營c", 3), 5,
            "clip keeps whole characters");
    is_long((long) wachat_graph_clip("ab", 10), 2, "clip of a short text");
}


void
unit_build(void)
{
    build_text();
    build_doc_buttons();
    build_text_limits();
    build_button_limits();
    build_button_body();
    build_read_and_clip();
}
