/* http/tunnel.c: the life of a connection taken over from HTTP (http/tunnel.h). Reads go into a
 * buffer on the stack and the protocol consumes what is complete; only a partial frame is kept,
 * in a buffer of its own that goes as soon as the frame completes, so an idle tunnel holds no
 * buffer at all (nginx frees an idle keep-alive connection's buffer for the same reason). Writes
 * go straight from the shared messages of the queue with writev. A tunnel is closed only from its
 * own event or tick (http_tunnel_abort marks it and wakes it with a shutdown): a broadcast that
 * finds a reader too slow can then walk its list without the list changing under it. */
#include "http/tunnel.h"

#include "http/hub.h"
#include "mem/mem.h"
#include "net/worker.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

enum {
    READ_BYTES = 16384, /* one read, on the stack */
    WRITE_IOVS = 16,
};

/* ---- messages ---- */

struct http_msg *http_msg_new(enum mem_tag tag, size_t len)
{
    struct http_msg *m;

    if (len > UINT32_MAX - sizeof(*m))
        return NULL;
    m = mem_alloc(tag, sizeof(*m) + len);
    if (!m)
        return NULL;
    atomic_init(&m->refs, 1);
    m->tag = (uint8_t)tag;
    m->front = m->back = 0;
    m->len = (uint32_t)len;
    return m;
}

void http_msg_ref(struct http_msg *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void http_msg_unref(struct http_msg *m)
{
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        mem_free((enum mem_tag)m->tag, m, sizeof(*m) + m->len);
}

/* ---- the queue ---- */

void http_tunnel_init(struct http_tunnel *t, const struct http_tunnel_kind *kind, enum mem_tag tag,
                      struct net_worker *w, uint32_t max_queued, uint32_t max_input)
{
    memset(t, 0, sizeof(*t));
    t->base.ops = &http_tunnel_ops;
    t->kind = kind;
    t->tag = (uint8_t)tag;
    t->w = w;
    t->max_queued = max_queued;
    t->max_input = max_input;
}

uint32_t http_tunnel_now_ms(const struct http_tunnel *t)
{
    return t->w ? t->w->loop.now_ms : 0;
}

static uint32_t msg_bytes(const struct http_tunnel *t, const struct http_msg *m)
{
    return t->unframed ? m->len - m->front - m->back : m->len;
}

static const char *msg_start(const struct http_tunnel *t, const struct http_msg *m)
{
    return t->unframed ? m->data + m->front : m->data;
}

static void pop(struct http_tunnel *t)
{
    struct http_qnode *n = t->head;
    t->head = n->next;
    if (!t->head)
        t->tail = NULL;
    t->queued -= msg_bytes(t, n->m) - t->head_off;
    t->head_off = 0;
    http_msg_unref(n->m);
    mem_free((enum mem_tag)t->tag, n, sizeof(*n));
}

static void drop_queue(struct http_tunnel *t)
{
    while (t->head)
        pop(t);
}

void http_tunnel_abort(struct http_tunnel *t)
{
    if (t->dead)
        return;
    t->dead = t->gone = true;
    drop_queue(t);
    if (t->c && t->c->fd >= 0) /* wakes its event, where it is closed */
        (void)shutdown(t->c->fd, SHUT_RDWR);
}

/* Writes what the socket takes; marks the tunnel dead when the peer is gone. */
static void flush(struct http_tunnel *t)
{
    if (!t->c || t->dead)
        return;
    while (t->head) {
        struct iovec iov[WRITE_IOVS];
        int n = 0;
        uint32_t off = t->head_off;
        for (struct http_qnode *q = t->head; q && n < WRITE_IOVS; q = q->next, off = 0)
            iov[n++] = (struct iovec){(char *)msg_start(t, q->m) + off, msg_bytes(t, q->m) - off};
        ssize_t w = writev(t->c->fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return; /* EPOLLOUT (edge-triggered) brings us back */
        if (w <= 0) {
            http_tunnel_abort(t);
            return;
        }
        t->last_tx_ms = http_tunnel_now_ms(t);
        while (w > 0) {
            uint32_t left = msg_bytes(t, t->head->m) - t->head_off;
            if ((size_t)w < left) {
                t->head_off += (uint32_t)w;
                t->queued -= (uint32_t)w;
                break;
            }
            w -= left;
            pop(t);
        }
    }
    if (t->ending)
        http_tunnel_abort(t); /* all written: the end was the last thing to say */
}

static int enqueue(struct http_tunnel *t, struct http_msg *m, bool front)
{
    struct http_qnode *n;

    if (t->gone)
        return -EPIPE;
    if (t->queued + (uint64_t)msg_bytes(t, m) > t->max_queued) {
        http_tunnel_abort(t); /* a reader this slow is closed, not buffered for */
        return -ENOBUFS;
    }
    n = mem_alloc((enum mem_tag)t->tag, sizeof(*n));
    if (!n)
        return -ENOMEM;
    http_msg_ref(m);
    *n = (struct http_qnode){.m = m, .next = NULL};
    if (front && t->head_off == 0) {
        n->next = t->head;
        t->head = n;
        if (!t->tail)
            t->tail = n;
    } else {
        if (t->tail)
            t->tail->next = n;
        else
            t->head = n;
        t->tail = n;
    }
    t->queued += msg_bytes(t, m);
    return 0;
}

int http_tunnel_send(struct http_tunnel *t, struct http_msg *m)
{
    int err = enqueue(t, m, false);
    if (!err)
        flush(t);
    return err;
}

int http_tunnel_send_bytes(struct http_tunnel *t, const void *p, size_t len)
{
    struct http_msg *m;
    int err;

    if (t->gone)
        return -EPIPE;
    m = http_msg_new((enum mem_tag)t->tag, len);
    if (!m)
        return -ENOMEM;
    memcpy(m->data, p, len);
    err = http_tunnel_send(t, m);
    http_msg_unref(m);
    return err;
}

void http_tunnel_end(struct http_tunnel *t)
{
    if (t->gone)
        return;
    t->ending = true;
    t->gone = true;
    if (!t->head && t->c)
        http_tunnel_abort(t);
    else
        flush(t);
}

/* ---- the hand-over ---- */

static int keep_input(struct http_tunnel *t, const char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (n > t->max_input)
        return -EMSGSIZE; /* the protocol bounds a frame before it gets here; belt and braces */
    return mem_buf_append(&t->in, (enum mem_tag)t->tag, p, n);
}

int http_tunnel_queue_out(struct http_tunnel *t, const char *out, size_t out_len)
{
    if (!out_len)
        return 0;
    struct http_msg *m = http_msg_new((enum mem_tag)t->tag, out_len);
    if (!m)
        return -ENOMEM;
    memcpy(m->data, out, out_len);
    bool gone = t->gone;
    t->gone = false; /* the head goes out even when the app already ended the stream */
    int err = enqueue(t, m, true);
    t->gone = gone;
    http_msg_unref(m);
    return err;
}

int http_tunnel_adopt(struct http_tunnel *t, struct net_worker *w, struct net_conn *c,
                      const char *in, size_t in_len)
{
    t->w = w;
    t->c = c;
    t->last_rx_ms = t->last_tx_ms = w->loop.now_ms;
    return in_len ? keep_input(t, in, in_len) : 0;
}

/* ---- net's calls ---- */

/* Feeds buf to the protocol: the bytes it consumed. -1 when the connection must close. */
static ssize_t feed(struct http_tunnel *t, char *buf, size_t len)
{
    size_t done = 0, used = 0;
    while (done < len && !t->dead) {
        if (t->kind->input(t, buf + done, len - done, &used) != 0)
            return -1;
        if (used == 0)
            break; /* a partial frame */
        done += used;
    }
    return (ssize_t)done;
}

/* More bytes for the partial frame kept in t->in: consumed from its front, the rest moved down
 * (a large frame arrives in many reads and is copied once). */
static int feed_held(struct http_tunnel *t)
{
    ssize_t done = feed(t, t->in.ptr, t->in.len);
    if (done < 0)
        return -1;
    if (t->dead || (size_t)done == t->in.len) {
        mem_buf_fini(&t->in, (enum mem_tag)t->tag); /* no partial frame: no buffer */
        return 0;
    }
    if (done) {
        memmove(t->in.ptr, t->in.ptr + done, t->in.len - (size_t)done);
        t->in.len -= (uint32_t)done;
    }
    return t->in.len > t->max_input ? -1 : 0;
}

/* Reads until EAGAIN. 0, or -1 when the connection must close. */
static int read_input(struct http_tunnel *t)
{
    for (;;) {
        char buf[READ_BYTES];
        ssize_t n;
        bool held = t->in.len > 0;
        if (held) { /* a partial frame: the rest joins it, so the frame is whole in one place */
            if (mem_buf_reserve(&t->in, (enum mem_tag)t->tag, READ_BYTES) != 0)
                return -1;
            n = read(t->c->fd, t->in.ptr + t->in.len, READ_BYTES);
        } else {
            n = read(t->c->fd, buf, sizeof(buf));
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0)
            return -1;
        t->last_rx_ms = t->w->loop.now_ms;
        if (held) {
            t->in.len += (uint32_t)n;
            if (feed_held(t) != 0)
                return -1;
        } else {
            ssize_t done = feed(t, buf, (size_t)n);
            if (done < 0 || (!t->dead && keep_input(t, buf + done, (size_t)(n - done)) != 0))
                return -1;
        }
        if (t->dead)
            return 0;
    }
}

static void on_event(struct net_tunnel *nt, struct net_worker *w, struct net_conn *c,
                     uint32_t events)
{
    struct http_tunnel *t = (struct http_tunnel *)nt;
    (void)events;

    flush(t);
    if (!t->dead && t->in.len && feed_held(t) != 0) /* input the session handed over */
        t->dead = true;
    if (!t->dead && read_input(t) != 0)
        t->dead = true;
    if (!t->dead)
        flush(t);
    if (t->dead)
        net_tunnel_close(w, c);
}

static void on_tick(struct net_tunnel *nt, struct net_worker *w, struct net_conn *c)
{
    struct http_tunnel *t = (struct http_tunnel *)nt;

    if (!t->dead)
        t->kind->tick(t, w->loop.now_ms);
    if (t->dead)
        net_tunnel_close(w, c);
}

static void on_drain(struct net_tunnel *nt, struct net_worker *w, struct net_conn *c)
{
    struct http_tunnel *t = (struct http_tunnel *)nt;

    if (!t->dead)
        t->kind->drain(t);
    if (t->dead)
        net_tunnel_close(w, c);
}

static void on_close(struct net_tunnel *nt, struct net_worker *w, struct net_conn *c)
{
    struct http_tunnel *t = (struct http_tunnel *)nt;
    (void)w;
    (void)c;
    t->dead = t->gone = true;
    t->c = NULL;
    t->kind->closed(t);
}

void http_tunnel_fini(struct http_tunnel *t)
{
    http_hub_leave(t);
    drop_queue(t);
    mem_buf_fini(&t->in, (enum mem_tag)t->tag);
}

const struct net_tunnel_ops http_tunnel_ops = {
    .event = on_event,
    .tick = on_tick,
    .drain = on_drain,
    .close = on_close,
};
