/* obs/stats.c: the slots are static (untouched pages cost no RSS) and tables are open-addressed
 * with linear probing; a full table drops new keys into nothing rather than allocate on the
 * request path (a REST API has tens of routes, so 256 keys per worker is plenty). */
#include "obs/stats.h"

#include "mem/counter.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

const double obs_bucket_bounds[OBS_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                               0.5,   1.0,  2.5,   5.0,  10.0};

static struct obs_worker slots[OBS_MAX_WORKERS];
static _Atomic unsigned n_slots = 1;

struct obs_worker *obs_worker_slot(unsigned id)
{
    return &slots[id < OBS_MAX_WORKERS ? id : OBS_MAX_WORKERS - 1];
}

void obs_set_workers(unsigned n)
{
    atomic_store(&n_slots, n < 1 ? 1 : n > OBS_MAX_WORKERS ? OBS_MAX_WORKERS : n);
}

unsigned obs_workers(void)
{
    return atomic_load_explicit(&n_slots, memory_order_relaxed);
}

void obs_conn_move(struct obs_worker *w, int from, int to)
{
    if (from >= 0)
        counter_add(&w->conns[from], -1);
    if (to >= 0)
        counter_add(&w->conns[to], 1);
}

void obs_in_flight(struct obs_worker *w, int delta)
{
    counter_add(&w->in_flight, delta);
}

void obs_shed(struct obs_worker *w)
{
    counter_add_u(&w->shed, 1);
}

static uint32_t hash(uint32_t key)
{
    key ^= key >> 16;
    key *= 0x45d9f3b;
    key ^= key >> 16;
    return key;
}

static struct obs_http_count *count_entry(struct obs_worker *w, uint32_t key)
{
    for (uint32_t i = 0, h = hash(key); i < OBS_HTTP_KEYS; i++) {
        struct obs_http_count *e = &w->counts[(h + i) % OBS_HTTP_KEYS];
        uint32_t k = atomic_load_explicit(&e->key, memory_order_relaxed);
        if (k == key)
            return e;
        if (k == 0) {
            /* release: a reader that sees the key also sees a valid (zero) count */
            atomic_store_explicit(&e->key, key, memory_order_release);
            return e;
        }
    }
    return NULL;
}

static struct obs_http_hist *hist_entry(struct obs_worker *w, uint32_t key)
{
    for (uint32_t i = 0, h = hash(key); i < OBS_HIST_KEYS; i++) {
        struct obs_http_hist *e = &w->hists[(h + i) % OBS_HIST_KEYS];
        uint32_t k = atomic_load_explicit(&e->key, memory_order_relaxed);
        if (k == key)
            return e;
        if (k == 0) {
            atomic_store_explicit(&e->key, key, memory_order_release);
            return e;
        }
    }
    return NULL;
}

/* The bucket a duration falls in; OBS_BUCKETS when above the last bound (+Inf only). */
static int bucket_of(uint64_t duration_us)
{
    int b = 0;
    double seconds = (double)duration_us / 1e6;
    while (b < OBS_BUCKETS && seconds > obs_bucket_bounds[b])
        b++;
    return b;
}

void obs_http_record(struct obs_worker *w, unsigned route, unsigned method, unsigned status,
                     uint64_t duration_us)
{
    uint32_t base = ((route + 1) & 0xffff) << 16 | (method & 63) << 10;
    struct obs_http_count *c = count_entry(w, base | (status & 1023));
    struct obs_http_hist *h = hist_entry(w, base);
    if (c)
        counter_add_u(&c->count, 1);
    if (!h)
        return;
    int b = bucket_of(duration_us);
    if (b < OBS_BUCKETS)
        counter_add_u(&h->buckets[b], 1);
    counter_add_u(&h->count, 1);
    counter_add_u(&h->sum_us, duration_us);
}

static char db_names[OBS_MAX_DBS][64];
static _Atomic unsigned n_db_names;

/* Registration happens at setup, on one thread, before any worker runs: readers see the names
 * through n_db_names' release. */
unsigned obs_db_slot(const char *name)
{
    unsigned n = atomic_load(&n_db_names);
    for (unsigned i = 0; i < n; i++)
        if (strncmp(db_names[i], name, sizeof(db_names[i]) - 1) == 0)
            return i;
    if (n == OBS_MAX_DBS - 1) {
        snprintf(db_names[n], sizeof(db_names[n]), "other");
        atomic_store(&n_db_names, OBS_MAX_DBS);
    }
    if (n >= OBS_MAX_DBS - 1)
        return OBS_MAX_DBS - 1;
    snprintf(db_names[n], sizeof(db_names[n]), "%s", name);
    atomic_store(&n_db_names, n + 1);
    return n;
}

unsigned obs_db_slots(void)
{
    return atomic_load(&n_db_names);
}

const char *obs_db_name(unsigned db)
{
    return db < OBS_MAX_DBS ? db_names[db] : "";
}

void obs_db_move(struct obs_worker *w, unsigned db, int from, int to)
{
    if (from >= 0)
        counter_add(&w->db[db].conns[from], -1);
    if (to >= 0)
        counter_add(&w->db[db].conns[to], 1);
}

void obs_db_error(struct obs_worker *w, unsigned db, enum obs_db_error kind)
{
    counter_add_u(&w->db[db].errors[kind], 1);
}

void obs_db_query(struct obs_worker *w, unsigned db, uint64_t duration_us)
{
    int b = bucket_of(duration_us);
    if (b < OBS_BUCKETS)
        counter_add_u(&w->db[db].buckets[b], 1);
    counter_add_u(&w->db[db].count, 1);
    counter_add_u(&w->db[db].sum_us, duration_us);
}

int64_t obs_conns(enum obs_conn_state state)
{
    int64_t n = 0;
    for (unsigned i = 0, used = obs_workers(); i < used; i++)
        n += atomic_load_explicit(&slots[i].conns[state], memory_order_relaxed);
    return n;
}

int64_t obs_in_flight_total(void)
{
    int64_t n = 0;
    for (unsigned i = 0, used = obs_workers(); i < used; i++)
        n += atomic_load_explicit(&slots[i].in_flight, memory_order_relaxed);
    return n;
}

uint64_t obs_shed_total(void)
{
    uint64_t n = 0;
    for (unsigned i = 0, used = obs_workers(); i < used; i++)
        n += atomic_load_explicit(&slots[i].shed, memory_order_relaxed);
    return n;
}

int64_t obs_db_conns(unsigned db, enum obs_db_state state)
{
    int64_t n = 0;
    for (unsigned i = 0, used = obs_workers(); i < used; i++)
        n += atomic_load_explicit(&slots[i].db[db].conns[state], memory_order_relaxed);
    return n;
}

uint64_t obs_db_errors(unsigned db, enum obs_db_error kind)
{
    uint64_t n = 0;
    for (unsigned i = 0, used = obs_workers(); i < used; i++)
        n += atomic_load_explicit(&slots[i].db[db].errors[kind], memory_order_relaxed);
    return n;
}

/* Whether the database has a connection or a query to show. */
bool obs_db_durations(unsigned db, uint64_t buckets[OBS_BUCKETS], uint64_t *count, uint64_t *sum_us)
{
    int64_t conns = 0;
    for (int s = 0; s < OBS_DB_STATES; s++)
        conns += obs_db_conns(db, (enum obs_db_state)s);
    *count = *sum_us = 0;
    for (int b = 0; b < OBS_BUCKETS; b++)
        buckets[b] = 0;
    for (unsigned i = 0, used = obs_workers(); i < used; i++) {
        const struct obs_db *d = &slots[i].db[db];
        for (int b = 0; b < OBS_BUCKETS; b++)
            buckets[b] += atomic_load_explicit(&d->buckets[b], memory_order_relaxed);
        *count += atomic_load_explicit(&d->count, memory_order_relaxed);
        *sum_us += atomic_load_explicit(&d->sum_us, memory_order_relaxed);
    }
    return conns > 0 || *count > 0;
}
