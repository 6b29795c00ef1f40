/* obs/proc.h: process figures read from /proc on demand. */
#ifndef CREST_OBS_PROC_H
#define CREST_OBS_PROC_H

#include <stdint.h>

/* Resident set size in bytes (/proc/self/statm, as psutil's rss); 0 when unreadable. */
uint64_t obs_rss_bytes(void);

#endif
