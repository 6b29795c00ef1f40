/* mem/mem.h: the accounting allocator. Every allocation crest makes names a tag and, on free, the
 * size it asked for (as Lua's allocator does). A live block counts the bytes the heap holds for it
 * (glibc's chunk: usable size plus header, read from the block as Redis's zmalloc does), so live
 * bytes per tag are exact and add up to nearly all of malloc's in-use heap, with no block header
 * of ours. Counters live in one cache-line-padded slot per thread and are summed only when read:
 * no lock and no locked instruction on the request path (Redis's zmalloc layout). */
#ifndef CREST_MEM_H
#define CREST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One X-macro yields the enum and the names /metrics and /debug/memory print. */
#define MEM_TAGS(X)           \
    X(MEM_CONN, "conn")       \
    X(MEM_IO, "io")           \
    X(MEM_OUT, "out")         \
    X(MEM_BODY, "body")       \
    X(MEM_ARENA, "arena")     \
    X(MEM_JSON, "json")       \
    X(MEM_ROUTER, "router")   \
    X(MEM_APP, "app")         \
    X(MEM_TIMER, "timer")     \
    X(MEM_LOOP, "loop")       \
    X(MEM_SQLITE, "sqlite")   \
    X(MEM_DB, "db")           \
    X(MEM_METRICS, "metrics") \
    X(MEM_LOG, "log")         \
    X(MEM_GZIP, "gzip")       \
    X(MEM_RATE, "ratelimit")  \
    X(MEM_WS, "ws")           \
    X(MEM_SSE, "sse")         \
    X(MEM_TEST, "test")

enum mem_tag {
#define MEM_TAG_ENUM(id, name) id,
    MEM_TAGS(MEM_TAG_ENUM)
#undef MEM_TAG_ENUM
        MEM_TAG_COUNT
};

/* Counter slots: slot 0 is the main thread and anything unregistered; workers take 1..N. */
enum { MEM_MAX_SLOTS = 257 };

/* Bytes are heap bytes held: each block counts its chunk (mem_block_bytes), which is its size
 * asked for plus 8 to 31 bytes (header and rounding), or plus up to a page for a mapped block. */
struct mem_tag_stats {
    int64_t live_bytes;
    int64_t live_blocks;
    uint64_t total_bytes; /* bytes ever allocated (grown in place: the growth) */
    uint64_t total_blocks;
    int64_t peak_bytes; /* sum of each thread's high-water mark: exact with one worker, an upper
                           bound of the process-wide peak with several */
};

const char *mem_tag_name(enum mem_tag tag);

/* Binds the calling thread to counter slot `slot` (1..MEM_MAX_SLOTS-1; workers sharing a slot past
 * that would race, so net caps the worker count). */
void mem_thread_slot(unsigned slot);

/* NULL when out of memory, over the budget, or n == 0 for mem_alloc. Sizes passed to free/realloc
 * must be the sizes asked for (debug builds assert what they can); the counting itself reads the
 * block's chunk, so it stays exact whatever glibc rounded to. */
void *mem_alloc(enum mem_tag tag, size_t n);
void *mem_calloc(enum mem_tag tag, size_t count, size_t size);
void *mem_realloc(enum mem_tag tag, void *p, size_t old_n, size_t new_n);
void mem_free(enum mem_tag tag, void *p, size_t n);
char *mem_strdup(enum mem_tag tag, const char *s);
char *mem_strndup(enum mem_tag tag, const char *s, size_t n);
void mem_strfree(enum mem_tag tag, char *s);

/* For libraries that free by pointer alone (SQLite's xFree): the same counting, with no size to
 * remember. mem_alloc_unsized returns NULL for n == 0; mem_realloc_unsized(tag, NULL, n)
 * allocates and (tag, p, 0) frees and returns NULL; mem_size_unsized is the usable size of a
 * block they returned (0 for NULL): what the library may use, 8 bytes under what it counts. */
void *mem_alloc_unsized(enum mem_tag tag, size_t n);
void *mem_realloc_unsized(enum mem_tag tag, void *p, size_t n);
void mem_free_unsized(enum mem_tag tag, void *p);
size_t mem_size_unsized(const void *p);

/* What the live block p counts toward its tag: glibc's chunk, malloc_usable_size(p) plus the
 * 8-byte header (0 for NULL). For tests and for callers that want to know what a block costs. */
size_t mem_block_bytes(const void *p);

/* Runs fn(ud) on a new thread, counting in the caller's slot, and waits for it; returns what fn
 * returned (or runs fn here if no thread can be made). For start-up work that allocates and frees
 * a lot, such as opening a database: what glibc caches for the thread that frees (its tcache) is
 * given back to the heap when the thread exits, instead of staying cached, and counted as in use,
 * for the life of a thread that will not allocate again. */
typedef int mem_task_fn(void *ud);
int mem_run_transient(mem_task_fn *fn, void *ud);

/* Live bytes over every tag and thread: what the heap holds for crest's own blocks. */
int64_t mem_tracked_bytes(void);

/* Sets the memory budget (0: none) before the workers start: what is tracked now is the
 * baseline, and each of the n_workers threads (slots 1..n) gets an equal share of the rest.
 * -ENOMEM when the baseline already exceeds the limit. */
int mem_budget_set(uint64_t limit_bytes, unsigned n_workers);
uint64_t mem_budget_limit(void);
/* Bytes this thread may still allocate (INT64_MAX without a budget): for refusing a large body
 * before buffering it. */
int64_t mem_budget_room(void);
/* Waives the budget on this thread until the matching mem_budget_waive(false) (they nest): for
 * answering work the process can no longer refuse, such as a write already committed, whose
 * answer must go out. Allocations are still counted, and still fail when malloc does. */
void mem_budget_waive(bool on);
/* Whether this thread's last refused allocation was the budget's doing (not malloc's). */
bool mem_refused_by_budget(void);

/* Sums the per-thread counters of one tag. Figures are a moment's view, not a transaction. */
void mem_stats(enum mem_tag tag, struct mem_tag_stats *out);

#endif
