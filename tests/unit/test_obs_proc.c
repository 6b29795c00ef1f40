/* tests/unit/test_obs_proc.c: the /proc readers of obs/proc.c against this test process: figures
 * are plausible, agree with each other, and move when the process changes (an fd opened, a
 * thread started, memory touched). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "obs/proc.h"
#include "rss_probe.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static void test_proc_stat_reads_this_process(void **state)
{
    struct obs_proc_stat st;
    (void)state;
    assert_int_equal(obs_proc_stat(&st), 0);
    assert_true(st.threads >= 1);
    assert_true(st.vsize_bytes >= obs_rss_bytes());
    assert_true(st.cpu_seconds >= 0);
    /* started within the last hour, and not in the future (allow a clock tick of rounding) */
    double now = (double)time(NULL);
    assert_true(st.start_time_seconds <= now + 1);
    assert_true(st.start_time_seconds > now - 3600);
}

static void *park(void *arg)
{
    int *fds = arg;
    char c;
    ssize_t n = read(fds[0], &c, 1); /* until the test writes */
    (void)n;
    return NULL;
}

static void test_proc_stat_counts_a_new_thread(void **state)
{
    struct obs_proc_stat before, during;
    pthread_t t;
    int fds[2];
    (void)state;
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(obs_proc_stat(&before), 0);
    assert_int_equal(pthread_create(&t, NULL, park, fds), 0);
    assert_int_equal(obs_proc_stat(&during), 0);
    assert_int_equal(write(fds[1], "x", 1), 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(during.threads, before.threads + 1);
}

static void test_open_fds_counts_an_opened_file_but_not_its_own(void **state)
{
    uint64_t before, during, after;
    (void)state;
    assert_int_equal(obs_open_fds(&before), 0);
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(obs_open_fds(&during), 0);
    close(fd);
    assert_int_equal(obs_open_fds(&after), 0);
    assert_int_equal(during, before + 1);
    assert_int_equal(after, before);
    assert_true(before >= 3); /* stdin, stdout, stderr */
}

static void test_limits_match_getrlimit(void **state)
{
    struct rlimit nofile, as;
    (void)state;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &nofile), 0);
    assert_int_equal(getrlimit(RLIMIT_AS, &as), 0);
    assert_int_equal(obs_max_fds(), (uint64_t)nofile.rlim_cur);
    if (as.rlim_cur == RLIM_INFINITY)
        assert_true(obs_vm_max_bytes() == 18446744073709551615.0);
    else
        assert_true(obs_vm_max_bytes() == (double)as.rlim_cur);
}

static void test_peak_rss_is_at_least_rss_and_follows_touched_memory(void **state)
{
    const size_t n = 8 << 20;
    (void)state;
    uint64_t peak_before = obs_peak_rss_bytes();
    char *p = malloc(n);
    assert_non_null(p);
    memset(p, 1, n); /* touched, so resident */
    uint64_t rss = obs_rss_bytes();
    uint64_t peak = obs_peak_rss_bytes();
    free(p);
    assert_true(peak >= rss);
    assert_true(peak >= peak_before);
    assert_true(rss >= n);
}

/* issue 13: statm and stat's rss field lag behind by what the per-CPU counters of the CPU that
 * touched the memory have not folded in yet (up to a batch of pages, which one page at a time
 * walks through); VmRSS is summed when read. */
static void test_rss_agrees_with_smaps_rollup_after_another_thread_touches_8mib(void **state)
{
    struct toucher t;
    (void)state;
    toucher_start(&t);
    for (int k = 0; k <= TOUCH_STEPS; k++) {
        toucher_wait(&t);
        uint64_t before = smaps_rss(), rss = obs_rss_bytes(), after = smaps_rss();
        uint64_t lo = before < after ? before : after, hi = before < after ? after : before;
        if (rss * 100 < lo * 99 || rss * 100 > hi * 101)
            fail_msg("after 8 MiB and %d pages: obs_rss_bytes %llu, smaps_rollup Rss %llu..%llu: "
                     "more than 1 %% apart",
                     k, (unsigned long long)rss, (unsigned long long)lo, (unsigned long long)hi);
        assert_true(rss >= (8u << 20));
        toucher_next(&t);
    }
    toucher_join(&t);
}

static void test_smaps_gives_pss_and_uss_when_readable(void **state)
{
    struct obs_proc_smaps s;
    (void)state;
    if (access("/proc/self/smaps_rollup", R_OK) != 0)
        skip();
    assert_int_equal(obs_proc_smaps(&s), 0);
    assert_true(s.pss_bytes > 0);
    assert_true(s.uss_bytes > 0);
    assert_true(s.uss_bytes <= s.pss_bytes); /* private pages count whole in PSS too */
}

static void test_heap_bytes_grow_with_a_live_allocation(void **state)
{
    (void)state;
#ifdef UNDER_ASAN
    skip(); /* ASan's allocator replaces glibc's, whose mallinfo2 then sees none of it */
#endif
    uint64_t before = obs_heap_bytes();
    void *p = malloc(1 << 20); /* past the mmap threshold: hblkhd */
    assert_non_null(p);
    uint64_t during = obs_heap_bytes();
    free(p);
    assert_true(during >= before + (1 << 20));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proc_stat_reads_this_process),
        cmocka_unit_test(test_proc_stat_counts_a_new_thread),
        cmocka_unit_test(test_open_fds_counts_an_opened_file_but_not_its_own),
        cmocka_unit_test(test_limits_match_getrlimit),
        cmocka_unit_test(test_peak_rss_is_at_least_rss_and_follows_touched_memory),
        cmocka_unit_test(test_rss_agrees_with_smaps_rollup_after_another_thread_touches_8mib),
        cmocka_unit_test(test_smaps_gives_pss_and_uss_when_readable),
        cmocka_unit_test(test_heap_bytes_grow_with_a_live_allocation),
    };
    return cmocka_run_group_tests_name("obs_proc", tests, NULL, NULL);
}
