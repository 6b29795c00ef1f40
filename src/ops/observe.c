/* ops/observe.c: the memory budget, the access log and the [memory] line: what crest_serve
 * switches on once the worker start hooks ran (so their databases count in the budget's
 * baseline) and before any worker serves (so workers only ever read the settings). */
#include "ops/ops.h"

#include "mem/mem.h"
#include "obs/memlog.h"
#include "obs/memory.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int set_budget(const struct crest_config *cfg, unsigned n_workers, char *err)
{
    char limit[32], held[32];

    if (mem_budget_set(cfg->memory_limit_bytes, n_workers) == 0)
        return 0;
    obs_memory_format_bytes(limit, sizeof(limit), (int64_t)cfg->memory_limit_bytes, false);
    obs_memory_format_bytes(held, sizeof(held), mem_tracked_bytes(), false);
    snprintf(err, CREST_ERR_LEN,
             "--memory-limit %s is below what crest holds at startup (%s tracked): raise it", limit,
             held);
    return -ENOMEM;
}

int ops_observe_start(const struct crest_config *cfg, unsigned n_workers, char *err)
{
    int rc = set_budget(cfg, n_workers, err);
    if (rc)
        return rc;
    if (cfg->log_memory_ms) {
        rc = obs_memlog_start(cfg->log_memory_ms);
        if (rc) {
            snprintf(err, CREST_ERR_LEN, "cannot start the --log-memory thread: %s", strerror(-rc));
            (void)mem_budget_set(0, 0); /* lifting a budget cannot fail */
            return rc;
        }
    }
    if (cfg->access_log)
        ops_access_log_set(cfg->log_format == CREST_LOG_JSON ? OPS_ACCESS_LOG_JSON
                                                             : OPS_ACCESS_LOG_TEXT);
    return 0;
}

void ops_observe_stop(void)
{
    ops_access_log_set(OPS_ACCESS_LOG_OFF);
    obs_memlog_stop();
    (void)mem_budget_set(0, 0); /* lifting cannot fail; the next serve starts afresh */
}

void ops_observe_describe(const struct crest_config *cfg, unsigned n_workers, char *buf, size_t cap)
{
    char limit[32];
    const char *s = n_workers == 1 ? "" : "s";

    if (!cfg->memory_limit_bytes) {
        snprintf(buf, cap, " (%u worker%s)", n_workers, s);
        return;
    }
    obs_memory_format_bytes(limit, sizeof(limit), (int64_t)cfg->memory_limit_bytes, false);
    snprintf(buf, cap, " (%u worker%s, memory limit %s)", n_workers, s, limit);
}
