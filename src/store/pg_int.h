/* store/pg_int.h: what the PostgreSQL store's files share. pg.c is the store (calls in, answers
 * out, the pool), pg_conn.c one connection's life in the event loop (connecting, the schema,
 * sending, results, Syncs, timeouts, reconnects), pg_sql.c what is said to the server and read
 * back (statements, parameters, rows). Nothing here leaves libcrest; the store's face is store.h.
 */
#ifndef CREST_STORE_PG_INT_H
#define CREST_STORE_PG_INT_H

#include "store/store.h"

#include "mem/pool.h"
#include "net/loop.h"
#include "obs/stats.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

enum {
    SCHEMA_VERSION = 1,
    MAX_POOL = 64,
    BACKOFF_FIRST_MS = 50,
    BACKOFF_MAX_MS = 1000, /* a restarted server is back in service within a second */
    OPS_KEPT = 256,        /* free call records a store keeps for reuse */
    MAX_GROUP = 128,       /* reads by id answered by one statement */
};

enum stmt { ST_CREATE, ST_GET, ST_LIST, ST_UPDATE, ST_DELETE, ST_GET_MANY, ST_COUNT };

/* The statements every connection prepares, by enum stmt. */
struct pg_statement {
    const char *name;
    const char *sql;
    int n_params;
    Oid types[7];
};
extern const struct pg_statement store_pg_statements[ST_COUNT];

/* One call: sent, waiting for its result, then (pipeline mode) for its segment's Sync. */
struct pg_call {
    struct pg_call *next;
    enum stmt stmt;
    bool write;
    bool abandoned; /* answered already (timed out): its result is read and dropped */
    store_done_fn cb;
    void *ud;
    int64_t id;              /* ST_GET: the item read */
    struct pg_call *members; /* ST_GET_MANY: the reads it answers, linked by next */
    struct store_alloc out;
    uint64_t sent_us;
    int status;
    struct store_item *items;
    size_t n;
    /* the parameters, owned here until sent (a call may wait for a free connection) */
    char *params[7];
    int n_params;
};

enum conn_state { C_DOWN, C_CONNECTING, C_SETUP, C_READY };

struct pg_conn {
    struct net_watch watch; /* first: the loop hands it back */
    struct pg_store *store;
    PGconn *pq;
    enum conn_state state;
    int setup_step; /* C_SETUP: 0 the schema, 1..ST_COUNT the statements */
    uint32_t events;
    bool watched;
    bool segment_failed;  /* a statement of the current segment failed */
    struct pg_call *sent; /* oldest first: results arrive in this order */
    struct pg_call *sent_tail;
    struct pg_call *done; /* results read, waiting for the segment's Sync */
    struct pg_call *done_tail;
    uint32_t n_sent;        /* calls in sent and done */
    uint32_t unsynced;      /* calls sent since the last Sync */
    uint32_t syncs_due;     /* Syncs sent whose result has not come back */
    struct net_timer timer; /* backoff, connect timeout, query timeout */
    uint32_t backoff_ms;
    int obs_state;
};

struct pg_store {
    struct store base; /* first: the ops table */
    struct net_loop *loop;
    struct obs_worker *stats;
    char *url; /* MEM_DB */
    uint32_t timeout_ms;
    bool pipeline;
    bool group;
    bool migrated;
    bool logged_down; /* "unreachable" is said once per outage, not per retry */
    unsigned n_conns;
    unsigned next_conn;
    unsigned unsynced;     /* connections with calls sent since their last Sync (pipeline mode) */
    struct pg_conn *conns; /* MEM_DB */
    struct pg_call *waiting, *waiting_tail; /* no pipeline: calls waiting for a free connection */
    struct pg_call *gets, *gets_tail;       /* this turn's reads by id, sent together at flush */
    struct mem_pool calls;
};

/* ---- pg.c: calls and the pool ---- */

void store_pg_call_free(struct pg_store *s, struct pg_call *call);
/* Runs a finished call's callback (each read of a group its own) unless it was answered already,
 * and frees it. */
void store_pg_call_finish(struct pg_store *s, struct pg_call *call);
/* Finishes a list unlinked from every queue (callbacks may start new calls); status, when not 0,
 * overrides each call's own. */
void store_pg_call_finish_list(struct pg_store *s, struct pg_call *list, int status);
void store_pg_push(struct pg_call **head, struct pg_call **tail, struct pg_call *call);
struct pg_call *store_pg_pop(struct pg_call **head, struct pg_call **tail);
bool store_pg_any_ready(const struct pg_store *s);
bool store_pg_any_connecting(const struct pg_store *s);
/* Hands waiting calls to connections that can take them (one came up, or came free). */
void store_pg_pump_waiting(struct pg_store *s);

/* ---- pg_conn.c: one connection ---- */

/* Prepares connection c of store s and starts connecting it in the background. */
void store_pg_conn_init(struct pg_conn *c, struct pg_store *s);
/* Closes c without a callback for the calls still on it (the loop has stopped). */
void store_pg_conn_close(struct pg_conn *c);
/* Closes the connection, fails every call on it with status, schedules a reconnect. */
void store_pg_conn_lost(struct pg_conn *c, int status, enum obs_db_error why);
/* Sends a call on a ready connection (in pipeline mode, into its open segment). -EIO. */
int store_pg_conn_send(struct pg_conn *c, struct pg_call *call);
/* Closes the connection's open segment with a Sync. -EIO. */
int store_pg_conn_sync(struct pg_conn *c);
/* Schedules the query timer for the oldest unanswered call. */
void store_pg_conn_arm_timer(struct pg_conn *c);

/* ---- pg_sql.c: statements, parameters, rows ---- */

/* The migration script (one simple-protocol round trip). 0, -ENOMEM. */
int store_pg_schema_script(char *buf, size_t cap);
int store_pg_param_int(struct pg_call *call, int64_t v);
/* The ids of a group's reads as one int8[] parameter. */
int store_pg_param_ids(struct pg_call *group, const struct pg_call *members);
/* The fields of an item named in `fields`, as ST_UPDATE's (and ST_CREATE's) first five. */
int store_pg_item_params(struct pg_call *call, const struct store_item *in, unsigned fields);
/* A successful result into the call (or, for a group, into each of its reads). */
int store_pg_read_rows(struct pg_call *call, const PGresult *res);
int store_pg_read_members(struct pg_call *group, const PGresult *res);
/* The errno a failed statement's SQLSTATE maps to. */
int store_pg_error_status(const PGresult *res);

#endif
