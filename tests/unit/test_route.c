/* tests/unit/test_app_router.c: route templates and matching (app/router.c): priority of static
 * segments over parameters, parameter capture and percent-decoding, 404/405/400, and the templates
 * route_table_add refuses. Each test builds its own router and arena. */
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
#include "route/route.h"

/* route_compile then route_table_take, as crest_app_add_route does (less the validation) */
static int table_add(struct route_table *r, const struct crest_route *def, char *err)
{
    struct route route;
    int rc = route_compile(&route, def, err);
    return rc ? rc : route_table_take(r, &route, err);
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static enum crest_handler_result handler_a(struct crest_req *req, void *ud)
{
    (void)req;
    (void)ud;
    return CREST_DONE;
}

struct fixture {
    struct route_table router;
    struct mem_arena arena;
    _Alignas(16) char arena_first[256];
    struct route_match match;
    int64_t router_bytes_before;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct mem_tag_stats st;

    if (!f)
        return -1;
    mem_arena_init(&f->arena, f->arena_first, sizeof(f->arena_first));
    mem_stats(MEM_ROUTER, &st);
    f->router_bytes_before = st.live_bytes;
    *state = f;
    return 0;
}

/* Frees the router and checks that every MEM_ROUTER byte it took came back. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    struct mem_tag_stats st;

    route_table_fini(&f->router);
    mem_arena_reset(&f->arena);
    mem_stats(MEM_ROUTER, &st);
    assert_int_equal(st.live_bytes, f->router_bytes_before);
    free(f);
    return 0;
}

static int add(struct fixture *f, const char *method, const char *path, char *err)
{
    struct crest_route def = {.method = method, .path = path, .handler = handler_a};
    return table_add(&f->router, &def, err);
}

static void add_ok(struct fixture *f, const char *method, const char *path)
{
    char err[CREST_ERR_LEN] = "";
    int rc = add(f, method, path, err);
    if (rc != 0)
        fail_msg("adding %s %s: %d (%s)", method, path, rc, err);
}

static const struct route_match *match(struct fixture *f, uint8_t method, const char *path)
{
    route_table_match(&f->router, method, (struct crest_str){path, strlen(path)}, &f->arena,
                      &f->match);
    return &f->match;
}

/* The route found for method and path is the one declared with template `want`. */
static void expect_route(struct fixture *f, uint8_t method, const char *path, const char *want)
{
    const struct route_match *m = match(f, method, path);
    if (!m->route)
        fail_msg("%s: no route (status %u), wanted %s", path, m->status, want);
    assert_int_equal(m->status, 0);
    assert_string_equal(m->route->def.path, want);
}

static void expect_status(struct fixture *f, uint8_t method, const char *path, uint16_t status)
{
    const struct route_match *m = match(f, method, path);
    assert_null(m->route);
    assert_int_equal(m->status, status);
}

static void expect_param(const struct route_match *m, uint8_t k, const char *name, uint8_t kind,
                         const char *value, size_t value_len)
{
    assert_true(k < m->n_params);
    const struct route_param *p = &m->params[k];
    assert_int_equal(p->segment->len, strlen(name));
    assert_memory_equal(p->segment->text, name, strlen(name));
    assert_int_equal(p->segment->kind, kind);
    assert_int_equal(p->value.len, value_len);
    assert_memory_equal(p->value.ptr, value, value_len);
}

/* ---- priority ---- */

static void test_router_static_beats_parameter_declared_first(void **state)
{
    struct fixture *f = *state;

    add_ok(f, "GET", "/items/{id}");
    add_ok(f, "GET", "/items/latest");
    expect_route(f, CREST_METHOD_GET, "/items/latest", "/items/latest");
    expect_route(f, CREST_METHOD_GET, "/items/late", "/items/{id}");
    expect_route(f, CREST_METHOD_GET, "/items/latestx", "/items/{id}");
}

static void test_router_static_beats_parameter_declared_last(void **state)
{
    struct fixture *f = *state;

    add_ok(f, "GET", "/items/latest");
    add_ok(f, "GET", "/items/{id}");
    expect_route(f, CREST_METHOD_GET, "/items/latest", "/items/latest");
    expect_route(f, CREST_METHOD_GET, "/items/7", "/items/{id}");
}

static void test_router_static_beats_int_parameter(void **state)
{
    struct fixture *f = *state;

    add_ok(f, "GET", "/items/{item_id:int}");
    add_ok(f, "GET", "/items/0");
    expect_route(f, CREST_METHOD_GET, "/items/0", "/items/0");
    expect_route(f, CREST_METHOD_GET, "/items/1", "/items/{item_id:int}");
}

/* At the first segment where two templates differ, the static one wins, whatever follows. */
static void test_router_earliest_static_segment_wins(void **state)
{
    struct fixture *f = *state;

    add_ok(f, "GET", "/a/{x}/c");
    add_ok(f, "GET", "/a/b/{y}");
    expect_route(f, CREST_METHOD_GET, "/a/b/c", "/a/b/{y}");
    expect_route(f, CREST_METHOD_GET, "/a/z/c", "/a/{x}/c");
    expect_status(f, CREST_METHOD_GET, "/a/z/d", 404);
}

/* Static-first is per method: a static GET route does not hide a parameterized POST one. */
static void test_router_falls_through_static_route_of_other_method(void **state)
{
    struct fixture *f = *state;

    add_ok(f, "GET", "/items/latest");
    add_ok(f, "POST", "/items/{id}");
    expect_route(f, CREST_METHOD_POST, "/items/latest", "/items/{id}");
    expect_param(&f->match, 0, "id", ROUTE_SEG_STR, "latest", 6);
    expect_route(f, CREST_METHOD_GET, "/items/latest", "/items/latest");
}

static void test_router_matches_root(void **state)
{
    struct fixture *f = *state;

    add_ok(f, "GET", "/");
    add_ok(f, "GET", "/a");
    expect_route(f, CREST_METHOD_GET, "/", "/");
    expect_route(f, CREST_METHOD_GET, "/a", "/a");
    expect_status(f, CREST_METHOD_GET, "", 404);
    expect_status(f, CREST_METHOD_GET, "a", 404);
}

/* ---- parameters ---- */

static void test_router_captures_int_and_str_parameters(void **state)
{
    struct fixture *f = *state;
    const struct route_match *m;

    add_ok(f, "GET", "/users/{name}/items/{item_id:int}");
    expect_route(f, CREST_METHOD_GET, "/users/alice/items/42", "/users/{name}/items/{item_id:int}");
    m = &f->match;
    assert_int_equal(m->n_params, 2);
    expect_param(m, 0, "name", ROUTE_SEG_STR, "alice", 5);
    expect_param(m, 1, "item_id", ROUTE_SEG_INT, "42", 2);
}

static void test_router_treats_explicit_str_type_as_str(void **state)
{
    struct fixture *f = *state;

    add_ok(f, "GET", "/u/{name:str}");
    expect_route(f, CREST_METHOD_GET, "/u/bob", "/u/{name:str}");
    expect_param(&f->match, 0, "name", ROUTE_SEG_STR, "bob", 3);
}

/* Whether an int parameter holds an integer is checked by dispatch (422), not by routing. */
static void test_router_matches_int_parameter_with_any_text(void **state)
{
    struct fixture *f = *state;

    add_ok(f, "GET", "/items/{item_id:int}");
    expect_route(f, CREST_METHOD_GET, "/items/abc", "/items/{item_id:int}");
    expect_param(&f->match, 0, "item_id", ROUTE_SEG_INT, "abc", 3);
}

static void test_router_never_matches_empty_parameter(void **state)
{
    struct fixture *f = *state;

    add_ok(f, "GET", "/users/{name}");
    add_ok(f, "GET", "/users/{name}/x");
    expect_status(f, CREST_METHOD_GET, "/users/", 404);
    expect_status(f, CREST_METHOD_GET, "/users//x", 404);
}

static void test_router_percent_decodes_parameters(void **state)
{
    struct fixture *f = *state;

    add_ok(f, "GET", "/users/{name}");
    expect_route(f, CREST_METHOD_GET, "/users/john%20doe", "/users/{name}");
    expect_param(&f->match, 0, "name", ROUTE_SEG_STR, "john doe", 8);
    expect_route(f, CREST_METHOD_GET, "/users/caf%C3%a9", "/users/{name}");
    expect_param(&f->match, 0, "name", ROUTE_SEG_STR, "caf\xc3\xa9", 5);
    /* '+' is a space only in form-encoded query text, never in a path */
    expect_route(f, CREST_METHOD_GET, "/users/a+b", "/users/{name}");
    expect_param(&f->match, 0, "name", ROUTE_SEG_STR, "a+b", 3);
}

static void test_router_keeps_encoded_slash_inside_its_segment(void **state)
{
    struct fixture *f = *state;

    add_ok(f, "GET", "/files/{name}");
    add_ok(f, "GET", "/files/{dir}/{name}");
    expect_route(f, CREST_METHOD_GET, "/files/a%2Fb", "/files/{name}");
    expect_param(&f->match, 0, "name", ROUTE_SEG_STR, "a/b", 3);
    expect_route(f, CREST_METHOD_GET, "/files/a/b", "/files/{dir}/{name}");
}

static void test_router_percent_decodes_static_segments(void **state)
{
    struct fixture *f = *state;

    add_ok(f, "GET", "/caf\xc3\xa9/menu");
    expect_route(f, CREST_METHOD_GET, "/caf%C3%A9/menu", "/caf\xc3\xa9/menu");
    expect_route(f, CREST_METHOD_GET, "/%63af\xc3\xa9/m%65nu", "/caf\xc3\xa9/menu");
}

static void test_router_answers_400_to_malformed_percent_encoding(void **state)
{
    static const char *const paths[] = {
        "/users/%zz", "/users/%2", "/users/abc%", "/users/%", "/users/%g0", "/users/%0g",
    };
    struct fixture *f = *state;

    add_ok(f, "GET", "/users/{name}");
    for (size_t k = 0; k < ARRAY_LEN(paths); k++)
        expect_status(f, CREST_METHOD_GET, paths[k], 400);
}

/* A decoded NUL could not reach a C string consumer faithfully: refused like bad encoding. */
static void test_router_answers_400_to_encoded_nul(void **state)
{
    struct fixture *f = *state;

    add_ok(f, "GET", "/users/{name}");
    expect_status(f, CREST_METHOD_GET, "/users/%00", 400);
    expect_status(f, CREST_METHOD_GET, "/users/a%00b", 400);
}

/* Bad encoding is refused even where no route could match the path. */
static void test_router_answers_400_to_bad_encoding_on_unknown_path(void **state)
{
    struct fixture *f = *state;

    add_ok(f, "GET", "/a");
    expect_status(f, CREST_METHOD_GET, "/nowhere/%zz", 400);
}

/* ---- 404 and 405 ---- */

static void test_router_answers_404_to_unknown_path(void **state)
{
    struct fixture *f = *state;
    const struct route_match *m;

    add_ok(f, "GET", "/items");
    m = match(f, CREST_METHOD_GET, "/nothing");
    assert_null(m->route);
    assert_int_equal(m->status, 404);
    assert_int_equal(m->allow, 0);
    expect_status(f, CREST_METHOD_GET, "/items/1", 404);
    expect_status(f, CREST_METHOD_GET, "/Items", 404);
}

static void test_router_answers_405_with_allowed_methods(void **state)
{
    struct fixture *f = *state;
    const struct route_match *m;

    add_ok(f, "GET", "/items/{id}");
    add_ok(f, "DELETE", "/items/{id}");
    add_ok(f, "POST", "/items");
    m = match(f, CREST_METHOD_PUT, "/items/3");
    assert_null(m->route);
    assert_int_equal(m->status, 405);
    assert_int_equal(m->allow, (1u << CREST_METHOD_GET) | (1u << CREST_METHOD_DELETE));
    m = match(f, CREST_METHOD_GET, "/items");
    assert_int_equal(m->status, 405);
    assert_int_equal(m->allow, 1u << CREST_METHOD_POST);
}

static void test_router_treats_trailing_slash_as_another_path(void **state)
{
    struct fixture *f = *state;

    add_ok(f, "GET", "/items");
    add_ok(f, "GET", "/users/{name}");
    expect_route(f, CREST_METHOD_GET, "/items", "/items");
    expect_status(f, CREST_METHOD_GET, "/items/", 404);
    expect_status(f, CREST_METHOD_GET, "/users/bob/", 404);
    expect_status(f, CREST_METHOD_GET, "//items", 404);
}

static void test_router_answers_404_to_more_segments_than_any_route(void **state)
{
    struct fixture *f = *state;
    char path[256] = "";

    add_ok(f, "GET", "/{a}");
    for (int k = 0; k < ROUTE_MAX_SEGMENTS + 4; k++)
        strcat(path, "/s");
    expect_status(f, CREST_METHOD_GET, path, 404);
}

/* ---- declarations ---- */

static void test_router_refuses_duplicate_route(void **state)
{
    struct fixture *f = *state;
    char err[CREST_ERR_LEN] = "";

    add_ok(f, "GET", "/items/{id}");
    assert_int_equal(add(f, "GET", "/items/{id}", err), -EEXIST);
    assert_non_null(strstr(err, "/items/{id}"));
    /* a parameter's name or type does not make another shape */
    assert_int_equal(add(f, "GET", "/items/{other}", NULL), -EEXIST);
    assert_int_equal(add(f, "GET", "/items/{id:int}", NULL), -EEXIST);
    /* another method is another route */
    add_ok(f, "PUT", "/items/{id}");
    assert_int_equal(f->router.n_routes, 2);
}

static void test_router_refuses_bad_templates(void **state)
{
    static const char *const bad[] = {
        "items",        "",      "/{}",        "/{a:float}", "/x{a}", "/{a}x", "/{a}/{a}",
        "/{a}/{a:int}", "/a//b", "/a/",        "/{a",        "/a}",   "/{1a}", "/{a-b}",
        "/{:int}",      "/{a:}", "/{a:int:x}", "/{{a}}",
    };
    struct fixture *f = *state;

    for (size_t k = 0; k < ARRAY_LEN(bad); k++) {
        char err[CREST_ERR_LEN] = "";
        int rc = add(f, "GET", bad[k], err);
        if (rc != -EINVAL)
            fail_msg("template '%s': %d, wanted -EINVAL", bad[k], rc);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(f->router.n_routes, 0);
}

static void test_router_refuses_too_many_segments_and_parameters(void **state)
{
    struct fixture *f = *state;
    char path[512] = "";

    for (int k = 0; k < ROUTE_MAX_SEGMENTS; k++)
        strcat(path, "/s");
    add_ok(f, "GET", path);
    strcat(path, "/s");
    assert_int_equal(add(f, "GET", path, NULL), -EINVAL);

    path[0] = '\0';
    for (int k = 0; k <= ROUTE_MAX_PARAMS; k++) {
        char seg[16];
        snprintf(seg, sizeof(seg), "/{p%d}", k);
        strcat(path, seg);
    }
    assert_int_equal(add(f, "GET", path, NULL), -EINVAL);
}

static void test_router_refuses_bad_methods_and_missing_fields(void **state)
{
    struct fixture *f = *state;
    struct crest_route no_handler = {.method = "GET", .path = "/a"};
    struct crest_route no_path = {.method = "GET", .handler = handler_a};

    assert_int_equal(add(f, "FETCH", "/a", NULL), -EINVAL);
    assert_int_equal(add(f, "get", "/a", NULL), -EINVAL);
    assert_int_equal(add(f, "HEAD", "/a", NULL), -EINVAL); /* GET routes answer HEAD */
    assert_int_equal(table_add(&f->router, &no_handler, NULL), -EINVAL);
    assert_int_equal(table_add(&f->router, &no_path, NULL), -EINVAL);
    assert_int_equal(f->router.n_routes, 0);
}

/* Enough routes to grow the table a few times; each one is still found. */
static void test_router_finds_every_route_after_growing(void **state)
{
    struct fixture *f = *state;
    static char paths[40][32];

    for (int k = 0; k < 40; k++) {
        snprintf(paths[k], sizeof(paths[k]), "/r%d/{id}", k);
        add_ok(f, "GET", paths[k]);
    }
    for (int k = 0; k < 40; k++) {
        char path[32];
        snprintf(path, sizeof(path), "/r%d/x", k);
        expect_route(f, CREST_METHOD_GET, path, paths[k]);
    }
}

static void test_router_maps_method_names_both_ways(void **state)
{
    (void)state;
    for (uint8_t m = CREST_METHOD_GET; m <= CREST_METHOD_CONNECT; m++)
        assert_int_equal(route_method_from_name(route_method_name(m)), m);
    assert_string_equal(route_method_name(CREST_METHOD_DELETE), "DELETE");
    assert_int_equal(route_method_from_name("Get"), CREST_METHOD_UNKNOWN);
    assert_int_equal(route_method_from_name(""), CREST_METHOD_UNKNOWN);
    assert_string_equal(route_method_name(200), "");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    static const struct CMUnitTest tests[] = {
        T(test_router_static_beats_parameter_declared_first),
        T(test_router_static_beats_parameter_declared_last),
        T(test_router_static_beats_int_parameter),
        T(test_router_earliest_static_segment_wins),
        T(test_router_falls_through_static_route_of_other_method),
        T(test_router_matches_root),
        T(test_router_captures_int_and_str_parameters),
        T(test_router_treats_explicit_str_type_as_str),
        T(test_router_matches_int_parameter_with_any_text),
        T(test_router_never_matches_empty_parameter),
        T(test_router_percent_decodes_parameters),
        T(test_router_keeps_encoded_slash_inside_its_segment),
        T(test_router_percent_decodes_static_segments),
        T(test_router_answers_400_to_malformed_percent_encoding),
        T(test_router_answers_400_to_encoded_nul),
        T(test_router_answers_400_to_bad_encoding_on_unknown_path),
        T(test_router_answers_404_to_unknown_path),
        T(test_router_answers_405_with_allowed_methods),
        T(test_router_treats_trailing_slash_as_another_path),
        T(test_router_answers_404_to_more_segments_than_any_route),
        T(test_router_refuses_duplicate_route),
        T(test_router_refuses_bad_templates),
        T(test_router_refuses_too_many_segments_and_parameters),
        T(test_router_refuses_bad_methods_and_missing_fields),
        T(test_router_finds_every_route_after_growing),
        T(test_router_maps_method_names_both_ways),
    };
    return cmocka_run_group_tests_name("route_table", tests, NULL, NULL);
}
