/* http/upload.h: a request body taken as a stream (crest_req_body_read): the session reads it
 * through the connection's read buffer and hands each piece to the application's consumer, which
 * may pause the reading. What a consumer is, and the calls that drive it; the reading itself
 * (framing, limits, back-pressure) is the session's (http/session.c). */
#ifndef CREST_HTTP_UPLOAD_H
#define CREST_HTTP_UPLOAD_H

#include "crest.h"

#include <stdbool.h>
#include <stdint.h>

struct http_request;

struct http_upload {
    crest_body_data_fn data;
    crest_body_end_fn end;
    void *ud;
    bool feeding; /* inside data: a resume only marks `kicked` */
    bool paused;  /* data said PAUSE: the session reads nothing until resumed */
    bool kicked;  /* resumed while data ran: its PAUSE is ignored */
    bool stopped; /* data said STOP (or the response was finished inside it) */
    bool over;    /* end was called */
};

/* Hangs a consumer on req (allocated in its arena). 0, -EINVAL, -ENOMEM. */
int http_upload_begin(struct http_request *req, crest_body_data_fn data, crest_body_end_fn end,
                      void *ud);

/* Hands len > 0 body bytes to the consumer; afterwards up->paused or up->stopped say what it
 * wants. A crest_req_finish inside only marks the request finished. */
void http_upload_data(struct http_upload *up, struct http_request *req, const char *data,
                      uint32_t len);

/* The body is over: end(req, status) runs once (0: whole; a negative errno: see crest.h). */
void http_upload_over(struct http_upload *up, struct http_request *req, int status);

#endif
