/*
 * metrics: wachatd's counters and gauges in Prometheus text format, served
 * on the agent API's listener (GET /metrics).  Counters live where the work
 * happens (engine, stream, outbound); gauges are read from Redis at scrape
 * time, so every wachatd shows the shared backlog and conversations.
 */

#ifndef WACHAT_METRICS_H
#define WACHAT_METRICS_H

#include "lib/config.h"
#include "conversation/engine.h"
#include "send/outbound.h"
#include "store/store.h"
#include "conversation/stream.h"


typedef struct {
    wachat_engine_t           *engine;
    wachat_stream_t           *stream;
    wachat_outbound_t         *ob;
    wachat_redis_t            *store;
    wachat_config_t          **cfg;     /* the current one, across reloads */
} wachat_metrics_src_t;


struct evbuffer;

/* a wachat_api_metrics_pt: data is a wachat_metrics_src_t */
void wachat_metrics_write(void *data, struct evbuffer *out);


#endif /* WACHAT_METRICS_H */
