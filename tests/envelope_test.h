/*
 * What the parts of the envelope parser's unit test share (one binary,
 * build/envelope_test, from tests/envelope_*.c): the TAP counters, the
 * string and parsing helpers of envelope_test.c and the test groups
 * main() runs in order.
 */

#ifndef WACHAT_TESTS_ENVELOPE_TEST_H
#define WACHAT_TESTS_ENVELOPE_TEST_H

#include <stddef.h>

#define TAP_DIAG_STREAM  stderr

#include "wachat_envelope.h"
#include "tap.h"


typedef const char  *want_t[WACHAT_FIELD_COUNT];


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


/* strings; every one is freed at exit */
char *q(const char *s);
char *cat3(const char *a, const char *b, const char *c);
char *repeat(const char *s, size_t n);
int str_is(const wachat_str_t *s, const char *want);

/* parsing and checking events */
const char *rc_name(wachat_envelope_rc_e rc);
wachat_envelope_rc_e parse_n(wachat_envelope_t *env, const char *body,
    size_t len, size_t max_depth, size_t max_events);
wachat_envelope_rc_e parse(wachat_envelope_t *env, const char *body);
int parsed(wachat_envelope_t *env, wachat_envelope_rc_e rc, size_t n,
    const char *desc);
void check_event(const wachat_envelope_t *env, size_t i, const char *desc,
    const want_t want);
void one_item(const char *desc, const char *array, const char *item,
    const char **want);

/* envelope_types.c: message types, edges, statuses */
void test_field_names(void);
void test_waba_id(void);
void test_inbound_types(void);
void test_inbound_edges(void);
void test_statuses(void);

/* envelope_batch.c: batches and limits */
void test_batch(void);
void test_dedup(void);
void test_too_deep(void);
void test_too_many(void);

/* envelope_contacts.c: contacts, names, unicode, whitespace */
void test_contacts(void);
void test_many_contacts(void);
void test_unicode(void);
void test_whitespace(void);

/* envelope_other.c: "other" events, malformed bodies */
void test_other(void);
void test_bad_json(void);
void test_absent(void);


#endif /* WACHAT_TESTS_ENVELOPE_TEST_H */
