/* net/worker.h: one thread = one epoll loop, one SO_REUSEPORT listener and the connections it
 * accepted. Pools, timers and memory counters are per worker, so no request takes a lock.
 * Parsing is http's job, reached through struct net_conn_ops. */
#ifndef CREST_NET_WORKER_H
#define CREST_NET_WORKER_H

#include "net/conn.h"
#include "net/loop.h"
#include "obs/stats.h"

#include <pthread.h>
#include <stdbool.h>

enum { NET_MAX_WORKERS = 255 };

struct net_config {
    const char *host;
    uint16_t port;
    int backlog;
    unsigned workers;
    uint32_t keepalive_timeout_ms;
    uint32_t header_timeout_ms;
    uint32_t body_timeout_ms;
    uint32_t shutdown_timeout_ms;
    uint32_t in_cap;   /* read buffer bytes per active connection */
    uint32_t io_cache; /* io blocks a worker keeps for reuse */
};

struct net_queue {
    int32_t head; /* fds; -1 when empty */
    int32_t tail;
    uint32_t timeout_ms;
};

struct net_worker {
    struct net_loop loop;
    const struct net_config *cfg;
    const struct net_conn_ops *ops;
    void *ctx;
    const struct net_transport *transport; /* what carries this worker's connections */
    unsigned id;
    int listen_fd;
    int wake_fd;
    struct net_watch listen_watch;
    struct net_watch wake_watch;
    struct net_timer accept_timer;
    bool accept_paused;
    bool draining;
    bool stop;
    uint32_t drain_deadline_ms;
    struct net_queue queues[NET_Q_COUNT];
    struct net_io *io_free;
    uint32_t n_io_free;
    size_t io_size;
    uint32_t n_conns;
    struct net_timer tunnel_timer; /* ticks the tunnels while there are some */
    uint32_t tunnel_tick_ms;       /* how often: the finest any tunnel asked for, 1000 at most */
    struct obs_worker *stats;      /* this worker's slot of /metrics figures */
    void *app_data;                /* the application's per-worker state: opaque here */
    pthread_t thread;
};

/* Prepares a worker without a listener or thread (what the in-process test client runs, with a
 * transport of its own); net_server_run's workers carry sockets (net_socket_transport). */
int net_worker_init(struct net_worker *w, unsigned id, const struct net_config *cfg,
                    const struct net_conn_ops *ops, void *ctx,
                    const struct net_transport *transport);
void net_worker_fini(struct net_worker *w);

/* Starts accepting on a bound, listening socket, which the worker owns from then on. */
int net_worker_listen(struct net_worker *w, int listen_fd);

/* Runs the loop until the worker drained after net_worker_wake, or was stopped. */
void net_worker_run(struct net_worker *w);

/* Whether the worker is shutting down: responses should say Connection: close. */
static inline bool net_worker_draining(const struct net_worker *w)
{
    return w->draining;
}

/* Borrow and return io blocks (exported for drivers outside net: the test client's). */
struct net_io *net_io_get(struct net_worker *w);
void net_io_put(struct net_worker *w, struct net_io *io);
/* Sends len bytes of fd from off after what io->out holds, with sendfile (no copy through
 * user space), and takes fd: it is closed once sent, or when the io block goes back. Until then
 * the session appends nothing more (its on_input sees io->file_open). */
void net_io_take_file(struct net_io *io, int fd, int64_t off, uint64_t len);
/* Closes the file of io, if any. */
void net_io_close_file(struct net_io *io);

/* A pending handler of c finished: c wants input again. When a driver is running c
 * (NET_CONN_RUNNING) that is all, and the driver goes on; otherwise the worker runs c at once:
 * flushes its response and continues with the connection. */
void net_conn_resume(struct net_worker *w, struct net_conn *c);

/* Hands c over to t (the session said NET_TAKEN): the io block goes back, c joins the tunnel
 * queue, and t->ops->event runs once at once (to write what the session left, read what follows).
 */
void net_conn_take(struct net_worker *w, struct net_conn *c, struct net_tunnel *t);
/* Closes a tunnel's connection: t->ops->close, then the socket. */
void net_tunnel_close(struct net_worker *w, struct net_conn *c);
/* Ticks the worker's tunnels at least every tick_ms (the finest asked for wins). */
void net_tunnel_tick_at_most(struct net_worker *w, uint32_t tick_ms);

/* The fd-indexed connection table, shared by all workers (each fd belongs to one of them). */
int net_conn_table_init(uint32_t n_fds);
void net_conn_table_fini(void);

/* Asks a worker thread to drain and exit (async-signal-safe: one write to an eventfd). */
void net_worker_wake(struct net_worker *w);

#endif
