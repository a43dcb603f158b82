/*
 * store: the key names (see store.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"


static void
wachat_key(char *buf, const char *kind, const char *conv_id)
{
    snprintf(buf, WACHAT_KEY_MAX, "wachat:%s:{%s}", kind, conv_id);
}


void wachat_store_key_conv(char *buf, const char *c) { wachat_key(buf, "conv", c); }
void wachat_store_key_hist(char *buf, const char *c) { wachat_key(buf, "hist", c); }
void wachat_store_key_status(char *buf, const char *c) { wachat_key(buf, "st", c); }
void wachat_store_key_inbox(char *buf, const char *c) { wachat_key(buf, "inbox", c); }
void wachat_store_key_outq(char *buf, const char *c) { wachat_key(buf, "outq", c); }
void wachat_store_key_lease(char *buf, const char *c) { wachat_key(buf, "lease", c); }
void wachat_store_key_done(char *buf, const char *c) { wachat_key(buf, "done", c); }


void
wachat_store_key_rate(char *buf, const char *conv_id)
{
    size_t  n;

    n = strcspn(conv_id, ":");
    snprintf(buf, WACHAT_KEY_MAX, "wachat:rate:{%.*s}", (int) n, conv_id);
}


long long
wachat_store_entry_ms(const redisReply *kv)
{
    const char  *dir, *ts;

    dir = wachat_redis_reply_field(kv, "dir");
    ts = wachat_redis_reply_field(kv, "ts");

    if (ts == NULL) {
        return 0;
    }

    return dir && strcmp(dir, "in") == 0 ? atoll(ts) * 1000 : atoll(ts);
}
