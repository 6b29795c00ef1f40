/* store/pg_alloc.c: the allocator libpq is built to call (store/pg_alloc.h): crest's unsized
 * allocation functions under the db tag, with the C library's contracts (malloc(0) and
 * calloc(0, n) return a block that free takes; calloc checks its multiplication). Exported, as
 * libpq.a is linked after libcrest. */
#include "crest.h"
#include "mem/mem.h"

#include <stdint.h>
#include <string.h>

CREST_API void *crest_pq_malloc(size_t n);
CREST_API void *crest_pq_calloc(size_t count, size_t size);
CREST_API void *crest_pq_realloc(void *p, size_t n);
CREST_API void crest_pq_free(void *p);
CREST_API char *crest_pq_strdup(const char *s);

CREST_API void *crest_pq_malloc(size_t n)
{
    return mem_alloc_unsized(MEM_DB, n ? n : 1);
}

CREST_API void *crest_pq_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    size_t n = count * size;
    void *p = crest_pq_malloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

CREST_API void *crest_pq_realloc(void *p, size_t n)
{
    return mem_realloc_unsized(MEM_DB, p, n);
}

CREST_API void crest_pq_free(void *p)
{
    mem_free_unsized(MEM_DB, p);
}

CREST_API char *crest_pq_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = crest_pq_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}
