/* store/sqlite.c: the items store on SQLite. One store is one connection, opened by one worker
 * and used by that worker only (SQLITE_OPEN_NOMUTEX: no mutex per call), with its statements
 * prepared once. Reads call back before returning. A write calls back only after its COMMIT
 * succeeded: at once, or, with group commit on, at the next flush, together with every write made
 * since (one fsync for a whole event-loop turn of requests, with synchronous=FULL kept). Several
 * workers, or processes, share the file through WAL and SQLite's locks: readers never wait for the
 * writer, writers queue on busy_timeout. The allocator routing is sqlite_mem.c's, the tags column
 * codec item.c's. */
#include "store/sqlite_int.h"

#include "mem/mem.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    SCHEMA_VERSION = 1,
    /* Writers wait for each other this long before a request gets -EBUSY (a 503): far above any
     * single-row transaction, even with an fsync each, so it only fires on a stuck writer. */
    BUSY_TIMEOUT_MS = 5000,
    WAL_RETRY_MS = 5,
    FIRST_PAGE_ITEMS = 16,
};

/* migrations[v] takes the schema from user_version v to v + 1. Append only: a file created by
 * an older crest replays the tail. AUTOINCREMENT, not just INTEGER PRIMARY KEY, so the id of a
 * deleted item is never handed out again, even when it was the largest. */
static const char *const migrations[] = {
    "CREATE TABLE items(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, "
    "description TEXT, price REAL NOT NULL, tax REAL, tags TEXT NOT NULL)",
};
static_assert(sizeof(migrations) / sizeof(migrations[0]) == SCHEMA_VERSION,
              "one migration per schema version");

/* Columns every item query returns, in this order, and the parameters of INSERT and UPDATE. */
#define ITEM_COLUMNS "id, name, description, price, tax, tags"
enum item_column { COL_ID, COL_NAME, COL_DESCRIPTION, COL_PRICE, COL_TAX, COL_TAGS };
enum item_param { P_NAME = 1, P_DESCRIPTION, P_PRICE, P_TAX, P_TAGS, P_ID, P_FIELDS };

/* The UPDATE behind replace and patch: a field changes only when its bit is set in ?7, so the
 * read-modify-write of a patch happens inside one statement of one transaction. */
static_assert(STORE_NAME == 1 && STORE_DESCRIPTION == 2 && STORE_PRICE == 4 && STORE_TAX == 8 &&
                  STORE_TAGS == 16,
              "the bits ST_UPDATE tests");
#define UPDATE_SQL                                                     \
    "UPDATE items SET name = CASE WHEN ?7 & 1 THEN ?1 ELSE name END, " \
    "description = CASE WHEN ?7 & 2 THEN ?2 ELSE description END, "    \
    "price = CASE WHEN ?7 & 4 THEN ?3 ELSE price END, "                \
    "tax = CASE WHEN ?7 & 8 THEN ?4 ELSE tax END, "                    \
    "tags = CASE WHEN ?7 & 16 THEN ?5 ELSE tags END WHERE id = ?6 RETURNING " ITEM_COLUMNS

/* BEGIN IMMEDIATE takes the write lock up front: a deferred BEGIN would read first and then fail
 * to upgrade with SQLITE_BUSY when another writer got in between, which no timeout can fix. */
#define STATEMENTS(X)                                                                       \
    X(ST_BEGIN, "begin", "BEGIN IMMEDIATE")                                                 \
    X(ST_COMMIT, "commit", "COMMIT")                                                        \
    X(ST_ROLLBACK, "rollback", "ROLLBACK")                                                  \
    X(ST_INSERT, "insert",                                                                  \
      "INSERT INTO items(name, description, price, tax, tags) "                             \
      "VALUES (?1, ?2, ?3, ?4, ?5) RETURNING " ITEM_COLUMNS)                                \
    X(ST_UPDATE, "update", UPDATE_SQL)                                                      \
    X(ST_GET, "get", "SELECT " ITEM_COLUMNS " FROM items WHERE id = ?1")                    \
    X(ST_LIST, "list", "SELECT " ITEM_COLUMNS " FROM items ORDER BY id LIMIT ?1 OFFSET ?2") \
    X(ST_DELETE, "delete", "DELETE FROM items WHERE id = ?1")

enum stmt {
#define STMT_ENUM(id, name, sql) id,
    STATEMENTS(STMT_ENUM)
#undef STMT_ENUM
        ST_COUNT
};

static const char *const stmt_names[] = {
#define STMT_NAME(id, name, sql) name,
    STATEMENTS(STMT_NAME)
#undef STMT_NAME
};

static const char *const stmt_sql[] = {
#define STMT_SQL(id, name, sql) sql,
    STATEMENTS(STMT_SQL)
#undef STMT_SQL
};

/* A write done inside the open group transaction, waiting for its COMMIT to be acknowledged. */
struct pending {
    store_done_fn cb;
    void *ud;
    struct store_item *item; /* NULL for a delete */
};

struct sqlite_store {
    struct store base; /* first: the ops table */
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    bool group;              /* group commit on: writes wait for store_flush */
    bool in_txn;             /* the group transaction is open */
    struct pending *pending; /* MEM_SQLITE */
    uint32_t n_pending, cap_pending;
};

static struct sqlite_store *sqlite_of(struct store *store)
{
    return (struct sqlite_store *)store;
}

sqlite3 *store_sqlite_db(struct store *store)
{
    return sqlite_of(store)->db;
}

/* ------------------------------------------------------------------------------------------------
 * Errors */

static int errno_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_NOMEM:
        return -ENOMEM;
    default: /* SQLITE_IOERR, CORRUPT, NOTADB, and what the schema should make impossible */
        return -EIO;
    }
}

/* Logs the first error of each kind (primary result code) the process sees, then stays quiet:
 * a full disk fails every write, and one line says it as well as a million. */
__attribute__((format(printf, 2, 3))) static void log_once(int kind, const char *fmt, ...)
{
    static _Atomic bool logged[256];
    va_list ap;

    if (atomic_exchange_explicit(&logged[kind & 0xff], true, memory_order_relaxed))
        return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static int fail(struct sqlite_store *s, enum stmt id, int rc)
{
    log_once(rc, "crest: sqlite: %s: %s (code %d); further errors of this kind not logged\n",
             stmt_names[id], sqlite3_errmsg(s->db), rc);
    return errno_of(rc);
}

/* A stored row that does not read back (tags that are not a JSON array) is corruption too. */
static int corrupt_row(int64_t id)
{
    log_once(SQLITE_CORRUPT,
             "crest: sqlite: item %lld: unreadable tags column; further "
             "corruption not logged\n",
             (long long)id);
    return -EIO;
}

/* ------------------------------------------------------------------------------------------------
 * Running statements */

/* Forgets the bindings too: they may point into the caller's memory, gone after the call. */
static void reset(struct sqlite_store *s, enum stmt id)
{
    int rc = sqlite3_reset(s->st[id]);
    (void)rc; /* repeats the error of the last step, already handled */
    sqlite3_clear_bindings(s->st[id]);
}

/* Runs a statement that returns no rows. 0, or a negative errno. */
static int run(struct sqlite_store *s, enum stmt id)
{
    int rc = sqlite3_step(s->st[id]);
    int status = rc == SQLITE_DONE ? 0 : fail(s, id, rc);
    reset(s, id);
    return status;
}

/* Ends the transaction: COMMIT when status is 0, else (or when COMMIT fails) ROLLBACK. Some
 * errors (SQLITE_FULL, IOERR, NOMEM) roll back by themselves: then there is nothing left to end. */
static int end_transaction(struct sqlite_store *s, int status)
{
    if (status == 0 && (status = run(s, ST_COMMIT)) == 0)
        return 0;
    if (!sqlite3_get_autocommit(s->db)) {
        int rc = run(s, ST_ROLLBACK);
        (void)rc; /* the status that made us roll back is the one to report */
    }
    return status;
}

static int bind_str(sqlite3_stmt *st, int param, struct crest_str v)
{
    if (!v.ptr)
        return sqlite3_bind_null(st, param);
    /* SQLITE_STATIC: the caller's bytes outlive the statement's use (reset() before we return) */
    return sqlite3_bind_text64(st, param, v.ptr, v.len, SQLITE_STATIC, SQLITE_UTF8);
}

/* Binds the fields of `in` named in `fields`, NULL for the others; *tags holds the encoded tags
 * until the statement ran (the caller frees it). */
static int bind_item(struct sqlite_store *s, enum stmt id, const struct store_item *in,
                     unsigned fields, struct crest_json **tags)
{
    sqlite3_stmt *st = s->st[id];
    struct crest_str none = {NULL, 0};
    int rc, status;

    rc = bind_str(st, P_NAME, fields & STORE_NAME ? in->name : none);
    if (rc == SQLITE_OK)
        rc = bind_str(st, P_DESCRIPTION, fields & STORE_DESCRIPTION ? in->description : none);
    if (rc == SQLITE_OK && (fields & STORE_PRICE))
        rc = sqlite3_bind_double(st, P_PRICE, in->price);
    if (rc == SQLITE_OK && (fields & STORE_TAX) && in->has_tax)
        rc = sqlite3_bind_double(st, P_TAX, in->tax);
    if (rc != SQLITE_OK)
        return fail(s, id, rc);
    if (!(fields & STORE_TAGS))
        return 0;
    status = store_tags_encode(in->tags, in->n_tags, tags);
    if (status)
        return status;
    rc = bind_str(st, P_TAGS, crest_json_text(*tags));
    return rc == SQLITE_OK ? 0 : fail(s, id, rc);
}

/* ------------------------------------------------------------------------------------------------
 * Copying rows out: every byte goes to the caller's allocator, nothing points into SQLite. */

/* Copies a TEXT column (NUL-terminated); a NULL column gives ptr NULL. */
static int copy_text(sqlite3_stmt *st, int col, const struct store_alloc *out,
                     struct crest_str *dst)
{
    *dst = (struct crest_str){NULL, 0};
    if (sqlite3_column_type(st, col) == SQLITE_NULL) /* before column_text, which converts */
        return 0;
    const unsigned char *text = sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (!text)
        return -ENOMEM; /* the conversion to text ran out of memory */
    char *p = out->alloc(out->ctx, n + 1);
    if (!p)
        return -ENOMEM;
    memcpy(p, text, n);
    p[n] = '\0';
    *dst = (struct crest_str){p, n};
    return 0;
}

static int copy_row(sqlite3_stmt *st, const struct store_alloc *out, struct store_item *item)
{
    struct crest_str tags;
    int status;

    item->id = sqlite3_column_int64(st, COL_ID);
    item->price = sqlite3_column_double(st, COL_PRICE);
    item->has_tax = sqlite3_column_type(st, COL_TAX) != SQLITE_NULL;
    item->tax = item->has_tax ? sqlite3_column_double(st, COL_TAX) : 0.0;
    status = copy_text(st, COL_NAME, out, &item->name);
    if (status == 0 && !item->name.ptr)
        status = corrupt_row(item->id); /* NOT NULL in the schema */
    if (status == 0)
        status = copy_text(st, COL_DESCRIPTION, out, &item->description);
    if (status)
        return status;
    if (sqlite3_column_type(st, COL_TAGS) == SQLITE_NULL)
        return corrupt_row(item->id);
    tags.ptr = (const char *)sqlite3_column_text(st, COL_TAGS);
    tags.len = (size_t)sqlite3_column_bytes(st, COL_TAGS);
    if (!tags.ptr)
        return -ENOMEM;
    status = store_tags_decode(tags.ptr, tags.len, out, &item->tags, &item->n_tags);
    return status == -EIO ? corrupt_row(item->id) : status;
}

/* Steps a statement that yields at most one item (SELECT by id, INSERT or UPDATE ... RETURNING)
 * to its end, copying the item out, and resets it. -ENOENT when it yields none. */
static int step_item(struct sqlite_store *s, enum stmt id, const struct store_alloc *out,
                     struct store_item **item)
{
    sqlite3_stmt *st = s->st[id];
    int rc = sqlite3_step(st);
    int status = rc == SQLITE_DONE ? -ENOENT : 0;

    *item = NULL;
    if (rc == SQLITE_ROW) {
        struct store_item *it = out->alloc(out->ctx, sizeof(*it));
        status = it ? copy_row(st, out, it) : -ENOMEM;
        if (status == 0)
            *item = it;
        /* the id is unique, so this ends the statement (RETURNING: after its write is done) */
        rc = status ? SQLITE_DONE : sqlite3_step(st);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        status = fail(s, id, rc);
    reset(s, id);
    if (status)
        *item = NULL;
    return status;
}

/* Group commit: with group on, writes run inside one open transaction and are acknowledged only
 * when store_flush commits it, so one fsync covers every write of an event-loop turn (the items
 * service flushes at the end of the turn). A write is never acknowledged before its COMMIT. */
static int txn_begin(struct sqlite_store *s)
{
    if (s->in_txn)
        return 0;
    int status = run(s, ST_BEGIN);
    s->in_txn = status == 0;
    return status;
}

/* Ends the open transaction and answers every write waiting on it: COMMIT's status for all. */
static void txn_finish(struct sqlite_store *s, int status)
{
    if (!s->in_txn)
        return;
    s->in_txn = false;
    status = end_transaction(s, status);
    uint32_t n = s->n_pending;
    s->n_pending = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct pending *p = &s->pending[i];
        p->cb(p->ud, status, status ? NULL : p->item, status || !p->item ? 0 : 1);
    }
}

static int push_pending(struct sqlite_store *s, store_done_fn cb, void *ud, struct store_item *item)
{
    if (s->n_pending == s->cap_pending) {
        uint32_t cap = s->cap_pending ? s->cap_pending * 2 : 16;
        struct pending *p =
            mem_realloc(MEM_SQLITE, s->pending, s->cap_pending * sizeof(*p), cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        s->pending = p;
        s->cap_pending = cap;
    }
    s->pending[s->n_pending++] = (struct pending){cb, ud, item};
    return 0;
}

/* The end of a write whose statement ran with the given status. Without group commit: COMMIT
 * now and answer. With it: a write that changed nothing (-ENOENT) is answered at once; an error
 * rolls the whole group back, answering everyone; success waits for the flush. */
static void write_done(struct sqlite_store *s, int status, store_done_fn cb, void *ud,
                       struct store_item *item)
{
    if (!s->group) {
        s->in_txn = false;
        status = end_transaction(s, status);
        cb(ud, status, status ? NULL : item, status || !item ? 0 : 1);
        return;
    }
    if (status == 0)
        status = push_pending(s, cb, ud, item);
    if (status == 0)
        return;
    if (status != -ENOENT)
        txn_finish(s, status); /* the transaction is broken: nobody in it is acknowledged */
    cb(ud, status, NULL, 0);
}

/* A page of items. The array grows by doubling in the caller's memory (the old copies stay until
 * the caller frees its arena: at most as much again), so a short page never costs `limit` slots. */
struct page {
    struct store_item *items;
    size_t n, cap;
};

static int page_grow(struct page *pg, const struct store_alloc *out, int64_t limit)
{
    size_t cap = pg->cap ? pg->cap * 2 : FIRST_PAGE_ITEMS;
    if ((uint64_t)cap > (uint64_t)limit)
        cap = (size_t)limit;
    struct store_item *items = out->alloc(out->ctx, cap * sizeof(*items));
    if (!items)
        return -ENOMEM;
    if (pg->n)
        memcpy(items, pg->items, pg->n * sizeof(*items));
    pg->items = items;
    pg->cap = cap;
    return 0;
}

static int step_page(struct sqlite_store *s, const struct store_alloc *out, int64_t limit,
                     struct page *pg)
{
    sqlite3_stmt *st = s->st[ST_LIST];
    int status = 0;
    int rc = SQLITE_DONE;

    while (status == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (pg->n == pg->cap)
            status = page_grow(pg, out, limit);
        if (status == 0)
            status = copy_row(st, out, &pg->items[pg->n++]);
    }
    if (status == 0 && rc != SQLITE_DONE)
        status = fail(s, ST_LIST, rc);
    reset(s, ST_LIST);
    return status;
}

/* ------------------------------------------------------------------------------------------------
 * The operations */

static bool args_ok(struct sqlite_store *s, const struct store_alloc *out, store_done_fn cb)
{
    return s && out && out->alloc && cb;
}

/* What SQLite could not store as given: a NULL name (NOT NULL), NaN (SQLite turns it into NULL,
 * so a NaN tax would silently read back as null), tags counted but missing. */
static int sqlite_create(struct store *store, const struct store_item *in,
                         const struct store_alloc *out, store_done_fn cb, void *ud)
{
    struct sqlite_store *s = sqlite_of(store);
    struct crest_json *tags = NULL;
    struct store_item *item = NULL;
    int status;

    if (!args_ok(s, out, cb) || !store_item_ok(in, STORE_ALL_FIELDS))
        return -EINVAL;
    status = bind_item(s, ST_INSERT, in, STORE_ALL_FIELDS, &tags);
    if (status == 0)
        status = txn_begin(s);
    if (status == 0)
        status = step_item(s, ST_INSERT, out, &item);
    else
        reset(s, ST_INSERT);
    crest_json_free(tags);
    write_done(s, status, cb, ud, item);
    return 0;
}

static int sqlite_patch(struct store *store, const struct store_item *in, unsigned fields,
                        const struct store_alloc *out, store_done_fn cb, void *ud)
{
    struct sqlite_store *s = sqlite_of(store);
    sqlite3_stmt *st = s ? s->st[ST_UPDATE] : NULL;
    struct crest_json *tags = NULL;
    struct store_item *item = NULL;
    int status;

    if (!args_ok(s, out, cb) || !store_item_ok(in, fields))
        return -EINVAL;
    status = bind_item(s, ST_UPDATE, in, fields, &tags);
    if (status == 0 && (sqlite3_bind_int64(st, P_ID, in->id) != SQLITE_OK ||
                        sqlite3_bind_int(st, P_FIELDS, (int)fields) != SQLITE_OK))
        status = fail(s, ST_UPDATE, sqlite3_errcode(s->db));
    if (status == 0)
        status = txn_begin(s);
    if (status == 0)
        status = step_item(s, ST_UPDATE, out, &item);
    else
        reset(s, ST_UPDATE);
    crest_json_free(tags);
    write_done(s, status, cb, ud, item);
    return 0;
}

static int sqlite_replace(struct store *store, const struct store_item *in,
                          const struct store_alloc *out, store_done_fn cb, void *ud)
{
    return sqlite_patch(store, in, STORE_ALL_FIELDS, out, cb, ud);
}

/* Reads run outside any explicit transaction: one statement is its own consistent snapshot. */
static int sqlite_get(struct store *store, int64_t id, const struct store_alloc *out,
                      store_done_fn cb, void *ud)
{
    struct sqlite_store *s = sqlite_of(store);
    struct store_item *item = NULL;
    int status;

    if (!args_ok(s, out, cb))
        return -EINVAL;
    txn_finish(s, 0); /* a read never sees a write that is not acknowledged yet */
    status = sqlite3_bind_int64(s->st[ST_GET], 1, id);
    status = status == SQLITE_OK ? step_item(s, ST_GET, out, &item) : fail(s, ST_GET, status);
    cb(ud, status, item, item ? 1 : 0);
    return 0;
}

static int sqlite_list(struct store *store, int64_t offset, int64_t limit,
                       const struct store_alloc *out, store_done_fn cb, void *ud)
{
    struct sqlite_store *s = sqlite_of(store);
    sqlite3_stmt *st = s ? s->st[ST_LIST] : NULL;
    struct page pg = {0};
    int status = 0;

    if (!args_ok(s, out, cb) || offset < 0 || limit < 0)
        return -EINVAL;
    txn_finish(s, 0);
    if (limit > 0) {
        if (sqlite3_bind_int64(st, 1, limit) != SQLITE_OK ||
            sqlite3_bind_int64(st, 2, offset) != SQLITE_OK)
            status = fail(s, ST_LIST, sqlite3_errcode(s->db));
        else
            status = step_page(s, out, limit, &pg);
    }
    cb(ud, status, status ? NULL : pg.items, status ? 0 : pg.n);
    return 0;
}

static int sqlite_remove(struct store *store, int64_t id, store_done_fn cb, void *ud)
{
    struct sqlite_store *s = sqlite_of(store);
    int status;

    if (!s || !cb)
        return -EINVAL;
    status = txn_begin(s);
    if (status == 0) {
        status = sqlite3_bind_int64(s->st[ST_DELETE], 1, id) == SQLITE_OK
                     ? run(s, ST_DELETE)
                     : fail(s, ST_DELETE, sqlite3_errcode(s->db));
        if (status == 0 && sqlite3_changes64(s->db) == 0)
            status = -ENOENT;
    }
    write_done(s, status, cb, ud, NULL);
    return 0;
}

/* ------------------------------------------------------------------------------------------------
 * Opening: connect, configure, migrate, prepare. Errors name the step and SQLite's message. */

static int open_error(struct sqlite_store *s, char *err, const char *url, const char *step, int rc)
{
    /* the OS's reason, when the failure was the OS's (SQLite keeps the last errno it saw) */
    bool os = (rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_IOERR;
    int sys = os && s->db ? sqlite3_system_errno(s->db) : 0;

    if (err)
        snprintf(err, CREST_ERR_LEN, "sqlite %s: %s: %s (code %d)%s%s", url, step,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc), rc, sys ? ": " : "",
                 sys ? strerror(sys) : "");
    return errno_of(rc);
}

/* Runs a one-row query (a PRAGMA) and copies its first column as text to buf. */
static int query_text(sqlite3 *db, const char *sql, char *buf, size_t cap)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(st, 0);
        snprintf(buf, cap, "%s", text ? (const char *)text : "");
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        buf[0] = '\0';
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Switching a file to WAL takes an exclusive lock while holding a shared one, and SQLite answers
 * SQLITE_BUSY at once rather than call the busy handler (two such upgraders would deadlock). So
 * workers opening a new file together retry here, for as long as busy_timeout would have waited;
 * this runs at startup only, where sleeping blocks no client. */
static int enable_wal(struct sqlite_store *s, char *mode, size_t cap)
{
    for (int waited_ms = 0;; waited_ms += WAL_RETRY_MS) {
        int rc = query_text(s->db, "PRAGMA journal_mode=WAL", mode, cap);
        if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= BUSY_TIMEOUT_MS)
            return rc;
        sqlite3_sleep(WAL_RETRY_MS);
    }
}

/* Durability. With WAL, synchronous=NORMAL already survives kill -9 at any moment: a commit has
 * been write()n to the WAL, into the kernel's page cache, before COMMIT returns, and a killed
 * process loses nothing the kernel holds. What NORMAL can lose is the last commits on power loss
 * or an OS crash, as it fsyncs only at checkpoints. FULL fsyncs the WAL at every commit, so an
 * acknowledged write (a 201 already on the wire) survives those too, for one fsync per write
 * transaction; reads pay nothing. A client cannot tell a lost acknowledged write from a bug, so
 * FULL it is. cache_size: each worker's connection keeps its own page cache of the same file,
 * on top of the kernel's one copy; 256 KiB each (SQLite's default is 2 MiB) holds the items
 * table's hot interior pages, and the kernel serves the rest from RAM anyway. */
static int configure(struct sqlite_store *s, const char *url, char *err)
{
    char mode[16];
    int rc;

    sqlite3_extended_result_codes(s->db, 1);
    rc = sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if (rc == SQLITE_OK && strcmp(url, ":memory:") != 0) {
        rc = enable_wal(s, mode, sizeof(mode));
        if (rc != SQLITE_OK)
            return open_error(s, err, url, "journal_mode=WAL", rc);
        if (strcmp(mode, "wal") != 0) {
            if (err)
                snprintf(err, CREST_ERR_LEN, "sqlite %s: cannot use WAL (journal mode is %s)", url,
                         mode);
            return -EIO;
        }
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, "PRAGMA synchronous=FULL; PRAGMA cache_size=-256", NULL, NULL,
                          NULL);
    return rc == SQLITE_OK ? 0 : open_error(s, err, url, "configure", rc);
}

static int user_version(struct sqlite_store *s, int *version)
{
    char text[16];
    int rc = query_text(s->db, "PRAGMA user_version", text, sizeof(text));

    *version = rc == SQLITE_OK ? atoi(text) : 0;
    return rc;
}

static int newer_schema(char *err, const char *url, int version)
{
    if (err)
        snprintf(err, CREST_ERR_LEN,
                 "sqlite %s: schema version %d is newer than this crest's (%d): upgrade crest", url,
                 version, SCHEMA_VERSION);
    return -EPROTO;
}

/* Replays the missing migrations; the caller holds the write lock. */
static int migrate_locked(struct sqlite_store *s, const char *url, char *err)
{
    char sql[48];
    int version;
    int rc = user_version(s, &version); /* another connection may have migrated meanwhile */

    if (rc == SQLITE_OK && version > SCHEMA_VERSION)
        return newer_schema(err, url, version);
    for (; rc == SQLITE_OK && version < SCHEMA_VERSION; version++)
        rc = sqlite3_exec(s->db, migrations[version], NULL, NULL, NULL);
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", SCHEMA_VERSION);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : open_error(s, err, url, "migrate", rc);
}

/* Brings the schema to SCHEMA_VERSION in one BEGIN IMMEDIATE transaction: workers and processes
 * opening a new file together queue on the write lock, and the first one in migrates; the
 * others then read the new version and have nothing to do. An up-to-date file takes no write
 * lock at all (so a read-only file still opens). */
static int migrate(struct sqlite_store *s, const char *url, char *err)
{
    int version;
    int rc = user_version(s, &version);

    if (rc != SQLITE_OK)
        return open_error(s, err, url, "read schema version", rc);
    if (version == SCHEMA_VERSION)
        return 0;
    if (version > SCHEMA_VERSION)
        return newer_schema(err, url, version);
    rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return open_error(s, err, url, "migrate", rc);
    int status = migrate_locked(s, url, err);
    if (status == 0 && (rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
        status = open_error(s, err, url, "migrate", rc);
    if (status && !sqlite3_get_autocommit(s->db)) {
        rc = sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        (void)rc; /* the migration's error is the one to report */
    }
    return status;
}

static int prepare(struct sqlite_store *s, const char *url, char *err)
{
    for (int i = 0; i < ST_COUNT; i++) {
        int rc =
            sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (rc != SQLITE_OK)
            return open_error(s, err, url, "prepare", rc);
    }
    return 0;
}

/* Finalizes whatever was prepared, then closes; the last connection to a WAL file checkpoints
 * it and removes the -wal and -shm files. */
static void disconnect(struct sqlite_store *s)
{
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close_v2(s->db);
}

static int sqlite_open(const struct store_config *cfg, struct store **out, char *err)
{
    /* no SQLITE_OPEN_URI (and URIs off process-wide, see sqlite_mem.c): a path is a path */
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    const char *url = cfg ? cfg->url : NULL;
    struct sqlite_store *s;
    int status;

    if (!url || !out)
        return -EINVAL;
    *out = NULL;
    status = store_sqlite_mem_setup();
    if (status != SQLITE_OK) {
        if (err)
            snprintf(err, CREST_ERR_LEN, "sqlite: initialize: %s", sqlite3_errstr(status));
        return errno_of(status);
    }
    s = mem_calloc(MEM_SQLITE, 1, sizeof(*s));
    if (!s) {
        if (err)
            snprintf(err, CREST_ERR_LEN, "sqlite %s: out of memory", url);
        return -ENOMEM;
    }
    status = sqlite3_open_v2(url, &s->db, flags, NULL);
    status = status == SQLITE_OK ? 0 : open_error(s, err, url, "open", status);
    if (status == 0)
        status = configure(s, url, err);
    if (status == 0)
        status = migrate(s, url, err);
    if (status == 0)
        status = prepare(s, url, err);
    if (status) {
        disconnect(s); /* sqlite3_open_v2 returns a handle even when it fails */
        mem_free(MEM_SQLITE, s, sizeof(*s));
        return status;
    }
    s->base.ops = crest_store_sqlite();
    *out = &s->base;
    return 0;
}

static void sqlite_close(struct store *store)
{
    struct sqlite_store *s = sqlite_of(store);
    if (!s)
        return;
    txn_finish(s, 0);
    mem_free(MEM_SQLITE, s->pending, s->cap_pending * sizeof(*s->pending));
    disconnect(s);
    mem_free(MEM_SQLITE, s, sizeof(*s));
}

static void sqlite_set_group_commit(struct store *store, bool on)
{
    struct sqlite_store *s = sqlite_of(store);
    if (!on)
        txn_finish(s, 0);
    s->group = on;
}

static void sqlite_flush(struct store *store)
{
    struct sqlite_store *s = sqlite_of(store);
    txn_finish(s, 0);
}

static bool sqlite_pending(const struct store *store)
{
    const struct sqlite_store *s = (const struct sqlite_store *)store;
    return s->in_txn;
}

/* A file that opened stays reachable: failures are per statement (-EBUSY, -EIO, -ENOSPC). */
static bool sqlite_up(const struct store *store)
{
    (void)store;
    return true;
}

CREST_API const struct store_ops *crest_store_sqlite(void)
{
    static const struct store_ops ops = {
        .name = "sqlite",
        .open = sqlite_open,
        .close = sqlite_close,
        .create = sqlite_create,
        .get = sqlite_get,
        .list = sqlite_list,
        .replace = sqlite_replace,
        .patch = sqlite_patch,
        .remove = sqlite_remove,
        .set_group_commit = sqlite_set_group_commit,
        .flush = sqlite_flush,
        .pending = sqlite_pending,
        .up = sqlite_up,
    };
    return &ops;
}
