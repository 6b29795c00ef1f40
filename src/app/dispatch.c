/* app/dispatch.c: from a parsed request to a handler: the hooks that run before routing, method
 * checks and routing, the route's hooks, validation, then the handler; on the way out the after
 * hooks (app_dispatch_respond). Errors follow FastAPI's shapes: 404 {"detail":"Not Found"}, 405
 * with Allow, 422 {"detail":[{type, loc, msg, input}]}. */
#include "app/app.h"

#include "http/server.h"
#include "mem/buf.h"
#include "net/worker.h"
#include "req/req.h"
#include "valid/valid.h"

#include <errno.h>
#include <string.h>

/* "GET, HEAD, POST" for the methods set in mask (HEAD follows GET; OPTIONS is always served). */
static void allow_header(struct crest_req *req, uint16_t mask)
{
    char text[96];
    size_t n = 0;
    for (uint8_t m = CREST_METHOD_GET; m <= CREST_METHOD_CONNECT; m++) {
        bool on = (mask >> m) & 1;
        if (m == CREST_METHOD_HEAD)
            on = (mask >> CREST_METHOD_GET) & 1;
        if (m == CREST_METHOD_OPTIONS)
            on = true;
        if (!on)
            continue;
        const char *name = route_method_name(m);
        size_t len = strlen(name);
        if (n + len + 3 > sizeof(text))
            break;
        if (n) {
            memcpy(text + n, ", ", 2);
            n += 2;
        }
        memcpy(text + n, name, len);
        n += len;
    }
    text[n] = '\0';
    int err = crest_res_header(req, "Allow", text);
    if (err) /* our own text is valid, so only memory can fail: then close rather than lie */
        req->http.close = true;
}

static void answer(struct crest_req *req, int status, const char *detail)
{
    if (crest_res_error(req, status, detail) != 0) {
        req->http.status = 503;
        req->http.close =
            true; /* the body could not be written: do not leave the client guessing */
    }
}

/* Routing: true when it answered (501, OPTIONS, 400, 404, 405, 503). */
static bool route_request(struct crest_app *app, struct crest_req *req)
{
    struct http_request *hreq = &req->http;
    uint8_t method = hreq->method == CREST_METHOD_HEAD ? CREST_METHOD_GET : hreq->method;

    if (hreq->method == CREST_METHOD_UNKNOWN || hreq->method == CREST_METHOD_CONNECT) {
        answer(req, 501, "Not Implemented"); /* RFC 9110 9.1; crest is not a proxy */
        return true;
    }
    if (hreq->path.len == 1 && hreq->path.ptr[0] == '*') { /* OPTIONS * (RFC 9110 9.3.7) */
        allow_header(req, 0xffff & ~(1u << CREST_METHOD_TRACE | 1u << CREST_METHOD_CONNECT));
        crest_res_status(req, 204);
        return true;
    }
    if (!req->matched) /* looked up already when the head arrived */
        route_table_match(&app->router, method, hreq->path, hreq->arena, &req->match);
    if (req->match.status == 405 && method == CREST_METHOD_OPTIONS) {
        allow_header(req, req->match.allow);
        crest_res_status(req, 204);
        return true;
    }
    switch (req->match.status) {
    case 0:
        return false;
    case 400:
        answer(req, 400, "Invalid percent-encoding in path");
        return true;
    case 405:
        allow_header(req, req->match.allow);
        answer(req, 405, "Method Not Allowed");
        return true;
    case 503:
        req_response_oom(req);
        return true;
    default:
        answer(req, 404, "Not Found");
        return true;
    }
}

/* app_hook_at without its search in the common cases, which the hook rule of issue 16 (one no-op
 * hook costs <= 2 % on pipelined /json, bench/hooks.py) is about: the global hooks are the first
 * n_global of the array, and past them there is nothing when the app has no prefixed or tagged
 * hook and the route none of its own. */
static const struct crest_hook *hook_at(const struct crest_app *app, const struct crest_req *req,
                                        uint16_t pos)
{
    if (pos < app->n_global)
        return &app->hooks[pos];
    const struct route *route = req->routed ? req->match.route : NULL;
    if (!route || (app->n_hooks == app->n_global && !route->def.n_hooks))
        return NULL;
    return app_hook_at(app, route, pos);
}

enum run_result {
    RUN_ANSWERED, /* the response is set: a hook, routing, validation or the handler answered */
    RUN_PENDING,  /* a hook or the handler will finish it */
};

/* The request's chain from where it stands: hooks before routing, routing, the route's hooks,
 * validation, the handler. */
static enum run_result run(struct crest_app *app, struct crest_req *req)
{
    for (;;) {
        if (!req->routed && req->hook_next == app->n_global) {
            req->routed = true;
            if (route_request(app, req))
                return RUN_ANSWERED;
        }
        const struct crest_hook *h = hook_at(app, req, req->hook_next);
        if (!h)
            break;
        req->hook_entered = ++req->hook_next;
        if (!h->before)
            continue;
        req->in_hook = true;
        enum crest_hook_result r = h->before(req, h->ud);
        req->in_hook = false;
        if (r == CREST_HOOK_NEXT || (r == CREST_HOOK_PENDING && req->next_called)) {
            req->next_called = false;
            continue;
        }
        if (r == CREST_HOOK_PENDING && !req->http.finished)
            return RUN_PENDING;
        req_response_check_body(req);
        return RUN_ANSWERED;
    }
    switch (valid_request(req)) {
    case 0:
        break;
    case 422:
        return RUN_ANSWERED; /* the problems are the answer */
    default:
        req_response_oom(req); /* -ENOMEM: a 422 could not be built whole */
        return RUN_ANSWERED;
    }
    const struct route *route = req->match.route;
    enum crest_handler_result r = route->def.handler(req, route->def.ud);
    if (r == CREST_PENDING && !req->http.finished)
        return RUN_PENDING;
    req_response_check_body(req);
    return RUN_ANSWERED;
}

void app_dispatch(void *ctx, struct http_request *hreq)
{
    struct crest_req *req = (struct crest_req *)hreq;

    req->json = NULL;
    req->state = NULL;
    req->hook_next = req->hook_entered = 0;
    req->routed = req->in_hook = req->next_called = false;
    if (run(ctx, req) == RUN_PENDING)
        hreq->pending = true;
}

CREST_API void crest_req_next(struct crest_req *req)
{
    struct http_request *hreq = &req->http;
    const struct http_server *srv = hreq->worker->ctx;

    if (req->in_hook) {
        req->next_called = true; /* the hook goes on when it returns */
        return;
    }
    hreq->in_handler = true; /* a crest_req_finish inside only marks it, as in a handler */
    hreq->finished = false;
    enum run_result r = run(srv->app, req);
    hreq->in_handler = false;
    if (r == RUN_PENDING && !hreq->finished) {
        if (hreq->upload) /* the handler asked for its streamed body: the session reads it */
            http_request_upload(hreq);
        return;
    }
    crest_req_finish(req);
}

void app_dispatch_plan(void *ctx, struct http_request *hreq, struct http_body_plan *plan)
{
    struct crest_app *app = ctx;
    struct crest_req *req = (struct crest_req *)hreq;
    uint8_t method = hreq->method == CREST_METHOD_HEAD ? CREST_METHOD_GET : hreq->method;

    if (hreq->method == CREST_METHOD_UNKNOWN || hreq->method == CREST_METHOD_CONNECT ||
        (hreq->path.len == 1 && hreq->path.ptr[0] == '*'))
        return; /* answered by route_request without a route */
    route_table_match(&app->router, method, hreq->path, hreq->arena, &req->match);
    req->matched = true;
    const struct route *route = req->match.route;
    if (req->match.status != 0 || !route)
        return;
    plan->stream = route->def.body_stream;
    if (route->def.max_body_bytes)
        plan->limit = route->def.max_body_bytes;
}

void app_dispatch_respond(void *ctx, struct http_request *hreq)
{
    struct crest_app *app = ctx;
    struct crest_req *req = (struct crest_req *)hreq;

    if (!app->n_after && !(req->routed && req->match.route && req->match.route->def.n_hooks))
        return; /* no hook the request reached has an after: nothing to walk */
    for (uint16_t pos = req->hook_entered; pos-- > 0;) {
        const struct crest_hook *h = hook_at(app, req, pos);
        if (h && h->after)
            h->after(req, h->ud);
    }
}
