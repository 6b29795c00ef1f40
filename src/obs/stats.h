/* obs/stats.h: the per-worker figures /metrics reports: connections by state, requests in flight,
 * requests shed, and HTTP request counts and latency histograms keyed by (route, method, status).
 * Each worker writes only its own slot, with relaxed atomic stores that compile to plain moves; a
 * reader (the /metrics handler, on whatever worker) sums the slots. No lock, no shared atomic on
 * the request path: the same layout as the memory counters. */
#ifndef CREST_OBS_STATS_H
#define CREST_OBS_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum {
    OBS_MAX_WORKERS = 256, /* slot 0: the in-process test client and the main thread */
    OBS_HTTP_KEYS = 256,   /* distinct (route, method, status) per worker */
    OBS_HIST_KEYS = 64,    /* distinct (route, method) per worker */
    OBS_BUCKETS = 11,      /* Prometheus' default buckets, .005 … 10 s */
};

/* Connection states, as the worker's queues define them. */
enum obs_conn_state {
    OBS_CONN_IDLE,    /* keep-alive, between requests */
    OBS_CONN_READING, /* reading a request head */
    OBS_CONN_IO,      /* reading a body or writing a response */
    OBS_CONN_PENDING, /* a handler is working on a request */
    OBS_CONN_TUNNEL,  /* a WebSocket or an event stream, taken over from HTTP */
    OBS_CONN_STATES,
};

/* Database connections (a worker's PostgreSQL pool), by state. */
enum obs_db_state {
    OBS_DB_CONNECTING, /* connecting, or creating the schema and preparing statements */
    OBS_DB_IDLE,       /* ready, no query in flight */
    OBS_DB_BUSY,       /* ready, queries in flight */
    OBS_DB_DOWN,       /* waiting to reconnect */
    OBS_DB_STATES,
};

/* Why a database call failed. */
enum obs_db_error {
    OBS_DB_ERR_CONNECT, /* a connection attempt failed */
    OBS_DB_ERR_LOST,    /* an open connection broke */
    OBS_DB_ERR_TIMEOUT, /* a query ran past --db-timeout and was cancelled */
    OBS_DB_ERR_QUERY,   /* the server answered a query with an error */
    OBS_DB_ERRORS,
};

extern const double obs_bucket_bounds[OBS_BUCKETS];

/* Databases an application added (crest_app_add_db), each its own figures: the last slot is
 * shared by any past the first OBS_MAX_DBS - 1 names. */
enum { OBS_MAX_DBS = 8 };

struct obs_db {
    _Atomic int64_t conns[OBS_DB_STATES];
    _Atomic uint64_t errors[OBS_DB_ERRORS];
    _Atomic uint64_t buckets[OBS_BUCKETS]; /* query durations, non-cumulative */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
};

struct obs_http_count {
    _Atomic uint32_t key; /* route << 16 | method << 10 | status; 0 = free */
    _Atomic uint64_t count;
};

struct obs_http_hist {
    _Atomic uint32_t key; /* route << 16 | method << 10; 0 = free (route is stored + 1) */
    _Atomic uint64_t buckets[OBS_BUCKETS]; /* non-cumulative: rendering accumulates */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
};

struct obs_worker {
    _Atomic int64_t conns[OBS_CONN_STATES];
    _Atomic int64_t in_flight;
    _Atomic uint64_t shed;
    struct obs_http_count counts[OBS_HTTP_KEYS];
    struct obs_http_hist hists[OBS_HIST_KEYS];
    struct obs_db db[OBS_MAX_DBS];
} __attribute__((aligned(64)));

/* The slot of worker `id` (the in-process test client runs as worker 0). */
struct obs_worker *obs_worker_slot(unsigned id);
/* How many slots readers sum (the worker count, set before the workers start). */
void obs_set_workers(unsigned n);
unsigned obs_workers(void);

/* Owner-side updates. */
void obs_conn_move(struct obs_worker *w, int from, int to); /* -1: none */
void obs_in_flight(struct obs_worker *w, int delta);
void obs_shed(struct obs_worker *w);
/* route: 0..65534 (0xfffe: no route matched), method 0..63, status 100..999. */
void obs_http_record(struct obs_worker *w, unsigned route, unsigned method, unsigned status,
                     uint64_t duration_us);

/* The slot of the database named name (the same name, the same slot), at setup. */
unsigned obs_db_slot(const char *name);
/* Slots in use, and the name of each. */
unsigned obs_db_slots(void);
const char *obs_db_name(unsigned db);
void obs_db_move(struct obs_worker *w, unsigned db, int from, int to); /* obs_db_state; -1 none */
void obs_db_error(struct obs_worker *w, unsigned db, enum obs_db_error kind);
void obs_db_query(struct obs_worker *w, unsigned db, uint64_t duration_us);

/* Reader side: totals over all slots. */
int64_t obs_conns(enum obs_conn_state state);
int64_t obs_in_flight_total(void);
uint64_t obs_shed_total(void);
int64_t obs_db_conns(unsigned db, enum obs_db_state state);
uint64_t obs_db_errors(unsigned db, enum obs_db_error kind);
/* The query duration histogram summed over workers; false when no worker has a database pool. */
bool obs_db_durations(unsigned db, uint64_t buckets[OBS_BUCKETS], uint64_t *count,
                      uint64_t *sum_us);

#endif
