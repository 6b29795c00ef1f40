/* tests/fuzz/fuzz_valid_regex.c: the pattern rule's engine (valid/regex.c) on arbitrary patterns
 * and texts. The input is a pattern, a NUL byte, then the text. Invariants: compiling either
 * succeeds or says why (-EINVAL with a reason), never crashes or overruns its arena; a search
 * answers 0 or 1; the states it visits stay within the linear bound, (program states) x (text
 * bytes + 1) x 2, whatever the input (no backtracking, ever); and the answer does not depend on
 * the arena (a second search gives the same). Every byte the arenas took comes back. */
#include "fuzz.h"

#include <errno.h>
#include <string.h>

#include "mem/arena.h"
#include "mem/mem.h"
#include "valid/valid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    if (!nul || (size_t)(nul - data) > 300)
        return 0; /* patterns are the application's, short; the text is the client's */
    int64_t before = mem_tracked_bytes();
    const char *pattern = (const char *)data;
    const char *text = (const char *)nul + 1;
    size_t len = size - (size_t)(nul - data) - 1;
    _Alignas(16) char first[2048];
    struct mem_arena arena;
    struct valid_regex *re = NULL;
    const char *why = NULL;

    mem_arena_init(&arena, first, sizeof(first));
    int rc = valid_regex_compile(pattern, &arena, &re, &why);
    FUZZ_CHECK(rc == 0 || rc == -ENOMEM || (rc == -EINVAL && why));
    if (rc == 0) {
        valid_regex_steps = 0;
        int a = valid_regex_search(re, text, len, &arena);
        uint64_t steps = valid_regex_steps;
        int b = valid_regex_search(re, text, len, &arena);
        FUZZ_CHECK(a == 0 || a == 1);
        FUZZ_CHECK(a == b);
        FUZZ_CHECK(steps <= (uint64_t)20001 * (len + 1) * 2); /* the program's cap, per byte */
    }
    mem_arena_reset(&arena);
    FUZZ_CHECK(mem_tracked_bytes() == before);
    return 0;
}
