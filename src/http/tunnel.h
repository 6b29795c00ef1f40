/* http/tunnel.h: a connection taken over from HTTP by a protocol of its own (a WebSocket after its
 * 101, a Server-Sent Events stream after its head). What it holds is this struct and what the
 * protocol adds: no io block, no read buffer while idle, an output queue of shared messages
 * (http_msg: one encoded frame or event referenced by every recipient's queue, never copied per
 * recipient), bounded (a reader too slow to keep up is closed, not buffered for). */
#ifndef CREST_HTTP_TUNNEL_H
#define CREST_HTTP_TUNNEL_H

#include "mem/buf.h"
#include "net/conn.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Encoded bytes, immutable once built, shared by reference between queues and threads. */
struct http_msg {
    _Atomic uint32_t refs;
    uint8_t tag;   /* enum mem_tag it is counted under */
    uint8_t front; /* framing bytes at the front that an unframed reader skips (SSE's chunk size) */
    uint8_t back;  /* and at the end (the chunk's CRLF) */
    uint32_t len;  /* bytes of data */
    char data[];
};

/* A message of len bytes (to fill) with one reference; NULL when out of memory. */
struct http_msg *http_msg_new(enum mem_tag tag, size_t len);
void http_msg_ref(struct http_msg *m);
/* Drops a reference (any thread); the last one frees it. */
void http_msg_unref(struct http_msg *m);

struct http_tunnel;
struct http_hub_slot;

/* The protocol on top. */
struct http_tunnel_kind {
    /* Bytes arrived (buf is writable: a frame may be unmasked in place). Sets *used to the bytes
     * consumed (the rest comes back with more); 0, or -1 when the connection must close now. */
    int (*input)(struct http_tunnel *t, char *buf, size_t len, size_t *used);
    void (*tick)(struct http_tunnel *t, uint32_t now_ms);
    void (*drain)(struct http_tunnel *t);  /* the server is shutting down */
    void (*closed)(struct http_tunnel *t); /* the connection is gone: tell the app, free t */
};

struct http_qnode {
    struct http_msg *m;
    struct http_qnode *next;
};

struct http_tunnel {
    struct net_tunnel base; /* first: net hands it back */
    const struct http_tunnel_kind *kind;
    struct net_worker *w; /* NULL until the take */
    struct net_conn *c;
    struct http_qnode *head, *tail;
    uint32_t queued;     /* bytes queued and not yet written */
    uint32_t max_queued; /* past it, the reader is too slow: closed */
    uint32_t head_off;   /* bytes of the head message written */
    uint32_t last_rx_ms, last_tx_ms;
    uint32_t max_input; /* bytes a partial frame may hold */
    struct mem_buf in;  /* a partial frame; empty (no storage) otherwise */
    uint8_t tag;        /* enum mem_tag of the queue nodes and the partial frame */
    bool unframed;      /* skip the messages' framing bytes (SSE to an HTTP/1.0 client) */
    bool ending;        /* close once the queue is written */
    bool dead;          /* close at the next chance (from its own event or tick) */
    bool gone;          /* the connection is closed, or closing: nothing more is sent */
    struct http_hub_slot *hub;
    struct http_tunnel *hub_prev, *hub_next;
};

/* w: the worker of the request that starts it (the connection comes with the take). */
void http_tunnel_init(struct http_tunnel *t, const struct http_tunnel_kind *kind, enum mem_tag tag,
                      struct net_worker *w, uint32_t max_queued, uint32_t max_input);

/* The session's hand-over, in two steps. First, while the connection is still HTTP's, the output
 * it had not written (earlier pipelined answers, then the 101 or the stream's head) goes before
 * anything queued: when that memory is refused, the session can still answer 503 instead. 0,
 * -ENOMEM. Then, at the take, the connection, and the input it had not consumed, read first. 0,
 * -ENOMEM. */
int http_tunnel_queue_out(struct http_tunnel *t, const char *out, size_t out_len);
int http_tunnel_adopt(struct http_tunnel *t, struct net_worker *w, struct net_conn *c,
                      const char *in, size_t in_len);

/* Queues m (a reference is taken) and writes what the socket takes. 0; -EPIPE (the connection
 * is going); -ENOBUFS (the queue is full: the reader is too slow and the connection is closed);
 * -ENOMEM. */
int http_tunnel_send(struct http_tunnel *t, struct http_msg *m);
/* Copies bytes into a message of their own and queues it. */
int http_tunnel_send_bytes(struct http_tunnel *t, const void *p, size_t len);

/* Closes the connection once the queue is written. */
void http_tunnel_end(struct http_tunnel *t);
/* Closes it as soon as possible, dropping the queue. */
void http_tunnel_abort(struct http_tunnel *t);

/* The worker's clock, in ms. */
uint32_t http_tunnel_now_ms(const struct http_tunnel *t);

/* Releases what the tunnel holds (queue, partial frame, hub membership); the kind frees t. */
void http_tunnel_fini(struct http_tunnel *t);

extern const struct net_tunnel_ops http_tunnel_ops;

#endif
