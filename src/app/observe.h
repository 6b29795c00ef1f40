/* app/observe.h: what crest_serve switches on around the workers for memory and logs. */
#ifndef CREST_APP_OBSERVE_H
#define CREST_APP_OBSERVE_H

#include "crest.h"

/* After the worker start hooks, before the workers serve: sets the memory budget over n_workers
 * (cfg->memory_limit_bytes), the access log mode, and starts the [memory] thread. 0, or a negative
 * errno with a sentence in err (-ENOMEM: the limit is below what crest already holds); on failure
 * nothing stays switched on. */
int app_observe_start(const struct crest_config *cfg, unsigned n_workers, char *err);

/* After the workers stopped: undoes app_observe_start (no budget, no access log, no thread). */
void app_observe_stop(void);

/* Writes " (N workers)" or " (N workers, memory limit 64.0MiB)" for the startup report. */
void app_observe_describe(const struct crest_config *cfg, unsigned n_workers, char *buf,
                          size_t cap);

#endif
