/* mem/mem.c: the accounting allocator over glibc malloc. Each thread counts into its own slot,
 * padded to a cache line so two workers never share one; readers sum the slots. Slot updates are
 * relaxed atomic loads and stores by the owning thread only, which compile to plain moves: exact
 * for the owner, a consistent-enough view for readers. A free on another thread than the
 * allocation simply makes one slot negative and another positive; the sum stays right.
 *
 * A block counts what the heap holds for it, not the size asked for: glibc's chunk, that is the
 * block's malloc_usable_size() plus the 8-byte size field in front of it. Asked-for sizes miss the
 * header and the rounding to 16 bytes (at least 32 per chunk): 1.5 to 3 % of the heap after a load
 * run of the items service, the more the more small blocks SQLite keeps. The chunk does not change
 * while the block lives, so reading it again at free time gives back exactly what was counted. */
#include "mem.h"

#include "counter.h"

#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct tag_counters {
    _Atomic int64_t live_bytes;
    _Atomic int64_t live_blocks;
    _Atomic uint64_t total_bytes;
    _Atomic uint64_t total_blocks;
    _Atomic int64_t peak_bytes; /* this slot's high-water mark of live_bytes */
};

struct slot {
    struct tag_counters tags[MEM_TAG_COUNT];
    _Atomic int64_t live_total; /* all tags: what the budget share is checked against */
    _Atomic int64_t share;      /* budget share of this slot; 0: unlimited */
    _Atomic uint64_t refused;   /* allocations refused by the budget */
} __attribute__((aligned(64)));

static struct slot slots[MEM_MAX_SLOTS];
static _Thread_local unsigned my_slot;
static _Thread_local bool last_refusal_was_budget;
static _Thread_local unsigned budget_waived; /* mem_budget_waive's depth on this thread */
static _Atomic uint64_t budget_limit;

static const char *const tag_names[] = {
#define MEM_TAG_NAME(id, name) name,
    MEM_TAGS(MEM_TAG_NAME)
#undef MEM_TAG_NAME
};

const char *mem_tag_name(enum mem_tag tag)
{
    return (unsigned)tag < MEM_TAG_COUNT ? tag_names[tag] : "?";
}

void mem_thread_slot(unsigned slot)
{
    my_slot = slot < MEM_MAX_SLOTS ? slot : 0;
}

/* The budget, like SQLite's hard heap limit: an allocation that would take this thread past its
 * share is refused (NULL) before malloc is asked, and the caller sheds the request. Shares are
 * per thread, so the check reads only this thread's slot: no shared counter on the request path,
 * and the sum of the shares plus the start-up baseline never exceeds the limit. */
#ifdef CREST_FAULT_INJECTION
/* Test builds: CREST_FAIL_ALLOC=N makes the Nth allocation of the process fail, as SQLite's
 * sqlite3_memdebug_fail and Lua's debug_realloc do, so tests can walk N over a scenario and prove
 * every failure path answers 500/503 or closes, and leaks nothing. A shared counter is fine here:
 * release builds compile none of this. */
static _Atomic long fail_countdown = -1;

__attribute__((constructor)) static void read_fail_alloc(void)
{
    const char *v = getenv("CREST_FAIL_ALLOC");
    if (v && *v)
        atomic_store(&fail_countdown, strtol(v, NULL, 10));
}

static bool injected_failure(void)
{
    if (atomic_load_explicit(&fail_countdown, memory_order_relaxed) <= 0)
        return false;
    return atomic_fetch_sub(&fail_countdown, 1) == 1;
}
#else
static inline bool injected_failure(void)
{
    return false;
}
#endif

/* glibc's chunk header: the size field in front of every block (malloc_usable_size already
 * includes the next chunk's prev_size field, which a block in use may fill). A mapped block has
 * 8 bytes more of header that we leave out: under 0.01 % of a block of at least 128 KiB. */
static const size_t CHUNK_HEADER_BYTES = sizeof(size_t);
/* Slack the budget allows above a request's own chunk: glibc hands out up to 16 bytes more rather
 * than split off a sliver too small to be a chunk, and maps a large block in whole pages. */
static const size_t CHUNK_SLACK_BYTES = 16;
static const size_t PAGE_BYTES = 4096;
/* Smaller blocks come from the heap, not mmap: glibc's mmap threshold starts at 128 KiB and only
 * grows, and crest_serve pins it there (an application that lowers it under 64 KiB may see a
 * worker pass its share by part of a page). */
static const size_t SMALL_BLOCK_MAX = 64 * 1024;

/* The most a block of n bytes can count (held_bytes), known before malloc is asked: n plus the
 * header, rounded up to 16 (at least 32), plus the slack. Saturates instead of wrapping. */
static inline size_t held_bound(size_t n)
{
    size_t chunk;
    if (__builtin_add_overflow(n, CHUNK_HEADER_BYTES + 15, &chunk))
        return SIZE_MAX;
    chunk &= ~(size_t)15;
    if (chunk < 32)
        chunk = 32;
    size_t slack = n < SMALL_BLOCK_MAX ? CHUNK_SLACK_BYTES : PAGE_BYTES;
    return chunk + slack < chunk ? SIZE_MAX : chunk + slack;
}

static inline bool admit(size_t n)
{
    struct slot *s = &slots[my_slot];
    if (injected_failure()) {
        last_refusal_was_budget = false;
        return false;
    }
    int64_t share = atomic_load_explicit(&s->share, memory_order_relaxed);
    int64_t live = atomic_load_explicit(&s->live_total, memory_order_relaxed);
    if (share == 0 || budget_waived || (n <= (size_t)share && live <= share - (int64_t)n)) {
        last_refusal_was_budget = false;
        return true;
    }
    counter_add_u(&s->refused, 1);
    last_refusal_was_budget = true;
    return false;
}

static inline void count_live(enum mem_tag tag, int64_t by)
{
    struct slot *s = &slots[my_slot];
    struct tag_counters *t = &s->tags[tag];
    int64_t live = atomic_load_explicit(&t->live_bytes, memory_order_relaxed) + by;
    atomic_store_explicit(&t->live_bytes, live, memory_order_relaxed);
    if (live > atomic_load_explicit(&t->peak_bytes, memory_order_relaxed))
        atomic_store_explicit(&t->peak_bytes, live, memory_order_relaxed);
    counter_add(&s->live_total, by);
}

#ifdef CREST_NO_ACCOUNTING
/* Benchmark builds only (bench/accounting.py): the same code with the counting compiled out, to
 * measure what the accounting costs. Budgets and statistics then read zero. */
static inline size_t held_bytes(const void *p)
{
    (void)p;
    return 0;
}

static inline void count_alloc(enum mem_tag tag, size_t n)
{
    (void)tag;
    (void)n;
}

static inline void count_free(enum mem_tag tag, size_t n)
{
    (void)tag;
    (void)n;
}

static inline void count_resize(enum mem_tag tag, size_t old_n, size_t new_n)
{
    (void)tag;
    (void)old_n;
    (void)new_n;
}
#else
/* What the heap holds for the live block p: its chunk (see the top of this file). */
static inline size_t held_bytes(const void *p)
{
    return malloc_usable_size((void *)p) + CHUNK_HEADER_BYTES;
}

static inline void count_alloc(enum mem_tag tag, size_t n)
{
    struct tag_counters *t = &slots[my_slot].tags[tag];
    count_live(tag, (int64_t)n);
    counter_add(&t->live_blocks, 1);
    counter_add_u(&t->total_bytes, n);
    counter_add_u(&t->total_blocks, 1);
}

static inline void count_free(enum mem_tag tag, size_t n)
{
    struct tag_counters *t = &slots[my_slot].tags[tag];
    count_live(tag, -(int64_t)n);
    counter_add(&t->live_blocks, -1);
}

static inline void count_resize(enum mem_tag tag, size_t old_n, size_t new_n)
{
    count_live(tag, (int64_t)new_n - (int64_t)old_n);
    if (new_n > old_n)
        counter_add_u(&slots[my_slot].tags[tag].total_bytes, new_n - old_n);
}
#endif

void *mem_alloc(enum mem_tag tag, size_t n)
{
    if (n == 0 || !admit(held_bound(n)))
        return NULL;
    void *p = malloc(n);
    if (p)
        count_alloc(tag, held_bytes(p));
    return p;
}

void *mem_calloc(enum mem_tag tag, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n) || n == 0 || !admit(held_bound(n)))
        return NULL;
    void *p = calloc(count, size);
    if (p)
        count_alloc(tag, held_bytes(p));
    return p;
}

/* Shared by both kinds of realloc: p is live and n > 0. The budget is asked for the growth of
 * the chunk at most; what is counted is the chunk realloc really gave. */
static void *resize(enum mem_tag tag, void *p, size_t n)
{
    size_t old_held = held_bytes(p); /* p is gone once realloc succeeds */
    size_t bound = held_bound(n);
    if (bound > old_held && !admit(bound - old_held))
        return NULL;
    void *q = realloc(p, n);
    if (!q)
        return NULL; /* p is still valid and still counted */
    count_resize(tag, old_held, held_bytes(q));
    return q;
}

void *mem_realloc(enum mem_tag tag, void *p, size_t old_n, size_t new_n)
{
    if (!p)
        return mem_alloc(tag, new_n);
    if (new_n == 0) {
        mem_free(tag, p, old_n);
        return NULL;
    }
    assert(malloc_usable_size(p) >= old_n); /* old_n is what was asked for p */
    return resize(tag, p, new_n);
}

/* The size a caller passes is checked in debug builds only: counting reads the chunk itself, so
 * a wrong size cannot skew the figures, but it is a bug in the caller all the same. */
void mem_free(enum mem_tag tag, void *p, size_t n)
{
    if (!p)
        return;
    assert(malloc_usable_size(p) >= n);
    (void)n;
    count_free(tag, held_bytes(p));
    free(p);
}

void *mem_alloc_unsized(enum mem_tag tag, size_t n)
{
    return mem_alloc(tag, n);
}

void *mem_realloc_unsized(enum mem_tag tag, void *p, size_t n)
{
    if (!p)
        return mem_alloc(tag, n);
    if (n == 0) {
        mem_free_unsized(tag, p);
        return NULL;
    }
    return resize(tag, p, n);
}

void mem_free_unsized(enum mem_tag tag, void *p)
{
    if (!p)
        return;
    count_free(tag, held_bytes(p));
    free(p);
}

size_t mem_size_unsized(const void *p)
{
    return p ? malloc_usable_size((void *)p) : 0;
}

size_t mem_block_bytes(const void *p)
{
    return p ? malloc_usable_size((void *)p) + CHUNK_HEADER_BYTES : 0;
}

char *mem_strndup(enum mem_tag tag, const char *s, size_t n)
{
    char *d = mem_alloc(tag, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *mem_strdup(enum mem_tag tag, const char *s)
{
    return mem_strndup(tag, s, strlen(s));
}

void mem_strfree(enum mem_tag tag, char *s)
{
    if (s)
        mem_free(tag, s, strlen(s) + 1);
}

void mem_stats(enum mem_tag tag, struct mem_tag_stats *out)
{
    memset(out, 0, sizeof(*out));
    if ((unsigned)tag >= MEM_TAG_COUNT)
        return;
    for (unsigned i = 0; i < MEM_MAX_SLOTS; i++) {
        struct tag_counters *t = &slots[i].tags[tag];
        out->live_bytes += atomic_load_explicit(&t->live_bytes, memory_order_relaxed);
        out->live_blocks += atomic_load_explicit(&t->live_blocks, memory_order_relaxed);
        out->total_bytes += atomic_load_explicit(&t->total_bytes, memory_order_relaxed);
        out->total_blocks += atomic_load_explicit(&t->total_blocks, memory_order_relaxed);
        out->peak_bytes += atomic_load_explicit(&t->peak_bytes, memory_order_relaxed);
    }
}

int64_t mem_tracked_bytes(void)
{
    int64_t n = 0;
    for (unsigned i = 0; i < MEM_MAX_SLOTS; i++)
        n += atomic_load_explicit(&slots[i].live_total, memory_order_relaxed);
    return n;
}

int mem_budget_set(uint64_t limit_bytes, unsigned n_workers)
{
    int64_t baseline = mem_tracked_bytes();
    if (limit_bytes == 0 || n_workers == 0) {
        atomic_store(&budget_limit, 0);
        for (unsigned i = 1; i < MEM_MAX_SLOTS; i++)
            atomic_store(&slots[i].share, 0);
        return 0;
    }
    if ((int64_t)limit_bytes <= baseline)
        return -ENOMEM;
    int64_t share = ((int64_t)limit_bytes - baseline) / (int64_t)n_workers;
    for (unsigned i = 1; i <= n_workers && i < MEM_MAX_SLOTS; i++)
        atomic_store(&slots[i].share, share);
    atomic_store(&budget_limit, limit_bytes);
    return 0;
}

uint64_t mem_budget_limit(void)
{
    return atomic_load_explicit(&budget_limit, memory_order_relaxed);
}

int64_t mem_budget_room(void)
{
    struct slot *s = &slots[my_slot];
    int64_t share = atomic_load_explicit(&s->share, memory_order_relaxed);
    if (share == 0)
        return INT64_MAX;
    return share - atomic_load_explicit(&s->live_total, memory_order_relaxed);
}

void mem_budget_waive(bool on)
{
    budget_waived += on ? 1u : (budget_waived ? -1u : 0u);
}

bool mem_refused_by_budget(void)
{
    return last_refusal_was_budget;
}

struct transient_task {
    mem_task_fn *fn;
    void *ud;
    unsigned slot;
    int rc;
};

static void *run_transient(void *arg)
{
    struct transient_task *t = arg;
    my_slot = t->slot;
    t->rc = t->fn(t->ud);
    return NULL;
}

/* Why a thread: glibc keeps up to 7 freed blocks of each size up to 1 KiB in a cache of the
 * freeing thread (its tcache), which mallinfo2 counts as in use and which only that thread can
 * reuse; a thread that exits gives its cache back to the heap. Opening SQLite allocates and frees
 * hundreds of small blocks; done on the main thread, which then only waits for signals, 9.5 KiB of
 * them stayed cached for good: 5 % of the heap after a load run with 2 workers. */
int mem_run_transient(mem_task_fn *fn, void *ud)
{
    struct transient_task t = {.fn = fn, .ud = ud, .slot = my_slot};
    pthread_t thread;

    if (pthread_create(&thread, NULL, run_transient, &t) != 0)
        return fn(ud); /* the same work here: only the cache stays */
    int err = pthread_join(thread, NULL);
    assert(err == 0); /* a joinable thread we created: no other outcome */
    (void)err;
    return t.rc;
}
