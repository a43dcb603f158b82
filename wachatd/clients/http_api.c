/*
 * http api: what the JSON API clients on top of http.c share (graph.c,
 * llm.c, stt.c, embed.c): a token fit for a header, the bearer header,
 * and an OpenAI-compatible endpoint's checked and copied configuration.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/http.h"


int
wachat_http_check_token(const char *s)
{
    if (s == NULL || *s == '\0') {
        return -1;
    }

    for ( /* void */ ; *s; s++) {
        if (*s <= 0x20 || *s >= 0x7f) {
            return -1;
        }
    }

    return 0;
}


char *
wachat_http_bearer(const char *token)
{
    size_t   n;
    char    *header;

    n = sizeof("Authorization: Bearer ") + strlen(token);
    header = malloc(n);
    if (header) {
        snprintf(header, n, "Authorization: Bearer %s", token);
    }

    return header;
}


void
wachat_http_bearer_free(char *header)
{
    if (header) {
        memset(header, 0, strlen(header));
    }

    free(header);
}


const char *
wachat_http_api_check(const char *name, const char *what, const char *url,
    const char *model, const char *key)
{
    static char  why[160];

    if (wachat_http_check_token(url) != 0) {
        snprintf(why, sizeof(why), "%s_url is empty or has spaces or "
                 "control characters", name);

    } else if (model == NULL || model[0] == '\0') {
        snprintf(why, sizeof(why), "no %s_model", name);

    } else if (key && key[0] && wachat_http_check_token(key) != 0) {
        snprintf(why, sizeof(why), "the %s key has spaces or control "
                 "characters (a stray newline in the key file?)", what);

    } else {
        return NULL;
    }

    return why;
}


int
wachat_http_api_init(wachat_http_api_t *api, const char *url,
    const char *path, const char *model, const char *key)
{
    size_t  n;

    memset(api, 0, sizeof(wachat_http_api_t));

    n = strlen(url);
    while (n > 0 && url[n - 1] == '/') {
        n--;
    }

    api->endpoint = malloc(n + strlen(path) + 1);
    if (api->endpoint) {
        memcpy(api->endpoint, url, n);
        strcpy(api->endpoint + n, path);
    }

    api->model = strdup(model);

    if (key && key[0]) {
        api->auth = wachat_http_bearer(key);
    }

    if (api->endpoint == NULL || api->model == NULL
        || (key && key[0] && api->auth == NULL))
    {
        wachat_http_api_free(api);
        return -1;
    }

    return 0;
}


void
wachat_http_api_free(wachat_http_api_t *api)
{
    wachat_http_bearer_free(api->auth);
    free(api->endpoint);
    free(api->model);
    memset(api, 0, sizeof(wachat_http_api_t));
}
