/* http/stream.h: a response whose body the application produces in pieces (crest_res_stream),
 * pulled by the session only when the connection's output has room: chunked transfer-coding for
 * HTTP/1.1 (RFC 9112 7.1), a body delimited by the connection's close for HTTP/1.0 (RFC 9112 6.3
 * item 8). The window of bytes waiting to be written is the only memory a stream holds. */
#ifndef CREST_HTTP_STREAM_H
#define CREST_HTTP_STREAM_H

#include "crest.h"
#include "mem/buf.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct http_request;

struct crest_stream {
    struct http_request *req;
    struct mem_buf *out; /* the connection's output, while the producer runs */
    crest_stream_fn produce;
    crest_stream_done_fn done;
    void *ud;
    uint64_t sent;     /* body bytes the application wrote */
    uint32_t written;  /* bytes at the front of out already written, as of this pump */
    uint32_t window;   /* output bytes waiting to be written past which produce is not called */
    bool chunked;      /* HTTP/1.1: chunked framing; HTTP/1.0: the close ends the body */
    bool producing;    /* inside produce: the only time writes are taken */
    bool waiting;      /* produce said WAIT: called again after crest_stream_resume */
    bool kicked;       /* crest_stream_resume came while producing */
    bool write_failed; /* a write found no memory: the stream is cut */
    bool over;         /* done was called */
};

/* What the session does next with a stream. */
enum http_stream_step {
    HTTP_STREAM_MORE, /* the window is full: write it out, then pump again */
    HTTP_STREAM_WAIT, /* the producer waits for an event: crest_stream_resume wakes the connection
                       */
    HTTP_STREAM_END,  /* the body is complete (its last chunk appended): the response is done */
    HTTP_STREAM_CUT,  /* the producer failed: close without ending the body, so it reads as cut */
};

/* Allocates the stream in the request's arena and hangs it on req. 0, -ENOMEM. */
int http_stream_begin(struct http_request *req, crest_stream_fn produce, crest_stream_done_fn done,
                      void *ud);

/* The response head of a stream: status line, crest's headers and the handler's, then
 * Transfer-Encoding: chunked, or Connection: close for an HTTP/1.0 client. 0, -ENOMEM. */
int http_stream_head(struct mem_buf *out, struct http_request *req, time_t now);

/* Calls the producer while out holds fewer than window bytes not yet written (the first
 * `written` bytes of out are written already). */
enum http_stream_step http_stream_pump(struct crest_stream *st, struct mem_buf *out,
                                       uint32_t written, uint32_t window);

/* The stream is over: done(ud, status) runs once (0: complete; -ECONNRESET: cut). */
void http_stream_over(struct crest_stream *st, int status);

#endif
