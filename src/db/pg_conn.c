/* db/pg_conn.c: one PostgreSQL connection's life inside its worker's event loop: a state machine
 * driven by socket events and one timer. Connecting (PQconnectPoll); the application's migrations
 * (the first connection of each worker's pool, under an advisory lock, so instances and workers
 * starting together apply each exactly once); then sending calls, reading their results in order
 * up to each call's Sync; query timeouts (PQcancel in a short-lived thread) and reconnects with
 * capped exponential backoff. */
#include "db/pg_int.h"

#include "mem/mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* pg_advisory_lock's key for migrations: "crest" in ASCII (0x6372657374), which a DBA reading
 * pg_locks can decode. */
#define MIGRATION_LOCK "427121013620"

static void conn_connect(struct pg_conn *c);

void db_pg_conn_state(struct pg_conn *c, enum pg_state st)
{
    c->state = st;
    int obs = st == PG_DOWN    ? OBS_DB_DOWN
              : st != PG_READY ? OBS_DB_CONNECTING
              : c->calls > 0   ? OBS_DB_BUSY
                               : OBS_DB_IDLE;
    if (obs != c->obs_state) {
        obs_db_move(c->inst->stats, c->inst->db->obs, c->obs_state, obs);
        c->obs_state = obs;
    }
}

static void conn_watch(struct pg_conn *c, uint32_t events)
{
    struct net_loop *loop = c->inst->loop;
    int fd = PQsocket(c->pq);
    if (c->watched && c->watch.fd != fd) { /* libpq moved to another address's socket */
        net_loop_del(loop, c->watch.fd);
        c->watched = false;
    }
    if (fd < 0)
        return;
    c->watch.fd = fd;
    if (!c->watched) {
        if (net_loop_add_watch(loop, &c->watch, events) == 0) {
            c->watched = true;
            c->events = events;
        }
    } else if (c->events != events && net_loop_mod_watch(loop, &c->watch, events) == 0) {
        c->events = events;
    }
}

static void conn_unwatch(struct pg_conn *c)
{
    if (c->watched)
        net_loop_del(c->inst->loop, c->watch.fd);
    c->watched = false;
}

int db_pg_conn_flush(struct pg_conn *c)
{
    int r = PQflush(c->pq);
    if (r < 0)
        return -EIO;
    conn_watch(c, EPOLLIN | (r > 0 ? EPOLLOUT : 0));
    return 0;
}

/* The oldest call still waiting for its answer, or NULL. */
static struct db_call *oldest_call(const struct pg_conn *c)
{
    for (const struct pg_entry *e = c->head; e; e = e->next)
        if (!e->call->abandoned)
            return e->call;
    return NULL;
}

/* The query timer: due when the oldest unanswered call passes timeout_ms. */
void db_pg_conn_arm_timer(struct pg_conn *c)
{
    struct pg_inst *p = c->inst;
    struct db_call *oldest = oldest_call(c);
    if (!oldest) {
        net_timer_stop(p->loop, &c->timer);
        return;
    }
    uint64_t now = net_loop_clock_us(p->loop);
    uint64_t due = oldest->start_us + (uint64_t)p->db->timeout_ms * 1000;
    uint32_t delay = due > now ? (uint32_t)((due - now + 999) / 1000) : 0;
    (void)net_timer_start(p->loop, &c->timer, delay); /* -ENOMEM: the next call rearms it */
}

/* Cancel threads running in the process: a server that hangs never answers a cancel either, so
 * they are capped rather than piled up once per timeout. One at a time, in a counter slot of its
 * own (libpq frees its PGcancel through crest's accounting). A timeout that finds it busy skips
 * the cancel; the connection is closed after a second timeout anyway. */
static _Atomic int cancels_running;
enum { MAX_CANCELS = 1, CANCEL_SLOT = MEM_MAX_SLOTS - 2 };

static void *cancel_thread(void *arg)
{
    PGcancel *cancel = arg;
    char why[256];
    mem_thread_slot(CANCEL_SLOT);
    (void)PQcancel(cancel, why, sizeof(why)); /* a failed cancel: the query just runs on */
    PQfreeCancel(cancel);
    atomic_fetch_sub(&cancels_running, 1);
    return NULL;
}

/* PQcancel opens a connection to the server and waits for it to take the request: a blocking
 * round trip the worker's loop must not make, so a detached thread makes it. */
static void conn_cancel(struct pg_conn *c)
{
    if (atomic_fetch_add(&cancels_running, 1) >= MAX_CANCELS) {
        atomic_fetch_sub(&cancels_running, 1);
        return;
    }
    PGcancel *cancel = PQgetCancel(c->pq);
    pthread_attr_t attr;
    pthread_t thread;
    if (cancel && pthread_attr_init(&attr) == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        int rc = pthread_create(&thread, &attr, cancel_thread, cancel);
        pthread_attr_destroy(&attr);
        if (rc == 0)
            return;
    }
    if (cancel)
        PQfreeCancel(cancel);
    atomic_fetch_sub(&cancels_running, 1);
}

/* Calls past the deadline are answered CREST_DB_TIMEOUT now and their statements cancelled; a
 * connection whose oldest call was answered so once and still has no result is given up on. */
static void conn_timeout(struct pg_conn *c)
{
    struct pg_inst *p = c->inst;
    uint64_t now = net_loop_clock_us(p->loop);
    uint64_t limit = (uint64_t)p->db->timeout_ms * 1000;
    if (c->head && c->head->call->abandoned && now - c->head->call->start_us >= 2 * limit) {
        db_pg_conn_lost(c, CREST_DB_TIMEOUT, OBS_DB_ERR_TIMEOUT);
        return;
    }
    bool expired = false;
    for (struct pg_entry *e = c->head; e; e = e->next) {
        if (e->what != PG_SYNC || e->call->abandoned || now - e->call->start_us < limit)
            continue;
        expired = true;
        obs_db_error(p->stats, p->db->obs, OBS_DB_ERR_TIMEOUT);
        db_call_answer_early(e->call, CREST_DB_TIMEOUT);
    }
    if (expired)
        conn_cancel(c);
    db_pg_conn_arm_timer(c);
}

static void on_timer(struct net_timer *t)
{
    struct pg_conn *c = t->ud;
    if (c->state == PG_DOWN)
        conn_connect(c);
    else if (c->state != PG_READY) /* connecting for longer than timeout_ms */
        db_pg_conn_lost(c, CREST_DB_TIMEOUT, OBS_DB_ERR_CONNECT);
    else
        conn_timeout(c);
}

/* Every call on c, answered once each (at its Sync entry), the entries freed. */
static void fail_all(struct pg_conn *c, enum crest_db_status status)
{
    struct pg_entry *e;
    while ((e = db_pg_pop(c))) {
        if (e->what == PG_SYNC)
            db_call_finish(e->call, status);
        mem_pool_put(&c->inst->entries, e);
    }
    c->calls = 0;
}

void db_pg_conn_lost(struct pg_conn *c, enum crest_db_status status, enum obs_db_error why)
{
    struct pg_inst *p = c->inst;
    if (c->pq) {
        if (c->state == PG_READY) {
            db_log(p->db, "connection lost", PQerrorMessage(c->pq));
        } else if (!p->logged_down) { /* once per outage, not once per retry */
            db_log(p->db, "unreachable", PQerrorMessage(c->pq));
            p->logged_down = true;
        }
        conn_unwatch(c);
        PQfinish(c->pq);
        c->pq = NULL;
    }
    obs_db_error(p->stats, p->db->obs, why);
    db_pg_cache_clear(c);
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : PG_BACKOFF_FIRST_MS;
    if (c->backoff_ms > PG_BACKOFF_MAX_MS)
        c->backoff_ms = PG_BACKOFF_MAX_MS;
    db_pg_conn_state(c, PG_DOWN);
    (void)net_timer_start(p->loop, &c->timer, c->backoff_ms);
    /* detached before any callback runs: a callback may start a new call on this pool */
    struct db_call *waiting = NULL;
    if (!db_pg_any_ready(p) && !db_pg_any_connecting(p)) { /* nothing left to wait for */
        waiting = p->waiting;
        p->waiting = p->waiting_tail = NULL;
    }
    fail_all(c, status);
    while (waiting) {
        struct db_call *call = waiting;
        waiting = call->next;
        db_call_finish(call, CREST_DB_UNAVAILABLE);
    }
}

/* The server's NOTICEs ("relation already exists, skipping") are for interactive sessions. */
static void drop_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void conn_connect(struct pg_conn *c)
{
    struct pg_inst *p = c->inst;
    /* the URL is expanded as the dbname; crest names itself to the server's pg_stat_activity */
    const char *const keys[] = {"dbname", "fallback_application_name", "client_encoding", NULL};
    const char *const values[] = {p->db->url, "crest", "UTF8", NULL};
    c->pq = PQconnectStartParams(keys, values, 1);
    db_pg_conn_state(c, PG_CONNECTING);
    if (!c->pq || PQstatus(c->pq) == CONNECTION_BAD) {
        db_pg_conn_lost(c, CREST_DB_UNAVAILABLE, OBS_DB_ERR_CONNECT);
        return;
    }
    PQsetNoticeProcessor(c->pq, drop_notice, NULL);
    conn_watch(c, EPOLLOUT); /* PQconnectPoll's first step waits for the socket to connect */
    (void)net_timer_start(p->loop, &c->timer, p->db->timeout_ms);
}

/* ------------------------------------------------------------------------------------------------
 * Migrations: simple-protocol round trips before the connection enters pipeline mode */

static void conn_ready(struct pg_conn *c)
{
    struct pg_inst *p = c->inst;
    if (!PQenterPipelineMode(c->pq)) {
        db_pg_conn_lost(c, CREST_DB_UNAVAILABLE, OBS_DB_ERR_CONNECT);
        return;
    }
    net_timer_stop(p->loop, &c->timer);
    c->backoff_ms = 0;
    if (p->logged_down)
        db_log(p->db, "connected", NULL);
    p->logged_down = false;
    db_pg_conn_state(c, PG_READY);
    db_pg_pump(p);
}

/* One migration and its row in crest_migrations, as one implicit transaction. */
static int send_migration(struct pg_conn *c)
{
    const struct crest_db *db = c->inst->db;
    const char *script = db->migrations[c->version];
    size_t len = strlen(script) + 128;
    char *sql = mem_alloc(MEM_DB, len);
    if (!sql)
        return -ENOMEM;
    char sum[DB_CHECKSUM_LEN];
    db_migration_checksum(script, sum);
    snprintf(sql, len, "%s;\nINSERT INTO crest_migrations(version, checksum) VALUES (%lld, '%s')",
             script, (long long)c->version + 1, sum);
    int ok = PQsendQuery(c->pq, sql);
    mem_free(MEM_DB, sql, len);
    return ok ? 0 : -EIO;
}

/* The lock, the table (and the checksum column a table from before checksums lacks), this
 * application's checksums where none is recorded (db/migrate.c), and what was applied. */
static int send_lock(struct pg_conn *c)
{
    static const char head[] =
        "SELECT pg_advisory_lock(" MIGRATION_LOCK ");"
        "CREATE TABLE IF NOT EXISTS crest_migrations("
        "version bigint PRIMARY KEY,"
        " applied_at timestamptz NOT NULL DEFAULT now(), checksum text);"
        "ALTER TABLE crest_migrations ADD COLUMN IF NOT EXISTS checksum text;";
    static const char tail[] = ";SELECT version, checksum FROM crest_migrations";
    size_t adopt_size;
    char *adopt = db_migrations_adopt_sql(c->inst->db, &adopt_size);
    size_t len = sizeof(head) + adopt_size + sizeof(tail);
    char *sql = adopt ? mem_alloc(MEM_DB, len) : NULL;
    int ok = 0;
    if (sql) {
        snprintf(sql, len, "%s%s%s", head, adopt, tail);
        ok = PQsendQuery(c->pq, sql);
        mem_free(MEM_DB, sql, len);
    }
    if (adopt)
        mem_free(MEM_DB, adopt, adopt_size);
    return ok ? 0 : -EIO;
}

static int setup_send(struct pg_conn *c)
{
    const struct crest_db *db = c->inst->db;
    int ok = 1;
    if (c->setup == PG_SETUP_LOCK)
        return send_lock(c) ? -EIO : db_pg_conn_flush(c);
    else if (c->setup == PG_SETUP_MIGRATE && c->version < (int64_t)db->n_migrations)
        return send_migration(c) ? -EIO : db_pg_conn_flush(c);
    else
        ok = PQsendQuery(c->pq, "SELECT pg_advisory_unlock(" MIGRATION_LOCK ")");
    return ok ? db_pg_conn_flush(c) : -EIO;
}

static void setup_start(struct pg_conn *c)
{
    struct pg_inst *p = c->inst;
    db_pg_conn_state(c, PG_SETUP);
    if (p->migrated || p->db->n_migrations == 0) {
        conn_ready(c);
        return;
    }
    c->setup = PG_SETUP_LOCK;
    if (setup_send(c) != 0)
        db_pg_conn_lost(c, CREST_DB_UNAVAILABLE, OBS_DB_ERR_CONNECT);
}

/* The step's results are all in: the next step, or ready. */
static void setup_next(struct pg_conn *c)
{
    struct pg_inst *p = c->inst;
    if (c->setup == PG_SETUP_LOCK) {
        if (c->version > (int64_t)p->db->n_migrations || c->refused) {
            char why[CREST_ERR_LEN];
            if (c->refused)
                db_migration_mismatch(p->db, c->refused, why);
            db_log(p->db,
                   c->refused ? why : "the database's schema is newer than this application's",
                   NULL);
            p->logged_down = true; /* said: not "unreachable" as well */
            db_pg_conn_lost(c, CREST_DB_UNAVAILABLE, OBS_DB_ERR_QUERY);
            return;
        }
        c->setup = PG_SETUP_MIGRATE;
    } else if (c->setup == PG_SETUP_MIGRATE) {
        c->version++;
    } else {
        p->migrated = true;
        conn_ready(c);
        return;
    }
    if (c->setup == PG_SETUP_MIGRATE && c->version >= (int64_t)p->db->n_migrations)
        c->setup = PG_SETUP_UNLOCK;
    if (setup_send(c) != 0)
        db_pg_conn_lost(c, CREST_DB_UNAVAILABLE, OBS_DB_ERR_CONNECT);
}

/* crest_migrations' rows: the schema's version, and the first version applied from another
 * script than this application's (0: none). */
static void read_applied(struct pg_conn *c, const PGresult *res)
{
    c->version = c->refused = 0;
    for (int row = 0; row < PQntuples(res); row++) {
        int64_t v = strtoll(PQgetvalue(res, row, 0), NULL, 10);
        const char *sum = PQgetisnull(res, row, 1) ? NULL : PQgetvalue(res, row, 1);
        c->version = v > c->version ? v : c->version;
        if (!c->refused && !db_migration_matches(c->inst->db, v, sum))
            c->refused = v;
    }
}

static void setup_read(struct pg_conn *c)
{
    while (c->state == PG_SETUP && !PQisBusy(c->pq)) {
        PGresult *res = PQgetResult(c->pq);
        if (!res) {
            setup_next(c);
            return;
        }
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            char what[48];
            snprintf(what, sizeof(what), "migration %lld failed", (long long)c->version + 1);
            db_log(c->inst->db, c->setup == PG_SETUP_MIGRATE ? what : "migrations failed",
                   PQresultErrorMessage(res));
            PQclear(res);
            c->inst->logged_down = true; /* said: not "unreachable" as well */
            db_pg_conn_lost(c, CREST_DB_UNAVAILABLE, OBS_DB_ERR_QUERY);
            return;
        }
        if (c->setup == PG_SETUP_LOCK && st == PGRES_TUPLES_OK && PQnfields(res) == 2 &&
            strcmp(PQfname(res, 0), "version") == 0)
            read_applied(c, res);
        PQclear(res);
    }
}

static void conn_poll_connect(struct pg_conn *c)
{
    switch (PQconnectPoll(c->pq)) {
    case PGRES_POLLING_READING:
        conn_watch(c, EPOLLIN);
        return;
    case PGRES_POLLING_WRITING:
        conn_watch(c, EPOLLOUT);
        return;
    case PGRES_POLLING_OK:
        if (PQsetnonblocking(c->pq, 1) != 0) {
            db_pg_conn_lost(c, CREST_DB_UNAVAILABLE, OBS_DB_ERR_CONNECT);
            return;
        }
        setup_start(c);
        return;
    default:
        db_pg_conn_lost(c, CREST_DB_UNAVAILABLE, OBS_DB_ERR_CONNECT);
        return;
    }
}

/* ------------------------------------------------------------------------------------------------
 * Serving: results in the order asked, each call answered at its Sync */

static void call_synced(struct pg_conn *c, struct pg_entry *e)
{
    struct pg_inst *p = c->inst;
    struct db_call *call = e->call;
    mem_pool_put(&p->entries, e);
    c->calls--;
    if (!call->abandoned)
        obs_db_query(p->stats, p->db->obs, net_loop_clock_us(p->loop) - call->start_us);
    db_pg_conn_state(c, PG_READY);
    bool committed = call->wrote && call->status == CREST_DB_OK; /* its answer must go out */
    if (committed)
        mem_budget_waive(true);
    db_call_finish(call, CREST_DB_OK);
    if (committed)
        mem_budget_waive(false);
    if (!p->db->pipeline)
        db_pg_pump(p); /* the connection is free for the next waiting call */
}

/* The server's answers to calls already sent are read whatever the budget says: a refusal would
 * not undo a transaction that commits at its Sync, only hide that it did. NULL when the next
 * result is not all here (*busy) or at the end of a statement's results. */
static PGresult *next_result(struct pg_conn *c, bool *busy)
{
    mem_budget_waive(true);
    *busy = PQisBusy(c->pq);
    PGresult *res = *busy ? NULL : PQgetResult(c->pq);
    mem_budget_waive(false);
    return res;
}

static void serve_read(struct pg_conn *c)
{
    bool busy = false;
    while (c->state == PG_READY && c->head) {
        struct pg_entry *e = c->head;
        PGresult *res = next_result(c, &busy);
        if (busy)
            break;
        if (!res) { /* the end of a Parse's or a statement's results */
            if (e->what == PG_SYNC)
                break; /* not here yet */
            mem_pool_put(&c->inst->entries, db_pg_pop(c));
            continue;
        }
        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            if (e->what != PG_SYNC) { /* out of step with the server: start over */
                db_pg_conn_lost(c, CREST_DB_UNAVAILABLE, OBS_DB_ERR_LOST);
                return;
            }
            call_synced(c, db_pg_pop(c));
            continue;
        }
        db_pg_take(c, e, res);
        PQclear(res);
    }
    if (c->state == PG_READY)
        db_pg_conn_arm_timer(c);
}

static void conn_on_event(struct net_watch *w, uint32_t events)
{
    struct pg_conn *c = (struct pg_conn *)w;
    if (c->state == PG_CONNECTING) {
        conn_poll_connect(c);
        return;
    }
    if ((events & EPOLLOUT) && db_pg_conn_flush(c) != 0) {
        db_pg_conn_lost(c, CREST_DB_UNAVAILABLE, OBS_DB_ERR_LOST);
        return;
    }
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        return;
    mem_budget_waive(true); /* see next_result */
    int read = PQconsumeInput(c->pq);
    mem_budget_waive(false);
    if (!read) {
        db_pg_conn_lost(c, CREST_DB_UNAVAILABLE,
                        c->state == PG_READY ? OBS_DB_ERR_LOST : OBS_DB_ERR_CONNECT);
        return;
    }
    if (c->state == PG_SETUP)
        setup_read(c);
    else if (c->state == PG_READY)
        serve_read(c);
}

void db_pg_conn_init(struct pg_conn *c, struct pg_inst *p)
{
    c->inst = p;
    c->watch.cb = conn_on_event;
    c->timer.cb = on_timer;
    c->timer.ud = c;
    c->obs_state = -1;
    conn_connect(c);
}

void db_pg_conn_close(struct pg_conn *c)
{
    struct pg_inst *p = c->inst;
    net_timer_stop(p->loop, &c->timer);
    if (c->pq) {
        conn_unwatch(c);
        PQfinish(c->pq);
        c->pq = NULL;
    }
    obs_db_move(p->stats, p->db->obs, c->obs_state, -1);
    c->obs_state = -1;
    struct pg_entry *e;
    while ((e = db_pg_pop(c))) {
        if (e->what == PG_SYNC) {
            e->call->abandoned = true;
            db_call_finish(e->call, CREST_DB_UNAVAILABLE);
        }
        mem_pool_put(&p->entries, e);
    }
    db_pg_cache_clear(c);
}
