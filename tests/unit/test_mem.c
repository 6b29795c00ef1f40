/* tests/unit/test_mem.c: the accounting allocator of mem/mem.c. A live block counts the chunk the
 * heap holds for it (usable size plus glibc's 8-byte header), sized and unsized calls alike; every
 * free, realloc and refusal brings the figures back exactly; the budget refuses before malloc is
 * asked and keeps a worker's live bytes within its share; mem_run_transient runs its task on
 * another thread that counts in the caller's slot. Each test uses its own tag and slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <string.h>

#include "mem/mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static struct mem_tag_stats stats_of(enum mem_tag tag)
{
    struct mem_tag_stats s;
    mem_stats(tag, &s);
    return s;
}

static void test_block_counts_its_chunk_not_the_size_asked(void **state)
{
    static const size_t sizes[] = {1, 24, 25, 100, 1000, 4096, 70000, 1 << 20};
    (void)state;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        struct mem_tag_stats before = stats_of(MEM_TEST);
        int64_t tracked = mem_tracked_bytes();
        char *p = mem_alloc(MEM_TEST, n);
        assert_non_null(p);
        memset(p, 'x', n);
        size_t held = mem_block_bytes(p);
        assert_int_equal(held, malloc_usable_size(p) + sizeof(size_t));
        assert_true(held >= n + sizeof(size_t));
#ifndef UNDER_ASAN
        assert_true(held >= 32);
        if (n < 64 * 1024) /* a heap chunk: rounded to 16, at most 16 bytes of slack */
            assert_true(held % 16 == 0 && held <= ((n + 8 + 15) & ~(size_t)15) + 16);
#endif
        struct mem_tag_stats during = stats_of(MEM_TEST);
        assert_int_equal(during.live_bytes - before.live_bytes, (int64_t)held);
        assert_int_equal(during.live_blocks - before.live_blocks, 1);
        assert_int_equal(during.total_bytes - before.total_bytes, held);
        assert_int_equal(mem_tracked_bytes() - tracked, (int64_t)held);
        mem_free(MEM_TEST, p, n);
        struct mem_tag_stats after = stats_of(MEM_TEST);
        assert_int_equal(after.live_bytes, before.live_bytes);
        assert_int_equal(after.live_blocks, before.live_blocks);
        assert_int_equal(mem_tracked_bytes(), tracked);
    }
}

static void test_calloc_and_strdup_count_like_alloc(void **state)
{
    (void)state;
    struct mem_tag_stats before = stats_of(MEM_JSON);
    char *z = mem_calloc(MEM_JSON, 10, 33);
    char *s = mem_strdup(MEM_JSON, "forty-two");
    assert_non_null(z);
    assert_non_null(s);
    for (size_t i = 0; i < 330; i++)
        assert_int_equal(z[i], 0);
    assert_int_equal(stats_of(MEM_JSON).live_bytes - before.live_bytes,
                     (int64_t)(mem_block_bytes(z) + mem_block_bytes(s)));
    assert_null(mem_calloc(MEM_JSON, SIZE_MAX / 2, 3)); /* overflow: refused, nothing counted */
    mem_free(MEM_JSON, z, 330);
    mem_strfree(MEM_JSON, s);
    assert_int_equal(stats_of(MEM_JSON).live_bytes, before.live_bytes);
    assert_int_equal(stats_of(MEM_JSON).live_blocks, before.live_blocks);
}

static void test_realloc_counts_the_new_chunk_and_frees_back_to_zero(void **state)
{
    (void)state;
    struct mem_tag_stats before = stats_of(MEM_OUT);
    size_t n = 10;
    char *p = mem_realloc(MEM_OUT, NULL, 0, n); /* NULL: allocates */
    assert_non_null(p);
    for (size_t next = 17; next < 300000; next = next * 3 + 1) { /* grows past the mmap size */
        p = mem_realloc(MEM_OUT, p, n, next);
        assert_non_null(p);
        n = next;
        assert_int_equal(stats_of(MEM_OUT).live_bytes - before.live_bytes,
                         (int64_t)mem_block_bytes(p));
        assert_int_equal(stats_of(MEM_OUT).live_blocks - before.live_blocks, 1);
    }
    p = mem_realloc(MEM_OUT, p, n, 40); /* shrinks */
    assert_non_null(p);
    assert_int_equal(stats_of(MEM_OUT).live_bytes - before.live_bytes, (int64_t)mem_block_bytes(p));
    assert_null(mem_realloc(MEM_OUT, p, 40, 0)); /* 0: frees */
    assert_int_equal(stats_of(MEM_OUT).live_bytes, before.live_bytes);
    assert_int_equal(stats_of(MEM_OUT).live_blocks, before.live_blocks);
}

static void test_unsized_blocks_count_the_same_and_report_their_usable_size(void **state)
{
    (void)state;
    struct mem_tag_stats before = stats_of(MEM_SQLITE);
    char *p = mem_alloc_unsized(MEM_SQLITE, 100);
    assert_non_null(p);
    assert_int_equal(mem_size_unsized(p), malloc_usable_size(p));
    assert_int_equal(mem_block_bytes(p), mem_size_unsized(p) + sizeof(size_t));
    assert_int_equal(stats_of(MEM_SQLITE).live_bytes - before.live_bytes,
                     (int64_t)mem_block_bytes(p));
    p = mem_realloc_unsized(MEM_SQLITE, p, 5000);
    assert_non_null(p);
    assert_int_equal(stats_of(MEM_SQLITE).live_bytes - before.live_bytes,
                     (int64_t)mem_block_bytes(p));
    assert_null(mem_realloc_unsized(MEM_SQLITE, p, 0));
    assert_int_equal(stats_of(MEM_SQLITE).live_bytes, before.live_bytes);
    assert_int_equal(stats_of(MEM_SQLITE).live_blocks, before.live_blocks);
    assert_null(mem_alloc_unsized(MEM_SQLITE, 0));
    assert_int_equal(mem_size_unsized(NULL), 0);
    assert_int_equal(mem_block_bytes(NULL), 0);
}

/* A worker (slot 1) with a 64 KiB share: allocations are refused before its live bytes, which are
 * chunk bytes, pass the share, and each refusal is the budget's doing and counts nothing. */
static void test_budget_keeps_a_workers_chunk_bytes_within_its_share(void **state)
{
    enum { SHARE = 64 * 1024, BLOCK = 1000 };
    void *blocks[128];
    size_t n_blocks = 0;
    (void)state;
    mem_thread_slot(1);
    assert_int_equal(mem_budget_set((uint64_t)mem_tracked_bytes() + SHARE, 1), 0);
    struct mem_tag_stats before = stats_of(MEM_BODY);
    for (;;) {
        assert_true(n_blocks < sizeof(blocks) / sizeof(blocks[0]));
        void *p = mem_alloc(MEM_BODY, BLOCK);
        if (!p)
            break;
        blocks[n_blocks++] = p;
        assert_true(mem_budget_room() >= 0);
    }
    assert_true(mem_refused_by_budget());
    assert_int_equal(stats_of(MEM_BODY).live_blocks - before.live_blocks, (int64_t)n_blocks);
    int64_t live = stats_of(MEM_BODY).live_bytes - before.live_bytes;
    assert_true(live <= SHARE);
    assert_true(live > SHARE - 2 * (BLOCK + 32)); /* refused only near the end of the share */
    assert_null(mem_realloc(MEM_BODY, blocks[0], BLOCK, SHARE)); /* growth past it: refused */
    assert_true(mem_refused_by_budget());
    assert_int_equal(stats_of(MEM_BODY).live_bytes - before.live_bytes, live); /* still counted */
    /* waived (nested), for the answer of a write already committed: admitted and counted */
    mem_budget_waive(true);
    mem_budget_waive(true);
    mem_budget_waive(false);
    void *over = mem_alloc(MEM_BODY, BLOCK);
    assert_non_null(over);
    assert_int_equal(stats_of(MEM_BODY).live_bytes - before.live_bytes,
                     live + (int64_t)mem_block_bytes(over));
    mem_budget_waive(false);
    assert_null(mem_alloc(MEM_BODY, BLOCK)); /* the budget is back */
    mem_free(MEM_BODY, over, BLOCK);
    while (n_blocks)
        mem_free(MEM_BODY, blocks[--n_blocks], BLOCK);
    assert_int_equal(stats_of(MEM_BODY).live_bytes, before.live_bytes);
    assert_int_equal(mem_budget_set(0, 0), 0);
    assert_true(mem_budget_room() == INT64_MAX);
    mem_thread_slot(0);
}

struct task {
    pthread_t caller;
    bool other_thread;
    void *block;
};

static int alloc_task(void *ud)
{
    struct task *t = ud;
    t->other_thread = !pthread_equal(pthread_self(), t->caller);
    t->block = mem_alloc(MEM_TIMER, 200);
    return t->block ? 7 : -ENOMEM;
}

/* The task's allocation counts in the caller's slot, so a budget share of that slot applies. */
static void test_transient_task_runs_on_another_thread_in_the_callers_slot(void **state)
{
    struct task t = {.caller = pthread_self()};
    (void)state;
    mem_thread_slot(2);
    assert_int_equal(mem_budget_set((uint64_t)mem_tracked_bytes() + 100, 2), 0);
    assert_int_equal(mem_run_transient(alloc_task, &t), -ENOMEM); /* slot 2's 50-byte share */
    assert_true(t.other_thread);
    assert_int_equal(mem_budget_set(0, 0), 0);
    struct mem_tag_stats before = stats_of(MEM_TIMER);
    assert_int_equal(mem_run_transient(alloc_task, &t), 7);
    assert_non_null(t.block);
    assert_int_equal(stats_of(MEM_TIMER).live_bytes - before.live_bytes,
                     (int64_t)mem_block_bytes(t.block));
    mem_free(MEM_TIMER, t.block, 200); /* freed here, counted in the same slot */
    assert_int_equal(stats_of(MEM_TIMER).live_bytes, before.live_bytes);
    mem_thread_slot(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_counts_its_chunk_not_the_size_asked),
        cmocka_unit_test(test_calloc_and_strdup_count_like_alloc),
        cmocka_unit_test(test_realloc_counts_the_new_chunk_and_frees_back_to_zero),
        cmocka_unit_test(test_unsized_blocks_count_the_same_and_report_their_usable_size),
        cmocka_unit_test(test_budget_keeps_a_workers_chunk_bytes_within_its_share),
        cmocka_unit_test(test_transient_task_runs_on_another_thread_in_the_callers_slot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
