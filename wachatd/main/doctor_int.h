/*
 * doctor_int: the doctor's private parts, shared by doctor.c (the checks in
 * order, what each says, the local ones, the wait for an HTTP answer),
 * doctor_redis.c (Redis and its topology), doctor_remote.c (the Graph
 * token, the LLM endpoint) and doctor_selftest.c (a signed POST through
 * nginx).
 */

#ifndef WACHAT_DOCTOR_INT_H
#define WACHAT_DOCTOR_INT_H

#include <event2/event.h>

#include "main/doctor.h"
#include "clients/graph.h"
#include "clients/http.h"
#include "lib/log.h"


typedef struct {
    int                  failed;
    int                  warned;
    struct event_base   *base;
    wachat_http_t       *http;
} wachat_doctor_t;


typedef struct {
    struct event_base     *base;
    int                    done;
    long                   status;
    wachat_graph_reply_t   graph;
    wachat_http_err_e      error;
    char                   error_text[256];
} wachat_doctor_wait_t;


/* doctor.c */

/* one line: the level ("ok", "warn" or "FAIL"; the last two counted) */
void wachat_doctor_say(wachat_doctor_t *doc, const char *level,
    const char *fmt, ...) WACHAT_LOG_PRINTF(3, 4);
/* runs req on the doctor's loop until it is done; -1 if it cannot start */
int wachat_doctor_request(wachat_doctor_t *doc, wachat_http_req_t *req,
    wachat_doctor_wait_t *w);


/* doctor_redis.c */

void wachat_doctor_redis(wachat_doctor_t *doc, wachat_redis_t *st,
    const wachat_config_t *cfg);
void wachat_doctor_replication(wachat_doctor_t *doc, wachat_redis_t *st,
    const wachat_doctor_opts_t *opts);
void wachat_doctor_sentinels(wachat_doctor_t *doc, wachat_redis_t *st);
void wachat_doctor_redis_auth(wachat_doctor_t *doc,
    const wachat_config_t *cfg);


/* doctor_remote.c */

void wachat_doctor_graph(wachat_doctor_t *doc, wachat_redis_t *st,
    const wachat_config_t *cfg, const char *pnid);
void wachat_doctor_llm(wachat_doctor_t *doc, const wachat_config_t *cfg);


/* doctor_selftest.c */

void wachat_doctor_selftest(wachat_doctor_t *doc, wachat_redis_t *st,
    const wachat_config_t *cfg, const char *url, const char *secret);


#endif /* WACHAT_DOCTOR_INT_H */
