/* obs/proc.h: process figures read from /proc (and getrlimit, mallinfo2) on demand, when
 * /metrics or a report asks: each reader costs one small read, so nothing is sampled in the
 * background. Linux only, like the rest of crest. */
#ifndef CREST_OBS_PROC_H
#define CREST_OBS_PROC_H

#include <stdint.h>

/* Resident set size in bytes, exact (VmRSS of /proc/self/status; statm and stat's rss lag by the
 * kernel's per-CPU counter batches): every RSS crest reports reads this. 0 when unreadable. */
uint64_t obs_rss_bytes(void);

/* What one read of /proc/self/stat gives: the fields the Prometheus Go client reads, but the
 * resident size (obs_rss_bytes). Sizes and times cover every thread of the process. */
struct obs_proc_stat {
    uint64_t vsize_bytes;      /* virtual memory size */
    uint64_t threads;          /* num_threads */
    double cpu_seconds;        /* utime + stime */
    double start_time_seconds; /* since the Unix epoch: boot time (btime) + starttime */
};

/* Fills out from /proc/self/stat. 0, or a negative errno when it cannot be read or parsed
 * (start_time_seconds is 0 when /proc/stat has no btime). */
int obs_proc_stat(struct obs_proc_stat *out);

/* Peak resident set size (VmHWM of /proc/self/status) in bytes; 0 when unreadable. */
uint64_t obs_peak_rss_bytes(void);

/* Proportional and unique set sizes, from /proc/self/smaps_rollup (Linux 4.14+). USS is the
 * private pages (Private_Clean + Private_Dirty), as psutil counts it. Costlier than the others:
 * the kernel walks every mapping, so call it on demand, not per scrape. */
struct obs_proc_smaps {
    uint64_t pss_bytes;
    uint64_t uss_bytes;
};

/* 0, or a negative errno (-ENOENT on kernels without smaps_rollup, -EACCES, -EIO). */
int obs_proc_smaps(struct obs_proc_smaps *out);

/* Open file descriptors (entries of /proc/self/fd, not counting the one used to list them).
 * 0 or a negative errno. */
int obs_open_fds(uint64_t *out);

/* RLIMIT_NOFILE's soft limit. */
uint64_t obs_max_fds(void);

/* RLIMIT_AS's soft limit in bytes. Unlimited is 2^64 - 1, which is what the Prometheus Go client
 * reports (procfs reads "unlimited" as math.MaxUint64), so a dashboard sees the same figure. */
double obs_vm_max_bytes(void);

/* Bytes malloc holds for the program: in-use chunks plus mmapped blocks (mallinfo2's uordblks +
 * hblkhd), over every arena. It takes each arena's lock while it walks the free lists, so it is
 * for scrapes, not the request path. */
uint64_t obs_heap_bytes(void);

/* Writes a line (with its newline) to stdout directly, bypassing stdio. */
void obs_write_line(const char *line);

#endif
