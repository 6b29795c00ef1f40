/* obs/memlog.h: the periodic [memory] line of --log-memory, printed by a thread of its own. */
#ifndef CREST_OBS_MEMLOG_H
#define CREST_OBS_MEMLOG_H

#include <stdint.h>

/* Starts the thread: a line every interval_ms on stdout, the first one interval_ms from now.
 * Call it from the thread that will sigwait (the thread starts with every signal blocked).
 * 0; -EINVAL (already running, or interval 0); a negative errno from pthread. */
int obs_memlog_start(uint32_t interval_ms);

/* Stops and joins the thread; nothing when it is not running. */
void obs_memlog_stop(void);

#endif
