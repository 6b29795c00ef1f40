/* tests/unit/test_mw_rate.c: rate limiting (mw/rate.c, crest_app_add_rate_limit, issue 16). The
 * token bucket on its own clock (burst, refill, Retry-After's wait, fractional rates), the table's
 * fixed size and eviction (a flood of new keys never grows it, evicts full buckets first, and an
 * emptied bucket survives keys that do not share its set), then through the test client: 429 with
 * Retry-After and the RateLimit fields, never reaching the handler, and keys from a callback (a
 * credential) counted apart from the client's address. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crest.h"
#include "mem/mem.h"
#include "mw/mw.h"

static int64_t mem_tag_live_bytes(enum mem_tag tag)
{
    struct mem_tag_stats st;
    mem_stats(tag, &st);
    return st.live_bytes;
}

static struct mw_rate_verdict take(struct mw_rate_table *t, const char *key, uint64_t now_us)
{
    return mw_rate_take(t, key, strlen(key), now_us);
}

static void test_rate_bucket_allows_burst_then_refills_at_rate(void **state)
{
    struct mw_rate_table t;
    (void)state;

    assert_int_equal(mw_rate_table_init(&t, 64, 10, 5), 0); /* 10/s, burst 5 */
    for (int i = 0; i < 5; i++) {
        struct mw_rate_verdict v = take(&t, "a", 1000);
        assert_true(v.allowed);
        assert_int_equal(v.remaining, 4 - i);
    }
    struct mw_rate_verdict v = take(&t, "a", 1000);
    assert_false(v.allowed);
    assert_int_equal(v.remaining, 0);
    assert_int_equal(v.retry_after_ms, 100); /* one token at 10/s */
    assert_false(take(&t, "a", 1000 + 99000).allowed);
    assert_true(take(&t, "a", 1000 + 100000).allowed); /* 100 ms later: one token back */
    assert_true(take(&t, "b", 1000).allowed);          /* another key has its own bucket */
    v = take(&t, "a", 1000 + 10000000);                /* long idle: full, not more */
    assert_true(v.allowed);
    assert_int_equal(v.remaining, 4);
    assert_int_equal(v.full_in_ms, 100);
    mw_rate_table_fini(&t);
}

static void test_rate_fractional_rate_waits_whole_seconds(void **state)
{
    struct mw_rate_table t;
    (void)state;

    assert_int_equal(mw_rate_table_init(&t, 8, 0.5, 1), 0); /* one every 2 s */
    assert_true(take(&t, "k", 0).allowed);
    struct mw_rate_verdict v = take(&t, "k", 500000);
    assert_false(v.allowed);
    assert_int_equal(v.retry_after_ms, 1500);
    assert_true(take(&t, "k", 2000000).allowed);
    mw_rate_table_fini(&t);
}

static void test_rate_table_is_fixed_and_evicts_full_buckets_first(void **state)
{
    struct mw_rate_table t;
    char key[32];
    (void)state;

    int64_t before = mem_tag_live_bytes(MEM_RATE);
    assert_int_equal(mw_rate_table_init(&t, 1000, 1, 1), 0); /* 1/s, burst 1: one shot each */
    size_t bytes = mw_rate_table_bytes(&t);
    assert_int_equal(bytes, 128 * MW_RATE_WAYS * sizeof(struct mw_rate_entry)); /* 1024 keys */
    assert_true(mem_tag_live_bytes(MEM_RATE) - before >= (int64_t)bytes);
    int64_t live = mem_tag_live_bytes(MEM_RATE);
    assert_true(take(&t, "victim", 0).allowed); /* takes its one token */
    assert_false(take(&t, "victim", 0).allowed);
    /* a million new keys, each one request at the same instant: the table does not grow, and
     * each new key evicts a full bucket (an idle newcomer) before the emptied one */
    for (int i = 0; i < 1000000; i++) {
        snprintf(key, sizeof(key), "flood-%d", i);
        assert_true(take(&t, key, 0).allowed);
    }
    assert_int_equal(mem_tag_live_bytes(MEM_RATE), live);
    /* every newcomer spent its token, so its bucket is as empty as the victim's: eviction took
     * the victim only if its set ran out of fuller entries. With tokens refilled one second
     * later, every bucket is full again and equally evictable: nothing is lost by forgetting */
    assert_true(take(&t, "victim", 1000000).allowed);
    mw_rate_table_fini(&t);
    assert_int_equal(mem_tag_live_bytes(MEM_RATE), before);
}

static void test_rate_emptied_bucket_outlives_newcomers_that_stay_full(void **state)
{
    struct mw_rate_table t;
    char key[32];
    (void)state;

    /* burst 2: a newcomer that made one request keeps a token, the victim has none */
    assert_int_equal(mw_rate_table_init(&t, MW_RATE_WAYS, 0.001, 2), 0); /* one set */
    assert_true(take(&t, "victim", 0).allowed);
    assert_true(take(&t, "victim", 0).allowed);
    assert_false(take(&t, "victim", 0).allowed);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "new-%d", i);
        assert_true(take(&t, key, 0).allowed);
    }
    assert_false(take(&t, "victim", 0).allowed); /* still remembered, still empty */
    mw_rate_table_fini(&t);
}

static void test_rate_table_init_refuses_bad_arguments(void **state)
{
    struct mw_rate_table t;
    (void)state;
    assert_int_equal(mw_rate_table_init(&t, 10, 0, 1), -EINVAL);
    assert_int_equal(mw_rate_table_init(&t, 10, -1, 1), -EINVAL);
    assert_int_equal(mw_rate_table_init(&t, 0, 1, 1), -EINVAL);
    assert_int_equal(mw_rate_table_init(&t, 10, 1, 0.5), -EINVAL);
    mw_rate_table_fini(&t); /* harmless after a failed init */
}

/* ---- through the test client ---- */

static int handler_calls;

static enum crest_handler_result hello(struct crest_req *req, void *ud)
{
    (void)ud;
    handler_calls++;
    assert_int_equal(crest_res_body(req, "text/plain", "hi", 2), 0);
    return CREST_DONE;
}

static struct crest_str by_key(struct crest_req *req, void *ud)
{
    (void)ud;
    return crest_req_header(req, "X-Api-Key"); /* {NULL, 0} when absent: the address */
}

static struct crest_app *app_with_limit(double rate, uint32_t burst)
{
    struct crest_app *app = crest_app_new("rate", "1");
    const struct crest_route r = {.method = "GET", .path = "/x", .handler = hello};
    const struct crest_rate_limit limit = {.rate_per_s = rate, .burst = burst, .key = by_key};
    assert_int_equal(crest_app_add_route(app, &r, NULL), 0);
    assert_int_equal(crest_app_add_rate_limit(app, &limit), 0);
    handler_calls = 0;
    return app;
}

static int get(struct crest_app *app, const char *key, struct crest_test_response *res)
{
    char line[64];
    const char *h[1] = {line};
    snprintf(line, sizeof(line), "X-Api-Key: %s", key ? key : "");
    const struct crest_test_req r = {
        .method = "GET", .target = "/x", .headers = h, .n_headers = key ? 1 : 0};
    assert_int_equal(crest_test_send(app, &r, res), 0);
    return res->status;
}

static void assert_header(const struct crest_test_response *res, const char *name, const char *want)
{
    struct crest_str v = crest_test_header(res, name);
    if (!v.ptr || v.len != strlen(want) || memcmp(v.ptr, want, v.len) != 0)
        fail_msg("%s: want \"%s\", got \"%.*s\"", name, want, (int)v.len, v.ptr ? v.ptr : "");
}

static void test_rate_limit_answers_429_with_retry_after_and_ratelimit_fields(void **state)
{
    struct crest_app *app = app_with_limit(0.5, 2); /* 2 at once, then one per 2 s */
    struct crest_test_response res;
    (void)state;

    assert_int_equal(get(app, NULL, &res), 200);
    assert_header(&res, "RateLimit-Policy", "\"default\";q=2;w=4");
    assert_header(&res, "RateLimit", "\"default\";r=1;t=2");
    crest_test_response_fini(&res);
    assert_int_equal(get(app, NULL, &res), 200);
    assert_header(&res, "RateLimit", "\"default\";r=0;t=4");
    crest_test_response_fini(&res);
    assert_int_equal(get(app, NULL, &res), 429);
    assert_header(&res, "Retry-After", "2");
    assert_header(&res, "RateLimit", "\"default\";r=0;t=2");
    assert_int_equal(res.body.len, strlen("{\"detail\":\"Too Many Requests\"}"));
    assert_memory_equal(res.body.ptr, "{\"detail\":\"Too Many Requests\"}", res.body.len);
    crest_test_response_fini(&res);
    assert_int_equal(handler_calls, 2);
    /* a credential is its own key: this client's address is spent, its key is not */
    assert_int_equal(get(app, "k1", &res), 200);
    crest_test_response_fini(&res);
    assert_int_equal(get(app, "k1", &res), 200);
    crest_test_response_fini(&res);
    assert_int_equal(get(app, "k1", &res), 429);
    crest_test_response_fini(&res);
    assert_int_equal(get(app, "k2", &res), 200);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_rate_limit_refuses_a_rate_that_is_not_positive(void **state)
{
    struct crest_app *app = crest_app_new("rate", "1");
    const struct crest_rate_limit zero = {.rate_per_s = 0};
    (void)state;
    assert_int_equal(crest_app_add_rate_limit(app, &zero), -EINVAL);
    assert_int_equal(crest_app_add_rate_limit(app, NULL), -EINVAL);
    crest_app_free(app);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_bucket_allows_burst_then_refills_at_rate),
        cmocka_unit_test(test_rate_fractional_rate_waits_whole_seconds),
        cmocka_unit_test(test_rate_table_is_fixed_and_evicts_full_buckets_first),
        cmocka_unit_test(test_rate_emptied_bucket_outlives_newcomers_that_stay_full),
        cmocka_unit_test(test_rate_table_init_refuses_bad_arguments),
        cmocka_unit_test(test_rate_limit_answers_429_with_retry_after_and_ratelimit_fields),
        cmocka_unit_test(test_rate_limit_refuses_a_rate_that_is_not_positive),
    };
    return cmocka_run_group_tests_name("mw_rate", tests, NULL, NULL);
}
