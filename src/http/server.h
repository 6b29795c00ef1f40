/* http/server.h: the HTTP layer's configuration and its hook into net (struct net_conn_ops) and
 * into the application above (handle). Shared read-only by all workers. */
#ifndef CREST_HTTP_SERVER_H
#define CREST_HTTP_SERVER_H

#include "http/request.h"
#include "net/worker.h"

/* Runs the application for a complete request: it fills the response, or sets req->pending and
 * later calls http_request_finish. */
typedef void (*http_handle_fn)(void *app, struct http_request *req);

/* How the body of a request is read, decided from its head before any body byte is: whole into
 * req->body (the default), or streamed to a consumer the handler names (http/upload.h); limit is
 * the most bytes the body may have (413 past it). */
struct http_body_plan {
    bool stream;
    uint64_t limit;
};
/* Called once a head is parsed, before its body is read and before handle: the application looks
 * the route up and fills plan (which holds the server's defaults). */
typedef void (*http_plan_fn)(void *app, struct http_request *req, struct http_body_plan *plan);

/* Called when a response is set, before it is rendered (a stream's before its head): where the
 * application's after hooks change it. */
typedef void (*http_respond_fn)(void *app, struct http_request *req);

/* Called once per response, just before it is written: where the application counts it. */
typedef void (*http_complete_fn)(void *app, const struct http_request *req, uint64_t duration_us);

struct http_server {
    struct net_config net;
    uint32_t max_head_bytes;
    uint32_t max_headers;
    uint32_t max_body_bytes;
    size_t request_size; /* the application's request struct, struct http_request first */
    http_handle_fn handle;
    http_plan_fn plan;         /* may be NULL: every body is read whole, up to max_body_bytes */
    http_respond_fn respond;   /* may be NULL */
    http_complete_fn complete; /* may be NULL */
    void *app;
    struct net_conn_ops ops;
};

/* Fills srv->ops and derived sizes; call after the fields above are set. */
void http_server_init(struct http_server *srv);

/* The detail of a 503 for memory: "Server over memory budget" when a budget is set. */
const char *http_oom_detail(void);

/* Appends a complete response with {"detail": detail} (JSON-escaped) to out; for errors crest
 * answers itself (parse errors, 404, 408). */
int http_append_error(struct mem_buf *out, unsigned status, const char *detail, bool close,
                      const char *extra_headers);

#endif
