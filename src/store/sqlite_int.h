/* store/sqlite_int.h: what the SQLite backend's files share with each other and with its unit
 * test. Nothing here is exported from libcrest; the store's public face is store.h. */
#ifndef CREST_STORE_SQLITE_INT_H
#define CREST_STORE_SQLITE_INT_H

#include "crest.h"
#include "store/item.h"
#include "store/store.h"

#include <sqlite3.h>

/* Routes SQLite's allocations through mem (tag MEM_SQLITE), sizes its per-connection caches and
 * turns URI filenames off; runs once per process, before the first connection opens. 0, or a SQLite
 * status when SQLite itself failed to initialize. When the application already started SQLite, the
 * allocator can no longer be swapped: that is logged once, SQLite's memory stays unaccounted, and 0
 * is returned. */
int store_sqlite_mem_setup(void);

/* The connection of a store, for tests that need to reach under the interface (e.g. to set
 * PRAGMA query_only and see writes fail as on a read-only file). */
sqlite3 *store_sqlite_db(struct store *s);

#endif
