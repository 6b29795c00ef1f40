/* store/pg_conn.c: one PostgreSQL connection's life inside its worker's event loop: a state
 * machine driven by socket events and one timer. Connecting (PQconnectPoll), creating the schema
 * (first connection of a store) and preparing the statements; then sending calls, reading their
 * results in order and closing segments with Syncs; query timeouts (PQcancel in a short-lived
 * thread) and reconnects with capped exponential backoff. */
#include "store/pg_int.h"

#include "mem/mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static void conn_connect(struct pg_conn *c);

/* One line per event on stderr, whatever libpq's message looks like (it may span lines). */
static void log_line(const struct pg_store *s, const char *what, const char *detail)
{
    char url[256], line[768];
    crest_store_redact_url(s->url, url, sizeof(url));
    /* libpq's messages name host and port, never the password */
    int len = snprintf(line, sizeof(line) - 1, "crest: store %s: %s%s%s", url, what,
                       detail ? ": " : "", detail ? detail : "");
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

static void conn_set_state(struct pg_conn *c, enum conn_state st)
{
    c->state = st;
    int obs = st == C_DOWN    ? OBS_DB_DOWN
              : st != C_READY ? OBS_DB_CONNECTING
              : c->n_sent > 0 ? OBS_DB_BUSY
                              : OBS_DB_IDLE;
    if (obs != c->obs_state) {
        obs_db_move(c->store->stats, c->obs_state, obs);
        c->obs_state = obs;
    }
}

static void conn_watch(struct pg_conn *c, uint32_t events)
{
    struct net_loop *loop = c->store->loop;
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
        net_loop_del(c->store->loop, c->watch.fd);
    c->watched = false;
}

/* Sends what libpq buffered; watches for writability while some is left. */
static int conn_flush(struct pg_conn *c)
{
    int r = PQflush(c->pq);
    if (r < 0)
        return -EIO;
    conn_watch(c, EPOLLIN | (r > 0 ? EPOLLOUT : 0));
    return 0;
}

/* The query timer: due when the oldest unanswered call passes timeout_ms. */
void store_pg_conn_arm_timer(struct pg_conn *c)
{
    struct pg_store *s = c->store;
    struct pg_call *oldest = c->sent;
    while (oldest && oldest->abandoned)
        oldest = oldest->next;
    if (!oldest) {
        net_timer_stop(s->loop, &c->timer);
        return;
    }
    uint64_t now = net_loop_clock_us(s->loop);
    uint64_t due = oldest->sent_us + (uint64_t)s->timeout_ms * 1000;
    uint32_t delay = due > now ? (uint32_t)((due - now + 999) / 1000) : 0;
    (void)net_timer_start(s->loop, &c->timer, delay); /* -ENOMEM: the next call rearms it */
}

struct cancel_job {
    PGcancel *cancel;
};

/* Cancel threads running in the process: a server that hangs (stopped, partitioned) never answers
 * a cancel either, so they are capped rather than piled up once per timeout. One at a time: it
 * frees libpq's PGcancel through crest's accounting, in a counter slot of its own, which two
 * threads must not share. A timeout that finds it busy skips the cancel; the connection is closed
 * after a second timeout anyway. */
static _Atomic int cancels_running;
enum { MAX_CANCELS = 1, CANCEL_SLOT = MEM_MAX_SLOTS - 1 };

static void *cancel_thread(void *arg)
{
    struct cancel_job *job = arg;
    char why[256];
    mem_thread_slot(CANCEL_SLOT);
    (void)PQcancel(job->cancel, why, sizeof(why)); /* a failed cancel: the query just runs on */
    PQfreeCancel(job->cancel);
    free(job);
    atomic_fetch_sub(&cancels_running, 1);
    return NULL;
}

/* PQcancel opens a connection to the server and waits for it to take the request: a blocking
 * round trip the worker's loop must not make, so a detached thread makes it. */
static void conn_cancel(struct pg_conn *c)
{
    if (atomic_fetch_add(&cancels_running, 1) >= MAX_CANCELS) {
        atomic_fetch_sub(&cancels_running, 1);
        return; /* the connection is closed after a second timeout anyway */
    }
    struct cancel_job *job = malloc(sizeof(*job)); /* freed by the thread, which mem does not see */
    pthread_attr_t attr;
    pthread_t thread;
    if (!job) {
        atomic_fetch_sub(&cancels_running, 1);
        return;
    }
    job->cancel = PQgetCancel(c->pq);
    if (job->cancel && pthread_attr_init(&attr) == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        int rc = pthread_create(&thread, &attr, cancel_thread, job);
        pthread_attr_destroy(&attr);
        if (rc == 0)
            return;
    }
    if (job->cancel)
        PQfreeCancel(job->cancel);
    free(job);
    atomic_fetch_sub(&cancels_running, 1);
}

/* Answers a call (each read of a group) before its result came; the result is dropped. */
static void answer_early(struct pg_call *call, int status)
{
    call->abandoned = true;
    for (struct pg_call *m = call->members; m; m = m->next)
        if (!m->abandoned)
            answer_early(m, status);
    if (call->cb)
        call->cb(call->ud, status, NULL, 0);
}

/* Calls past the deadline are answered -ETIMEDOUT now and their query cancelled; a connection
 * whose oldest call was already cancelled once and still has no answer is given up on. */
static void conn_timeout(struct pg_conn *c)
{
    struct pg_store *s = c->store;
    uint64_t now = net_loop_clock_us(s->loop);
    uint64_t limit = (uint64_t)s->timeout_ms * 1000;
    if (c->sent && c->sent->abandoned && now - c->sent->sent_us >= 2 * limit) {
        store_pg_conn_lost(c, -ETIMEDOUT, OBS_DB_ERR_TIMEOUT);
        return;
    }
    bool expired = false;
    for (struct pg_call *call = c->sent; call; call = call->next) {
        if (call->abandoned || now - call->sent_us < limit)
            continue;
        expired = true;
        obs_db_error(s->stats, OBS_DB_ERR_TIMEOUT);
        answer_early(call, -ETIMEDOUT);
    }
    if (expired)
        conn_cancel(c);
    store_pg_conn_arm_timer(c);
}

static void on_timer(struct net_timer *t)
{
    struct pg_conn *c = t->ud;
    if (c->state == C_DOWN)
        conn_connect(c);
    else if (c->state != C_READY)
        store_pg_conn_lost(c, -ETIMEDOUT,
                           OBS_DB_ERR_CONNECT); /* connecting for longer than timeout_ms */
    else
        conn_timeout(c);
}

/* Closes the connection, fails every call on it, and schedules a reconnect. */
void store_pg_conn_lost(struct pg_conn *c, int status, enum obs_db_error why)
{
    struct pg_store *s = c->store;
    bool was_ready = c->state == C_READY;
    if (c->pq) {
        if (was_ready) {
            log_line(s, "connection lost", PQerrorMessage(c->pq));
        } else if (!s->logged_down) { /* once per outage, not once per retry */
            log_line(s, "unreachable", PQerrorMessage(c->pq));
            s->logged_down = true;
        }
        conn_unwatch(c);
        PQfinish(c->pq);
        c->pq = NULL;
    }
    obs_db_error(s->stats, why);
    struct pg_call *sent = c->sent, *done = c->done;
    c->sent = c->sent_tail = c->done = c->done_tail = NULL;
    if (c->unsynced)
        s->unsynced--;
    c->n_sent = c->unsynced = c->syncs_due = 0;
    c->segment_failed = false;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS)
        c->backoff_ms = BACKOFF_MAX_MS;
    conn_set_state(c, C_DOWN);
    (void)net_timer_start(s->loop, &c->timer, c->backoff_ms);
    struct pg_call *waiting = NULL;
    if (!store_pg_any_ready(s) && !store_pg_any_connecting(s)) { /* nothing left to wait for */
        waiting = s->waiting;
        s->waiting = s->waiting_tail = NULL;
    }
    store_pg_call_finish_list(s, done, status);
    store_pg_call_finish_list(s, sent, status);
    store_pg_call_finish_list(s, waiting, -EIO);
}

/* The server's NOTICEs ("relation already exists, skipping") are for interactive sessions. */
static void drop_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void conn_connect(struct pg_conn *c)
{
    struct pg_store *s = c->store;
    /* the URL is expanded as the dbname; crest names itself to the server's pg_stat_activity */
    const char *const keys[] = {"dbname", "fallback_application_name", "client_encoding", NULL};
    const char *const values[] = {s->url, "crest", "UTF8", NULL};
    c->pq = PQconnectStartParams(keys, values, 1);
    if (!c->pq || PQstatus(c->pq) == CONNECTION_BAD) {
        conn_set_state(c, C_CONNECTING);
        store_pg_conn_lost(c, -EIO, OBS_DB_ERR_CONNECT);
        return;
    }
    PQsetNoticeProcessor(c->pq, drop_notice, NULL);
    conn_set_state(c, C_CONNECTING);
    conn_watch(c, EPOLLOUT); /* PQconnectPoll's first step waits for the socket to connect */
    (void)net_timer_start(s->loop, &c->timer, s->timeout_ms);
}

static int setup_send(struct pg_conn *c)
{
    struct pg_store *s = c->store;
    if (c->setup_step == 0 && s->migrated)
        c->setup_step = 1;
    if (c->setup_step == 0) {
        char sql[1024];
        if (store_pg_schema_script(sql, sizeof(sql)) != 0 || !PQsendQuery(c->pq, sql))
            return -EIO;
    } else {
        int st = c->setup_step - 1;
        if (!PQsendPrepare(c->pq, store_pg_statements[st].name, store_pg_statements[st].sql,
                           store_pg_statements[st].n_params, store_pg_statements[st].types))
            return -EIO;
    }
    return conn_flush(c);
}

static void conn_ready(struct pg_conn *c)
{
    struct pg_store *s = c->store;
    if (s->pipeline && !PQenterPipelineMode(c->pq)) {
        store_pg_conn_lost(c, -EIO, OBS_DB_ERR_CONNECT);
        return;
    }
    net_timer_stop(s->loop, &c->timer);
    c->backoff_ms = 0;
    if (s->logged_down)
        log_line(s, "connected", NULL);
    s->logged_down = false;
    conn_set_state(c, C_READY);
    store_pg_pump_waiting(s);
}

/* Reads one setup step's results; moves to the next step when they are all in. */
static void setup_read(struct pg_conn *c)
{
    struct pg_store *s = c->store;
    while (!PQisBusy(c->pq)) {
        PGresult *res = PQgetResult(c->pq);
        if (!res) { /* this step is complete */
            if (c->setup_step == 0)
                s->migrated = true;
            if (++c->setup_step > ST_COUNT) {
                conn_ready(c);
                return;
            }
            if (setup_send(c) != 0)
                store_pg_conn_lost(c, -EIO, OBS_DB_ERR_CONNECT);
            return;
        }
        ExecStatusType st = PQresultStatus(res);
        bool failed = st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK;
        if (!failed && st == PGRES_TUPLES_OK && c->setup_step == 0 &&
            atoi(PQgetvalue(res, 0, 0)) > SCHEMA_VERSION) {
            log_line(s, "the database schema is newer than this crest", NULL);
            failed = true;
        }
        if (failed) {
            if (st != PGRES_TUPLES_OK)
                log_line(s, "schema setup failed", PQresultErrorMessage(res));
            PQclear(res);
            store_pg_conn_lost(c, -EIO, OBS_DB_ERR_QUERY);
            return;
        }
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
            store_pg_conn_lost(c, -EIO, OBS_DB_ERR_CONNECT);
            return;
        }
        conn_set_state(c, C_SETUP);
        c->setup_step = 0;
        if (setup_send(c) != 0)
            store_pg_conn_lost(c, -EIO, OBS_DB_ERR_CONNECT);
        return;
    default:
        store_pg_conn_lost(c, -EIO, OBS_DB_ERR_CONNECT);
        return;
    }
}

/* A call's whole result is in: without pipeline mode it is committed and done; in pipeline mode
 * it waits for its segment's Sync. */
static void call_result_done(struct pg_conn *c)
{
    struct pg_store *s = c->store;
    struct pg_call *call = store_pg_pop(&c->sent, &c->sent_tail);
    if (s->pipeline) {
        store_pg_push(&c->done, &c->done_tail, call);
        return;
    }
    c->n_sent--;
    conn_set_state(c, C_READY);
    store_pg_call_finish(s, call);
    store_pg_pump_waiting(s); /* the connection is free for the next waiting call */
}

/* The segment's Sync came back: its transaction is over. Writes are acknowledged only if no
 * statement of the segment failed (the server rolled all of it back otherwise). */
static void segment_done(struct pg_conn *c)
{
    struct pg_store *s = c->store;
    struct pg_call *list = c->done;
    bool failed = c->segment_failed;
    c->done = c->done_tail = NULL;
    c->segment_failed = false;
    c->syncs_due--;
    for (struct pg_call *call = list; call; call = call->next) {
        c->n_sent--;
        if (failed && call->write && call->status == 0)
            call->status = -EIO;
    }
    conn_set_state(c, C_READY);
    store_pg_call_finish_list(s, list, 0);
}

static void take_result(struct pg_conn *c, PGresult *res)
{
    struct pg_store *s = c->store;
    struct pg_call *call = c->sent;
    ExecStatusType st = PQresultStatus(res);
    if (!call)
        return; /* nothing asked: ignore */
    if (!call->abandoned)
        obs_db_query(s->stats, net_loop_clock_us(s->loop) - call->sent_us);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        call->status = call->abandoned             ? -ETIMEDOUT
                       : call->stmt == ST_GET_MANY ? store_pg_read_members(call, res)
                                                   : store_pg_read_rows(call, res);
    } else if (st == PGRES_PIPELINE_ABORTED) {
        call->status = -EIO;
        c->segment_failed = true;
    } else {
        call->status = store_pg_error_status(res);
        c->segment_failed = true;
        obs_db_error(s->stats, OBS_DB_ERR_QUERY);
    }
}

static void serve_read(struct pg_conn *c)
{
    while (c->state == C_READY && (c->sent || c->syncs_due) && !PQisBusy(c->pq)) {
        PGresult *res = PQgetResult(c->pq);
        if (!res) {
            if (!c->sent)
                break; /* only a Sync is due, and it is not here yet */
            call_result_done(c);
            continue;
        }
        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            segment_done(c);
            continue;
        }
        take_result(c, res);
        PQclear(res);
    }
    if (c->state == C_READY)
        store_pg_conn_arm_timer(c);
}

static void conn_on_event(struct net_watch *w, uint32_t events)
{
    struct pg_conn *c = (struct pg_conn *)w;
    if (c->state == C_CONNECTING) {
        conn_poll_connect(c);
        return;
    }
    if ((events & EPOLLOUT) && conn_flush(c) != 0) {
        store_pg_conn_lost(c, -EIO, OBS_DB_ERR_LOST);
        return;
    }
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        return;
    if (!PQconsumeInput(c->pq)) {
        store_pg_conn_lost(c, -EIO, c->state == C_READY ? OBS_DB_ERR_LOST : OBS_DB_ERR_CONNECT);
        return;
    }
    if (c->state == C_SETUP)
        setup_read(c);
    else if (c->state == C_READY)
        serve_read(c);
}

/* Closes the connection's open segment with a Sync. */
int store_pg_conn_sync(struct pg_conn *c)
{
    if (!c->unsynced)
        return 0;
    if (!PQpipelineSync(c->pq))
        return -EIO;
    c->unsynced = 0;
    c->store->unsynced--;
    c->syncs_due++;
    return conn_flush(c);
}

int store_pg_conn_send(struct pg_conn *c, struct pg_call *call)
{
    struct pg_store *s = c->store;
    if (!PQsendQueryPrepared(c->pq, store_pg_statements[call->stmt].name, call->n_params,
                             (const char *const *)call->params, NULL, NULL, 0))
        return -EIO;
    for (int i = 0; i < call->n_params; i++) /* libpq copied them into its buffer */
        mem_strfree(MEM_DB, call->params[i]);
    call->n_params = 0;
    call->sent_us = net_loop_clock_us(s->loop);
    store_pg_push(&c->sent, &c->sent_tail, call);
    c->n_sent++;
    conn_set_state(c, C_READY);
    if (!s->pipeline)
        return conn_flush(c);
    if (c->unsynced++ == 0)
        s->unsynced++;
    if (!s->group)
        return store_pg_conn_sync(c);
    return 0;
}

void store_pg_conn_init(struct pg_conn *c, struct pg_store *s)
{
    c->store = s;
    c->watch.cb = conn_on_event;
    c->timer.cb = on_timer;
    c->timer.ud = c;
    c->obs_state = -1;
    conn_connect(c);
}

void store_pg_conn_close(struct pg_conn *c)
{
    struct pg_store *s = c->store;
    net_timer_stop(s->loop, &c->timer);
    if (c->pq) {
        conn_unwatch(c);
        PQfinish(c->pq);
        c->pq = NULL;
    }
    obs_db_move(s->stats, c->obs_state, -1);
    c->obs_state = -1;
    while (c->sent)
        store_pg_call_free(s, store_pg_pop(&c->sent, &c->sent_tail));
    while (c->done)
        store_pg_call_free(s, store_pg_pop(&c->done, &c->done_tail));
}
