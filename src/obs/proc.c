/* obs/proc.c: /proc readers. Each file is read with read(2) into a stack buffer, not stdio, whose
 * buffer would be malloc'd outside the accounting; status and stat are short, so reading them
 * costs a few microseconds and can be done on demand rather than sampled. */
#include "obs/proc.h"

#include "crest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Reads the start of a small file into buf (NUL-terminated). Length, or a negative errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n;
    do
        n = read(fd, buf, size - 1);
    while (n < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    if (n < 0)
        return -saved;
    buf[n] = '\0';
    return n;
}

/* Writes a whole line to stdout with write(2): no stdio stream is set up for it, whose buffer
 * and code would be the largest part of what the startup report adds to RSS at ready. */
void obs_write_line(const char *line)
{
    size_t len = strlen(line), done = 0;
    while (done < len) {
        ssize_t n = write(STDOUT_FILENO, line + done, len - done);
        if (n <= 0)
            return; /* stdout closed or full: the report is best effort */
        done += (size_t)n;
    }
}

CREST_API void crest_report_startup_memory(const char *phase)
{
    /* hundredths of a MiB, rounded, in integers: no floating-point formatting pulled in */
    uint64_t centi = (obs_rss_bytes() * 100 + (1u << 19)) >> 20;
    char line[160];
    snprintf(line, sizeof(line), "[startup] Memory RSS = %llu.%02llu MB (%s)\n",
             (unsigned long long)(centi / 100), (unsigned long long)(centi % 100), phase);
    obs_write_line(line);
}

/* ---- line-oriented files ---- */

/* Returns true to stop reading. */
typedef bool (*line_fn)(const char *line, size_t len, void *ud);

static void feed_lines(char *buf, size_t *have, bool *skipping, bool *stop, line_fn fn, void *ud)
{
    char *start = buf, *end = buf + *have, *nl;
    while (!*stop && (nl = memchr(start, '\n', (size_t)(end - start))) != NULL) {
        *nl = '\0';
        if (!*skipping)
            *stop = fn(start, (size_t)(nl - start), ud);
        *skipping = false;
        start = nl + 1;
    }
    *have = (size_t)(end - start);
    memmove(buf, start, *have);
}

/* Calls fn on each line of a /proc file. /proc/stat's "intr" line can be longer than any
 * buffer worth putting on a stack; lines that do not fit are skipped, since no figure we read
 * lives on one. 0 or a negative errno. */
static int each_line(const char *path, line_fn fn, void *ud)
{
    char buf[1024];
    size_t have = 0;
    bool skipping = false, stop = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    while (!stop) {
        ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        feed_lines(buf, &have, &skipping, &stop, fn, ud);
        if (have == sizeof(buf) - 1) {
            have = 0; /* a line longer than the buffer: drop it up to its newline */
            skipping = true;
        }
    }
    close(fd);
    return 0;
}

/* "Key:   123 kB" → 123 × 1024 in *out when line starts with key. */
static bool kb_field(const char *line, const char *key, uint64_t *out)
{
    size_t n = strlen(key);
    if (strncmp(line, key, n) != 0)
        return false;
    *out = (uint64_t)strtoull(line + n, NULL, 10) * 1024;
    return true;
}

static bool rss_line(const char *line, size_t len, void *ud)
{
    (void)len;
    return kb_field(line, "VmRSS:", ud);
}

/* VmRSS of /proc/self/status, which the kernel sums over its per-CPU counters when it is read.
 * statm and stat's rss field read those counters without the per-CPU deltas (on 6.x kernels,
 * up to 32 pages per CPU and counter behind): crest's metric said 2.33 MB where VmRSS and
 * smaps_rollup said 2.56 and 2.59. smaps_rollup walks every mapping; status costs one read of
 * about 1.5 KB, parsed in a stack buffer (no allocation), so every scrape can afford it. */
uint64_t obs_rss_bytes(void)
{
    uint64_t rss = 0;
    if (each_line("/proc/self/status", rss_line, &rss) != 0)
        return 0;
    return rss;
}

CREST_API uint64_t crest_rss_bytes(void)
{
    return obs_rss_bytes();
}

static bool hwm_line(const char *line, size_t len, void *ud)
{
    (void)len;
    return kb_field(line, "VmHWM:", ud);
}

uint64_t obs_peak_rss_bytes(void)
{
    uint64_t hwm = 0;
    if (each_line("/proc/self/status", hwm_line, &hwm) != 0)
        return 0;
    return hwm;
}

static bool smaps_line(const char *line, size_t len, void *ud)
{
    struct obs_proc_smaps *s = ud;
    uint64_t v;
    (void)len;
    if (kb_field(line, "Pss:", &v))
        s->pss_bytes = v;
    else if (kb_field(line, "Private_Clean:", &v) || kb_field(line, "Private_Dirty:", &v))
        s->uss_bytes += v;
    return false;
}

int obs_proc_smaps(struct obs_proc_smaps *out)
{
    memset(out, 0, sizeof(*out));
    return each_line("/proc/self/smaps_rollup", smaps_line, out);
}

static bool btime_line(const char *line, size_t len, void *ud)
{
    (void)len;
    if (strncmp(line, "btime ", 6) != 0)
        return false;
    *(int64_t *)ud = strtoll(line + 6, NULL, 10);
    return true;
}

/* The boot time never changes, so /proc/stat (kilobytes on a many-core machine) is read once;
 * threads racing on the first read store the same value. */
static int64_t boot_time_seconds(void)
{
    static _Atomic int64_t cached;
    int64_t t = atomic_load_explicit(&cached, memory_order_relaxed);
    if (t == 0 && each_line("/proc/stat", btime_line, &t) == 0)
        atomic_store_explicit(&cached, t, memory_order_relaxed);
    return t;
}

/* ---- /proc/self/stat ---- */

int obs_proc_stat(struct obs_proc_stat *out)
{
    char buf[1024];
    unsigned long long utime, stime, start, vsize;
    long long threads;
    ssize_t n = read_small("/proc/self/stat", buf, sizeof(buf));

    memset(out, 0, sizeof(*out));
    if (n < 0)
        return (int)n;
    /* The command name (field 2) is in parentheses and may hold spaces and ')': fields resume
     * after the last ')'. */
    const char *p = strrchr(buf, ')');
    if (!p)
        return -EIO;
    if (sscanf(
            p + 1,
            " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %lld %*d %llu "
            "%llu",
            &utime, &stime, &threads, &start, &vsize) != 5)
        return -EIO;
    double tick = (double)sysconf(_SC_CLK_TCK);
    int64_t boot = boot_time_seconds();
    out->vsize_bytes = vsize;
    out->threads = threads > 0 ? (uint64_t)threads : 0;
    out->cpu_seconds = (double)(utime + stime) / tick;
    out->start_time_seconds = boot ? (double)boot + (double)start / tick : 0;
    return 0;
}

/* ---- fds and limits ---- */

/* getdents64 into a stack buffer rather than opendir, which mallocs its own. */
int obs_open_fds(uint64_t *out)
{
    char buf[2048];
    uint64_t count = 0;
    ssize_t n;
    int fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    *out = 0;
    if (fd < 0)
        return -errno;
    while ((n = getdents64(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t off = 0; off < n;) {
            const struct dirent64 *d = (const struct dirent64 *)(buf + off);
            if (d->d_name[0] != '.' && atoi(d->d_name) != fd)
                count++;
            off += d->d_reclen;
        }
    }
    int err = n < 0 ? -errno : 0;
    close(fd);
    if (!err)
        *out = count;
    return err;
}

uint64_t obs_max_fds(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    return (uint64_t)rl.rlim_cur;
}

double obs_vm_max_bytes(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return (double)UINT64_MAX;
    return (double)rl.rlim_cur;
}

uint64_t obs_heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}
