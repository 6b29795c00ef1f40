/* http/response.h: serialises a response (status line, crest's headers, the handler's headers,
 * body) into a connection's output buffer. */
#ifndef CREST_HTTP_RESPONSE_H
#define CREST_HTTP_RESPONSE_H

#include "http/request.h"

/* The Date header value for this thread, re-rendered at most once a second. */
const char *http_response_date(time_t now);

/* Appends req's response to out. 0, -ENOMEM. */
int http_response_render(struct mem_buf *out, const struct http_request *req, time_t now);

/* Appends "HTTP/1.1 <status> <reason>\r\n". */
int http_response_status_line(struct mem_buf *out, unsigned status);

#endif
