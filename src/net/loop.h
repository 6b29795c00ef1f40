/* net/loop.h: one epoll instance and one timer heap, owned by one thread. The loop knows no
 * connection or request: connection fds are handed back to the caller's callback, anything else
 * registered is a struct net_watch with its own callback (how a database socket will join the
 * loop). Time is a millisecond counter read once per iteration. */
#ifndef CREST_NET_LOOP_H
#define CREST_NET_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct net_watch;
typedef void (*net_watch_fn)(struct net_watch *w, uint32_t events);

/* A non-connection fd in the loop. Pointer-aligned, so the low bit of epoll data tells a watch
 * from a connection fd (stored as fd << 1 | 1). */
struct net_watch {
    int fd;
    net_watch_fn cb;
};

struct net_timer;
typedef void (*net_timer_fn)(struct net_timer *t);

/* A one-shot timer; storage is the caller's, as with libuv handles. */
struct net_timer {
    uint32_t due_ms;
    uint32_t slot; /* index in the heap + 1; 0 when not scheduled */
    net_timer_fn cb;
    void *ud;
};

typedef void (*net_conn_event_fn)(void *ctx, int fd, uint32_t events);

/* A handle of crest.h's loop API (crest_watch, crest_timer, crest_async) as the loop tracks it:
 * in the active list while started, then in the closing list until the end of the current poll,
 * so that a callback may stop its own handle, or one whose event comes later in the same batch,
 * and no freed memory is ever touched. net_loop_fini frees what the application left. */
struct net_handle {
    struct net_handle *prev, *next;
    void (*free)(struct net_handle *h); /* releases the handle's fd and memory */
};

struct net_loop {
    int epfd;
    uint32_t now_ms; /* monotonic milliseconds since init, updated by net_loop_poll */
    uint64_t now_us; /* the same instant in microseconds (when this batch of events arrived) */
    time_t now_sec;  /* wall-clock seconds, for the Date header */
    uint64_t base_ms;
    struct net_timer **heap;
    uint32_t n_timers;
    uint32_t cap_timers;
    struct net_handle *active;  /* the application's started handles */
    struct net_handle *closing; /* stopped this turn, freed when the poll ends */
    uint32_t n_active;
    bool polling; /* inside net_loop_poll: frees of closed handles wait for its end */
    struct net_work_inbox *work; /* jobs this loop gave the pool (net/work.c), or NULL */
};

/* crest.h's opaque struct crest_loop is a struct net_loop: what a worker start hook receives and
 * hands back to the libcrest parts (the PostgreSQL store) that register fds and timers in it. */
struct crest_loop;
static inline struct crest_loop *net_loop_public(struct net_loop *l)
{
    return (struct crest_loop *)l;
}
static inline struct net_loop *net_loop_of(struct crest_loop *l)
{
    return (struct net_loop *)l;
}

int net_loop_init(struct net_loop *l);
void net_loop_fini(struct net_loop *l);
void net_loop_update_time(struct net_loop *l);
/* Monotonic microseconds on the loop's clock, read now (for durations). */
uint64_t net_loop_clock_us(const struct net_loop *l);

/* Registers fd for events. Connection fds use EPOLLET and are reported to on_conn. */
int net_loop_add_conn(struct net_loop *l, int fd, uint32_t events);
int net_loop_add_watch(struct net_loop *l, struct net_watch *w, uint32_t events);
int net_loop_mod_watch(struct net_loop *l, struct net_watch *w, uint32_t events);
int net_loop_del(struct net_loop *l, int fd);

/* 0, -ENOMEM. Restarting a scheduled timer reschedules it. */
int net_timer_start(struct net_loop *l, struct net_timer *t, uint32_t delay_ms);
void net_timer_stop(struct net_loop *l, struct net_timer *t);
/* Milliseconds until the first timer is due (0 if overdue), or -1 when none is scheduled. */
int net_loop_next_timer_ms(const struct net_loop *l);
/* Runs the callbacks of the timers that are due. */
void net_loop_run_timers(struct net_loop *l);

/* Adds an application handle to the active list (net/watch.c, net/timer.c, net/async.c). */
void net_loop_handle_add(struct net_loop *l, struct net_handle *h);
/* Moves it to the closing list: its free runs when the current poll ends (or at once outside a
 * poll, when no callback can be running), never twice. */
void net_loop_handle_close(struct net_loop *l, struct net_handle *h);
/* Whether anything but connections can still wake the loop: a timer or an application handle
 * (the test client asks before it waits for a pending handler). */
bool net_loop_alive(const struct net_loop *l);

/* net/work.c: the process's pool for blocking calls (crest_work_queue). Sizes are set once,
 * before the first job (crest_serve sets them from its configuration); shutdown joins the threads
 * once nothing will queue more (a later job starts them again). */
enum {
    NET_WORK_MAX_THREADS = 64,
    NET_WORK_DEFAULT_THREADS = 4,
    NET_WORK_DEFAULT_QUEUE = 256,
};
void net_work_setup(uint32_t threads, uint32_t max_queued);
void net_work_shutdown(void);
/* Jobs of l not yet handed back (their done callback not run). */
uint32_t net_work_outstanding(const struct net_loop *l);
/* At the loop's end: jobs still queued are cancelled, running ones waited for, every done
 * callback run. */
void net_work_inbox_free(struct net_loop *l);

/* Waits up to timeout_ms (-1: no limit) for events and dispatches them: connection fds to on_conn,
 * watches to their callbacks; then due timers. Returns the number of events, or a negative errno
 * other than EINTR. */
int net_loop_poll(struct net_loop *l, int timeout_ms, net_conn_event_fn on_conn, void *ctx);

/* Wrap-safe "a is at or before b" for the millisecond clock. */
static inline bool net_time_reached(uint32_t now, uint32_t due)
{
    return (int32_t)(now - due) >= 0;
}

#endif
