/* tests/unit/test_mw_cors.c: CORS (mw/cors.c, crest_app_add_cors, issue 16) with Starlette's
 * semantics, through the test client: preflights allowed (never reaching a handler) and refused
 * (400 naming what), simple responses from allowed and other origins, the headers on crest's own
 * 404 and 422 so a browser can read them, credentials echoing the origin with Vary: Origin, and
 * an Origin of "null" or with bytes to smuggle a header never echoed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crest.h"

static int handler_calls;

static enum crest_handler_result hello(struct crest_req *req, void *ud)
{
    (void)ud;
    handler_calls++;
    struct crest_json *j = crest_res_json(req, 200);
    crest_json_object_begin(j);
    crest_json_object_end(j);
    return CREST_DONE;
}

static const struct crest_field fields[] = {
    {.name = "name", .type = CREST_TYPE_STRING, .required = true}};
static const struct crest_schema schema = {.name = "N", .fields = fields, .n_fields = 1};

static struct crest_app *app_with(const struct crest_cors *cors)
{
    struct crest_app *app = crest_app_new("cors", "1");
    const struct crest_route get = {.method = "GET", .path = "/x", .handler = hello};
    const struct crest_route post = {
        .method = "POST", .path = "/x", .handler = hello, .body = &schema};
    assert_int_equal(crest_app_add_route(app, &get, NULL), 0);
    assert_int_equal(crest_app_add_route(app, &post, NULL), 0);
    assert_int_equal(crest_app_add_cors(app, cors), 0);
    handler_calls = 0;
    return app;
}

static int send(struct crest_app *app, const char *method, const char *target,
                const char *const *headers, size_t n, const char *body,
                struct crest_test_response *res)
{
    const struct crest_test_req r = {
        .method = method, .target = target, .headers = headers, .n_headers = n, .body = body};
    assert_int_equal(crest_test_send(app, &r, res), 0);
    return res->status;
}

static void assert_header(const struct crest_test_response *res, const char *name, const char *want)
{
    struct crest_str v = crest_test_header(res, name);
    if (!want) {
        if (v.ptr)
            fail_msg("%s: want none, got \"%.*s\"", name, (int)v.len, v.ptr);
        return;
    }
    if (!v.ptr || v.len != strlen(want) || memcmp(v.ptr, want, v.len) != 0)
        fail_msg("%s: want \"%s\", got \"%.*s\"", name, want, (int)v.len, v.ptr ? v.ptr : "");
}

static const char *const origins[] = {"https://app.example.com"};
static const struct crest_cors one_origin = {.allow_origins = origins,
                                             .n_allow_origins = 1,
                                             .allow_methods = "GET, POST",
                                             .allow_headers = "Authorization",
                                             .expose_headers = "X-Total",
                                             .allow_credentials = true,
                                             .max_age_seconds = 60};

static void test_cors_preflight_is_answered_without_the_handler(void **state)
{
    struct crest_app *app = app_with(&one_origin);
    static const char *const h[] = {"Origin: https://app.example.com",
                                    "Access-Control-Request-Method: POST",
                                    "Access-Control-Request-Headers: authorization, content-type"};
    struct crest_test_response res;
    (void)state;

    assert_int_equal(send(app, "OPTIONS", "/x", h, 3, NULL, &res), 200);
    assert_header(&res, "Access-Control-Allow-Origin", "https://app.example.com");
    assert_header(&res, "Access-Control-Allow-Methods", "GET, POST");
    assert_header(&res, "Access-Control-Allow-Headers", "authorization, content-type");
    assert_header(&res, "Access-Control-Allow-Credentials", "true");
    assert_header(&res, "Access-Control-Max-Age", "60");
    assert_header(&res, "Vary", "Origin");
    assert_int_equal(handler_calls, 0);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_cors_preflight_refusals_name_what(void **state)
{
    struct crest_app *app = app_with(&one_origin);
    static const struct {
        const char *h[3];
        const char *why;
    } cases[] = {
        {{"Origin: https://evil.example", "Access-Control-Request-Method: GET", NULL},
         "Disallowed CORS origin"},
        {{"Origin: https://app.example.com", "Access-Control-Request-Method: DELETE", NULL},
         "Disallowed CORS method"},
        {{"Origin: https://app.example.com", "Access-Control-Request-Method: GET",
          "Access-Control-Request-Headers: X-Secret"},
         "Disallowed CORS headers"},
        {{"Origin: null", "Access-Control-Request-Method: GET", NULL}, "Disallowed CORS origin"},
    };
    struct crest_test_response res;
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = cases[i].h[2] ? 3 : 2;
        assert_int_equal(send(app, "OPTIONS", "/x", cases[i].h, n, NULL, &res), 400);
        assert_int_equal(res.body.len, strlen(cases[i].why));
        assert_memory_equal(res.body.ptr, cases[i].why, res.body.len);
        assert_header(&res, "Access-Control-Allow-Origin", NULL);
        crest_test_response_fini(&res);
    }
    crest_app_free(app);
}

static void test_cors_headers_on_handler_and_crest_own_answers(void **state)
{
    struct crest_app *app = app_with(&one_origin);
    static const char *const h[] = {"Origin: https://app.example.com"};
    struct crest_test_response res;
    (void)state;

    assert_int_equal(send(app, "GET", "/x", h, 1, NULL, &res), 200);
    assert_header(&res, "Access-Control-Allow-Origin", "https://app.example.com");
    assert_header(&res, "Access-Control-Expose-Headers", "X-Total");
    crest_test_response_fini(&res);
    assert_int_equal(send(app, "GET", "/missing", h, 1, NULL, &res), 404);
    assert_header(&res, "Access-Control-Allow-Origin", "https://app.example.com");
    crest_test_response_fini(&res);
    assert_int_equal(send(app, "POST", "/x", h, 1, "{}", &res), 422);
    assert_header(&res, "Access-Control-Allow-Origin", "https://app.example.com");
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_cors_other_origins_and_hostile_values_get_nothing(void **state)
{
    struct crest_app *app = app_with(&one_origin);
    static const char *const other[] = {"Origin: https://evil.example"};
    static const char *const null_origin[] = {"Origin: null"};
    static const char *const prefix[] = {"Origin: https://app.example.com.evil.example"};
    struct crest_test_response res;
    (void)state;

    assert_int_equal(send(app, "GET", "/x", other, 1, NULL, &res), 200);
    assert_header(&res, "Access-Control-Allow-Origin", NULL);
    crest_test_response_fini(&res);
    assert_int_equal(send(app, "GET", "/x", null_origin, 1, NULL, &res), 200);
    assert_header(&res, "Access-Control-Allow-Origin", NULL);
    crest_test_response_fini(&res);
    assert_int_equal(send(app, "GET", "/x", prefix, 1, NULL, &res), 200);
    assert_header(&res, "Access-Control-Allow-Origin", NULL);
    crest_test_response_fini(&res);
    assert_int_equal(send(app, "GET", "/x", NULL, 0, NULL, &res), 200); /* no Origin at all */
    assert_header(&res, "Access-Control-Allow-Origin", NULL);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_cors_any_origin_is_star_unless_credentials_are_sent(void **state)
{
    static const char *const any[] = {"*"};
    const struct crest_cors all = {.allow_origins = any,
                                   .n_allow_origins = 1,
                                   .allow_methods = "*",
                                   .allow_credentials = true};
    struct crest_app *app = app_with(&all);
    static const char *const plain[] = {"Origin: https://a.example"};
    static const char *const cookie[] = {"Origin: https://a.example", "Cookie: s=1"};
    static const char *const pre[] = {"Origin: https://a.example",
                                      "Access-Control-Request-Method: PATCH"};
    struct crest_test_response res;
    (void)state;

    assert_int_equal(send(app, "GET", "/x", plain, 1, NULL, &res), 200);
    assert_header(&res, "Access-Control-Allow-Origin", "*");
    assert_header(&res, "Vary", NULL);
    crest_test_response_fini(&res);
    assert_int_equal(send(app, "GET", "/x", cookie, 2, NULL, &res), 200);
    assert_header(&res, "Access-Control-Allow-Origin", "https://a.example");
    assert_header(&res, "Vary", "Origin");
    crest_test_response_fini(&res);
    assert_int_equal(send(app, "OPTIONS", "/x", pre, 2, NULL, &res), 200);
    assert_header(&res, "Access-Control-Allow-Methods",
                  "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT");
    crest_test_response_fini(&res);
    crest_app_free(app);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cors_preflight_is_answered_without_the_handler),
        cmocka_unit_test(test_cors_preflight_refusals_name_what),
        cmocka_unit_test(test_cors_headers_on_handler_and_crest_own_answers),
        cmocka_unit_test(test_cors_other_origins_and_hostile_values_get_nothing),
        cmocka_unit_test(test_cors_any_origin_is_star_unless_credentials_are_sent),
    };
    return cmocka_run_group_tests_name("mw_cors", tests, NULL, NULL);
}
