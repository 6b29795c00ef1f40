/* tests/unit/test_obs_memory.c: the memory report of obs/memory.c (tags sorted by live bytes,
 * coverage), the snapshot and its diff (tracemalloc's compare_to order), the byte formatter and
 * the [memory] line; and the /debug/memory routes through the in-process test client, whose
 * connection has no socket and so counts as a loopback client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <regex.h>
#include <string.h>

#include "crest.h"
#include "mem/mem.h"
#include "obs/memory.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static const struct obs_memory_tag_diff *diff_of(const struct obs_memory_diff *d, enum mem_tag t)
{
    for (unsigned i = 0; i < MEM_TAG_COUNT; i++)
        if (d->tags[i].tag == t)
            return &d->tags[i];
    fail_msg("tag %s missing from the diff", mem_tag_name(t));
    return NULL;
}

static void test_format_bytes_uses_binary_units_and_signs(void **state)
{
    char b[32];
    (void)state;
    obs_memory_format_bytes(b, sizeof(b), 0, false);
    assert_string_equal(b, "0B");
    obs_memory_format_bytes(b, sizeof(b), 1023, false);
    assert_string_equal(b, "1023B");
    obs_memory_format_bytes(b, sizeof(b), 1536, false);
    assert_string_equal(b, "1.5KiB");
    obs_memory_format_bytes(b, sizeof(b), 64 << 20, false);
    assert_string_equal(b, "64.0MiB");
    obs_memory_format_bytes(b, sizeof(b), 2048, true);
    assert_string_equal(b, "+2.0KiB");
    obs_memory_format_bytes(b, sizeof(b), -2048, true);
    assert_string_equal(b, "-2.0KiB");
    obs_memory_format_bytes(b, sizeof(b), 0, true);
    assert_string_equal(b, "0B");
}

static void test_report_sorts_tags_by_live_bytes_and_lists_each_once(void **state)
{
    struct obs_memory_report r;
    unsigned seen = 0;
    void *p = mem_alloc(MEM_TEST, 1 << 20); /* the largest tag of this process */
    (void)state;
    assert_non_null(p);
    obs_memory_read(&r, true);
    assert_int_equal(r.tags[0].tag, MEM_TEST);
    for (unsigned i = 0; i < MEM_TAG_COUNT; i++) {
        seen |= 1u << r.tags[i].tag;
        if (i)
            assert_true(r.tags[i - 1].live_bytes >= r.tags[i].live_bytes);
    }
    assert_int_equal(seen, (1u << MEM_TAG_COUNT) - 1);
    mem_free(MEM_TEST, p, 1 << 20);
    assert_true(r.tracked_bytes >= 1 << 20);
    assert_true(r.peak_rss_bytes >= r.rss_bytes);
#ifdef UNDER_ASAN
    /* ASan's allocator replaces glibc's, whose mallinfo2 then sees none of it */
    assert_true(obs_memory_coverage(&r) == 0.0 || r.heap_bytes > 0);
#else
    assert_true(r.heap_bytes >= (uint64_t)r.tracked_bytes);
    assert_true(obs_memory_coverage(&r) > 0 && obs_memory_coverage(&r) <= 1.0);
#endif
}

static void test_diff_shows_the_change_since_the_snapshot_largest_first(void **state)
{
    struct obs_memory_snapshot s;
    struct obs_memory_diff d;
    void *kept = mem_alloc(MEM_TEST, 4096), *grown, *freed;
    (void)state;
    assert_non_null(kept);
    assert_int_equal(obs_memory_snapshot_take(&s), 0);
    grown = mem_alloc(MEM_JSON, 3000);
    freed = mem_alloc(MEM_LOG, 100); /* allocated and freed: no size change, some allocation */
    /* blocks count the chunk the heap holds for them (mem.h), a little over the size asked */
    int64_t kept_bytes = (int64_t)mem_block_bytes(kept),
            grown_bytes = (int64_t)mem_block_bytes(grown);
    int64_t freed_bytes = (int64_t)mem_block_bytes(freed);
    mem_free(MEM_LOG, freed, 100);
    mem_free(MEM_TEST, kept, 4096);
    assert_int_equal(obs_memory_diff(&d), 0);
    assert_int_equal(d.tags[0].tag, MEM_TEST); /* |-4112| beats +3008 (glibc's chunks) */
    assert_int_equal(d.tags[0].size_diff, -kept_bytes);
    assert_int_equal(d.tags[0].count_diff, -1);
    assert_int_equal(d.tags[1].tag, MEM_JSON);
    assert_int_equal(d.tags[1].size_diff, grown_bytes);
    assert_int_equal(diff_of(&d, MEM_LOG)->size_diff, 0);
    assert_int_equal(diff_of(&d, MEM_LOG)->total_diff, freed_bytes);
    assert_int_equal(d.tracked_diff, grown_bytes - kept_bytes + 0);
    assert_true(d.age_seconds >= 0 && d.age_seconds < 60);
    mem_free(MEM_JSON, grown, 3000);
}

static void test_log_line_names_rss_tracked_and_the_three_largest_tags(void **state)
{
    char line[512];
    regex_t re;
    void *p = mem_alloc(MEM_TEST, 1 << 20);
    (void)state;
    size_t n = obs_memory_log_line(line, sizeof(line));
    assert_int_equal(n, strlen(line));
    assert_int_equal(regcomp(&re,
                             "^\\[memory\\] rss=[0-9.]+[KMG]?i?B tracked=[0-9.]+[KMG]?i?B "
                             "top: test=1\\.0MiB [a-z]+=[^ ]+ [a-z]+=[^ ]+\n$",
                             REG_EXTENDED),
                     0);
    assert_int_equal(regexec(&re, line, 0, NULL, 0), 0);
    regfree(&re);
    assert_int_equal(obs_memory_log_line(line, 16), 15); /* cut, still NUL-terminated */
    mem_free(MEM_TEST, p, 1 << 20);
}

static struct crest_app *debug_app(const char *token)
{
    struct crest_app *app = crest_app_new("t", "1");
    assert_non_null(app);
    assert_int_equal(crest_app_add_debug_routes(app, token), 0);
    return app;
}

static int raw_status(struct crest_app *app, const char *bytes)
{
    struct crest_test_response res;
    assert_int_equal(crest_test_raw(app, bytes, strlen(bytes), &res), 0);
    int status = res.status;
    crest_test_response_fini(&res);
    return status;
}

static void test_debug_routes_answer_the_test_client_as_a_local_client(void **state)
{
    struct crest_test_response res;
    (void)state;
    struct crest_app *app = debug_app(NULL);
    assert_int_equal(crest_test_request(app, "GET", "/debug/memory", NULL, &res), 0);
    assert_int_equal(res.status, 200);
    assert_non_null(memmem(res.body.ptr, res.body.len, "\"coverage\":", 11));
    crest_test_response_fini(&res);
    assert_int_equal(crest_test_request(app, "POST", "/debug/memory/snapshot", NULL, &res), 0);
    assert_int_equal(res.status, 201);
    crest_test_response_fini(&res);
    assert_int_equal(raw_status(app, "GET /debug/memory?diff=1 HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
    assert_int_equal(raw_status(app, "GET /debug/memory?diff=x HTTP/1.1\r\nHost: x\r\n\r\n"), 422);
    crest_app_free(app);
}

static void test_debug_routes_with_a_token_answer_only_its_holder(void **state)
{
    (void)state;
    struct crest_app *app = debug_app("s3cret");
    assert_int_equal(raw_status(app, "GET /debug/memory HTTP/1.1\r\nHost: x\r\n\r\n"), 404);
    assert_int_equal(raw_status(app, "GET /debug/memory?diff=x HTTP/1.1\r\nHost: x\r\n"
                                     "Authorization: Bearer s3cre\r\n\r\n"),
                     404); /* refused before the query is even read */
    assert_int_equal(raw_status(app, "GET /debug/memory HTTP/1.1\r\nHost: x\r\n"
                                     "Authorization: Bearer s3cret\r\n\r\n"),
                     200);
    crest_app_free(app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_bytes_uses_binary_units_and_signs),
        cmocka_unit_test(test_report_sorts_tags_by_live_bytes_and_lists_each_once),
        cmocka_unit_test(test_diff_shows_the_change_since_the_snapshot_largest_first),
        cmocka_unit_test(test_log_line_names_rss_tracked_and_the_three_largest_tags),
        cmocka_unit_test(test_debug_routes_answer_the_test_client_as_a_local_client),
        cmocka_unit_test(test_debug_routes_with_a_token_answer_only_its_holder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
