/* net/work.c: crest_work_queue, blocking calls on a bounded pool of threads (libuv's
 * uv_queue_work), for what has no non-blocking API (a library that blocks, a slow computation).
 * One pool per process, its threads started at the first call; its queue is bounded, so a burst
 * is refused (-EBUSY, which a handler answers 503) instead of growing memory and latency without
 * limit. A job is allocated and freed on its loop's thread (so its bytes count in that worker's
 * slot); the pool thread only runs it and hands it back through the loop's inbox, an eventfd in
 * the loop whose callback runs the done callbacks in order. */
#include "net/loop.h"

#include "crest.h"
#include "mem/mem.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct net_work_inbox;

struct job {
    struct job *next;
    struct net_work_inbox *inbox;
    crest_work_fn work;
    crest_work_done_fn done;
    void *ud;
};

/* A loop's side of the pool: jobs it queued that have not been handed back yet. */
struct net_work_inbox {
    struct net_watch watch; /* first: the loop hands it back */
    pthread_mutex_t lock;
    pthread_cond_t idle; /* signalled when `running` drops, for net_work_inbox_free */
    struct job *done_head, *done_tail;
    uint32_t outstanding; /* queued or running or done, not yet handed back (loop thread) */
    uint32_t running;     /* taken by a pool thread, not finished (under lock) */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t more;
    struct job *head, *tail;
    uint32_t queued, max_queued;
    uint32_t n_threads, started;
    bool stopping;
    pthread_t threads[NET_WORK_MAX_THREADS];
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .more = PTHREAD_COND_INITIALIZER,
    .max_queued = NET_WORK_DEFAULT_QUEUE,
    .n_threads = NET_WORK_DEFAULT_THREADS,
};

void net_work_setup(uint32_t threads, uint32_t max_queued)
{
    pthread_mutex_lock(&pool.lock);
    if (!pool.started) { /* sizes are fixed once the first thread runs */
        pool.n_threads = threads < 1                      ? 1
                         : threads > NET_WORK_MAX_THREADS ? NET_WORK_MAX_THREADS
                                                          : threads;
        pool.max_queued = max_queued ? max_queued : 1;
    }
    pthread_mutex_unlock(&pool.lock);
}

/* Under the inbox's lock to the end, the wake-up included: once `running` drops, the loop may
 * free the inbox (net_work_inbox_free), so nothing of it is touched after the unlock. */
static void hand_back(struct job *j)
{
    struct net_work_inbox *in = j->inbox;
    uint64_t one = 1;

    pthread_mutex_lock(&in->lock);
    j->next = NULL;
    if (in->done_tail)
        in->done_tail->next = j;
    else
        in->done_head = j;
    in->done_tail = j;
    ssize_t n = write(in->watch.fd, &one, sizeof(one));
    (void)n; /* EAGAIN: a full counter already wakes the loop */
    in->running--;
    pthread_cond_signal(&in->idle);
    pthread_mutex_unlock(&in->lock);
}

static void *pool_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (!pool.head && !pool.stopping)
            pthread_cond_wait(&pool.more, &pool.lock);
        if (!pool.head)
            break; /* stopping, and nothing left */
        struct job *j = pool.head;
        pool.head = j->next;
        if (!pool.head)
            pool.tail = NULL;
        pool.queued--;
        pthread_mutex_lock(&j->inbox->lock);
        j->inbox->running++;
        pthread_mutex_unlock(&j->inbox->lock);
        pthread_mutex_unlock(&pool.lock);
        j->work(j->ud);
        hand_back(j);
        pthread_mutex_lock(&pool.lock);
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

/* With pool.lock held. The pool's threads block every signal, as workers do: SIGTERM is the main
 * thread's to take. */
static int start_threads(void)
{
    sigset_t all, old;
    int err = 0;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (pool.started < pool.n_threads && !err) {
        err = -pthread_create(&pool.threads[pool.started], NULL, pool_thread, NULL);
        if (!err)
            pool.started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pool.started ? 0 : err;
}

void net_work_shutdown(void)
{
    pthread_mutex_lock(&pool.lock);
    pool.stopping = true;
    pthread_cond_broadcast(&pool.more);
    uint32_t n = pool.started;
    pthread_mutex_unlock(&pool.lock);
    for (uint32_t i = 0; i < n; i++)
        pthread_join(pool.threads[i], NULL);
    pthread_mutex_lock(&pool.lock);
    pool.started = 0;
    pool.stopping = false;
    pthread_mutex_unlock(&pool.lock);
}

/* ---- a loop's inbox ---- */

static void run_done(struct net_work_inbox *in, struct job *list, int status)
{
    while (list) {
        struct job *j = list;
        list = j->next;
        in->outstanding--;
        j->done(j->ud, status);
        mem_free(MEM_LOOP, j, sizeof(*j));
    }
}

static struct job *take_done(struct net_work_inbox *in)
{
    pthread_mutex_lock(&in->lock);
    struct job *list = in->done_head;
    in->done_head = in->done_tail = NULL;
    pthread_mutex_unlock(&in->lock);
    return list;
}

static void on_done(struct net_watch *w, uint32_t events)
{
    struct net_work_inbox *in = (struct net_work_inbox *)w;
    uint64_t n;

    (void)events;
    if (read(in->watch.fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        return;
    run_done(in, take_done(in), 0);
}

static struct net_work_inbox *inbox_of(struct net_loop *l)
{
    struct net_work_inbox *in = l->work;
    if (in)
        return in;
    in = mem_calloc(MEM_LOOP, 1, sizeof(*in));
    if (!in)
        return NULL;
    in->watch.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    in->watch.cb = on_done;
    if (in->watch.fd < 0 || net_loop_add_watch(l, &in->watch, EPOLLIN) != 0) {
        if (in->watch.fd >= 0)
            close(in->watch.fd);
        mem_free(MEM_LOOP, in, sizeof(*in));
        return NULL;
    }
    pthread_mutex_init(&in->lock, NULL);
    pthread_cond_init(&in->idle, NULL);
    l->work = in;
    return in;
}

uint32_t net_work_outstanding(const struct net_loop *l)
{
    return l->work ? l->work->outstanding : 0;
}

/* The loop is ending: its jobs still queued are taken back unrun, those running are waited for;
 * every done callback runs, with -ECANCELED for the unrun ones, so the application frees what they
 * hold. */
void net_work_inbox_free(struct net_loop *l)
{
    struct net_work_inbox *in = l->work;
    struct job *cancelled = NULL, **link;

    if (!in)
        return;
    pthread_mutex_lock(&pool.lock);
    for (link = &pool.head; *link;) {
        struct job *j = *link;
        if (j->inbox != in) {
            link = &j->next;
            continue;
        }
        *link = j->next;
        pool.queued--;
        j->next = cancelled;
        cancelled = j;
    }
    pool.tail = NULL;
    for (struct job *j = pool.head; j; j = j->next)
        pool.tail = j;
    pthread_mutex_unlock(&pool.lock);
    run_done(in, cancelled, -ECANCELED);
    pthread_mutex_lock(&in->lock);
    while (in->running)
        pthread_cond_wait(&in->idle, &in->lock);
    pthread_mutex_unlock(&in->lock);
    run_done(in, take_done(in), 0);
    (void)!net_loop_del(l, in->watch.fd);
    close(in->watch.fd);
    pthread_cond_destroy(&in->idle);
    pthread_mutex_destroy(&in->lock);
    mem_free(MEM_LOOP, in, sizeof(*in));
    l->work = NULL;
}

CREST_API int crest_work_queue(struct crest_loop *loop, crest_work_fn work, crest_work_done_fn done,
                               void *ud)
{
    struct net_loop *l = net_loop_of(loop);
    struct net_work_inbox *in;
    struct job *j;
    int err = 0;

    if (!loop || !work || !done)
        return -EINVAL;
    in = inbox_of(l);
    if (!in)
        return -ENOMEM;
    j = mem_alloc(MEM_LOOP, sizeof(*j));
    if (!j)
        return -ENOMEM;
    *j = (struct job){.inbox = in, .work = work, .done = done, .ud = ud};
    pthread_mutex_lock(&pool.lock);
    if (pool.queued >= pool.max_queued)
        err = -EBUSY;
    else if (pool.started < pool.n_threads)
        err = start_threads();
    if (!err) {
        if (pool.tail)
            pool.tail->next = j;
        else
            pool.head = j;
        pool.tail = j;
        pool.queued++;
        in->outstanding++;
        pthread_cond_signal(&pool.more);
    }
    pthread_mutex_unlock(&pool.lock);
    if (err)
        mem_free(MEM_LOOP, j, sizeof(*j));
    return err;
}
