/* db/sqlite.c: the SQLite backend. SQLite's calls block (on the disk, and on the write lock of
 * another connection or process), and a worker's loop must not: so reads and writes part ways.
 * - Reads run on the worker, through a connection of its own (WAL: a reader never waits for the
 *   writer) with PRAGMA query_only, and call back before crest_db_run returns.
 * - Writes (a call with any statement sqlite3_stmt_readonly says writes) go to the database's one
 *   writer thread, started at the first. It takes everything queued while its previous commit ran
 *   and commits it as one transaction (BEGIN IMMEDIATE … COMMIT, synchronous=FULL: one fsync for
 *   all of it), each call inside a savepoint of its own, so one call's failure rolls back that
 *   call only. Results are built in a heap arena of the call's; the worker, woken through an
 *   eventfd in its loop, copies them into the request's arena and calls back: after COMMIT.
 *   Another process holding the write lock stalls the writer thread only; each call waits for it
 *   timeout_ms at most from its crest_db_run, and is answered CREST_DB_TIMEOUT then.
 * ":memory:" is one private database per worker: everything runs on the worker. The test client's
 * worker has no loop, so its writes run on the writer connection in the caller's thread. */
#include "db/db.h"

#include "mem/mem.h"
#include "net/loop.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { CACHE_SLOTS = 64, WAL_RETRY_MS = 5 };

/* Prepared statements of one connection, by SQL text: prepared once, reset after each use. */
struct sq_cached {
    sqlite3_stmt *st; /* found by its text: an application's SQL may be built per request */
};

struct sq_conn {
    sqlite3 *db;
    unsigned next_evict;
    struct sq_cached cache[CACHE_SLOTS];
};

struct sq_shared {
    struct sq_conn writer; /* used under conn_lock: by the writer thread, or the test client */
    pthread_mutex_t conn_lock;
    pthread_mutex_t lock; /* the queue, and every worker's done list */
    pthread_cond_t wake;  /* the writer thread: work or stop */
    pthread_cond_t idle;  /* a worker closing: its calls have come back */
    struct db_call *queue, *queue_tail;
    pthread_t thread;
    bool started, stop, memory;
};

struct sq_worker {
    struct net_watch watch; /* first: the loop hands it back (the eventfd) */
    struct crest_db *db;
    struct obs_worker *stats;
    struct sq_shared *shared;
    struct net_loop *loop; /* NULL: the test client */
    struct sq_conn conn;
    struct db_call *done, *done_tail; /* back from the writer, under shared->lock */
    unsigned in_writer;               /* calls queued or running there, under shared->lock */
};

/* ------------------------------------------------------------------------------------------------
 * Statuses */

static enum crest_db_status status_of(int rc)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_ROWID:
        return CREST_DB_UNIQUE;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return CREST_DB_FOREIGN_KEY;
    }
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return CREST_DB_OK;
    case SQLITE_CONSTRAINT:
        return CREST_DB_CHECK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return CREST_DB_TIMEOUT;
    case SQLITE_ERROR:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
        return CREST_DB_INVALID;
    default: /* NOMEM, IOERR, FULL, READONLY, CANTOPEN, CORRUPT, … */
        return CREST_DB_UNAVAILABLE;
    }
}

/* ------------------------------------------------------------------------------------------------
 * Statements */

static sqlite3_stmt *cache_find(struct sq_conn *c, const char *sql)
{
    for (unsigned i = 0; i < CACHE_SLOTS && c->cache[i].st; i++)
        if (strcmp(sqlite3_sql(c->cache[i].st), sql) == 0)
            return c->cache[i].st;
    return NULL;
}

/* The connection's prepared statement for sql; a full cache evicts round robin. */
static int prepare(struct sq_conn *c, const char *sql, sqlite3_stmt **out)
{
    *out = cache_find(c, sql);
    if (*out)
        return SQLITE_OK;
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    if (!st)
        return SQLITE_MISUSE; /* an empty statement */
    unsigned slot = 0;
    while (slot < CACHE_SLOTS && c->cache[slot].st)
        slot++;
    if (slot == CACHE_SLOTS) {
        slot = c->next_evict++ % CACHE_SLOTS;
        sqlite3_finalize(c->cache[slot].st);
    }
    c->cache[slot] = (struct sq_cached){st};
    *out = st;
    return SQLITE_OK;
}

static void conn_close(struct sq_conn *c)
{
    for (unsigned i = 0; i < CACHE_SLOTS; i++)
        sqlite3_finalize(c->cache[i].st);
    memset(c->cache, 0, sizeof(c->cache));
    sqlite3_close_v2(c->db);
    c->db = NULL;
}

static int bind_value(sqlite3_stmt *st, int idx, const struct crest_db_value *v)
{
    switch (v->type) {
    case CREST_DB_INT:
        return sqlite3_bind_int64(st, idx, v->i);
    case CREST_DB_DOUBLE:
        return sqlite3_bind_double(st, idx, v->d);
    case CREST_DB_BOOL:
        return sqlite3_bind_int(st, idx, v->b);
    case CREST_DB_TEXT: /* the call's copy outlives the step: no copy here */
        return sqlite3_bind_text64(st, idx, v->s.ptr, v->s.len, SQLITE_STATIC, SQLITE_UTF8);
    case CREST_DB_BLOB:
        return sqlite3_bind_blob64(st, idx, v->s.ptr, v->s.len, SQLITE_STATIC);
    default:
        return sqlite3_bind_null(st, idx);
    }
}

/* $N (and ?N) name params[N-1]; a bare ? takes the next position, as SQLite numbers it. */
static int bind(sqlite3_stmt *st, const struct crest_db_stmt *s)
{
    int count = sqlite3_bind_parameter_count(st);
    for (int j = 1; j <= count; j++) {
        const char *name = sqlite3_bind_parameter_name(st, j);
        long k = j;
        if (name && (name[0] == '$' || name[0] == '?') && isdigit((unsigned char)name[1]))
            k = strtol(name + 1, NULL, 10);
        else if (name)
            return SQLITE_RANGE; /* :name and @name: not what $N parameters say */
        if (k < 1 || (size_t)k > s->n_params)
            return SQLITE_RANGE;
        int rc = bind_value(st, j, &s->params[k - 1]);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

static int read_value(sqlite3_stmt *st, int col, struct crest_db_value *v, const struct db_alloc *a)
{
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_INTEGER:
        /* SQLite stores booleans as integers (crest_db_get_bool reads them) */
        *v = crest_db_int(sqlite3_column_int64(st, col));
        return 0;
    case SQLITE_FLOAT:
        *v = crest_db_double(sqlite3_column_double(st, col));
        return 0;
    case SQLITE_TEXT: {
        const unsigned char *text = sqlite3_column_text(st, col);
        return db_value_copy(v, a, CREST_DB_TEXT, text, (size_t)sqlite3_column_bytes(st, col));
    }
    case SQLITE_BLOB: {
        const void *blob = sqlite3_column_blob(st, col);
        return db_value_copy(v, a, CREST_DB_BLOB, blob, (size_t)sqlite3_column_bytes(st, col));
    }
    default:
        *v = crest_db_null();
        return 0;
    }
}

static int read_names(sqlite3_stmt *st, struct crest_db_result *r, const struct db_alloc *a)
{
    int cols = sqlite3_column_count(st);
    if (db_result_init(r, a, (size_t)cols) != 0)
        return -ENOMEM;
    for (int c = 0; c < cols; c++) {
        const char *name = sqlite3_column_name(st, c);
        if (!name || db_result_name(r, a, (size_t)c, name, strlen(name)) != 0)
            return -ENOMEM;
    }
    return 0;
}

static enum crest_db_status step_all(sqlite3_stmt *st, struct crest_db_result *r,
                                     const struct db_alloc *a)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct crest_db_value *row = db_result_row(r, a);
        if (!row)
            return CREST_DB_UNAVAILABLE;
        for (size_t c = 0; c < r->n_cols; c++)
            if (read_value(st, (int)c, &row[c], a) != 0)
                return CREST_DB_UNAVAILABLE;
    }
    return status_of(rc);
}

/* Runs one statement into r. */
static enum crest_db_status run_stmt(struct crest_db *db, struct sq_conn *c,
                                     const struct crest_db_stmt *s, struct crest_db_result *r,
                                     const struct db_alloc *a)
{
    sqlite3_stmt *st;
    int rc = prepare(c, s->sql, &st);
    if (rc != SQLITE_OK) {
        db_log(db, "statement failed", sqlite3_errmsg(c->db));
        return rc == SQLITE_MISUSE ? CREST_DB_INVALID : status_of(rc);
    }
    if ((rc = bind(st, s)) != SQLITE_OK) {
        db_log(db, "statement failed",
               rc == SQLITE_RANGE ? "a parameter is not $1..$N of the parameters given"
                                  : sqlite3_errstr(rc));
        sqlite3_clear_bindings(st);
        return status_of(rc);
    }
    enum crest_db_status status = CREST_DB_UNAVAILABLE;
    if (read_names(st, r, a) == 0)
        status = step_all(st, r, a);
    if (status == CREST_DB_INVALID)
        db_log(db, "statement failed", sqlite3_errmsg(c->db));
    if (!sqlite3_stmt_readonly(st))
        r->changes = sqlite3_changes64(c->db);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st); /* the call's parameters die with it */
    if (status == CREST_DB_OK && (s->flags & CREST_DB_ONE) && r->n_rows == 0 && r->changes == 0)
        status = CREST_DB_NOT_FOUND;
    return status;
}

static int exec(struct sq_conn *c, const char *sql)
{
    return sqlite3_exec(c->db, sql, NULL, NULL, NULL);
}

/* Runs a call's statements in order into its results; stops at the first failure. */
static enum crest_db_status run_stmts(struct crest_db *db, struct sq_conn *c, struct db_call *call,
                                      const struct db_alloc *a)
{
    struct crest_db_result *results = a->alloc(a->ctx, call->n * sizeof(*results));
    if (!results)
        return CREST_DB_UNAVAILABLE;
    memset(results, 0, call->n * sizeof(*results));
    call->results = results;
    for (size_t k = 0; k < call->n; k++) {
        enum crest_db_status status = run_stmt(db, c, &call->stmts[k], &results[k], a);
        if (status != CREST_DB_OK)
            return status;
    }
    return CREST_DB_OK;
}

/* A call on one connection in a transaction of its own (BEGIN … COMMIT when it has several
 * statements or writes; a lone read in autocommit). */
static enum crest_db_status run_alone(struct crest_db *db, struct sq_conn *c, struct db_call *call,
                                      const struct db_alloc *a, bool write)
{
    bool txn = call->n > 1 || write;
    int rc = txn ? exec(c, write ? "BEGIN IMMEDIATE" : "BEGIN") : SQLITE_OK;
    if (rc != SQLITE_OK)
        return status_of(rc);
    enum crest_db_status status = run_stmts(db, c, call, a);
    if (txn && status == CREST_DB_OK && (rc = exec(c, "COMMIT")) != SQLITE_OK)
        status = status_of(rc);
    if (txn && !sqlite3_get_autocommit(c->db))
        (void)exec(c, "ROLLBACK"); /* the call's failure is the one to report */
    return status;
}

/* Whether any statement of the call writes (one that cannot be prepared counts as a read: it
 * fails on the worker, where its error is reported at once). */
static bool call_writes(struct sq_conn *c, const struct db_call *call)
{
    for (size_t k = 0; k < call->n; k++) {
        sqlite3_stmt *st;
        if (prepare(c, call->stmts[k].sql, &st) == SQLITE_OK && !sqlite3_stmt_readonly(st))
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------------------------------------
 * The writer thread */

/* One call of a batch, inside a savepoint: its failure rolls back its own statements only. */
static void batch_call(struct crest_db *db, struct sq_conn *c, struct db_call *call)
{
    struct db_heap *heap = db_heap_new();
    call->heap = heap;
    if (!heap) {
        call->status = CREST_DB_UNAVAILABLE;
        return;
    }
    struct db_alloc a = db_heap_alloc(heap);
    int rc = exec(c, "SAVEPOINT crest_call");
    call->status = rc == SQLITE_OK ? run_stmts(db, c, call, &a) : status_of(rc);
    if (call->status != CREST_DB_OK && rc == SQLITE_OK)
        (void)exec(c, "ROLLBACK TO crest_call");
    if (rc == SQLITE_OK)
        (void)exec(c, "RELEASE crest_call");
}

/* Hands each call back to the worker that made it, and wakes that worker's loop. */
static void post_batch(struct sq_shared *sh, struct db_call *batch)
{
    pthread_mutex_lock(&sh->lock);
    while (batch) {
        struct db_call *call = batch;
        struct sq_worker *w = call->worker;
        batch = call->next;
        call->next = NULL;
        if (w->done_tail)
            w->done_tail->next = call;
        else
            w->done = call;
        w->done_tail = call;
        w->in_writer--;
        uint64_t one = 1;
        ssize_t n = write(w->watch.fd, &one, sizeof(one));
        (void)n; /* a full counter is a wake-up already pending */
    }
    pthread_cond_broadcast(&sh->idle);
    pthread_mutex_unlock(&sh->lock);
}

/* Takes the write lock for the batch, waiting no longer than its oldest call still may: a call
 * whose timeout_ms passes while another process holds the lock is answered CREST_DB_TIMEOUT then
 * (handed back at once), not when the lock comes, and the others wait on. SQLITE_OK with the lock
 * for the calls left in *batch, or the error that answers them. */
static int begin_batch(struct crest_db *db, struct sq_shared *sh, struct db_call **batch)
{
    uint64_t limit = (uint64_t)db->timeout_ms * 1000;
    for (;;) {
        uint64_t now = db_now_us(), wait_us = limit;
        struct db_call *expired = NULL;
        for (struct db_call **at = batch; *at;) {
            struct db_call *call = *at;
            uint64_t waited = now > call->start_us ? now - call->start_us : 0;
            if (waited < limit) {
                wait_us = limit - waited < wait_us ? limit - waited : wait_us;
                at = &call->next;
                continue;
            }
            *at = call->next;
            call->status = CREST_DB_TIMEOUT;
            call->next = expired;
            expired = call;
        }
        if (expired)
            post_batch(sh, expired);
        if (!*batch)
            return SQLITE_BUSY;
        sqlite3_busy_timeout(sh->writer.db, (int)((wait_us + 999) / 1000));
        int rc = exec(&sh->writer, "BEGIN IMMEDIATE");
        sqlite3_busy_timeout(sh->writer.db, (int)db->timeout_ms);
        if ((rc & 0xff) != SQLITE_BUSY)
            return rc;
        if (db_now_us() - now < wait_us)
            usleep(1000); /* refused without waiting (a recovery): no busy loop */
    }
}

/* One transaction for the whole batch: one fsync acknowledges every call in it. *batch is left
 * with the calls still to hand back (begin_batch hands back those that timed out). */
static void run_batch(struct crest_db *db, struct sq_shared *sh, struct db_call **batch)
{
    pthread_mutex_lock(&sh->conn_lock);
    int rc = begin_batch(db, sh, batch);
    for (struct db_call *call = *batch; call; call = call->next) {
        if (rc != SQLITE_OK)
            call->status = status_of(rc);
        else
            batch_call(db, &sh->writer, call);
    }
    if (rc == SQLITE_OK && (rc = exec(&sh->writer, "COMMIT")) != SQLITE_OK) {
        db_log(db, "commit failed", sqlite3_errmsg(sh->writer.db));
        (void)exec(&sh->writer, "ROLLBACK");
        for (struct db_call *call = *batch; call; call = call->next)
            if (call->status == CREST_DB_OK)
                call->status = status_of(rc);
    }
    pthread_mutex_unlock(&sh->conn_lock);
}

static void *writer_main(void *arg)
{
    struct crest_db *db = arg;
    struct sq_shared *sh = db->shared;
    pthread_mutex_lock(&sh->lock);
    for (;;) {
        while (!sh->queue && !sh->stop)
            pthread_cond_wait(&sh->wake, &sh->lock);
        if (!sh->queue)
            break; /* stopping, and nothing left */
        struct db_call *batch = sh->queue;
        sh->queue = sh->queue_tail = NULL;
        pthread_mutex_unlock(&sh->lock);
        run_batch(db, sh, &batch);
        post_batch(sh, batch);
        pthread_mutex_lock(&sh->lock);
    }
    pthread_mutex_unlock(&sh->lock);
    return NULL;
}

/* Queues a write for the writer thread, started at the first. */
static int queue_write(struct sq_worker *w, struct db_call *call)
{
    struct sq_shared *sh = w->shared;
    int rc = 0;
    pthread_mutex_lock(&sh->lock);
    if (!sh->started) {
        pthread_attr_t attr;
        rc = pthread_attr_init(&attr);
        if (rc == 0) {
            pthread_attr_setstacksize(&attr, 256 * 1024);
            rc = pthread_create(&sh->thread, &attr, writer_main, w->db);
            pthread_attr_destroy(&attr);
        }
        sh->started = rc == 0;
    }
    if (rc == 0) {
        call->worker = w;
        if (sh->queue_tail)
            sh->queue_tail->next = call;
        else
            sh->queue = call;
        sh->queue_tail = call;
        w->in_writer++;
        pthread_cond_signal(&sh->wake);
    }
    pthread_mutex_unlock(&sh->lock);
    return -rc;
}

/* The call's figures (in its worker's slot), then its answer. */
static void finish(struct sq_worker *w, struct db_call *call, enum crest_db_status status)
{
    enum crest_db_status final = status != CREST_DB_OK ? status : call->status;
    obs_db_query(w->stats, w->db->obs, db_now_us() - call->start_us);
    if (final == CREST_DB_TIMEOUT)
        obs_db_error(w->stats, w->db->obs, OBS_DB_ERR_TIMEOUT);
    else if (final != CREST_DB_OK && final != CREST_DB_NOT_FOUND)
        obs_db_error(w->stats, w->db->obs, OBS_DB_ERR_QUERY);
    db_call_finish(call, status);
}

/* The worker's side: calls back for the writes that came back, their results copied into their
 * requests' arenas. */
static void on_written(struct net_watch *nw, uint32_t events)
{
    struct sq_worker *w = (struct sq_worker *)nw;
    uint64_t count;
    (void)events;
    if (read(w->watch.fd, &count, sizeof(count)) != (ssize_t)sizeof(count))
        return;
    pthread_mutex_lock(&w->shared->lock);
    struct db_call *list = w->done;
    w->done = w->done_tail = NULL;
    pthread_mutex_unlock(&w->shared->lock);
    while (list) {
        struct db_call *call = list;
        list = call->next;
        struct crest_db_result *from = call->results;
        /* committed: its rows and its answer go out whatever the budget says, or the client is
         * told a write failed that is in the database (the bytes move from the heap just freed) */
        bool committed = call->status == CREST_DB_OK;
        if (committed) {
            mem_budget_waive(true);
            struct db_alloc a = db_call_alloc(call);
            if (db_results_copy(&call->results, from, call->n, &a) != 0)
                call->status = CREST_DB_UNAVAILABLE;
        }
        db_heap_free(call->heap);
        call->heap = NULL;
        finish(w, call, CREST_DB_OK);
        if (committed)
            mem_budget_waive(false);
    }
}

/* ------------------------------------------------------------------------------------------------
 * Calls */

static int sq_run(void *instance, struct db_call *call)
{
    struct sq_worker *w = instance;
    struct crest_db *db = w->db;
    struct db_alloc a = db_call_alloc(call);
    if (w->shared->memory || !call_writes(&w->conn, call)) {
        enum crest_db_status status = run_alone(db, &w->conn, call, &a, false);
        if (status != CREST_DB_TIMEOUT || w->shared->memory) {
            finish(w, call, status);
            return 0;
        }
        /* a read that met a lock (a WAL being recovered): the writer thread can wait for it */
    }
    if (w->loop)
        return queue_write(w, call);
    pthread_mutex_lock(&w->shared->conn_lock); /* the test client: no loop to come back to */
    enum crest_db_status status = run_alone(db, &w->shared->writer, call, &a, true);
    pthread_mutex_unlock(&w->shared->conn_lock);
    finish(w, call, status);
    return 0;
}

static bool sq_up(void *instance)
{
    (void)instance;
    return true; /* a file that opened stays there; its failures are each call's answer */
}

/* ------------------------------------------------------------------------------------------------
 * Opening, migrations */

static int open_error(struct crest_db *db, sqlite3 *conn, char *err, const char *step, int rc)
{
    if (err)
        snprintf(err, CREST_ERR_LEN, "database %s (%s): %s: %s", db->name, db->redacted, step,
                 conn ? sqlite3_errmsg(conn) : sqlite3_errstr(rc));
    return (rc & 0xff) == SQLITE_NOMEM ? -ENOMEM : -EIO;
}

/* Switching a file to WAL answers SQLITE_BUSY at once while another connection does the same
 * (no busy handler: two upgraders would deadlock), so instances starting together retry, for
 * timeout_ms at most; at startup, where sleeping blocks no client. */
static int enable_wal(struct crest_db *db, sqlite3 *conn)
{
    for (uint32_t waited = 0;; waited += WAL_RETRY_MS) {
        int rc = sqlite3_exec(conn, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY || waited >= db->timeout_ms)
            return rc;
        sqlite3_sleep(WAL_RETRY_MS);
    }
}

/* synchronous=FULL: a write is acknowledged after its commit's fsync, so it survives a power
 * loss as well as kill -9. foreign_keys on, as every other SQL database has them. */
static int open_conn(struct crest_db *db, struct sq_conn *c, bool reader, char *err)
{
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(db->url, &c->db, flags, NULL);
    if (rc != SQLITE_OK)
        return open_error(db, c->db, err, "open", rc);
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, reader ? 0 : (int)db->timeout_ms);
    if (strcmp(db->url, ":memory:") != 0 && (rc = enable_wal(db, c->db)) != SQLITE_OK)
        return open_error(db, c->db, err, "journal_mode=WAL", rc);
    rc = sqlite3_exec(c->db,
                      "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-256",
                      NULL, NULL, NULL);
    if (rc == SQLITE_OK && reader)
        rc = sqlite3_exec(c->db, "PRAGMA query_only=ON", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : open_error(db, c->db, err, "configure", rc);
}

/* The schema's version (0: no table) and whether every applied version this application knows
 * was applied from its script: SQLITE_OK, with *refused set to the first version recorded with
 * another checksum (0: none) and *unrecorded to whether some version has no checksum (a table
 * from before checksums, or one without the column at all). */
static int schema_version(const struct crest_db *db, sqlite3 *conn, int64_t *version,
                          int64_t *refused, bool *unrecorded)
{
    sqlite3_stmt *st;
    *version = *refused = 0;
    *unrecorded = false;
    int rc =
        sqlite3_prepare_v2(conn, "SELECT version, checksum FROM crest_migrations", -1, &st, NULL);
    if (rc != SQLITE_OK) { /* no table (version 0), or no checksum column (recorded as none) */
        rc = sqlite3_prepare_v2(conn, "SELECT version, NULL FROM crest_migrations", -1, &st, NULL);
        if (rc != SQLITE_OK)
            return sqlite3_exec(conn, "SELECT 1 FROM sqlite_master LIMIT 0", NULL, NULL, NULL);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(st, 0);
        const char *sum = (const char *)sqlite3_column_text(st, 1);
        *version = v > *version ? v : *version;
        *unrecorded |= !sum;
        if (!*refused && !db_migration_matches(db, v, sum))
            *refused = v;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The table, its checksum column (added to a table from before checksums: SQLite has no ADD
 * COLUMN IF NOT EXISTS, so "duplicate column" is the answer when it is there) and the checksums
 * of this application's versions where none is recorded. */
static int migrations_table(struct crest_db *db, sqlite3 *conn)
{
    int rc = sqlite3_exec(conn,
                          "CREATE TABLE IF NOT EXISTS crest_migrations(version INTEGER PRIMARY KEY,"
                          " applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, checksum TEXT)",
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK &&
        sqlite3_exec(conn, "ALTER TABLE crest_migrations ADD COLUMN checksum TEXT", NULL, NULL,
                     NULL) != SQLITE_OK &&
        !strstr(sqlite3_errmsg(conn), "duplicate column"))
        rc = sqlite3_errcode(conn);
    size_t size;
    char *adopt = rc == SQLITE_OK ? db_migrations_adopt_sql(db, &size) : NULL;
    if (rc == SQLITE_OK)
        rc = adopt ? sqlite3_exec(conn, adopt, NULL, NULL, NULL) : SQLITE_NOMEM;
    if (adopt)
        mem_free(MEM_DB, adopt, size);
    return rc;
}

/* The refusals a schema gets: newer than the application, or applied from other scripts. */
static int refuse(struct crest_db *db, int64_t version, int64_t refused, char *err)
{
    if (version > (int64_t)db->n_migrations) {
        if (err)
            snprintf(err, CREST_ERR_LEN,
                     "database %s: schema version %lld is newer than this application's (%zu)",
                     db->name, (long long)version, db->n_migrations);
        return -EPROTO;
    }
    if (refused) {
        if (err)
            db_migration_mismatch(db, refused, err);
        return -EPROTO;
    }
    return 0;
}

static int migrate_locked(struct crest_db *db, sqlite3 *conn, char *err)
{
    int64_t version, refused;
    bool unrecorded;
    int rc = migrations_table(db, conn);
    if (rc == SQLITE_OK) /* another instance may have migrated meanwhile */
        rc = schema_version(db, conn, &version, &refused, &unrecorded);
    if (rc != SQLITE_OK)
        return open_error(db, conn, err, "migrations", rc);
    if ((rc = refuse(db, version, refused, err)) != 0)
        return rc;
    for (; version < (int64_t)db->n_migrations; version++) {
        char insert[128], sum[DB_CHECKSUM_LEN];
        db_migration_checksum(db->migrations[version], sum);
        snprintf(insert, sizeof(insert),
                 "INSERT INTO crest_migrations(version, checksum) VALUES (%lld, '%s')",
                 (long long)version + 1, sum);
        rc = sqlite3_exec(conn, db->migrations[version], NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(conn, insert, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            char step[40];
            snprintf(step, sizeof(step), "migration %lld", (long long)version + 1);
            return open_error(db, conn, err, step, rc);
        }
    }
    return 0;
}

/* Brings the schema up to date in one BEGIN IMMEDIATE transaction: instances starting together
 * queue on the write lock, the first one in migrates, the others find nothing to do. An
 * up-to-date database takes no write lock (a read-only file still opens). */
static int migrate(struct crest_db *db, sqlite3 *conn, char *err)
{
    int64_t version, refused;
    bool unrecorded;
    if (db->n_migrations == 0)
        return 0;
    int rc = schema_version(db, conn, &version, &refused, &unrecorded);
    if (rc != SQLITE_OK)
        return open_error(db, conn, err, "migrations", rc);
    if ((rc = refuse(db, version, refused, err)) != 0)
        return rc;
    if (version == (int64_t)db->n_migrations && !unrecorded)
        return 0;
    rc = sqlite3_exec(conn, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return open_error(db, conn, err, "migrations", rc);
    int status = migrate_locked(db, conn, err);
    if (status == 0 && (rc = sqlite3_exec(conn, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
        status = open_error(db, conn, err, "migrations", rc);
    if (!sqlite3_get_autocommit(conn))
        (void)sqlite3_exec(conn, "ROLLBACK", NULL, NULL, NULL);
    return status;
}

static void shared_free(struct sq_shared *sh)
{
    conn_close(&sh->writer);
    pthread_mutex_destroy(&sh->conn_lock);
    pthread_mutex_destroy(&sh->lock);
    pthread_cond_destroy(&sh->wake);
    pthread_cond_destroy(&sh->idle);
    mem_free(MEM_DB, sh, sizeof(*sh));
}

struct open_task {
    struct crest_db *db;
    char *err;
};

/* Opening and migrating allocate and free a lot: on a thread of their own (mem_run_transient),
 * what glibc caches of the freed blocks goes back to the heap when it ends, instead of staying
 * with the thread that called crest_app_add_db for good. */
static int open_writer(void *ud)
{
    struct open_task *t = ud;
    struct sq_shared *sh = t->db->shared;
    int rc = open_conn(t->db, &sh->writer, false, t->err);
    if (rc == 0)
        rc = migrate(t->db, sh->writer.db, t->err);
    if (rc == 0) /* what the migrations read and wrote is on disk: no need to keep it cached */
        sqlite3_db_release_memory(sh->writer.db);
    return rc;
}

static int sq_open(struct crest_db *db, char *err)
{
    int rc = db_sqlite_mem_setup();
    if (rc != SQLITE_OK)
        return open_error(db, NULL, err, "initialize", rc);
    struct sq_shared *sh = mem_calloc(MEM_DB, 1, sizeof(*sh));
    if (!sh)
        return open_error(db, NULL, err, "open", SQLITE_NOMEM);
    pthread_mutex_init(&sh->conn_lock, NULL);
    pthread_mutex_init(&sh->lock, NULL);
    pthread_cond_init(&sh->wake, NULL);
    pthread_cond_init(&sh->idle, NULL);
    sh->memory = strcmp(db->url, ":memory:") == 0;
    db->shared = sh;
    if (sh->memory)
        return 0; /* each worker's database is its own, migrated when it opens */
    struct open_task task = {db, err};
    rc = mem_run_transient(open_writer, &task);
    if (rc) {
        shared_free(sh);
        db->shared = NULL;
    }
    return rc;
}

static void sq_close(struct crest_db *db)
{
    struct sq_shared *sh = db->shared;
    if (!sh)
        return;
    if (sh->started) {
        pthread_mutex_lock(&sh->lock);
        sh->stop = true;
        pthread_cond_signal(&sh->wake);
        pthread_mutex_unlock(&sh->lock);
        pthread_join(sh->thread, NULL);
    }
    shared_free(sh);
    db->shared = NULL;
}

static void worker_free(struct sq_worker *w)
{
    conn_close(&w->conn);
    if (w->watch.fd >= 0)
        close(w->watch.fd);
    mem_free(MEM_DB, w, sizeof(*w));
}

static int sq_worker_open(struct crest_db *db, unsigned id, struct crest_loop *loop, void **out,
                          char *err)
{
    struct sq_worker *w = mem_calloc(MEM_DB, 1, sizeof(*w));
    if (!w)
        return open_error(db, NULL, err, "open", SQLITE_NOMEM);
    w->db = db;
    w->stats = obs_worker_slot(id);
    w->shared = db->shared;
    w->watch.fd = -1;
    w->watch.cb = on_written;
    w->loop = loop ? net_loop_of(loop) : NULL;
    int rc = open_conn(db, &w->conn, !w->shared->memory, err);
    if (rc == 0 && w->shared->memory)
        rc = migrate(db, w->conn.db, err);
    if (rc == 0 && w->loop) {
        w->watch.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        rc = w->watch.fd < 0 ? -errno : net_loop_add_watch(w->loop, &w->watch, EPOLLIN);
        if (rc && err)
            snprintf(err, CREST_ERR_LEN, "database %s: eventfd: %s", db->name, strerror(-rc));
    }
    if (rc) {
        worker_free(w);
        return rc;
    }
    obs_db_move(w->stats, db->obs, -1, OBS_DB_IDLE); /* its connection, in the pool figures */
    *out = w;
    return 0;
}

/* The worker's loop has stopped: its writes still at the writer finish there (within timeout_ms),
 * and come back to no one, since their requests are gone. */
static void sq_worker_close(void *instance)
{
    struct sq_worker *w = instance;
    struct sq_shared *sh = w->shared;
    pthread_mutex_lock(&sh->lock);
    while (w->in_writer)
        pthread_cond_wait(&sh->idle, &sh->lock);
    struct db_call *list = w->done;
    w->done = w->done_tail = NULL;
    pthread_mutex_unlock(&sh->lock);
    while (list) {
        struct db_call *call = list;
        list = call->next;
        db_heap_free(call->heap);
        call->abandoned = true;
        db_call_finish(call, CREST_DB_UNAVAILABLE);
    }
    if (w->loop && w->watch.fd >= 0)
        net_loop_del(w->loop, w->watch.fd);
    obs_db_move(w->stats, w->db->obs, OBS_DB_IDLE, -1);
    worker_free(w);
}

const struct db_backend db_sqlite_backend = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .worker_open = sq_worker_open,
    .worker_close = sq_worker_close,
    .run = sq_run,
    .up = sq_up,
};
