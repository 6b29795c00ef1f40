/* ops/metrics.c: GET /metrics renders, in Prometheus' text format 0.0.4, the process figures
 * (obs/proc.c), the per-worker HTTP and connection figures (obs/stats.c) and the memory
 * accounting (mem/) as they are at the moment of the scrape. Process metrics carry the names and
 * help texts of the client-library guidelines, so stock dashboards and alerts work unchanged.
 * Scraping only reads the workers' slots: no request elsewhere waits for it. The text is built in
 * a MEM_METRICS buffer that is freed before the handler returns (the response copies it). */
#include "ops/ops.h"

#include "app/app.h"
#include "mem/buf.h"
#include "mem/mem.h"
#include "obs/proc.h"
#include "obs/prom.h"
#include "obs/stats.h"
#include "req/req.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char content_type[] = "text/plain; version=0.0.4; charset=utf-8";

/* Connection state label values, in enum obs_conn_state order. */
static const char *const conn_states[] = {"idle", "reading", "io", "pending", "tunnel"};
static_assert(sizeof(conn_states) / sizeof(conn_states[0]) == OBS_CONN_STATES,
              "a label value for each connection state");

/* ---- the workers' HTTP tables, merged ---- */

/* One series (route, method[, status]) summed over the workers; counts use key and count only. */
struct row {
    uint32_t key;
    uint64_t count;
    uint64_t sum_us;
    uint64_t buckets[OBS_BUCKETS]; /* non-cumulative, as recorded */
};

struct rows {
    struct row *v; /* MEM_METRICS */
    size_t n;
    size_t cap;
};

/* acquire: pairs with the release that published the key, so the figures read after it are the
 * entry's (at worst an increment behind). */
static uint32_t key_of(_Atomic uint32_t *key)
{
    return atomic_load_explicit(key, memory_order_acquire);
}

static uint64_t load(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static size_t used_in(struct obs_worker *w, bool hists)
{
    size_t n = 0;
    if (hists)
        for (size_t i = 0; i < OBS_HIST_KEYS; i++)
            n += key_of(&w->hists[i].key) != 0;
    else
        for (size_t i = 0; i < OBS_HTTP_KEYS; i++)
            n += key_of(&w->counts[i].key) != 0;
    return n;
}

static void take_hist(struct row *r, struct obs_http_hist *e)
{
    /* count before the buckets: rendering clamps the buckets to it, so +Inf == _count holds
     * even when a request lands mid-read */
    r->count = load(&e->count);
    for (int b = 0; b < OBS_BUCKETS; b++)
        r->buckets[b] = load(&e->buckets[b]);
    r->sum_us = load(&e->sum_us);
}

/* Appends w's entries; keys a worker adds after used_in() counted them wait for the next scrape. */
static void take_from(struct rows *r, struct obs_worker *w, bool hists)
{
    size_t n_keys = hists ? OBS_HIST_KEYS : OBS_HTTP_KEYS;
    for (size_t i = 0; i < n_keys && r->n < r->cap; i++) {
        uint32_t key = hists ? key_of(&w->hists[i].key) : key_of(&w->counts[i].key);
        if (!key)
            continue;
        struct row *row = &r->v[r->n++];
        memset(row, 0, sizeof(*row));
        row->key = key;
        if (hists)
            take_hist(row, &w->hists[i]);
        else
            row->count = load(&w->counts[i].count);
    }
}

static void swap_rows(struct row *a, struct row *b)
{
    struct row tmp = *a;
    *a = *b;
    *b = tmp;
}

static void sift_down(struct row *v, size_t root, size_t n)
{
    for (size_t child; (child = 2 * root + 1) < n; root = child) {
        if (child + 1 < n && v[child + 1].key > v[child].key)
            child++;
        if (v[root].key >= v[child].key)
            return;
        swap_rows(&v[root], &v[child]);
    }
}

/* Heapsort by key: in place and O(n log n), where qsort would malloc outside the accounting.
 * Sorting also groups a route's series together in the output. */
static void sort_rows(struct row *v, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(v, i, n);
    for (size_t end = n; end-- > 1;) {
        swap_rows(&v[0], &v[end]);
        sift_down(v, 0, end);
    }
}

/* Sums adjacent rows with the same key (the same series seen by several workers). */
static void merge_rows(struct rows *r)
{
    size_t out = 0;
    for (size_t i = 0; i < r->n; i++) {
        struct row *prev = out ? &r->v[out - 1] : NULL;
        if (!prev || prev->key != r->v[i].key) {
            r->v[out++] = r->v[i];
            continue;
        }
        prev->count += r->v[i].count;
        prev->sum_us += r->v[i].sum_us;
        for (int b = 0; b < OBS_BUCKETS; b++)
            prev->buckets[b] += r->v[i].buckets[b];
    }
    r->n = out;
}

/* The counts (hists false) or histograms of every worker, one row per key, sorted. 0, -ENOMEM. */
static int collect(struct rows *r, bool hists)
{
    unsigned workers = obs_workers();

    memset(r, 0, sizeof(*r));
    for (unsigned w = 0; w < workers; w++)
        r->cap += used_in(obs_worker_slot(w), hists);
    if (!r->cap)
        return 0;
    r->v = mem_alloc(MEM_METRICS, r->cap * sizeof(*r->v));
    if (!r->v)
        return -ENOMEM;
    for (unsigned w = 0; w < workers; w++)
        take_from(r, obs_worker_slot(w), hists);
    sort_rows(r->v, r->n);
    merge_rows(r);
    return 0;
}

static void rows_fini(struct rows *r)
{
    mem_free(MEM_METRICS, r->v, r->cap * sizeof(*r->v));
    memset(r, 0, sizeof(*r));
}

/* ---- labels of a key ---- */

/* The route template of a key ("none" when no route matched), or NULL for an index this app does
 * not have: the slots are process-wide, so in a process running several apps (unit tests) another
 * app's routes are skipped rather than shown under the wrong name. */
static const char *route_label(const struct crest_app *app, uint32_t key)
{
    unsigned route = (key >> 16) - 1; /* stored + 1 so that key 0 means free */
    if (route == ROUTE_NONE)
        return "none";
    return route < app->router.n_routes ? app->router.routes[route].def.path : NULL;
}

/* An unknown method (answered 501) would be the empty string, which Prometheus reads as no
 * label at all. */
static const char *method_label(uint32_t key)
{
    const char *name = route_method_name((uint8_t)((key >> 10) & 63));
    return *name ? name : "other";
}

/* ---- families ---- */

static void render_process(struct obs_prom *t)
{
    struct obs_proc_stat st;
    uint64_t fds;

    if (obs_proc_stat(&st) == 0) {
        obs_prom_single_double(t, "process_cpu_seconds_total", "counter",
                               "Total user and system CPU time spent in seconds.", st.cpu_seconds);
        obs_prom_single_u64(t, "process_resident_memory_bytes", "gauge",
                            "Resident memory size in bytes.", obs_rss_bytes());
        obs_prom_single_u64(t, "process_virtual_memory_bytes", "gauge",
                            "Virtual memory size in bytes.", st.vsize_bytes);
        obs_prom_single_double(t, "process_start_time_seconds", "gauge",
                               "Start time of the process since unix epoch in seconds.",
                               st.start_time_seconds);
        obs_prom_single_u64(t, "process_threads", "gauge", "Number of OS threads in the process.",
                            st.threads);
    }
    obs_prom_single_double(t, "process_virtual_memory_max_bytes", "gauge",
                           "Maximum amount of virtual memory available in bytes.",
                           obs_vm_max_bytes());
    obs_prom_single_u64(t, "process_heap_bytes", "gauge", "Process heap size in bytes.",
                        obs_heap_bytes());
    if (obs_open_fds(&fds) == 0)
        obs_prom_single_u64(t, "process_open_fds", "gauge", "Number of open file descriptors.",
                            fds);
    obs_prom_single_u64(t, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                        obs_max_fds());
}

static void render_requests(struct obs_prom *t, const struct crest_app *app, const struct rows *r)
{
    static const char name[] = "http_requests_total";
    obs_prom_family(t, name, "counter",
                    "Total number of HTTP requests by method, route and status.");
    for (size_t i = 0; i < r->n; i++) {
        const char *route = route_label(app, r->v[i].key);
        char status[8];
        if (!route)
            continue;
        snprintf(status, sizeof(status), "%u", (unsigned)(r->v[i].key & 1023));
        obs_prom_str(t, name);
        obs_prom_label(t, '{', "method", method_label(r->v[i].key));
        obs_prom_label(t, ',', "route", route);
        obs_prom_label(t, ',', "status", status);
        obs_prom_put(t, "} ", 2);
        obs_prom_u64(t, r->v[i].count);
        obs_prom_put(t, "\n", 1);
    }
}

/* `name{method="GET",route="/items"` : the caller closes the braces. */
static void hist_series(struct obs_prom *t, const char *suffix, const struct row *row,
                        const char *route)
{
    obs_prom_str(t, "http_request_duration_seconds");
    obs_prom_str(t, suffix);
    obs_prom_label(t, '{', "method", method_label(row->key));
    obs_prom_label(t, ',', "route", route);
}

static void render_histogram(struct obs_prom *t, const struct row *row, const char *route)
{
    uint64_t cumulative = 0;
    for (int b = 0; b < OBS_BUCKETS; b++) {
        cumulative += row->buckets[b];
        hist_series(t, "_bucket", row, route);
        obs_prom_str(t, ",le=\"");
        obs_prom_double(t, obs_bucket_bounds[b]);
        obs_prom_put(t, "\"} ", 3);
        obs_prom_u64(t, cumulative < row->count ? cumulative : row->count);
        obs_prom_put(t, "\n", 1);
    }
    hist_series(t, "_bucket", row, route);
    obs_prom_str(t, ",le=\"+Inf\"} ");
    obs_prom_u64(t, row->count);
    obs_prom_put(t, "\n", 1);
    hist_series(t, "_sum", row, route);
    obs_prom_put(t, "} ", 2);
    obs_prom_double(t, (double)row->sum_us / 1e6);
    obs_prom_put(t, "\n", 1);
    hist_series(t, "_count", row, route);
    obs_prom_put(t, "} ", 2);
    obs_prom_u64(t, row->count);
    obs_prom_put(t, "\n", 1);
}

static void render_durations(struct obs_prom *t, const struct crest_app *app, const struct rows *r)
{
    obs_prom_family(t, "http_request_duration_seconds", "histogram",
                    "HTTP request latency in seconds by method and route.");
    for (size_t i = 0; i < r->n; i++) {
        const char *route = route_label(app, r->v[i].key);
        if (route)
            render_histogram(t, &r->v[i], route);
    }
}

/* One series per label value of a family. */
static void render_labelled(struct obs_prom *t, const char *name, const char *label_name,
                            const char *value, int64_t v)
{
    obs_prom_str(t, name);
    obs_prom_label(t, '{', label_name, value);
    obs_prom_put(t, "} ", 2);
    obs_prom_i64(t, v);
    obs_prom_put(t, "\n", 1);
}

static void render_server(struct obs_prom *t)
{
    int64_t in_flight = obs_in_flight_total();
    obs_prom_single_u64(t, "http_requests_in_flight", "gauge",
                        "Number of HTTP requests being served.",
                        in_flight > 0 ? (uint64_t)in_flight : 0);
    obs_prom_family(t, "crest_connections", "gauge", "Open client connections by state.");
    for (int s = 0; s < OBS_CONN_STATES; s++)
        render_labelled(t, "crest_connections", "state", conn_states[s],
                        obs_conns((enum obs_conn_state)s));
    obs_prom_single_u64(t, "crest_requests_shed_total", "counter",
                        "Requests answered 503 because memory ran out or the budget refused it.",
                        obs_shed_total());
}

/* One family per figure, a series per tag. */
static void render_tags(struct obs_prom *t, const char *name, const char *type, const char *help,
                        const int64_t v[MEM_TAG_COUNT])
{
    obs_prom_family(t, name, type, help);
    for (int tag = 0; tag < MEM_TAG_COUNT; tag++)
        render_labelled(t, name, "tag", mem_tag_name((enum mem_tag)tag), v[tag]);
}

static void render_memory(struct obs_prom *t)
{
    int64_t live[MEM_TAG_COUNT], peak[MEM_TAG_COUNT], allocs[MEM_TAG_COUNT];
    for (int tag = 0; tag < MEM_TAG_COUNT; tag++) {
        struct mem_tag_stats s;
        mem_stats((enum mem_tag)tag, &s);
        live[tag] = s.live_bytes;
        peak[tag] = s.peak_bytes;
        allocs[tag] = (int64_t)s.total_blocks;
    }
    render_tags(t, "crest_memory_live_bytes", "gauge", "Bytes crest holds now by allocation tag.",
                live);
    render_tags(t, "crest_memory_peak_bytes", "gauge",
                "Most bytes held at once by allocation tag (per-thread peaks summed).", peak);
    render_tags(t, "crest_memory_allocations_total", "counter",
                "Allocations made by allocation tag.", allocs);
    obs_prom_single_u64(t, "crest_memory_limit_bytes", "gauge",
                        "Memory budget in bytes, 0 when none.", mem_budget_limit());
}

static const char *const db_states[] = {"connecting", "idle", "busy", "down"};
static_assert(sizeof(db_states) / sizeof(db_states[0]) == OBS_DB_STATES, "one name per state");
static const char *const db_errors[] = {"connect", "lost", "timeout", "query"};
static_assert(sizeof(db_errors) / sizeof(db_errors[0]) == OBS_DB_ERRORS, "one name per kind");

static void db_series(struct obs_prom *t, const char *name, unsigned db, const char *label,
                      const char *value)
{
    obs_prom_str(t, name);
    obs_prom_label(t, '{', "db", obs_db_name(db));
    if (label)
        obs_prom_label(t, ',', label, value);
}

static void render_db_histogram(struct obs_prom *t, unsigned db, const uint64_t *buckets,
                                uint64_t count, uint64_t sum_us)
{
    uint64_t cumulative = 0;
    for (int b = 0; b <= OBS_BUCKETS; b++) {
        db_series(t, "crest_db_query_duration_seconds_bucket", db, NULL, NULL);
        obs_prom_str(t, ",le=\"");
        if (b < OBS_BUCKETS) {
            cumulative += buckets[b];
            obs_prom_double(t, obs_bucket_bounds[b]);
        } else {
            obs_prom_str(t, "+Inf");
        }
        obs_prom_put(t, "\"} ", 3);
        obs_prom_u64(t, b < OBS_BUCKETS && cumulative < count ? cumulative : count);
        obs_prom_put(t, "\n", 1);
    }
    db_series(t, "crest_db_query_duration_seconds_sum", db, NULL, NULL);
    obs_prom_put(t, "} ", 2);
    obs_prom_double(t, (double)sum_us / 1e6);
    db_series(t, "\ncrest_db_query_duration_seconds_count", db, NULL, NULL);
    obs_prom_put(t, "} ", 2);
    obs_prom_u64(t, count);
    obs_prom_put(t, "\n", 1);
}

/* The application's databases (crest_app_add_db), each series labelled db="<its name>"; a
 * database shows once it has a connection or a query. */
static void render_db(struct obs_prom *t)
{
    uint64_t buckets[OBS_MAX_DBS][OBS_BUCKETS], count[OBS_MAX_DBS], sum_us[OBS_MAX_DBS];
    bool shown[OBS_MAX_DBS], any = false;
    unsigned n = obs_db_slots();
    for (unsigned db = 0; db < n; db++)
        any |= shown[db] = obs_db_durations(db, buckets[db], &count[db], &sum_us[db]);
    if (!any)
        return;
    obs_prom_family(t, "crest_db_pool_connections", "gauge", "Database connections by state.");
    for (unsigned db = 0; db < n; db++)
        for (int s = 0; shown[db] && s < OBS_DB_STATES; s++) {
            db_series(t, "crest_db_pool_connections", db, "state", db_states[s]);
            obs_prom_put(t, "} ", 2);
            obs_prom_i64(t, obs_db_conns(db, (enum obs_db_state)s));
            obs_prom_put(t, "\n", 1);
        }
    obs_prom_family(t, "crest_db_errors_total", "counter", "Database failures by kind.");
    for (unsigned db = 0; db < n; db++)
        for (int k = 0; shown[db] && k < OBS_DB_ERRORS; k++) {
            db_series(t, "crest_db_errors_total", db, "kind", db_errors[k]);
            obs_prom_put(t, "} ", 2);
            obs_prom_u64(t, obs_db_errors(db, (enum obs_db_error)k));
            obs_prom_put(t, "\n", 1);
        }
    obs_prom_family(t, "crest_db_query_duration_seconds", "histogram",
                    "Database query latency in seconds, from send to result.");
    for (unsigned db = 0; db < n; db++)
        if (shown[db])
            render_db_histogram(t, db, buckets[db], count[db], sum_us[db]);
}

static int render(struct obs_prom *t, const struct crest_app *app)
{
    struct rows counts, hists;
    int err = collect(&counts, false);
    if (err)
        return err;
    err = collect(&hists, true);
    if (!err) {
        render_process(t);
        render_requests(t, app, &counts);
        render_durations(t, app, &hists);
        render_server(t);
        render_memory(t);
        render_db(t);
        err = t->err;
    }
    rows_fini(&hists);
    rows_fini(&counts);
    return err;
}

static enum crest_handler_result metrics(struct crest_req *req, void *ud)
{
    struct obs_prom t = {.tag = MEM_METRICS};
    /* a scrape is a few kilobytes: one reservation instead of doubling up from 256 bytes */
    int err = mem_buf_reserve(&t.buf, MEM_METRICS, 8192);
    if (!err)
        err = render(&t, ud);
    if (!err)
        err = crest_res_body(req, content_type, t.buf.ptr, t.buf.len);
    mem_buf_fini(&t.buf, MEM_METRICS);
    if (err)
        req_response_oom(req); /* render and crest_res_body fail only for memory */
    return CREST_DONE;
}

int ops_metrics_add_route(struct crest_app *app)
{
    const struct crest_route route = {
        .method = "GET",
        .path = "/metrics",
        .handler = metrics,
        .ud = app,
        .summary = "Prometheus metrics (text format 0.0.4)",
        .tag = "builtin",
    };
    return crest_app_add_route(app, &route, NULL);
}
