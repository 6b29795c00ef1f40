/* db/pg_alloc.c: the allocator libpq is built to call (db/pg_alloc.h): crest's unsized
 * allocation functions under the db tag, with the C library's contracts (malloc(0) and
 * calloc(0, n) return a block that free takes; calloc checks its multiplication). Not API: libpq
 * is prelinked into libcrest.a, where these become local like every internal symbol (hidden here,
 * so the unit tests, which link the objects and libpq.a as they are, still resolve them). */
#include "crest.h"
#include "mem/mem.h"

#include <stdint.h>
#include <string.h>

void *crest_pq_malloc(size_t n);
void *crest_pq_calloc(size_t count, size_t size);
void *crest_pq_realloc(void *p, size_t n);
void crest_pq_free(void *p);
char *crest_pq_strdup(const char *s);

void *crest_pq_malloc(size_t n)
{
    return mem_alloc_unsized(MEM_DB, n ? n : 1);
}

void *crest_pq_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    size_t n = count * size;
    void *p = crest_pq_malloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

void *crest_pq_realloc(void *p, size_t n)
{
    return mem_realloc_unsized(MEM_DB, p, n);
}

void crest_pq_free(void *p)
{
    mem_free_unsized(MEM_DB, p);
}

char *crest_pq_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = crest_pq_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}
