/* mem/mem.h: the accounting allocator. Every allocation crest makes names a tag and, on free, the
 * size it asked for (as Lua's allocator does), so live bytes per tag are exact without a block
 * header. Counters live in one cache-line-padded slot per thread and are summed only when read:
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
    X(MEM_TEST, "test")

enum mem_tag {
#define MEM_TAG_ENUM(id, name) id,
    MEM_TAGS(MEM_TAG_ENUM)
#undef MEM_TAG_ENUM
        MEM_TAG_COUNT
};

/* Counter slots: slot 0 is the main thread and anything unregistered; workers take 1..N. */
enum { MEM_MAX_SLOTS = 257 };

struct mem_tag_stats {
    int64_t live_bytes;
    int64_t live_blocks;
    uint64_t total_bytes; /* bytes ever allocated */
    uint64_t total_blocks;
    int64_t peak_bytes; /* sum of each thread's high-water mark: exact with one worker, an upper
                           bound of the process-wide peak with several */
};

const char *mem_tag_name(enum mem_tag tag);

/* Binds the calling thread to counter slot `slot` (1..MEM_MAX_SLOTS-1; workers sharing a slot past
 * that would race, so net caps the worker count). */
void mem_thread_slot(unsigned slot);

/* NULL when out of memory (or n == 0 for mem_alloc). Sizes passed to free/realloc must be the
 * sizes asked for. */
void *mem_alloc(enum mem_tag tag, size_t n);
void *mem_calloc(enum mem_tag tag, size_t count, size_t size);
void *mem_realloc(enum mem_tag tag, void *p, size_t old_n, size_t new_n);
void mem_free(enum mem_tag tag, void *p, size_t n);
char *mem_strdup(enum mem_tag tag, const char *s);
char *mem_strndup(enum mem_tag tag, const char *s, size_t n);
void mem_strfree(enum mem_tag tag, char *s);

/* For libraries that free by pointer alone (SQLite's xFree): these count the block's
 * malloc_usable_size() instead of a size the caller remembers, as Redis's zmalloc does, so a
 * block must be freed and resized only through them. mem_alloc_unsized returns NULL for n == 0;
 * mem_realloc_unsized(tag, NULL, n) allocates and (tag, p, 0) frees and returns NULL;
 * mem_size_unsized is the usable size of a block they returned (0 for NULL). */
void *mem_alloc_unsized(enum mem_tag tag, size_t n);
void *mem_realloc_unsized(enum mem_tag tag, void *p, size_t n);
void mem_free_unsized(enum mem_tag tag, void *p);
size_t mem_size_unsized(const void *p);

/* Live bytes over every tag and thread: what crest itself holds. */
int64_t mem_tracked_bytes(void);

/* Sets the memory budget (0: none) before the workers start: what is tracked now is the
 * baseline, and each of the n_workers threads (slots 1..n) gets an equal share of the rest.
 * -ENOMEM when the baseline already exceeds the limit. */
int mem_budget_set(uint64_t limit_bytes, unsigned n_workers);
uint64_t mem_budget_limit(void);
/* Bytes this thread may still allocate (INT64_MAX without a budget): for refusing a large body
 * before buffering it. */
int64_t mem_budget_room(void);
/* Whether this thread's last refused allocation was the budget's doing (not malloc's). */
bool mem_refused_by_budget(void);

/* Sums the per-thread counters of one tag. Figures are a moment's view, not a transaction. */
void mem_stats(enum mem_tag tag, struct mem_tag_stats *out);

#endif
