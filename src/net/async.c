/* net/async.c: crest_async_*, a wake-up of a worker's loop that any thread may send (libuv's
 * uv_async): an eventfd in the loop. Sends coalesce in the eventfd's counter, so a burst of them
 * costs one callback, and a send is one write(2): async-signal-safe, no lock. */
#include "net/loop.h"

#include "crest.h"
#include "mem/mem.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct crest_async {
    struct net_watch watch; /* first: the loop hands it back */
    struct net_handle handle;
    struct net_loop *loop;
    crest_async_fn cb;
    void *ud;
    bool stopped;
};

static void on_wake(struct net_watch *nw, uint32_t events)
{
    struct crest_async *a = (struct crest_async *)nw;
    uint64_t n;

    (void)events;
    if (a->stopped)
        return;
    if (read(a->watch.fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
        return; /* EAGAIN: another turn took the count already */
    a->cb(a, a->ud);
}

static void free_async(struct net_handle *h)
{
    struct crest_async *a =
        (struct crest_async *)((char *)h - offsetof(struct crest_async, handle));
    close(a->watch.fd);
    mem_free(MEM_LOOP, a, sizeof(*a));
}

CREST_API int crest_async_start(struct crest_loop *loop, crest_async_fn cb, void *ud,
                                struct crest_async **out)
{
    struct crest_async *a;
    int fd, err;

    if (!loop || !cb || !out)
        return -EINVAL;
    a = mem_calloc(MEM_LOOP, 1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
        err = -errno;
        goto free_a;
    }
    *a = (struct crest_async){.watch = {.fd = fd, .cb = on_wake},
                              .handle = {.free = free_async},
                              .loop = net_loop_of(loop),
                              .cb = cb,
                              .ud = ud};
    err = net_loop_add_watch(a->loop, &a->watch, EPOLLIN);
    if (err)
        goto close_fd;
    net_loop_handle_add(a->loop, &a->handle);
    *out = a;
    return 0;

close_fd:
    close(fd);
free_a:
    mem_free(MEM_LOOP, a, sizeof(*a));
    return err;
}

CREST_API void crest_async_send(struct crest_async *a)
{
    uint64_t one = 1;
    ssize_t n = write(a->watch.fd, &one, sizeof(one));
    (void)n; /* EAGAIN: the counter is full, which already means "wake up" */
}

CREST_API void crest_async_stop(struct crest_async *a)
{
    if (!a || a->stopped)
        return;
    a->stopped = true;
    (void)!net_loop_del(a->loop, a->watch.fd);
    net_loop_handle_close(a->loop, &a->handle);
}
