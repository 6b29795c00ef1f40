/* tests/fuzz/fuzz.h: what the libFuzzer harnesses share: the invariant check that turns a
 * violation into a crash libFuzzer records, and the reading of split points from an input's
 * first bytes. Each harness keeps its own state on the stack or the heap of one run. */
#ifndef CREST_FUZZ_H
#define CREST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort(), not assert(): the check stays in every build type. */
#define FUZZ_CHECK(cond)                          \
    do {                                          \
        if (!(cond))                              \
            fuzz_fail(__FILE__, __LINE__, #cond); \
    } while (0)

static inline _Noreturn void fuzz_fail(const char *file, int line, const char *cond)
{
    fprintf(stderr, "%s:%d: invariant violated: %s\n", file, line, cond);
    abort();
}

enum { FUZZ_MAX_CUTS = 7 };

/* Where a stream is split into arrivals: a caller first sees stream[0..at[0]), then
 * stream[0..at[1]), ... and finally stream[0..at[n]), the whole stream. */
struct fuzz_cuts {
    uint32_t n;
    uint32_t at[FUZZ_MAX_CUTS + 1];
    uint8_t flags; /* byte 0's upper bits, for the harness to use */
};

/* Byte 0: the number of cuts in its low 3 bits (the rest in flags); then one byte per cut, its
 * distance from the previous cut (so 0 repeats a call with no new bytes). Cuts past the end of
 * the stream are clamped to it. The stream is what follows; returns its offset in data. */
static inline size_t fuzz_read_cuts(const uint8_t *data, size_t size, struct fuzz_cuts *c)
{
    size_t hdr, len;
    uint32_t pos = 0;

    c->n = size ? data[0] & 7u : 0;
    c->flags = size ? (uint8_t)(data[0] >> 3) : 0;
    hdr = 1 + c->n < size ? 1 + c->n : size;
    len = size - hdr;
    for (uint32_t k = 0; k < c->n; k++) {
        pos += 1 + k < hdr ? data[1 + k] : 0;
        c->at[k] = pos < len ? pos : (uint32_t)len;
    }
    c->at[c->n] = (uint32_t)len;
    return hdr;
}

#endif
