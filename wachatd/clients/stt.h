/*
 * wachat stt: speech to text through an OpenAI-compatible transcription
 * API (POST {url}/audio/transcriptions, multipart/form-data with "file"
 * and "model"; a local whisper server speaks it too), on wachat_http.
 */

#ifndef WACHAT_STT_H
#define WACHAT_STT_H

#include <stddef.h>

#include "clients/http.h"


/* OpenAI's own limit on one audio file */
#define WACHAT_STT_FILE_MAX  (25 * 1024 * 1024)


typedef struct {
    const char  *url;           /* base, e.g. http://127.0.0.1:9000/v1 */
    const char  *model;
    const char  *key;           /* NULL or "": no Authorization header */
    long         timeout_ms;    /* 0: 60 s */
} wachat_stt_conf_t;


/* In a done callback the strings live only during the call. */
typedef struct {
    int          ok;            /* 1: text is the transcript */
    const char  *text;          /* trimmed; NULL if !ok */
    const char  *error;         /* why not; NULL if ok */
    long         http_status;
} wachat_stt_result_t;


typedef void (*wachat_stt_done_pt)(void *data,
    const wachat_stt_result_t *res);


typedef struct wachat_stt_s  wachat_stt_t;


/* conf is copied; NULL and *why on a missing URL or model, a bad key */
wachat_stt_t *wachat_stt_new(wachat_http_t *http,
    const wachat_stt_conf_t *conf, const char **why);

/* calls in flight do not refer to stt: it may go on reload */
void wachat_stt_free(wachat_stt_t *stt);

/*
 * The multipart body of one request for the audio bytes (pure, for
 * tests): boundary is put in *boundary (at least 48 bytes).  -1 when out
 * of memory.
 */
int wachat_stt_build(const char *model, const char *filename,
    const char *mime, const char *audio, size_t len, char *boundary,
    char **body, size_t *blen);

/*
 * Transcribes the file at path (read now, at most WACHAT_STT_FILE_MAX
 * bytes).  0: done comes exactly once; -1: the file cannot be read or
 * the call cannot start, done does not come.
 */
int wachat_stt_transcribe(wachat_stt_t *stt, const char *path,
    const char *mime, wachat_stt_done_pt done, void *data);


#endif /* WACHAT_STT_H */
