/* mem/buf.h: a growable byte buffer whose storage is accounted under the tag its owner passes. */
#ifndef CREST_MEM_BUF_H
#define CREST_MEM_BUF_H

#include "mem.h"

#include <stdint.h>

struct mem_buf {
    char *ptr;
    uint32_t len;
    uint32_t cap;
};

/* Makes room for `extra` more bytes past len. 0, -ENOMEM (also past 4 GiB). */
int mem_buf_reserve(struct mem_buf *b, enum mem_tag tag, size_t extra);
int mem_buf_append(struct mem_buf *b, enum mem_tag tag, const void *p, size_t n);
/* Appends a decimal unsigned integer. */
int mem_buf_append_u64(struct mem_buf *b, enum mem_tag tag, uint64_t v);
/* Releases the storage; b is empty and reusable afterwards. */
void mem_buf_fini(struct mem_buf *b, enum mem_tag tag);

#endif
