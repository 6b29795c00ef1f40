/* http/session.c: HTTP/1.1 on one connection, between net (bytes in, bytes out) and the
 * application (one request at a time). Requests are parsed in place in the read buffer, pipelined
 * ones answered in order, their responses appended to one output buffer that net writes once.
 * The session lives in the connection's pooled io block, so an idle connection keeps none of it;
 * its response buffers stay with the block and are reused, so steady load allocates nothing. */
#include "http/server.h"

#include "http/chunked.h"
#include "http/response.h"
#include "http/status.h"
#include "http/stream.h"
#include "http/tunnel.h"
#include "http/upload.h"
#include "mem/mem.h"
#include "net/peer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum {
    ARENA_FIRST_BYTES = 1024,
    OUT_HIGH_WATER = 64 << 10, /* stop answering pipelined requests until this much is written */
    KEEP_BUF_BYTES = 64 << 10, /* per-session buffers larger than this are freed, not kept */
};

enum session_phase {
    PHASE_HEAD,
    PHASE_BODY,
    PHASE_HANDLER,
    PHASE_STREAM, /* the head is out; the body is pulled from the application's producer */
    PHASE_UPLOAD, /* the handler waits for a streamed request body, handed to it as it arrives */
};

struct http_session {
    struct http_parser parser;
    struct http_chunked chunked;
    struct mem_buf body;        /* MEM_BODY: a body too large to stay in place, or chunked */
    struct mem_buf res_headers; /* MEM_OUT */
    struct mem_buf res_body;    /* MEM_OUT */
    struct mem_arena arena;
    uint8_t phase;
    bool body_moved; /* the body is gathered in `body`; the read buffer keeps only the head */
    bool closing;    /* the last response said Connection: close */
    struct net_tunnel *taken; /* the head is out: the connection goes to this tunnel (ws, sse) */
    bool body_streamed;       /* the body goes to the application's consumer (http/upload.h) */
    bool body_done;           /* a streamed body was read to its end, or is empty */
    bool continued;           /* a streamed body's 100 Continue was decided */
    bool timed_out;           /* a streamed body stalled past the body timeout */
    uint64_t body_limit;      /* the route's limit on this request's body, else the server's */
    uint8_t peer_len;         /* peer's length once read (http_request_peer); 0: not yet */
    char peer[NET_PEER_NAME_LEN];
    _Alignas(16) char arena_first[ARENA_FIRST_BYTES];
    /* then the application's request (request_size bytes), then the header array */
};

static size_t align16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

static struct http_session *session_of(struct net_conn *c)
{
    return net_io_session(c->io);
}

static struct http_request *request_of(struct http_session *s)
{
    return (struct http_request *)((char *)s + align16(sizeof(*s)));
}

static struct http_header *headers_of(const struct http_server *srv, struct http_session *s)
{
    return (struct http_header *)((char *)request_of(s) + align16(srv->request_size));
}

/* ---- errors crest answers itself ---- */

int http_append_error(struct mem_buf *out, unsigned status, const char *detail, bool close,
                      const char *extra_headers)
{
    struct mem_buf body = {0};
    struct mem_buf hdrs = {0};
    struct http_request req = {0};
    int err = 0;

    err |= mem_buf_append(&body, MEM_OUT, "{\"detail\":\"", 11);
    for (const char *p = detail; *p; p++) { /* details are crest's own ASCII text */
        if (*p == '"' || *p == '\\')
            err |= mem_buf_append(&body, MEM_OUT, "\\", 1);
        err |= mem_buf_append(&body, MEM_OUT, p, 1);
    }
    err |= mem_buf_append(&body, MEM_OUT, "\"}", 2);
    if (extra_headers)
        err |= mem_buf_append(&hdrs, MEM_OUT, extra_headers, strlen(extra_headers));
    req.status = (uint16_t)status;
    req.close = close;
    req.content_type = "application/json";
    req.res_body = &body;
    req.res_headers = &hdrs;
    if (!err)
        err = http_response_render(out, &req, time(NULL));
    mem_buf_fini(&body, MEM_OUT);
    mem_buf_fini(&hdrs, MEM_OUT);
    return err ? -ENOMEM : 0;
}

static enum net_verdict fail_and_close(struct http_session *s, struct net_io *io, unsigned status,
                                       const char *detail)
{
    s->closing = true;
    (void)http_append_error(&io->out, status, detail, true, NULL); /* no memory: just close */
    return NET_CLOSE;
}

/* Memory refused (the budget, or malloc): 503 with Retry-After, close, count it as shed. */
static enum net_verdict shed(struct http_session *s, struct net_worker *w, struct net_io *io)
{
    s->closing = true;
    obs_shed(w->stats);
    (void)http_append_error(&io->out, 503, http_oom_detail(), true, "Retry-After: 1\r\n");
    return NET_CLOSE;
}

const char *http_oom_detail(void)
{
    return mem_refused_by_budget() || mem_budget_limit() ? "Server over memory budget"
                                                         : "Service Unavailable";
}

/* ---- the session's life in an io block ---- */

static void session_start(void *ctx, struct net_worker *w, struct net_conn *c)
{
    const struct http_server *srv = ctx;
    struct http_session *s = session_of(c);
    (void)w;

    http_parser_init(&s->parser, headers_of(srv, s), srv->max_headers, srv->max_head_bytes);
    memset(&s->chunked, 0, sizeof(s->chunked));
    mem_arena_init(&s->arena, s->arena_first, sizeof(s->arena_first));
    s->phase = PHASE_HEAD;
    s->body_moved = false;
    s->closing = false;
    s->taken = NULL;
    s->body_streamed = s->body_done = s->continued = s->timed_out = false;
    s->peer_len = 0;
}

static void stop_timers(struct http_request *req)
{
    for (struct http_timer *t = req->timers; t; t = t->next)
        net_timer_stop(&req->worker->loop, &t->timer);
    req->timers = NULL;
}

static void trim(struct mem_buf *b, enum mem_tag tag)
{
    b->len = 0;
    if (b->cap > KEEP_BUF_BYTES)
        mem_buf_fini(b, tag);
}

/* Forgets the current request, keeping reusable buffers. */
static void request_reset(struct http_session *s)
{
    struct http_request *req = request_of(s);
    if (req->has_file) { /* a file never handed to net: the connection ended first */
        close(req->file_fd);
        req->has_file = false;
    }
    http_parser_reset(&s->parser);
    memset(&s->chunked, 0, sizeof(s->chunked));
    mem_arena_reset(&s->arena);
    trim(&s->body, MEM_BODY);
    trim(&s->res_headers, MEM_OUT);
    trim(&s->res_body, MEM_OUT);
    s->phase = PHASE_HEAD;
    s->body_moved = false;
    s->body_streamed = s->body_done = s->continued = s->timed_out = false;
}

static void session_stop(void *ctx, struct net_worker *w, struct net_conn *c)
{
    struct http_session *s = session_of(c);
    (void)ctx;
    struct http_request *req = request_of(s);
    if (s->phase == PHASE_HANDLER)
        stop_timers(req);           /* forced close of a pending request at shutdown */
    if (s->phase == PHASE_STREAM) { /* the client went away, or stopped reading, mid-stream */
        stop_timers(req);
        obs_in_flight(w->stats, -1);
        http_stream_over(req->stream, -ECONNRESET);
    }
    if (s->phase == PHASE_UPLOAD) { /* the client went, stalled, or the server stops */
        stop_timers(req);
        obs_in_flight(w->stats, -1);
        http_upload_over(req->upload, req, s->timed_out ? -ETIMEDOUT : -ECONNRESET);
    }
    request_reset(s);
    mem_buf_fini(&s->body, MEM_BODY);
    if (s->taken) { /* closed before the tunnel could take over */
        struct net_tunnel *t = s->taken;
        s->taken = NULL;
        t->ops->close(t, w, c);
    }
}

/* NET_TAKEN: the tunnel gets what the session had not consumed or written. */
static struct net_tunnel *session_take(void *ctx, struct net_worker *w, struct net_conn *c)
{
    struct http_session *s = session_of(c);
    struct net_io *io = c->io;
    struct net_tunnel *t = s->taken;
    (void)ctx;

    s->taken = NULL;
    if (http_tunnel_adopt((struct http_tunnel *)t, w, c, io->in + io->in_off,
                          io->in_len - io->in_off) != 0) {
        t->ops->close(t, w, c);
        return NULL;
    }
    io->in_off = io->in_len;
    return t;
}

static void session_fini(void *ctx, struct net_io *io)
{
    struct http_session *s = net_io_session(io);
    (void)ctx;
    mem_buf_fini(&s->body, MEM_BODY);
    mem_buf_fini(&s->res_headers, MEM_OUT);
    mem_buf_fini(&s->res_body, MEM_OUT);
}

static void on_timeout(void *ctx, struct net_worker *w, struct net_conn *c)
{
    (void)ctx;
    (void)w;
    /* a pending handler answers for itself; a stream's head is out: a 408 now would corrupt it */
    if (c->io && session_of(c)->phase != PHASE_HANDLER && session_of(c)->phase != PHASE_STREAM) {
        session_of(c)->timed_out = true;
        fail_and_close(session_of(c), c->io, 408, "Request Timeout");
    }
}

/* ---- bodies ---- */

/* Removes n bytes at `at` from the read buffer, keeping what follows (pipelined requests). */
static void cut_input(struct net_io *io, char *at, uint32_t n)
{
    char *end = io->in + io->in_len;
    memmove(at, at + n, (size_t)(end - at - n));
    io->in_len -= n;
}

static void request_prepare(const struct http_server *srv, struct http_session *s,
                            struct net_worker *w, struct net_conn *c);

/* Moves the request to the front of the read buffer, so that reads of its body never move its
 * head again (net compacts the buffer only when bytes before in_off were consumed): the request's
 * slices point into it from now on. */
static void head_to_front(struct net_io *io)
{
    io->in_len -= io->in_off;
    memmove(io->in, io->in + io->in_off, io->in_len);
    io->in_off = 0;
}

/* A streamed body: nothing is read until the handler names its consumer (dispatch runs at once). */
static enum net_verdict begin_stream(struct http_session *s)
{
    const struct http_parser *p = &s->parser;

    s->body_streamed = s->body_moved = true; /* the read buffer keeps only the head */
    s->body_done = !p->chunked && (!p->has_content_length || p->content_length == 0);
    s->phase = PHASE_BODY;
    return NET_WANT_BODY;
}

/* RFC 9112 6.3: the body's length comes from Transfer-Encoding: chunked, else Content-Length, else
 * it is empty. The request is prepared now, and the application says from its route how the body
 * is read (srv->plan): whole (a body that would not fit the read buffer is gathered into s->body)
 * or streamed to the handler, each up to a limit. */
static enum net_verdict begin_body(const struct http_server *srv, struct http_session *s,
                                   struct net_worker *w, struct net_conn *c)
{
    struct net_io *io = c->io;
    const struct http_parser *p = &s->parser;
    uint32_t avail = io->in_len - io->in_off;
    struct http_body_plan plan = {.limit = srv->max_body_bytes};

    if (io->in_off &&
        (p->chunked || (p->has_content_length && avail - p->head_len < p->content_length)))
        head_to_front(io);
    request_prepare(srv, s, w, c);
    if (srv->plan)
        srv->plan(srv->app, request_of(s), &plan);
    s->body_limit = plan.limit;
    if (p->has_content_length && p->content_length > plan.limit)
        return fail_and_close(s, io, 413, "Request body too large");
    if (plan.stream)
        return begin_stream(s);
    /* refuse early: a body the budget cannot hold is turned away before a byte is buffered */
    if (p->has_content_length && (int64_t)p->content_length > mem_budget_room())
        return shed(s, w, io);
    if (p->chunked) {
        s->body_moved = true;
    } else if (p->has_content_length && p->head_len + p->content_length > io->in_cap) {
        s->body_moved = true;
        if (mem_buf_reserve(&s->body, MEM_BODY, p->content_length) != 0)
            return shed(s, w, io);
    }
    /* RFC 9110 10.1.1: answer 100 only when the client waits for it, before any body byte */
    if (p->expect_continue && p->version_minor >= 1 && avail == p->head_len) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (mem_buf_append(&io->out, MEM_OUT, cont, sizeof(cont) - 1) != 0)
            return shed(s, w, io);
    }
    s->phase = PHASE_BODY;
    return NET_WANT_BODY;
}

static enum net_verdict read_chunked(struct http_session *s, struct net_worker *w,
                                     struct net_io *io)
{
    char *data = io->in + io->in_off + s->parser.head_len;
    uint32_t len = io->in_len - io->in_off - s->parser.head_len, consumed;
    enum http_chunked_status st = http_chunked_decode(&s->chunked, data, &len, &consumed);

    if (st == HTTP_CHUNKED_ERROR)
        return fail_and_close(s, io, 400, "Invalid chunked body");
    if ((uint64_t)s->body.len + len > s->body_limit)
        return fail_and_close(s, io, 413, "Request body too large");
    if (mem_buf_append(&s->body, MEM_BODY, data, len) != 0)
        return shed(s, w, io);
    cut_input(io, data, consumed);
    return st == HTTP_CHUNKED_DONE ? NET_WANT_REQUEST : NET_WANT_BODY;
}

/* NET_WANT_REQUEST when the body is complete, NET_WANT_BODY for more, NET_CLOSE on error. */
static enum net_verdict read_body(struct http_session *s, struct net_worker *w, struct net_io *io)
{
    const struct http_parser *p = &s->parser;
    uint32_t after_head = io->in_len - io->in_off - p->head_len;

    if (s->body_streamed)
        return NET_WANT_REQUEST; /* the handler runs first; its consumer takes the body */
    if (p->chunked)
        return read_chunked(s, w, io);
    if (!p->has_content_length)
        return NET_WANT_REQUEST;
    if (!s->body_moved)
        return after_head >= p->content_length ? NET_WANT_REQUEST : NET_WANT_BODY;
    uint32_t missing = (uint32_t)p->content_length - s->body.len;
    uint32_t take = after_head < missing ? after_head : missing;
    char *data = io->in + io->in_off + p->head_len;
    if (mem_buf_append(&s->body, MEM_BODY, data, take) != 0)
        return shed(s, w, io);
    cut_input(io, data, take);
    return s->body.len == p->content_length ? NET_WANT_REQUEST : NET_WANT_BODY;
}

/* ---- requests ---- */

/* Splits the target into path and query; an absolute-form target's scheme and authority go. */
static void split_target(struct http_request *req)
{
    const char *t = req->target.ptr, *end = t + req->target.len;

    if (*t != '/' && *t != '*') {
        /* the buffer is not NUL-terminated: the search must stop at the target's end */
        const char *authority = memmem(t, req->target.len, "://", 3);
        const char *path =
            authority ? memchr(authority + 3, '/', (size_t)(end - authority - 3)) : NULL;
        if (!path) {
            req->path = (struct crest_str){"/", 1};
            const char *q = memchr(t, '?', req->target.len);
            req->query =
                q ? (struct crest_str){q + 1, (size_t)(end - q - 1)} : (struct crest_str){NULL, 0};
            return;
        }
        t = path;
    }
    const char *q = memchr(t, '?', (size_t)(end - t));
    req->path = (struct crest_str){t, (size_t)((q ? q : end) - t)};
    req->query = q ? (struct crest_str){q + 1, (size_t)(end - q - 1)} : (struct crest_str){NULL, 0};
}

/* The request as its head says (the body is set by dispatch, once read). */
static void request_prepare(const struct http_server *srv, struct http_session *s,
                            struct net_worker *w, struct net_conn *c)
{
    const struct http_parser *p = &s->parser;
    struct http_request *req = request_of(s);
    const char *start = c->io->in + c->io->in_off;

    memset(req, 0, srv->request_size);
    req->worker = w;
    req->conn = c;
    req->buf = start;
    req->parser = p;
    req->method = p->method;
    req->head_only = p->method == CREST_METHOD_HEAD;
    req->close = !p->keep_alive || net_worker_draining(w);
    req->keep_alive_10 = p->version_minor == 0 && !req->close;
    req->status = 200;
    req->target = (struct crest_str){start + p->target_off, p->target_len};
    split_target(req);
    req->arena = &s->arena;
    req->res_headers = &s->res_headers;
    req->res_body = &s->res_body;
}

/* A file body: the head into the output, then the file itself, which net sends with sendfile
 * once the head is written (no copy of it ever passes through a buffer of ours). */
static void render_file(struct http_request *req, struct net_io *io, time_t now)
{
    bool body = !req->head_only && !http_status_has_no_body(req->status);

    uint32_t mark = io->out.len;
    req->has_file = false;
    if (http_response_head(&io->out, req, now, HTTP_FRAMING_LENGTH, req->file_len) != 0) {
        io->out.len = mark; /* no half of a head: the client sees the connection end */
        req->close = true;
        close(req->file_fd);
        return;
    }
    if (body)
        net_io_take_file(io, req->file_fd, req->file_off, req->file_len);
    else
        close(req->file_fd);
}

/* The head of a response whose connection a tunnel takes next (on_input says NET_TAKEN). */
/* The answer when even an error's few hundred bytes are refused: no body, no Date, in less room
 * than a 101's head took. */
static const char BARE_503[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                               "Retry-After: 1\r\nConnection: close\r\n\r\n";

static void hand_over(struct http_session *s, struct http_request *req, struct net_tunnel *t,
                      struct net_worker *w, struct net_conn *c)
{
    struct net_io *io = c->io;
    uint32_t mark = io->out.len;
    if (http_response_head(&io->out, req, w->loop.now_sec, req->tunnel_framing, 0) != 0 ||
        http_tunnel_queue_out((struct http_tunnel *)t, io->out.ptr + io->out_pos,
                              io->out.len - io->out_pos) != 0) {
        /* no memory for the head or for the tunnel to hold it: refused, as any request the
         * budget cannot hold, in the room the head had (nothing allocated for it) */
        uint32_t room = io->out.len; /* what the head took, when it was rendered */
        io->out.len = mark;
        req->close = true;
        t->ops->close(t, w, c);
        obs_shed(w->stats);
        if (http_append_error(&io->out, 503, http_oom_detail(), true, "Retry-After: 1\r\n") != 0 &&
            room - mark >= sizeof(BARE_503) - 1) { /* shorter than any head: it fits */
            memcpy(io->out.ptr + mark, BARE_503, sizeof(BARE_503) - 1);
            io->out.len = mark + (uint32_t)sizeof(BARE_503) - 1;
        }
        return;
    }
    io->out_pos = io->out.len; /* the tunnel writes it, first */
    s->taken = t;
}

/* The response is complete (rendered here unless it was a stream, whose head and body are out
 * already): consume the request's bytes, get ready for the next. */
static enum net_verdict request_complete(const struct http_server *srv, struct http_session *s,
                                         struct net_worker *w, struct net_conn *c)
{
    struct http_request *req = request_of(s);
    struct net_io *io = c->io;

    stop_timers(req);
    obs_in_flight(w->stats, -1);
    if (req->upload) /* answered before its body ended: the consumer hears so (if not yet over) */
        http_upload_over(req->upload, req, -ECANCELED);
    if (s->body_streamed && !s->body_done)
        req->close = true;            /* the rest of the body is never read (RFC 9112 9.6: close) */
    if (srv->respond && !req->stream) /* a stream's ran before its head */
        srv->respond(srv->app, req);
    if (srv->complete)
        srv->complete(srv->app, req, net_loop_clock_us(&w->loop) - req->start_us);
    uint32_t mark = io->out.len;
    struct net_tunnel *tunnel = req->tunnel;
    req->tunnel = NULL;
    if (req->stream)
        http_stream_over(req->stream, 0);
    else if (tunnel) /* a 101, or an event stream's head: the tunnel takes the connection next */
        hand_over(s, req, tunnel, w, c);
    else if (req->has_file)
        render_file(req, io, w->loop.now_sec);
    else if (http_response_render(&io->out, req, w->loop.now_sec) != 0) {
        io->out.len = mark; /* no half of a response: the client sees the connection end */
        req->close = true;
        obs_shed(w->stats); /* memory refused even the answer: shed */
    }
    io->in_off += s->parser.head_len + (s->body_moved ? 0 : (uint32_t)s->parser.content_length);
    c->n_requests++;
    s->closing = req->close;
    request_reset(s);
    if (s->taken)
        return NET_TAKEN; /* even with close: an HTTP/1.0 event stream ends with the connection */
    return s->closing ? NET_CLOSE : NET_WANT_REQUEST;
}

/* Pulls the stream's producer while the output has room. */
static enum net_verdict stream_pump(const struct http_server *srv, struct http_session *s,
                                    struct net_worker *w, struct net_conn *c)
{
    struct http_request *req = request_of(s);
    struct net_io *io = c->io;

    switch (http_stream_pump(req->stream, &io->out, io->out_pos, OUT_HIGH_WATER)) {
    case HTTP_STREAM_MORE:
        return NET_WANT_BODY; /* net writes the window out, then on_input pulls again */
    case HTTP_STREAM_WAIT:
        return NET_BUSY;
    case HTTP_STREAM_END:
        return request_complete(srv, s, w, c);
    default: /* cut: close with the body incomplete; session_stop tells the application */
        s->closing = true;
        return NET_CLOSE;
    }
}

/* A handler made its response a stream: the head goes out now, then on_input pulls the body
 * (PHASE_STREAM; NET_WANT_REQUEST here means "go on"). */
static enum net_verdict stream_start(const struct http_server *srv, struct http_session *s,
                                     struct net_worker *w, struct net_conn *c)
{
    struct http_request *req = request_of(s);

    if (srv->respond)
        srv->respond(srv->app, req);
    uint32_t mark = c->io->out.len;
    if (http_stream_head(&c->io->out, req, w->loop.now_sec) != 0) {
        c->io->out.len = mark; /* no half of a head: the client sees the connection end */
        s->closing = true;
        return NET_CLOSE;
    }
    if (req->head_only || http_status_has_no_body(req->status))
        return request_complete(srv, s, w, c); /* the producer is never called */
    s->phase = PHASE_STREAM;
    return NET_WANT_REQUEST;
}

/* The body as read: whole (in place, or gathered in s->body), or none for a streamed one. */
static void request_body(struct http_session *s, struct net_io *io, struct http_request *req)
{
    const struct http_parser *p = &s->parser;

    req->body_streamed = s->body_streamed;
    if (s->body_streamed)
        return;
    if (s->body_moved)
        req->body = (struct crest_str){s->body.ptr ? s->body.ptr : "", s->body.len};
    else if (p->has_content_length)
        req->body =
            (struct crest_str){io->in + io->in_off + p->head_len, (size_t)p->content_length};
}

/* A streamed body could not be read on (too large, bad framing): the consumer is told, crest
 * answers and closes; session_stop releases the request. */
static enum net_verdict upload_fail(struct http_session *s, struct net_io *io, unsigned status,
                                    const char *detail, int err)
{
    struct http_request *req = request_of(s);
    http_upload_over(req->upload, req, err);
    return fail_and_close(s, io, status, detail);
}

/* RFC 9110 10.1.1: 100 Continue only to a client that waits for it, only once the handler asked
 * for the body (a hook that refused it answered instead, and the body was never sent). */
static int upload_continue(struct http_session *s, struct net_io *io)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    const struct http_parser *p = &s->parser;

    if (s->continued)
        return 0;
    s->continued = true;
    if (!p->expect_continue || p->version_minor < 1 || s->body_done ||
        io->in_len - io->in_off != p->head_len)
        return 0;
    return mem_buf_append(&io->out, MEM_OUT, cont, sizeof(cont) - 1);
}

/* Reads what arrived of a streamed body into its consumer: de-chunked, counted against the
 * limit, cut from the read buffer as it is handed over, so the body costs one read buffer.
 * NET_WANT_BODY: wait for more input; NET_WANT_REQUEST: the body ended, was stopped, or paused. */
static enum net_verdict upload_read(struct http_session *s, struct net_io *io,
                                    struct http_request *req)
{
    const struct http_parser *p = &s->parser;
    struct http_upload *up = req->upload;

    while (!up->paused && !up->stopped && !s->body_done) {
        char *data = io->in + io->in_off + p->head_len;
        uint32_t avail = io->in_len - io->in_off - p->head_len, len = avail, used = avail;
        if (p->chunked) {
            enum http_chunked_status st = http_chunked_decode(&s->chunked, data, &len, &used);
            if (st == HTTP_CHUNKED_ERROR)
                return upload_fail(s, io, 400, "Invalid chunked body", -EBADMSG);
            s->body_done = st == HTTP_CHUNKED_DONE;
        } else {
            uint64_t left = p->content_length - req->body_received;
            if (len >= left) {
                len = used = (uint32_t)left;
                s->body_done = true;
            }
        }
        if (req->body_received + len > s->body_limit)
            return upload_fail(s, io, 413, "Request body too large", -EFBIG);
        if (len)
            http_upload_data(up, req, data, len);
        cut_input(io, data, used);
        if (used == avail && !s->body_done && !up->paused && !up->stopped)
            return NET_WANT_BODY;
    }
    return NET_WANT_REQUEST;
}

/* PHASE_UPLOAD: the body goes to the consumer; at its end (or a STOP) the handler answers. */
static enum net_verdict upload_pump(const struct http_server *srv, struct http_session *s,
                                    struct net_worker *w, struct net_conn *c)
{
    struct http_request *req = request_of(s);
    struct http_upload *up = req->upload;

    if (upload_continue(s, c->io) != 0)
        return shed(s, w, c->io);
    enum net_verdict v = upload_read(s, c->io, req);
    if (v != NET_WANT_REQUEST)
        return v;
    if (up->paused)
        return NET_BUSY; /* nothing is read until crest_req_body_resume */
    if (!up->stopped)    /* the body is whole */
        http_upload_over(up, req, 0);
    if (req->finished) { /* answered inside data or end */
        req->pending = false;
        return request_complete(srv, s, w, c);
    }
    s->phase = PHASE_HANDLER; /* its crest_req_finish completes it */
    return NET_BUSY;
}

static enum net_verdict dispatch(const struct http_server *srv, struct http_session *s,
                                 struct net_worker *w, struct net_conn *c)
{
    struct http_request *req = request_of(s);

    request_body(s, c->io, req);
    if (net_worker_draining(w)) { /* it may have begun while the body was read */
        req->close = true;
        req->keep_alive_10 = false;
    }
    req->start_us = w->loop.now_us;
    obs_in_flight(w->stats, 1);
    req->in_handler = true;
    srv->handle(srv->app, req);
    req->in_handler = false;
    if (req->pending && req->upload) {
        s->phase = PHASE_UPLOAD; /* on_input goes on with the body */
        return NET_WANT_REQUEST;
    }
    if (req->pending) {
        s->phase = PHASE_HANDLER;
        return NET_BUSY;
    }
    return req->stream ? stream_start(srv, s, w, c) : request_complete(srv, s, w, c);
}

static enum net_verdict on_input(void *ctx, struct net_worker *w, struct net_conn *c)
{
    const struct http_server *srv = ctx;
    struct http_session *s = session_of(c);
    struct net_io *io = c->io;
    enum net_verdict v;

    for (;;) {
        if (s->taken)
            return NET_TAKEN;
        if (s->closing)
            return NET_CLOSE;
        if (io->out.len - io->out_pos >= OUT_HIGH_WATER || io->file_open)
            return NET_WANT_HEAD; /* net writes (a file's bytes too), then calls again */
        switch (s->phase) {
        case PHASE_HEAD: {
            uint32_t avail = io->in_len - io->in_off;
            switch (http_parse_head(&s->parser, io->in + io->in_off, avail)) {
            case HTTP_PARSE_AGAIN:
                return avail ? NET_WANT_HEAD : NET_WANT_REQUEST;
            case HTTP_PARSE_ERROR:
                return fail_and_close(s, io, s->parser.status, s->parser.error);
            case HTTP_PARSE_DONE:
                break;
            }
            v = begin_body(srv, s, w, c);
            if (v == NET_CLOSE)
                return v;
            break;
        }
        case PHASE_BODY:
            v = read_body(s, w, io);
            if (v != NET_WANT_REQUEST)
                return v;
            v = dispatch(srv, s, w, c);
            if (v != NET_WANT_REQUEST)
                return v;
            break;
        case PHASE_STREAM:
            v = stream_pump(srv, s, w, c);
            if (v != NET_WANT_REQUEST)
                return v;
            break;
        case PHASE_UPLOAD:
            v = upload_pump(srv, s, w, c);
            if (v != NET_WANT_REQUEST)
                return v;
            break;
        default:
            return NET_BUSY;
        }
    }
}

struct crest_str http_request_peer(struct http_request *req)
{
    struct http_session *s = (struct http_session *)((char *)req - align16(sizeof(*s)));

    if (!s->peer_len) /* once per burst of requests on the connection, not per request */
        s->peer_len = (uint8_t)net_conn_peer_name(req->worker, req->conn, s->peer);
    return (struct crest_str){s->peer, s->peer_len};
}

void http_request_finish(struct http_request *req)
{
    struct net_conn *c = req->conn;

    if (req->in_handler) {
        req->finished = true; /* finished before the handler even returned */
        return;
    }
    if (!req->pending)
        return;
    req->pending = false;
    if (req->stream) /* the head goes out; on_input pulls the body from here on */
        (void)stream_start(req->worker->ctx, session_of(c), req->worker, c); /* closing kept */
    else
        (void)request_complete(req->worker->ctx, session_of(c), req->worker, c); /* closing kept */
    net_conn_resume(req->worker, c);
}

void http_request_upload(struct http_request *req)
{
    struct http_session *s = session_of(req->conn);

    if (s->phase != PHASE_HANDLER || !req->upload || req->upload->over)
        return;
    s->phase = PHASE_UPLOAD;
    net_conn_resume(req->worker, req->conn);
}

void http_server_init(struct http_server *srv)
{
    if (srv->request_size < sizeof(struct http_request))
        srv->request_size = sizeof(struct http_request);
    srv->ops.session_size = align16(sizeof(struct http_session)) + align16(srv->request_size) +
                            (size_t)srv->max_headers * sizeof(struct http_header);
    srv->ops.session_start = session_start;
    srv->ops.on_input = on_input;
    srv->ops.on_timeout = on_timeout;
    srv->ops.session_stop = session_stop;
    srv->ops.session_fini = session_fini;
    srv->ops.take = session_take;
    /* the read buffer holds a whole head plus room to stream a body through */
    srv->net.in_cap = srv->max_head_bytes + 4096;
}
