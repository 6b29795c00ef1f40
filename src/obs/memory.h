/* obs/memory.h: the memory report behind GET /debug/memory, `crest mem` and the [memory] log
 * line: what the process holds (RSS, peak RSS, malloc's heap) beside what crest's accounting says
 * each tag holds, like tracemalloc's top statistics; and one process-wide snapshot to compare
 * against later, like tracemalloc's compare_to. Reading a report sums every counter slot and
 * mallinfo2 takes malloc's arena locks: it is for reports, never for the request path. */
#ifndef CREST_OBS_MEMORY_H
#define CREST_OBS_MEMORY_H

#include "mem/mem.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct obs_memory_tag {
    uint8_t tag; /* enum mem_tag */
    int64_t live_bytes;
    int64_t live_blocks;
    int64_t peak_bytes;   /* per-thread peaks summed (see struct mem_tag_stats) */
    uint64_t total_bytes; /* ever allocated */
};

struct obs_memory_report {
    uint64_t rss_bytes;
    uint64_t peak_rss_bytes; /* VmHWM */
    uint64_t heap_bytes;     /* malloc's in-use chunks plus mmapped blocks (obs_heap_bytes) */
    int64_t tracked_bytes;   /* live bytes over every tag */
    struct obs_memory_tag tags[MEM_TAG_COUNT]; /* by live_bytes, largest first */
};

/* Fills r with the figures of this moment; the heap and peak RSS only when with_heap (the [memory]
 * line skips them: mallinfo2 locks malloc's arenas). */
void obs_memory_read(struct obs_memory_report *r, bool with_heap);

/* tracked / heap: how much of malloc's heap the accounting explains; 0 when the heap reads 0. */
double obs_memory_coverage(const struct obs_memory_report *r);

struct obs_memory_snapshot {
    double taken_at;   /* Unix time, seconds */
    uint64_t taken_ms; /* CLOCK_MONOTONIC, for its age */
    struct obs_memory_report report;
};

/* Reads a report and keeps it as the process's snapshot (replacing the last one), copied to out.
 * The one stored snapshot is allocated once, under MEM_METRICS. 0 or -ENOMEM. Thread-safe. */
int obs_memory_snapshot_take(struct obs_memory_snapshot *out);

/* One tag's change since the snapshot, in tracemalloc's StatisticDiff terms. */
struct obs_memory_tag_diff {
    uint8_t tag;
    int64_t size;       /* live bytes now */
    int64_t size_diff;  /* minus live bytes then */
    int64_t count;      /* live blocks now */
    int64_t count_diff; /* minus live blocks then */
    int64_t total_diff; /* bytes allocated since the snapshot */
};

struct obs_memory_diff {
    double age_seconds;
    uint64_t rss_bytes;
    int64_t rss_diff;
    int64_t tracked_bytes;
    int64_t tracked_diff;
    struct obs_memory_tag_diff tags[MEM_TAG_COUNT]; /* by |size_diff|, then size, largest first */
};

/* The change since the stored snapshot. 0, or -ENOENT when none was taken. Thread-safe. */
int obs_memory_diff(struct obs_memory_diff *out);

/* Writes n in binary units ("900B", "12.5KiB", "3.0MiB"), with a "+" on positive values when
 * signed_ ("+1.0KiB"). Returns the length written (snprintf's contract: at most cap - 1 bytes
 * land). */
int obs_memory_format_bytes(char *buf, size_t cap, int64_t n, bool signed_);

/* Writes "[memory] rss=… tracked=… top: a=… b=… c=…\n" (the three largest tags) into buf.
 * Returns its length, at most cap - 1. */
size_t obs_memory_log_line(char *buf, size_t cap);

#endif
