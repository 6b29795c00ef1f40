/* db/pg_alloc.h: force-included (cc -include) ahead of every file of libpq, libpgcommon and
 * libpgport when tools/build-libpq.sh builds them, so that the PostgreSQL client's allocations go
 * through crest's accounting under the db tag, as SQLite's go through its allocator methods:
 * libpq has no allocator hook, and its buffers (some 40 KB per connection) would otherwise be
 * the one part of crest's heap that /debug/memory and the budget cannot see. Object-like macros,
 * so that a function pointer or a struct member named free is renamed consistently too. */
#ifndef CREST_DB_PG_ALLOC_H
#define CREST_DB_PG_ALLOC_H

#include <stddef.h>

void *crest_pq_malloc(size_t n);
void *crest_pq_calloc(size_t count, size_t size);
void *crest_pq_realloc(void *p, size_t n);
void crest_pq_free(void *p);
char *crest_pq_strdup(const char *s);

#define malloc crest_pq_malloc
#define calloc crest_pq_calloc
#define realloc crest_pq_realloc
#define free crest_pq_free
#define strdup crest_pq_strdup

#endif
