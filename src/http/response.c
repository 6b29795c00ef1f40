/* http/response.c: status lines come from a table of literals and the Date header from a
 * per-thread cache, so a typical response is a handful of memcpys. */
#include "http/response.h"

#include "http/date.h"
#include "http/status.h"

#include <errno.h>
#include <string.h>

static _Thread_local struct http_date date_cache;

const char *http_response_date(time_t now)
{
    http_date_update(&date_cache, now);
    return date_cache.text;
}

#define APPEND_LIT(out, lit) mem_buf_append(out, MEM_OUT, lit, sizeof(lit) - 1)

int http_response_status_line(struct mem_buf *out, unsigned status)
{
    switch (status) {
#define STATUS_LINE_CASE(code, reason) \
    case code:                         \
        return APPEND_LIT(out, "HTTP/1.1 " #code " " reason "\r\n");
        HTTP_STATUS_MAP(STATUS_LINE_CASE)
#undef STATUS_LINE_CASE
    default: {
        char line[64];
        uint32_t n = http_status_line(status, line);
        return mem_buf_append(out, MEM_OUT, line, n);
    }
    }
}

/* Status line, crest's headers, the handler's, the framing and Connection; the blank line. */
int http_response_head(struct mem_buf *out, const struct http_request *req, time_t now,
                       enum http_framing framing, uint64_t length)
{
    bool no_body = http_status_has_no_body(req->status);
    int err = 0;

    err |= http_response_status_line(out, req->status);
    err |= APPEND_LIT(out, "Server: crest\r\nDate: ");
    err |= mem_buf_append(out, MEM_OUT, http_response_date(now), HTTP_DATE_LEN);
    if (req->content_type && !no_body) {
        err |= APPEND_LIT(out, "\r\nContent-Type: ");
        err |= mem_buf_append(out, MEM_OUT, req->content_type, strlen(req->content_type));
    }
    if (!no_body && framing == HTTP_FRAMING_LENGTH) {
        err |= APPEND_LIT(out, "\r\nContent-Length: ");
        err |= mem_buf_append_u64(out, MEM_OUT, length);
    } else if (!no_body && framing == HTTP_FRAMING_CHUNKED) {
        err |= APPEND_LIT(out, "\r\nTransfer-Encoding: chunked");
    }
    err |= APPEND_LIT(out, "\r\n");
    if (req->res_headers->len)
        err |= mem_buf_append(out, MEM_OUT, req->res_headers->ptr, req->res_headers->len);
    if (req->close)
        err |= APPEND_LIT(out, "Connection: close\r\n");
    else if (req->keep_alive_10)
        err |= APPEND_LIT(out, "Connection: keep-alive\r\n");
    err |= APPEND_LIT(out, "\r\n");
    return err ? -ENOMEM : 0;
}

int http_response_render(struct mem_buf *out, const struct http_request *req, time_t now)
{
    const struct mem_buf *body = req->res_body;
    int err = http_response_head(out, req, now, HTTP_FRAMING_LENGTH, body->len);

    if (!err && !http_status_has_no_body(req->status) && !req->head_only && body->len)
        err = mem_buf_append(out, MEM_OUT, body->ptr, body->len);
    return err ? -ENOMEM : 0;
}
