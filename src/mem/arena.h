/* mem/arena.h: a bump allocator for one request (nginx's request pool). The first chunk is storage
 * the owner provides (crest embeds it in the connection's pooled I/O block), so a typical request
 * allocates nothing from the heap; overflow chunks come from the heap under MEM_ARENA and are freed
 * by mem_arena_reset. */
#ifndef CREST_MEM_ARENA_H
#define CREST_MEM_ARENA_H

#include <stddef.h>
#include <stdint.h>

struct mem_arena_chunk;

struct mem_arena {
    char *first; /* owner-provided first chunk */
    size_t first_size;
    char *pos;                     /* next free byte of the current chunk */
    char *end;                     /* end of the current chunk */
    struct mem_arena_chunk *extra; /* heap chunks, newest first */
};

/* Uses [storage, storage + size) as the first chunk; storage stays the caller's. */
void mem_arena_init(struct mem_arena *a, void *storage, size_t size);
/* 16-byte aligned; NULL when out of memory or n is absurd. */
void *mem_arena_alloc(struct mem_arena *a, size_t n);
/* Frees the heap chunks and rewinds to the start of the first chunk. */
void mem_arena_reset(struct mem_arena *a);

#endif
