/*
 * graph_int: the Graph client's private parts, shared by graph.c (the
 * messages) and graph_media.c (media downloads and uploads).
 */

#ifndef WACHAT_GRAPH_INT_H
#define WACHAT_GRAPH_INT_H

#include "clients/graph.h"


struct wachat_graph_s {
    wachat_http_t  *http;
    char           *api_url;        /* no trailing slash */
    char           *auth;           /* "Authorization: Bearer <token>" */
    long            timeout_ms;
};


#endif /* WACHAT_GRAPH_INT_H */
