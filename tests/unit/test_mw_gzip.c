/* tests/unit/test_mw_gzip.c: response compression (mw/gzip.c, crest_app_add_gzip, issue 16).
 * Accept-Encoding negotiation by RFC 9110 12.5.3 (weights, q=0, "*", identity refused, malformed
 * members, a header of thousands of codings), then through the test client: a JSON body above the
 * minimum comes back gzip (decompressed by libdeflate to the same bytes) with Vary, deflate when
 * preferred and allowed, tiny bodies, already-encoded bodies and streams left alone, 406 when
 * nothing is acceptable, and crest's own 404 compressed like any other body. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crest.h"
#include "mw/mw.h"

#include <libdeflate.h>

static enum mw_gzip_coding choose(const char *ae, bool deflate)
{
    struct crest_str s = {ae, ae ? strlen(ae) : 0};
    return mw_gzip_choose(s, deflate);
}

static void test_gzip_choose_follows_rfc9110_weights(void **state)
{
    (void)state;
    assert_int_equal(choose(NULL, true), MW_GZIP_IDENTITY); /* no header: as it is */
    assert_int_equal(choose("", true), MW_GZIP_IDENTITY);   /* empty: identity only */
    assert_int_equal(choose("gzip", true), MW_GZIP_GZIP);
    assert_int_equal(choose("gzip, deflate, br", true), MW_GZIP_GZIP);
    assert_int_equal(choose("GZIP;Q=0.5", true), MW_GZIP_GZIP);
    assert_int_equal(choose("x-gzip", true), MW_GZIP_GZIP);
    assert_int_equal(choose("deflate", true), MW_GZIP_DEFLATE);
    assert_int_equal(choose("deflate", false), MW_GZIP_IDENTITY);
    assert_int_equal(choose("gzip;q=0.4, deflate;q=0.8", true), MW_GZIP_DEFLATE);
    assert_int_equal(choose("gzip;q=0.4, deflate;q=0.8", false), MW_GZIP_GZIP);
    assert_int_equal(choose("gzip;q=0", true), MW_GZIP_IDENTITY);
    assert_int_equal(choose("*", true), MW_GZIP_GZIP);
    assert_int_equal(choose("*;q=0.1, gzip;q=0", true), MW_GZIP_DEFLATE);
    assert_int_equal(choose("br", true), MW_GZIP_IDENTITY);
    assert_int_equal(choose("gzip;q=0.5, identity", true), MW_GZIP_IDENTITY);
    assert_int_equal(choose("gzip, identity;q=0.5", true), MW_GZIP_GZIP);
    assert_int_equal(choose("gzip ; q=1.000", true), MW_GZIP_GZIP);
}

static void test_gzip_choose_identity_refused_without_a_coding_is_unacceptable(void **state)
{
    (void)state;
    assert_int_equal(choose("identity;q=0", true), MW_GZIP_UNACCEPTABLE);
    assert_int_equal(choose("br, *;q=0", true), MW_GZIP_UNACCEPTABLE);
    assert_int_equal(choose("*;q=0, identity", true), MW_GZIP_IDENTITY);
    assert_int_equal(choose("identity;q=0, gzip", true), MW_GZIP_GZIP);
    assert_int_equal(choose("identity;q=0, deflate", false), MW_GZIP_UNACCEPTABLE);
}

static void test_gzip_choose_ignores_malformed_members(void **state)
{
    static const char *const bad[] = {
        "gzip;q=2",     "gzip;q=1.5", "gzip;q=0.1234", "gzip;q=",   "gzip;q=abc",
        "gzip;level=9", "gzip;q=-1",  "gzip;q=1.01",   "gzip;;",    ";q=1",
        "gzip;q=0x1",   "gzip;q= 1",  "gzip;q=1e0",    "gzip;q=.5",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (choose(bad[i], true) != MW_GZIP_IDENTITY)
            fail_msg("%s: want identity (member ignored)", bad[i]);
    assert_int_equal(choose(",,, ,gzip,,", true), MW_GZIP_GZIP);
    assert_int_equal(choose("gzip;q=0.", true), MW_GZIP_IDENTITY); /* "0." is weight 0 */
}

static void test_gzip_choose_reads_a_bounded_number_of_members(void **state)
{
    /* thousands of codings: only the first MW_GZIP_MAX_CODINGS count, in one linear pass */
    size_t n = 20000, len = 0;
    char *ae = malloc(n * 8 + 16);
    (void)state;
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(ae + len, "br;q=1, ");
    len += (size_t)sprintf(ae + len, "gzip");
    assert_int_equal(mw_gzip_choose((struct crest_str){ae, len}, true), MW_GZIP_IDENTITY);
    memcpy(ae, "gzip,  ", 7); /* the same, gzip first */
    assert_int_equal(mw_gzip_choose((struct crest_str){ae, len}, true), MW_GZIP_GZIP);
    free(ae);
}

/* ---- through the test client ---- */

static char big[4096];

static enum crest_handler_result json_big(struct crest_req *req, void *ud)
{
    (void)ud;
    assert_int_equal(crest_res_body(req, "application/json", big, strlen(big)), 0);
    return CREST_DONE;
}

static enum crest_handler_result tiny(struct crest_req *req, void *ud)
{
    (void)ud;
    assert_int_equal(crest_res_body(req, "application/json", "{\"a\":1}", 7), 0);
    return CREST_DONE;
}

static enum crest_handler_result encoded(struct crest_req *req, void *ud)
{
    (void)ud;
    assert_int_equal(crest_res_header(req, "Content-Encoding", "br"), 0);
    assert_int_equal(crest_res_body(req, "text/plain", big, strlen(big)), 0);
    return CREST_DONE;
}

static enum crest_handler_result tagged(struct crest_req *req, void *ud)
{
    (void)ud;
    assert_int_equal(crest_res_header(req, "X-Before", "1"), 0);
    assert_int_equal(crest_res_header(req, "ETag", "\"v1\""), 0);
    assert_int_equal(crest_res_header(req, "X-After", "2"), 0);
    assert_int_equal(crest_res_body(req, "application/json", big, strlen(big)), 0);
    return CREST_DONE;
}

static enum crest_handler_result image(struct crest_req *req, void *ud)
{
    (void)ud;
    assert_int_equal(crest_res_body(req, "image/png", big, strlen(big)), 0);
    return CREST_DONE;
}

static enum crest_stream_next produce(struct crest_stream *st, void *ud)
{
    (void)ud;
    assert_int_equal(crest_stream_write(st, big, strlen(big)), 0);
    return CREST_STREAM_END;
}

static enum crest_handler_result streamed(struct crest_req *req, void *ud)
{
    (void)ud;
    assert_int_equal(crest_res_stream(req, "text/plain", produce, NULL, NULL), 0);
    return CREST_DONE;
}

static struct crest_app *app_with_gzip(bool deflate)
{
    struct crest_app *app = crest_app_new("gzip", "1");
    static const struct crest_route routes[] = {
        {.method = "GET", .path = "/big", .handler = json_big},
        {.method = "GET", .path = "/tiny", .handler = tiny},
        {.method = "GET", .path = "/encoded", .handler = encoded},
        {.method = "GET", .path = "/image", .handler = image},
        {.method = "GET", .path = "/tagged", .handler = tagged},
        {.method = "GET", .path = "/stream", .handler = streamed},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        assert_int_equal(crest_app_add_route(app, &routes[i], NULL), 0);
    const struct crest_gzip cfg = {.min_size_bytes = 100, .allow_deflate = deflate};
    assert_int_equal(crest_app_add_gzip(app, &cfg), 0);
    if (!big[0]) {
        size_t n = 0;
        n += (size_t)sprintf(big + n, "[");
        for (int i = 0; n < sizeof(big) - 64; i++)
            n += (size_t)sprintf(big + n, "%s{\"id\":%d,\"name\":\"item %d\"}", i ? "," : "", i, i);
        sprintf(big + n, "]");
    }
    return app;
}

static void get(struct crest_app *app, const char *target, const char *ae,
                struct crest_test_response *res)
{
    char line[256];
    const char *h[1] = {line};
    snprintf(line, sizeof(line), "Accept-Encoding: %s", ae ? ae : "");
    const struct crest_test_req r = {
        .method = "GET", .target = target, .headers = h, .n_headers = ae ? 1 : 0};
    assert_int_equal(crest_test_send(app, &r, res), 0);
}

static bool header_is(const struct crest_test_response *res, const char *name, const char *want)
{
    struct crest_str v = crest_test_header(res, name);
    if (!want)
        return v.ptr == NULL;
    return v.ptr && v.len == strlen(want) && memcmp(v.ptr, want, v.len) == 0;
}

static void assert_decodes_to_big(const struct crest_test_response *res, bool gzip)
{
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    char out[sizeof(big)];
    size_t n = 0;
    enum libdeflate_result r =
        gzip ? libdeflate_gzip_decompress(d, res->body.ptr, res->body.len, out, sizeof(out), &n)
             : libdeflate_zlib_decompress(d, res->body.ptr, res->body.len, out, sizeof(out), &n);
    libdeflate_free_decompressor(d);
    assert_int_equal(r, LIBDEFLATE_SUCCESS);
    assert_int_equal(n, strlen(big));
    assert_memory_equal(out, big, n);
    assert_true(res->body.len < n / 2);
}

static void test_gzip_compresses_a_json_body_the_client_accepts(void **state)
{
    struct crest_app *app = app_with_gzip(true);
    struct crest_test_response res;
    (void)state;

    get(app, "/big", "gzip, deflate", &res);
    assert_int_equal(res.status, 200);
    assert_true(header_is(&res, "Content-Encoding", "gzip"));
    assert_true(header_is(&res, "Vary", "Accept-Encoding"));
    assert_decodes_to_big(&res, true);
    crest_test_response_fini(&res);
    get(app, "/big", "deflate, gzip;q=0.5", &res);
    assert_true(header_is(&res, "Content-Encoding", "deflate"));
    assert_decodes_to_big(&res, false);
    crest_test_response_fini(&res);
    get(app, "/big", NULL, &res); /* no Accept-Encoding: as it is, yet Vary */
    assert_true(header_is(&res, "Content-Encoding", NULL));
    assert_true(header_is(&res, "Vary", "Accept-Encoding"));
    assert_int_equal(res.body.len, strlen(big));
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_gzip_leaves_tiny_encoded_binary_and_streamed_bodies(void **state)
{
    struct crest_app *app = app_with_gzip(false);
    struct crest_test_response res;
    static const char *const paths[] = {"/tiny", "/encoded", "/image", "/stream"};
    (void)state;

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        get(app, paths[i], "gzip", &res);
        assert_int_equal(res.status, 200);
        if (!header_is(&res, "Content-Encoding", i == 1 ? "br" : NULL))
            fail_msg("%s: Content-Encoding changed", paths[i]);
        assert_true(header_is(&res, "Vary", NULL));
        crest_test_response_fini(&res);
    }
    crest_app_free(app);
}

static void test_gzip_answers_406_when_identity_is_refused_and_nothing_else_fits(void **state)
{
    struct crest_app *app = app_with_gzip(false);
    struct crest_test_response res;
    (void)state;

    get(app, "/big", "br, identity;q=0", &res);
    assert_int_equal(res.status, 406);
    assert_int_equal(res.body.len, strlen("{\"detail\":\"Not Acceptable\"}"));
    assert_memory_equal(res.body.ptr, "{\"detail\":\"Not Acceptable\"}", res.body.len);
    crest_test_response_fini(&res);
    get(app, "/big", "identity;q=0, gzip", &res);
    assert_int_equal(res.status, 200);
    assert_decodes_to_big(&res, true);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_gzip_makes_a_strong_etag_weak_when_it_compresses(void **state)
{
    struct crest_app *app = app_with_gzip(false);
    struct crest_test_response res;
    (void)state;

    get(app, "/tagged", "gzip", &res);
    assert_true(header_is(&res, "Content-Encoding", "gzip"));
    assert_true(header_is(&res, "ETag", "W/\"v1\""));
    assert_true(header_is(&res, "X-Before", "1"));
    assert_true(header_is(&res, "X-After", "2"));
    assert_decodes_to_big(&res, true);
    crest_test_response_fini(&res);
    get(app, "/tagged", NULL, &res); /* the identity answer keeps its strong validator */
    assert_true(header_is(&res, "ETag", "\"v1\""));
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_gzip_refuses_bad_levels_and_a_second_call(void **state)
{
    struct crest_app *app = crest_app_new("gzip", "1");
    const struct crest_gzip bad = {.level = 13}, ok = {.level = 1};
    (void)state;
    assert_int_equal(crest_app_add_gzip(app, &bad), -EINVAL);
    assert_int_equal(crest_app_add_gzip(app, NULL), -EINVAL);
    assert_int_equal(crest_app_add_gzip(app, &ok), 0);
    assert_int_equal(crest_app_add_gzip(app, &ok), -EINVAL);
    crest_app_free(app);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_choose_follows_rfc9110_weights),
        cmocka_unit_test(test_gzip_choose_identity_refused_without_a_coding_is_unacceptable),
        cmocka_unit_test(test_gzip_choose_ignores_malformed_members),
        cmocka_unit_test(test_gzip_choose_reads_a_bounded_number_of_members),
        cmocka_unit_test(test_gzip_compresses_a_json_body_the_client_accepts),
        cmocka_unit_test(test_gzip_leaves_tiny_encoded_binary_and_streamed_bodies),
        cmocka_unit_test(test_gzip_answers_406_when_identity_is_refused_and_nothing_else_fits),
        cmocka_unit_test(test_gzip_makes_a_strong_etag_weak_when_it_compresses),
        cmocka_unit_test(test_gzip_refuses_bad_levels_and_a_second_call),
    };
    return cmocka_run_group_tests_name("mw_gzip", tests, NULL, NULL);
}
