/* app/dispatch.c: from a parsed request to a handler: method checks, routing, typed path
 * parameters, then the handler. Errors follow FastAPI's shapes: 404 {"detail":"Not Found"}, 405
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

void app_dispatch(void *ctx, struct http_request *hreq)
{
    struct crest_app *app = ctx;
    struct crest_req *req = (struct crest_req *)hreq;
    uint8_t method = hreq->method == CREST_METHOD_HEAD ? CREST_METHOD_GET : hreq->method;

    req->json = NULL;
    if (hreq->method == CREST_METHOD_UNKNOWN || hreq->method == CREST_METHOD_CONNECT) {
        answer(req, 501, "Not Implemented"); /* RFC 9110 9.1; crest is not a proxy */
        return;
    }
    if (hreq->path.len == 1 && hreq->path.ptr[0] == '*') { /* OPTIONS * (RFC 9110 9.3.7) */
        allow_header(req, 0xffff & ~(1u << CREST_METHOD_TRACE | 1u << CREST_METHOD_CONNECT));
        crest_res_status(req, 204);
        return;
    }
    route_table_match(&app->router, method, hreq->path, hreq->arena, &req->match);
    if (req->match.status == 405 && method == CREST_METHOD_OPTIONS) {
        allow_header(req, req->match.allow);
        crest_res_status(req, 204);
        return;
    }
    switch (req->match.status) {
    case 0:
        break;
    case 400:
        answer(req, 400, "Invalid percent-encoding in path");
        return;
    case 405:
        allow_header(req, req->match.allow);
        answer(req, 405, "Method Not Allowed");
        return;
    case 503:
        req_response_oom(req);
        return;
    default:
        answer(req, 404, "Not Found");
        return;
    }
    switch (valid_request(req)) {
    case 0:
        break;
    case 422:
        return; /* the problems are the answer */
    default:
        req_response_oom(req); /* -ENOMEM: a 422 could not be built whole */
        return;
    }
    const struct route *route = req->match.route;
    enum crest_handler_result r = route->def.handler(req, route->def.ud);
    if (r == CREST_PENDING && !hreq->finished)
        hreq->pending = true;
    else
        req_response_check_body(req);
}
