/* db/pg.c: the PostgreSQL backend, one pool of connections per worker, their sockets in the
 * worker's epoll loop, so a call waiting for the server suspends only its request. A call's
 * statements go out with PQsendQueryPrepared (each SQL text prepared once per connection, by a
 * Parse pipelined in front of its first use), closed by one Sync: one implicit transaction per
 * call, which commits or rolls back whole, and whose callback runs when the Sync came back, that
 * is once it committed. In pipeline mode the calls of many requests are in flight on one
 * connection at once; without it, one call at a time per connection and the others wait.
 * Faults (pg_conn.c): a broken connection fails its calls (CREST_DB_UNAVAILABLE) and reconnects
 * with capped backoff; a call past timeout_ms is answered CREST_DB_TIMEOUT and cancelled; a pool
 * with no connection up answers CREST_DB_UNAVAILABLE at once rather than queue. */
#include "db/pg_int.h"

#include "mem/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Type OIDs of pg_type.h that have a C reading of their own; the rest are text. */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_OID = 26,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701
};

/* ------------------------------------------------------------------------------------------------
 * The pool */

bool db_pg_any_ready(const struct pg_inst *p)
{
    for (unsigned k = 0; k < p->n_conns; k++)
        if (p->conns[k].state == PG_READY)
            return true;
    return false;
}

bool db_pg_any_connecting(const struct pg_inst *p)
{
    for (unsigned k = 0; k < p->n_conns; k++)
        if (p->conns[k].state == PG_CONNECTING || p->conns[k].state == PG_SETUP)
            return true;
    return false;
}

/* The ready connection with the fewest calls in flight (without pipeline mode: an idle one). */
static struct pg_conn *pick(struct pg_inst *p)
{
    struct pg_conn *best = NULL;
    for (unsigned k = 0; k < p->n_conns; k++) {
        struct pg_conn *c = &p->conns[(p->next_conn + k) % p->n_conns];
        if (c->state != PG_READY || (!p->db->pipeline && c->calls > 0))
            continue;
        if (!best || c->calls < best->calls)
            best = c;
    }
    p->next_conn++;
    return best;
}

static void push_waiting(struct pg_inst *p, struct db_call *call)
{
    call->next = NULL;
    if (p->waiting_tail)
        p->waiting_tail->next = call;
    else
        p->waiting = call;
    p->waiting_tail = call;
}

void db_pg_pump(struct pg_inst *p)
{
    while (p->waiting) {
        struct pg_conn *c = pick(p);
        if (!c)
            return;
        struct db_call *call = p->waiting;
        p->waiting = call->next;
        if (!p->waiting)
            p->waiting_tail = NULL;
        db_pg_send(c, call);
    }
}

void db_pg_submit(struct pg_inst *p, struct db_call *call)
{
    struct pg_conn *c = pick(p);
    /* wait for a busy connection to come free (no pipeline), or for one being opened (at start,
     * after a reconnect): bounded by the connect timeout, after which the call fails */
    if (!c && ((!p->db->pipeline && db_pg_any_ready(p)) || db_pg_any_connecting(p))) {
        push_waiting(p, call);
        return;
    }
    if (!c) { /* nothing up: answered at once, never queued without bound */
        db_call_finish(call, CREST_DB_UNAVAILABLE);
        return;
    }
    db_pg_send(c, call);
}

static int pg_run(void *instance, struct db_call *call)
{
    struct pg_inst *p = instance;
    call->worker = p;
    if (db_pg_batchable(p, call))
        db_pg_batch_add(p, call);
    else
        db_pg_submit(p, call);
    return 0;
}

static bool pg_up(void *instance)
{
    return db_pg_any_ready(instance);
}

/* ------------------------------------------------------------------------------------------------
 * Sending */

static struct pg_entry *entry_new(struct pg_conn *c, struct db_call *call, uint8_t what)
{
    struct pg_entry *e = mem_pool_get(&c->inst->entries);
    if (!e)
        return NULL;
    *e = (struct pg_entry){.call = call, .what = what, .slot = -1};
    if (c->tail)
        c->tail->next = e;
    else
        c->head = e;
    c->tail = e;
    return e;
}

struct pg_entry *db_pg_pop(struct pg_conn *c)
{
    struct pg_entry *e = c->head;
    if (e) {
        c->head = e->next;
        if (!c->head)
            c->tail = NULL;
    }
    return e;
}

void db_pg_cache_clear(struct pg_conn *c)
{
    for (int i = 0; i < PG_CACHE; i++) {
        mem_strfree(MEM_DB, c->cache[i].text);
        c->cache[i] = (struct pg_cached){0};
    }
}

/* The slot of sql in c's cache: found (*fresh false), or taken now (*fresh true: a Parse must go
 * out first); -1 when the cache is full (the statement goes out unnamed). */
static int cache_slot(struct pg_conn *c, const char *sql, bool *fresh)
{
    int free_slot = -1;
    *fresh = false;
    for (int i = 0; i < PG_CACHE; i++) {
        if (!c->cache[i].text) {
            if (free_slot < 0)
                free_slot = i;
        } else if (strcmp(c->cache[i].text, sql) == 0) {
            return i;
        }
    }
    if (free_slot < 0 || !(c->cache[free_slot].text = mem_strdup(MEM_DB, sql)))
        return -1;
    c->cache[free_slot].ready = false;
    *fresh = true;
    return free_slot;
}

/* Parameters in text form (bytea in binary), in buf: libpq copies them as the call is sent. */
static int params_of(const struct crest_db_stmt *s, const char **values, int *lengths, int *formats,
                     char (*buf)[32])
{
    for (size_t i = 0; i < s->n_params; i++) {
        const struct crest_db_value *v = &s->params[i];
        lengths[i] = formats[i] = 0;
        switch (v->type) {
        case CREST_DB_NULL:
            values[i] = NULL;
            break;
        case CREST_DB_INT:
            snprintf(buf[i], sizeof(buf[i]), "%lld", (long long)v->i);
            values[i] = buf[i];
            break;
        case CREST_DB_DOUBLE:
            snprintf(buf[i], sizeof(buf[i]), "%.17g", v->d);
            values[i] = buf[i];
            break;
        case CREST_DB_BOOL:
            values[i] = v->b ? "t" : "f";
            break;
        case CREST_DB_BLOB:
            if (v->s.len > INT32_MAX)
                return -EINVAL;
            formats[i] = 1;
            lengths[i] = (int)v->s.len;
            values[i] = v->s.ptr;
            break;
        default:
            values[i] = v->s.ptr;
            break;
        }
    }
    return 0;
}

enum { MAX_INLINE_PARAMS = 64 };

static int send_stmt(struct pg_conn *c, struct db_call *call, uint32_t k)
{
    const struct crest_db_stmt *s = &call->stmts[k];
    if (s->n_params > MAX_INLINE_PARAMS)
        return -EINVAL; /* answered CREST_DB_INVALID */
    const char *values[MAX_INLINE_PARAMS];
    int lengths[MAX_INLINE_PARAMS], formats[MAX_INLINE_PARAMS];
    char buf[MAX_INLINE_PARAMS][32];
    if (params_of(s, values, lengths, formats, buf) != 0)
        return -EINVAL;
    bool fresh;
    int slot = cache_slot(c, s->sql, &fresh);
    char name[16];
    snprintf(name, sizeof(name), "c%d", slot);
    if (fresh) {
        struct pg_entry *e = entry_new(c, call, PG_PREPARE);
        if (!e || !PQsendPrepare(c->pq, name, s->sql, 0, NULL))
            return -EIO;
        e->slot = (int16_t)slot;
    }
    struct pg_entry *e = entry_new(c, call, PG_QUERY);
    if (!e)
        return -ENOMEM;
    e->stmt = k;
    int n = (int)s->n_params, ok;
    if (slot >= 0)
        ok = PQsendQueryPrepared(c->pq, name, n, values, lengths, formats, 0);
    else
        ok = PQsendQueryParams(c->pq, s->sql, n, NULL, values, lengths, formats, 0);
    return ok ? 0 : -EIO;
}

/* The call's statements into libpq's buffer, an entry for each on c: -ENOMEM with nothing sent,
 * -EIO when c is out of step with the server (part of the call sent, or libpq refused it). */
static int send_stmts(struct pg_conn *c, struct db_call *call)
{
    struct db_alloc a = db_call_alloc(call);
    call->results = a.alloc(a.ctx, call->n * sizeof(*call->results));
    if (!call->results)
        return -ENOMEM;
    memset(call->results, 0, call->n * sizeof(*call->results));
    for (uint32_t k = 0; k < call->n; k++) {
        int rc = send_stmt(c, call, k);
        if (rc == -EINVAL && call->status == CREST_DB_OK)
            call->status = CREST_DB_INVALID; /* its Sync still goes out: the answer comes there */
        else if (rc)
            return -EIO;
    }
    return 0;
}

/* A failure is answered once: here until the call's Sync entry is on c, by c from then on
 * (db_pg_conn_lost answers every call on c). The connection is given up on before the answer,
 * so that the callback may start a new call on this pool. */
void db_pg_send(struct pg_conn *c, struct db_call *call)
{
    int rc = send_stmts(c, call);
    if (rc == 0 && !entry_new(c, call, PG_SYNC))
        rc = -EIO;
    if (rc != 0) {
        if (rc != -ENOMEM)
            db_pg_conn_lost(c, CREST_DB_UNAVAILABLE, OBS_DB_ERR_LOST);
        db_call_finish(call, CREST_DB_UNAVAILABLE);
        return;
    }
    c->calls++;
    call->start_us = c->inst->loop->now_us; /* its timeout counts from now */
    db_pg_conn_state(c, PG_READY);
    if (!PQpipelineSync(c->pq) || db_pg_conn_flush(c) != 0) {
        db_pg_conn_lost(c, CREST_DB_UNAVAILABLE, OBS_DB_ERR_LOST);
        return;
    }
    db_pg_conn_arm_timer(c);
}

/* ------------------------------------------------------------------------------------------------
 * Results */

static enum crest_db_status status_of(const PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!state)
        return CREST_DB_UNAVAILABLE;
    if (strcmp(state, "23505") == 0)
        return CREST_DB_UNIQUE;
    if (strcmp(state, "23503") == 0)
        return CREST_DB_FOREIGN_KEY;
    if (strncmp(state, "23", 2) == 0) /* check, not null, exclusion */
        return CREST_DB_CHECK;
    if (strcmp(state, "57014") == 0) /* query_canceled: our own timeout's cancel */
        return CREST_DB_TIMEOUT;
    if (strncmp(state, "42", 2) == 0 || strncmp(state, "22", 2) == 0 ||
        strncmp(state, "26", 2) == 0) /* syntax, undefined names, bad values, bad statement */
        return CREST_DB_INVALID;
    return CREST_DB_UNAVAILABLE; /* connection, resources, serialization: try again later */
}

static int hex(int ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* bytea's text form is \x and two hex digits a byte (bytea_output's default since 9.0). */
static int read_bytea(struct crest_db_value *v, const struct db_alloc *a, const char *s, size_t n)
{
    if (n < 2 || s[0] != '\\' || s[1] != 'x' || n % 2)
        return db_value_copy(v, a, CREST_DB_BLOB, s, n);
    size_t len = (n - 2) / 2;
    int rc = db_value_copy(v, a, CREST_DB_BLOB, s + 2, len);
    char *out = (char *)v->s.ptr;
    for (size_t i = 0; rc == 0 && i < len; i++) {
        int hi = hex(s[2 + 2 * i]), lo = hex(s[3 + 2 * i]);
        out[i] = (char)(hi < 0 || lo < 0 ? 0 : hi << 4 | lo);
    }
    return rc;
}

static int read_value(const PGresult *res, int row, int col, struct crest_db_value *v,
                      const struct db_alloc *a)
{
    if (PQgetisnull(res, row, col)) {
        *v = crest_db_null();
        return 0;
    }
    const char *text = PQgetvalue(res, row, col);
    size_t len = (size_t)PQgetlength(res, row, col);
    switch (PQftype(res, col)) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
        *v = crest_db_int(strtoll(text, NULL, 10));
        return 0;
    case OID_FLOAT4:
    case OID_FLOAT8:
        *v = crest_db_double(strtod(text, NULL));
        return 0;
    case OID_BOOL:
        *v = crest_db_bool(text[0] == 't');
        return 0;
    case OID_BYTEA:
        return read_bytea(v, a, text, len);
    default: /* text, numeric (exact: read it as text or double), dates, json, … */
        return db_value_copy(v, a, CREST_DB_TEXT, text, len);
    }
}

static enum crest_db_status read_rows(struct db_call *call, uint32_t k, const PGresult *res)
{
    struct db_alloc a = db_call_alloc(call);
    struct crest_db_result *r = &call->results[k];
    int rows = PQntuples(res), cols = PQnfields(res);
    if (db_result_init(r, &a, (size_t)cols) != 0)
        return CREST_DB_UNAVAILABLE;
    for (int c = 0; c < cols; c++) {
        const char *name = PQfname(res, c);
        if (db_result_name(r, &a, (size_t)c, name, strlen(name)) != 0)
            return CREST_DB_UNAVAILABLE;
    }
    for (int row = 0; row < rows; row++) {
        struct crest_db_value *values = db_result_row(r, &a);
        if (!values)
            return CREST_DB_UNAVAILABLE;
        for (int c = 0; c < cols; c++)
            if (read_value(res, row, c, &values[c], &a) != 0)
                return CREST_DB_UNAVAILABLE;
    }
    /* the command tag counts rows: SELECT n is rows read, INSERT 0 n, UPDATE n, DELETE n changed */
    if (strncmp(PQcmdStatus((PGresult *)res), "SELECT", 6) != 0)
        r->changes = strtoll(PQcmdTuples((PGresult *)res), NULL, 10);
    if ((call->stmts[k].flags & CREST_DB_ONE) && r->n_rows == 0 && r->changes == 0)
        return CREST_DB_NOT_FOUND;
    return CREST_DB_OK;
}

/* One result for entry e. The first failure of a call is its answer: the server rolls the
 * call's transaction back at its Sync, and the rest of its statements come back aborted. */
void db_pg_take(struct pg_conn *c, struct pg_entry *e, PGresult *res)
{
    struct db_call *call = e->call;
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (e->what == PG_PREPARE && e->slot >= 0) {
        if (ok) {
            c->cache[e->slot].ready = true;
        } else { /* the statement does not exist: the next use parses again */
            mem_strfree(MEM_DB, c->cache[e->slot].text);
            c->cache[e->slot] = (struct pg_cached){0};
        }
    }
    if (call->status != CREST_DB_OK || call->abandoned)
        return;
    if (ok && e->what == PG_QUERY) {
        /* the rows move out of libpq's result, freed next: refusing them over the budget would
         * not stop the call's transaction from committing at its Sync */
        call->wrote |= strncmp(PQcmdStatus(res), "SELECT", 6) != 0;
        mem_budget_waive(true);
        call->status = read_rows(call, e->stmt, res);
        mem_budget_waive(false);
    } else if (!ok && st != PGRES_PIPELINE_ABORTED) {
        call->status = status_of(res);
        obs_db_error(c->inst->stats, c->inst->db->obs, OBS_DB_ERR_QUERY);
        if (call->status == CREST_DB_INVALID)
            db_log(c->inst->db, "statement failed", PQresultErrorMessage(res));
    }
}

/* ------------------------------------------------------------------------------------------------
 * Open and close */

/* What no retry can fix is refused at start: a URL libpq cannot read (its message may quote the
 * URL, password included, so it is not repeated), or TLS asked of a libpq built without it. */
static int pg_open(struct crest_db *db, char *err)
{
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(db->url, &why);
    if (!opts) {
        if (err)
            snprintf(err, CREST_ERR_LEN, "database %s (%s): not a PostgreSQL URL libpq can read",
                     db->name, db->redacted);
        PQfreemem(why);
        return -EINVAL;
    }
    bool wants_tls = false;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "sslmode") == 0 && o->val &&
            (strcmp(o->val, "require") == 0 || strncmp(o->val, "verify-", 7) == 0))
            wants_tls = true;
    PQconninfoFree(opts);
    if (wants_tls && !PQsslAttribute(NULL, "library")) {
        if (err)
            snprintf(err, CREST_ERR_LEN,
                     "database %s (%s): sslmode needs TLS, not in this build "
                     "(-DCREST_LIBPQ_TLS=openssl)",
                     db->name, db->redacted);
        return -ENOTSUP;
    }
    return 0;
}

static void pg_close(struct crest_db *db)
{
    (void)db;
}

static int pg_worker_open(struct crest_db *db, unsigned id, struct crest_loop *loop, void **out,
                          char *err)
{
    if (!loop) {
        if (err)
            snprintf(err, CREST_ERR_LEN,
                     "database %s: PostgreSQL runs in a server worker's event loop (not in the "
                     "test client)",
                     db->name);
        return -ENOTSUP;
    }
    struct pg_inst *p = mem_calloc(MEM_DB, 1, sizeof(*p));
    if (p)
        p->conns = mem_calloc(MEM_DB, db->pool, sizeof(*p->conns));
    if (!p || !p->conns) {
        mem_free(MEM_DB, p, sizeof(*p));
        if (err)
            snprintf(err, CREST_ERR_LEN, "database %s: out of memory", db->name);
        return -ENOMEM;
    }
    p->db = db;
    p->loop = net_loop_of(loop);
    p->stats = obs_worker_slot(id);
    p->n_conns = db->pool;
    mem_pool_init(&p->entries, MEM_DB, sizeof(struct pg_entry), PG_ENTRIES_KEPT);
    p->turn_end.ud = p;
    for (unsigned k = 0; k < p->n_conns; k++) /* in the background: a server down is retried */
        db_pg_conn_init(&p->conns[k], p);
    *out = p;
    return 0;
}

/* The loop has stopped: the calls still open belong to requests that are gone, so no callback
 * runs; their records are freed. */
static void pg_worker_close(void *instance)
{
    struct pg_inst *p = instance;
    for (unsigned k = 0; k < p->n_conns; k++)
        db_pg_conn_close(&p->conns[k]);
    while (p->waiting) {
        struct db_call *call = p->waiting;
        p->waiting = call->next;
        call->abandoned = true;
        db_call_finish(call, CREST_DB_UNAVAILABLE);
    }
    db_pg_batch_drop(p);
    mem_pool_fini(&p->entries);
    mem_free(MEM_DB, p->conns, p->n_conns * sizeof(*p->conns));
    mem_free(MEM_DB, p, sizeof(*p));
}

const struct db_backend db_pg_backend = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .worker_open = pg_worker_open,
    .worker_close = pg_worker_close,
    .run = pg_run,
    .up = pg_up,
};
