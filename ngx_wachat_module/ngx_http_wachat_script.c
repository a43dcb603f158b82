
/*
 * The queuing script: the Lua text Redis runs for every webhook, and the
 * encoder of its arguments.  Both sides of KEYS/ARGV live in this file.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wachat_module.h"


/* a RESP bulk string around len bytes: $<len>\r\n...\r\n */
#define NGX_HTTP_WACHAT_RESP_BULK  (1 + NGX_SIZE_T_LEN + 4)


static size_t ngx_http_wachat_script_size(ngx_http_wachat_loc_conf_t *wlcf,
    wachat_envelope_t *env, ngx_uint_t *nargs);
static u_char *ngx_http_wachat_script_dedup_key(u_char *p,
    ngx_http_wachat_loc_conf_t *wlcf, wachat_envelope_event_t *ev);
static u_char *ngx_http_wachat_script_fields(u_char *p,
    wachat_envelope_event_t *ev);
static u_char *ngx_http_wachat_resp_arg(u_char *p, u_char *data, size_t len);
static u_char *ngx_http_wachat_resp_number(u_char *p, int64_t value);


/*
 * KEYS[1] the stream, KEYS[2..] one dedup key per event;
 * ARGV[1] dedup ttl (s), ARGV[2] MAXLEN (0: none), then per event
 * its number of fields followed by field, value, ...
 *
 * SET NX both checks and claims an event's dedup key in one call.  An XADD
 * that fails (a key of the wrong type) takes its key back before the error
 * is returned, so Meta's retry queues that event and the ones after it while
 * the ones queued before it stay deduplicated.
 *
 * An event already seen has its key's EXPIRE set again: a write, so that
 * the WAIT of wachat_redis_replicas behind a retry waits for the replication
 * offset of now, past the first delivery's XADD, even when that came over
 * another connection (WAIT counts from its own client's last write).
 */
ngx_str_t  ngx_http_wachat_script_text = ngx_string(
    "local stream, ttl, maxlen = KEYS[1], ARGV[1], ARGV[2]\n"
    "local args = {stream}\n"
    "if maxlen ~= '0' then\n"
    "  args[2] = 'MAXLEN'; args[3] = '~'; args[4] = maxlen\n"
    "end\n"
    "args[#args + 1] = '*'\n"
    "local head = #args\n"
    "local pos, queued = 3, 0\n"
    "for i = 2, #KEYS do\n"
    "  local n = tonumber(ARGV[pos])\n"
    "  if redis.call('SET', KEYS[i], '1', 'EX', ttl, 'NX') then\n"
    "    for j = 1, 2 * n do args[head + j] = ARGV[pos + j] end\n"
    "    for j = head + 2 * n + 1, #args do args[j] = nil end\n"
    "    local r = redis.pcall('XADD', unpack(args))\n"
    "    if type(r) == 'table' and r.err then\n"
    "      redis.call('DEL', KEYS[i])\n"
    "      return r\n"
    "    end\n"
    "    queued = queued + 1\n"
    "  else\n"
    "    redis.call('EXPIRE', KEYS[i], ttl)\n"
    "  end\n"
    "  pos = pos + 1 + 2 * n\n"
    "end\n"
    "return queued\n");


/*
 * The arguments are written straight into one buffer from the pool: numkeys,
 * the stream, one dedup key per event, the ttl and MAXLEN, then per event
 * its field count and field/value pairs.  The link writes the command's head
 * into the room left in front.
 */

ngx_int_t
ngx_http_wachat_script_args(ngx_pool_t *pool, ngx_http_wachat_loc_conf_t *wlcf,
    wachat_envelope_t *env, ngx_str_t *args, ngx_uint_t *nargs)
{
    u_char      *buf, *p;
    size_t       size;
    ngx_uint_t   i;

    size = ngx_http_wachat_script_size(wlcf, env, nargs);

    buf = ngx_pnalloc(pool, NGX_HTTP_WACHAT_REDIS_HEADROOM + size);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    args->data = buf + NGX_HTTP_WACHAT_REDIS_HEADROOM;

    p = ngx_http_wachat_resp_number(args->data, env->nevents + 1);
    p = ngx_http_wachat_resp_arg(p, wlcf->stream.data, wlcf->stream.len);

    for (i = 0; i < env->nevents; i++) {
        p = ngx_http_wachat_script_dedup_key(p, wlcf, &env->events[i]);
    }

    p = ngx_http_wachat_resp_number(p, wlcf->dedup_ttl);
    p = ngx_http_wachat_resp_number(p, wlcf->stream_maxlen);

    for (i = 0; i < env->nevents; i++) {
        p = ngx_http_wachat_script_fields(p, &env->events[i]);
    }

    args->len = p - args->data;

    return NGX_OK;
}


/* an upper bound of the encoded arguments; a number is NGX_INT64_LEN */

static size_t
ngx_http_wachat_script_size(ngx_http_wachat_loc_conf_t *wlcf,
    wachat_envelope_t *env, ngx_uint_t *nargs)
{
    size_t                    size;
    ngx_uint_t                i, f;
    wachat_envelope_event_t  *ev;

    /* numkeys, stream, ttl, maxlen */
    *nargs = 4 + env->nevents;
    size = 4 * NGX_HTTP_WACHAT_RESP_BULK + 3 * NGX_INT64_LEN
           + wlcf->stream.len;

    for (i = 0; i < env->nevents; i++) {
        ev = &env->events[i];

        /* its dedup key (counted above) and its field count */
        *nargs += 1;
        size += 2 * NGX_HTTP_WACHAT_RESP_BULK + NGX_INT64_LEN
                + wlcf->seen_prefix.len + ev->dedup.len;

        for (f = 0; f < WACHAT_FIELD_COUNT; f++) {
            if (ev->field[f].data) {
                *nargs += 2;
                size += 2 * NGX_HTTP_WACHAT_RESP_BULK
                        + wachat_field_names[f].len + ev->field[f].len;
            }
        }
    }

    return size;
}


static u_char *
ngx_http_wachat_script_dedup_key(u_char *p, ngx_http_wachat_loc_conf_t *wlcf,
    wachat_envelope_event_t *ev)
{
    p = ngx_sprintf(p, "$%uz\r\n%V", wlcf->seen_prefix.len + ev->dedup.len,
                    &wlcf->seen_prefix);
    p = ngx_cpymem(p, ev->dedup.data, ev->dedup.len);
    *p++ = CR; *p++ = LF;

    return p;
}


/* the fields present, in contract order, after their count */

static u_char *
ngx_http_wachat_script_fields(u_char *p, wachat_envelope_event_t *ev)
{
    ngx_uint_t  f, nfields;

    nfields = 0;

    for (f = 0; f < WACHAT_FIELD_COUNT; f++) {
        nfields += (ev->field[f].data != NULL);
    }

    p = ngx_http_wachat_resp_number(p, nfields);

    for (f = 0; f < WACHAT_FIELD_COUNT; f++) {
        if (ev->field[f].data == NULL) {
            continue;
        }

        p = ngx_http_wachat_resp_arg(p, (u_char *) wachat_field_names[f].data,
                                     wachat_field_names[f].len);
        p = ngx_http_wachat_resp_arg(p, (u_char *) ev->field[f].data,
                                     ev->field[f].len);
    }

    return p;
}


/* one RESP bulk string: $<len>\r\n<data>\r\n */

static u_char *
ngx_http_wachat_resp_arg(u_char *p, u_char *data, size_t len)
{
    p = ngx_sprintf(p, "$%uz\r\n", len);
    p = ngx_cpymem(p, data, len);
    *p++ = CR; *p++ = LF;

    return p;
}


static u_char *
ngx_http_wachat_resp_number(u_char *p, int64_t value)
{
    u_char   digits[NGX_INT64_LEN];
    u_char  *last;

    last = ngx_sprintf(digits, "%L", value);

    return ngx_http_wachat_resp_arg(p, digits, last - digits);
}
