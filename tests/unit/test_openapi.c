/* tests/unit/test_app_openapi.c: the OpenAPI document (app/openapi.c) served at /openapi.json,
 * read back with crest's own JSON parser: info, paths and methods, FastAPI-like operationIds,
 * parameters with bounds as 3.1 numbers, request bodies, responses (success, 404, 422, 503),
 * component schemas (nullable as anyOf, nested $refs, array items, embedded defaults, FastAPI's
 * validation error shapes), docs routes left out, and a document rendered only once. */
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
#include "mem/arena.h"
#include "mem/mem.h"
#include "openapi/openapi.h"
#include "json/json.h"

static enum crest_handler_result nop(struct crest_req *req, void *ud)
{
    (void)ud;
    crest_res_status(req, 200);
    return CREST_DONE;
}

/* ---- an app like the items service, with a nested schema ---- */

static const struct crest_field tag_rule = {
    .type = CREST_TYPE_STRING, .min_length = CREST_LIMIT(1), .max_length = CREST_LIMIT(50)};

static const struct crest_field point_fields[] = {
    {.name = "x", .type = CREST_TYPE_NUMBER, .required = true},
    {.name = "y", .type = CREST_TYPE_NUMBER, .default_json = "0.5"},
};
static const struct crest_schema point = {.name = "Point", .fields = point_fields, .n_fields = 2};

static const struct crest_field point_rule = {.type = CREST_TYPE_OBJECT, .object = &point};

static const struct crest_field thing_in_fields[] = {
    {.name = "name",
     .type = CREST_TYPE_STRING,
     .required = true,
     .min_length = CREST_LIMIT(1),
     .max_length = CREST_LIMIT(100),
     .description = "What it is called"},
    {.name = "note",
     .type = CREST_TYPE_STRING,
     .nullable = true,
     .default_json = "null",
     .max_length = CREST_LIMIT(1000)},
    {.name = "price", .type = CREST_TYPE_NUMBER, .required = true, .gt = CREST_BOUND(0)},
    {.name = "ratio", .type = CREST_TYPE_NUMBER, .lt = CREST_BOUND(1.5), .le = CREST_BOUND(2)},
    {.name = "tags",
     .type = CREST_TYPE_ARRAY,
     .default_json = "[\"a\", \"b\"]",
     .max_length = CREST_LIMIT(16),
     .items = &tag_rule},
    {.name = "at", .type = CREST_TYPE_OBJECT, .required = true, .object = &point},
    {.name = "path", .type = CREST_TYPE_ARRAY, .items = &point_rule},
};
static const struct crest_schema thing_in = {
    .name = "ThingIn", .fields = thing_in_fields, .n_fields = 7};

static const struct crest_field thing_fields[] = {
    {.name = "id", .type = CREST_TYPE_INTEGER, .required = true},
    {.name = "name", .type = CREST_TYPE_STRING, .required = true},
};
static const struct crest_schema thing = {.name = "Thing", .fields = thing_fields, .n_fields = 2};

static const struct crest_param list_params[] = {
    {.name = "offset",
     .in = CREST_IN_QUERY,
     .type = CREST_TYPE_INTEGER,
     .default_text = "0",
     .ge = CREST_BOUND(0)},
    {.name = "limit",
     .in = CREST_IN_QUERY,
     .type = CREST_TYPE_INTEGER,
     .default_text = "100",
     .ge = CREST_BOUND(1),
     .le = CREST_BOUND(1000),
     .description = "How many"},
    {.name = "q",
     .in = CREST_IN_QUERY,
     .type = CREST_TYPE_STRING,
     .required = true,
     .min_length = CREST_LIMIT(2)},
    {.name = "fast", .in = CREST_IN_QUERY, .type = CREST_TYPE_BOOLEAN, .default_text = "yes"},
};

static const struct crest_param path_params[] = {
    {.name = "thing_id", .in = CREST_IN_PATH, .type = CREST_TYPE_INTEGER, .ge = CREST_BOUND(1)},
};

static struct crest_app *make_app(void)
{
    const struct crest_route routes[] = {
        {.method = "POST",
         .path = "/things",
         .handler = nop,
         .body = &thing_in,
         .status = 201,
         .response = &thing,
         .summary = "Create a thing",
         .tag = "things"},
        {.method = "GET",
         .path = "/things",
         .handler = nop,
         .params = list_params,
         .n_params = 4,
         .response = &thing,
         .response_is_array = true,
         .summary = "List things",
         .description = "Paged, oldest first.",
         .tag = "things"},
        {.method = "GET",
         .path = "/things/{thing_id:int}",
         .handler = nop,
         .params = path_params,
         .n_params = 1,
         .response = &thing,
         .summary = "Read a thing",
         .tag = "things"},
        {.method = "DELETE", .path = "/things/{thing_id:int}", .handler = nop, .status = 204},
        {.method = "GET", .path = "/by-name/{name}", .handler = nop},
        {.method = "GET", .path = "/b_c", .handler = nop, .summary = "a"},
        {.method = "GET", .path = "/c", .handler = nop, .summary = "a b"},
        {.method = "GET", .path = "/", .handler = nop},
    };
    struct crest_app *app = crest_app_new("Things <API>", "2.0.1");
    char err[CREST_ERR_LEN] = "";
    assert_non_null(app);
    crest_app_set_description(app, "All the *things*.");
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        assert_int_equal(crest_app_add_route(app, &routes[i], err), 0);
    assert_int_equal(crest_app_add_docs_routes(app, NULL), 0);
    return app;
}

/* ---- reading the document back ---- */

struct doc {
    struct crest_app *app;
    struct crest_test_response res;
    struct mem_arena arena;
    const struct crest_json_value *root;
    _Alignas(16) char arena_first[4096];
};

static int setup(void **state)
{
    struct doc *d = calloc(1, sizeof(*d));
    struct crest_json_value *root;
    d->app = make_app();
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

/* The value at a path of keys (NULL-terminated), or NULL. */
static const struct crest_json_value *at(const struct crest_json_value *v, ...)
{
    va_list ap;
    va_start(ap, v);
    for (const char *k = va_arg(ap, const char *); k && v; k = va_arg(ap, const char *))
        v = crest_json_get(v, k);
    va_end(ap);
    return v;
}

static void assert_string(const struct crest_json_value *v, const char *expected)
{
    assert_non_null(v);
    assert_int_equal(v->type, CREST_JSON_STRING);
    assert_string_equal(v->string, expected);
}

static void assert_number(const struct crest_json_value *v, double expected)
{
    assert_non_null(v);
    assert_int_equal(v->type, CREST_JSON_NUMBER);
    assert_true(v->number == expected);
}

/* The value re-serialized, for comparing whole shapes. */
static void assert_json(const struct crest_json_value *v, const char *expected)
{
    struct crest_json *j = crest_json_new();
    assert_non_null(v);
    crest_json_write_value(j, v);
    struct crest_str text = crest_json_text(j);
    assert_int_equal(text.len, strlen(expected));
    assert_memory_equal(text.ptr, expected, text.len);
    crest_json_free(j);
}

static const struct crest_json_value *param(const struct crest_json_value *op, const char *name)
{
    const struct crest_json_value *list = crest_json_get(op, "parameters");
    assert_non_null(list);
    for (uint32_t i = 0; i < list->len; i++)
        if (strcmp(crest_json_get(&list->items[i], "name")->string, name) == 0)
            return &list->items[i];
    fail_msg("no parameter %s", name);
    return NULL;
}

/* ---- tests ---- */

static void test_openapi_document_is_3_1_with_the_apps_info(void **state)
{
    const struct doc *d = *state;
    assert_string(at(d->root, "openapi", NULL), "3.1.0");
    assert_string(at(d->root, "info", "title", NULL), "Things <API>");
    assert_string(at(d->root, "info", "version", NULL), "2.0.1");
    assert_string(at(d->root, "info", "description", NULL), "All the *things*.");
    assert_true(crest_test_header(&d->res, "Content-Type").len > 0);
    assert_memory_equal(crest_test_header(&d->res, "Content-Type").ptr, "application/json", 16);
}

static void test_openapi_lists_every_path_and_method_but_its_own(void **state)
{
    const struct doc *d = *state;
    const struct crest_json_value *paths = at(d->root, "paths", NULL);
    static const char *const expected[] = {
        "/things", "/things/{thing_id}", "/by-name/{name}", "/b_c", "/c", "/"};
    assert_non_null(paths);
    assert_int_equal(paths->len, sizeof(expected) / sizeof(expected[0]));
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
        assert_non_null(crest_json_get(paths, expected[i]));
    assert_null(crest_json_get(paths, "/openapi.json"));
    assert_non_null(at(paths, "/things", "get", NULL));
    assert_non_null(at(paths, "/things", "post", NULL));
    assert_int_equal(at(paths, "/things", NULL)->len, 2);
    assert_non_null(at(paths, "/things/{thing_id}", "get", NULL));
    assert_non_null(at(paths, "/things/{thing_id}", "delete", NULL));
}

static void test_openapi_operation_ids_are_fastapi_like_and_unique(void **state)
{
    const struct doc *d = *state;
    const struct crest_json_value *paths = at(d->root, "paths", NULL);
    assert_string(at(paths, "/things", "post", "operationId", NULL), "create_a_thing_things_post");
    assert_string(at(paths, "/things/{thing_id}", "get", "operationId", NULL),
                  "read_a_thing_things__thing_id__get");
    assert_string(at(paths, "/things/{thing_id}", "delete", "operationId", NULL),
                  "delete_things__thing_id__delete");
    assert_string(at(paths, "/", "get", "operationId", NULL), "get__get");
    /* "a" + "/b_c" and "a b" + "/c" are both a_b_c_get: the second route gets a suffix */
    const char *one = at(paths, "/b_c", "get", "operationId", NULL)->string;
    const char *two = at(paths, "/c", "get", "operationId", NULL)->string;
    assert_true((strcmp(one, "a_b_c_get") == 0 && strcmp(two, "a_b_c_get_2") == 0) ||
                (strcmp(two, "a_b_c_get") == 0 && strcmp(one, "a_b_c_get_2") == 0));
}

static void test_openapi_operation_carries_summary_description_and_tags(void **state)
{
    const struct doc *d = *state;
    const struct crest_json_value *op = at(d->root, "paths", "/things", "get", NULL);
    assert_string(crest_json_get(op, "summary"), "List things");
    assert_string(crest_json_get(op, "description"), "Paged, oldest first.");
    assert_json(crest_json_get(op, "tags"), "[\"things\"]");
    op = at(d->root, "paths", "/things/{thing_id}", "delete", NULL);
    assert_null(crest_json_get(op, "summary"));
    assert_null(crest_json_get(op, "tags"));
}

static void test_openapi_parameters_carry_types_bounds_and_defaults(void **state)
{
    const struct doc *d = *state;
    const struct crest_json_value *op = at(d->root, "paths", "/things", "get", NULL);
    assert_json(param(op, "limit"),
                "{\"name\":\"limit\",\"in\":\"query\",\"required\":false,\"description\":\"How "
                "many\",\"schema\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,"
                "\"default\":100,\"title\":\"Limit\"}}");
    assert_json(param(op, "q"), "{\"name\":\"q\",\"in\":\"query\",\"required\":true,\"schema\":{"
                                "\"type\":\"string\",\"minLength\":2,\"title\":\"Q\"}}");
    assert_json(at(param(op, "fast"), "schema", "default", NULL), "true");
    op = at(d->root, "paths", "/things/{thing_id}", "get", NULL);
    assert_json(param(op, "thing_id"),
                "{\"name\":\"thing_id\",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":"
                "\"integer\",\"minimum\":1,\"title\":\"Thing Id\"}}");
    op = at(d->root, "paths", "/by-name/{name}", "get", NULL);
    assert_string(at(param(op, "name"), "schema", "type", NULL), "string");
    assert_null(crest_json_get(at(d->root, "paths", "/c", "get", NULL), "parameters"));
}

static void test_openapi_request_body_refers_to_its_component(void **state)
{
    const struct doc *d = *state;
    assert_json(at(d->root, "paths", "/things", "post", "requestBody", NULL),
                "{\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/"
                "schemas/ThingIn\"}}},\"required\":true}");
    assert_null(at(d->root, "paths", "/things", "get", "requestBody", NULL));
}

static void test_openapi_responses_follow_status_params_and_validation(void **state)
{
    const struct doc *d = *state;
    const struct crest_json_value *paths = at(d->root, "paths", NULL);
    const struct crest_json_value *r = at(paths, "/things", "post", "responses", NULL);
    assert_json(crest_json_get(r, "201"),
                "{\"description\":\"Successful Response\",\"content\":{\"application/json\":{"
                "\"schema\":{\"$ref\":\"#/components/schemas/Thing\"}}}}");
    assert_null(crest_json_get(r, "404")); /* no path parameter */
    assert_json(at(r, "422", "content", "application/json", "schema", NULL),
                "{\"$ref\":\"#/components/schemas/HTTPValidationError\"}");
    assert_json(at(r, "503", "content", "application/json", "schema", NULL),
                "{\"$ref\":\"#/components/schemas/HTTPError\"}");
    assert_json(at(paths, "/things", "get", "responses", "200", "content", "application/json",
                   "schema", NULL),
                "{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Thing\"}}");
    r = at(paths, "/things/{thing_id}", "delete", "responses", NULL);
    assert_json(crest_json_get(r, "204"), "{\"description\":\"Successful Response\"}");
    assert_non_null(crest_json_get(r, "404"));
    assert_non_null(crest_json_get(r, "422")); /* {thing_id:int} is checked */
    r = at(paths, "/c", "get", "responses", NULL);
    assert_json(at(r, "200", "content", "application/json", "schema", NULL), "{}");
    assert_null(crest_json_get(r, "422")); /* nothing to validate */
    assert_non_null(crest_json_get(r, "503"));
}

static void test_openapi_components_describe_fields_like_pydantic(void **state)
{
    const struct doc *d = *state;
    const struct crest_json_value *s = at(d->root, "components", "schemas", NULL);
    const struct crest_json_value *p = at(s, "ThingIn", "properties", NULL);
    assert_json(crest_json_get(p, "name"),
                "{\"type\":\"string\",\"minLength\":1,\"maxLength\":100,\"title\":\"Name\","
                "\"description\":\"What it is called\"}");
    assert_json(crest_json_get(p, "note"),
                "{\"anyOf\":[{\"type\":\"string\",\"maxLength\":1000},{\"type\":\"null\"}],"
                "\"title\":\"Note\",\"default\":null}");
    assert_json(crest_json_get(p, "price"),
                "{\"type\":\"number\",\"exclusiveMinimum\":0,\"title\":\"Price\"}");
    assert_json(crest_json_get(p, "ratio"), "{\"type\":\"number\",\"exclusiveMaximum\":1.5,"
                                            "\"maximum\":2,\"title\":\"Ratio\"}");
    assert_json(crest_json_get(p, "tags"),
                "{\"type\":\"array\",\"maxItems\":16,\"items\":{\"type\":\"string\","
                "\"minLength\":1,\"maxLength\":50},\"title\":\"Tags\",\"default\":[\"a\",\"b\"]}");
    assert_json(crest_json_get(p, "at"), "{\"$ref\":\"#/components/schemas/Point\"}");
    assert_json(crest_json_get(p, "path"),
                "{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Point\"},"
                "\"title\":\"Path\"}");
    assert_json(at(s, "ThingIn", "required", NULL), "[\"name\",\"price\",\"at\"]");
    assert_string(at(s, "ThingIn", "type", NULL), "object");
    assert_string(at(s, "ThingIn", "title", NULL), "ThingIn");
    assert_number(at(s, "Point", "properties", "y", "default", NULL), 0.5);
}

static void test_openapi_components_are_sorted_with_fastapis_error_shapes(void **state)
{
    const struct doc *d = *state;
    const struct crest_json_value *s = at(d->root, "components", "schemas", NULL);
    static const char *const names[] = {"HTTPError", "HTTPValidationError", "Point", "Thing",
                                        "ThingIn",   "ValidationError"};
    assert_non_null(s);
    assert_int_equal(s->len, sizeof(names) / sizeof(names[0]));
    for (size_t i = 0; i < s->len; i++)
        assert_int_equal(s->members[i].key.len, strlen(names[i]));
    for (size_t i = 0; i < s->len; i++)
        assert_memory_equal(s->members[i].key.ptr, names[i], strlen(names[i]));
    assert_json(crest_json_get(s, "ValidationError"),
                "{\"properties\":{\"loc\":{\"items\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":"
                "\"integer\"}]},\"type\":\"array\",\"title\":\"Location\"},\"msg\":{\"type\":"
                "\"string\",\"title\":\"Message\"},\"type\":{\"type\":\"string\",\"title\":"
                "\"Error Type\"}},\"type\":\"object\",\"required\":[\"loc\",\"msg\",\"type\"],"
                "\"title\":\"ValidationError\"}");
    assert_json(crest_json_get(s, "HTTPValidationError"),
                "{\"properties\":{\"detail\":{\"items\":{\"$ref\":\"#/components/schemas/"
                "ValidationError\"},\"type\":\"array\",\"title\":\"Detail\"}},\"type\":\"object\","
                "\"title\":\"HTTPValidationError\"}");
}

static void test_openapi_is_rendered_once_and_served_from_memory(void **state)
{
    const struct doc *d = *state;
    struct crest_test_response again;
    struct mem_tag_stats before, after;

    mem_stats(MEM_APP, &before);
    assert_int_equal(crest_test_request(d->app, "GET", "/openapi.json", NULL, &again), 0);
    mem_stats(MEM_APP, &after);
    assert_int_equal(again.status, 200);
    assert_int_equal(again.body.len, d->res.body.len);
    assert_memory_equal(again.body.ptr, d->res.body.ptr, again.body.len);
    assert_int_equal(after.total_blocks, before.total_blocks); /* nothing rendered again */
    crest_test_response_fini(&again);
}

static void test_openapi_without_docs_routes_is_not_served(void **state)
{
    struct crest_app *app = crest_app_new("t", "1");
    struct crest_route r = {.method = "GET", .path = "/x", .handler = nop};
    struct crest_test_response res;
    (void)state;
    assert_int_equal(crest_app_add_route(app, &r, NULL), 0);
    assert_int_equal(crest_test_request(app, "GET", "/openapi.json", NULL, &res), 0);
    assert_int_equal(res.status, 404);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_openapi_route_with_a_bad_response_default_is_refused(void **state)
{
    static const struct crest_field f[] = {
        {.name = "a", .type = CREST_TYPE_INTEGER, .default_json = "{oops"}};
    static const struct crest_schema bad = {.name = "Bad", .fields = f, .n_fields = 1};
    struct crest_app *app = crest_app_new("t", "1");
    struct crest_route r = {.method = "GET", .path = "/x", .handler = nop, .response = &bad};
    char err[CREST_ERR_LEN] = "";
    (void)state;
    assert_int_equal(crest_app_add_route(app, &r, err), -EINVAL);
    assert_non_null(strstr(err, "a"));
    crest_app_free(app);
}

static void test_openapi_operation_id_maps_every_other_byte_to_underscore(void **state)
{
    char id[OPENAPI_ID_MAX];
    (void)state;
    openapi_operation_id("Hello, World! (JSON)", "GET", "/json", id);
    assert_string_equal(id, "hello__world___json__json_get");
    openapi_operation_id(NULL, "PATCH", "/items/{item_id}", id);
    assert_string_equal(id, "patch_items__item_id__patch");
    openapi_operation_id("caf\xc3\xa9", "GET", "/", id);
    assert_string_equal(id, "caf____get");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_openapi_document_is_3_1_with_the_apps_info, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_openapi_lists_every_path_and_method_but_its_own, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_openapi_operation_ids_are_fastapi_like_and_unique,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_openapi_operation_carries_summary_description_and_tags,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_openapi_parameters_carry_types_bounds_and_defaults,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_openapi_request_body_refers_to_its_component, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_openapi_responses_follow_status_params_and_validation,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_openapi_components_describe_fields_like_pydantic,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_openapi_components_are_sorted_with_fastapis_error_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_openapi_is_rendered_once_and_served_from_memory, setup,
                                        teardown),
        cmocka_unit_test(test_openapi_without_docs_routes_is_not_served),
        cmocka_unit_test(test_openapi_route_with_a_bad_response_default_is_refused),
        cmocka_unit_test(test_openapi_operation_id_maps_every_other_byte_to_underscore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
