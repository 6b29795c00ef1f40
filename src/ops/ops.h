/* ops/ops.h: the operational side of a server: built-in routes (ops/builtin.c), /metrics
 * (ops/metrics.c), /debug/memory (ops/debug.c), per-response counting (ops/record.c), the
 * access log (ops/access_log.c), and the budget and memory log around the workers
 * (ops/observe.c). */
#ifndef CREST_OPS_OPS_H
#define CREST_OPS_OPS_H

/* ops/access_log.c: --access-log: one line per response on stdout, as text or JSON. */

#include "http/request.h"

#include <stdint.h>

enum ops_access_log_mode {
    OPS_ACCESS_LOG_OFF,
    OPS_ACCESS_LOG_TEXT, /* [access] GET /items/1 200 0.42ms 27B */
    OPS_ACCESS_LOG_JSON, /* {"ts":…,"method":"GET","path":"/items/1","status":200,…} */
};

/* Set by crest_serve before the workers start and read-only while they run (reset when it
 * returns), so the check on the request path is one load of a flag nobody writes. */
extern uint8_t ops_access_log_mode;

void ops_access_log_set(enum ops_access_log_mode mode);

/* Writes the line of a completed response (status and body as built) with one write(2). */
void ops_access_log_write(const struct http_request *req, uint64_t duration_us);

/* ops/metrics.c: GET /metrics, the Prometheus text exposition of crest's figures. */

#include "crest.h"

/* Adds GET /metrics to app. Route indexes recorded by ops_record are resolved against app's
 * router when a scrape renders them, so every route must be added before serving. 0, -ENOMEM. */
int ops_metrics_add_route(struct crest_app *app);

/* ops/observe.c: what crest_serve switches on around the workers for memory and logs. */

/* After the worker start hooks, before the workers serve: sets the memory budget over n_workers
 * (cfg->memory_limit_bytes), the access log mode, and starts the [memory] thread. 0, or a negative
 * errno with a sentence in err (-ENOMEM: the limit is below what crest already holds); on failure
 * nothing stays switched on. */
int ops_observe_start(const struct crest_config *cfg, unsigned n_workers, char *err);

/* After the workers stopped: undoes ops_observe_start (no budget, no access log, no thread). */
void ops_observe_stop(void);

/* Writes " (N workers)" or " (N workers, memory limit 64.0MiB)" for the startup report. */
void ops_observe_describe(const struct crest_config *cfg, unsigned n_workers, char *buf,
                          size_t cap);

/* ops/record.c: an http_complete_fn that counts the response in this worker's /metrics figures. */
void ops_record(void *app, const struct http_request *req, uint64_t duration_us);

#endif
