/* http/response.h: serialises a response (status line, crest's headers, the handler's headers,
 * body) into a connection's output buffer. */
#ifndef CREST_HTTP_RESPONSE_H
#define CREST_HTTP_RESPONSE_H

#include "http/request.h"

/* The Date header value for this thread, re-rendered at most once a second. */
const char *http_response_date(time_t now);

/* How a response's body is delimited (RFC 9112 6). */
enum http_framing {
    HTTP_FRAMING_LENGTH,  /* Content-Length */
    HTTP_FRAMING_CHUNKED, /* Transfer-Encoding: chunked (HTTP/1.1 streams) */
    HTTP_FRAMING_CLOSE,   /* the connection's close (HTTP/1.0 streams) */
};

/* Appends the head of req's response (up to and including the blank line), its body delimited as
 * framing says (length: the body's size, for HTTP_FRAMING_LENGTH). 0, -ENOMEM. */
int http_response_head(struct mem_buf *out, const struct http_request *req, time_t now,
                       enum http_framing framing, uint64_t length);

/* Appends req's response to out. 0, -ENOMEM. */
int http_response_render(struct mem_buf *out, const struct http_request *req, time_t now);

/* Appends "HTTP/1.1 <status> <reason>\r\n". */
int http_response_status_line(struct mem_buf *out, unsigned status);

#endif
