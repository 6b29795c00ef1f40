/* tests/unit/test_mw_request_id.c: request IDs (mw/request_id.c, crest_app_add_request_id,
 * crest_req_id, issue 16). Which IDs a client may set (length, characters), the UUIDs made for the
 * others (format, version, no repeats), then through the test client: a valid ID echoed, a hostile
 * one replaced and never echoed, crest's own 404 carrying it, and the handler reading it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crest.h"
#include "mw/mw.h"

static bool valid(const char *s)
{
    return mw_request_id_valid((struct crest_str){s, s ? strlen(s) : 0});
}

static void test_request_id_validation_bounds_length_and_characters(void **state)
{
    char longest[MW_REQUEST_ID_MAX + 2];
    (void)state;

    assert_true(valid("abc-123"));
    assert_true(valid("4eba08f4-8b15-4399-b2ef-bc0b32c00c0a"));
    assert_true(valid("a_b.c:d+e/f=g@h"));
    assert_false(valid(NULL));
    assert_false(valid(""));
    assert_false(valid("has space"));
    assert_false(valid("quote\""));
    assert_false(valid("back\\slash"));
    assert_false(valid("<script>"));
    assert_false(valid("tab\t"));
    assert_false(valid("caf\xc3\xa9"));
    assert_false(mw_request_id_valid((struct crest_str){"a\0b", 3}));
    memset(longest, 'x', sizeof(longest));
    assert_true(mw_request_id_valid((struct crest_str){longest, MW_REQUEST_ID_MAX}));
    assert_false(mw_request_id_valid((struct crest_str){longest, MW_REQUEST_ID_MAX + 1}));
}

static void test_request_id_new_makes_distinct_uuid4s(void **state)
{
    char a[37], b[37];
    (void)state;

    mw_request_id_new(a);
    mw_request_id_new(b);
    assert_int_equal(strlen(a), 36);
    assert_string_not_equal(a, b);
    assert_true(valid(a));
    assert_int_equal(a[8], '-');
    assert_int_equal(a[13], '-');
    assert_int_equal(a[14], '4');
    assert_true(strchr("89ab", a[19]) != NULL);
}

static enum crest_handler_result echo_id(struct crest_req *req, void *ud)
{
    (void)ud;
    struct crest_str id = crest_req_id(req);
    assert_non_null(id.ptr);
    assert_int_equal(crest_res_body(req, "text/plain", id.ptr, id.len), 0);
    return CREST_DONE;
}

static void send_id(struct crest_app *app, const char *target, const char *id,
                    struct crest_test_response *res)
{
    char line[300];
    const char *h[1] = {line};
    snprintf(line, sizeof(line), "X-Request-ID: %s", id ? id : "");
    const struct crest_test_req r = {
        .method = "GET", .target = target, .headers = h, .n_headers = id ? 1 : 0};
    assert_int_equal(crest_test_send(app, &r, res), 0);
}

static void test_request_id_is_kept_or_replaced_and_echoed(void **state)
{
    struct crest_app *app = crest_app_new("rid", "1");
    const struct crest_route r = {.method = "GET", .path = "/id", .handler = echo_id};
    struct crest_test_response res;
    (void)state;

    assert_int_equal(crest_app_add_route(app, &r, NULL), 0);
    assert_int_equal(crest_app_add_request_id(app), 0);
    assert_int_equal(crest_app_add_request_id(app), -EEXIST);
    send_id(app, "/id", "trace-42", &res);
    struct crest_str h = crest_test_header(&res, "X-Request-ID");
    assert_int_equal(h.len, 8);
    assert_memory_equal(h.ptr, "trace-42", 8);
    assert_memory_equal(res.body.ptr, "trace-42", 8);
    crest_test_response_fini(&res);
    send_id(app, "/id", "evil\"id with spaces", &res); /* replaced, never echoed */
    h = crest_test_header(&res, "X-Request-ID");
    assert_int_equal(h.len, 36);
    assert_null(memmem(res.raw, res.raw_len, "evil", 4));
    assert_memory_equal(res.body.ptr, h.ptr, 36); /* the handler saw the same new ID */
    crest_test_response_fini(&res);
    send_id(app, "/missing", NULL, &res); /* crest's own 404 carries one too */
    assert_int_equal(res.status, 404);
    assert_int_equal(crest_test_header(&res, "X-Request-ID").len, 36);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_id_validation_bounds_length_and_characters),
        cmocka_unit_test(test_request_id_new_makes_distinct_uuid4s),
        cmocka_unit_test(test_request_id_is_kept_or_replaced_and_echoed),
    };
    return cmocka_run_group_tests_name("mw_request_id", tests, NULL, NULL);
}
