/*
 * wachatctl conversations, show: what wachatd keeps of the conversations,
 * and the lookups and time formats the other commands share.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "answer/answer.h"
#include "main/ctl_int.h"
#include "store/store.h"


static int wachatctl_list(wachat_redis_t *st, const char *only);
static int wachatctl_find(wachat_redis_t *st, const char *who, char *conv,
    size_t len);
static void wachatctl_show_customer(wachat_redis_t *st, const char *conv);
static void wachatctl_show_entry(const redisReply *e,
    const redisReply *stat);
static void wachatctl_show_status(const char *id, const redisReply *stat);
static void wachatctl_show_media(const redisReply *kv);


/* conversations [--mode M] */
int
wachatctl_conversations(wachatctl_t *ctl, int argc, char **argv)
{
    const char  *only;

    only = argc >= 2 && strcmp(argv[0], "--mode") == 0 ? argv[1] : NULL;

    return wachatctl_list(ctl->st, only);
}


/* the 200 most recent conversations, those in one mode if only is set */
static int
wachatctl_list(wachat_redis_t *st, const char *only)
{
    size_t       i;
    redisReply  *list, *c;
    char         key[WACHAT_KEY_MAX], when[64];
    const char  *name, *mode;

    list = wachat_redis_cmd(st, "ZREVRANGE %s 0 199", WACHAT_KEY_CONVS);
    if (list == NULL || list->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "wachatctl: %s\n", list ? list->str : st->err);
        freeReplyObject(list);
        return 1;
    }

    printf("%-32s %-24s %-14s %-12s %s\n", "CONVERSATION", "NAME", "MODE",
           "AGENT", "LAST MESSAGE (UTC)");

    for (i = 0; i < list->elements; i++) {
        wachat_store_key_conv(key, list->element[i]->str);
        c = wachat_redis_cmd(st, "HGETALL %s", key);

        name = wachat_redis_reply_field(c, "name");
        mode = wachat_redis_reply_field(c, "mode");
        wachatctl_time(wachat_redis_reply_field(c, "last_in_ts"), when,
                       sizeof(when));

        if (only == NULL || (mode && strcmp(mode, only) == 0)) {
            printf("%-32s %-24s %-14s %-12s %s\n", list->element[i]->str,
                   name ? name : "-", mode ? mode : "-",
                   wachatctl_field_or(c, "agent", "-"), when);
        }

        freeReplyObject(c);
    }

    freeReplyObject(list);

    return 0;
}


/* the conversation a wa_id names, or a message saying there is none */
int
wachatctl_conv(wachat_redis_t *st, const char *who, char *conv, size_t len)
{
    if (wachatctl_find(st, who, conv, len) != 0) {
        fprintf(stderr, "wachatctl: no conversation with %s\n", who);
        return -1;
    }

    return 0;
}


/* a bare wa_id is looked up among the known conversations */
static int
wachatctl_find(wachat_redis_t *st, const char *who, char *conv, size_t len)
{
    size_t       i, wlen, clen;
    redisReply  *list;

    if (strchr(who, ':')) {
        snprintf(conv, len, "%s", who);
        return 0;
    }

    list = wachat_redis_cmd(st, "ZREVRANGE %s 0 -1", WACHAT_KEY_CONVS);
    if (list == NULL || list->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(list);
        return -1;
    }

    wlen = strlen(who);

    for (i = 0; i < list->elements; i++) {
        clen = list->element[i]->len;

        if (clen > wlen + 1
            && strcmp(list->element[i]->str + clen - wlen, who) == 0
            && list->element[i]->str[clen - wlen - 1] == ':')
        {
            snprintf(conv, len, "%s", list->element[i]->str);
            freeReplyObject(list);
            return 0;
        }
    }

    freeReplyObject(list);

    return -1;
}


/* show <wa_id | phone_number_id:wa_id>: one conversation's history */
int
wachatctl_show(wachatctl_t *ctl, int argc, char **argv)
{
    size_t           i;
    redisReply      *hist, *stat;
    char             conv[256], key[WACHAT_KEY_MAX];
    wachat_redis_t  *st;

    (void) argc;

    st = ctl->st;

    if (wachatctl_conv(st, argv[0], conv, sizeof(conv)) != 0) {
        return 1;
    }

    wachatctl_show_customer(st, conv);

    wachat_store_key_hist(key, conv);
    hist = wachat_redis_cmd(st, "XRANGE %s - +", key);
    wachat_store_key_status(key, conv);
    stat = wachat_redis_cmd(st, "HGETALL %s", key);

    if (hist == NULL || hist->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "wachatctl: %s\n", hist ? hist->str : st->err);
        freeReplyObject(hist);
        freeReplyObject(stat);
        return 1;
    }

    for (i = 0; i < hist->elements; i++) {
        wachatctl_show_entry(hist->element[i], stat);
    }

    freeReplyObject(hist);
    freeReplyObject(stat);

    return 0;
}


static void
wachatctl_show_customer(wachat_redis_t *st, const char *conv)
{
    char         key[WACHAT_KEY_MAX];
    redisReply  *c;

    wachat_store_key_conv(key, conv);
    c = wachat_redis_cmd(st, "HGETALL %s", key);

    printf("conversation %s\n", conv);
    printf("customer     %s (%s)\n",
           wachatctl_field_or(c, "name", "-"),
           wachatctl_field_or(c, "wa_id", "-"));
    printf("mode         %s\n", wachatctl_field_or(c, "mode", "-"));
    freeReplyObject(c);
}


/* one history entry: who said what, and for a reply how it fared */
static void
wachatctl_show_entry(const redisReply *e, const redisReply *stat)
{
    int                k;
    char               when[64], bn[16], how[800];
    const char        *dir, *text, *b;
    const redisReply  *kv;

    kv = e->element[1];

    dir = wachat_redis_reply_field(kv, "dir");
    text = wachat_redis_reply_field(kv, "text");
    wachatctl_time(wachat_redis_reply_field(kv, "ts") && dir
                   && strcmp(dir, "in") == 0
                   ? wachat_redis_reply_field(kv, "ts") : NULL, when,
                   sizeof(when));

    if (dir && strcmp(dir, "in") == 0) {
        printf("%s  %s: %s\n", when,
               wachatctl_field_or(kv, "name", "customer"),
               text ? text : wachat_redis_reply_field(kv, "type"));
        wachatctl_show_media(kv);
        return;
    }

    if (dir && strcmp(dir, "note") == 0) {
        printf("%-19s  note by %s: %s\n", "", wachatctl_field_or(kv, "who", "?"),
               text ? text : "");
        return;
    }

    printf("%-19s  %s: %s", "", wachatctl_field_or(kv, "who", "?"),
           text ? text : "");

    if (wachat_redis_reply_field(kv, "score")) {
        wachat_answer_describe(wachat_redis_reply_field(kv, "source"),
                               wachat_redis_reply_field(kv, "score"),
                               wachat_redis_reply_field(kv, "context"),
                               how, sizeof(how));
        printf("  (%s)", how);
    }

    for (k = 1; k <= 3; k++) {
        snprintf(bn, sizeof(bn), "button%d", k);
        b = wachat_redis_reply_field(kv, bn);
        if (b) {
            printf(" [%s]", b);
        }
    }

    wachatctl_show_status(e->element[0]->str, stat);
    wachatctl_show_media(kv);
}


/* a picture's, voice note's or file's line; a location's, a card's */
static void
wachatctl_show_media(const redisReply *kv)
{
    const char  *type, *state, *v;

    type = wachatctl_field_or(kv, "type", "media");
    state = wachat_redis_reply_field(kv, "media_state");

    if (state && strcmp(state, "stored") == 0) {
        printf("%-19s    [%s %s, %s bytes, media_dir/%s%s%s]\n", "", type,
               wachatctl_field_or(kv, "media_mime", "?"),
               wachatctl_field_or(kv, "media_size", "?"),
               wachatctl_field_or(kv, "media_id", "?"),
               wachat_redis_reply_field(kv, "media_name") ? ", " : "",
               wachatctl_field_or(kv, "media_name", ""));

    } else if (state) {
        printf("%-19s    [%s not downloaded: %s]\n", "", type,
               wachatctl_field_or(kv, "media_error", "?"));
    }

    if ((v = wachat_redis_reply_field(kv, "transcript")) != NULL) {
        printf("%-19s    transcript: %s\n", "", v);
    }

    if (wachat_redis_reply_field(kv, "lat")) {
        printf("%-19s    [location %s, %s %s %s]\n", "",
               wachatctl_field_or(kv, "lat", "?"),
               wachatctl_field_or(kv, "lon", "?"),
               wachatctl_field_or(kv, "place", ""),
               wachatctl_field_or(kv, "address", ""));
    }

    if ((v = wachat_redis_reply_field(kv, "contact")) != NULL) {
        printf("%-19s    [contact %s %s]\n", "", v,
               wachatctl_field_or(kv, "phones", ""));
    }

    if ((v = wachat_redis_reply_field(kv, "react_to")) != NULL) {
        printf("%-19s    [reaction to %s]\n", "", v);
    }
}


/* an outbound entry's delivery status, through the wamid it got */
static void
wachatctl_show_status(const char *id, const redisReply *stat)
{
    char         hkey[128];
    const char  *wamid, *status;

    snprintf(hkey, sizeof(hkey), "h:%s", id);
    wamid = wachat_redis_reply_field(stat, hkey);
    status = wamid ? wachat_redis_reply_field(stat, wamid) : NULL;

    if (wamid && strncmp(wamid, "failed|", 7) == 0) {
        printf("  (failed, code %.*s)\n", (int) strcspn(wamid + 7, "|"),
               wamid + 7);

    } else if (status) {
        printf("  (%.*s)\n", (int) strcspn(status, "|"), status);

    } else {
        printf("  (%s)\n", wamid ? "sent" : "queued");
    }
}


/* a field of a HGETALL reply or a stream entry, or dflt where it has none */
const char *
wachatctl_field_or(const redisReply *kv, const char *name, const char *dflt)
{
    const char  *v = wachat_redis_reply_field(kv, name);

    return v ? v : dflt;
}


void
wachatctl_time(const char *unix_s, char *buf, size_t len)
{
    time_t     t;
    struct tm  tm;

    t = unix_s ? (time_t) atoll(unix_s) : 0;

    if (t == 0 || gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, len, "-");
        return;
    }

    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}


void
wachatctl_time_ms(long long ms, char *buf, size_t len)
{
    char  s[32];

    snprintf(s, sizeof(s), "%lld", ms / 1000);
    wachatctl_time(s, buf, len);
    snprintf(buf + strlen(buf), len - strlen(buf), " UTC");
}
