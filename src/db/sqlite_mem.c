/* db/sqlite_mem.c: SQLite's process-wide configuration, which is mostly about memory. SQLite
 * allocates through a method table (sqlite3_mem_methods) that can be replaced once per process,
 * before sqlite3_initialize(); ours counts every block under MEM_SQLITE so /metrics shows what the
 * databases cost. SQLite frees by pointer alone, so blocks are counted at their malloc_usable_size
 * (mem's "unsized" calls), as Redis's zmalloc does. The same one-time step sizes the
 * per-connection caches and turns URI filenames off. Opening connections is sqlite.c's job. */
#include "db/db.h"

#include <sqlite3.h>

#include "mem/mem.h"

#include <pthread.h>
#include <stdio.h>

/* Lookaside is a per-connection slab for SQLite's small, short-lived objects. The default
 * (1200-byte slots x 40, 48 KiB) is taken whole when a connection opens, and a database has one
 * connection per worker plus its writer's. Statements are prepared once per connection; 128-byte
 * slots x 64 (8 KiB)
 * keep most small allocations off malloc with most of those bytes in use (a SQLite built with
 * SQLITE_OMIT_LOOKASIDE, as Debian's is, ignores this; crest's own build takes the small slab). */
enum {
    LOOKASIDE_SLOT_BYTES = 128,
    LOOKASIDE_SLOTS = 64,
};

/* SQLite only asks for positive sizes: sqlite3Malloc filters 0 and oversized requests. */
static void *sqlite_malloc(int n)
{
    return mem_alloc_unsized(MEM_SQLITE, (size_t)n);
}

static void sqlite_free(void *p)
{
    mem_free_unsized(MEM_SQLITE, p);
}

static void *sqlite_realloc(void *p, int n)
{
    return mem_realloc_unsized(MEM_SQLITE, p, (size_t)n);
}

static int sqlite_size(void *p)
{
    return (int)mem_size_unsized(p);
}

/* What xMalloc(n) would really give; glibc rounds to 16 with 8 usable in the next chunk's header,
 * but 8-byte rounding is what SQLite's own mem1.c promises, and asking for less than we get is
 * safe (xSize tells the truth afterwards). */
static int sqlite_roundup(int n)
{
    return (n + 7) & ~7;
}

static int sqlite_init(void *ud)
{
    (void)ud;
    return SQLITE_OK;
}

static void sqlite_shutdown(void *ud)
{
    (void)ud;
}

static int setup_status;

static void setup_once(void)
{
    static const sqlite3_mem_methods methods = {
        .xMalloc = sqlite_malloc,
        .xFree = sqlite_free,
        .xRealloc = sqlite_realloc,
        .xSize = sqlite_size,
        .xRoundup = sqlite_roundup,
        .xInit = sqlite_init,
        .xShutdown = sqlite_shutdown,
    };
    /* SQLite's own memory statistics would take a global mutex and call xSize on every malloc and
     * free, on every worker: mem's per-thread counters already say everything they would. */
    int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (rc == SQLITE_OK)
        rc = sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
    if (rc == SQLITE_OK)
        rc = sqlite3_config(SQLITE_CONFIG_LOOKASIDE, LOOKASIDE_SLOT_BYTES, LOOKASIDE_SLOTS);
    /* No bulk page-cache allocation: by default each connection grabs 20 pages (about 86 KiB)
     * on first use, whether its file needs them or not; without it pages come one by one, up to
     * cache_size, and a fresh file's connection costs about 54 KiB instead of 134 KiB. */
    if (rc == SQLITE_OK)
        rc = sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
    /* A SQLite built with SQLITE_USE_URI=1 (Debian's is) makes every filename that starts with
     * "file:" a URI (with ?mode=, ?vfs=, ...) even without SQLITE_OPEN_URI: --db takes paths. */
    if (rc == SQLITE_OK)
        rc = sqlite3_config(SQLITE_CONFIG_URI, 0);
    if (rc == SQLITE_MISUSE) /* SQLite was started before us: its config is frozen */
        fprintf(stderr, "crest: sqlite: already initialized by the application; its memory is "
                        "not counted under the sqlite tag\n");
    setup_status = sqlite3_initialize();
}

int db_sqlite_mem_setup(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, setup_once);
    return setup_status;
}
