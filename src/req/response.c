/* req/response.c: how a handler builds its answer (the crest_res_* functions of crest.h), and
 * the answers that replace a response crest could not build: 503 when memory was refused, 500
 * when a JSON body was left invalid. The body goes to the session's reusable response buffers. */
#include "req/req.h"

#include "http/parse.h"
#include "http/server.h"
#include "http/stream.h"
#include "mem/mem.h"
#include "net/worker.h"
#include "obs/stats.h"
#include "json/json.h"

#include <errno.h>
#include <string.h>

CREST_API void crest_res_status(struct crest_req *req, int status)
{
    if (status >= 100 && status <= 999)
        req->http.status = (uint16_t)status;
}

/* RFC 9110 5.5: a field value never holds CR, LF or NUL; refusing them here is what keeps an
 * echoed client string from splitting the response. */
CREST_API int crest_res_header(struct crest_req *req, const char *name, const char *value)
{
    struct mem_buf *h = req->http.res_headers;
    size_t nlen = strlen(name), vlen = strlen(value);
    int err = 0;

    if (nlen == 0)
        return -EINVAL;
    for (size_t i = 0; i < nlen; i++)
        if (!http_is_tchar((unsigned char)name[i]))
            return -EINVAL;
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return -EINVAL;
    }
    err |= mem_buf_append(h, MEM_OUT, name, nlen);
    err |= mem_buf_append(h, MEM_OUT, ": ", 2);
    err |= mem_buf_append(h, MEM_OUT, value, vlen);
    err |= mem_buf_append(h, MEM_OUT, "\r\n", 2);
    return err ? -ENOMEM : 0;
}

static int set_content_type(struct crest_req *req, const char *content_type)
{
    size_t n = strlen(content_type);
    char *copy = mem_arena_alloc(req->http.arena, n + 1);
    if (!copy)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)content_type[i] < 0x20)
            return -EINVAL;
    memcpy(copy, content_type, n + 1);
    req->http.content_type = copy;
    return 0;
}

CREST_API int crest_res_body(struct crest_req *req, const char *content_type, const void *body,
                             size_t len)
{
    int err = set_content_type(req, content_type);
    if (err)
        return err;
    req->json = NULL;
    req->http.res_body->len = 0;
    return mem_buf_append(req->http.res_body, MEM_OUT, body, len);
}

CREST_API struct crest_json *crest_res_json(struct crest_req *req, int status)
{
    crest_res_status(req, status);
    req->http.content_type = "application/json";
    req->http.res_body->len = 0;
    if (!req->json) {
        req->json = mem_arena_alloc(req->http.arena, sizeof(*req->json));
        if (!req->json)
            return NULL;
    }
    json_write_bind(req->json, req->http.res_body, MEM_OUT);
    return req->json;
}

CREST_API int crest_res_stream(struct crest_req *req, const char *content_type,
                               crest_stream_fn produce, crest_stream_done_fn done, void *ud)
{
    int err;

    if (!produce)
        return -EINVAL;
    err = set_content_type(req, content_type ? content_type : "application/octet-stream");
    if (err)
        return err;
    req->json = NULL; /* a body written before is not sent */
    req->http.res_body->len = 0;
    return http_stream_begin(&req->http, produce, done, ud);
}

CREST_API int crest_res_error(struct crest_req *req, int status, const char *detail)
{
    struct crest_json *j = crest_res_json(req, status);
    if (!j)
        return -ENOMEM;
    crest_json_object_begin(j);
    crest_json_key(j, "detail");
    crest_json_string(j, detail);
    crest_json_object_end(j);
    return crest_json_error(j);
}

static void answer(struct crest_req *req, int status, const char *detail)
{
    if (crest_res_error(req, status, detail) != 0) {
        req->http.status = 503;
        req->http.close =
            true; /* the body could not be written: do not leave the client guessing */
    }
}

void req_response_check_body(struct crest_req *req)
{
    int err = req->json ? crest_json_error(req->json) : 0;
    if (!err)
        return;
    /* a JSON body the writer gave up on is not valid JSON: never send it */
    req->http.res_headers->len = 0;
    req->json = NULL;
    if (err == -ENOMEM)
        req_response_oom(req);
    else
        answer(req, 500, "Internal Server Error");
}

void req_response_oom(struct crest_req *req)
{
    req->http.res_headers->len = 0;
    req->json = NULL;
    req->http.close = true; /* shed: the client retries later, on a new connection */
    obs_shed(req->http.worker->stats);
    if (crest_res_error(req, 503, http_oom_detail()) != 0 ||
        crest_res_header(req, "Retry-After", "1") != 0)
        req->http.status = 503; /* the status line at least */
}
