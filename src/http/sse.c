/* http/sse.c: Server-Sent Events (crest_sse_*) on a tunnel (http/tunnel.c). The stream's head goes
 * out through the session like any response (after hooks included); then each event is encoded
 * once into a shared message (a chunk of its own for HTTP/1.1; an HTTP/1.0 reader skips the
 * chunk's framing bytes of the same message), and a heartbeat comment goes out when the stream
 * was quiet for heartbeat_ms, from the tunnel's tick. */
#include "http/sse.h"

#include "http/hub.h"
#include "http/request.h"
#include "http/response.h"
#include "http/server.h"
#include "http/tunnel.h"
#include "mem/mem.h"
#include "net/worker.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum {
    DEFAULT_HEARTBEAT_MS = 15000,
    DEFAULT_MAX_QUEUE = 256 << 10,
};

struct crest_sse {
    struct http_tunnel t; /* first */
    const struct crest_sse_config *cfg;
    void *ud;
    uint32_t heartbeat_ms;
};

/* ---- the encoder ---- */

static bool is_field_value(const char *s)
{
    return !s || !s[strcspn(s, "\r\n")]; /* strcspn stops at NUL too */
}

static size_t put(char *out, size_t at, const char *s, size_t n)
{
    if (out)
        memcpy(out + at, s, n);
    return at + n;
}

/* The event's lines, from `at`. */
static size_t lines(const struct crest_sse_event *ev, char *out, size_t at)
{
    char num[16];
    if (ev->retry_ms) {
        int n = snprintf(num, sizeof(num), "%u", (unsigned)ev->retry_ms);
        at = put(out, at, "retry: ", 7);
        at = put(out, at, num, (size_t)n);
        at = put(out, at, "\n", 1);
    }
    if (ev->id) {
        at = put(out, at, "id: ", 4);
        at = put(out, at, ev->id, strlen(ev->id));
        at = put(out, at, "\n", 1);
    }
    if (ev->event) {
        at = put(out, at, "event: ", 7);
        at = put(out, at, ev->event, strlen(ev->event));
        at = put(out, at, "\n", 1);
    }
    if (ev->data) { /* each line its own data: field, so no line break can start a new field */
        const char *p = ev->data, *end = p + (ev->data_len ? ev->data_len : strlen(ev->data));
        for (;;) {
            const char *e = p;
            while (e < end && *e != '\r' && *e != '\n')
                e++;
            at = put(out, at, "data: ", 6);
            at = put(out, at, p, (size_t)(e - p));
            at = put(out, at, "\n", 1);
            if (e == end)
                break;
            p = e + (e[0] == '\r' && e + 1 < end && e[1] == '\n' ? 2 : 1);
        }
    }
    return put(out, at, "\n", 1);
}

long http_sse_encode(const struct crest_sse_event *ev, char *out, bool chunked, size_t *front,
                     size_t *back)
{
    char size[20];
    int n = 0;

    if (!is_field_value(ev->event) || !is_field_value(ev->id))
        return -EINVAL;
    size_t body = lines(ev, NULL, 0);
    if (chunked)
        n = snprintf(size, sizeof(size), "%zx\r\n", body);
    size_t at = put(out, 0, size, (size_t)n);
    at = lines(ev, out, at);
    if (chunked)
        at = put(out, at, "\r\n", 2);
    *front = (size_t)n;
    *back = chunked ? 2 : 0;
    return (long)at;
}

/* One event as a message: a chunk, whose framing an HTTP/1.0 reader skips. */
static int event_msg(const struct crest_sse_event *ev, struct http_msg **out)
{
    size_t front, back;
    long len = http_sse_encode(ev, NULL, true, &front, &back);
    if (len < 0)
        return (int)len;
    struct http_msg *m = http_msg_new(MEM_SSE, (size_t)len);
    if (!m)
        return -ENOMEM;
    (void)http_sse_encode(ev, m->data, true, &front, &back);
    m->front = (uint8_t)front;
    m->back = (uint8_t)back;
    *out = m;
    return 0;
}

static int send_msg_bytes(struct crest_sse *s, const char *text, size_t len)
{
    char size[20];
    int n = snprintf(size, sizeof(size), "%zx\r\n", len);
    struct http_msg *m = http_msg_new(MEM_SSE, (size_t)n + len + 2);
    if (!m)
        return -ENOMEM;
    memcpy(m->data, size, (size_t)n);
    memcpy(m->data + n, text, len);
    memcpy(m->data + n + len, "\r\n", 2);
    m->front = (uint8_t)n;
    m->back = 2;
    int err = http_tunnel_send(&s->t, m);
    http_msg_unref(m);
    return err;
}

/* ---- the tunnel ---- */

static int sse_input(struct http_tunnel *t, char *buf, size_t len, size_t *used)
{
    (void)t;
    (void)buf;
    *used = len; /* a client has nothing to say on an event stream: read and dropped, unbuffered */
    return 0;
}

static void sse_tick(struct http_tunnel *t, uint32_t now)
{
    struct crest_sse *s = (struct crest_sse *)t;
    if (!t->gone && !t->head && now - t->last_tx_ms >= s->heartbeat_ms) {
        t->last_tx_ms = now;
        int err = send_msg_bytes(s, ":\n\n", 3); /* a comment: clients ignore it */
        (void)err;                               /* no memory: the next tick tries again */
    }
}

static void end_stream(struct crest_sse *s)
{
    if (s->t.gone)
        return;
    if (!s->t.unframed) {
        struct http_msg *m = http_msg_new(MEM_SSE, 5);
        if (m) {
            memcpy(m->data, "0\r\n\r\n", 5); /* the last chunk: the body is complete */
            int err = http_tunnel_send(&s->t, m);
            (void)err; /* without it the client sees a cut stream, and reconnects */
            http_msg_unref(m);
        }
    }
    http_tunnel_end(&s->t);
}

static void sse_drain(struct http_tunnel *t)
{
    end_stream((struct crest_sse *)t);
}

static void sse_closed(struct http_tunnel *t)
{
    struct crest_sse *s = (struct crest_sse *)t;
    if (s->cfg->on_close)
        s->cfg->on_close(s, s->ud);
    http_tunnel_fini(t);
    mem_free(MEM_SSE, s, sizeof(*s));
}

static const struct http_tunnel_kind sse_kind = {
    .input = sse_input,
    .tick = sse_tick,
    .drain = sse_drain,
    .closed = sse_closed,
};

/* ---- the application's calls ---- */

static int refuse(struct http_request *req, const char *detail, int err)
{
    req->status = 503;
    req->content_type = "application/json";
    req->res_body->len = 0;
    int e = mem_buf_append(req->res_body, MEM_OUT, "{\"detail\":\"", 11);
    e |= mem_buf_append(req->res_body, MEM_OUT, detail, strlen(detail));
    e |= mem_buf_append(req->res_body, MEM_OUT, "\"}", 2);
    e |= mem_buf_append(req->res_headers, MEM_OUT, "Retry-After: 1\r\n", 16);
    (void)e;
    return err;
}

CREST_API int crest_sse_start(struct crest_req *creq, const struct crest_sse_config *cfg, void *ud,
                              struct crest_sse **out)
{
    struct http_request *req = (struct http_request *)creq; /* crest_req embeds it first */
    struct crest_sse *s;

    *out = NULL;
    if (net_worker_draining(req->worker))
        return refuse(req, "Server is shutting down", -EBUSY);
    s = mem_calloc(MEM_SSE, 1, sizeof(*s));
    if (!s)
        return refuse(req, http_oom_detail(), -ENOMEM);
    http_tunnel_init(&s->t, &sse_kind, MEM_SSE, req->worker,
                     cfg->max_queue_bytes ? (uint32_t)cfg->max_queue_bytes : DEFAULT_MAX_QUEUE, 0);
    s->cfg = cfg;
    s->ud = ud;
    s->heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : DEFAULT_HEARTBEAT_MS;
    if (mem_buf_append(req->res_headers, MEM_OUT, "Cache-Control: no-store\r\n", 25) != 0) {
        mem_free(MEM_SSE, s, sizeof(*s));
        return refuse(req, http_oom_detail(), -ENOMEM);
    }
    req->status = 200;
    req->content_type = "text/event-stream";
    s->t.unframed = req->parser->version_minor == 0;
    if (s->t.unframed)
        req->close = true; /* HTTP/1.0 has no chunks: the close ends the body */
    req->tunnel = &s->t.base;
    req->tunnel_framing = s->t.unframed ? HTTP_FRAMING_CLOSE : HTTP_FRAMING_CHUNKED;
    net_tunnel_tick_at_most(req->worker, s->heartbeat_ms / 2 ? s->heartbeat_ms / 2 : 1);
    if (req->head_only) /* the head only: the stream is over before it began */
        http_tunnel_end(&s->t);
    else if (cfg->retry_ms) {
        struct crest_sse_event retry = {.retry_ms = cfg->retry_ms};
        int err = crest_sse_send(s, &retry);
        (void)err; /* no memory: the client keeps its default delay */
    }
    *out = s;
    return 0;
}

CREST_API struct crest_str crest_sse_last_event_id(const struct crest_req *creq)
{
    const struct http_request *req = (const struct http_request *)creq;
    const struct http_parser *p = req->parser;
    for (uint32_t i = 0; i < p->n_headers; i++) {
        const struct http_header *h = &p->headers[i];
        if (h->name_len == 13 && strncasecmp(req->buf + h->name_off, "Last-Event-ID", 13) == 0) {
            struct crest_str v = {req->buf + h->value_off, h->value_len};
            if (memchr(v.ptr, '\0', v.len) || memchr(v.ptr, '\r', v.len))
                return (struct crest_str){NULL, 0};
            return v;
        }
    }
    return (struct crest_str){NULL, 0};
}

CREST_API int crest_sse_send(struct crest_sse *s, const struct crest_sse_event *ev)
{
    struct http_msg *m = NULL;
    int err;

    if (s->t.gone)
        return -EPIPE;
    err = event_msg(ev, &m);
    if (err)
        return err;
    err = http_tunnel_send(&s->t, m);
    http_msg_unref(m);
    return err;
}

CREST_API void crest_sse_end(struct crest_sse *s)
{
    end_stream(s);
}

CREST_API struct crest_sse_hub *crest_sse_hub_new(void)
{
    return (struct crest_sse_hub *)http_hub_new(MEM_SSE);
}

CREST_API void crest_sse_hub_free(struct crest_sse_hub *hub)
{
    http_hub_free((struct http_hub *)hub);
}

CREST_API int crest_sse_hub_join(struct crest_sse_hub *hub, struct crest_sse *s)
{
    return http_hub_join((struct http_hub *)hub, &s->t);
}

CREST_API int crest_sse_hub_publish(struct crest_sse_hub *hub, const struct crest_sse_event *ev)
{
    struct http_msg *m = NULL;
    int err = event_msg(ev, &m);
    if (err)
        return err;
    err = http_hub_publish((struct http_hub *)hub, m);
    http_msg_unref(m);
    return err;
}
