/* http/ws.c: WebSocket connections (crest_ws_*): the handshake answered from a handler, then a
 * tunnel (http/tunnel.c) that reads frames, gathers fragmented messages, answers pings and runs
 * the close handshake (RFC 6455 5 and 7). A whole frame that arrived in one read is unmasked in
 * place and handed to the application from the read buffer: only fragments and partial frames
 * are ever copied, each bounded by the message limit. */
#include "http/ws.h"

#include "http/hub.h"
#include "http/request.h"
#include "http/response.h"
#include "http/server.h"
#include "http/tunnel.h"
#include "mem/mem.h"
#include "net/worker.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

enum {
    DEFAULT_MAX_MESSAGE = 1 << 20,
    DEFAULT_MAX_QUEUE = 1 << 20,
    CLOSE_WAIT_MS = 1000, /* after our close frame, how long the client has to answer */
};

struct crest_ws {
    struct http_tunnel t; /* first */
    const struct crest_ws_config *cfg;
    void *data;
    struct mem_buf msg; /* a fragmented message being gathered (MEM_WS) */
    uint32_t utf8;      /* the validator's state across a text message's fragments */
    uint32_t max_message;
    uint32_t ping_sent_ms;
    uint32_t close_sent_ms;
    uint16_t close_code; /* what on_close reports */
    uint8_t msg_opcode;  /* HTTP_WS_TEXT or _BINARY while a fragmented message is under way */
    uint8_t subprotocol; /* index + 1 in cfg->subprotocols; 0: none */
    bool ping_out;       /* a ping is waiting for its pong */
    bool close_sent;
};

/* ---- sending ---- */

static struct http_msg *frame_new(uint8_t opcode, const void *data, size_t len)
{
    uint8_t head[10];
    size_t n = http_ws_frame_head(head, true, opcode, len);
    struct http_msg *m = http_msg_new(MEM_WS, n + len);
    if (!m)
        return NULL;
    memcpy(m->data, head, n);
    if (len)
        memcpy(m->data + n, data, len);
    return m;
}

static int send_frame(struct crest_ws *ws, uint8_t opcode, const void *data, size_t len)
{
    struct http_msg *m;
    int err;

    if (ws->t.gone || ws->close_sent)
        return -EPIPE;
    m = frame_new(opcode, data, len);
    if (!m)
        return -ENOMEM;
    err = http_tunnel_send(&ws->t, m);
    http_msg_unref(m);
    return err;
}

/* Sends a close frame (code 0: none) and waits for the client's, or ends at once when it already
 * sent its own (RFC 6455 5.5.1: the server closes the TCP connection first). */
static void send_close(struct crest_ws *ws, unsigned code, const char *reason, size_t len)
{
    uint8_t body[125];

    if (ws->close_sent || ws->t.gone)
        return;
    if (code) {
        body[0] = (uint8_t)(code >> 8);
        body[1] = (uint8_t)code;
        if (len) /* reason may be NULL then: memcpy must not be handed it */
            memcpy(body + 2, reason, len);
    }
    int err = send_frame(ws, HTTP_WS_CLOSE, body, code ? len + 2 : 0);
    (void)err; /* no memory for it: the connection ends all the same */
    ws->close_sent = true;
    ws->close_sent_ms = http_tunnel_now_ms(&ws->t);
}

/* _Fail the WebSocket Connection_ (RFC 6455 7.1.7): a close with code, then the end. */
static void fail(struct crest_ws *ws, unsigned code)
{
    if (!ws->close_code)
        ws->close_code = (uint16_t)code;
    send_close(ws, code, NULL, 0);
    http_tunnel_end(&ws->t);
}

/* ---- receiving ---- */

static void deliver(struct crest_ws *ws, uint8_t opcode, const void *data, size_t len)
{
    if (ws->cfg->on_message && !ws->close_sent)
        ws->cfg->on_message(ws, opcode == HTTP_WS_BINARY, data, len, ws->cfg->ud);
}

static void on_close_frame(struct crest_ws *ws, const uint8_t *p, size_t len)
{
    unsigned code = HTTP_WS_NO_STATUS;
    uint32_t utf8 = 0;

    if (len == 1)
        return fail(ws, HTTP_WS_PROTOCOL_ERROR);
    if (len >= 2) {
        code = (unsigned)p[0] << 8 | p[1];
        if (!http_ws_close_code_valid(code))
            return fail(ws, HTTP_WS_PROTOCOL_ERROR);
        if (http_ws_utf8(&utf8, p + 2, len - 2) != 0 || utf8 != 0)
            return fail(ws, HTTP_WS_INVALID_DATA);
    }
    if (!ws->close_code)
        ws->close_code = (uint16_t)code;
    send_close(ws, code == HTTP_WS_NO_STATUS ? 0 : code, NULL, 0); /* echo the code (5.5.1) */
    http_tunnel_end(&ws->t);
}

static void on_data_frame(struct crest_ws *ws, const struct http_ws_frame *f, uint8_t *p)
{
    uint8_t op = f->opcode == HTTP_WS_CONT ? ws->msg_opcode : f->opcode;

    if (f->opcode == HTTP_WS_CONT ? !ws->msg_opcode : ws->msg_opcode != 0)
        return fail(ws, HTTP_WS_PROTOCOL_ERROR); /* 5.4: a continuation of nothing, or a new
                                                    message inside a fragmented one */
    if (op == HTTP_WS_TEXT && http_ws_utf8(&ws->utf8, p, f->len) != 0)
        return fail(ws, HTTP_WS_INVALID_DATA); /* 8.1: at the first bad byte, whole or not */
    if (f->fin && op == HTTP_WS_TEXT && ws->utf8 != 0)
        return fail(ws, HTTP_WS_INVALID_DATA); /* ends inside a character */
    if (f->fin && !ws->msg_opcode) { /* a whole message in one frame: straight from the buffer */
        ws->utf8 = 0;
        return deliver(ws, op, p, f->len);
    }
    if ((uint64_t)ws->msg.len + f->len > ws->max_message)
        return fail(ws, HTTP_WS_TOO_BIG);
    if (mem_buf_append(&ws->msg, MEM_WS, p, f->len) != 0)
        return fail(ws, HTTP_WS_INTERNAL);
    ws->msg_opcode = op;
    if (!f->fin)
        return;
    deliver(ws, op, ws->msg.ptr, ws->msg.len);
    mem_buf_fini(&ws->msg, MEM_WS); /* an idle connection holds no buffer */
    ws->msg_opcode = 0;
    ws->utf8 = 0;
}

static int ws_input(struct http_tunnel *t, char *buf, size_t len, size_t *used)
{
    struct crest_ws *ws = (struct crest_ws *)t;
    struct http_ws_frame f;

    if (t->gone) { /* closing: the client's last frames are read and dropped */
        *used = len;
        return 0;
    }
    int r = http_ws_frame_parse((uint8_t *)buf, len, ws->max_message, &f);
    *used = 0;
    if (r < 0) {
        fail(ws, (unsigned)-r);
        *used = len;
        return 0;
    }
    if (r == 0)
        return 0;
    uint8_t *p = (uint8_t *)buf + f.head_len;
    http_ws_unmask(p, f.len, f.mask, 0);
    *used = f.head_len + f.len;
    switch (f.opcode) {
    case HTTP_WS_CLOSE:
        on_close_frame(ws, p, f.len);
        break;
    case HTTP_WS_PING:
        if (send_frame(ws, HTTP_WS_PONG, p, f.len) == -ENOMEM)
            fail(ws, HTTP_WS_INTERNAL);
        break;
    case HTTP_WS_PONG:
        ws->ping_out = false;
        break;
    default:
        on_data_frame(ws, &f, p);
        break;
    }
    return 0;
}

/* ---- time, shutdown, the end ---- */

static void ws_tick(struct http_tunnel *t, uint32_t now)
{
    struct crest_ws *ws = (struct crest_ws *)t;
    const struct crest_ws_config *cfg = ws->cfg;
    uint32_t quiet = now - t->last_rx_ms;

    if (ws->close_sent) {
        if (now - ws->close_sent_ms >= CLOSE_WAIT_MS)
            http_tunnel_abort(t); /* the client never answered our close */
        return;
    }
    if (cfg->idle_timeout_ms && quiet >= cfg->idle_timeout_ms)
        return fail(ws, HTTP_WS_GOING_AWAY);
    if (!cfg->ping_interval_ms)
        return;
    if (ws->ping_out && now - ws->ping_sent_ms >= cfg->ping_interval_ms)
        return fail(ws, HTTP_WS_INTERNAL); /* the pong never came */
    if (!ws->ping_out && quiet >= cfg->ping_interval_ms) {
        ws->ping_out = true;
        ws->ping_sent_ms = now;
        int err = send_frame(ws, HTTP_WS_PING, "crest", 5);
        (void)err; /* no memory: the pong timeout closes it */
    }
}

static void ws_drain(struct http_tunnel *t)
{
    struct crest_ws *ws = (struct crest_ws *)t;
    if (!ws->close_code)
        ws->close_code = HTTP_WS_GOING_AWAY;
    send_close(ws, HTTP_WS_GOING_AWAY, "shutdown", 8);
}

static void ws_closed(struct http_tunnel *t)
{
    struct crest_ws *ws = (struct crest_ws *)t;
    int code = ws->close_code ? ws->close_code : HTTP_WS_ABNORMAL;

    if (ws->cfg->on_close)
        ws->cfg->on_close(ws, code, ws->cfg->ud);
    http_tunnel_fini(t);
    mem_buf_fini(&ws->msg, MEM_WS);
    mem_free(MEM_WS, ws, sizeof(*ws));
}

static const struct http_tunnel_kind ws_kind = {
    .input = ws_input,
    .tick = ws_tick,
    .drain = ws_drain,
    .closed = ws_closed,
};

/* ---- the handshake (RFC 6455 4.2) ---- */

static struct crest_str header(const struct http_request *req, const char *name)
{
    const struct http_parser *p = req->parser;
    size_t len = strlen(name);
    for (uint32_t i = 0; i < p->n_headers; i++) {
        const struct http_header *h = &p->headers[i];
        if (h->name_len == len && strncasecmp(req->buf + h->name_off, name, len) == 0)
            return (struct crest_str){req->buf + h->value_off, h->value_len};
    }
    return (struct crest_str){NULL, 0};
}

/* Whether the comma-separated list v holds token (case-insensitive). */
static bool has_token(struct crest_str v, const char *token)
{
    size_t tlen = strlen(token);
    const char *p = v.ptr, *end = v.ptr + v.len;

    while (p && p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *e = p;
        while (e < end && *e != ',')
            e++;
        const char *last = e;
        while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
            last--;
        if ((size_t)(last - p) == tlen && strncasecmp(p, token, tlen) == 0)
            return true;
        p = e;
    }
    return false;
}

/* An error answer, as crest_res_error would make it (this room is below it). */
static int refuse(struct http_request *req, unsigned status, const char *detail, const char *extra,
                  int err)
{
    req->status = (uint16_t)status;
    req->content_type = "application/json";
    req->res_body->len = 0;
    int e = mem_buf_append(req->res_body, MEM_OUT, "{\"detail\":\"", 11);
    e |= mem_buf_append(req->res_body, MEM_OUT, detail, strlen(detail));
    e |= mem_buf_append(req->res_body, MEM_OUT, "\"}", 2);
    if (extra)
        e |= mem_buf_append(req->res_headers, MEM_OUT, extra, strlen(extra));
    (void)e; /* no memory even for this: the session answers what it has */
    return err;
}

static int check_handshake(struct http_request *req, char accept[29])
{
    struct crest_str key = header(req, "Sec-WebSocket-Key");

    if (req->method != CREST_METHOD_GET || req->parser->version_minor < 1)
        return refuse(req, 400, "WebSocket handshake needs GET over HTTP/1.1", NULL, -EINVAL);
    if (!has_token(header(req, "Upgrade"), "websocket") ||
        !has_token(header(req, "Connection"), "upgrade"))
        return refuse(req, 400, "WebSocket handshake needs Upgrade: websocket", NULL, -EINVAL);
    struct crest_str v = header(req, "Sec-WebSocket-Version");
    if (v.len != 2 || memcmp(v.ptr, "13", 2) != 0)
        return refuse(req, 426, "Unsupported WebSocket version", "Sec-WebSocket-Version: 13\r\n",
                      -EINVAL);
    if (!key.ptr || http_ws_accept_key(key.ptr, key.len, accept) != 0)
        return refuse(req, 400, "Invalid Sec-WebSocket-Key", NULL, -EINVAL);
    if (req->close) /* the worker drains, or the client asked to close: no new connection */
        return refuse(req, 503, "Server is shutting down", "Retry-After: 1\r\n", -EBUSY);
    return 0;
}

/* The first of the route's subprotocols the client offers: index + 1, or 0. */
static uint8_t pick_subprotocol(const struct http_request *req, const struct crest_ws_config *cfg)
{
    struct crest_str offered = header(req, "Sec-WebSocket-Protocol");
    for (size_t i = 0; offered.ptr && i < cfg->n_subprotocols && i < 255; i++) {
        if (has_token(offered, cfg->subprotocols[i]))
            return (uint8_t)(i + 1);
    }
    return 0;
}

static int answer_101(struct http_request *req, const struct crest_ws *ws, const char *accept)
{
    int e = 0;
    req->status = 101;
    static const char head[] =
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
    e |= mem_buf_append(req->res_headers, MEM_OUT, head, sizeof(head) - 1);
    e |= mem_buf_append(req->res_headers, MEM_OUT, accept, 28);
    e |= mem_buf_append(req->res_headers, MEM_OUT, "\r\n", 2);
    if (ws->subprotocol) {
        const char *name = ws->cfg->subprotocols[ws->subprotocol - 1];
        e |= mem_buf_append(req->res_headers, MEM_OUT, "Sec-WebSocket-Protocol: ", 24);
        e |= mem_buf_append(req->res_headers, MEM_OUT, name, strlen(name));
        e |= mem_buf_append(req->res_headers, MEM_OUT, "\r\n", 2);
    }
    return e ? -ENOMEM : 0;
}

CREST_API int crest_ws_accept(struct crest_req *creq, const struct crest_ws_config *cfg)
{
    struct http_request *req = (struct http_request *)creq; /* crest_req embeds it first */
    char accept[29];
    struct crest_ws *ws;
    int err = check_handshake(req, accept);

    if (err)
        return err;
    ws = mem_calloc(MEM_WS, 1, sizeof(*ws));
    if (!ws)
        return refuse(req, 503, http_oom_detail(), "Retry-After: 1\r\n", -ENOMEM);
    size_t max_message = cfg->max_message_bytes ? cfg->max_message_bytes : DEFAULT_MAX_MESSAGE;
    if (max_message > UINT32_MAX - 64)
        max_message = UINT32_MAX - 64;
    http_tunnel_init(&ws->t, &ws_kind, MEM_WS, req->worker,
                     cfg->max_queue_bytes ? (uint32_t)cfg->max_queue_bytes : DEFAULT_MAX_QUEUE,
                     (uint32_t)max_message + 14);
    ws->cfg = cfg;
    ws->max_message = (uint32_t)max_message;
    ws->subprotocol = pick_subprotocol(req, cfg);
    if (answer_101(req, ws, accept) != 0) {
        mem_free(MEM_WS, ws, sizeof(*ws));
        req->res_headers->len = 0;
        return refuse(req, 503, http_oom_detail(), "Retry-After: 1\r\n", -ENOMEM);
    }
    req->tunnel = &ws->t.base;
    req->tunnel_framing = HTTP_FRAMING_LENGTH; /* a 101 has no body: no framing is written */
    if (cfg->ping_interval_ms)
        net_tunnel_tick_at_most(req->worker, cfg->ping_interval_ms / 2);
    if (cfg->idle_timeout_ms)
        net_tunnel_tick_at_most(req->worker, cfg->idle_timeout_ms / 2);
    if (cfg->on_open)
        cfg->on_open(ws, creq, cfg->ud);
    return 0;
}

/* ---- the application's calls ---- */

CREST_API int crest_ws_send(struct crest_ws *ws, bool binary, const void *data, size_t len)
{
    uint32_t utf8 = 0;
    if (!binary && (http_ws_utf8(&utf8, data, len) != 0 || utf8 != 0))
        return -EINVAL;
    return send_frame(ws, binary ? HTTP_WS_BINARY : HTTP_WS_TEXT, data, len);
}

CREST_API int crest_ws_close(struct crest_ws *ws, int code, const char *reason)
{
    size_t len = reason ? strlen(reason) : 0;
    uint32_t utf8 = 0;

    if (code < 0 || !http_ws_close_code_valid((unsigned)code) || len > 123 ||
        http_ws_utf8(&utf8, (const uint8_t *)reason, len) != 0 || utf8 != 0)
        return -EINVAL;
    if (ws->close_sent || ws->t.gone)
        return -EPIPE;
    ws->close_code = (uint16_t)code;
    send_close(ws, (unsigned)code, reason, len);
    return 0;
}

CREST_API const char *crest_ws_subprotocol(const struct crest_ws *ws)
{
    return ws->subprotocol ? ws->cfg->subprotocols[ws->subprotocol - 1] : NULL;
}

CREST_API void crest_ws_set_data(struct crest_ws *ws, void *data)
{
    ws->data = data;
}

CREST_API void *crest_ws_data(const struct crest_ws *ws)
{
    return ws->data;
}

CREST_API struct crest_ws_msg *crest_ws_msg_new(bool binary, const void *data, size_t len)
{
    return (struct crest_ws_msg *)frame_new(binary ? HTTP_WS_BINARY : HTTP_WS_TEXT, data, len);
}

CREST_API int crest_ws_send_msg(struct crest_ws *ws, struct crest_ws_msg *msg)
{
    if (ws->t.gone || ws->close_sent)
        return -EPIPE;
    return http_tunnel_send(&ws->t, (struct http_msg *)msg);
}

CREST_API void crest_ws_msg_release(struct crest_ws_msg *msg)
{
    if (msg)
        http_msg_unref((struct http_msg *)msg);
}

CREST_API struct crest_ws_hub *crest_ws_hub_new(void)
{
    return (struct crest_ws_hub *)http_hub_new(MEM_WS);
}

CREST_API void crest_ws_hub_free(struct crest_ws_hub *hub)
{
    http_hub_free((struct http_hub *)hub);
}

CREST_API int crest_ws_hub_join(struct crest_ws_hub *hub, struct crest_ws *ws)
{
    return http_hub_join((struct http_hub *)hub, &ws->t);
}

CREST_API int crest_ws_hub_publish(struct crest_ws_hub *hub, bool binary, const void *data,
                                   size_t len)
{
    struct http_msg *m = frame_new(binary ? HTTP_WS_BINARY : HTTP_WS_TEXT, data, len);
    if (!m)
        return -ENOMEM;
    int err = http_hub_publish((struct http_hub *)hub, m);
    http_msg_unref(m);
    return err;
}
