/*
 * script_args: the arguments of the conversation scripts, their peek as C
 * reads it, and a conversation's keys.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/scripts_int.h"


void
wachat_args_bytes(wachat_args_t *a, const char *s, size_t len)
{
    if (a->n < WACHAT_ARGS_MAX) {
        a->v[a->n] = s ? s : "";
        a->len[a->n] = s ? len : 0;
        a->n++;
    }
}


void
wachat_args_str(wachat_args_t *a, const char *s)
{
    wachat_args_bytes(a, s, s ? strlen(s) : 0);
}


void
wachat_args_int(wachat_args_t *a, long long v)
{
    char  *p;

    if (a->nnum == 16) {
        return;
    }

    p = a->num[a->nnum++];
    snprintf(p, 24, "%lld", v);
    wachat_args_str(a, p);
}


/* a counted list: n, then the n strings */
void
wachat_args_list(wachat_args_t *a, const char **kv, size_t n)
{
    size_t  i;

    wachat_args_int(a, (long long) n);

    for (i = 0; i < n; i++) {
        wachat_args_str(a, kv[i]);
    }
}


/* the ten conversation keys */
void
wachat_args_conv(wachat_args_t *a, const wachat_conv_ref_t *ref)
{
    a->n = 0;
    a->nnum = 0;

    wachat_args_str(a, ref->lease);
    wachat_args_str(a, ref->outq);
    wachat_args_str(a, ref->inbox);
    wachat_args_str(a, ref->conv);
    wachat_args_str(a, ref->hist);
    wachat_args_str(a, ref->status);
    wachat_args_str(a, WACHAT_KEY_READY);
    wachat_args_str(a, ref->stream);
    wachat_args_str(a, WACHAT_KEY_FEED);
    wachat_args_str(a, ref->rate);
}


void
wachat_args_conv_argv(wachat_args_t *a, const wachat_conv_ref_t *ref,
    int lease_ms)
{
    wachat_args_str(a, ref->owner);
    wachat_args_int(a, lease_ms);
    wachat_args_str(a, ref->group);
    wachat_args_str(a, ref->id);
    wachat_args_int(a, ref->limits->rate_per_s > 0
                       ? ref->limits->rate_per_s : 0);
    wachat_args_int(a, ref->limits->answers_per_min > 0
                       ? ref->limits->answers_per_min : 0);
    wachat_args_int(a, ref->limits->answers_burst > 0
                       ? ref->limits->answers_burst : 1);
}


static int
wachat_args_full(wachat_redis_t *st, const wachat_args_t *a)
{
    if (a->n == WACHAT_ARGS_MAX || a->nnum == 16) {
        snprintf(st->err, sizeof(st->err), "too many script arguments");
        st->refused = 0;
        return 1;
    }

    return 0;
}


redisReply *
wachat_args_eval(wachat_redis_t *st, wachat_lua_t *lua, int nkeys,
    wachat_args_t *a)
{
    if (wachat_args_full(st, a)) {
        return NULL;
    }

    return wachat_redis_eval(st, lua, nkeys, a->n, a->v, a->len);
}


/* a run whose WAIT fell short comes back too (st->unreplicated) */
redisReply *
wachat_args_eval_ran(wachat_redis_t *st, wachat_lua_t *lua, int nkeys,
    wachat_args_t *a)
{
    if (wachat_args_full(st, a)) {
        return NULL;
    }

    return wachat_redis_eval_ran(st, lua, nkeys, a->n, a->v, a->len);
}


/* why a script's reply is not what its wrapper expects, into st->err */
void
wachat_script_failed(wachat_redis_t *st, const redisReply *r)
{
    if (r) {
        snprintf(st->err, sizeof(st->err), "%s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    }
}


int
wachat_peek_read(const redisReply *r, wachat_peek_t *peek)
{
    const redisReply  *e;

    memset(peek, 0, sizeof(wachat_peek_t));

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1
        || r->element[0]->type != REDIS_REPLY_INTEGER)
    {
        return -1;
    }

    switch (r->element[0]->integer) {
    case -1: peek->state = WACHAT_PEEK_LOST; return 0;
    case 0:  peek->state = WACHAT_PEEK_OTHER; return 0;
    case 2:  peek->state = WACHAT_PEEK_IDLE; return 0;
    case 1:  peek->state = WACHAT_PEEK_WORK; break;
    default: return -1;
    }

    if (r->elements != 8 || r->element[6]->type != REDIS_REPLY_INTEGER
        || r->element[7]->type != REDIS_REPLY_INTEGER)
    {
        return -1;
    }

    e = r->element[1];
    if (e->type == REDIS_REPLY_STRING) {
        peek->out = e->str;
        peek->out_len = e->len;
    }

    e = r->element[2];
    if (e->type == REDIS_REPLY_STRING) {
        peek->member = e->str;
        peek->member_len = e->len;
    }

    peek->older_pending = r->element[3]->type == REDIS_REPLY_INTEGER
                          && r->element[3]->integer == 1;

    e = r->element[4];
    peek->head_id = e->type == REDIS_REPLY_STRING ? e->str : NULL;
    peek->fields = r->element[5];
    peek->wait_ms = r->element[6]->integer;
    peek->limited = r->element[7]->integer == 1;

    return 0;
}


/*
 * {result, ..., peek, feed error}: nres results; a lost lease is {-1}.
 */
redisReply *
wachat_script_done(wachat_redis_t *st, redisReply *r, size_t nres,
    wachat_peek_t *peek)
{
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1
        && r->element[0]->type == REDIS_REPLY_INTEGER
        && r->element[0]->integer == -1)
    {
        memset(peek, 0, sizeof(wachat_peek_t));
        peek->state = WACHAT_PEEK_LOST;
        return r;
    }

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != nres + 2
        || wachat_peek_read(r->element[nres], peek) != 0)
    {
        wachat_script_failed(st, r);
        freeReplyObject(r);
        return NULL;
    }

    if (r->element[nres + 1]->type == REDIS_REPLY_STRING) {
        wachat_log(WACHAT_LOG_WARNING, "redis: a feed XADD failed: %s",
                   r->element[nres + 1]->str);
    }

    return r;
}


void
wachat_conv_ref_init(wachat_conv_ref_t *ref, const char *id,
    const char *owner, const char *stream, const char *group,
    const wachat_limits_t *limits)
{
    ref->id = id;
    ref->owner = owner;
    ref->stream = stream;
    ref->group = group;
    ref->limits = limits;

    wachat_store_key_rate(ref->rate, id);
    wachat_store_key_lease(ref->lease, id);
    wachat_store_key_outq(ref->outq, id);
    wachat_store_key_inbox(ref->inbox, id);
    wachat_store_key_conv(ref->conv, id);
    wachat_store_key_hist(ref->hist, id);
    wachat_store_key_status(ref->status, id);
}


int
wachat_script_peek(const redisReply *r, wachat_peek_t *peek)
{
    return wachat_peek_read(r, peek);
}
