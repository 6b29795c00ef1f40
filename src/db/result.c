/* db/result.c: the rows a statement returns, built value by value with an allocator (the request's
 * arena on a worker, a heap arena on SQLite's writer thread), and deep-copied from the second to
 * the first when a write comes back. Rows grow by doubling: in an arena the old array stays until
 * the request ends, so a result costs at most twice its size there, and nothing per row. */
#include "db/db.h"

#include "mem/mem.h"

#include <errno.h>
#include <string.h>

enum { FIRST_ROWS = 4, HEAP_CHUNK = 4096 };

static void *alloc_n(const struct db_alloc *a, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n))
        return NULL;
    return a->alloc(a->ctx, n ? n : 1);
}

int db_result_init(struct crest_db_result *r, const struct db_alloc *a, size_t n_cols)
{
    memset(r, 0, sizeof(*r));
    r->n_cols = n_cols;
    if (!n_cols)
        return 0;
    struct crest_str *names = alloc_n(a, n_cols, sizeof(*names));
    if (!names)
        return -ENOMEM;
    memset(names, 0, n_cols * sizeof(*names));
    r->names = names;
    return 0;
}

int db_result_name(struct crest_db_result *r, const struct db_alloc *a, size_t col, const char *ptr,
                   size_t len)
{
    char *copy = a->alloc(a->ctx, len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, ptr, len);
    copy[len] = '\0';
    ((struct crest_str *)r->names)[col] = (struct crest_str){copy, len};
    return 0;
}

/* Capacity is the largest power of two (from FIRST_ROWS) not below n_rows: no field needed. */
static size_t capacity(size_t n_rows)
{
    size_t cap = FIRST_ROWS;
    while (cap < n_rows)
        cap *= 2;
    return cap;
}

struct crest_db_value *db_result_row(struct crest_db_result *r, const struct db_alloc *a)
{
    size_t width = r->n_cols ? r->n_cols : 1;
    if (r->n_rows == 0 || r->n_rows == capacity(r->n_rows)) {
        size_t cap = r->n_rows ? r->n_rows * 2 : FIRST_ROWS;
        struct crest_db_value *values = alloc_n(a, cap * width, sizeof(*values));
        if (!values)
            return NULL;
        if (r->n_rows)
            memcpy(values, r->values, r->n_rows * width * sizeof(*values));
        r->values = values;
    }
    struct crest_db_value *row = (struct crest_db_value *)r->values + r->n_rows * width;
    memset(row, 0, width * sizeof(*row)); /* CREST_DB_NULL */
    r->n_rows++;
    return row;
}

int db_value_copy(struct crest_db_value *v, const struct db_alloc *a, uint8_t type, const void *ptr,
                  size_t len)
{
    char *copy = a->alloc(a->ctx, len + 1);
    if (!copy)
        return -ENOMEM;
    if (len)
        memcpy(copy, ptr, len);
    copy[len] = '\0';
    v->type = type;
    v->s = (struct crest_str){copy, len};
    return 0;
}

static int result_copy(struct crest_db_result *dst, const struct crest_db_result *src,
                       const struct db_alloc *a)
{
    int rc = db_result_init(dst, a, src->n_cols);
    for (size_t c = 0; rc == 0 && c < src->n_cols; c++)
        rc = db_result_name(dst, a, c, src->names[c].ptr, src->names[c].len);
    size_t width = src->n_cols ? src->n_cols : 1;
    for (size_t row = 0; rc == 0 && row < src->n_rows; row++) {
        struct crest_db_value *to = db_result_row(dst, a);
        if (!to)
            return -ENOMEM;
        for (size_t c = 0; rc == 0 && c < src->n_cols; c++) {
            const struct crest_db_value *from = &src->values[row * width + c];
            if (from->type == CREST_DB_TEXT || from->type == CREST_DB_BLOB)
                rc = db_value_copy(&to[c], a, from->type, from->s.ptr, from->s.len);
            else
                to[c] = *from;
        }
    }
    dst->changes = src->changes;
    return rc;
}

int db_results_copy(struct crest_db_result **dst, const struct crest_db_result *src, size_t n,
                    const struct db_alloc *a)
{
    struct crest_db_result *out = alloc_n(a, n, sizeof(*out));
    if (!out)
        return -ENOMEM;
    for (size_t k = 0; k < n; k++)
        if (result_copy(&out[k], &src[k], a) != 0)
            return -ENOMEM;
    *dst = out;
    return 0;
}

/* ------------------------------------------------------------------------------------------------
 * A heap arena for results built off the worker */

struct heap_chunk {
    struct heap_chunk *next;
    size_t size;
    size_t used;
    _Alignas(16) char data[];
};

struct db_heap {
    struct heap_chunk *chunks;
};

struct db_heap *db_heap_new(void)
{
    return mem_calloc(MEM_DB, 1, sizeof(struct db_heap));
}

void db_heap_free(struct db_heap *h)
{
    if (!h)
        return;
    while (h->chunks) {
        struct heap_chunk *c = h->chunks;
        h->chunks = c->next;
        mem_free(MEM_DB, c, sizeof(*c) + c->size);
    }
    mem_free(MEM_DB, h, sizeof(*h));
}

static void *heap_alloc(void *ctx, size_t n)
{
    struct db_heap *h = ctx;
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n)
        return NULL;
    struct heap_chunk *c = h->chunks;
    if (!c || c->size - c->used < need) {
        size_t size = need > HEAP_CHUNK ? need : HEAP_CHUNK;
        c = mem_alloc(MEM_DB, sizeof(*c) + size);
        if (!c)
            return NULL;
        c->size = size;
        c->used = 0;
        c->next = h->chunks;
        h->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += need;
    return p;
}

struct db_alloc db_heap_alloc(struct db_heap *h)
{
    return (struct db_alloc){heap_alloc, h};
}
