/*
 * event: stream entries in memory and as inbox members.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "conversation/event.h"


static int wachat_event_add(wachat_event_t *ev, const char *name,
    size_t nlen, const char *value, size_t vlen);
static int wachat_stream_id_parse(const char *id, uint64_t *ms,
    uint64_t *seq);


int
wachat_event_from_reply(wachat_event_t *ev, const redisReply *entry)
{
    size_t             i;
    const redisReply  *id, *kv;

    memset(ev, 0, sizeof(wachat_event_t));

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) {
        return -1;
    }

    id = entry->element[0];
    kv = entry->element[1];

    if (id->type != REDIS_REPLY_STRING) {
        return -1;
    }

    ev->stream_id = strndup(id->str, id->len);
    if (ev->stream_id == NULL) {
        return -1;
    }

    /* a deleted entry that is still pending comes back with nil fields */
    if (kv->type != REDIS_REPLY_ARRAY) {
        return 0;
    }

    for (i = 0; i + 1 < kv->elements; i += 2) {
        if (kv->element[i]->type != REDIS_REPLY_STRING
            || kv->element[i + 1]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        if (wachat_event_add(ev, kv->element[i]->str, kv->element[i]->len,
                             kv->element[i + 1]->str,
                             kv->element[i + 1]->len)
            != 0)
        {
            wachat_event_free(ev);
            return -1;
        }
    }

    return 0;
}


static int
wachat_event_add(wachat_event_t *ev, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
    if (ev->nfields == WACHAT_EVENT_MAX_FIELDS) {
        return 0;       /* a newer contract's extra fields: ignored */
    }

    ev->name[ev->nfields] = strndup(name, nlen);
    ev->value[ev->nfields] = malloc(vlen + 1);

    if (ev->name[ev->nfields] == NULL || ev->value[ev->nfields] == NULL) {
        free(ev->name[ev->nfields]);
        free(ev->value[ev->nfields]);
        return -1;
    }

    memcpy(ev->value[ev->nfields], value, vlen);
    ev->value[ev->nfields][vlen] = '\0';
    ev->value_len[ev->nfields] = vlen;
    ev->nfields++;

    return 0;
}


void
wachat_event_free(wachat_event_t *ev)
{
    size_t  i;

    for (i = 0; i < ev->nfields; i++) {
        free(ev->name[i]);
        free(ev->value[i]);
    }

    free(ev->stream_id);
    memset(ev, 0, sizeof(wachat_event_t));
}


const char *
wachat_event_get(const wachat_event_t *ev, const char *name)
{
    size_t  i;

    for (i = 0; i < ev->nfields; i++) {
        if (strcmp(ev->name[i], name) == 0) {
            return ev->value[i];
        }
    }

    return NULL;
}


int
wachat_event_conv_id(const wachat_event_t *ev, char *buf, size_t len)
{
    int          n;
    const char  *kind, *pnid, *who, *p;

    kind = wachat_event_get(ev, "kind");
    pnid = wachat_event_get(ev, "phone_number_id");

    if (kind == NULL || pnid == NULL || *pnid == '\0') {
        return -1;
    }

    if (strcmp(kind, "message") == 0) {
        who = wachat_event_get(ev, "from");

    } else if (strcmp(kind, "status") == 0) {
        who = wachat_event_get(ev, "recipient");

    } else {
        return -1;
    }

    if (who == NULL || *who == '\0') {
        who = wachat_event_get(ev, "user_id");
    }

    if (who == NULL || *who == '\0') {
        return -1;
    }

    /* braces would break the hash tag the id is wrapped in */
    for (p = pnid; *p; p++) {
        if (*p == '{' || *p == '}') {
            return -1;
        }
    }

    for (p = who; *p; p++) {
        if (*p == '{' || *p == '}') {
            return -1;
        }
    }

    n = snprintf(buf, len, "%s:%s", pnid, who);

    return (n < 0 || (size_t) n >= len) ? -1 : 0;
}


char *
wachat_event_to_member(const wachat_event_t *ev, size_t *len, double *score)
{
    char                 *m;
    size_t                i, jlen;
    uint64_t              ms, seq;
    yajl_gen              g;
    const unsigned char  *json;
    char                  head[64];
    int                   hlen;

    if (wachat_stream_id_parse(ev->stream_id, &ms, &seq) != 0) {
        return NULL;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    yajl_gen_map_open(g);

    for (i = 0; i < ev->nfields; i++) {
        yajl_gen_string(g, (const unsigned char *) ev->name[i],
                        strlen(ev->name[i]));
        yajl_gen_string(g, (const unsigned char *) ev->value[i],
                        ev->value_len[i]);
    }

    yajl_gen_map_close(g);

    if (yajl_gen_get_buf(g, &json, &jlen) != yajl_gen_status_ok) {
        yajl_gen_free(g);
        return NULL;
    }

    hlen = snprintf(head, sizeof(head), "%020" PRIu64 "-%020" PRIu64 "\n",
                    ms, seq);

    m = malloc(hlen + jlen + 1);
    if (m != NULL) {
        memcpy(m, head, hlen);
        memcpy(m + hlen, json, jlen);
        m[hlen + jlen] = '\0';
        *len = hlen + jlen;
        *score = (double) ms;
    }

    yajl_gen_free(g);

    return m;
}


int
wachat_event_from_member(wachat_event_t *ev, const char *member, size_t len)
{
    char        *json, idbuf[64];
    size_t       i, n;
    uint64_t     ms, seq;
    yajl_val     root, v;
    const char  *nl;

    memset(ev, 0, sizeof(wachat_event_t));

    nl = memchr(member, '\n', len);
    if (nl == NULL || nl - member != 41) {
        return -1;
    }

    if (sscanf(member, "%20" SCNu64 "-%20" SCNu64, &ms, &seq) != 2) {
        return -1;
    }

    snprintf(idbuf, sizeof(idbuf), "%" PRIu64 "-%" PRIu64, ms, seq);

    json = strndup(nl + 1, len - (nl + 1 - member));
    if (json == NULL) {
        return -1;
    }

    root = yajl_tree_parse(json, NULL, 0);
    free(json);

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return -1;
    }

    ev->stream_id = strdup(idbuf);

    for (i = 0; ev->stream_id && i < root->u.object.len; i++) {
        v = root->u.object.values[i];

        if (!YAJL_IS_STRING(v)) {
            continue;
        }

        if (wachat_event_add(ev, root->u.object.keys[i],
                             strlen(root->u.object.keys[i]),
                             v->u.string, strlen(v->u.string))
            != 0)
        {
            break;
        }
    }

    n = root->u.object.len;
    yajl_tree_free(root);

    if (ev->stream_id == NULL || i < n) {
        wachat_event_free(ev);
        return -1;
    }

    return 0;
}


static int
wachat_stream_id_parse(const char *id, uint64_t *ms, uint64_t *seq)
{
    char  *end;

    *ms = strtoull(id, &end, 10);

    if (end == id || *end != '-') {
        return -1;
    }

    *seq = strtoull(end + 1, &end, 10);

    return *end == '\0' ? 0 : -1;
}


int
wachat_stream_id_cmp(const char *a, const char *b)
{
    uint64_t  ams, aseq, bms, bseq;

    if (wachat_stream_id_parse(a, &ams, &aseq) != 0
        || wachat_stream_id_parse(b, &bms, &bseq) != 0)
    {
        return strcmp(a, b);
    }

    if (ams != bms) {
        return ams < bms ? -1 : 1;
    }

    return aseq < bseq ? -1 : (aseq > bseq ? 1 : 0);
}
