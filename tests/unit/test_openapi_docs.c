/* tests/unit/test_app_docs.c: the docs routes (app/docs.c) through the test client, on an assets
 * directory the test makes: the Swagger UI and ReDoc pages, assets with their Content-Type,
 * caching headers and ETag revalidation, names that try to leave the directory (404), a missing
 * directory (-ENOENT, /openapi.json still served), and the routes left out of the document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crest.h"

static enum crest_handler_result nop(struct crest_req *req, void *ud)
{
    (void)ud;
    crest_res_status(req, 200);
    return CREST_DONE;
}

struct fixture {
    char dir[64];
    char outside[96]; /* a file next to the assets directory, which no request may reach */
    struct crest_app *app;
};

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct crest_route r = {.method = "GET", .path = "/things", .handler = nop};
    char path[256];

    snprintf(fx->dir, sizeof(fx->dir), "/tmp/crest-docs-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    write_file(fx->dir, "swagger-ui.css", ".swagger-ui{}");
    write_file(fx->dir, "swagger-ui-bundle.js", "window.SwaggerUIBundle=1;");
    write_file(fx->dir, "redoc.standalone.js", "window.Redoc=1;");
    write_file(fx->dir, "favicon-32x32.png", "\x89PNG");
    write_file(fx->dir, ".hidden.js", "secret");
    snprintf(path, sizeof(path), "%s/dir.js", fx->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(fx->outside, sizeof(fx->outside), "%s-outside.js", fx->dir);
    FILE *f = fopen(fx->outside, "w");
    assert_non_null(f);
    fputs("secret", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/link.js", fx->dir);
    assert_int_equal(symlink(fx->outside, path), 0);

    fx->app = crest_app_new("Docs & <Things>", "1.0");
    assert_non_null(fx->app);
    assert_int_equal(crest_app_add_route(fx->app, &r, NULL), 0);
    assert_int_equal(crest_app_add_docs_routes(fx->app, fx->dir), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    static const char *const names[] = {"swagger-ui.css",      "swagger-ui-bundle.js",
                                        "redoc.standalone.js", "favicon-32x32.png",
                                        ".hidden.js",          "link.js"};
    char path[256];
    crest_app_free(fx->app);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", fx->dir, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/dir.js", fx->dir);
    rmdir(path);
    rmdir(fx->dir);
    unlink(fx->outside);
    free(fx);
    return 0;
}

static bool header_is(const struct crest_test_response *res, const char *name, const char *value)
{
    struct crest_str v = crest_test_header(res, name);
    return v.ptr && v.len == strlen(value) && memcmp(v.ptr, value, v.len) == 0;
}

static bool body_has(const struct crest_test_response *res, const char *text)
{
    return memmem(res->body.ptr, res->body.len, text, strlen(text)) != NULL;
}

static struct crest_test_response get(struct crest_app *app, const char *target)
{
    struct crest_test_response res;
    assert_int_equal(crest_test_request(app, "GET", target, NULL, &res), 0);
    return res;
}

static void test_docs_page_loads_swagger_ui_assets_and_the_document(void **state)
{
    struct fixture *fx = *state;
    struct crest_test_response res = get(fx->app, "/docs");
    assert_int_equal(res.status, 200);
    assert_true(header_is(&res, "Content-Type", "text/html; charset=utf-8"));
    assert_true(header_is(&res, "Cache-Control", "no-cache"));
    assert_true(body_has(&res, "<script src=\"/docs/swagger-ui-bundle.js\">"));
    assert_true(body_has(&res, "href=\"/docs/swagger-ui.css\""));
    assert_true(body_has(&res, "url: '/openapi.json'"));
    assert_true(body_has(&res, "<title>Docs &amp; &lt;Things&gt; - Swagger UI</title>"));
    crest_test_response_fini(&res);
}

static void test_docs_redoc_page_loads_the_standalone_bundle(void **state)
{
    struct fixture *fx = *state;
    struct crest_test_response res = get(fx->app, "/redoc");
    assert_int_equal(res.status, 200);
    assert_true(header_is(&res, "Content-Type", "text/html; charset=utf-8"));
    assert_true(body_has(&res, "<redoc spec-url=\"/openapi.json\"></redoc>"));
    assert_true(body_has(&res, "<script src=\"/docs/redoc.standalone.js\">"));
    crest_test_response_fini(&res);
}

static void test_docs_assets_have_their_type_and_are_cached_a_day(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *target, *type, *body;
    } cases[] = {
        {"/docs/swagger-ui-bundle.js", "application/javascript; charset=utf-8",
         "window.SwaggerUIBundle=1;"},
        {"/docs/swagger-ui.css", "text/css; charset=utf-8", ".swagger-ui{}"},
        {"/docs/redoc.standalone.js", "application/javascript; charset=utf-8", "window.Redoc=1;"},
        {"/docs/favicon-32x32.png", "image/png", "\x89PNG"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct crest_test_response res = get(fx->app, cases[i].target);
        assert_int_equal(res.status, 200);
        assert_true(header_is(&res, "Content-Type", cases[i].type));
        assert_true(header_is(&res, "Cache-Control", "public, max-age=86400"));
        assert_true(crest_test_header(&res, "ETag").len > 2);
        assert_int_equal(res.body.len, strlen(cases[i].body));
        assert_memory_equal(res.body.ptr, cases[i].body, res.body.len);
        crest_test_response_fini(&res);
    }
}

static void test_docs_asset_with_a_current_etag_is_304(void **state)
{
    struct fixture *fx = *state;
    struct crest_test_response res = get(fx->app, "/docs/swagger-ui.css");
    struct crest_str etag = crest_test_header(&res, "ETag");
    char raw[256];
    int n = snprintf(raw, sizeof(raw),
                     "GET /docs/swagger-ui.css HTTP/1.1\r\nHost: x\r\nIf-None-Match: %.*s\r\n\r\n",
                     (int)etag.len, etag.ptr);
    struct crest_test_response again;
    assert_int_equal(crest_test_raw(fx->app, raw, (size_t)n, &again), 0);
    assert_int_equal(again.status, 304);
    assert_int_equal(again.body.len, 0);
    assert_true(header_is(&again, "Cache-Control", "public, max-age=86400"));
    crest_test_response_fini(&again);
    n = snprintf(raw, sizeof(raw),
                 "GET /docs/swagger-ui.css HTTP/1.1\r\nHost: x\r\n"
                 "If-None-Match: \"0-0\"\r\n\r\n");
    assert_int_equal(crest_test_raw(fx->app, raw, (size_t)n, &again), 0);
    assert_int_equal(again.status, 200);
    crest_test_response_fini(&again);
    crest_test_response_fini(&res);
}

static void test_docs_asset_names_that_leave_the_directory_are_404(void **state)
{
    struct fixture *fx = *state;
    char target[256];
    const char *base = strrchr(fx->outside, '/') + 1;
    const char *escapes[] = {
        "/docs/..%2F", /* completed with the outside file's name below */
        "/docs/%2E%2E%2F",       "/docs/..%5C",      "/docs/%2F",
        "/docs/.hidden.js",      "/docs/link.js", /* a symlink out of the directory */
        "/docs/dir.js",          "/docs/nothing.js", "/docs/swagger-ui.css%00.js", /* 400: NUL */
        "/docs/swagger-ui.html", "/docs/..",         "/docs/.",
    };
    for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
        bool prefix = i < 4;
        snprintf(target, sizeof(target), "%s%s", escapes[i], prefix ? base : "");
        struct crest_test_response res = get(fx->app, target);
        if (res.status != (strstr(target, "%00") ? 400 : 404))
            fail_msg("%s answered %d", target, res.status);
        assert_false(body_has(&res, "secret"));
        crest_test_response_fini(&res);
    }
}

static void test_docs_routes_are_not_in_the_document(void **state)
{
    struct fixture *fx = *state;
    struct crest_test_response res = get(fx->app, "/openapi.json");
    assert_int_equal(res.status, 200);
    assert_true(body_has(&res, "\"/things\""));
    assert_false(body_has(&res, "\"/docs"));
    assert_false(body_has(&res, "\"/redoc\""));
    assert_false(body_has(&res, "\"/openapi.json\""));
    crest_test_response_fini(&res);
}

static void test_docs_added_twice_is_eexist(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(crest_app_add_docs_routes(fx->app, fx->dir), -EEXIST);
}

static void test_docs_without_assets_keep_openapi_json(void **state)
{
    struct crest_app *app = crest_app_new("t", "1");
    struct crest_test_response res;
    (void)state;
    assert_int_equal(crest_app_add_docs_routes(app, "/nonexistent/crest-assets"), -ENOENT);
    res = get(app, "/openapi.json");
    assert_int_equal(res.status, 200);
    crest_test_response_fini(&res);
    res = get(app, "/docs");
    assert_int_equal(res.status, 404);
    crest_test_response_fini(&res);
    res = get(app, "/docs/swagger-ui.css");
    assert_int_equal(res.status, 404);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_docs_off_serve_openapi_json_only(void **state)
{
    struct crest_app *app = crest_app_new("t", "1");
    struct crest_test_response res;
    (void)state;
    assert_int_equal(crest_app_add_docs_routes(app, NULL), 0);
    res = get(app, "/openapi.json");
    assert_int_equal(res.status, 200);
    crest_test_response_fini(&res);
    res = get(app, "/redoc");
    assert_int_equal(res.status, 404);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

/* Where make install puts the assets, under the prefix the library was configured with. */
static void test_installed_docs_dir_is_share_crest_docs_under_the_prefix(void **state)
{
    const char *dir = crest_docs_installed_dir();
    static const char tail[] = "/share/crest/docs";
    size_t len = strlen(dir);
    (void)state;
    assert_true(dir[0] == '/');
    assert_true(len > sizeof(tail) - 1);
    assert_string_equal(dir + len - (sizeof(tail) - 1), tail);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_docs_page_loads_swagger_ui_assets_and_the_document,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_docs_redoc_page_loads_the_standalone_bundle, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_docs_assets_have_their_type_and_are_cached_a_day,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_docs_asset_with_a_current_etag_is_304, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_docs_asset_names_that_leave_the_directory_are_404,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_docs_routes_are_not_in_the_document, setup, teardown),
        cmocka_unit_test_setup_teardown(test_docs_added_twice_is_eexist, setup, teardown),
        cmocka_unit_test(test_docs_without_assets_keep_openapi_json),
        cmocka_unit_test(test_docs_off_serve_openapi_json_only),
        cmocka_unit_test(test_installed_docs_dir_is_share_crest_docs_under_the_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
