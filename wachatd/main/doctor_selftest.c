/*
 * doctor_selftest: a webhook signed with the App Secret and POSTed through
 * nginx, which must come out of the stream; the one check that crosses it.
 */

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/hmac.h>

#include "main/doctor_int.h"


/* "sha256=<hex>" of body under the App Secret, as Meta signs it */
static void
wachat_doctor_sign(const char *secret, const char *body, size_t len,
    char *sig)
{
    size_t         k;
    unsigned char  md[32];
    unsigned int   mdlen;

    static const char  hex[] = "0123456789abcdef";

    HMAC(EVP_sha256(), secret, (int) strlen(secret),
         (const unsigned char *) body, len, md, &mdlen);

    memcpy(sig, "sha256=", 7);

    for (k = 0; k < 32; k++) {
        sig[7 + 2 * k] = hex[md[k] >> 4];
        sig[8 + 2 * k] = hex[md[k] & 0xf];
    }

    sig[71] = '\0';
}


/* the signed POST; 0 when nginx answered 200, else it says why */
static int
wachat_doctor_post(wachat_doctor_t *doc, const char *url, const char *body,
    size_t len, const char *sig)
{
    char                   hdr[128];
    const char            *headers[3];
    wachat_http_req_t      req;
    wachat_doctor_wait_t   w;

    snprintf(hdr, sizeof(hdr), "X-Hub-Signature-256: %s", sig);
    headers[0] = "Content-Type: application/json";
    headers[1] = hdr;
    headers[2] = NULL;

    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = url;
    req.headers = headers;
    req.body = body;
    req.body_len = len;
    req.timeout_ms = 10000;

    if (wachat_doctor_request(doc, &req, &w) != 0
        || w.error != WACHAT_HTTP_DONE)
    {
        wachat_doctor_say(doc, "FAIL", "self-test: POST %s: %s", url,
                          w.error_text);
        return -1;
    }

    if (w.status != 200) {
        wachat_doctor_say(doc, "FAIL", "self-test: POST %s answered %ld "
                          "(401/403: wachat_app_secret differs from the "
                          "secret given here; 503: nginx cannot reach "
                          "Redis; 404: the location is not there)", url,
                          w.status);
        return -1;
    }

    return 0;
}


/* 1 when an entry with the nonce comes out of the stream within 5 s */
static int
wachat_doctor_in_stream(wachat_redis_t *st, const wachat_config_t *cfg,
    const char *nonce)
{
    int          i;
    size_t       k;
    redisReply  *r;
    const char  *raw;

    for (i = 0; i < 50; i++) {
        r = wachat_redis_cmd(st, "XREVRANGE %s + - COUNT 200", cfg->stream);

        for (k = 0; r && r->type == REDIS_REPLY_ARRAY && k < r->elements;
             k++)
        {
            raw = wachat_redis_reply_field(r->element[k]->element[1], "raw");

            if (raw && strstr(raw, nonce)) {
                freeReplyObject(r);
                return 1;
            }
        }

        freeReplyObject(r);
        usleep(100000);
    }

    return 0;
}


/*
 * A signed delivery of a field wachatd ignores (kind=other): it goes
 * through nginx, the module and Redis exactly as Meta's would, and answers
 * no one.
 */

void
wachat_doctor_selftest(wachat_doctor_t *doc, wachat_redis_t *st,
    const wachat_config_t *cfg, const char *url, const char *secret)
{
    char             body[512], nonce[64], sig[80];
    size_t           blen;
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(nonce, sizeof(nonce), "selftest-%d-%lld-%ld", (int) getpid(),
             (long long) ts.tv_sec, ts.tv_nsec);

    blen = (size_t) snprintf(body, sizeof(body),
             "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":"
             "\"0\",\"changes\":[{\"field\":\"wachat_selftest\",\"value\":"
             "{\"nonce\":\"%s\"}}]}]}", nonce);

    wachat_doctor_sign(secret, body, blen, sig);

    if (wachat_doctor_post(doc, url, body, blen, sig) != 0) {
        return;
    }

    /* it must come out of the stream wachatd reads */
    if (wachat_doctor_in_stream(st, cfg, nonce)) {
        wachat_doctor_say(doc, "ok", "self-test: a signed POST to %s came "
                          "out of the stream %s", url, cfg->stream);

    } else {
        wachat_doctor_say(doc, "FAIL", "self-test: %s accepted the POST but "
                          "it is not in the stream %s of this Redis: nginx "
                          "writes elsewhere (wachat_redis, wachat_stream)",
                          url, cfg->stream);
    }
}
