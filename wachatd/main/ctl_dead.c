/*
 * wachatctl dead, retry: the dead-letter stream, and a dead letter sent
 * again.
 */

#include <stdio.h>

#include "main/ctl_int.h"
#include "store/store.h"


int
wachatctl_dead(wachatctl_t *ctl, int argc, char **argv)
{
    size_t                  i;
    redisReply             *r, *kv;
    wachat_redis_t         *st;
    const wachat_config_t  *cfg;

    (void) argc;
    (void) argv;

    st = ctl->st;
    cfg = ctl->cfg;

    r = wachat_redis_cmd(st, "XRANGE %s - +", cfg->dead_stream);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "wachatctl: %s\n", r ? r->str : st->err);
        freeReplyObject(r);
        return 1;
    }

    for (i = 0; i < r->elements; i++) {
        kv = r->element[i]->element[1];
        printf("%s  %s  code %s  %s\n", r->element[i]->element[0]->str,
               wachatctl_field_or(kv, "conv", "?"),
               wachatctl_field_or(kv, "code", "?"),
               wachatctl_field_or(kv, "reason", ""));
    }

    printf("%zu dead letter(s)\n", r->elements);
    freeReplyObject(r);

    return 0;
}


/*
 * retry <id>: back at the end of the conversation's outbound queue; the
 * daemon's scan of ready conversations picks it up within seconds.
 */
int
wachatctl_retry(wachatctl_t *ctl, int argc, char **argv)
{
    char                    key[WACHAT_KEY_MAX];
    redisReply             *r, *kv, *x;
    const char             *conv, *reply, *id;
    wachat_redis_t         *st;
    const wachat_config_t  *cfg;

    (void) argc;

    st = ctl->st;
    cfg = ctl->cfg;
    id = argv[0];

    r = wachat_redis_cmd(st, "XRANGE %s %s %s", cfg->dead_stream, id, id);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 1) {
        fprintf(stderr, "wachatctl: no dead letter %s\n", id);
        freeReplyObject(r);
        return 1;
    }

    kv = r->element[0]->element[1];
    conv = wachat_redis_reply_field(kv, "conv");
    reply = wachat_redis_reply_field(kv, "reply");

    if (conv == NULL || reply == NULL) {
        fprintf(stderr, "wachatctl: dead letter %s has no reply\n", id);
        freeReplyObject(r);
        return 1;
    }

    wachat_store_key_outq(key, conv);
    x = wachat_redis_cmd(st, "RPUSH %s %s", key, reply);
    freeReplyObject(x);
    x = wachat_redis_cmd(st, "SADD %s %s", WACHAT_KEY_READY, conv);
    freeReplyObject(x);
    x = wachat_redis_cmd(st, "XDEL %s %s", cfg->dead_stream, id);
    freeReplyObject(x);

    printf("requeued %s for %s\n", id, conv);
    freeReplyObject(r);

    return 0;
}
