/*
 * media: an agent's file to the customer (see agents.h): checked against
 * what WhatsApp takes before anything is uploaded, kept in the media
 * store, and queued like a reply.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents/agents_int.h"
#include "clients/graph.h"
#include "lib/log.h"
#include "wachat_contract.h"
#include "wachat_utf8.h"


/*
 * KEYS conv hist outq; ARGV agent caption now window histmax conv_id kind
 * local mime name size.  As the reply script: the holder and the window
 * are checked in the same step as the queuing.
 */
static wachat_lua_t  wachat_agent_lua_file = wachat_lua(
    WACHAT_AGENT_LUA_HOLDER
    "local f = {'dir', 'out', 'who', 'agent:' .. ARGV[1], 'ts', ARGV[3],\n"
    "  'type', ARGV[7], 'media_id', ARGV[8], 'media_mime', ARGV[9],\n"
    "  'media_size', ARGV[11], 'media_state', 'stored'}\n"
    "if ARGV[2] ~= '' then f[#f + 1] = 'text'; f[#f + 1] = ARGV[2] end\n"
    "if ARGV[10] ~= '' then f[#f + 1] = 'media_name'; f[#f + 1] = ARGV[10] end\n"
    "local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*',\n"
    "  unpack(f))\n"
    "local media = {kind = ARGV[7], mime = ARGV[9]}\n"
    "media['local'] = ARGV[8]\n"
    "if ARGV[2] ~= '' then media.caption = ARGV[2] end\n"
    "if ARGV[10] ~= '' then media.name = ARGV[10] end\n"
    "redis.call('RPUSH', KEYS[3], cjson.encode({to = c[4] or c[5],\n"
    "  phone_number_id = c[6], conv = ARGV[6], hist = id, media = media}))\n"
    "redis.call('HSET', KEYS[1], 'agent_active', ARGV[3], 'unread', 0)\n"
    "return id\n");


/* the bytes of in into the store as a new item; 0 with its id */
static int
wachat_agent_file_keep(wachat_media_store_t *ms, FILE *in, size_t size,
    wachat_media_meta_t *meta, char *id, size_t idlen, char *why,
    size_t whylen)
{
    FILE    *out;
    char     tmp[WACHAT_MEDIA_PATH_MAX], buf[65536];
    size_t   n, total;
    int      failed;

    if (wachat_media_store_new_id(id, idlen) != 0) {
        snprintf(why, whylen, "no random id for the file");
        return -1;
    }

    out = wachat_media_store_temp(ms, tmp, sizeof(tmp));
    if (out == NULL) {
        snprintf(why, whylen, "cannot create a file in media_dir");
        return -1;
    }

    total = 0;
    failed = 0;

    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        total += n;

        if (total > size || fwrite(buf, 1, n, out) != n) {
            failed = 1;
            break;
        }
    }

    failed |= ferror(in) != 0;

    if (fclose(out) != 0 || failed || total != size) {
        unlink(tmp);
        snprintf(why, whylen, "the file could not be read whole");
        return -1;
    }

    return wachat_media_store_keep(ms, tmp, id, NULL, (long long) size, meta,
                                   why, whylen);
}


/* the name a file goes by: the last part of a path, if a path was given */
static const char *
wachat_agent_file_name(const char *filename)
{
    const char  *name;

    name = filename ? strrchr(filename, '/') : NULL;

    return name ? name + 1 : (filename ? filename : "");
}


/*
 * What WhatsApp takes, before anything is kept: the type (mime, or else
 * the name's extension) and size, the caption, the name.  *type is the
 * file's type when it is taken.
 */
static wachat_agent_rc_e
wachat_agent_file_check(const char *name, const char *mime, size_t size,
    const char *caption, const wachat_graph_media_type_t **type, char *why,
    size_t whylen)
{
    size_t                            n;
    const wachat_graph_media_type_t  *t;

    t = mime && mime[0] ? wachat_graph_media_type(mime)
                        : wachat_graph_media_type_of(name);

    if (wachat_graph_media_allowed(t ? t->mime : mime, size, why, whylen)
        != 0)
    {
        return WACHAT_AGENT_EMEDIA;
    }

    n = caption ? strlen(caption) : 0;

    if (n && (!wachat_utf8_valid(caption, n)
              || wachat_utf8_count(caption, n) > WACHAT_GRAPH_CAPTION_MAX))
    {
        snprintf(why, whylen, "the caption may be %d characters at most",
                 WACHAT_GRAPH_CAPTION_MAX);
        return WACHAT_AGENT_EINPUT;
    }

    if (!wachat_utf8_valid(name, strlen(name))
        || strlen(name) >= WACHAT_MEDIA_NAME_MAX)
    {
        snprintf(why, whylen, "the file name is not UTF-8, or too long");
        return WACHAT_AGENT_EINPUT;
    }

    *type = t;

    return WACHAT_AGENT_OK;
}


wachat_agent_rc_e
wachat_agent_send_file(wachat_redis_t *st, const wachat_config_t *cfg,
    wachat_media_store_t *ms, const char *id, const char *conv_id, FILE *in,
    size_t size, const char *filename, const char *mime, const char *caption,
    char *hist_id, size_t hlen, char *why, size_t whylen)
{
    const char                        *name;
    wachat_agent_rc_e                  rc;
    wachat_media_meta_t                meta;
    wachat_agent_send_t                s;
    const wachat_graph_media_type_t   *t;
    char                               sz[32], local[64];

    why[0] = '\0';

    if (wachat_agent_find(cfg, id) == NULL) {
        return WACHAT_AGENT_EUNKNOWN;
    }

    name = wachat_agent_file_name(filename);

    rc = wachat_agent_file_check(name, mime, size, caption, &t, why, whylen);
    if (rc != WACHAT_AGENT_OK) {
        return rc;
    }

    if (ms == NULL) {
        snprintf(why, whylen, "no media store (media_dir) to keep it in");
        return WACHAT_AGENT_EMEDIA;
    }

    memset(&meta, 0, sizeof(wachat_media_meta_t));
    snprintf(meta.mime, sizeof(meta.mime), "%s", t->mime);
    snprintf(meta.name, sizeof(meta.name), "%s", name);

    if (wachat_agent_file_keep(ms, in, size, &meta, local, sizeof(local),
                               why, whylen) != 0)
    {
        return WACHAT_AGENT_EMEDIA;
    }

    snprintf(sz, sizeof(sz), "%zu", meta.size);

    /* the caption as the text; a name goes with a document only */
    wachat_agent_send_open(&s, cfg, id, conv_id, caption ? caption : "",
                           WACHAT_AGENT_SEND_WINDOW);
    wachat_agent_send_arg(&s, t->kind);
    wachat_agent_send_arg(&s, local);
    wachat_agent_send_arg(&s, t->mime);
    wachat_agent_send_arg(&s, t->kind[0] == 'd' ? name : "");
    wachat_agent_send_arg(&s, sz);

    rc = wachat_agent_send_run(st, &s, &wachat_agent_lua_file, hist_id, hlen);

    if (rc != WACHAT_AGENT_OK) {
        wachat_media_store_remove(ms, local);
        return rc;
    }

    wachat_log(WACHAT_LOG_INFO, "conversation %s: agent %s sends %s %s "
               "(%zu bytes)", conv_id, id, t->kind, local, meta.size);

    return WACHAT_AGENT_OK;
}
