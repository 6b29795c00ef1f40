/* db/pg_int.h: what the PostgreSQL backend's files share. pg.c is one worker's pool (calls in,
 * answers out, statements and rows), pg_conn.c one connection's life in the worker's event loop
 * (connecting, migrations, sending, results and Syncs, timeouts, reconnects). */
#ifndef CREST_DB_PG_INT_H
#define CREST_DB_PG_INT_H

#include "db/db.h"

#include "mem/pool.h"
#include "net/loop.h"
#include "obs/stats.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

enum {
    PG_CACHE = 64, /* statements prepared per connection; past it, unnamed ones */
    PG_ENTRIES_KEPT = 256,
    PG_BACKOFF_FIRST_MS = 50,
    PG_BACKOFF_MAX_MS = 1000, /* a restarted server is back in service within a second */
};

/* What a connection waits for from the server, in the order it was asked. */
enum pg_expect { PG_PREPARE, PG_QUERY, PG_SYNC };

struct pg_entry {
    struct pg_entry *next;
    struct db_call *call;
    uint32_t stmt; /* PG_QUERY: which of the call's statements */
    int16_t slot;  /* PG_PREPARE: the cache slot it fills */
    uint8_t what;  /* enum pg_expect */
};

struct pg_cached {
    char *text; /* MEM_DB copy: found by text, as SQL may be built per request */
    bool ready; /* its Parse succeeded (until then, statements using it are in flight) */
};

enum pg_state { PG_DOWN, PG_CONNECTING, PG_SETUP, PG_READY };
enum pg_setup { PG_SETUP_LOCK, PG_SETUP_MIGRATE, PG_SETUP_UNLOCK };

struct pg_conn {
    struct net_watch watch; /* first: the loop hands it back */
    struct pg_inst *inst;
    PGconn *pq;
    enum pg_state state;
    enum pg_setup setup;
    int64_t version; /* PG_SETUP: the schema's version read under the lock */
    int64_t refused; /* PG_SETUP: the first version applied from another script (0: none) */
    uint32_t events;
    bool watched;
    struct pg_entry *head, *tail; /* what the server will answer, oldest first */
    uint32_t calls;               /* calls in flight */
    struct net_timer timer;       /* backoff, connect timeout, query timeout */
    uint32_t backoff_ms;
    int obs_state;
    struct pg_cached cache[PG_CACHE];
};

/* One worker's pool of one database. */
struct pg_inst {
    struct crest_db *db;
    struct net_loop *loop;
    struct obs_worker *stats;
    bool migrated;
    bool logged_down; /* "unreachable" is said once per outage, not per retry */
    unsigned n_conns, next_conn;
    struct pg_conn *conns; /* MEM_DB */
    struct db_call *waiting, *waiting_tail;
    struct db_call *batched, *batched_tail; /* this turn's reads by key (crest_db_batch) */
    struct net_timer turn_end;              /* sends them once the turn's events are handled */
    struct mem_pool entries;
};

/* ---- pg_batch.c ---- */
/* Whether call can join the turn's batch: one statement with a batch and one integer key. */
bool db_pg_batchable(const struct pg_inst *p, const struct db_call *call);
/* Adds call to the turn's batch (sent when the turn's events are handled). */
void db_pg_batch_add(struct pg_inst *p, struct db_call *call);
/* Frees the batched calls without a callback (the loop has stopped). */
void db_pg_batch_drop(struct pg_inst *p);
/* Starts a call as pg_run does (a batch's statement, or a lone member). */
void db_pg_submit(struct pg_inst *p, struct db_call *call);

/* ---- pg.c ---- */
bool db_pg_any_ready(const struct pg_inst *p);
bool db_pg_any_connecting(const struct pg_inst *p);
/* Hands waiting calls to connections that can take them. */
void db_pg_pump(struct pg_inst *p);
/* Sends a call's statements and its Sync on a ready connection. The call is answered once
 * whatever happens: a connection that fails is given up on (db_pg_conn_lost). */
void db_pg_send(struct pg_conn *c, struct db_call *call);
/* One result of the server for the entry at the head of c's queue. */
void db_pg_take(struct pg_conn *c, struct pg_entry *e, PGresult *res);
/* Forgets c's prepared statements (a new connection has none). */
void db_pg_cache_clear(struct pg_conn *c);
struct pg_entry *db_pg_pop(struct pg_conn *c);

/* ---- pg_conn.c ---- */
void db_pg_conn_init(struct pg_conn *c, struct pg_inst *p);
void db_pg_conn_close(struct pg_conn *c);
/* Closes the connection, fails every call on it with status, schedules a reconnect. */
void db_pg_conn_lost(struct pg_conn *c, enum crest_db_status status, enum obs_db_error why);
/* Sends what libpq buffered; watches for writability while some is left. -EIO. */
int db_pg_conn_flush(struct pg_conn *c);
void db_pg_conn_arm_timer(struct pg_conn *c);
void db_pg_conn_state(struct pg_conn *c, enum pg_state st);

#endif
