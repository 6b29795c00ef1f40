/* net/worker.c: a worker's event loop and the life of its connections: accept, read, hand input
 * to the session, write, park in a timeout queue, idle without buffers, linger, close. Reading
 * stops while output is pending (back-pressure), and all responses produced from one read leave in
 * one write. */
#include "net/worker.h"

#include "mem/mem.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    ACCEPT_BATCH = 128,
    FILE_CHUNK_BYTES = 1 << 20,
    /* per sendfile call */ /* accepts per wake-up, so reads are not starved */
    ACCEPT_RETRY_MS = 100,  /* pause after EMFILE before trying again */
    LINGER_MAX_BYTES = 1 << 20,
    DRAIN_LINGER_MS = 1000,    /* while draining, how long a closing connection waits for the FIN */
    OUT_KEEP_BYTES = 64 << 10, /* larger output buffers are freed, not pooled */
};

static struct net_conn *conns;
static uint32_t n_conn_slots;

/* ---- the connection table ---- */

int net_conn_table_init(uint32_t n_fds)
{
    size_t size = (size_t)n_fds * sizeof(struct net_conn);
    /* Reserved, not touched: a slot becomes resident only when its fd is first used. */
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    conns = p;
    n_conn_slots = n_fds;
    return 0;
}

void net_conn_table_fini(void)
{
    if (conns)
        munmap(conns, (size_t)n_conn_slots * sizeof(struct net_conn));
    conns = NULL;
    n_conn_slots = 0;
}

static struct net_conn *conn_at(int32_t fd)
{
    return &conns[fd];
}

/* ---- timeout queues: FIFO lists linked by fd ---- */

/* The /metrics state of each queue (NET_Q_NONE counts as nothing). */
static int state_of(uint8_t queue)
{
    static const int8_t states[NET_Q_COUNT] = {[NET_Q_NONE] = -1,
                                               [NET_Q_IDLE] = OBS_CONN_IDLE,
                                               [NET_Q_HEAD] = OBS_CONN_READING,
                                               [NET_Q_IO] = OBS_CONN_IO,
                                               [NET_Q_BUSY] = OBS_CONN_PENDING,
                                               [NET_Q_TUNNEL] = OBS_CONN_TUNNEL};
    return states[queue];
}

static void queue_leave(struct net_worker *w, struct net_conn *c)
{
    if (c->queue == NET_Q_NONE)
        return;
    obs_conn_move(w->stats, state_of(c->queue), -1);
    struct net_queue *q = &w->queues[c->queue];
    if (c->prev >= 0)
        conn_at(c->prev)->next = c->next;
    else
        q->head = c->next;
    if (c->next >= 0)
        conn_at(c->next)->prev = c->prev;
    else
        q->tail = c->prev;
    c->queue = NET_Q_NONE;
}

/* Appends c with a fresh deadline; each queue has one timeout, so the tail is the latest. */
static void queue_enter(struct net_worker *w, struct net_conn *c, enum net_queue_id id)
{
    queue_leave(w, c);
    struct net_queue *q = &w->queues[id];
    obs_conn_move(w->stats, -1, state_of((uint8_t)id));
    c->queue = (uint8_t)id;
    c->deadline_ms = w->loop.now_ms + q->timeout_ms;
    c->next = -1;
    c->prev = q->tail;
    if (q->tail >= 0)
        conn_at(q->tail)->next = c->fd;
    else
        q->head = c->fd;
    q->tail = c->fd;
}

/* ---- io blocks ---- */

struct net_io *net_io_get(struct net_worker *w)
{
    struct net_io *io = w->io_free;
    if (io) {
        w->io_free = io->next_free;
        w->n_io_free--;
        return io;
    }
    io = mem_alloc(MEM_IO, w->io_size);
    if (!io)
        return NULL;
    /* zero the header and session, not the read buffer: its pages are touched only by reads */
    memset(io, 0, NET_IO_SESSION_OFFSET + w->ops->session_size);
    io->in_cap = w->cfg->in_cap;
    io->in = (char *)io + (w->io_size - io->in_cap);
    return io;
}

void net_io_take_file(struct net_io *io, int fd, int64_t off, uint64_t len)
{
    net_io_close_file(io);
    if (len == 0) {
        close(fd);
        return;
    }
    io->file_open = true;
    io->file_fd = fd;
    io->file_off = off;
    io->file_left = len;
}

void net_io_close_file(struct net_io *io)
{
    if (!io->file_open)
        return;
    close(io->file_fd);
    io->file_open = false;
    io->file_left = 0;
}

void net_io_put(struct net_worker *w, struct net_io *io)
{
    net_io_close_file(io); /* a connection closed mid-file */
    io->in_off = io->in_len = 0;
    io->out_pos = io->out.len = 0;
    if (io->out.cap > OUT_KEEP_BYTES)
        mem_buf_fini(&io->out, MEM_OUT);
    if (w->n_io_free < w->cfg->io_cache) {
        io->next_free = w->io_free;
        w->io_free = io;
        w->n_io_free++;
        return;
    }
    w->ops->session_fini(w->ctx, io);
    mem_buf_fini(&io->out, MEM_OUT);
    mem_free(MEM_IO, io, w->io_size);
}

static int attach_io(struct net_worker *w, struct net_conn *c)
{
    if (c->io)
        return 0;
    c->io = net_io_get(w);
    if (!c->io)
        return -ENOMEM;
    w->ops->session_start(w->ctx, w, c);
    return 0;
}

static void release_io(struct net_worker *w, struct net_conn *c)
{
    if (!c->io)
        return;
    w->ops->session_stop(w->ctx, w, c);
    net_io_put(w, c->io);
    c->io = NULL;
}

/* ---- closing ---- */

static void resume_accept(struct net_worker *w);

static void conn_close(struct net_worker *w, struct net_conn *c)
{
    if (c->flags & NET_CONN_TUNNEL) {
        struct net_tunnel *t = c->tunnel;
        c->tunnel = NULL; /* io and tunnel share the field: release_io must see none */
        c->flags &= (uint8_t)~NET_CONN_TUNNEL;
        t->ops->close(t, w, c);
    }
    if (c->verdict == NET_BUSY) {
        /* a handler still holds the session: close when it completes */
        c->flags |= NET_CONN_CLOSING | NET_CONN_EOF;
        return;
    }
    queue_leave(w, c);
    release_io(w, c);
    int fd = c->fd;
    /* the slot is released before the fd: once closed, the fd number may be accepted at once by
     * another worker, which then owns this slot */
    c->fd = -1;
    close(fd);
    w->n_conns--;
    if (w->accept_paused)
        resume_accept(w); /* an fd just came free */
}

/* RFC 9112 9.6: close in stages. Shutting down our side and reading what the client still sends
 * keeps the kernel from answering it with a reset that could destroy the response in flight.
 * A lingering connection holds no buffers and sits in the idle queue, so it is bounded by the
 * keep-alive timeout and LINGER_MAX_BYTES. */
static void conn_linger(struct net_worker *w, struct net_conn *c)
{
    if ((c->flags & NET_CONN_EOF) || shutdown(c->fd, SHUT_WR) != 0) {
        conn_close(w, c);
        return;
    }
    release_io(w, c);
    c->flags |= NET_CONN_LINGER;
    queue_enter(w, c, NET_Q_IDLE);
}

static void linger_read(struct net_worker *w, struct net_conn *c)
{
    char sink[4096];
    for (uint32_t total = 0; total < LINGER_MAX_BYTES;) {
        ssize_t n = read(c->fd, sink, sizeof(sink));
        if (n > 0) {
            total += (uint32_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        break; /* EOF or error */
    }
    conn_close(w, c);
}

/* ---- reading and writing ---- */

/* 0: all output written; 1: blocked (wait for EPOLLOUT); -1: the peer is gone. */
/* The file that follows io->out, with sendfile: 0 (sent), 1 (the socket is full), -1 (broken). */
static int send_file(struct net_worker *w, struct net_conn *c, struct net_io *io)
{
    while (io->file_open) {
        off_t off = (off_t)io->file_off;
        size_t n = io->file_left < FILE_CHUNK_BYTES ? (size_t)io->file_left : FILE_CHUNK_BYTES;
        ssize_t sent = sendfile(c->fd, io->file_fd, &off, n);
        if (sent > 0) {
            io->file_off = off;
            io->file_left -= (uint64_t)sent;
            if (io->file_left == 0)
                net_io_close_file(io);
            continue;
        }
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent < 0 && errno == EAGAIN) {
            queue_enter(w, c, NET_Q_IO); /* progress or not, the write timeout restarts here */
            return 1;
        }
        return -1; /* the file shrank under us (0), or the socket broke: cut the response */
    }
    return 0;
}

static int conn_flush(struct net_worker *w, struct net_conn *c)
{
    struct net_io *io = c->io;
    if (!io || (io->out_pos == io->out.len && !io->file_open))
        return 0;
    while (io->out_pos < io->out.len) {
        ssize_t n = send(c->fd, io->out.ptr + io->out_pos, io->out.len - io->out_pos, MSG_NOSIGNAL);
        if (n > 0) {
            io->out_pos += (uint32_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            queue_enter(w, c, NET_Q_IO); /* progress or not, the write timeout restarts here */
            return 1;
        }
        return -1;
    }
    io->out_pos = io->out.len = 0;
    int r = send_file(w, c, io);
    if (r)
        return r;
    c->flags |= NET_CONN_DIRTY; /* requests held back by back-pressure may go on */
    return 0;
}

/* >0: bytes read; 0: nothing now (EAGAIN); -1: end of input (EOF or error). */
static ssize_t conn_read(struct net_conn *c)
{
    struct net_io *io = c->io;
    if (io->in_off) {
        io->in_len -= io->in_off;
        memmove(io->in, io->in + io->in_off, io->in_len);
        io->in_off = 0;
    }
    if (io->in_len == io->in_cap)
        return -1; /* the session consumes bodies as they come, so only a broken peer gets here */
    for (;;) {
        ssize_t n = read(c->fd, io->in + io->in_len, io->in_cap - io->in_len);
        if (n > 0) {
            io->in_len += (uint32_t)n;
            c->flags = (uint8_t)((c->flags | NET_CONN_DIRTY) & ~NET_CONN_FRESH);
            return n;
        }
        if (n == 0)
            return -1;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN ? 0 : -1;
    }
}

/* Nothing more to do until the next event: choose the queue that matches what we wait for. */
static void conn_park(struct net_worker *w, struct net_conn *c, uint32_t requests_before)
{
    switch (c->verdict) {
    case NET_WANT_REQUEST:
        if (w->draining) {
            conn_close(w, c);
            return;
        }
        release_io(w, c);
        /* a connection that never spoke keeps the header deadline it got at accept: a silent
         * client must not hold an fd for the (longer) keep-alive timeout */
        if (!(c->flags & NET_CONN_FRESH))
            queue_enter(w, c, NET_Q_IDLE);
        break;
    case NET_WANT_HEAD:
        /* the header timeout runs from a request's first byte, not from each read: a client
         * sending one byte a second must not keep the connection forever (slowloris) */
        if (c->queue != NET_Q_HEAD || c->n_requests != requests_before)
            queue_enter(w, c, NET_Q_HEAD);
        break;
    case NET_WANT_BODY:
        queue_enter(w, c, NET_Q_IO);
        break;
    default:
        break;
    }
}

/* The socket transport's driver: runs one connection as far as it can go without blocking. */
static void conn_run(struct net_worker *w, struct net_conn *c)
{
    uint32_t requests_before = c->n_requests;

    c->flags |= NET_CONN_RUNNING;
    for (;;) {
        int r = conn_flush(w, c);
        if (r < 0) {
            c->flags &= (uint8_t)~NET_CONN_RUNNING;
            conn_close(w, c);
            return;
        }
        if (r > 0)
            break; /* back-pressure: no reading until the client takes what we wrote */
        if (c->flags & NET_CONN_CLOSING) {
            c->flags &= (uint8_t)~NET_CONN_RUNNING;
            conn_linger(w, c);
            return;
        }
        if (c->verdict == NET_BUSY) {
            queue_enter(w, c, NET_Q_BUSY);
            break;
        }
        if (c->flags & NET_CONN_DIRTY) {
            c->flags &= (uint8_t)~NET_CONN_DIRTY;
            c->verdict = (uint8_t)w->ops->on_input(w->ctx, w, c);
            if (c->verdict == NET_CLOSE)
                c->flags |= NET_CONN_CLOSING;
            if (c->verdict == NET_TAKEN) {
                c->flags &= (uint8_t)~NET_CONN_RUNNING;
                net_conn_take(w, c, w->ops->take(w->ctx, w, c));
                return;
            }
            continue;
        }
        if (c->flags & NET_CONN_EOF) {
            c->flags &= (uint8_t)~NET_CONN_RUNNING;
            conn_close(w, c); /* answered all it sent; a partial request is dropped */
            return;
        }
        if (attach_io(w, c) != 0) {
            c->flags &= (uint8_t)~NET_CONN_RUNNING;
            obs_shed(w->stats); /* no memory for a read buffer: shed this connection */
            conn_close(w, c);
            return;
        }
        ssize_t n = conn_read(c);
        if (n > 0)
            continue;
        if (n < 0) {
            c->flags |= NET_CONN_EOF;
            continue;
        }
        conn_park(w, c, requests_before);
        break;
    }
    c->flags &= (uint8_t)~NET_CONN_RUNNING;
}

void net_conn_resume(struct net_worker *w, struct net_conn *c)
{
    c->verdict = NET_WANT_HEAD;
    c->flags |= NET_CONN_DIRTY;
    if (c->flags & NET_CONN_RUNNING)
        return; /* completed inside on_input, or under a driver of another transport */
    conn_run(w, c);
}

static void on_conn_event(void *ctx, int fd, uint32_t events)
{
    struct net_worker *w = ctx;
    struct net_conn *c = conn_at(fd);

    if (c->fd != fd || c->worker != w->id)
        return; /* closed earlier in this batch (and perhaps reused by another worker) */
    /* A FIN (EPOLLRDHUP) is not acted on here: reads drain what came before it and then see
     * the end of input themselves, so a request sent together with its FIN is still answered. */
    if (c->flags & NET_CONN_LINGER) {
        linger_read(w, c);
        return;
    }
    if (c->flags & NET_CONN_TUNNEL) {
        c->tunnel->ops->event(c->tunnel, w, c, events);
        return;
    }
    if (c->verdict == NET_BUSY) {
        if (events & (EPOLLHUP | EPOLLERR))
            c->flags |= NET_CONN_CLOSING;
        return; /* the pending handler's completion drives the connection */
    }
    conn_run(w, c);
}

/* ---- tunnels ---- */

static void on_tunnel_timer(struct net_timer *t)
{
    struct net_worker *w = t->ud;
    int32_t fd = w->queues[NET_Q_TUNNEL].head;

    while (fd >= 0) {
        struct net_conn *c = conn_at(fd);
        fd = c->next; /* the tick may close c */
        c->tunnel->ops->tick(c->tunnel, w, c);
    }
    if (w->queues[NET_Q_TUNNEL].head >= 0 &&
        net_timer_start(&w->loop, &w->tunnel_timer, w->tunnel_tick_ms) != 0)
        return; /* no memory for the timer heap: ticks resume with the next take */
}

void net_tunnel_tick_at_most(struct net_worker *w, uint32_t tick_ms)
{
    if (tick_ms && tick_ms < w->tunnel_tick_ms)
        w->tunnel_tick_ms = tick_ms;
}

void net_conn_take(struct net_worker *w, struct net_conn *c, struct net_tunnel *t)
{
    if (!t) { /* the session could not hand over (out of memory): just close */
        conn_close(w, c);
        return;
    }
    release_io(w, c);
    c->tunnel = t;
    c->flags = (uint8_t)((c->flags | NET_CONN_TUNNEL) & ~(NET_CONN_DIRTY | NET_CONN_FRESH));
    c->verdict = NET_TAKEN;
    queue_enter(w, c, NET_Q_TUNNEL);
    if (w->tunnel_timer.slot == 0 &&
        net_timer_start(&w->loop, &w->tunnel_timer, w->tunnel_tick_ms) != 0) {
        net_tunnel_close(w, c); /* without ticks its timeouts would never run */
        return;
    }
    t->ops->event(t, w, c, EPOLLIN | EPOLLOUT);
}

void net_tunnel_close(struct net_worker *w, struct net_conn *c)
{
    conn_close(w, c);
}

/* ---- timeouts ---- */

static void expire_one(struct net_worker *w, struct net_conn *c)
{
    if (c->queue == NET_Q_IDLE || (c->flags & (NET_CONN_FRESH | NET_CONN_LINGER)) ||
        (c->io && (c->io->out_pos < c->io->out.len || c->io->file_open))) {
        conn_close(w, c); /* idle, never spoke, lingering, or not reading our output */
        return;
    }
    w->ops->on_timeout(w->ctx, w, c); /* may append a 408 */
    c->flags |= NET_CONN_CLOSING;
    c->verdict = NET_CLOSE;
    conn_run(w, c);
}

static void expire_queues(struct net_worker *w)
{
    static const enum net_queue_id timed[] = {NET_Q_IDLE, NET_Q_HEAD, NET_Q_IO};
    for (size_t i = 0; i < sizeof(timed) / sizeof(timed[0]); i++) {
        struct net_queue *q = &w->queues[timed[i]];
        while (q->head >= 0) {
            struct net_conn *c = conn_at(q->head);
            if (!net_time_reached(w->loop.now_ms, c->deadline_ms))
                break;
            queue_leave(w, c);
            expire_one(w, c);
        }
    }
}

static int next_wait_ms(const struct net_worker *w)
{
    int wait = net_loop_next_timer_ms(&w->loop);
    for (int id = NET_Q_IDLE; id <= NET_Q_IO; id++) {
        const struct net_queue *q = &w->queues[id];
        if (q->head < 0)
            continue;
        int32_t left = (int32_t)(conns[q->head].deadline_ms - w->loop.now_ms);
        if (left < 0)
            left = 0;
        if (wait < 0 || left < wait)
            wait = left;
    }
    if (w->draining) {
        int32_t left = (int32_t)(w->drain_deadline_ms - w->loop.now_ms);
        if (left < 0)
            left = 0;
        if (wait < 0 || left < wait)
            wait = left;
    }
    return wait;
}

/* ---- accepting ---- */

static void pause_accept(struct net_worker *w)
{
    if (w->accept_paused || w->listen_fd < 0)
        return;
    if (net_loop_del(&w->loop, w->listen_fd) != 0)
        return;
    w->accept_paused = true;
    if (net_timer_start(&w->loop, &w->accept_timer, ACCEPT_RETRY_MS) != 0)
        w->accept_paused = true; /* retried when a connection closes */
}

static void resume_accept(struct net_worker *w)
{
    if (!w->accept_paused || w->listen_fd < 0 || w->draining)
        return;
    net_timer_stop(&w->loop, &w->accept_timer);
    if (net_loop_add_watch(&w->loop, &w->listen_watch, EPOLLIN) == 0)
        w->accept_paused = false;
}

static void on_accept_timer(struct net_timer *t)
{
    resume_accept(t->ud);
}

static void conn_open(struct net_worker *w, int fd)
{
    static const int one = 1;

    if ((uint32_t)fd >= n_conn_slots) {
        close(fd);
        return;
    }
    struct net_conn *c = conn_at(fd);
    /* responses leave in one write per batch; Nagle would only delay them */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->prev = c->next = -1;
    c->flags = NET_CONN_FRESH;
    c->verdict = NET_WANT_REQUEST;
    c->worker = (uint8_t)w->id;
    if (net_loop_add_conn(&w->loop, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) != 0) {
        c->fd = -1; /* before close: see conn_close */
        close(fd);
        return;
    }
    w->n_conns++;
    queue_enter(w, c, NET_Q_HEAD);
}

static void on_listen(struct net_watch *lw, uint32_t events)
{
    struct net_worker *w =
        (struct net_worker *)((char *)lw - offsetof(struct net_worker, listen_watch));
    (void)events;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_open(w, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            pause_accept(w); /* level-triggered: retrying now would spin */
        return;
    }
}

/* ---- draining ---- */

static void close_queue(struct net_worker *w, enum net_queue_id id, bool only_fresh)
{
    int32_t fd = w->queues[id].head;
    while (fd >= 0) {
        struct net_conn *c = conn_at(fd);
        fd = c->next;
        if (!only_fresh || (c->flags & NET_CONN_FRESH))
            conn_close(w, c);
    }
}

static void on_wake(struct net_watch *ww, uint32_t events)
{
    struct net_worker *w =
        (struct net_worker *)((char *)ww - offsetof(struct net_worker, wake_watch));
    uint64_t v;
    (void)events;
    if (read(w->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return;
    if (w->draining)
        return;
    w->draining = true;
    w->drain_deadline_ms = w->loop.now_ms + w->cfg->shutdown_timeout_ms;
    if (w->listen_fd >= 0) {
        net_timer_stop(&w->loop, &w->accept_timer);
        close(w->listen_fd); /* stop accepting: the kernel refuses new connections */
        w->listen_fd = -1;
    }
    close_queue(w, NET_Q_IDLE, false);
    close_queue(w, NET_Q_HEAD, true);
    for (int32_t fd = w->queues[NET_Q_TUNNEL].head; fd >= 0;) {
        struct net_conn *c = conn_at(fd);
        fd = c->next; /* drain may close c */
        c->tunnel->ops->drain(c->tunnel, w, c);
    }
    /* From now on only lingering connections enter the idle queue (conn_park closes the rest),
     * and it is empty: a shorter timeout keeps it FIFO, and an answered client that keeps its
     * socket open no longer holds the exit for the whole keep-alive timeout. */
    if (w->queues[NET_Q_IDLE].timeout_ms > DRAIN_LINGER_MS)
        w->queues[NET_Q_IDLE].timeout_ms = DRAIN_LINGER_MS;
}

void net_worker_wake(struct net_worker *w)
{
    uint64_t one = 1;
    ssize_t n = write(w->wake_fd, &one, sizeof(one));
    (void)n; /* a full counter already means "wake up" */
}

/* ---- the worker ---- */

int net_worker_init(struct net_worker *w, unsigned id, const struct net_config *cfg,
                    const struct net_conn_ops *ops, void *ctx,
                    const struct net_transport *transport)
{
    int err;

    memset(w, 0, sizeof(*w));
    w->cfg = cfg;
    w->ops = ops;
    w->ctx = ctx;
    w->transport = transport;
    w->id = id;
    w->stats = obs_worker_slot(id);
    w->listen_fd = -1;
    w->io_size = NET_IO_SESSION_OFFSET + ((ops->session_size + 15) & ~(size_t)15) + cfg->in_cap;
    for (int q = 0; q < NET_Q_COUNT; q++)
        w->queues[q].head = w->queues[q].tail = -1;
    w->queues[NET_Q_IDLE].timeout_ms = cfg->keepalive_timeout_ms;
    w->queues[NET_Q_HEAD].timeout_ms = cfg->header_timeout_ms;
    w->queues[NET_Q_IO].timeout_ms = cfg->body_timeout_ms;
    w->accept_timer.cb = on_accept_timer;
    w->accept_timer.ud = w;
    w->tunnel_timer.cb = on_tunnel_timer;
    w->tunnel_timer.ud = w;
    w->tunnel_tick_ms = 1000;
    err = net_loop_init(&w->loop);
    if (err)
        return err;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0) {
        err = -errno;
        goto fini_loop;
    }
    w->wake_watch.fd = w->wake_fd;
    w->wake_watch.cb = on_wake;
    err = net_loop_add_watch(&w->loop, &w->wake_watch, EPOLLIN);
    if (err)
        goto close_wake;
    w->listen_watch.cb = on_listen;
    return 0;

close_wake:
    close(w->wake_fd);
fini_loop:
    net_loop_fini(&w->loop);
    return err;
}

int net_worker_listen(struct net_worker *w, int listen_fd)
{
    w->listen_fd = listen_fd;
    w->listen_watch.fd = listen_fd;
    return net_loop_add_watch(&w->loop, &w->listen_watch, EPOLLIN);
}

static void close_all(struct net_worker *w)
{
    for (int q = NET_Q_IDLE; q < NET_Q_COUNT; q++) {
        int32_t fd = w->queues[q].head;
        while (fd >= 0) {
            struct net_conn *c = conn_at(fd);
            fd = c->next;
            c->verdict = NET_CLOSE; /* forced: even a pending handler's connection goes */
            conn_close(w, c);
        }
    }
}

void net_worker_fini(struct net_worker *w)
{
    if (w->listen_fd >= 0)
        close(w->listen_fd);
    w->listen_fd = -1;
    while (w->io_free) {
        struct net_io *io = w->io_free;
        w->io_free = io->next_free;
        w->ops->session_fini(w->ctx, io);
        mem_buf_fini(&io->out, MEM_OUT);
        mem_free(MEM_IO, io, w->io_size);
    }
    w->n_io_free = 0;
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    w->wake_fd = -1;
    net_loop_fini(&w->loop);
}

void net_worker_run(struct net_worker *w)
{
    mem_thread_slot(w->id + 1);
    while (!w->stop) {
        int err = net_loop_poll(&w->loop, next_wait_ms(w), on_conn_event, w);
        if (err < 0)
            break; /* the epoll fd itself is broken: nothing sane is left to do */
        expire_queues(w);
        if (w->draining &&
            (w->n_conns == 0 || net_time_reached(w->loop.now_ms, w->drain_deadline_ms)))
            w->stop = true;
    }
    close_all(w);
}
