/* obs/memory.c: memory reports (process figures beside the per-tag accounting), the one stored
 * snapshot and diffs against it, and the text of the [memory] log line. The snapshot sits behind a
 * mutex: only /debug/memory takes it, never a normal route. Formatting and other figures are the
 * callers' (ops/debug.c writes JSON, cli/mem.c prints tables). */
#include "obs/memory.h"

#include "obs/proc.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t snapshot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct obs_memory_snapshot *snapshot; /* MEM_METRICS, kept for the process's life */

static bool tag_before(const struct obs_memory_tag *a, const struct obs_memory_tag *b)
{
    if (a->live_bytes != b->live_bytes)
        return a->live_bytes > b->live_bytes;
    return a->total_bytes > b->total_bytes;
}

/* Insertion sort: MEM_TAG_COUNT items, and qsort may malloc outside the accounting. */
static void sort_tags(struct obs_memory_tag *t, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct obs_memory_tag x = t[i];
        size_t j = i;
        for (; j > 0 && tag_before(&x, &t[j - 1]); j--)
            t[j] = t[j - 1];
        t[j] = x;
    }
}

void obs_memory_read(struct obs_memory_report *r, bool with_heap)
{
    memset(r, 0, sizeof(*r));
    for (unsigned tag = 0; tag < MEM_TAG_COUNT; tag++) {
        struct mem_tag_stats s;
        mem_stats((enum mem_tag)tag, &s);
        r->tags[tag] = (struct obs_memory_tag){
            .tag = (uint8_t)tag,
            .live_bytes = s.live_bytes,
            .live_blocks = s.live_blocks,
            .peak_bytes = s.peak_bytes,
            .total_bytes = s.total_bytes,
        };
    }
    sort_tags(r->tags, MEM_TAG_COUNT);
    r->tracked_bytes = mem_tracked_bytes();
    r->rss_bytes = obs_rss_bytes();
    if (with_heap) {
        r->peak_rss_bytes = obs_peak_rss_bytes();
        r->heap_bytes = obs_heap_bytes();
    }
}

double obs_memory_coverage(const struct obs_memory_report *r)
{
    return r->heap_bytes ? (double)r->tracked_bytes / (double)r->heap_bytes : 0.0;
}

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int obs_memory_snapshot_take(struct obs_memory_snapshot *out)
{
    /* the storage first, so that the snapshot's own bytes are in it rather than in every diff */
    pthread_mutex_lock(&snapshot_lock);
    if (!snapshot)
        snapshot = mem_alloc(MEM_METRICS, sizeof(*snapshot));
    bool have_storage = snapshot != NULL;
    pthread_mutex_unlock(&snapshot_lock);
    if (!have_storage)
        return -ENOMEM;

    out->taken_at = unix_now();
    out->taken_ms = monotonic_ms();
    obs_memory_read(&out->report, true);
    pthread_mutex_lock(&snapshot_lock);
    *snapshot = *out;
    pthread_mutex_unlock(&snapshot_lock);
    return 0;
}

static const struct obs_memory_tag *find_tag(const struct obs_memory_report *r, uint8_t tag)
{
    for (unsigned i = 0; i < MEM_TAG_COUNT; i++)
        if (r->tags[i].tag == tag)
            return &r->tags[i];
    return NULL; /* unreachable: every report lists every tag */
}

static int64_t magnitude(int64_t v)
{
    return v < 0 ? -v : v;
}

/* tracemalloc's compare_to order: |size_diff|, then size, largest first. */
static bool diff_before(const struct obs_memory_tag_diff *a, const struct obs_memory_tag_diff *b)
{
    if (magnitude(a->size_diff) != magnitude(b->size_diff))
        return magnitude(a->size_diff) > magnitude(b->size_diff);
    return a->size > b->size;
}

static void sort_diffs(struct obs_memory_tag_diff *t, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct obs_memory_tag_diff x = t[i];
        size_t j = i;
        for (; j > 0 && diff_before(&x, &t[j - 1]); j--)
            t[j] = t[j - 1];
        t[j] = x;
    }
}

static void diff_reports(const struct obs_memory_report *then, const struct obs_memory_report *now,
                         struct obs_memory_diff *out)
{
    out->rss_bytes = now->rss_bytes;
    out->rss_diff = (int64_t)now->rss_bytes - (int64_t)then->rss_bytes;
    out->tracked_bytes = now->tracked_bytes;
    out->tracked_diff = now->tracked_bytes - then->tracked_bytes;
    for (unsigned i = 0; i < MEM_TAG_COUNT; i++) {
        const struct obs_memory_tag *n = &now->tags[i], *t = find_tag(then, n->tag);
        out->tags[i] = (struct obs_memory_tag_diff){
            .tag = n->tag,
            .size = n->live_bytes,
            .size_diff = n->live_bytes - (t ? t->live_bytes : 0),
            .count = n->live_blocks,
            .count_diff = n->live_blocks - (t ? t->live_blocks : 0),
            .total_diff = (int64_t)(n->total_bytes - (t ? t->total_bytes : 0)),
        };
    }
    sort_diffs(out->tags, MEM_TAG_COUNT);
}

int obs_memory_diff(struct obs_memory_diff *out)
{
    struct obs_memory_snapshot then;
    struct obs_memory_report now;

    pthread_mutex_lock(&snapshot_lock);
    bool have = snapshot != NULL;
    if (have)
        then = *snapshot;
    pthread_mutex_unlock(&snapshot_lock);
    if (!have)
        return -ENOENT;
    obs_memory_read(&now, false);
    memset(out, 0, sizeof(*out));
    out->age_seconds = (double)(monotonic_ms() - then.taken_ms) / 1000.0;
    diff_reports(&then.report, &now, out);
    return 0;
}

int obs_memory_format_bytes(char *buf, size_t cap, int64_t n, bool signed_)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    const char *sign = n < 0 ? "-" : signed_ && n > 0 ? "+" : "";
    double v = (double)magnitude(n);
    unsigned u = 0;

    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        return snprintf(buf, cap, "%s%.0f%s", sign, v, units[u]);
    return snprintf(buf, cap, "%s%.1f%s", sign, v, units[u]);
}

static_assert(MEM_TAG_COUNT >= 3, "the [memory] line names the three largest tags");

size_t obs_memory_log_line(char *buf, size_t cap)
{
    struct obs_memory_report r;
    char rss[32], tracked[32], top[3][32];

    obs_memory_read(&r, false);
    obs_memory_format_bytes(rss, sizeof(rss), (int64_t)r.rss_bytes, false);
    obs_memory_format_bytes(tracked, sizeof(tracked), r.tracked_bytes, false);
    for (unsigned i = 0; i < 3; i++)
        obs_memory_format_bytes(top[i], sizeof(top[i]), r.tags[i].live_bytes, false);
    int n = snprintf(buf, cap, "[memory] rss=%s tracked=%s top: %s=%s %s=%s %s=%s\n", rss, tracked,
                     mem_tag_name(r.tags[0].tag), top[0], mem_tag_name(r.tags[1].tag), top[1],
                     mem_tag_name(r.tags[2].tag), top[2]);
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}
