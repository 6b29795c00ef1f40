/* http/stream.c: streamed response bodies (crest_res_stream, crest_stream_*). The producer is
 * pulled, never pushed: the session calls it only while fewer than a window of bytes wait to be
 * written, so a slow reader holds the producer back instead of growing a buffer, and a stream
 * costs its connection at most that window. Each write becomes one chunk (RFC 9112 7.1); the
 * last-chunk is appended only when the producer says the body is complete, so a stream that fails
 * midway is cut and can never be taken for a whole body. */
#include "http/stream.h"

#include "http/request.h"
#include "http/response.h"
#include "net/worker.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int http_stream_begin(struct http_request *req, crest_stream_fn produce, crest_stream_done_fn done,
                      void *ud)
{
    struct crest_stream *st = mem_arena_alloc(req->arena, sizeof(*st));
    if (!st)
        return -ENOMEM;
    *st = (struct crest_stream){.req = req, .produce = produce, .done = done, .ud = ud};
    req->stream = st;
    return 0;
}

int http_stream_head(struct mem_buf *out, struct http_request *req, time_t now)
{
    struct crest_stream *st = req->stream;

    st->chunked = req->parser->version_minor >= 1;
    if (!st->chunked)
        req->close = true; /* HTTP/1.0 has no chunks: the close ends the body */
    return http_response_head(out, req, now,
                              st->chunked ? HTTP_FRAMING_CHUNKED : HTTP_FRAMING_CLOSE, 0);
}

enum http_stream_step http_stream_pump(struct crest_stream *st, struct mem_buf *out,
                                       uint32_t written, uint32_t window)
{
    if (st->waiting)
        return HTTP_STREAM_WAIT;
    st->out = out;
    st->written = written;
    st->window = window;
    while (out->len - written < window) {
        uint64_t sent = st->sent;
        st->producing = true;
        st->kicked = false;
        enum crest_stream_next next = st->produce(st, st->ud);
        st->producing = false;
        if (st->write_failed || next == CREST_STREAM_FAIL)
            return HTTP_STREAM_CUT;
        if (next == CREST_STREAM_END) {
            if (st->chunked && mem_buf_append(out, MEM_OUT, "0\r\n\r\n", 5) != 0)
                return HTTP_STREAM_CUT;
            return HTTP_STREAM_END;
        }
        if (next == CREST_STREAM_WAIT && st->kicked)
            continue; /* resumed before it even returned */
        if (next == CREST_STREAM_MORE && st->sent == sent && out->len > written)
            return HTTP_STREAM_MORE; /* too little room for its next piece: drain, then again */
        if (next == CREST_STREAM_WAIT || st->sent == sent) {
            st->waiting = true; /* MORE that wrote nothing, nothing pending: wait, not spin */
            return HTTP_STREAM_WAIT;
        }
    }
    return HTTP_STREAM_MORE;
}

void http_stream_over(struct crest_stream *st, int status)
{
    if (st->over)
        return;
    st->over = true;
    if (st->done)
        st->done(st->ud, status);
}

CREST_API int crest_stream_write(struct crest_stream *st, const void *data, size_t len)
{
    char size[24];
    int n, err = 0;

    if (!st->producing || st->write_failed)
        return -EINVAL; /* only from inside produce: there the connection has room */
    if (len == 0)
        return 0; /* an empty chunk would be the last-chunk */
    if (st->chunked) {
        n = snprintf(size, sizeof(size), "%zx\r\n", len);
        err |= mem_buf_append(st->out, MEM_OUT, size, (size_t)n);
    }
    err |= mem_buf_append(st->out, MEM_OUT, data, len);
    if (st->chunked)
        err |= mem_buf_append(st->out, MEM_OUT, "\r\n", 2);
    if (err) {
        st->write_failed = true; /* the stream is cut whatever the producer answers */
        return -ENOMEM;
    }
    st->sent += len;
    return 0;
}

CREST_API size_t crest_stream_room(const struct crest_stream *st)
{
    uint32_t pending = st->producing ? st->out->len - st->written : st->window;
    return pending < st->window ? st->window - pending : 0; /* shrinks with every write */
}

CREST_API void crest_stream_resume(struct crest_stream *st)
{
    if (st->over)
        return;
    if (st->producing) {
        st->kicked = true;
        return;
    }
    if (!st->waiting)
        return;
    st->waiting = false;
    net_conn_resume(st->req->worker, st->req->conn);
}

CREST_API struct crest_req *crest_stream_req(struct crest_stream *st)
{
    return (struct crest_req *)st->req; /* crest_req embeds the http request first */
}
