/* mem/mem.c: the accounting allocator over glibc malloc. Each thread counts into its own slot,
 * padded to a cache line so two workers never share one; readers sum the slots. Slot updates are
 * relaxed atomic loads and stores by the owning thread only, which compile to plain moves: exact
 * for the owner, a consistent-enough view for readers. A free on another thread than the
 * allocation simply makes one slot negative and another positive; the sum stays right. */
#include "mem.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct tag_counters {
    _Atomic int64_t live_bytes;
    _Atomic int64_t live_blocks;
    _Atomic uint64_t total_bytes;
    _Atomic uint64_t total_blocks;
};

struct slot {
    struct tag_counters tags[MEM_TAG_COUNT];
} __attribute__((aligned(64)));

static struct slot slots[MEM_MAX_SLOTS];
static _Thread_local unsigned my_slot;

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

/* Owner-only read-modify-write: no lock prefix, no torn values for readers. */
static inline void bump(_Atomic int64_t *v, int64_t by)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

static inline void bump_u(_Atomic uint64_t *v, uint64_t by)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

static inline void count_alloc(enum mem_tag tag, size_t n)
{
    struct tag_counters *t = &slots[my_slot].tags[tag];
    bump(&t->live_bytes, (int64_t)n);
    bump(&t->live_blocks, 1);
    bump_u(&t->total_bytes, n);
    bump_u(&t->total_blocks, 1);
}

static inline void count_free(enum mem_tag tag, size_t n)
{
    struct tag_counters *t = &slots[my_slot].tags[tag];
    bump(&t->live_bytes, -(int64_t)n);
    bump(&t->live_blocks, -1);
}

void *mem_alloc(enum mem_tag tag, size_t n)
{
    if (n == 0)
        return NULL;
    void *p = malloc(n);
    if (p)
        count_alloc(tag, n);
    return p;
}

void *mem_calloc(enum mem_tag tag, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n) || n == 0)
        return NULL;
    void *p = calloc(count, size);
    if (p)
        count_alloc(tag, n);
    return p;
}

void *mem_realloc(enum mem_tag tag, void *p, size_t old_n, size_t new_n)
{
    if (!p)
        return mem_alloc(tag, new_n);
    if (new_n == 0) {
        mem_free(tag, p, old_n);
        return NULL;
    }
    void *q = realloc(p, new_n);
    if (!q)
        return NULL; /* p is still valid and still counted */
    struct tag_counters *t = &slots[my_slot].tags[tag];
    bump(&t->live_bytes, (int64_t)new_n - (int64_t)old_n);
    if (new_n > old_n)
        bump_u(&t->total_bytes, new_n - old_n);
    return q;
}

void mem_free(enum mem_tag tag, void *p, size_t n)
{
    if (!p)
        return;
    count_free(tag, n);
    free(p);
}

/* Unsized blocks are counted at their usable size, which is what the block really holds and,
 * unlike the size asked for, can be recovered from the pointer at free time. */
void *mem_alloc_unsized(enum mem_tag tag, size_t n)
{
    if (n == 0)
        return NULL;
    void *p = malloc(n);
    if (p)
        count_alloc(tag, malloc_usable_size(p));
    return p;
}

void *mem_realloc_unsized(enum mem_tag tag, void *p, size_t n)
{
    if (!p)
        return mem_alloc_unsized(tag, n);
    if (n == 0) {
        mem_free_unsized(tag, p);
        return NULL;
    }
    size_t old_n = malloc_usable_size(p); /* p is gone once realloc succeeds */
    void *q = realloc(p, n);
    if (!q)
        return NULL; /* p is still valid and still counted */
    size_t new_n = malloc_usable_size(q);
    struct tag_counters *t = &slots[my_slot].tags[tag];
    bump(&t->live_bytes, (int64_t)new_n - (int64_t)old_n);
    if (new_n > old_n)
        bump_u(&t->total_bytes, new_n - old_n);
    return q;
}

void mem_free_unsized(enum mem_tag tag, void *p)
{
    if (!p)
        return;
    count_free(tag, malloc_usable_size(p));
    free(p);
}

size_t mem_size_unsized(const void *p)
{
    return p ? malloc_usable_size((void *)p) : 0;
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
    }
}
