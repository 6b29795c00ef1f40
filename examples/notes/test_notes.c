/* examples/notes/test_notes.c: the notes API tested as its author would, through crest.h's test
 * client (FastAPI's TestClient), on a fresh SQLite file in a temporary directory: sign-up and its
 * 409 and 422s, the bearer key (401 without, 401 for an unknown one), notes created, listed by
 * page, read, patched (only what was sent), deleted, and never visible to another user (404),
 * CORS preflight, and the OpenAPI document's models and security scheme. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "notes.h"

static char dir[64];
static char db_path[128];

static struct crest_app *fresh_app(void)
{
    char err[CREST_ERR_LEN] = "";
    snprintf(dir, sizeof(dir), "/tmp/notes-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(db_path, sizeof(db_path), "%s/notes.db", dir);
    struct crest_app *app = notes_app_new(db_path, NULL, err);
    if (!app)
        fail_msg("notes_app_new: %s", err);
    return app;
}

static void drop_app(struct crest_app *app)
{
    char path[160];
    crest_app_free(app);
    static const char *const files[] = {"notes.db", "notes.db-wal", "notes.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Sends a request with an optional bearer key; the body is JSON with ' for ". Returns the status
 * and copies the body (NUL-terminated) into out. */
static int call(struct crest_app *app, const char *method, const char *target, const char *key,
                const char *body, char *out, size_t cap)
{
    char auth[80], *b = body ? strdup(body) : NULL;
    const char *headers[1] = {auth};
    for (char *p = b; p && *p; p++)
        if (*p == '\'')
            *p = '"';
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key ? key : "");
    struct crest_test_req r = {.method = method,
                               .target = target,
                               .headers = headers,
                               .n_headers = key ? 1 : 0,
                               .body = b};
    struct crest_test_response res;
    assert_int_equal(crest_test_send(app, &r, &res), 0);
    if (out)
        snprintf(out, cap, "%.*s", (int)res.body.len, res.body.ptr);
    int status = res.status;
    crest_test_response_fini(&res);
    free(b);
    return status;
}

/* Signs up and returns the api_key in key (33 bytes). */
static void sign_up(struct crest_app *app, const char *email, const char *name, char *key)
{
    char body[200], out[512];
    snprintf(body, sizeof(body), "{'email':'%s','name':'%s'}", email, name);
    assert_int_equal(call(app, "POST", "/users", NULL, body, out, sizeof(out)), 201);
    const char *k = strstr(out, "\"api_key\":\"");
    assert_non_null(k);
    snprintf(key, 33, "%s", k + 11);
}

static void expect_body(const char *got, const char *want_sq)
{
    char *want = strdup(want_sq);
    for (char *p = want; *p; p++)
        if (*p == '\'')
            *p = '"';
    if (strcmp(got, want) != 0)
        fail_msg("got  %s\nwant %s", got, want);
    free(want);
}

static void test_sign_up_answers_the_user_and_a_key(void **state)
{
    (void)state;
    struct crest_app *app = fresh_app();
    char out[512];
    assert_int_equal(call(app, "POST", "/users", NULL, "{'email':'ann@example.com','name':' Ann '}",
                          out, sizeof(out)),
                     201);
    assert_non_null(strstr(out, "{\"id\":1,\"email\":\"ann@example.com\",\"name\":\"Ann\","
                                "\"api_key\":\""));
    assert_int_equal(call(app, "POST", "/users", NULL, "{'email':'ann@example.com','name':'A'}",
                          out, sizeof(out)),
                     409);
    expect_body(out, "{'detail':'Email already registered'}");
    assert_int_equal(call(app, "POST", "/users", NULL, "{'email':'ann.example.com','name':''}", out,
                          sizeof(out)),
                     422);
    assert_non_null(strstr(out, "\"loc\":[\"body\",\"email\"]"));
    assert_non_null(strstr(out, "\"loc\":[\"body\",\"name\"]"));
    drop_app(app);
}

static void test_keys_are_required_and_checked(void **state)
{
    (void)state;
    struct crest_app *app = fresh_app();
    char key[33], out[512];
    sign_up(app, "bob@example.com", "Bob", key);
    assert_int_equal(call(app, "GET", "/users/me", NULL, NULL, out, sizeof(out)), 401);
    expect_body(out, "{'detail':'Not authenticated'}");
    assert_int_equal(call(app, "GET", "/users/me", "not-a-key", NULL, out, sizeof(out)), 401);
    expect_body(out, "{'detail':'Invalid authentication credentials'}");
    assert_int_equal(call(app, "GET", "/users/me", key, NULL, out, sizeof(out)), 200);
    expect_body(out, "{'id':1,'email':'bob@example.com','name':'Bob'}");
    drop_app(app);
}

static void test_notes_crud_with_pages_and_patch(void **state)
{
    (void)state;
    struct crest_app *app = fresh_app();
    char key[33], out[1024];
    sign_up(app, "cy@example.com", "Cy", key);
    assert_int_equal(call(app, "POST", "/notes", key, "{'title':' one '}", out, sizeof(out)), 201);
    expect_body(out, "{'id':1,'owner_id':1,'title':'one','body':'','done':false}");
    assert_int_equal(
        call(app, "POST", "/notes", key, "{'title':'two','body':'b','done':true}", out, 1024), 201);
    assert_int_equal(call(app, "POST", "/notes", key, "{'title':'three'}", out, 1024), 201);
    assert_int_equal(call(app, "GET", "/notes?offset=1&limit=1", key, NULL, out, 1024), 200);
    expect_body(out, "[{'id':2,'owner_id':1,'title':'two','body':'b','done':true}]");
    assert_int_equal(call(app, "GET", "/notes?limit=101", key, NULL, out, 1024), 422);
    assert_non_null(strstr(out, "\"loc\":[\"query\",\"limit\"]"));
    assert_int_equal(call(app, "PATCH", "/notes/2", key, "{'done':false}", out, 1024), 200);
    expect_body(out, "{'id':2,'owner_id':1,'title':'two','body':'b','done':false}");
    assert_int_equal(call(app, "PATCH", "/notes/2", key, "{'title':''}", out, 1024), 422);
    assert_int_equal(call(app, "PATCH", "/notes/2", key, "{'color':'red'}", out, 1024), 422);
    assert_non_null(strstr(out, "\"extra_forbidden\""));
    assert_int_equal(call(app, "DELETE", "/notes/2", key, NULL, out, 1024), 204);
    assert_int_equal(call(app, "GET", "/notes/2", key, NULL, out, 1024), 404);
    expect_body(out, "{'detail':'Note not found'}");
    assert_int_equal(call(app, "GET", "/notes", key, NULL, out, 1024), 200);
    assert_non_null(strstr(out, "\"title\":\"one\""));
    assert_null(strstr(out, "\"title\":\"two\""));
    drop_app(app);
}

static void test_notes_of_another_user_are_not_found(void **state)
{
    (void)state;
    struct crest_app *app = fresh_app();
    char a[33], b[33], out[512];
    sign_up(app, "a@example.com", "A", a);
    sign_up(app, "b@example.com", "B", b);
    assert_int_equal(call(app, "POST", "/notes", a, "{'title':'mine'}", out, sizeof(out)), 201);
    assert_int_equal(call(app, "GET", "/notes/1", b, NULL, out, sizeof(out)), 404);
    assert_int_equal(call(app, "PATCH", "/notes/1", b, "{'title':'x'}", out, sizeof(out)), 404);
    assert_int_equal(call(app, "DELETE", "/notes/1", b, NULL, out, sizeof(out)), 404);
    assert_int_equal(call(app, "GET", "/notes", b, NULL, out, sizeof(out)), 200);
    expect_body(out, "[]");
    assert_int_equal(call(app, "GET", "/notes/1", a, NULL, out, sizeof(out)), 200);
    drop_app(app);
}

static void test_cors_and_the_openapi_document(void **state)
{
    (void)state;
    struct crest_app *app = fresh_app();
    const char *headers[] = {"Origin: http://localhost:3000",
                             "Access-Control-Request-Method: PATCH",
                             "Access-Control-Request-Headers: authorization"};
    struct crest_test_req r = {
        .method = "OPTIONS", .target = "/notes/1", .headers = headers, .n_headers = 3};
    struct crest_test_response res;
    assert_int_equal(crest_test_send(app, &r, &res), 0);
    assert_int_equal(res.status, 200);
    assert_non_null(crest_test_header(&res, "Access-Control-Allow-Origin").ptr);
    crest_test_response_fini(&res);
    char *doc = malloc(65536);
    assert_int_equal(call(app, "GET", "/openapi.json", NULL, NULL, doc, 65536), 200);
    assert_non_null(strstr(doc, "\"HTTPBearer\":{\"type\":\"http\",\"scheme\":\"bearer\""));
    assert_non_null(strstr(doc, "\"format\":\"email\""));
    assert_non_null(strstr(doc, "\"NotePatch\""));
    assert_non_null(strstr(doc, "{\"name\":\"limit\",\"in\":\"query\""));
    free(doc);
    drop_app(app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_up_answers_the_user_and_a_key),
        cmocka_unit_test(test_keys_are_required_and_checked),
        cmocka_unit_test(test_notes_crud_with_pages_and_patch),
        cmocka_unit_test(test_notes_of_another_user_are_not_found),
        cmocka_unit_test(test_cors_and_the_openapi_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
