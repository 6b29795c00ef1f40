/* http/upload.c: the consumer of a streamed request body (crest_req_body_read and
 * crest_req_body_resume): what the session calls to hand it bytes and to end it, and how it asks
 * for a pause. The session (http/session.c) owns the reading; this file owns the promises made to
 * the application: data only with bytes, end exactly once, a finish inside either deferred. */
#include "http/upload.h"

#include "http/request.h"
#include "mem/arena.h"
#include "net/worker.h"

#include <errno.h>

int http_upload_begin(struct http_request *req, crest_body_data_fn data, crest_body_end_fn end,
                      void *ud)
{
    if (!req->body_streamed || req->upload || !end)
        return -EINVAL; /* a buffered body is read already: crest_req_body has it */
    struct http_upload *up = mem_arena_alloc(req->arena, sizeof(*up));
    if (!up)
        return -ENOMEM;
    *up = (struct http_upload){.data = data, .end = end, .ud = ud};
    req->upload = up;
    return 0;
}

void http_upload_data(struct http_upload *up, struct http_request *req, const char *data,
                      uint32_t len)
{
    bool was = req->in_handler;

    req->body_received += len;
    if (!up->data)
        return; /* a consumer that only waits for the end */
    up->feeding = true;
    up->kicked = false;
    req->in_handler = true; /* a crest_req_finish inside only marks the request finished */
    enum crest_body_next next = up->data((struct crest_req *)req, data, len, up->ud);
    req->in_handler = was;
    up->feeding = false;
    if (next == CREST_BODY_STOP || req->finished)
        up->stopped = true;
    else if (next == CREST_BODY_PAUSE && !up->kicked)
        up->paused = true;
}

void http_upload_over(struct http_upload *up, struct http_request *req, int status)
{
    bool was = req->in_handler;

    if (up->over)
        return;
    up->over = true;
    req->in_handler = true;
    up->end((struct crest_req *)req, status, up->ud);
    req->in_handler = was;
}

CREST_API int crest_req_body_read(struct crest_req *req, crest_body_data_fn data,
                                  crest_body_end_fn end, void *ud)
{
    return http_upload_begin((struct http_request *)req, data, end, ud);
}

CREST_API void crest_req_body_resume(struct crest_req *req)
{
    struct http_request *hreq = (struct http_request *)req; /* crest_req embeds it first */
    struct http_upload *up = hreq->upload;

    if (!up || up->over)
        return;
    if (up->feeding) {
        up->kicked = true;
        return;
    }
    if (!up->paused)
        return;
    up->paused = false;
    net_conn_resume(hreq->worker, hreq->conn);
}

CREST_API uint64_t crest_req_body_received(const struct crest_req *req)
{
    return ((const struct http_request *)req)->body_received;
}
