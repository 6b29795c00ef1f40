/* tests/unit/rss_probe.h: what two tests of RSS share (issue 13): the exact figure the kernel
 * gives by walking every mapping (smaps_rollup's Rss), and a thread that maps and touches 8 MiB,
 * then one more page at a time, stopping after each step until the test has compared. */
#ifndef CREST_TESTS_RSS_PROBE_H
#define CREST_TESTS_RSS_PROBE_H

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { TOUCH_STEPS = 40 }; /* more than a per-CPU counter batch (32 pages on 2 CPUs) */

/* Rss of /proc/self/smaps_rollup in bytes. */
static inline uint64_t smaps_rss(void)
{
    char buf[4096];
    int fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    assert_true(n > 0);
    buf[n] = '\0';
    const char *line = strstr(buf, "\nRss:");
    assert_non_null(line);
    return (uint64_t)strtoull(line + 5, NULL, 10) * 1024;
}

struct toucher {
    pthread_t thread;
    int step[2], ack[2];
};

static inline void *toucher_main(void *arg)
{
    struct toucher *t = arg;
    size_t size = (8u << 20) + TOUCH_STEPS * 4096;
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char c;
    assert_true(p != MAP_FAILED);
    for (size_t i = 0; i < (8u << 20); i += 4096)
        p[i] = 1;
    for (int k = 0; k <= TOUCH_STEPS; k++) {
        if (k > 0)
            p[(8u << 20) + (size_t)(k - 1) * 4096] = 1;
        assert_int_equal(write(t->step[1], "x", 1), 1);
        assert_int_equal(read(t->ack[0], &c, 1), 1);
    }
    munmap(p, size);
    return NULL;
}

static inline void toucher_start(struct toucher *t)
{
    assert_int_equal(pipe(t->step), 0);
    assert_int_equal(pipe(t->ack), 0);
    assert_int_equal(pthread_create(&t->thread, NULL, toucher_main, t), 0);
}

/* Waits for the toucher's next step (0: 8 MiB touched; k: and k more pages). */
static inline void toucher_wait(struct toucher *t)
{
    char c;
    assert_int_equal(read(t->step[0], &c, 1), 1);
}

static inline void toucher_next(struct toucher *t)
{
    assert_int_equal(write(t->ack[1], "x", 1), 1);
}

static inline void toucher_join(struct toucher *t)
{
    assert_int_equal(pthread_join(t->thread, NULL), 0);
    for (int i = 0; i < 2; i++) {
        close(t->step[i]);
        close(t->ack[i]);
    }
}

#endif
