/* serve/testclient.c: FastAPI's TestClient for libcrest. The request bytes go through the same
 * session, parser, router and handlers as on a socket: the test client is a transport of its own
 * (memory: the peer is this very process) with a driver of its own, which feeds the bytes to a
 * worker that has no listener or thread and runs that worker's loop for pending handlers' timers.
 * Its worker state (the start hooks' data) lasts from the first request to crest_app_free, kept
 * as an app part. */
#include "app/app.h"
#include "http/server.h"
#include "mem/mem.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void serve_http_server(struct http_server *srv, struct crest_app *app,
                       const struct crest_config *cfg);

/* ---- the memory transport ---- */

static bool memory_from_loopback(const struct net_worker *w, const struct net_conn *c)
{
    (void)w;
    (void)c;
    return true; /* the caller is this very process */
}

static const struct net_transport memory_transport = {.from_loopback = memory_from_loopback};

/* ---- the test client's worker state, an app part ---- */

/* The worker start hooks run at the first request, once; their data serves every request after
 * and goes to the stop hooks when the app is freed (free runs in crest_app_free). */
struct test_part {
    struct app_part part; /* first: the app keeps it as a part (app/app.h) */
    struct crest_app *app;
    void *worker_data;
};

static void test_part_free(struct app_part *part)
{
    struct test_part *t = (struct test_part *)part;
    app_workers_stop(t->app, 1, &t->worker_data);
    mem_free(MEM_APP, t, sizeof(*t));
}

static const struct app_part_ops test_part_ops = {.free = test_part_free};

/* The worker data of app's test client, its start hooks run at the first call that has some. An
 * app without worker hooks has no state to keep, so it gets no part: its first request allocates
 * nothing more than the next. */
static int test_worker_data(struct crest_app *app, void **data)
{
    struct test_part *t = (struct test_part *)app_part_find(app, &test_part_ops);
    char why[CREST_ERR_LEN];
    int err;

    *data = NULL;
    if (t) {
        *data = t->worker_data;
        return 0;
    }
    err = app_parts_prepare(app, why); /* as crest_serve does before its workers (once) */
    if (err)
        return err;
    if (!app->worker_start && !app->worker_stop && !app_parts_per_worker(app))
        return 0;
    t = mem_calloc(MEM_APP, 1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    err = app_workers_start(app, 1, NULL, &t->worker_data, why);
    if (err) {
        mem_free(MEM_APP, t, sizeof(*t));
        return err; /* the next request tries again */
    }
    t->part.ops = &test_part_ops;
    t->app = app;
    app_part_add(app, &t->part);
    *data = t->worker_data;
    return 0;
}

/* ---- the driver ---- */

static void no_conn_events(void *ctx, int fd, uint32_t events)
{
    (void)ctx;
    (void)fd;
    (void)events;
}

/* Waits for the pending handler; -EDEADLK when nothing could ever complete it. */
static int wait_pending(struct net_worker *w, struct net_conn *c)
{
    while (c->verdict == NET_BUSY) {
        int wait = net_loop_next_timer_ms(&w->loop);
        if (!net_loop_alive(&w->loop))
            return -EDEADLK; /* no timer, watch or wake-up left that could complete it */
        int err = net_loop_poll(&w->loop, wait, no_conn_events, NULL);
        if (err < 0)
            return err;
    }
    return 0;
}

/* The file that follows the output (net_io_take_file), read as sendfile would send it. */
static int take_file(struct net_io *io, struct mem_buf *out)
{
    while (io->file_open) {
        char buf[16384];
        size_t n = io->file_left < sizeof(buf) ? (size_t)io->file_left : sizeof(buf);
        ssize_t got = pread(io->file_fd, buf, n, (off_t)io->file_off);
        if (got <= 0) {
            net_io_close_file(io);
            return -EIO; /* the file shrank: a socket would see the response cut */
        }
        if (mem_buf_append(out, MEM_TEST, buf, (size_t)got) != 0)
            return -ENOMEM;
        io->file_off += got;
        io->file_left -= (uint64_t)got;
        if (io->file_left == 0)
            net_io_close_file(io);
    }
    return 0;
}

/* Feeds bytes to the session like reads would, collecting every response into out. */
static int run_conn(struct http_server *srv, struct net_worker *w, struct net_conn *c,
                    const char *bytes, size_t len, struct mem_buf *out)
{
    struct net_io *io = c->io;
    size_t fed = 0;
    int err = 0;

    for (;;) {
        if (io->in_off) {
            io->in_len -= io->in_off;
            memmove(io->in, io->in + io->in_off, io->in_len);
            io->in_off = 0;
        }
        size_t room = io->in_cap - io->in_len, n = len - fed < room ? len - fed : room;
        memcpy(io->in + io->in_len, bytes + fed, n);
        io->in_len += (uint32_t)n;
        fed += n;
        for (;;) {
            c->flags &= (uint8_t)~NET_CONN_DIRTY;
            c->verdict = (uint8_t)srv->ops.on_input(srv, w, c);
            err = wait_pending(w, c);
            if (!err && (io->out.len || io->file_open)) {
                /* taken as a socket write would: requests held back by the output high-water
                 * mark may go on, as after net's conn_flush */
                if (mem_buf_append(out, MEM_TEST, io->out.ptr, io->out.len) != 0)
                    err = -ENOMEM;
                io->out.len = io->out_pos = 0;
                if (!err)
                    err = take_file(io, out);
                c->flags |= NET_CONN_DIRTY;
            }
            if (c->verdict == NET_TAKEN) { /* no socket to hand over: the tunnel ends at once */
                struct net_tunnel *t = srv->ops.take(srv, w, c);
                if (t)
                    t->ops->close(t, w, c);
                c->verdict = NET_CLOSE;
            }
            if (err || c->verdict == NET_CLOSE || !(c->flags & NET_CONN_DIRTY))
                break; /* DIRTY: output taken or a pending handler finished; go on */
        }
        if (err || c->verdict == NET_CLOSE || fed == len)
            return err;
        if (n == 0)
            return 0; /* the session cannot take more bytes and has nothing to say */
    }
}

static void parse_response(struct crest_test_response *res)
{
    if (!res->raw)
        return; /* the connection ended without an answer: memmem may not be given NULL */
    char *p = res->raw, *end = res->raw + res->raw_len;
    for (;;) { /* skip interim 1xx responses such as 100 Continue */
        char *head_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!head_end || end - p < 12)
            return;
        res->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
        res->head = (struct crest_str){p, (size_t)(head_end + 2 - p)};
        res->body = (struct crest_str){head_end + 4, (size_t)(end - head_end - 4)};
        if (res->status >= 200)
            return;
        p = head_end + 4;
    }
}

CREST_API int crest_test_raw(struct crest_app *app, const char *bytes, size_t len,
                             struct crest_test_response *out)
{
    struct crest_config cfg;
    struct http_server srv;
    struct net_worker w;
    /* no descriptor: only the socket transport reads fd. The driver runs the connection for the
     * whole exchange, so a handler's completion leaves it to wait_pending (net_conn_resume). */
    struct net_conn c = {
        .fd = -1, .prev = -1, .next = -1, .flags = NET_CONN_RUNNING, .verdict = NET_WANT_REQUEST};
    struct mem_buf raw = {0};
    void *worker_data;
    int err;

    memset(out, 0, sizeof(*out));
    crest_config_defaults(&cfg);
    serve_http_server(&srv, app, &cfg);
    err = test_worker_data(app, &worker_data);
    if (err)
        return err;
    err = net_worker_init(&w, 0, &srv.net, &srv.ops, &srv, &memory_transport);
    if (err)
        return err;
    w.app_data = worker_data;
    c.io = net_io_get(&w);
    if (!c.io) {
        net_worker_fini(&w);
        return -ENOMEM;
    }
    srv.ops.session_start(&srv, &w, &c);
    err = run_conn(&srv, &w, &c, bytes, len, &raw);
    srv.ops.session_stop(&srv, &w, &c);
    net_io_put(&w, c.io);
    net_worker_fini(&w);
    if (err) {
        mem_buf_fini(&raw, MEM_TEST);
        return err;
    }
    out->raw = raw.ptr;
    out->raw_len = raw.len;
    out->raw_cap = raw.cap;
    parse_response(out);
    return 0;
}

/* Whether a header line to send is "Name: value" with a token name and no CR, LF or NUL. */
static bool header_line_ok(const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon || colon == line || strpbrk(line, "\r\n"))
        return false;
    for (const char *p = line; p < colon; p++)
        if (!strchr("!#$%&'*+-.^_`|~", *p) && !(*p >= '0' && *p <= '9') &&
            !((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z'))
            return false;
    return true;
}

static bool has_header(const struct crest_test_req *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->n_headers; i++)
        if (strncasecmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':')
            return true;
    return false;
}

CREST_API int crest_test_send(struct crest_app *app, const struct crest_test_req *r,
                              struct crest_test_response *out)
{
    struct mem_buf req = {0};
    size_t body_len = r->body ? (r->body_len ? r->body_len : strlen(r->body)) : 0;
    int err = 0;

    memset(out, 0, sizeof(*out));
    if (!r->method || !r->target || strpbrk(r->method, " \r\n") || strpbrk(r->target, " \r\n") ||
        (r->content_type && strpbrk(r->content_type, "\r\n")))
        return -EINVAL;
    for (size_t i = 0; i < r->n_headers; i++)
        if (!r->headers[i] || !header_line_ok(r->headers[i]))
            return -EINVAL;
    err |= mem_buf_append(&req, MEM_TEST, r->method, strlen(r->method));
    err |= mem_buf_append(&req, MEM_TEST, " ", 1);
    err |= mem_buf_append(&req, MEM_TEST, r->target, strlen(r->target));
    err |= mem_buf_append(&req, MEM_TEST, " HTTP/1.1\r\n", 11);
    if (!has_header(r, "host"))
        err |= mem_buf_append(&req, MEM_TEST, "Host: testserver\r\n", 18);
    for (size_t i = 0; i < r->n_headers; i++) {
        err |= mem_buf_append(&req, MEM_TEST, r->headers[i], strlen(r->headers[i]));
        err |= mem_buf_append(&req, MEM_TEST, "\r\n", 2);
    }
    if (r->body) {
        const char *ct = r->content_type ? r->content_type : "application/json";
        err |= mem_buf_append(&req, MEM_TEST, "Content-Type: ", 14);
        err |= mem_buf_append(&req, MEM_TEST, ct, strlen(ct));
        err |= mem_buf_append(&req, MEM_TEST, "\r\nContent-Length: ", 18);
        err |= mem_buf_append_u64(&req, MEM_TEST, body_len);
        err |= mem_buf_append(&req, MEM_TEST, "\r\n", 2);
    }
    err |= mem_buf_append(&req, MEM_TEST, "\r\n", 2);
    if (r->body)
        err |= mem_buf_append(&req, MEM_TEST, r->body, body_len);
    if (!err)
        err = crest_test_raw(app, req.ptr, req.len, out);
    mem_buf_fini(&req, MEM_TEST);
    return err ? (err < 0 ? err : -ENOMEM) : 0;
}

CREST_API int crest_test_request(struct crest_app *app, const char *method, const char *target,
                                 const char *body, struct crest_test_response *out)
{
    const struct crest_test_req r = {.method = method, .target = target, .body = body};
    return crest_test_send(app, &r, out);
}

CREST_API struct crest_str crest_test_header(const struct crest_test_response *res,
                                             const char *name)
{
    size_t n = strlen(name);
    const char *p = res->head.ptr, *end = p ? p + res->head.len : NULL;
    if (!p)
        return (struct crest_str){NULL, 0};
    p = memchr(p, '\n', (size_t)(end - p)); /* past the status line */
    while (p && ++p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol)
            break;
        if ((size_t)(eol - p) > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
            const char *v = p + n + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            return (struct crest_str){v, (size_t)(eol - v)};
        }
        p = memchr(eol, '\n', (size_t)(end - eol));
    }
    return (struct crest_str){NULL, 0};
}

CREST_API void crest_test_response_fini(struct crest_test_response *res)
{
    if (res->raw)
        mem_free(MEM_TEST, res->raw, res->raw_cap);
    memset(res, 0, sizeof(*res));
}
