/* net/conn.h: what the engine keeps per connection. An idle keep-alive connection owns only its
 * 32-byte struct net_conn in the fd-indexed table: no buffer. While a request is read or a
 * response is pending it borrows a struct net_io block from its worker's pool (read buffer,
 * output buffer and the upper layer's session state), and gives it back when it goes idle
 * (nginx's ngx_http_set_keepalive does the same, for the same reason: footprint). */
#ifndef CREST_NET_CONN_H
#define CREST_NET_CONN_H

#include "mem/buf.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct net_worker;

/* Each connection is in exactly one queue. Queues with a timeout are FIFO by deadline because
 * every member got the same timeout when it entered: O(1) insert, remove and expiry, no heap. */
enum net_queue_id {
    NET_Q_NONE,
    NET_Q_IDLE,   /* between requests, no buffers: keep-alive timeout */
    NET_Q_HEAD,   /* reading a request head: header timeout from its first byte */
    NET_Q_IO,     /* reading a body or writing a response: body timeout between progress */
    NET_Q_BUSY,   /* a handler is pending: no timeout at this level */
    NET_Q_TUNNEL, /* taken over by a tunnel (WebSocket, event stream): its own timeouts, ticked */
    NET_Q_COUNT,
};

enum net_conn_flag {
    NET_CONN_CLOSING = 1 << 0, /* close once the output is written */
    NET_CONN_EOF = 1 << 1,     /* the peer will send nothing more */
    NET_CONN_LINGER = 1 << 2,  /* output done, discarding input before close */
    NET_CONN_RUNNING = 1 << 3, /* a driver is running it: a completion only marks it DIRTY */
    NET_CONN_FRESH = 1 << 4,   /* accepted, no byte received yet */
    NET_CONN_DIRTY = 1 << 5,   /* input or output changed since on_input last ran */
    NET_CONN_TUNNEL = 1 << 6,  /* taken over by a tunnel: c->tunnel, no io block */
};

/* What the upper layer needs next, returned by its on_input. */
enum net_verdict {
    NET_WANT_REQUEST, /* between requests with nothing buffered: the connection may idle */
    NET_WANT_HEAD,    /* in the middle of a request head */
    NET_WANT_BODY,    /* in the middle of a body */
    NET_BUSY,         /* a handler is pending; it will call net_conn_resume */
    NET_CLOSE,        /* close once the output is written */
    NET_TAKEN,        /* the connection leaves HTTP for a tunnel (net_conn_ops.take) */
};

/* A connection taken over from the session (an upgrade to WebSocket, a Server-Sent Events
 * stream): it gives back its io block and from then on is driven by its tunnel, whose state is
 * all it holds, so an idle one costs its net_conn and that state only. The tunnel reads and
 * writes the socket itself (edge-triggered: until EAGAIN). */
struct net_tunnel;
struct net_conn;
struct net_tunnel_ops {
    /* The socket is readable or writable (epoll events); also called once at the take. */
    void (*event)(struct net_tunnel *t, struct net_worker *w, struct net_conn *c, uint32_t events);
    /* Every net_worker.tunnel_tick_ms: the tunnel's own timeouts (idle, ping, heartbeat). */
    void (*tick)(struct net_tunnel *t, struct net_worker *w, struct net_conn *c);
    /* The worker drains (SIGTERM): say goodbye and close soon (net_tunnel_close). */
    void (*drain)(struct net_tunnel *t, struct net_worker *w, struct net_conn *c);
    /* The connection is being closed: release t. No call on t follows. */
    void (*close)(struct net_tunnel *t, struct net_worker *w, struct net_conn *c);
};
struct net_tunnel {
    const struct net_tunnel_ops *ops;
};

struct net_io {
    struct mem_buf out; /* responses waiting to be written; capacity kept while pooled */
    uint32_t out_pos;   /* bytes of out already written */
    bool file_open;     /* a file's bytes follow out (net_io_take_file): file_fd is ours */
    int file_fd;
    int64_t file_off;   /* next byte of the file to send */
    uint64_t file_left; /* bytes of it still to send */
    uint32_t in_off;    /* bytes at the front of in already consumed */
    uint32_t in_len;    /* bytes in in */
    uint32_t in_cap;
    char *in; /* read buffer, inside this block */
    struct net_io *next_free;
    /* the upper layer's session state follows, at NET_IO_SESSION_OFFSET */
};

enum { NET_IO_SESSION_OFFSET = (sizeof(struct net_io) + 15) & ~(size_t)15 };

static inline void *net_io_session(struct net_io *io)
{
    return (char *)io + NET_IO_SESSION_OFFSET;
}

struct net_conn {
    union {
        struct net_io *io;         /* NULL while idle */
        struct net_tunnel *tunnel; /* NET_CONN_TUNNEL */
    };
    int32_t prev; /* queue links, as fds (lwan's layout): valid in the fd-indexed table */
    int32_t next;
    uint32_t deadline_ms;
    int32_t fd;
    uint8_t queue;   /* enum net_queue_id */
    uint8_t flags;   /* enum net_conn_flag */
    uint8_t verdict; /* enum net_verdict: what the session last asked for */
    uint8_t worker;
    uint32_t n_requests;
};

static_assert(sizeof(struct net_conn) == 32, "an idle connection costs 32 bytes: keep it so");

/* What carries a worker's connections, apart from the session that runs on them (libuv keeps a
 * stream's operations apart from its transport the same way). Every connection of a worker has
 * the transport named at net_worker_init: sockets (net_socket_transport, net/peer.c) for a worker
 * that listens, memory for the in-process test client (serve/testclient.c). Moving bytes is not in
 * the table, so the socket path makes direct calls: each transport has a driver of its own that
 * feeds on_input and takes the output (net/worker.c's conn_run, with send and read; the test
 * client's exchange). A driver sets NET_CONN_RUNNING while it runs a connection, and a handler's
 * completion then only marks the connection for it (net_conn_resume); a driver that waits for
 * completions itself (the test client, on its loop's timers) keeps the flag set throughout. */
struct net_transport {
    /* Whether c's peer is this host: what routes only local clients may see ask. */
    bool (*from_loopback)(const struct net_worker *w, const struct net_conn *c);
    /* The peer's address as text (net_conn_peer_name); NULL: the transport has none. */
    size_t (*peer_name)(const struct net_worker *w, const struct net_conn *c, char *out);
};

/* The upper layer (http) plugs in through this table, as Redis's networking hands ae.c its
 * handlers: net never sees a request. ctx is shared by all workers and read-only. */
struct net_conn_ops {
    size_t session_size;
    /* A connection took an io block: reset the session for a new request. */
    void (*session_start)(void *ctx, struct net_worker *w, struct net_conn *c);
    /* New input in io->in (or output drained): handle what is complete, append responses to
     * io->out, consume input by advancing io->in_off. */
    enum net_verdict (*on_input)(void *ctx, struct net_worker *w, struct net_conn *c);
    /* A HEAD or IO deadline passed; the session may append a last response (408). */
    void (*on_timeout)(void *ctx, struct net_worker *w, struct net_conn *c);
    /* The io block leaves the connection (idle or closed): drop per-request state. */
    void (*session_stop)(void *ctx, struct net_worker *w, struct net_conn *c);
    /* The io block is freed: release what the session cached in it. */
    void (*session_fini)(void *ctx, struct net_io *io);
    /* on_input said NET_TAKEN: the tunnel that takes the connection over, given the input not
     * consumed and the output not written yet (the io block goes back right after). */
    struct net_tunnel *(*take)(void *ctx, struct net_worker *w, struct net_conn *c);
};

#endif
