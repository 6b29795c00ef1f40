/* tests/unit/test_valid_header_cookie.c: header and cookie parameters (valid/params.c,
 * req/cookie.c, issue 16), validated with the rules of query parameters and answered as FastAPI
 * answers: 422 with loc ["header", name] / ["cookie", name], missing, parsing and bounds, the
 * header name matched without regard to case, cookies found among others and unquoted, defaults,
 * and crest_param_* / crest_req_cookie reading the values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crest.h"

static enum crest_handler_result echo(struct crest_req *req, void *ud)
{
    (void)ud;
    struct crest_json *j = crest_res_json(req, 200);
    struct crest_str token = crest_param_str(req, "X-Token");
    struct crest_str theme = crest_param_str(req, "theme");
    struct crest_str raw = crest_req_cookie(req, "other");
    crest_json_object_begin(j);
    crest_json_key(j, "token");
    crest_json_string_len(j, token.ptr, token.len);
    crest_json_key(j, "count");
    crest_json_int(j, crest_param_has(req, "X-Count") ? crest_param_int(req, "X-Count") : -1);
    crest_json_key(j, "theme");
    crest_json_string_len(j, theme.ptr, theme.len);
    crest_json_key(j, "other");
    crest_json_string_len(j, raw.ptr ? raw.ptr : "-", raw.ptr ? raw.len : 1);
    crest_json_object_end(j);
    return CREST_DONE;
}

static const struct crest_param params[] = {
    {.name = "X-Token",
     .in = CREST_IN_HEADER,
     .type = CREST_TYPE_STRING,
     .required = true,
     .min_length = CREST_LIMIT(3)},
    {.name = "X-Count", .in = CREST_IN_HEADER, .type = CREST_TYPE_INTEGER, .le = CREST_BOUND(9)},
    {.name = "theme",
     .in = CREST_IN_COOKIE,
     .type = CREST_TYPE_STRING,
     .default_text = "dark",
     .max_length = CREST_LIMIT(5)},
};

static void expect(const char *const *headers, size_t n, int status, const char *body)
{
    struct crest_app *app = crest_app_new("hc", "1");
    const struct crest_route route = {
        .method = "GET", .path = "/h", .handler = echo, .params = params, .n_params = 3};
    struct crest_test_response res = {0};
    const struct crest_test_req r = {
        .method = "GET", .target = "/h", .headers = headers, .n_headers = n};
    assert_int_equal(crest_app_add_route(app, &route, NULL), 0);
    assert_int_equal(crest_test_send(app, &r, &res), 0);
    if (res.status != status || res.body.len != strlen(body) ||
        memcmp(res.body.ptr, body, res.body.len) != 0)
        fail_msg("want %d %s\n got %d %.*s", status, body, res.status, (int)res.body.len,
                 res.body.ptr);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_header_and_cookie_values_reach_the_handler(void **state)
{
    (void)state;
    const char *const h[] = {"x-token: abcd", "X-COUNT: 7", "Cookie: other=1; theme=\"light\""};
    expect(h, 3, 200, "{\"token\":\"abcd\",\"count\":7,\"theme\":\"light\",\"other\":\"1\"}");
    const char *const only[] = {"X-Token: abc"};
    expect(only, 1, 200, "{\"token\":\"abc\",\"count\":-1,\"theme\":\"dark\",\"other\":\"-\"}");
}

static void test_missing_header_is_422_with_header_loc(void **state)
{
    (void)state;
    expect(NULL, 0, 422,
           "{\"detail\":[{\"type\":\"missing\",\"loc\":[\"header\",\"X-Token\"],"
           "\"msg\":\"Field required\",\"input\":null}]}");
}

static void test_header_and_cookie_violations_are_all_reported_in_fastapis_order(void **state)
{
    (void)state;
    const char *const h[] = {"Cookie: theme=sunset-orange", "X-Count: 10", "X-Token: ab"};
    expect(h, 3, 422,
           "{\"detail\":[{\"type\":\"string_too_short\",\"loc\":[\"header\",\"X-Token\"],"
           "\"msg\":\"String should have at least 3 characters\",\"input\":\"ab\","
           "\"ctx\":{\"min_length\":3}},"
           "{\"type\":\"less_than_equal\",\"loc\":[\"header\",\"X-Count\"],"
           "\"msg\":\"Input should be less than or equal to 9\",\"input\":\"10\","
           "\"ctx\":{\"le\":9}},"
           "{\"type\":\"string_too_long\",\"loc\":[\"cookie\",\"theme\"],"
           "\"msg\":\"String should have at most 5 characters\",\"input\":\"sunset-orange\","
           "\"ctx\":{\"max_length\":5}}]}");
    const char *const bad_int[] = {"X-Token: abc", "X-Count: seven"};
    expect(bad_int, 2, 422,
           "{\"detail\":[{\"type\":\"int_parsing\",\"loc\":[\"header\",\"X-Count\"],"
           "\"msg\":\"Input should be a valid integer, unable to parse string as an integer\","
           "\"input\":\"seven\"}]}");
}

static void test_route_with_a_bad_param_place_is_refused(void **state)
{
    (void)state;
    static const struct crest_param bad[] = {{.name = "x", .in = 9, .type = CREST_TYPE_STRING}};
    struct crest_app *app = crest_app_new("hc", "1");
    const struct crest_route route = {
        .method = "GET", .path = "/h", .handler = echo, .params = bad, .n_params = 1};
    char err[CREST_ERR_LEN] = "";
    assert_int_equal(crest_app_add_route(app, &route, err), -22);
    assert_non_null(strstr(err, "needs a name and .in"));
    crest_app_free(app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_cookie_values_reach_the_handler),
        cmocka_unit_test(test_missing_header_is_422_with_header_loc),
        cmocka_unit_test(test_header_and_cookie_violations_are_all_reported_in_fastapis_order),
        cmocka_unit_test(test_route_with_a_bad_param_place_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
