/* mem/pool.h: a per-worker free list of equal-sized blocks (the I/O blocks connections borrow
 * while a request is in flight). Owned by one thread; no locking. Keeps at most max_free blocks
 * when load drops and gives the rest back, so memory follows load down as well as up. */
#ifndef CREST_MEM_POOL_H
#define CREST_MEM_POOL_H

#include "mem.h"

#include <stddef.h>
#include <stdint.h>

struct mem_pool {
    void *free; /* singly linked through the first word of each free block */
    uint32_t n_free;
    uint32_t max_free;
    uint32_t n_out; /* blocks handed out and not returned */
    size_t block_size;
    enum mem_tag tag;
};

void mem_pool_init(struct mem_pool *p, enum mem_tag tag, size_t block_size, uint32_t max_free);
/* NULL when out of memory. The block's contents are undefined. */
void *mem_pool_get(struct mem_pool *p);
void mem_pool_put(struct mem_pool *p, void *block);
/* Frees the cached blocks (blocks still out are the caller's to return first). */
void mem_pool_fini(struct mem_pool *p);

#endif
