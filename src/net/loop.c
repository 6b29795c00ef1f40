/* net/loop.c: epoll and a binary min-heap of one-shot timers (handler timers are few; connection
 * timeouts live in the worker's FIFO queues, which need no heap because each queue has one fixed
 * timeout). */
#include "net/loop.h"

#include "mem/mem.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

enum { POLL_BATCH = 256 };

static uint64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t net_loop_clock_us(const struct net_loop *l)
{
    return monotonic_us() - l->base_ms * 1000;
}

/* Once per batch of events: timeouts, request start times and the Date header all read this. */
void net_loop_update_time(struct net_loop *l)
{
    struct timespec ts;
    l->now_us = net_loop_clock_us(l);
    l->now_ms = (uint32_t)(l->now_us / 1000);
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    l->now_sec = ts.tv_sec;
}

int net_loop_init(struct net_loop *l)
{
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        return -errno;
    l->base_ms = monotonic_us() / 1000;
    l->heap = NULL;
    l->n_timers = l->cap_timers = 0;
    l->active = l->closing = NULL;
    l->n_active = 0;
    l->polling = false;
    l->work = NULL;
    net_loop_update_time(l);
    return 0;
}

/* ---- the application's handles ---- */

void net_loop_handle_add(struct net_loop *l, struct net_handle *h)
{
    h->prev = NULL;
    h->next = l->active;
    if (l->active)
        l->active->prev = h;
    l->active = h;
    l->n_active++;
}

static void free_closing(struct net_loop *l)
{
    while (l->closing) {
        struct net_handle *h = l->closing;
        l->closing = h->next;
        h->free(h);
    }
}

void net_loop_handle_close(struct net_loop *l, struct net_handle *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else
        l->active = h->next;
    if (h->next)
        h->next->prev = h->prev;
    l->n_active--;
    h->prev = NULL;
    h->next = l->closing;
    l->closing = h;
    if (!l->polling)
        free_closing(l);
}

bool net_loop_alive(const struct net_loop *l)
{
    return l->n_timers > 0 || l->n_active > 0 || net_work_outstanding(l) > 0;
}

void net_loop_fini(struct net_loop *l)
{
    net_work_inbox_free(l); /* its done callbacks may stop handles */
    free_closing(l);
    while (l->active) /* handles the application never stopped: free, do not call */
        net_loop_handle_close(l, l->active);
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
    mem_free(MEM_LOOP, l->heap, l->cap_timers * sizeof(*l->heap));
    l->heap = NULL;
    l->n_timers = l->cap_timers = 0;
}

int net_loop_add_conn(struct net_loop *l, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.u64 = ((uint64_t)fd << 1) | 1};
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int net_loop_add_watch(struct net_loop *l, struct net_watch *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev) ? -errno : 0;
}

int net_loop_mod_watch(struct net_loop *l, struct net_watch *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) ? -errno : 0;
}

int net_loop_del(struct net_loop *l, int fd)
{
    return epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) ? -errno : 0;
}

/* ---- timer heap: slot k (1-based) has children 2k and 2k+1 ---- */

static bool earlier(const struct net_timer *a, const struct net_timer *b)
{
    return (int32_t)(a->due_ms - b->due_ms) < 0;
}

static void place(struct net_loop *l, uint32_t slot, struct net_timer *t)
{
    l->heap[slot - 1] = t;
    t->slot = slot;
}

static void sift_up(struct net_loop *l, uint32_t slot)
{
    struct net_timer *t = l->heap[slot - 1];
    while (slot > 1 && earlier(t, l->heap[slot / 2 - 1])) {
        place(l, slot, l->heap[slot / 2 - 1]);
        slot /= 2;
    }
    place(l, slot, t);
}

static void sift_down(struct net_loop *l, uint32_t slot)
{
    struct net_timer *t = l->heap[slot - 1];
    for (;;) {
        uint32_t child = slot * 2;
        if (child > l->n_timers)
            break;
        if (child < l->n_timers && earlier(l->heap[child], l->heap[child - 1]))
            child++;
        if (!earlier(l->heap[child - 1], t))
            break;
        place(l, slot, l->heap[child - 1]);
        slot = child;
    }
    place(l, slot, t);
}

void net_timer_stop(struct net_loop *l, struct net_timer *t)
{
    uint32_t slot = t->slot;
    if (!slot)
        return;
    t->slot = 0;
    struct net_timer *last = l->heap[--l->n_timers];
    if (last == t)
        return;
    place(l, slot, last);
    sift_up(l, slot);
    sift_down(l, last->slot);
}

int net_timer_start(struct net_loop *l, struct net_timer *t, uint32_t delay_ms)
{
    net_timer_stop(l, t);
    if (l->n_timers == l->cap_timers) {
        uint32_t cap = l->cap_timers ? l->cap_timers * 2 : 16;
        struct net_timer **heap =
            mem_realloc(MEM_LOOP, l->heap, l->cap_timers * sizeof(*heap), cap * sizeof(*heap));
        if (!heap)
            return -ENOMEM;
        l->heap = heap;
        l->cap_timers = cap;
    }
    t->due_ms = l->now_ms + delay_ms;
    l->n_timers++;
    place(l, l->n_timers, t);
    sift_up(l, l->n_timers);
    return 0;
}

int net_loop_next_timer_ms(const struct net_loop *l)
{
    if (!l->n_timers)
        return -1;
    int32_t left = (int32_t)(l->heap[0]->due_ms - l->now_ms);
    return left > 0 ? left : 0;
}

void net_loop_run_timers(struct net_loop *l)
{
    while (l->n_timers && net_time_reached(l->now_ms, l->heap[0]->due_ms)) {
        struct net_timer *t = l->heap[0];
        net_timer_stop(l, t);
        t->cb(t); /* may start timers, including t itself */
    }
}

int net_loop_poll(struct net_loop *l, int timeout_ms, net_conn_event_fn on_conn, void *ctx)
{
    struct epoll_event events[POLL_BATCH];
    int n = epoll_wait(l->epfd, events, POLL_BATCH, timeout_ms);
    if (n < 0 && errno != EINTR)
        return -errno;
    net_loop_update_time(l);
    l->polling = true; /* handles stopped from here on are freed once every event is handled */
    for (int i = 0; i < n; i++) {
        uint64_t data = events[i].data.u64;
        if (data & 1)
            on_conn(ctx, (int)(data >> 1), events[i].events);
        else {
            struct net_watch *w = events[i].data.ptr;
            w->cb(w, events[i].events);
        }
    }
    net_loop_run_timers(l);
    l->polling = false;
    free_closing(l);
    return n < 0 ? 0 : n;
}
