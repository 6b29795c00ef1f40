/* obs/memlog.c: --log-memory: one thread that sleeps, wakes every interval, writes one
 * "[memory] rss=… tracked=… top: …" line to stdout and sleeps again. A thread of its own rather
 * than a worker's timer keeps the cost of a report (summing every counter slot, reading /proc) off
 * the request path, and its stack buffer and write(2) allocate nothing. One per process. */
#include "obs/memlog.h"

#include "obs/memory.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

static struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    uint32_t interval_ms;
    bool running;
    bool stop;
} memlog = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void add_ms(struct timespec *ts, uint32_t ms)
{
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void write_line(void)
{
    char line[512];
    size_t len = obs_memory_log_line(line, sizeof(line));
    ssize_t n = write(STDOUT_FILENO, line, len);
    (void)n; /* a lost log line is not worth a retry loop; pipes take it whole (< PIPE_BUF) */
}

static void *memlog_main(void *arg)
{
    struct timespec due;
    (void)arg;
    clock_gettime(CLOCK_MONOTONIC, &due);
    pthread_mutex_lock(&memlog.lock);
    while (!memlog.stop) {
        add_ms(&due, memlog.interval_ms); /* a fixed cadence: lines do not drift by their cost */
        while (!memlog.stop && pthread_cond_timedwait(&memlog.wake, &memlog.lock, &due) == 0)
            ;
        if (memlog.stop)
            break;
        pthread_mutex_unlock(&memlog.lock);
        write_line();
        pthread_mutex_lock(&memlog.lock);
    }
    pthread_mutex_unlock(&memlog.lock);
    return NULL;
}

static int init_cond(void)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
    if (rc)
        return -rc;
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (!rc)
        rc = pthread_cond_init(&memlog.wake, &attr);
    pthread_condattr_destroy(&attr);
    return -rc;
}

int obs_memlog_start(uint32_t interval_ms)
{
    sigset_t all, old;
    int rc;

    if (memlog.running || interval_ms == 0)
        return -EINVAL;
    rc = init_cond();
    if (rc)
        return rc;
    memlog.interval_ms = interval_ms;
    memlog.stop = false;
    /* created with every signal blocked: SIGTERM must reach the thread that sigwaits for it */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&memlog.thread, NULL, memlog_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        pthread_cond_destroy(&memlog.wake);
        return -rc;
    }
    memlog.running = true;
    return 0;
}

void obs_memlog_stop(void)
{
    if (!memlog.running)
        return;
    pthread_mutex_lock(&memlog.lock);
    memlog.stop = true;
    pthread_cond_signal(&memlog.wake);
    pthread_mutex_unlock(&memlog.lock);
    pthread_join(memlog.thread, NULL);
    pthread_cond_destroy(&memlog.wake);
    memlog.running = false;
}
