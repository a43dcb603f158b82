/*
 * media: what a message carries besides its text.  A media item (image,
 * audio, video, document, sticker) is downloaded into the local store
 * before the message is answered or recorded, with retries; audio is then
 * transcribed when stt_url is set.  A location, a contact card and a
 * reaction are decoded for the history.
 *
 * While a download or a transcription runs, the conversation is busy (its
 * lease renewed, nothing else of it done; other conversations go on); its
 * end schedules the next step, which finds the same message at the head
 * again and cv->media ready.  So the message is committed once, with the
 * outcome: "stored", or "failed" with the reason, never dropped.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <yajl/yajl_tree.h>

#include "conversation/conv_int.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "lib/log.h"


static void wachat_conv_media_fetched(void *data,
    const wachat_graph_media_t *m);
static void wachat_conv_media_heard(void *data,
    const wachat_stt_result_t *res);


/* the message types whose item is downloaded */
static int
wachat_conv_media_item_type(const char *type)
{
    static const char  *types[] = {
        "image", "audio", "video", "document", "sticker", NULL
    };

    const char  **t;

    for (t = types; *t; t++) {
        if (strcmp(*t, type) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
wachat_conv_media_str(yajl_val obj, const char *name, char *buf, size_t len)
{
    const char  *path[2], *v;

    path[0] = name;
    path[1] = NULL;
    v = obj ? wachat_json_get_str(obj, path) : NULL;

    if (v) {
        snprintf(buf, len, "%s", v);
    }
}


static void
wachat_conv_media_num(yajl_val obj, const char *name, char *buf, size_t len)
{
    yajl_val     v;
    const char  *path[2];

    path[0] = name;
    path[1] = NULL;
    v = obj ? yajl_tree_get(obj, path, yajl_t_number) : NULL;

    if (v) {
        snprintf(buf, len, "%.6f", YAJL_GET_DOUBLE(v));
    }
}


/* the first contact's name, and its phones joined */
static void
wachat_conv_media_contacts(wachat_conv_media_t *m, yajl_val list)
{
    size_t       i, n;
    yajl_val     c, phones;
    const char  *v;

    static const char  *name_p[] = { "name", "formatted_name", NULL };
    static const char  *phones_p[] = { "phones", NULL };
    static const char  *phone_p[] = { "phone", NULL };

    if (list == NULL || !YAJL_IS_ARRAY(list) || list->u.array.len == 0) {
        return;
    }

    c = list->u.array.values[0];
    v = wachat_json_get_str(c, name_p);
    snprintf(m->contact, sizeof(m->contact), "%s", v ? v : "?");

    phones = yajl_tree_get(c, phones_p, yajl_t_array);

    for (i = 0; phones && i < phones->u.array.len; i++) {
        v = wachat_json_get_str(phones->u.array.values[i], phone_p);
        n = strlen(m->phones);

        if (v && n + strlen(v) + 3 < sizeof(m->phones)) {
            snprintf(m->phones + n, sizeof(m->phones) - n, "%s%s",
                     n ? ", " : "", v);
        }
    }
}


/* the message's media, from its raw JSON; 0 when it carries none */
static int
wachat_conv_media_decode(const wachat_event_t *ev, wachat_conv_media_t *m)
{
    yajl_val     root, obj;
    const char  *type, *raw, *path[2];

    static const char  *voice_p[] = { "voice", NULL };

    type = wachat_event_str(ev, TYPE);
    raw = wachat_event_str(ev, RAW);

    if (type == NULL || raw == NULL) {
        return 0;
    }

    root = wachat_json_parse(raw, ev->len[WACHAT_FIELD_RAW]);
    path[0] = type;
    path[1] = NULL;
    obj = root ? yajl_tree_get(root, path, yajl_t_any) : NULL;

    if (wachat_conv_media_item_type(type)) {
        m->kind = WACHAT_MEDIA_ITEM;
        wachat_conv_media_str(obj, "id", m->id, sizeof(m->id));
        wachat_conv_media_str(obj, "mime_type", m->meta.mime,
                              sizeof(m->meta.mime));
        wachat_conv_media_str(obj, "filename", m->meta.name,
                              sizeof(m->meta.name));
        wachat_conv_media_str(obj, "sha256", m->sha_given,
                              sizeof(m->sha_given));
        m->voice = obj && YAJL_IS_TRUE(yajl_tree_get(obj, voice_p,
                                                     yajl_t_true));

    } else if (strcmp(type, "location") == 0) {
        m->kind = WACHAT_MEDIA_LOCATION;
        wachat_conv_media_num(obj, "latitude", m->lat, sizeof(m->lat));
        wachat_conv_media_num(obj, "longitude", m->lon, sizeof(m->lon));
        wachat_conv_media_str(obj, "name", m->place, sizeof(m->place));
        wachat_conv_media_str(obj, "address", m->address,
                              sizeof(m->address));

    } else if (strcmp(type, "contacts") == 0) {
        m->kind = WACHAT_MEDIA_CONTACTS;
        wachat_conv_media_contacts(m, obj);

    } else if (strcmp(type, "reaction") == 0) {
        m->kind = WACHAT_MEDIA_REACTION;
        wachat_conv_media_str(obj, "message_id", m->react_to,
                              sizeof(m->react_to));
    }

    yajl_tree_free(root);

    return m->kind != WACHAT_MEDIA_NONE;
}


void
wachat_conv_media_free(wachat_conv_t *cv)
{
    wachat_conv_media_t  *m = cv->media;

    if (m == NULL) {
        return;
    }

    if (m->sink) {
        fclose(m->sink);
        unlink(m->tmp);
    }

    free(m->transcript);
    free(m);
    cv->media = NULL;
}


static void
wachat_conv_media_fail(wachat_conv_media_t *m, const char *why)
{
    m->state = "failed";
    snprintf(m->error, sizeof(m->error), "%s", why);
    m->step = WACHAT_MEDIA_READY;
}


/* one attempt at the download: 1 running, 0 failed for good (m ready) */
static int
wachat_conv_media_start(wachat_conv_t *cv, wachat_conv_media_t *m)
{
    wachat_engine_t  *en = cv->engine;

    if (en->media_store == NULL) {
        wachat_conv_media_fail(m, "no media store (media_dir unusable)");
        return 0;
    }

    if (en->media_graph == NULL) {
        wachat_conv_media_fail(m, "no Graph API token to download it with");
        return 0;
    }

    if (wachat_graph_media_check_id(m->id) != 0
        || wachat_media_store_check_id(m->id) != 0)
    {
        wachat_conv_media_fail(m, "no usable media id in the message");
        return 0;
    }

    m->sink = wachat_media_store_temp(en->media_store, m->tmp,
                                      sizeof(m->tmp));
    if (m->sink == NULL) {
        wachat_conv_media_fail(m, "cannot create a file in media_dir");
        return 0;
    }

    m->attempt++;
    wachat_conv_set_busy(cv, 1);

    if (wachat_graph_media_get(en->media_graph, m->id, m->sink,
                               wachat_media_store_max(en->media_store),
                               wachat_conv_media_fetched, cv) != 0)
    {
        wachat_conv_set_busy(cv, 0);
        fclose(m->sink);
        m->sink = NULL;
        unlink(m->tmp);
        wachat_conv_media_fail(m, "the download could not start");
        return 0;
    }

    return 1;
}


static void
wachat_conv_media_fetched(void *data, const wachat_graph_media_t *res)
{
    int                   rc, ok;
    long                  backoff;
    wachat_conv_t        *cv = data;
    wachat_engine_t      *en = cv->engine;
    wachat_conv_media_t  *m = cv->media;
    char                  why[256];

    wachat_conv_set_busy(cv, 0);

    if (en->closing || m == NULL) {
        return;         /* forced stop: the message stays in the inbox */
    }

    ok = m->sink && fflush(m->sink) == 0;
    rc = m->sink ? fclose(m->sink) : -1;
    m->sink = NULL;

    if (res->result == WACHAT_GRAPH_OK && ok && rc == 0) {
        if (res->mime && res->mime[0]) {
            snprintf(m->meta.mime, sizeof(m->meta.mime), "%s", res->mime);
        }

        if (wachat_media_store_keep(en->media_store, m->tmp, m->id,
                                    res->sha256 ? res->sha256 : m->sha_given,
                                    res->declared, &m->meta, why,
                                    sizeof(why)) == 0)
        {
            en->stats.media_kept++;
            m->state = "stored";
            snprintf(m->size_text, sizeof(m->size_text), "%zu",
                     m->meta.size);
            m->step = en->stt && strcmp(m->meta.mime, "") != 0
                      && strncmp(m->meta.mime, "audio/", 6) == 0
                      ? WACHAT_MEDIA_TRANSCRIBE : WACHAT_MEDIA_READY;
            wachat_log(WACHAT_LOG_INFO, "conversation %s: media %s kept "
                       "(%zu bytes, %s)", cv->id, m->id, m->meta.size,
                       m->meta.mime);
            wachat_conv_schedule(cv, 0);
            return;
        }

        /* a corrupted transfer may come whole next time */
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: media %s: %s",
                   cv->id, m->id, why);
        backoff = wachat_graph_backoff_ms((unsigned) m->attempt - 1,
                                          WACHAT_GRAPH_RETRY);

    } else {
        unlink(m->tmp);
        snprintf(why, sizeof(why), "%s", res->why ? res->why
                                     : "the download failed");
        backoff = res->result == WACHAT_GRAPH_RETRY
                  ? wachat_graph_backoff_ms((unsigned) m->attempt - 1,
                                            res->result)
                  : -1;

        wachat_log(WACHAT_LOG_WARNING, "conversation %s: media %s, attempt "
                   "%d: %s (%s)", cv->id, m->id, m->attempt, why,
                   wachat_graph_result_name(res->result));
    }

    if (backoff >= 0 && m->attempt < en->cfg->media_attempts) {
        en->stats.media_retries++;
        m->retry_at = wachat_clock_ms() + backoff;
        wachat_conv_schedule(cv, backoff);
        return;
    }

    en->stats.media_failed++;
    wachat_conv_media_fail(m, why);
    wachat_log(WACHAT_LOG_WARNING, "conversation %s: media %s not kept "
               "after %d attempt(s): %s", cv->id, m->id, m->attempt, why);
    wachat_conv_schedule(cv, 0);
}


/* the voice note to text: 1 running, 0 not (m ready, no transcript) */
static int
wachat_conv_media_transcribe(wachat_conv_t *cv, wachat_conv_media_t *m)
{
    wachat_engine_t  *en = cv->engine;
    char              path[WACHAT_MEDIA_PATH_MAX];

    m->step = WACHAT_MEDIA_READY;

    if (en->stt == NULL
        || wachat_media_store_path(en->media_store, m->id, path,
                                   sizeof(path)) != 0)
    {
        return 0;
    }

    wachat_conv_set_busy(cv, 1);

    if (wachat_stt_transcribe(en->stt, path, m->meta.mime,
                              wachat_conv_media_heard, cv) != 0)
    {
        wachat_conv_set_busy(cv, 0);
        en->stats.transcribe_failed++;
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: media %s: the "
                   "transcription could not start", cv->id, m->id);
        return 0;
    }

    return 1;
}


static void
wachat_conv_media_heard(void *data, const wachat_stt_result_t *res)
{
    wachat_conv_t        *cv = data;
    wachat_engine_t      *en = cv->engine;
    wachat_conv_media_t  *m = cv->media;

    wachat_conv_set_busy(cv, 0);

    if (en->closing || m == NULL) {
        return;
    }

    if (res->ok) {
        en->stats.transcribed++;
        m->transcript = strdup(res->text);
        wachat_log(WACHAT_LOG_INFO, "conversation %s: voice note %s "
                   "transcribed (%zu bytes of text)", cv->id, m->id,
                   strlen(res->text));

    } else {
        en->stats.transcribe_failed++;
        wachat_log(WACHAT_LOG_WARNING, "conversation %s: voice note %s not "
                   "transcribed: %s", cv->id, m->id,
                   res->error ? res->error : "?");
    }

    wachat_conv_schedule(cv, 0);
}


int
wachat_conv_media(wachat_conv_t *cv, const wachat_event_t *ev)
{
    long long             now;
    const char           *wamid;
    wachat_conv_media_t  *m = cv->media;

    wamid = wachat_event_str(ev, ID) ? wachat_event_str(ev, ID)
                                     : ev->stream_id;

    /* another message's (it was committed, or went elsewhere) */
    if (m && strcmp(m->wamid, wamid) != 0) {
        wachat_conv_media_free(cv);
        m = NULL;
    }

    if (m == NULL) {
        m = calloc(1, sizeof(wachat_conv_media_t));
        if (m == NULL) {
            return 0;           /* recorded without its media fields */
        }

        if (!wachat_conv_media_decode(ev, m)) {
            free(m);
            return 0;
        }

        snprintf(m->wamid, sizeof(m->wamid), "%s", wamid);
        m->step = m->kind == WACHAT_MEDIA_ITEM ? WACHAT_MEDIA_FETCH
                                               : WACHAT_MEDIA_READY;
        cv->media = m;
    }

    if (m->step == WACHAT_MEDIA_FETCH) {
        now = wachat_clock_ms();

        if (m->retry_at > now) {
            wachat_conv_schedule(cv, (long) (m->retry_at - now));
            return 1;
        }

        if (wachat_conv_media_start(cv, m)) {
            wachat_conv_drop_peek(cv);  /* the step after asks again */
            return 1;
        }
    }

    if (m->step == WACHAT_MEDIA_TRANSCRIBE
        && wachat_conv_media_transcribe(cv, m))
    {
        wachat_conv_drop_peek(cv);
        return 1;
    }

    return 0;
}


void
wachat_conv_media_fields(const wachat_conv_t *cv, const wachat_event_t *ev,
    wachat_conv_kv_pt add, void *kv)
{
    const char                 *wamid;
    const wachat_conv_media_t  *m = cv->media;

    wamid = wachat_event_str(ev, ID) ? wachat_event_str(ev, ID)
                                     : ev->stream_id;

    if (m == NULL || strcmp(m->wamid, wamid) != 0) {
        return;
    }

#define wachat_add_opt(name, v)  if ((v)[0]) add(kv, name, v)

    switch (m->kind) {

    case WACHAT_MEDIA_ITEM:
        wachat_add_opt("media_id", m->id);
        wachat_add_opt("media_mime", m->meta.mime);
        wachat_add_opt("media_name", m->meta.name);
        add(kv, "media_state", m->state ? m->state : "failed");

        if (m->state && strcmp(m->state, "stored") == 0) {
            add(kv, "media_sha256", m->meta.sha256);
            add(kv, "media_size", m->size_text);

        } else {
            add(kv, "media_error", m->error[0] ? m->error : "not downloaded");
        }

        if (m->voice) {
            add(kv, "voice", "1");
        }

        if (m->transcript) {
            add(kv, "transcript", m->transcript);
        }
        break;

    case WACHAT_MEDIA_LOCATION:
        wachat_add_opt("lat", m->lat);
        wachat_add_opt("lon", m->lon);
        wachat_add_opt("place", m->place);
        wachat_add_opt("address", m->address);
        break;

    case WACHAT_MEDIA_CONTACTS:
        wachat_add_opt("contact", m->contact);
        wachat_add_opt("phones", m->phones);
        break;

    case WACHAT_MEDIA_REACTION:
        wachat_add_opt("react_to", m->react_to);
        break;

    case WACHAT_MEDIA_NONE:
        break;
    }

#undef wachat_add_opt
}


int
wachat_conv_media_picture(const wachat_conv_t *cv)
{
    const char                 *mime;
    const wachat_conv_media_t  *m = cv->media;
    wachat_engine_t            *en = cv->engine;

    if (m == NULL || !en->cfg->llm_vision
        || en->cfg->backend != WACHAT_BACKEND_OPENAI
        || m->kind != WACHAT_MEDIA_ITEM || m->state == NULL
        || strcmp(m->state, "stored") != 0)
    {
        return 0;
    }

    mime = m->meta.mime;

    return strcmp(mime, "image/jpeg") == 0 || strcmp(mime, "image/png") == 0
           || strcmp(mime, "image/webp") == 0;
}


char *
wachat_conv_media_data_url(const wachat_conv_t *cv)
{
    FILE                       *f;
    char                       *url, *bytes;
    long                        n;
    size_t                      head;
    const wachat_conv_media_t  *m = cv->media;
    char                        path[WACHAT_MEDIA_PATH_MAX];

    if (!wachat_conv_media_picture(cv)
        || wachat_media_store_path(cv->engine->media_store, m->id, path,
                                   sizeof(path)) != 0
        || (f = fopen(path, "r")) == NULL)
    {
        return NULL;
    }

    bytes = NULL;
    url = NULL;

    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0
        && fseek(f, 0, SEEK_SET) == 0 && (bytes = malloc((size_t) n)) != NULL
        && fread(bytes, 1, (size_t) n, f) == (size_t) n)
    {
        head = strlen("data:;base64,") + strlen(m->meta.mime);
        url = malloc(head + 4 * (((size_t) n + 2) / 3) + 1);

        if (url) {
            snprintf(url, head + 1, "data:%s;base64,", m->meta.mime);
            EVP_EncodeBlock((unsigned char *) url + head,
                            (unsigned char *) bytes, (int) n);
        }
    }

    free(bytes);
    fclose(f);

    return url;
}
