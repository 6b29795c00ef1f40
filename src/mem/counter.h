/* mem/counter.h: counters owned by one thread and read by others (the memory slots, the /metrics
 * slots). The owner adds with a relaxed load and store, which compile to plain moves (no lock
 * prefix, no shared cache-line ping-pong); readers see whole values, never torn ones. */
#ifndef CREST_MEM_COUNTER_H
#define CREST_MEM_COUNTER_H

#include <stdatomic.h>
#include <stdint.h>

/* Only the owning thread may call these on a given counter. */
static inline void counter_add(_Atomic int64_t *v, int64_t by)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

static inline void counter_add_u(_Atomic uint64_t *v, uint64_t by)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

#endif
