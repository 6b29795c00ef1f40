/* tests/unit/test_app_hooks.c: hooks around handlers (app/dispatch.c, crest_app_add_hook, issue
 * 16) through the test client: a middleware's after hook on crest's own 404 and 422; an auth
 * dependency on a prefix answering 401 before body validation (so a bad body without a token gets
 * 401, not 422); data a hook attaches for the handler; a hook that waits on a timer and resumes
 * the chain; tag and route hooks; the order of befores and afters; an app without hooks unchanged.
 * Each test builds its own app. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>

#include "crest.h"

static char trace[256]; /* the order hooks ran in */

static void note(const char *what)
{
    strncat(trace, what, sizeof(trace) - strlen(trace) - 1);
}

static enum crest_hook_result mark_before(struct crest_req *req, void *ud)
{
    (void)req;
    note(ud);
    return CREST_HOOK_NEXT;
}

static void mark_after(struct crest_req *req, void *ud)
{
    char what[16];
    snprintf(what, sizeof(what), "/%s", (const char *)ud);
    note(what);
    assert_int_equal(crest_res_header(req, "X-Seen", ud), 0);
}

/* a bearer token check, as an auth dependency: 401 with WWW-Authenticate without the token */
static enum crest_hook_result need_token(struct crest_req *req, void *ud)
{
    struct crest_str auth = crest_req_header(req, "Authorization");
    (void)ud;
    if (!auth.ptr || auth.len != 14 || memcmp(auth.ptr, "Bearer secret1", 14) != 0) {
        assert_int_equal(crest_res_error(req, 401, "Not authenticated"), 0);
        assert_int_equal(crest_res_header(req, "WWW-Authenticate", "Bearer"), 0);
        return CREST_HOOK_DONE;
    }
    assert_int_equal(crest_req_set(req, "user", "alice"), 0);
    return CREST_HOOK_NEXT;
}

static enum crest_handler_result create(struct crest_req *req, void *ud)
{
    const char *user = crest_req_get(req, "user");
    (void)ud;
    struct crest_json *j = crest_res_json(req, 201);
    crest_json_object_begin(j);
    crest_json_key(j, "owner");
    crest_json_string(j, user ? user : "nobody");
    crest_json_object_end(j);
    note("H");
    return CREST_DONE;
}

static const struct crest_field fields[] = {
    {.name = "name", .type = CREST_TYPE_STRING, .required = true},
};
static const struct crest_schema schema = {.name = "Note", .fields = fields, .n_fields = 1};

static struct crest_app *notes_app(void)
{
    struct crest_app *app = crest_app_new("hooks", "1");
    const struct crest_route r = {
        .method = "POST", .path = "/notes", .handler = create, .body = &schema, .tag = "notes"};
    const struct crest_route open = {.method = "GET", .path = "/open", .handler = create};
    const struct crest_route near = {.method = "GET", .path = "/notesx", .handler = create};
    assert_non_null(app);
    assert_int_equal(crest_app_add_route(app, &r, NULL), 0);
    assert_int_equal(crest_app_add_route(app, &open, NULL), 0);
    assert_int_equal(crest_app_add_route(app, &near, NULL), 0);
    trace[0] = '\0';
    return app;
}

static int post(struct crest_app *app, const char *token, const char *body,
                struct crest_test_response *res)
{
    const char *headers[] = {token};
    const struct crest_test_req r = {.method = "POST",
                                     .target = "/notes",
                                     .headers = headers,
                                     .n_headers = token ? 1 : 0,
                                     .body = body};
    assert_int_equal(crest_test_send(app, &r, res), 0);
    return res->status;
}

static void test_hooks_auth_answers_401_before_validation(void **state)
{
    struct crest_app *app = notes_app();
    const struct crest_hook auth = {.before = need_token, .prefix = "/notes"};
    struct crest_test_response res;
    (void)state;

    assert_int_equal(crest_app_add_hook(app, &auth), 0);
    assert_int_equal(post(app, NULL, "{\"bad\":1}", &res), 401); /* not 422 */
    assert_int_equal(crest_test_header(&res, "WWW-Authenticate").len, 6);
    crest_test_response_fini(&res);
    assert_int_equal(post(app, "Authorization: Bearer secret1", "{\"bad\":1}", &res), 422);
    crest_test_response_fini(&res);
    assert_int_equal(post(app, "Authorization: Bearer secret1", "{\"name\":\"n\"}", &res), 201);
    assert_non_null(memmem(res.body.ptr, res.body.len, "alice", 5)); /* attached by the hook */
    crest_test_response_fini(&res);
    assert_int_equal(crest_test_request(app, "GET", "/open", NULL, &res), 0);
    assert_int_equal(res.status, 201); /* no prefix */
    crest_test_response_fini(&res);
    /* a prefix covers whole segments: /notesx is not under /notes */
    assert_int_equal(crest_test_request(app, "GET", "/notesx", NULL, &res), 0);
    assert_int_equal(res.status, 201);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_hooks_after_runs_on_crest_own_errors(void **state)
{
    struct crest_app *app = notes_app();
    const struct crest_hook cors = {.after = mark_after, .ud = "cors"};
    struct crest_test_response res;
    static const char *const targets[][2] = {
        {"GET", "/missing"}, {"DELETE", "/notes"}, {"POST", "/notes"}};
    static const int statuses[] = {404, 405, 422};
    (void)state;

    assert_int_equal(crest_app_add_hook(app, &cors), 0);
    for (size_t i = 0; i < 3; i++) {
        const struct crest_test_req r = {
            .method = targets[i][0], .target = targets[i][1], .body = i == 2 ? "{}" : NULL};
        assert_int_equal(crest_test_send(app, &r, &res), 0);
        assert_int_equal(res.status, statuses[i]);
        assert_int_equal(crest_test_header(&res, "X-Seen").len, 4);
        crest_test_response_fini(&res);
    }
    crest_app_free(app);
}

static void test_hooks_run_in_order_and_afters_in_reverse(void **state)
{
    struct crest_app *app = notes_app();
    const struct crest_hook a = {.before = mark_before, .after = mark_after, .ud = "a"};
    const struct crest_hook b = {
        .before = mark_before, .after = mark_after, .ud = "b", .prefix = "/notes"};
    const struct crest_hook c = {
        .before = mark_before, .after = mark_after, .ud = "c", .tag = "notes"};
    struct crest_test_response res;
    (void)state;

    assert_int_equal(crest_app_add_hook(app, &b), 0); /* declared before a: a still runs first */
    assert_int_equal(crest_app_add_hook(app, &a), 0);
    assert_int_equal(crest_app_add_hook(app, &c), 0);
    assert_int_equal(post(app, NULL, "{\"name\":\"n\"}", &res), 201);
    assert_string_equal(trace, "abcH/c/b/a");
    crest_test_response_fini(&res);
    trace[0] = '\0';
    assert_int_equal(crest_test_request(app, "GET", "/open", NULL, &res), 0);
    assert_int_equal(res.status, 201);
    assert_string_equal(trace, "aH/a"); /* neither the prefix nor the tag */
    crest_test_response_fini(&res);
    trace[0] = '\0';
    assert_int_equal(crest_test_request(app, "GET", "/nowhere", NULL, &res), 0);
    assert_int_equal(res.status, 404);
    assert_string_equal(trace, "a/a"); /* before routing, then the 404 on the way out */
    crest_test_response_fini(&res);
    crest_app_free(app);
}

/* ---- a hook that waits ---- */

static void resume(struct crest_req *req, void *ud)
{
    (void)ud;
    note("T");
    assert_int_equal(crest_req_set(req, "user", "bob"), 0);
    crest_req_next(req);
}

static enum crest_hook_result slow_lookup(struct crest_req *req, void *ud)
{
    (void)ud;
    assert_int_equal(crest_req_timer(req, 2, resume, NULL), 0);
    return CREST_HOOK_PENDING;
}

static enum crest_hook_result instant_next(struct crest_req *req, void *ud)
{
    (void)ud;
    crest_req_next(req); /* inside the hook: taken as NEXT */
    return CREST_HOOK_PENDING;
}

static void test_hooks_pending_hook_resumes_the_chain(void **state)
{
    struct crest_app *app = notes_app();
    const struct crest_hook wait = {.before = slow_lookup, .prefix = "/notes"};
    const struct crest_hook now = {.before = instant_next};
    struct crest_test_response res;
    (void)state;

    assert_int_equal(crest_app_add_hook(app, &now), 0);
    assert_int_equal(crest_app_add_hook(app, &wait), 0);
    assert_int_equal(post(app, NULL, "{\"name\":\"n\"}", &res), 201);
    assert_string_equal(trace, "TH");
    assert_non_null(memmem(res.body.ptr, res.body.len, "bob", 3));
    crest_test_response_fini(&res);
    trace[0] = '\0';
    assert_int_equal(post(app, NULL, "{}", &res), 422); /* validation after the resumed hook */
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_hooks_route_own_and_bad_arguments(void **state)
{
    struct crest_app *app = crest_app_new("hooks", "1");
    const struct crest_hook own[] = {{.before = need_token}};
    const struct crest_route r = {
        .method = "GET", .path = "/me", .handler = create, .hooks = own, .n_hooks = 1};
    const struct crest_hook empty = {0};
    struct crest_test_response res;
    (void)state;

    assert_int_equal(crest_app_add_route(app, &r, NULL), 0);
    assert_int_equal(crest_app_add_hook(app, &empty), -EINVAL);
    assert_int_equal(crest_test_request(app, "GET", "/me", NULL, &res), 0);
    assert_int_equal(res.status, 401);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hooks_auth_answers_401_before_validation),
        cmocka_unit_test(test_hooks_after_runs_on_crest_own_errors),
        cmocka_unit_test(test_hooks_run_in_order_and_afters_in_reverse),
        cmocka_unit_test(test_hooks_pending_hook_resumes_the_chain),
        cmocka_unit_test(test_hooks_route_own_and_bad_arguments),
    };
    return cmocka_run_group_tests_name("app_hooks", tests, NULL, NULL);
}
