/* tests/unit/test_app_query.c: query parameters (app/query.c) through the public API only. A
 * handler per type reads the query parameter named by its path parameter with crest_query_str /
 * _int / _double / _bool and echoes {"rc":<return code>,"value":...} as JSON; each test sends one
 * request with crest_test_request and compares the body exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>

#include "crest.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The query parameter name is the decoded path parameter, copied to a C string. */
static const char *name_of(struct crest_req *req)
{
    struct crest_str s;
    char *name;

    if (crest_path_str(req, "name", &s) != 0)
        return NULL;
    name = crest_req_alloc(req, s.len + 1);
    if (!name)
        return NULL;
    memcpy(name, s.ptr, s.len);
    name[s.len] = '\0';
    return name;
}

static struct crest_json *begin(struct crest_req *req, int rc)
{
    struct crest_json *j = crest_res_json(req, 200);
    crest_json_object_begin(j);
    crest_json_key(j, "rc");
    crest_json_int(j, rc);
    crest_json_key(j, "value");
    return j;
}

static enum crest_handler_result query_str(struct crest_req *req, void *ud)
{
    struct crest_str v = {NULL, 0};
    int rc = crest_query_str(req, name_of(req), &v);
    struct crest_json *j = begin(req, rc);

    (void)ud;
    if (rc == 0)
        crest_json_string_len(j, v.ptr, v.len);
    else
        crest_json_null(j);
    crest_json_object_end(j);
    return CREST_DONE;
}

static enum crest_handler_result query_int(struct crest_req *req, void *ud)
{
    int64_t v = 0;
    int rc = crest_query_int(req, name_of(req), &v);
    struct crest_json *j = begin(req, rc);

    (void)ud;
    if (rc == 0)
        crest_json_int(j, v);
    else
        crest_json_null(j);
    crest_json_object_end(j);
    return CREST_DONE;
}

/* Doubles are echoed as "%.17g" text, so the test does not depend on the JSON writer's format. */
static enum crest_handler_result query_double(struct crest_req *req, void *ud)
{
    double v = 0;
    int rc = crest_query_double(req, name_of(req), &v);
    struct crest_json *j = begin(req, rc);
    char text[64];

    (void)ud;
    if (rc == 0) {
        snprintf(text, sizeof(text), "%.17g", v);
        crest_json_string(j, text);
    } else {
        crest_json_null(j);
    }
    crest_json_object_end(j);
    return CREST_DONE;
}

static enum crest_handler_result query_bool(struct crest_req *req, void *ud)
{
    bool v = false;
    int rc = crest_query_bool(req, name_of(req), &v);
    struct crest_json *j = begin(req, rc);

    (void)ud;
    if (rc == 0)
        crest_json_bool(j, v);
    else
        crest_json_null(j);
    crest_json_object_end(j);
    return CREST_DONE;
}

static int setup(void **state)
{
    static const struct crest_route routes[] = {
        {.method = "GET", .path = "/str/{name}", .handler = query_str},
        {.method = "GET", .path = "/int/{name}", .handler = query_int},
        {.method = "GET", .path = "/double/{name}", .handler = query_double},
        {.method = "GET", .path = "/bool/{name}", .handler = query_bool},
    };
    struct crest_app *app = crest_app_new("query-test", "1.0");

    if (!app)
        return -1;
    for (size_t k = 0; k < ARRAY_LEN(routes); k++) {
        if (crest_app_add_route(app, &routes[k], NULL) != 0) {
            crest_app_free(app);
            return -1;
        }
    }
    *state = app;
    return 0;
}

static int teardown(void **state)
{
    crest_app_free(*state);
    return 0;
}

/* GET target answers 200 with exactly the body want. */
static void expect_body(struct crest_app *app, const char *target, const char *want)
{
    struct crest_test_response res;
    int rc = crest_test_request(app, "GET", target, NULL, &res);

    assert_int_equal(rc, 0);
    if (res.status != 200)
        fail_msg("%s: status %d", target, res.status);
    if (res.body.len != strlen(want) || memcmp(res.body.ptr, want, res.body.len) != 0)
        fail_msg("%s:\n got  %.*s\n want %s", target, (int)res.body.len, res.body.ptr, want);
    crest_test_response_fini(&res);
}

static void expect_rc(struct crest_app *app, const char *target, int rc)
{
    char want[64];

    snprintf(want, sizeof(want), "{\"rc\":%d,\"value\":null}", rc);
    expect_body(app, target, want);
}

static void expect_str(struct crest_app *app, const char *target, const char *json_value)
{
    char want[512];

    snprintf(want, sizeof(want), "{\"rc\":0,\"value\":%s}", json_value);
    expect_body(app, target, want);
}

/* ---- strings: presence, decoding, occurrences ---- */

static void test_query_str_returns_present_value(void **state)
{
    expect_str(*state, "/str/name?name=alice", "\"alice\"");
    expect_str(*state, "/str/b?a=1&b=2&c=3", "\"2\"");
    expect_str(*state, "/str/c?a=1&b=2&c=3", "\"3\"");
}

static void test_query_str_returns_enoent_when_absent(void **state)
{
    expect_rc(*state, "/str/name?other=1", -ENOENT);
    expect_rc(*state, "/str/name", -ENOENT);
    expect_rc(*state, "/str/name?", -ENOENT);
    expect_rc(*state, "/str/name?&&", -ENOENT);
}

static void test_query_str_matches_whole_keys_only(void **state)
{
    expect_rc(*state, "/str/name?nam=1&names=2&xname=3&Name=4", -ENOENT);
    expect_str(*state, "/str/name?names=2&name=5", "\"5\"");
}

static void test_query_str_decodes_plus_as_space(void **state)
{
    expect_str(*state, "/str/q?q=john+doe", "\"john doe\"");
    expect_str(*state, "/str/q?q=+", "\" \"");
}

static void test_query_str_decodes_percent_escapes(void **state)
{
    expect_str(*state, "/str/q?q=a%20b%21", "\"a b!\"");
    expect_str(*state, "/str/q?q=%2B1", "\"+1\"");
    expect_str(*state, "/str/q?q=%26%3D%3f", "\"&=?\"");
    expect_str(*state, "/str/q?q=%E2%82%AC", "\"\xe2\x82\xac\"");
    expect_str(*state, "/str/q?q=%22%5C", "\"\\\"\\\\\"");
}

/* A literal '=' after the first one belongs to the value. */
static void test_query_str_keeps_later_equals_signs_in_value(void **state)
{
    expect_str(*state, "/str/q?q=a=b=c", "\"a=b=c\"");
}

static void test_query_str_returns_einval_for_malformed_escape(void **state)
{
    expect_rc(*state, "/str/q?q=%zz", -EINVAL);
    expect_rc(*state, "/str/q?q=abc%2", -EINVAL);
    expect_rc(*state, "/str/q?q=%", -EINVAL);
    expect_rc(*state, "/str/q?q=%00", -EINVAL);
}

static void test_query_str_first_occurrence_wins(void **state)
{
    expect_str(*state, "/str/q?q=first&q=second", "\"first\"");
    /* even when the later one is malformed, or the first is */
    expect_str(*state, "/str/q?q=ok&q=%zz", "\"ok\"");
    expect_rc(*state, "/str/q?q=%zz&q=ok", -EINVAL);
    /* even when the first is empty */
    expect_str(*state, "/str/q?q=&q=second", "\"\"");
}

static void test_query_str_returns_empty_value(void **state)
{
    expect_str(*state, "/str/q?q=", "\"\"");
    expect_str(*state, "/str/q?q", "\"\"");
    expect_str(*state, "/str/q?a=1&q&b=2", "\"\"");
    expect_str(*state, "/str/q?q=&b=2", "\"\"");
}

static void test_query_str_skips_empty_pairs(void **state)
{
    expect_str(*state, "/str/q?&&q=z&", "\"z\"");
    expect_str(*state, "/str/q?=x&q=y", "\"y\"");
}

static void test_query_str_decodes_keys(void **state)
{
    /* the name is the path parameter: "a b" */
    expect_str(*state, "/str/a%20b?a+b=1", "\"1\"");
    expect_str(*state, "/str/a%20b?a%20b=2", "\"2\"");
    expect_str(*state, "/str/a%26b?a%26b=3&a=4", "\"3\"");
    expect_str(*state, "/str/a%3Db?a%3db=5", "\"5\"");
    expect_str(*state, "/str/x?%78=6", "\"6\"");
    /* a raw '+' in a key is a space, so it never matches a name holding '+' */
    expect_rc(*state, "/str/a+b?a+b=1", -ENOENT);
    expect_str(*state, "/str/a+b?a%2Bb=7", "\"7\"");
}

/* A key with bad encoding names nothing: the search goes on. */
static void test_query_str_skips_keys_with_malformed_escapes(void **state)
{
    expect_str(*state, "/str/q?%zz=1&q=2", "\"2\"");
    expect_str(*state, "/str/q?q%=1&q=3", "\"3\"");
}

static void test_query_str_finds_key_longer_than_256_bytes(void **state)
{
    char target[1024];
    char key[301];

    memset(key, 'k', 300);
    key[300] = '\0';
    snprintf(target, sizeof(target), "/str/%s?%s=long", key, key);
    expect_str(*state, target, "\"long\"");
}

/* ---- integers ---- */

static void test_query_int_parses_integers(void **state)
{
    expect_str(*state, "/int/n?n=42", "42");
    expect_str(*state, "/int/n?n=-7", "-7");
    expect_str(*state, "/int/n?n=0", "0");
    expect_str(*state, "/int/n?n=007", "7");
    expect_str(*state, "/int/n?n=%2B5", "5");
    expect_str(*state, "/int/n?n=9223372036854775807", "9223372036854775807");
    expect_str(*state, "/int/n?n=-9223372036854775808", "-9223372036854775808");
}

static void test_query_int_returns_enoent_when_absent(void **state)
{
    expect_rc(*state, "/int/n?m=1", -ENOENT);
}

static void test_query_int_returns_einval_for_non_integers(void **state)
{
    static const char *const targets[] = {
        "/int/n?n=abc", "/int/n?n=",     "/int/n?n",      "/int/n?n=1.5",
        "/int/n?n=1e3", "/int/n?n=+5",   "/int/n?n=%201", "/int/n?n=1%20",
        "/int/n?n=-",   "/int/n?n=0x10", "/int/n?n=%zz",
    };
    for (size_t k = 0; k < ARRAY_LEN(targets); k++)
        expect_rc(*state, targets[k], -EINVAL);
}

static void test_query_int_returns_erange_outside_int64(void **state)
{
    expect_rc(*state, "/int/n?n=9223372036854775808", -ERANGE);
    expect_rc(*state, "/int/n?n=-9223372036854775809", -ERANGE);
    expect_rc(*state, "/int/n?n=99999999999999999999999", -ERANGE);
}

/* ---- doubles ---- */

static void test_query_double_parses_decimal_numbers(void **state)
{
    expect_str(*state, "/double/x?x=1.5", "\"1.5\"");
    expect_str(*state, "/double/x?x=-0.25", "\"-0.25\"");
    expect_str(*state, "/double/x?x=1e3", "\"1000\"");
    expect_str(*state, "/double/x?x=2.5E-1", "\"0.25\"");
    expect_str(*state, "/double/x?x=42", "\"42\"");
    expect_str(*state, "/double/x?x=.5", "\"0.5\"");
}

static void test_query_double_returns_enoent_when_absent(void **state)
{
    expect_rc(*state, "/double/x?y=1.5", -ENOENT);
}

static void test_query_double_returns_einval_for_non_numbers(void **state)
{
    static const char *const targets[] = {
        "/double/x?x=abc", "/double/x?x=",     "/double/x?x=1.5.5", "/double/x?x=inf",
        "/double/x?x=nan", "/double/x?x=0x10", "/double/x?x=1e",    "/double/x?x=%201",
        "/double/x?x=1,5", "/double/x?x=-",    "/double/x?x=e5",
    };
    for (size_t k = 0; k < ARRAY_LEN(targets); k++)
        expect_rc(*state, targets[k], -EINVAL);
}

static void test_query_double_returns_erange_on_overflow(void **state)
{
    expect_rc(*state, "/double/x?x=1e999", -ERANGE);
    expect_rc(*state, "/double/x?x=-1e999", -ERANGE);
}

/* ---- booleans ---- */

static void test_query_bool_accepts_pydantic_words(void **state)
{
    static const char *const yes[] = {"1", "true", "True", "TRUE", "t", "yes", "Y", "on", "ON"};
    static const char *const no[] = {"0", "false", "False", "f", "no", "N", "off", "Off"};
    char target[64];

    for (size_t k = 0; k < ARRAY_LEN(yes); k++) {
        snprintf(target, sizeof(target), "/bool/b?b=%s", yes[k]);
        expect_str(*state, target, "true");
    }
    for (size_t k = 0; k < ARRAY_LEN(no); k++) {
        snprintf(target, sizeof(target), "/bool/b?b=%s", no[k]);
        expect_str(*state, target, "false");
    }
}

static void test_query_bool_returns_enoent_when_absent(void **state)
{
    expect_rc(*state, "/bool/b?c=true", -ENOENT);
}

static void test_query_bool_returns_einval_for_other_words(void **state)
{
    static const char *const targets[] = {
        "/bool/b?b=maybe", "/bool/b?b=",      "/bool/b?b=2",   "/bool/b?b=tru",
        "/bool/b?b=yess",  "/bool/b?b=+true", "/bool/b?b=%zz",
    };
    for (size_t k = 0; k < ARRAY_LEN(targets); k++)
        expect_rc(*state, targets[k], -EINVAL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    static const struct CMUnitTest tests[] = {
        T(test_query_str_returns_present_value),
        T(test_query_str_returns_enoent_when_absent),
        T(test_query_str_matches_whole_keys_only),
        T(test_query_str_decodes_plus_as_space),
        T(test_query_str_decodes_percent_escapes),
        T(test_query_str_keeps_later_equals_signs_in_value),
        T(test_query_str_returns_einval_for_malformed_escape),
        T(test_query_str_first_occurrence_wins),
        T(test_query_str_returns_empty_value),
        T(test_query_str_skips_empty_pairs),
        T(test_query_str_decodes_keys),
        T(test_query_str_skips_keys_with_malformed_escapes),
        T(test_query_str_finds_key_longer_than_256_bytes),
        T(test_query_int_parses_integers),
        T(test_query_int_returns_enoent_when_absent),
        T(test_query_int_returns_einval_for_non_integers),
        T(test_query_int_returns_erange_outside_int64),
        T(test_query_double_parses_decimal_numbers),
        T(test_query_double_returns_enoent_when_absent),
        T(test_query_double_returns_einval_for_non_numbers),
        T(test_query_double_returns_erange_on_overflow),
        T(test_query_bool_accepts_pydantic_words),
        T(test_query_bool_returns_enoent_when_absent),
        T(test_query_bool_returns_einval_for_other_words),
    };
    return cmocka_run_group_tests_name("app_query", tests, NULL, NULL);
}
