/* mem/buf.c: growth by doubling, so appending n bytes one at a time costs O(n) copies. */
#include "buf.h"

#include <errno.h>
#include <string.h>

int mem_buf_reserve(struct mem_buf *b, enum mem_tag tag, size_t extra)
{
    size_t need = (size_t)b->len + extra;
    if (need <= b->cap)
        return 0;
    if (need > UINT32_MAX)
        return -ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > UINT32_MAX)
        cap = UINT32_MAX;
    char *p = mem_realloc(tag, b->ptr, b->cap, cap);
    if (!p)
        return -ENOMEM;
    b->ptr = p;
    b->cap = (uint32_t)cap;
    return 0;
}

int mem_buf_append(struct mem_buf *b, enum mem_tag tag, const void *p, size_t n)
{
    int err = mem_buf_reserve(b, tag, n);
    if (err)
        return err;
    if (n)
        memcpy(b->ptr + b->len, p, n);
    b->len += (uint32_t)n;
    return 0;
}

int mem_buf_append_u64(struct mem_buf *b, enum mem_tag tag, uint64_t v)
{
    char tmp[20];
    int i = (int)sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return mem_buf_append(b, tag, tmp + i, sizeof(tmp) - (size_t)i);
}

void mem_buf_fini(struct mem_buf *b, enum mem_tag tag)
{
    mem_free(tag, b->ptr, b->cap);
    b->ptr = NULL;
    b->len = b->cap = 0;
}
