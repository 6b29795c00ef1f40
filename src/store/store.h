/* store/store.h: the items store interface, one open store per worker. Narrow on purpose: the
 * items service needs create, read, list, replace, patch and delete, which SQLite offers
 * synchronously and PostgreSQL asynchronously. Every call completes through its callback; a
 * backend may call it before returning (SQLite does) or later from the worker's event loop
 * (PostgreSQL does). A call that returns an error never calls the callback (libuv's rule). The
 * store never sees a request: results are copied into memory from the caller's allocator (struct
 * store_alloc). Every store begins with its ops table (SQLite's sqlite3_file pattern), so a caller
 * holds one pointer whatever the backend. The stores live in libcrest, so their allocations are
 * accounted (SQLite's under the sqlite tag, the PostgreSQL store's under db); the exported symbols
 * are the backend chooser and the ops table getters. */
#ifndef CREST_STORE_H
#define CREST_STORE_H

#include "crest.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a store copies its results: the items service passes the request's arena
 * (crest_req_alloc), so results die with the request. NULL from alloc means out of memory. */
struct store_alloc {
    void *(*alloc)(void *ctx, size_t n);
    void *ctx;
};

struct store_item {
    int64_t id;
    struct crest_str name;
    struct crest_str description; /* ptr NULL: null */
    double price;
    bool has_tax; /* false: tax is null */
    double tax;
    uint32_t n_tags;
    struct crest_str *tags;
};

/* Which fields a patch sets (the others keep their stored value). */
enum store_field {
    STORE_NAME = 1 << 0,
    STORE_DESCRIPTION = 1 << 1,
    STORE_PRICE = 1 << 2,
    STORE_TAX = 1 << 3,
    STORE_TAGS = 1 << 4,
    STORE_ALL_FIELDS = STORE_NAME | STORE_DESCRIPTION | STORE_PRICE | STORE_TAX | STORE_TAGS,
};

/* status: 0; -ENOENT (no such item); -EBUSY, -EIO, -ENOSPC, -EROFS, -ENOMEM (the store could not
 * do it: the service answers 503). items: the results (one item, or a page of them), from the
 * caller's allocator. */
typedef void (*store_done_fn)(void *ud, int status, const struct store_item *items, size_t n);

/* What a worker opens a store with. */
struct store_config {
    const char *url; /* a SQLite path (or ":memory:"), or postgresql://… / postgres://… */
    struct crest_loop *loop; /* the worker's event loop (NULL in the test client: SQLite only) */
    unsigned worker;         /* the worker's index, for its metrics slot */
    unsigned pool;           /* PostgreSQL: connections per worker (0: 2) */
    uint32_t timeout_ms;     /* PostgreSQL: a query answered -ETIMEDOUT after this (0: 5000) */
    bool no_pipeline;        /* PostgreSQL: one query at a time per connection */
};

struct store_ops;

/* The head of every backend's store. */
struct store {
    const struct store_ops *ops;
};

/* Every operation returns 0 once it has started (its callback then runs exactly once), or
 * -EINVAL for arguments no backend could use: NULL store, allocator or callback; among the
 * fields written, a NULL name, a NaN price or tax, n_tags > 0 with tags NULL; field bits outside
 * enum store_field; a negative offset or limit. Strings in results are NUL-terminated copies;
 * remove answers with n = 0. */
struct store_ops {
    const char *name; /* "sqlite", "postgresql" */
    /* Opens the store at cfg->url; creates and migrates the schema. SQLite does it before
     * returning; PostgreSQL connects in the background (a store that cannot reach its server
     * opens anyway, is down, and answers -EIO until a connection comes up). */
    int (*open)(const struct store_config *cfg, struct store **out, char *err);
    void (*close)(struct store *s);
    /* Writes complete only after their transaction committed. */
    int (*create)(struct store *s, const struct store_item *in, const struct store_alloc *out,
                  store_done_fn cb, void *ud);
    int (*get)(struct store *s, int64_t id, const struct store_alloc *out, store_done_fn cb,
               void *ud);
    int (*list)(struct store *s, int64_t offset, int64_t limit, const struct store_alloc *out,
                store_done_fn cb, void *ud);
    /* Replaces every field of item in->id. */
    int (*replace)(struct store *s, const struct store_item *in, const struct store_alloc *out,
                   store_done_fn cb, void *ud);
    /* Sets the fields named in `fields` (enum store_field bits) from in, for item in->id; the
     * other fields of in are not read. Answers with the whole stored item. */
    int (*patch)(struct store *s, const struct store_item *in, unsigned fields,
                 const struct store_alloc *out, store_done_fn cb, void *ud);
    int (*remove)(struct store *s, int64_t id, store_done_fn cb, void *ud);
    /* Group commit: with it on, a write's callback runs only once flush() committed it, together
     * with every other write made since the last flush: one durable commit for many requests.
     * Reads flush first. pending() says whether a flush is due. */
    void (*set_group_commit)(struct store *s, bool on);
    void (*flush)(struct store *s);
    bool (*pending)(const struct store *s);
    /* Whether the store can serve now (false: its database is unreachable). */
    bool (*up)(const struct store *s);
};

/* The SQLite backend. */
CREST_API const struct store_ops *crest_store_sqlite(void);
/* The PostgreSQL backend (libpq in pipeline mode, its sockets in the worker's event loop). */
CREST_API const struct store_ops *crest_store_postgresql(void);
/* The backend a URL names: postgresql:// and postgres:// are PostgreSQL, anything else a SQLite
 * path. */
CREST_API const struct store_ops *crest_store_for_url(const char *url);
/* url with its password replaced by "***" (for logs and errors), NUL-terminated in buf. */
CREST_API void crest_store_redact_url(const char *url, char *buf, size_t cap);

#endif
