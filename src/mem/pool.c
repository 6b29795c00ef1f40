/* mem/pool.c */
#include "pool.h"

#include <assert.h>

void mem_pool_init(struct mem_pool *p, enum mem_tag tag, size_t block_size, uint32_t max_free)
{
    assert(block_size >= sizeof(void *));
    p->free = NULL;
    p->n_free = 0;
    p->max_free = max_free;
    p->n_out = 0;
    p->block_size = block_size;
    p->tag = tag;
}

void *mem_pool_get(struct mem_pool *p)
{
    void *b = p->free;
    if (b) {
        p->free = *(void **)b;
        p->n_free--;
    } else {
        b = mem_alloc(p->tag, p->block_size);
        if (!b)
            return NULL;
    }
    p->n_out++;
    return b;
}

void mem_pool_put(struct mem_pool *p, void *block)
{
    if (!block)
        return;
    p->n_out--;
    if (p->n_free >= p->max_free) {
        mem_free(p->tag, block, p->block_size);
        return;
    }
    *(void **)block = p->free;
    p->free = block;
    p->n_free++;
}

void mem_pool_fini(struct mem_pool *p)
{
    while (p->free) {
        void *next = *(void **)p->free;
        mem_free(p->tag, p->free, p->block_size);
        p->free = next;
    }
    p->n_free = 0;
}
