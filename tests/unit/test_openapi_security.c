/* tests/unit/test_openapi_security.c: what the OpenAPI document (openapi/openapi.c, issue 16) says
 * of security and of the rest a real API declares: components.securitySchemes for Bearer, Basic
 * and API keys (named as FastAPI names them, or by the app), each operation's security from its
 * own and its app's hooks (none on open routes), a 401 on guarded operations, the responses a
 * route declares (401, 403, 409 with {"detail"}, a schema of its own), header and cookie
 * parameters, and success bodies that are not JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crest.h"
#include "mem/arena.h"
#include "json/json.h"

static enum crest_handler_result nop(struct crest_req *req, void *ud)
{
    (void)ud;
    crest_res_status(req, 200);
    return CREST_DONE;
}

static enum crest_security_result allow(struct crest_req *req, const struct crest_credentials *c,
                                        void *ud)
{
    (void)req, (void)c, (void)ud;
    return CREST_SECURITY_ALLOW;
}

static const struct crest_security bearer = {
    .kind = CREST_SECURITY_HTTP_BEARER, .bearer_format = "JWT", .check = allow};
static const struct crest_security basic = {
    .kind = CREST_SECURITY_HTTP_BASIC, .realm = "r", .check = allow, .description = "Who you are"};
static const struct crest_security key_cookie = {.kind = CREST_SECURITY_API_KEY,
                                                 .in = CREST_IN_COOKIE,
                                                 .param_name = "session",
                                                 .scheme_name = "session_cookie",
                                                 .check = allow};
static const struct crest_security key_query = {
    .kind = CREST_SECURITY_API_KEY, .in = CREST_IN_QUERY, .param_name = "k", .check = allow};
static const struct crest_hook bearer_hook[] = {CREST_SECURITY_HOOK(&bearer)};
static const struct crest_hook two_hooks[] = {CREST_SECURITY_HOOK(&basic),
                                              CREST_SECURITY_HOOK(&key_cookie)};

static const struct crest_field conflict_fields[] = {
    {.name = "detail", .type = CREST_TYPE_STRING, .required = true},
    {.name = "existing_id", .type = CREST_TYPE_INTEGER, .required = true}};
static const struct crest_schema conflict = {
    .name = "Conflict", .fields = conflict_fields, .n_fields = 2};
static const struct crest_doc_response write_responses[] = {
    {.status = 403}, {.status = 409, .description = "Exists already", .schema = &conflict}};
static const struct crest_doc_response own_401[] = {{.status = 401, .description = "No key"}};

static const struct crest_param header_params[] = {
    {.name = "X-Token",
     .in = CREST_IN_HEADER,
     .type = CREST_TYPE_STRING,
     .required = true,
     .min_length = CREST_LIMIT(3)},
    {.name = "X-Count", .in = CREST_IN_HEADER, .type = CREST_TYPE_INTEGER, .le = CREST_BOUND(9)},
    {.name = "theme", .in = CREST_IN_COOKIE, .type = CREST_TYPE_STRING, .default_text = "dark"},
    {.name = "q", .in = CREST_IN_QUERY, .type = CREST_TYPE_STRING},
};

struct doc {
    struct crest_app *app;
    struct crest_test_response res;
    struct mem_arena arena;
    const struct crest_json_value *root;
    _Alignas(16) char arena_first[4096];
};

static int setup(void **state)
{
    const struct crest_route routes[] = {
        {.method = "POST",
         .path = "/notes",
         .handler = nop,
         .hooks = bearer_hook,
         .n_hooks = 1,
         .responses = write_responses,
         .n_responses = 2,
         .status = 201},
        {.method = "GET", .path = "/notes", .handler = nop, .params = header_params, .n_params = 4},
        {.method = "GET",
         .path = "/me",
         .handler = nop,
         .hooks = two_hooks,
         .n_hooks = 2,
         .responses = own_401,
         .n_responses = 1},
        {.method = "GET", .path = "/admin/stats", .handler = nop},
        {.method = "GET", .path = "/page", .handler = nop, .response_type = "text/html"},
        {.method = "GET",
         .path = "/blob",
         .handler = nop,
         .response_type = "application/octet-stream"},
    };
    struct doc *d = calloc(1, sizeof(*d));
    struct crest_json_value *root;
    char err[CREST_ERR_LEN] = "";
    const struct crest_hook admin = {.before = crest_security_before,
                                     .ud = (void *)&key_query,
                                     .security = &key_query,
                                     .prefix = "/admin"};
    d->app = crest_app_new("sec", "1");
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        assert_int_equal(crest_app_add_route(d->app, &routes[i], err), 0);
    assert_int_equal(crest_app_add_hook(d->app, &admin), 0);
    assert_int_equal(crest_app_add_docs_routes(d->app, NULL), 0);
    assert_int_equal(crest_test_request(d->app, "GET", "/openapi.json", NULL, &d->res), 0);
    assert_int_equal(d->res.status, 200);
    mem_arena_init(&d->arena, d->arena_first, sizeof(d->arena_first));
    assert_int_equal(json_parse(d->res.body.ptr, d->res.body.len, &d->arena, &root, NULL, NULL),
                     JSON_PARSE_OK);
    d->root = root;
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    struct doc *d = *state;
    mem_arena_reset(&d->arena);
    crest_test_response_fini(&d->res);
    crest_app_free(d->app);
    free(d);
    return 0;
}

static const struct crest_json_value *at(const struct crest_json_value *v, ...)
{
    va_list ap;
    va_start(ap, v);
    for (const char *k = va_arg(ap, const char *); k && v; k = va_arg(ap, const char *))
        v = crest_json_get(v, k);
    va_end(ap);
    return v;
}

static void assert_json(const struct crest_json_value *v, const char *expected)
{
    struct crest_json *j = crest_json_new();
    assert_non_null(v);
    crest_json_write_value(j, v);
    struct crest_str text = crest_json_text(j);
    if (text.len != strlen(expected) || memcmp(text.ptr, expected, text.len) != 0)
        fail_msg("want %s\n got %.*s", expected, (int)text.len, text.ptr);
    crest_json_free(j);
}

static void test_security_schemes_are_components_in_order_of_first_use(void **state)
{
    struct doc *d = *state;
    assert_json(
        at(d->root, "components", "securitySchemes", NULL),
        "{\"HTTPBearer\":{\"type\":\"http\",\"scheme\":\"bearer\",\"bearerFormat\":\"JWT\"},"
        "\"HTTPBasic\":{\"type\":\"http\",\"scheme\":\"basic\","
        "\"description\":\"Who you are\"},"
        "\"session_cookie\":{\"type\":\"apiKey\",\"in\":\"cookie\",\"name\":\"session\"},"
        "\"APIKeyQuery\":{\"type\":\"apiKey\",\"in\":\"query\",\"name\":\"k\"}}");
}

static void test_operations_list_the_schemes_that_guard_them(void **state)
{
    struct doc *d = *state;
    assert_json(at(d->root, "paths", "/notes", "post", "security", NULL), "[{\"HTTPBearer\":[]}]");
    assert_json(at(d->root, "paths", "/me", "get", "security", NULL),
                "[{\"HTTPBasic\":[]},{\"session_cookie\":[]}]");
    assert_json(at(d->root, "paths", "/admin/stats", "get", "security", NULL),
                "[{\"APIKeyQuery\":[]}]");
    assert_null(at(d->root, "paths", "/notes", "get", "security", NULL));
    assert_null(at(d->root, "paths", "/page", "get", "security", NULL));
}

static void test_guarded_operations_document_401_and_declared_responses(void **state)
{
    struct doc *d = *state;
    const struct crest_json_value *post = at(d->root, "paths", "/notes", "post", "responses", NULL);
    assert_non_null(post);
    const char *want[] = {"201", "401", "403", "409", "503"};
    assert_int_equal(post->len, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(strncmp(post->members[i].key.ptr, want[i], 3), 0);
    assert_json(crest_json_get(post, "401"),
                "{\"description\":\"Not authenticated\",\"content\":{\"application/json\":"
                "{\"schema\":{\"$ref\":\"#/components/schemas/HTTPError\"}}}}");
    assert_json(crest_json_get(post, "403"),
                "{\"description\":\"Forbidden\",\"content\":{\"application/json\":"
                "{\"schema\":{\"$ref\":\"#/components/schemas/HTTPError\"}}}}");
    assert_json(crest_json_get(post, "409"),
                "{\"description\":\"Exists already\",\"content\":{\"application/json\":"
                "{\"schema\":{\"$ref\":\"#/components/schemas/Conflict\"}}}}");
    assert_non_null(at(d->root, "components", "schemas", "Conflict", NULL));
    assert_json(at(d->root, "paths", "/me", "get", "responses", "401", "description", NULL),
                "\"No key\"");
    assert_null(at(d->root, "paths", "/page", "get", "responses", "401", NULL));
}

static void test_header_and_cookie_parameters_are_documented_after_query(void **state)
{
    struct doc *d = *state;
    const struct crest_json_value *list = at(d->root, "paths", "/notes", "get", "parameters", NULL);
    assert_non_null(list);
    assert_int_equal(list->len, 4);
    assert_json(&list->items[0], "{\"name\":\"q\",\"in\":\"query\",\"required\":false,"
                                 "\"schema\":{\"type\":\"string\",\"title\":\"Q\"}}");
    assert_json(&list->items[1],
                "{\"name\":\"X-Token\",\"in\":\"header\",\"required\":true,\"schema\":"
                "{\"type\":\"string\",\"minLength\":3,\"title\":\"X-Token\"}}");
    assert_json(&list->items[2], "{\"name\":\"X-Count\",\"in\":\"header\",\"required\":false,"
                                 "\"schema\":{\"type\":\"integer\",\"maximum\":9,"
                                 "\"title\":\"X-Count\"}}");
    assert_json(&list->items[3], "{\"name\":\"theme\",\"in\":\"cookie\",\"required\":false,"
                                 "\"schema\":{\"type\":\"string\",\"default\":\"dark\","
                                 "\"title\":\"Theme\"}}");
}

static void test_success_bodies_that_are_not_json_say_their_type(void **state)
{
    struct doc *d = *state;
    assert_json(at(d->root, "paths", "/page", "get", "responses", "200", "content", NULL),
                "{\"text/html\":{\"schema\":{\"type\":\"string\"}}}");
    assert_json(at(d->root, "paths", "/blob", "get", "responses", "200", "content", NULL),
                "{\"application/octet-stream\":{\"schema\":{\"type\":\"string\","
                "\"format\":\"binary\"}}}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_security_schemes_are_components_in_order_of_first_use,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_operations_list_the_schemes_that_guard_them, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_guarded_operations_document_401_and_declared_responses,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_header_and_cookie_parameters_are_documented_after_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_success_bodies_that_are_not_json_say_their_type, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
