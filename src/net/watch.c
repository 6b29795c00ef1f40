/* net/watch.c: crest_watch_*, an application's file descriptor in its worker's epoll loop
 * (libuv's uv_poll). Level-triggered, unlike connections: an application's client reads what it
 * wants and is called again while more is there, which is the contract a plain client expects. */
#include "net/loop.h"

#include "crest.h"
#include "mem/mem.h"

#include <errno.h>
#include <stddef.h>
#include <sys/epoll.h>

struct crest_watch {
    struct net_watch watch; /* first: the loop hands it back */
    struct net_handle handle;
    struct net_loop *loop;
    crest_watch_fn cb;
    void *ud;
    bool stopped;
};

static uint32_t epoll_events(unsigned events)
{
    return (events & CREST_READABLE ? EPOLLIN : 0u) | (events & CREST_WRITABLE ? EPOLLOUT : 0u);
}

static void on_event(struct net_watch *nw, uint32_t events)
{
    struct crest_watch *w = (struct crest_watch *)nw;
    unsigned what = 0;

    if (w->stopped)
        return; /* stopped earlier in this batch: freed when the batch ends */
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        what |= CREST_READABLE; /* a hang-up or error is seen by the next read */
    if (events & (EPOLLOUT | EPOLLERR))
        what |= CREST_WRITABLE;
    w->cb(w, w->watch.fd, what, w->ud);
}

static void free_watch(struct net_handle *h)
{
    struct crest_watch *w =
        (struct crest_watch *)((char *)h - offsetof(struct crest_watch, handle));
    mem_free(MEM_LOOP, w, sizeof(*w));
}

CREST_API int crest_watch_start(struct crest_loop *loop, int fd, unsigned events, crest_watch_fn cb,
                                void *ud, struct crest_watch **out)
{
    struct crest_watch *w;
    int err;

    if (!loop || fd < 0 || !cb || !out || (events & ~(unsigned)(CREST_READABLE | CREST_WRITABLE)))
        return -EINVAL;
    w = mem_calloc(MEM_LOOP, 1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    *w = (struct crest_watch){.watch = {.fd = fd, .cb = on_event},
                              .handle = {.free = free_watch},
                              .loop = net_loop_of(loop),
                              .cb = cb,
                              .ud = ud};
    err = net_loop_add_watch(w->loop, &w->watch, epoll_events(events));
    if (err) {
        mem_free(MEM_LOOP, w, sizeof(*w));
        return err;
    }
    net_loop_handle_add(w->loop, &w->handle);
    *out = w;
    return 0;
}

CREST_API int crest_watch_change(struct crest_watch *w, unsigned events)
{
    if (w->stopped || (events & ~(unsigned)(CREST_READABLE | CREST_WRITABLE)))
        return -EINVAL;
    return net_loop_mod_watch(w->loop, &w->watch, epoll_events(events));
}

CREST_API void crest_watch_stop(struct crest_watch *w)
{
    if (!w || w->stopped)
        return;
    w->stopped = true;
    (void)!net_loop_del(w->loop, w->watch.fd); /* fails only if the fd was closed first */
    net_loop_handle_close(w->loop, &w->handle);
}
