/*
 * wachat llm: client of an OpenAI-compatible chat completions endpoint
 * (OpenAI, llama.cpp server, Ollama, vLLM): POST {llm_url}/chat/completions.
 *
 * The prompt is, in this order: the system prompt; one system message
 * carrying the knowledge-base passages; the last turns of the conversation
 * as user / assistant messages, oldest first; the customer's message.
 *
 * Anything but a usable answer (HTTP status not 200, a body that is not
 * the expected JSON, empty content, a timeout) is a failure with a reason,
 * so the daemon falls back to the knowledge-base answer.  Plain structs in,
 * no knowledge of the KB or conversation units.
 */

#ifndef WACHAT_LLM_H
#define WACHAT_LLM_H

/*
 * The most KB passages a prompt carries, llm_passages' maximum
 * (config_keys.c): the word search ranks at most 8 entries (kb_search.c).
 */
#define WACHAT_LLM_PASSAGES_MAX  8

#include <stddef.h>

#include "clients/http.h"


typedef struct {
    const char  *title;
    const char  *text;
} wachat_llm_passage_t;


typedef enum {
    WACHAT_LLM_USER = 0,        /* the customer */
    WACHAT_LLM_ASSISTANT        /* the business: AI or agent replies */
} wachat_llm_role_e;


typedef struct {
    wachat_llm_role_e   role;
    const char         *text;
} wachat_llm_turn_t;


typedef struct {
    const wachat_llm_passage_t  *passages;  /* best first */
    size_t                       npassages;
    const wachat_llm_turn_t     *history;   /* oldest first */
    size_t                       nhistory;
    const char                  *question;  /* the customer's message */
    /*
     * the customer's picture ("data:image/jpeg;base64,..."), or NULL: with
     * it the question goes as content parts, text and image_url, which
     * vision models take (llm_vision)
     */
    const char                  *image_url;
} wachat_llm_prompt_t;


typedef struct {
    const char  *url;           /* base, e.g. http://127.0.0.1:8080/v1 */
    const char  *model;
    const char  *key;           /* NULL or "": no Authorization header */
    const char  *system_prompt; /* NULL or "": no such message */
    long         timeout_ms;    /* 0: 30 s */
    long         max_tokens;    /* 0: not sent (server default) */
    double       temperature;   /* < 0: not sent */
} wachat_llm_conf_t;


/* In a done callback the strings live only during the call. */
typedef struct {
    int          ok;            /* 1: content is the answer */
    char        *content;       /* trimmed, NUL-terminated; NULL if !ok */
    char        *error;         /* why not, for the log; NULL if ok */
    char        *finish_reason; /* "stop", "length", ... or NULL */
    long         http_status;   /* 0: no HTTP answer */
    int          timed_out;
    long         total_ms;
} wachat_llm_result_t;


typedef void (*wachat_llm_done_pt)(void *data,
    const wachat_llm_result_t *res);


typedef struct wachat_llm_s  wachat_llm_t;


/* The request body (malloc'ed, NUL-terminated); -1 and *why on error. */
int wachat_llm_build(const wachat_llm_conf_t *conf,
    const wachat_llm_prompt_t *prompt, char **json, size_t *len,
    const char **why);

/*
 * Reads choices[0].message.content from an answer.  A leading
 * <think>...</think> block (reasoning models) is dropped.  Returns
 * res->ok; free with wachat_llm_result_free().
 */
int wachat_llm_parse(long http_status, const char *body, size_t len,
    wachat_llm_result_t *res);

void wachat_llm_result_free(wachat_llm_result_t *res);


/* conf is copied; NULL and *why on a missing URL or model, bad key. */
wachat_llm_t *wachat_llm_new(wachat_http_t *http,
    const wachat_llm_conf_t *conf, const char **why);

/* Calls in flight do not refer to llm: it may be freed while they run. */
void wachat_llm_free(wachat_llm_t *llm);

/*
 * 0: done will be called exactly once, with ok or a failure (see http.h
 * for cancellation); -1: bad input or out of memory, done is not called.
 */
int wachat_llm_complete(wachat_llm_t *llm, const wachat_llm_prompt_t *p,
    wachat_llm_done_pt done, void *data);


#endif /* WACHAT_LLM_H */
