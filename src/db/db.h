/* db/db.h: the databases of an application (crest.h's crest_db_*): SQLite and PostgreSQL behind one
 * call, run from handlers without blocking the worker. db.c is the face (the app part, the per-
 * worker instances, a call's life and its answer); result.c the rows a call returns; sqlite.c and
 * pg*.c the two backends. A backend sees calls and a loop, never an HTTP request: the call carries
 * its statements (parameters copied), and the backend fills in results with the allocator it is
 * handed, then finishes it on the worker that made it. */
#ifndef CREST_DB_DB_H
#define CREST_DB_DB_H

#include "app/app.h"
#include "crest.h"
#include "obs/stats.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where results are built: the request's arena on the worker; a heap arena on SQLite's writer
 * thread, copied into the request's arena when the call comes back. NULL: out of memory. */
struct db_alloc {
    void *(*alloc)(void *ctx, size_t n);
    void *ctx;
};

/* One crest_db_run: its statements (and their parameters, copied into the call's block, so that
 * a backend may send them later or from another thread), then its answer. */
struct db_call {
    struct db_call *next; /* a backend's queues */
    struct crest_db *db;
    struct crest_req *req;
    crest_db_fn done;
    void *ud;
    size_t n;
    struct crest_db_stmt *stmts;
    size_t size; /* of the block the call lives in (MEM_DB) */
    enum crest_db_status status;
    struct crest_db_result *results; /* n of them, from the allocator the backend fills them with */
    uint64_t start_us;
    bool abandoned; /* answered already (timed out): what comes later is dropped */
    bool wrote;     /* a statement changed data: once committed, its answer must go out */
    void *heap;     /* SQLite's writer: the arena the results live in until copied */
    void *worker;   /* the backend's instance that made it */
};

struct db_backend {
    const char *name; /* "sqlite", "postgresql" */
    /* Once, at crest_app_add_db: what is process-wide (SQLite opens its writer and migrates). */
    int (*open)(struct crest_db *db, char *err);
    void (*close)(struct crest_db *db);
    /* Per worker (loop NULL: the test client's, which has no loop). */
    int (*worker_open)(struct crest_db *db, unsigned id, struct crest_loop *loop, void **out,
                       char *err);
    void (*worker_close)(void *w);
    /* Starts call: 0, after which the backend finishes it exactly once (db_call_finish), maybe
     * before returning; or a negative errno and the call is still the caller's. */
    int (*run)(void *w, struct db_call *call);
    bool (*up)(void *w);
};

struct crest_db {
    struct app_part part; /* first: the app owns it */
    const struct db_backend *backend;
    char *name; /* MEM_DB */
    char *url;  /* MEM_DB */
    char redacted[160];
    unsigned obs; /* its slot of the per-worker figures (obs_db_slot) */
    unsigned pool;
    uint32_t timeout_ms;
    bool pipeline;
    const char *const *migrations; /* the application's */
    size_t n_migrations;
    void *shared; /* the backend's process-wide state */
    unsigned n_workers;
    void **workers; /* MEM_DB: each worker's instance */
};

extern const struct db_backend db_sqlite_backend;
extern const struct db_backend db_pg_backend;

/* ---- db.c ---- */

/* A call holding copies of n statements and their parameters (MEM_DB), or NULL. */
struct db_call *db_call_new(const struct crest_db_stmt *stmts, size_t n);
/* Answers a call on its worker: runs done (unless abandoned) and frees the call. status, when
 * not CREST_DB_OK, overrides the call's own. */
void db_call_finish(struct db_call *call, enum crest_db_status status);
/* Answers a call now (a timeout) while the backend keeps it until its result comes. */
void db_call_answer_early(struct db_call *call, enum crest_db_status status);
/* Monotonic microseconds (calls' ages, off the loop too). */
uint64_t db_now_us(void);
/* The request arena as an allocator. */
struct db_alloc db_call_alloc(struct db_call *call);
/* One line on stderr: "crest: db NAME (URL redacted): what: detail". */
void db_log(const struct crest_db *db, const char *what, const char *detail);

/* ---- sqlite_mem.c ---- */

/* Routes SQLite's allocations through mem (tag MEM_SQLITE), sizes its per-connection caches and
 * turns URI filenames off; runs once per process, before the first connection opens. 0, or a
 * SQLite status when SQLite itself failed to initialize. When the application already started
 * SQLite, the allocator can no longer be swapped: that is logged once, SQLite's memory stays
 * unaccounted, and 0 is returned. */
int db_sqlite_mem_setup(void);
/* url with its password replaced by "***" (for logs and errors), NUL-terminated in buf. */
void db_redact_url(const char *url, char *buf, size_t cap);

/* ---- migrate.c ---- */
enum { DB_CHECKSUM_LEN = 17 }; /* 16 hex digits and the NUL */
/* A migration script's checksum, as crest_migrations records it. */
void db_migration_checksum(const char *script, char out[DB_CHECKSUM_LEN]);
/* Whether the recorded checksum of version is this application's migration's (true for a
 * version it does not have, and for none recorded). */
bool db_migration_matches(const struct crest_db *db, int64_t version, const char *checksum);
/* The refusal's words, in err (CREST_ERR_LEN). */
void db_migration_mismatch(const struct crest_db *db, int64_t version, char *err);
/* The UPDATE that records this application's checksums where none is (MEM_DB, *size bytes);
 * NULL: out of memory. */
char *db_migrations_adopt_sql(const struct crest_db *db, size_t *size);

/* ---- result.c ---- */

/* Starts r with n_cols columns (names to be set). 0, -ENOMEM. */
int db_result_init(struct crest_db_result *r, const struct db_alloc *a, size_t n_cols);
/* A NUL-terminated copy of [ptr, len) as column col's name. */
int db_result_name(struct crest_db_result *r, const struct db_alloc *a, size_t col, const char *ptr,
                   size_t len);
/* Space for one more row (n_cols values, set to NULL), or NULL when out of memory. */
struct crest_db_value *db_result_row(struct crest_db_result *r, const struct db_alloc *a);
/* Sets v to a NUL-terminated copy of [ptr, len) of the given type (text or blob). -ENOMEM. */
int db_value_copy(struct crest_db_value *v, const struct db_alloc *a, uint8_t type, const void *ptr,
                  size_t len);
/* Deep copies n results into a. -ENOMEM. */
int db_results_copy(struct crest_db_result **dst, const struct crest_db_result *src, size_t n,
                    const struct db_alloc *a);

/* A growable heap arena (MEM_DB) for results built off the worker. */
struct db_heap;
struct db_heap *db_heap_new(void);
void db_heap_free(struct db_heap *h);
struct db_alloc db_heap_alloc(struct db_heap *h);

#endif
