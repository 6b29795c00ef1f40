/* net/timer.c: crest_timer_*, an application's one-shot or repeating timer on its worker's loop
 * (libuv's uv_timer), on the loop's timer heap. The handle lives until crest_timer_stop, also
 * after a one-shot timer fired, so a pointer the application keeps never dangles. */
#include "net/loop.h"

#include "crest.h"
#include "mem/mem.h"

#include <errno.h>
#include <stddef.h>

struct crest_timer {
    struct net_timer timer;
    struct net_handle handle;
    struct net_loop *loop;
    uint32_t repeat_ms;
    crest_timer_fn cb;
    void *ud;
    bool stopped;
};

static void on_due(struct net_timer *t)
{
    struct crest_timer *ct = t->ud;

    if (ct->stopped)
        return;
    /* rescheduled before the call, so that the callback may stop it (freed after the poll) */
    if (ct->repeat_ms && net_timer_start(ct->loop, &ct->timer, ct->repeat_ms) != 0)
        ct->repeat_ms = 0; /* no room in the heap: this call is the last */
    ct->cb(ct, ct->ud);
}

static void free_timer(struct net_handle *h)
{
    struct crest_timer *t =
        (struct crest_timer *)((char *)h - offsetof(struct crest_timer, handle));
    mem_free(MEM_LOOP, t, sizeof(*t));
}

CREST_API int crest_timer_start(struct crest_loop *loop, uint32_t delay_ms, uint32_t repeat_ms,
                                crest_timer_fn cb, void *ud, struct crest_timer **out)
{
    struct crest_timer *t;
    int err;

    if (!loop || !cb || !out)
        return -EINVAL;
    t = mem_calloc(MEM_LOOP, 1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    *t = (struct crest_timer){.timer = {.cb = on_due},
                              .handle = {.free = free_timer},
                              .loop = net_loop_of(loop),
                              .repeat_ms = repeat_ms,
                              .cb = cb,
                              .ud = ud};
    t->timer.ud = t;
    err = net_timer_start(t->loop, &t->timer, delay_ms);
    if (err) {
        mem_free(MEM_LOOP, t, sizeof(*t));
        return err;
    }
    net_loop_handle_add(t->loop, &t->handle);
    *out = t;
    return 0;
}

CREST_API void crest_timer_stop(struct crest_timer *t)
{
    if (!t || t->stopped)
        return;
    t->stopped = true;
    net_timer_stop(t->loop, &t->timer);
    net_loop_handle_close(t->loop, &t->handle);
}
