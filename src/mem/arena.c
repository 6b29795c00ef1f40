/* mem/arena.c: chunks grow to at least 4 KiB, or to the request when larger, and are released all
 * at once on reset, so per-request allocations need no frees and cannot leak past the request. */
#include "arena.h"

#include "mem.h"

#include <stdint.h>

struct mem_arena_chunk {
    struct mem_arena_chunk *next;
    size_t size; /* whole chunk, header included: the size mem_free needs */
    max_align_t data[];
};

enum { ARENA_ALIGN = 16, ARENA_MIN_CHUNK = 4096 };

void mem_arena_init(struct mem_arena *a, void *storage, size_t size)
{
    a->first = storage;
    a->first_size = size;
    a->extra = NULL;
    a->pos = storage;
    a->end = (char *)storage + size;
}

static char *align_up(char *p)
{
    return (char *)(((uintptr_t)p + (ARENA_ALIGN - 1)) & ~(uintptr_t)(ARENA_ALIGN - 1));
}

void *mem_arena_alloc(struct mem_arena *a, size_t n)
{
    if (n > (SIZE_MAX >> 2))
        return NULL;
    char *p = align_up(a->pos);
    if (p <= a->end && (size_t)(a->end - p) >= n) {
        a->pos = p + n;
        return p;
    }
    size_t size = sizeof(struct mem_arena_chunk) + n + ARENA_ALIGN;
    if (size < ARENA_MIN_CHUNK)
        size = ARENA_MIN_CHUNK;
    struct mem_arena_chunk *c = mem_alloc(MEM_ARENA, size);
    if (!c)
        return NULL;
    c->size = size;
    c->next = a->extra;
    a->extra = c;
    p = align_up((char *)c->data);
    a->pos = p + n;
    a->end = (char *)c + size;
    return p;
}

void mem_arena_reset(struct mem_arena *a)
{
    struct mem_arena_chunk *c = a->extra;
    while (c) {
        struct mem_arena_chunk *next = c->next;
        mem_free(MEM_ARENA, c, c->size);
        c = next;
    }
    a->extra = NULL;
    a->pos = a->first;
    a->end = a->first + a->first_size;
}
