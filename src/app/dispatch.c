/* app/dispatch.c: from a parsed request to a handler: method checks, routing, typed path
 * parameters, then the handler. Errors follow FastAPI's shapes: 404 {"detail":"Not Found"}, 405
 * with Allow, 422 {"detail":[{type, loc, msg, input}]}. */
#include "app/app.h"
#include "http/server.h"
#include "mem/buf.h"
#include "net/worker.h"

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
        const char *name = app_method_name(m);
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
    app_router_match(&app->router, method, hreq->path, hreq->arena, &req->match);
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
        app_answer_oom(req);
        return;
    default:
        answer(req, 404, "Not Found");
        return;
    }
    if (app_validate(req)) {
        app_check_body(req);
        return;
    }
    const struct app_route *route = req->match.route;
    enum crest_handler_result r = route->def.handler(req, route->def.ud);
    if (r == CREST_PENDING && !hreq->finished)
        hreq->pending = true;
    else
        app_check_body(req);
}

void app_check_body(struct crest_req *req)
{
    int err = req->json ? crest_json_error(req->json) : 0;
    if (!err)
        return;
    /* a JSON body the writer gave up on is not valid JSON: never send it */
    req->http.res_headers->len = 0;
    req->json = NULL;
    if (err == -ENOMEM)
        app_answer_oom(req);
    else
        answer(req, 500, "Internal Server Error");
}

void app_answer_oom(struct crest_req *req)
{
    req->http.res_headers->len = 0;
    req->json = NULL;
    req->http.close = true; /* shed: the client retries later, on a new connection */
    obs_shed(req->http.worker->stats);
    if (crest_res_error(req, 503, http_oom_detail()) != 0 ||
        crest_res_header(req, "Retry-After", "1") != 0)
        req->http.status = 503; /* the status line at least */
}
