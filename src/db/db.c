/* db/db.c: crest.h's databases. A struct crest_db is an app part: added at setup (the backend's
 * process-wide open: SQLite's writer connection and migrations), then one instance per worker,
 * opened by the part's worker_start in that worker's loop. crest_db_run copies a handler's
 * statements into one block (the call), hands it to the instance of the request's worker, and the
 * backend finishes it on that worker (db_call_finish), which runs the application's callback.
 * Reading rows and answering errors is here too, so every application says the same thing. */
#include "db/db.h"

#include "mem/mem.h"
#include "req/req.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { MAX_POOL = 64, DEFAULT_POOL = 2, DEFAULT_TIMEOUT_MS = 5000 };

/* ------------------------------------------------------------------------------------------------
 * The app part */

static void part_free(struct app_part *part)
{
    struct crest_db *db = (struct crest_db *)part;
    db->backend->close(db);
    mem_free(MEM_DB, db->workers, db->n_workers * sizeof(*db->workers));
    mem_strfree(MEM_DB, db->name);
    mem_strfree(MEM_DB, db->url);
    mem_free(MEM_DB, db, sizeof(*db));
}

static int part_worker_start(struct app_part *part, unsigned n, unsigned id,
                             struct crest_loop *loop, char *err)
{
    struct crest_db *db = (struct crest_db *)part;
    if (db->n_workers < n) {
        void **workers = mem_realloc(MEM_DB, db->workers, db->n_workers * sizeof(*workers),
                                     n * sizeof(*workers));
        if (!workers)
            return -ENOMEM;
        memset(workers + db->n_workers, 0, (n - db->n_workers) * sizeof(*workers));
        db->workers = workers;
        db->n_workers = n;
    }
    return db->backend->worker_open(db, id, loop, &db->workers[id], err);
}

static void part_worker_stop(struct app_part *part, unsigned id)
{
    struct crest_db *db = (struct crest_db *)part;
    if (id < db->n_workers && db->workers[id]) {
        db->backend->worker_close(db->workers[id]);
        db->workers[id] = NULL;
    }
}

static const char *part_down(struct app_part *part, unsigned id)
{
    struct crest_db *db = (struct crest_db *)part;
    if (id >= db->n_workers || !db->workers[id])
        return NULL;
    return db->backend->up(db->workers[id]) ? NULL : db->name;
}

static const struct app_part_ops db_part_ops = {
    .free = part_free,
    .worker_start = part_worker_start,
    .worker_stop = part_worker_stop,
    .down = part_down,
};

static bool is_postgresql(const char *url)
{
    return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

static int config_error(char *err, const char *what)
{
    if (err)
        snprintf(err, CREST_ERR_LEN, "database: %s", what);
    return -EINVAL;
}

static int check_config(const struct crest_db_config *cfg, char *err)
{
    if (!cfg || !cfg->url || !*cfg->url)
        return config_error(err, "a URL is required");
    if (cfg->pool > MAX_POOL)
        return config_error(err, "pool must be 1..64");
    if (cfg->n_migrations && !cfg->migrations)
        return config_error(err, "n_migrations without migrations");
    for (size_t i = 0; i < cfg->n_migrations; i++)
        if (!cfg->migrations[i])
            return config_error(err, "a migration is NULL");
    return 0;
}

CREST_API int crest_app_add_db(struct crest_app *app, const struct crest_db_config *cfg,
                               struct crest_db **out, char *err)
{
    if (!app || !out)
        return -EINVAL;
    *out = NULL;
    int rc = check_config(cfg, err);
    if (rc)
        return rc;
    struct crest_db *db = mem_calloc(MEM_DB, 1, sizeof(*db));
    if (db) {
        db->name = mem_strdup(MEM_DB, cfg->name && *cfg->name ? cfg->name : "db");
        db->url = mem_strdup(MEM_DB, cfg->url);
    }
    if (!db || !db->name || !db->url) {
        if (db) {
            mem_strfree(MEM_DB, db->name);
            mem_strfree(MEM_DB, db->url);
        }
        mem_free(MEM_DB, db, sizeof(*db));
        if (err)
            snprintf(err, CREST_ERR_LEN, "database: out of memory");
        return -ENOMEM;
    }
    db->part.ops = &db_part_ops;
    db->obs = obs_db_slot(db->name);
    db->backend = is_postgresql(cfg->url) ? &db_pg_backend : &db_sqlite_backend;
    db_redact_url(cfg->url, db->redacted, sizeof(db->redacted));
    db->pool = cfg->pool ? cfg->pool : DEFAULT_POOL;
    db->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    db->pipeline = !cfg->no_pipeline;
    db->migrations = cfg->migrations;
    db->n_migrations = cfg->n_migrations;
    rc = db->backend->open(db, err);
    if (rc) {
        mem_strfree(MEM_DB, db->name);
        mem_strfree(MEM_DB, db->url);
        mem_free(MEM_DB, db, sizeof(*db));
        return rc;
    }
    app_part_add(app, &db->part);
    *out = db;
    return 0;
}

/* postgresql://user:secret@host/db → postgresql://user:***@host/db; also a password=… parameter. */
void db_redact_url(const char *url, char *buf, size_t cap)
{
    if (!cap)
        return;
    snprintf(buf, cap, "%s", url ? url : "");
    char *scheme = strstr(buf, "://");
    if (scheme) {
        char *user = scheme + 3;
        char *end = user + strcspn(user, "/?#"); /* the authority ends there */
        char *at = NULL;
        for (char *p = user; p < end; p++) /* the userinfo ends at the last '@' */
            if (*p == '@')
                at = p;
        char *colon = at ? memchr(user, ':', (size_t)(at - user)) : NULL;
        if (colon && (size_t)(colon - buf) + 4 < cap) {
            memmove(colon + 4, at, strlen(at) + 1);
            memcpy(colon + 1, "***", 3);
        }
    }
    char *pw = strstr(buf, "password=");
    if (pw)
        snprintf(pw, cap - (size_t)(pw - buf), "password=***");
}

void db_log(const struct crest_db *db, const char *what, const char *detail)
{
    char line[768];
    /* libpq's and SQLite's messages name hosts and files, never the password */
    int len = snprintf(line, sizeof(line) - 1, "crest: db %s (%s): %s%s%s", db->name, db->redacted,
                       what, detail ? ": " : "", detail ? detail : "");
    size_t n = len < 0 ? 0 : (size_t)len < sizeof(line) - 1 ? (size_t)len : sizeof(line) - 2;
    while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
        n--;
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\t')
            line[i] = ' ';
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w; /* nowhere else to report it */
}

/* ------------------------------------------------------------------------------------------------
 * Calls */

static bool stmt_ok(const struct crest_db_stmt *st)
{
    if (!st->sql || (st->n_params && !st->params) || st->n_params > 65535)
        return false;
    if (st->batch && (!st->batch->sql || !st->batch->key_column))
        return false;
    for (size_t i = 0; i < st->n_params; i++) {
        const struct crest_db_value *v = &st->params[i];
        if (v->type > CREST_DB_BOOL)
            return false;
        if ((v->type == CREST_DB_TEXT || v->type == CREST_DB_BLOB) && !v->s.ptr && v->s.len)
            return false;
    }
    return true;
}

/* The size of the call's block: the call, its statements, their parameters, their bytes. */
static bool call_size(const struct crest_db_stmt *stmts, size_t n, size_t *size)
{
    size_t total = sizeof(struct db_call) + n * sizeof(struct crest_db_stmt);
    for (size_t k = 0; k < n; k++) {
        total += stmts[k].n_params * sizeof(struct crest_db_value);
        for (size_t i = 0; i < stmts[k].n_params; i++) {
            const struct crest_db_value *v = &stmts[k].params[i];
            if (v->type == CREST_DB_TEXT || v->type == CREST_DB_BLOB)
                if (__builtin_add_overflow(total, v->s.len + 1, &total))
                    return false;
        }
    }
    *size = total;
    return true;
}

/* One block (MEM_DB) holding the call and a copy of everything it was handed: a backend may send
 * it later (PostgreSQL waiting for a connection) or from another thread (SQLite's writer). */
struct db_call *db_call_new(const struct crest_db_stmt *stmts, size_t n)
{
    size_t size;
    if (!call_size(stmts, n, &size))
        return NULL;
    struct db_call *call = mem_alloc(MEM_DB, size);
    if (!call)
        return NULL;
    memset(call, 0, sizeof(*call));
    call->size = size;
    call->n = n;
    call->stmts = (struct crest_db_stmt *)(call + 1);
    struct crest_db_value *values = (struct crest_db_value *)(call->stmts + n);
    char *bytes = (char *)values;
    for (size_t k = 0; k < n; k++)
        bytes += stmts[k].n_params * sizeof(*values);
    for (size_t k = 0; k < n; k++) {
        call->stmts[k] = stmts[k];
        call->stmts[k].params = values;
        for (size_t i = 0; i < stmts[k].n_params; i++, values++) {
            *values = stmts[k].params[i];
            if (values->type != CREST_DB_TEXT && values->type != CREST_DB_BLOB)
                continue;
            if (values->s.len)
                memcpy(bytes, values->s.ptr, values->s.len);
            bytes[values->s.len] = '\0';
            values->s.ptr = bytes;
            bytes += values->s.len + 1;
        }
    }
    return call;
}

static void call_free(struct db_call *call)
{
    mem_free(MEM_DB, call, call->size);
}

void db_call_finish(struct db_call *call, enum crest_db_status status)
{
    if (status != CREST_DB_OK)
        call->status = status;
    if (!call->abandoned) {
        bool ok = call->status == CREST_DB_OK;
        call->done(call->req, call->status, ok ? call->results : NULL, ok ? call->n : 0, call->ud);
    }
    call_free(call);
}

void db_call_answer_early(struct db_call *call, enum crest_db_status status)
{
    if (call->abandoned)
        return;
    call->abandoned = true;
    call->done(call->req, status, NULL, 0, call->ud);
}

uint64_t db_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void *arena_alloc(void *ctx, size_t n)
{
    return crest_req_alloc(ctx, n);
}

struct db_alloc db_call_alloc(struct db_call *call)
{
    return (struct db_alloc){arena_alloc, call->req};
}

CREST_API int crest_db_run(struct crest_req *req, struct crest_db *db,
                           const struct crest_db_stmt *stmts, size_t n, crest_db_fn done, void *ud)
{
    if (!req || !db || !stmts || !n || !done)
        return -EINVAL;
    for (size_t k = 0; k < n; k++)
        if (!stmt_ok(&stmts[k]))
            return -EINVAL;
    unsigned id = req_request_worker_id(req);
    if (id >= db->n_workers || !db->workers[id])
        return -EINVAL; /* not a worker this database was started on */
    struct db_call *call = db_call_new(stmts, n);
    if (!call)
        return -ENOMEM;
    call->db = db;
    call->req = req;
    call->done = done;
    call->ud = ud;
    call->start_us = db_now_us();
    int rc = db->backend->run(db->workers[id], call);
    if (rc)
        call_free(call);
    return rc;
}

CREST_API int crest_db_query(struct crest_req *req, struct crest_db *db, const char *sql,
                             const struct crest_db_value *params, size_t n_params, unsigned flags,
                             crest_db_fn done, void *ud)
{
    const struct crest_db_stmt st = {
        .sql = sql, .params = params, .n_params = n_params, .flags = flags};
    return crest_db_run(req, db, &st, 1, done, ud);
}

CREST_API bool crest_db_up(struct crest_db *db, const struct crest_req *req)
{
    if (!db)
        return false;
    if (req) {
        unsigned id = req_request_worker_id(req);
        return id < db->n_workers && db->workers[id] && db->backend->up(db->workers[id]);
    }
    for (unsigned i = 0; i < db->n_workers; i++)
        if (db->workers[i] && db->backend->up(db->workers[i]))
            return true;
    return db->n_workers == 0; /* not started yet: nothing says it is down */
}

/* ------------------------------------------------------------------------------------------------
 * Reading rows */

CREST_API int crest_db_col(const struct crest_db_result *r, const char *name)
{
    if (!r || !name)
        return -1;
    for (size_t c = 0; c < r->n_cols; c++)
        if (r->names[c].ptr && strcmp(r->names[c].ptr, name) == 0)
            return (int)c;
    return -1;
}

CREST_API const struct crest_db_value *crest_db_get(const struct crest_db_result *r, size_t row,
                                                    int col)
{
    static const struct crest_db_value null_value = {.type = CREST_DB_NULL};
    if (!r || col < 0 || (size_t)col >= r->n_cols || row >= r->n_rows)
        return &null_value;
    return &r->values[row * r->n_cols + (size_t)col];
}

CREST_API int64_t crest_db_get_int(const struct crest_db_result *r, size_t row, int col)
{
    const struct crest_db_value *v = crest_db_get(r, row, col);
    switch (v->type) {
    case CREST_DB_INT:
        return v->i;
    case CREST_DB_BOOL:
        return v->b;
    case CREST_DB_DOUBLE:
        return isfinite(v->d) && fabs(v->d) < 9.2e18 ? (int64_t)v->d : 0;
    case CREST_DB_TEXT:
        return strtoll(v->s.ptr, NULL, 10);
    default:
        return 0;
    }
}

CREST_API double crest_db_get_double(const struct crest_db_result *r, size_t row, int col)
{
    const struct crest_db_value *v = crest_db_get(r, row, col);
    switch (v->type) {
    case CREST_DB_DOUBLE:
        return v->d;
    case CREST_DB_INT:
        return (double)v->i;
    case CREST_DB_BOOL:
        return v->b;
    case CREST_DB_TEXT:
        return strtod(v->s.ptr, NULL);
    default:
        return 0.0;
    }
}

CREST_API bool crest_db_get_bool(const struct crest_db_result *r, size_t row, int col)
{
    const struct crest_db_value *v = crest_db_get(r, row, col);
    switch (v->type) {
    case CREST_DB_BOOL:
        return v->b;
    case CREST_DB_INT:
        return v->i != 0;
    case CREST_DB_DOUBLE:
        return v->d != 0.0;
    case CREST_DB_TEXT: /* PostgreSQL's text form, and SQL's */
        return v->s.len && strchr("tT1yY", v->s.ptr[0]);
    default:
        return false;
    }
}

CREST_API struct crest_str crest_db_get_text(const struct crest_db_result *r, size_t row, int col)
{
    const struct crest_db_value *v = crest_db_get(r, row, col);
    if (v->type == CREST_DB_TEXT || v->type == CREST_DB_BLOB)
        return v->s;
    return (struct crest_str){NULL, 0};
}

CREST_API bool crest_db_is_null(const struct crest_db_result *r, size_t row, int col)
{
    return crest_db_get(r, row, col)->type == CREST_DB_NULL;
}

/* ------------------------------------------------------------------------------------------------
 * Answers */

CREST_API int crest_db_http_status(enum crest_db_status status)
{
    switch (status) {
    case CREST_DB_OK:
        return 200;
    case CREST_DB_NOT_FOUND:
        return 404;
    case CREST_DB_UNIQUE:
    case CREST_DB_FOREIGN_KEY:
        return 409;
    case CREST_DB_CHECK:
        return 422;
    case CREST_DB_TIMEOUT:
    case CREST_DB_UNAVAILABLE:
        return 503;
    default:
        return 500;
    }
}

CREST_API const char *crest_db_status_text(enum crest_db_status status)
{
    switch (status) {
    case CREST_DB_OK:
        return "OK";
    case CREST_DB_NOT_FOUND:
        return "Not Found";
    case CREST_DB_UNIQUE:
        return "Conflict: already exists";
    case CREST_DB_FOREIGN_KEY:
        return "Conflict: a referenced row is missing or still referenced";
    case CREST_DB_CHECK:
        return "Unprocessable Content: a constraint of the database is violated";
    case CREST_DB_TIMEOUT:
        return "Database timeout";
    case CREST_DB_UNAVAILABLE:
        return "Database unavailable";
    default:
        return "Internal Server Error";
    }
}
