/*
 * The conversations' handlers' private parts, shared by api_conv.c (the
 * listing), api_conv_scan.c (the sorted sets walked a page at a time),
 * api_conv_show.c (one conversation's history) and api_conv_actions.c
 * (reply, transfer, note, take, resolve).  Not for the rest of the api.
 */

#ifndef WACHAT_API_CONV_INT_H
#define WACHAT_API_CONV_INT_H

#include <stddef.h>

#include <hiredis/hiredis.h>
#include <yajl/yajl_gen.h>

#include "api/api_int.h"


typedef struct {
    const char                 *mode;       /* NULL: any */
    const char                 *agent;      /* NULL: anyone's */
    int                         unread;
    size_t                      limit;
} wachat_api_filter_t;


typedef struct {
    char    **ids;
    size_t    n;
    size_t    cap;
} wachat_api_seen_t;


/* api_conv.c: the fields every listing of a conversation has */
void wachat_api_gen_conv(yajl_gen g, wachat_api_t *api, const char *id,
    const redisReply *c, const redisReply *last, long long now);

/* api_conv_scan.c: one sorted set's conversations that pass the filter */
int wachat_api_scan(wachat_api_req_t *r, yajl_gen g,
    const wachat_api_filter_t *f, int waiting, wachat_api_seen_t *seen,
    size_t *listed, long long now);
void wachat_api_seen_free(wachat_api_seen_t *s);


#endif /* WACHAT_API_CONV_INT_H */
