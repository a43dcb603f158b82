/*
 * What the parts of the HTTP, Graph and LLM clients' test share (one
 * binary, build/http_test, from tests/http_*.c): the event loop and the
 * stand-in's URL, the callbacks that record what a client reports, and
 * the unit groups and scenarios main() picks from.
 */

#ifndef WACHAT_TESTS_HTTP_TEST_H
#define WACHAT_TESTS_HTTP_TEST_H

#include <stddef.h>

#include <event2/event.h>

#include "clients/graph.h"
#include "clients/http.h"
#include "clients/llm.h"
#include "tap.h"


extern struct event_base  *base;
extern const char         *url;         /* the stand-in */
extern int                 pending;     /* callbacks still expected */
extern int                 order;       /* completions so far */


int is_long(long got, long want, const char *name);
int has(const char *s, const char *part);
char *repeat(const char *unit, size_t n);
char *join(const char *a, const char *b);

/* the event loop: until every expected callback came, or for ms */
int run(long ms);
void spin(long ms);
double now_s(void);


typedef struct {
    int                  calls;
    int                  order;
    wachat_http_err_e    err;
    long                 status;
    size_t               body_len;
    char                 body[256];
    char                 error_text[256];
    size_t               running;   /* wachat_http_running() then */
    wachat_http_t       *http;
} http_slot_t;

void http_cb(void *data, const wachat_http_resp_t *r);
int get(wachat_http_t *h, const char *path, long timeout_ms, http_slot_t *s);


typedef struct {
    int                     calls;
    wachat_graph_result_e   result;
    long                    status;
    long                    code;
    char                    wamid[128];
    char                    message[256];
    char                    details[256];
    char                    fbtrace[64];
    char                    phone[64];
} graph_slot_t;

void graph_cb(void *data, const wachat_graph_reply_t *r);


typedef struct {
    int     calls;
    int     ok;
    int     timed_out;
    long    status;
    char    content[512];
    char    error[512];
    char    finish[32];
} llm_slot_t;

void llm_cb(void *data, const wachat_llm_result_t *r);


/* http_build.c, http_parse.c, http_llm.c: no network */
void unit_build(void);
void unit_parse(void);
void unit_backoff(void);
void unit_explain(void);
void unit_llm(void);

/* against the stand-in: http_async.c, http_stall.c (own server) */
int scenario_concurrency(void);
int scenario_queue(void);
int scenario_chain(void);
int scenario_timeout(void);
int scenario_stall(void);
int scenario_size(void);
int scenario_cancel(void);

/* http_graph.c, http_llm.c */
int scenario_graph_send(void);
int scenario_graph_errors(void);
int scenario_llm(void);
int scenario_llm_errors(void);


#endif /* WACHAT_TESTS_HTTP_TEST_H */
