/* app/dispatch.c: from a parsed request to a handler: method checks, routing, typed path
 * parameters, then the handler. Errors follow FastAPI's shapes: 404 {"detail":"Not Found"}, 405
 * with Allow, 422 {"detail":[{type, loc, msg, input}]}. */
#include "app/app.h"
#include "app/scalar.h"
#include "mem/buf.h"

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

/* One pydantic-style error for a path parameter that is not an integer. */
static void int_parsing_error(struct crest_json *j, const struct app_param *p)
{
    crest_json_object_begin(j);
    crest_json_key(j, "type");
    crest_json_string(j, "int_parsing");
    crest_json_key(j, "loc");
    crest_json_array_begin(j);
    crest_json_string(j, "path");
    crest_json_string_len(j, p->segment->text, p->segment->len);
    crest_json_array_end(j);
    crest_json_key(j, "msg");
    crest_json_string(j, "Input should be a valid integer, unable to parse string as an integer");
    crest_json_key(j, "input");
    crest_json_string_len(j, p->value.ptr, p->value.len);
    crest_json_object_end(j);
}

/* Checks typed path parameters; answers 422 listing every failure. Returns true when it did. */
static bool reject_bad_params(struct crest_req *req)
{
    struct crest_json *j = NULL;
    for (uint8_t i = 0; i < req->match.n_params; i++) {
        const struct app_param *p = &req->match.params[i];
        int64_t v;
        if (p->segment->kind != APP_SEG_INT || app_parse_int64(p->value.ptr, p->value.len, &v) == 0)
            continue;
        if (!j) {
            j = crest_res_json(req, 422);
            if (!j)
                return true;
            crest_json_object_begin(j);
            crest_json_key(j, "detail");
            crest_json_array_begin(j);
        }
        int_parsing_error(j, p);
    }
    if (!j)
        return false;
    crest_json_array_end(j);
    crest_json_object_end(j);
    return true;
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
        answer(req, 503, "Service Unavailable");
        return;
    default:
        answer(req, 404, "Not Found");
        return;
    }
    if (reject_bad_params(req))
        return;
    const struct app_route *route = req->match.route;
    enum crest_handler_result r = route->def.handler(req, route->def.ud);
    if (r == CREST_PENDING && !hreq->finished)
        hreq->pending = true;
}
