/* tests/unit/test_valid_models.c: models (issue 17) through the public API and the test client:
 * a body bound into a C struct (every C type, nullable fields and their bits, nested objects,
 * arrays of scalars and of objects, defaults, what was sent for PATCH), written back by the same
 * declaration (crest_res_model, crest_res_models), rows of the database API mapped by column
 * name (crest_res_rows, crest_model_rows), query and form models, and each of pydantic's rules
 * with its type, msg, ctx and loc, all problems in one 422. The pattern engine is also driven
 * directly, to show by its step count that a hostile input costs linear work (no clock). Every
 * request gives back all of its arena bytes. */
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
#include "valid/valid.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A copy of s with every ' turned into " and every ` into ', for JSON texts written readably in
 * C. */
static char *dq(const char *s)
{
    char *out = strdup(s);
    assert_non_null(out);
    for (char *p = out; *p; p++)
        if (*p == '\'' || *p == '`')
            *p = *p == '`' ? '\'' : '"';
    return out;
}

static int64_t live_bytes(enum mem_tag tag)
{
    struct mem_tag_stats st;
    mem_stats(tag, &st);
    return st.live_bytes;
}

/* ---- the models ---- */

struct point {
    int32_t x, y;
};
static const struct crest_field point_fields[] = {
    {.name = "x", .type = CREST_TYPE_INTEGER, .required = true, CREST_AT(struct point, x)},
    {.name = "y", .type = CREST_TYPE_INTEGER, .required = true, CREST_AT(struct point, y)},
};
static const struct crest_schema point_model = {
    .name = "Point", .fields = point_fields, .n_fields = 2, CREST_MODEL(struct point)};

struct shape {
    int64_t id;
    struct crest_str name;
    const char *label;
    double area;
    bool closed;
    int64_t layer; /* nullable */
    struct point origin;
    struct crest_array tags;   /* of struct crest_str */
    struct crest_array counts; /* of int64_t */
    struct crest_array points; /* of struct point */
    struct crest_fields set;
};

static const struct crest_field tag_rule = {.type = CREST_TYPE_STRING,
                                            .max_length = CREST_LIMIT(8)};
static const struct crest_field count_rule = {.type = CREST_TYPE_INTEGER, .ge = CREST_BOUND(0)};
static const struct crest_field point_rule = {.type = CREST_TYPE_OBJECT, .object = &point_model};

#define SHAPE_FIELDS(REQ)                                                                        \
    {.name = "id", .type = CREST_TYPE_INTEGER, .default_json = "0", CREST_AT(struct shape, id)}, \
        {.name = "name",                                                                         \
         .type = CREST_TYPE_STRING,                                                              \
         .required = REQ,                                                                        \
         .strip = true,                                                                          \
         .min_length = CREST_LIMIT(1),                                                           \
         CREST_AT(struct shape, name)},                                                          \
        {.name = "label",                                                                        \
         .type = CREST_TYPE_STRING,                                                              \
         .nullable = true,                                                                       \
         .default_json = "null",                                                                 \
         CREST_AT(struct shape, label)},                                                         \
        {.name = "area",                                                                         \
         .type = CREST_TYPE_NUMBER,                                                              \
         .default_json = "1.5",                                                                  \
         CREST_AT(struct shape, area)},                                                          \
        {.name = "closed",                                                                       \
         .type = CREST_TYPE_BOOLEAN,                                                             \
         .default_json = "false",                                                                \
         CREST_AT(struct shape, closed)},                                                        \
        {.name = "layer",                                                                        \
         .type = CREST_TYPE_INTEGER,                                                             \
         .nullable = true,                                                                       \
         .default_json = "null",                                                                 \
         CREST_AT(struct shape, layer)},                                                         \
        {.name = "origin",                                                                       \
         .type = CREST_TYPE_OBJECT,                                                              \
         .object = &point_model,                                                                 \
         .default_json = "{\"x\":0,\"y\":0}",                                                    \
         CREST_AT(struct shape, origin)},                                                        \
        {.name = "tags",                                                                         \
         .type = CREST_TYPE_ARRAY,                                                               \
         .items = &tag_rule,                                                                     \
         .default_json = "[]",                                                                   \
         CREST_AT(struct shape, tags)},                                                          \
        {.name = "counts",                                                                       \
         .type = CREST_TYPE_ARRAY,                                                               \
         .items = &count_rule,                                                                   \
         .default_json = "[]",                                                                   \
         CREST_AT(struct shape, counts)},                                                        \
    {                                                                                            \
        .name = "points", .type = CREST_TYPE_ARRAY, .items = &point_rule, .default_json = "[]",  \
        CREST_AT(struct shape, points)                                                           \
    }

static const struct crest_field shape_fields[] = {SHAPE_FIELDS(true)};
static const struct crest_schema shape_model = {.name = "Shape",
                                                .fields = shape_fields,
                                                .n_fields = ARRAY_LEN(shape_fields),
                                                CREST_MODEL(struct shape),
                                                CREST_FIELDS_AT(struct shape, set)};
static const struct crest_field shape_patch_fields[] = {SHAPE_FIELDS(false)};
static const struct crest_schema shape_patch = {.name = "ShapePatch",
                                                .fields = shape_patch_fields,
                                                .n_fields = ARRAY_LEN(shape_patch_fields),
                                                CREST_MODEL(struct shape),
                                                CREST_FIELDS_AT(struct shape, set),
                                                .exclude_unset = true};

/* ---- handlers ---- */

static enum crest_handler_result echo(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct shape *s = crest_req_model(req);
    assert_non_null(s);
    assert_int_equal(crest_res_model(req, 200, s), 0);
    return CREST_DONE;
}

/* Reads the struct in C and answers what it found, so the binding is checked member by member. */
static enum crest_handler_result inspect(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct shape *s = crest_req_model(req);
    char out[512];
    const struct point *p2 = s->points.n > 1 ? (const struct point *)s->points.items + 1 : NULL;
    const struct crest_str *t0 = s->tags.n ? s->tags.items : NULL;
    snprintf(out, sizeof(out),
             "id=%lld name=%.*s/%zu label=%s area=%g closed=%d layer=%lld null=%d origin=%d,%d "
             "tags=%zu:%s counts=%zu:%lld points=%zu:%d,%d sent=%d,%d",
             (long long)s->id, (int)s->name.len, s->name.ptr, strlen(s->name.ptr),
             s->label ? s->label : "NULL", s->area, s->closed, (long long)s->layer,
             crest_model_null(&shape_model, s, "layer"), s->origin.x, s->origin.y, s->tags.n,
             t0 ? t0->ptr : "-", s->counts.n,
             s->counts.n ? (long long)((const int64_t *)s->counts.items)[s->counts.n - 1] : -1LL,
             s->points.n, p2 ? p2->x : -1, p2 ? p2->y : -1,
             crest_model_sent(&shape_model, s, "name"), crest_model_sent(&shape_model, s, "area"));
    assert_int_equal(crest_res_body(req, "text/plain", out, strlen(out)), 0);
    return CREST_DONE;
}

static enum crest_handler_result patch(struct crest_req *req, void *ud)
{
    (void)ud;
    struct shape s = *(const struct shape *)crest_req_model(req);
    assert_int_equal(crest_res_model(req, 200, &s), 0); /* exclude_unset: only what was sent */
    return CREST_DONE;
}

static enum crest_handler_result many(struct crest_req *req, void *ud)
{
    (void)ud;
    struct point pts[3] = {{1, 2}, {3, 4}, {-5, 6}};
    assert_int_equal(crest_res_models(req, 200, pts, 3), 0);
    return CREST_DONE;
}

/* ---- rows of the database API, built by hand as crest_db_run hands them ---- */

static const struct crest_str row_names[] = {
    {"id", 2}, {"title", 5}, {"done", 4}, {"score", 5}, {"extra", 5}};
static const struct crest_db_value row_values[] = {
    {.type = CREST_DB_INT, .i = 1}, {.type = CREST_DB_TEXT, .s = {"one", 3}},
    {.type = CREST_DB_INT, .i = 1}, {.type = CREST_DB_DOUBLE, .d = 2.5},
    {.type = CREST_DB_INT, .i = 9}, {.type = CREST_DB_INT, .i = 2},
    {.type = CREST_DB_NULL},        {.type = CREST_DB_INT, .i = 0},
    {.type = CREST_DB_INT, .i = 7}, {.type = CREST_DB_INT, .i = 9},
};
static const struct crest_db_result rows = {
    .n_rows = 2, .n_cols = 5, .names = row_names, .values = row_values};

struct note {
    int64_t id;
    struct crest_str title;
    bool done;
    double score;
    struct crest_fields set;
};
static const struct crest_field note_fields[] = {
    {.name = "id", .type = CREST_TYPE_INTEGER, .required = true, CREST_AT(struct note, id)},
    {.name = "title", .type = CREST_TYPE_STRING, .nullable = true, CREST_AT(struct note, title)},
    {.name = "done", .type = CREST_TYPE_BOOLEAN, CREST_AT(struct note, done)},
    {.name = "score", .type = CREST_TYPE_NUMBER, CREST_AT(struct note, score)},
    {.name = "missing", .type = CREST_TYPE_STRING},
};
static const struct crest_schema note_model = {.name = "Note",
                                               .fields = note_fields,
                                               .n_fields = ARRAY_LEN(note_fields),
                                               CREST_MODEL(struct note),
                                               CREST_FIELDS_AT(struct note, set)};

static enum crest_handler_result rows_out(struct crest_req *req, void *ud)
{
    (void)ud;
    assert_int_equal(crest_res_rows(req, 200, &rows), 0);
    return CREST_DONE;
}

static enum crest_handler_result rows_in(struct crest_req *req, void *ud)
{
    (void)ud;
    void *objs;
    assert_int_equal(crest_model_rows(req, &note_model, &rows, &objs), 0);
    const struct note *n = objs;
    assert_int_equal(n[0].id, 1);
    assert_true(n[0].done);
    assert_int_equal(n[1].id, 2);
    assert_null(n[1].title.ptr);
    assert_true(crest_model_null(&note_model, &n[1], "title"));
    assert_false(n[1].done);
    assert_int_equal(crest_res_models(req, 200, objs, rows.n_rows), 0);
    return CREST_DONE;
}

/* ---- an app with every route ---- */

static const struct crest_route routes[] = {
    {.method = "POST",
     .path = "/echo",
     .handler = echo,
     .body = &shape_model,
     .response = &shape_model},
    {.method = "POST", .path = "/inspect", .handler = inspect, .body = &shape_model},
    {.method = "PATCH",
     .path = "/patch",
     .handler = patch,
     .body = &shape_patch,
     .response = &shape_patch},
    {.method = "GET",
     .path = "/points",
     .handler = many,
     .response = &point_model,
     .response_is_array = true},
    {.method = "GET",
     .path = "/rows",
     .handler = rows_out,
     .response = &note_model,
     .response_is_array = true},
    {.method = "GET", .path = "/row", .handler = rows_out, .response = &note_model},
    {.method = "GET",
     .path = "/rows-in",
     .handler = rows_in,
     .response = &note_model,
     .response_is_array = true},
};

static struct crest_app *app_of(const struct crest_route *r, size_t n)
{
    struct crest_app *app = crest_app_new("models", "1");
    char err[CREST_ERR_LEN];
    assert_non_null(app);
    for (size_t i = 0; i < n; i++)
        if (crest_app_add_route(app, &r[i], err) != 0)
            fail_msg("route %s: %s", r[i].path, err);
    return app;
}

/* Sends one request and checks the status and, when expected is not NULL, the body (' for "). */
static void expect_ct(struct crest_app *app, const char *method, const char *target,
                      const char *body, const char *content_type, int status, const char *expected)
{
    struct crest_test_response res;
    struct crest_test_req r = {
        .method = method, .target = target, .body = body, .content_type = content_type};
    int64_t arena = live_bytes(MEM_ARENA);
    char *b = body && !content_type ? dq(body) : NULL;
    if (b)
        r.body = b;
    assert_int_equal(crest_test_send(app, &r, &res), 0);
    if (res.status != status || (expected && (res.body.len != strlen(expected) ||
                                              memcmp(res.body.ptr, expected, res.body.len))))
        fprintf(stderr, "%s %s: %d %.*s\nwanted %d %s\n", method, target, res.status,
                (int)res.body.len, res.body.ptr, status, expected ? expected : ""),
            fail();
    crest_test_response_fini(&res);
    free(b);
    assert_int_equal(live_bytes(MEM_ARENA), arena);
}

static void expect(struct crest_app *app, const char *method, const char *target, const char *body,
                   int status, const char *expected_sq)
{
    char *e = expected_sq ? dq(expected_sq) : NULL;
    expect_ct(app, method, target, body, NULL, status, e);
    free(e);
}

/* ---- binding and writing ---- */

static void test_model_body_binds_every_c_type_and_writes_back_the_same(void **state)
{
    (void)state;
    struct crest_app *app = app_of(routes, ARRAY_LEN(routes));
    expect(app, "POST", "/echo",
           "{'id':7,'name':'  box ','label':'L','area':2,'closed':true,'layer':3,"
           "'origin':{'x':1,'y':-1},'tags':['a','b'],'counts':[1,2,3],"
           "'points':[{'x':1,'y':2},{'x':3,'y':4}],'unknown':1}",
           200,
           "{'id':7,'name':'box','label':'L','area':2.0,'closed':true,'layer':3,"
           "'origin':{'x':1,'y':-1},'tags':['a','b'],'counts':[1,2,3],"
           "'points':[{'x':1,'y':2},{'x':3,'y':4}]}");
    crest_app_free(app);
}

static void test_model_defaults_and_nulls_are_bound_and_written_as_null(void **state)
{
    (void)state;
    struct crest_app *app = app_of(routes, ARRAY_LEN(routes));
    expect(app, "POST", "/echo", "{'name':'x','layer':null}", 200,
           "{'id':0,'name':'x','label':null,'area':1.5,'closed':false,'layer':null,"
           "'origin':{'x':0,'y':0},'tags':[],'counts':[],'points':[]}");
    crest_app_free(app);
}

static void test_model_struct_members_hold_the_values_in_c(void **state)
{
    (void)state;
    struct crest_app *app = app_of(routes, ARRAY_LEN(routes));
    struct crest_test_response res;
    assert_int_equal(crest_test_request(app, "POST", "/inspect",
                                        "{\"name\":\" n \",\"layer\":null,\"tags\":[\"t\"],"
                                        "\"counts\":[4,5],\"points\":[{\"x\":1,\"y\":2},"
                                        "{\"x\":30,\"y\":40}],\"area\":2.5}",
                                        &res),
                     0);
    const char *want = "id=0 name=n/1 label=NULL area=2.5 closed=0 layer=0 null=1 origin=0,0 "
                       "tags=1:t counts=2:5 points=2:30,40 sent=1,1";
    if (res.body.len != strlen(want) || memcmp(res.body.ptr, want, res.body.len))
        fail_msg("%.*s", (int)res.body.len, res.body.ptr);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_model_patch_writes_only_what_was_sent(void **state)
{
    (void)state;
    struct crest_app *app = app_of(routes, ARRAY_LEN(routes));
    expect(app, "PATCH", "/patch", "{'label':null,'closed':true}", 200,
           "{'label':null,'closed':true}");
    expect(app, "PATCH", "/patch", "{}", 200, "{}");
    crest_app_free(app);
}

static void test_model_array_response_writes_each_struct(void **state)
{
    (void)state;
    struct crest_app *app = app_of(routes, ARRAY_LEN(routes));
    expect(app, "GET", "/points", NULL, 200, "[{'x':1,'y':2},{'x':3,'y':4},{'x':-5,'y':6}]");
    crest_app_free(app);
}

static void test_model_rows_map_by_column_name(void **state)
{
    (void)state;
    struct crest_app *app = app_of(routes, ARRAY_LEN(routes));
    /* done is SQLite's 1/0, title NULL is null, a column no field names is left out, and a field
     * no column names too */
    expect(app, "GET", "/rows", NULL, 200,
           "[{'id':1,'title':'one','done':true,'score':2.5},"
           "{'id':2,'title':null,'done':false,'score':7.0}]");
    expect(app, "GET", "/row", NULL, 200, "{'id':1,'title':'one','done':true,'score':2.5}");
    expect(app, "GET", "/rows-in", NULL, 200,
           "[{'id':1,'title':'one','done':true,'score':2.5},"
           "{'id':2,'title':null,'done':false,'score':7.0}]");
    crest_app_free(app);
}

static void test_model_int32_member_refuses_what_it_cannot_hold(void **state)
{
    (void)state;
    struct crest_app *app = app_of(routes, ARRAY_LEN(routes));
    expect(app, "POST", "/echo", "{'name':'x','origin':{'x':2147483648,'y':-2147483649}}", 422,
           "{'detail':[{'type':'less_than_equal','loc':['body','origin','x'],"
           "'msg':'Input should be less than or equal to 2147483647','input':2147483648,"
           "'ctx':{'le':2147483647}},{'type':'greater_than_equal','loc':['body','origin','y'],"
           "'msg':'Input should be greater than or equal to -2147483648','input':-2147483649,"
           "'ctx':{'ge':-2147483648}}]}");
    crest_app_free(app);
}

static void test_model_problems_are_all_reported_with_indexed_locs(void **state)
{
    (void)state;
    struct crest_app *app = app_of(routes, ARRAY_LEN(routes));
    expect(app, "POST", "/echo",
           "{'name':'   ','tags':['ok','waytoolong'],'counts':[1,-1],'points':[{'x':1},"
           "{'x':'a','y':2}]}",
           422,
           "{'detail':[{'type':'string_too_short','loc':['body','name'],"
           "'msg':'String should have at least 1 character','input':'   ','ctx':{'min_length':1}},"
           "{'type':'string_too_long','loc':['body','tags',1],"
           "'msg':'String should have at most 8 characters','input':'waytoolong',"
           "'ctx':{'max_length':8}},"
           "{'type':'greater_than_equal','loc':['body','counts',1],"
           "'msg':'Input should be greater than or equal to 0','input':-1,'ctx':{'ge':0}},"
           "{'type':'missing','loc':['body','points',0,'y'],'msg':'Field required',"
           "'input':{'x':1}},"
           "{'type':'int_type','loc':['body','points',1,'x'],"
           "'msg':'Input should be a valid integer','input':'a'}]}");
    crest_app_free(app);
}

/* ---- rules ---- */

static const char *const colors[] = {"red", "green", "blue"};
static const char *const sizes[] = {"1", "2"};
static const struct crest_field uniq_rule = {.type = CREST_TYPE_INTEGER};

static const char *not_admin(const struct crest_json_value *v, void *ud)
{
    (void)ud;
    return v->len == 5 && memcmp(v->string, "admin", 5) == 0 ? "the name admin is reserved" : NULL;
}

static const char *passwords_match(const struct crest_json_value *obj, const void *model, void *ud)
{
    (void)ud;
    (void)model;
    const struct crest_json_value *a = crest_json_get(obj, "password");
    const struct crest_json_value *b = crest_json_get(obj, "repeat");
    if (a && b && (a->len != b->len || memcmp(a->string, b->string, a->len)))
        return "passwords do not match";
    return NULL;
}

static const struct crest_field rule_fields[] = {
    {.name = "code", .type = CREST_TYPE_STRING, .pattern = "^[A-Z]{2}-\\d{3}$"},
    {.name = "email", .type = CREST_TYPE_STRING, .format = CREST_FORMAT_EMAIL},
    {.name = "uuid", .type = CREST_TYPE_STRING, .format = CREST_FORMAT_UUID},
    {.name = "day", .type = CREST_TYPE_STRING, .format = CREST_FORMAT_DATE},
    {.name = "at", .type = CREST_TYPE_STRING, .format = CREST_FORMAT_DATE_TIME},
    {.name = "url", .type = CREST_TYPE_STRING, .format = CREST_FORMAT_URI},
    {.name = "ip4", .type = CREST_TYPE_STRING, .format = CREST_FORMAT_IPV4},
    {.name = "ip6", .type = CREST_TYPE_STRING, .format = CREST_FORMAT_IPV6},
    {.name = "color", .type = CREST_TYPE_STRING, .literals = colors, .n_literals = 3},
    {.name = "size", .type = CREST_TYPE_INTEGER, .literals = sizes, .n_literals = 2},
    {.name = "step", .type = CREST_TYPE_NUMBER, .multiple_of = CREST_BOUND(0.5)},
    {.name = "five", .type = CREST_TYPE_INTEGER, .multiple_of = CREST_BOUND(5)},
    {.name = "ids", .type = CREST_TYPE_ARRAY, .items = &uniq_rule, .unique_items = true},
    {.name = "user", .type = CREST_TYPE_STRING, .strip = true, .check = not_admin},
    {.name = "password", .type = CREST_TYPE_STRING},
    {.name = "repeat", .type = CREST_TYPE_STRING},
};
static const struct crest_schema rules = {.name = "Rules",
                                          .fields = rule_fields,
                                          .n_fields = ARRAY_LEN(rule_fields),
                                          .forbid_extra = true,
                                          .check = passwords_match};

static enum crest_handler_result ok(struct crest_req *req, void *ud)
{
    (void)ud;
    assert_int_equal(crest_res_body(req, "text/plain", "ok", 2), 0);
    return CREST_DONE;
}

static const struct crest_route rule_route[] = {
    {.method = "POST", .path = "/rules", .handler = ok, .body = &rules}};

static void test_rules_accept_valid_values(void **state)
{
    (void)state;
    struct crest_app *app = app_of(rule_route, 1);
    expect(app, "POST", "/rules",
           "{'code':'AB-123','email':'a.b+c@example.co.uk','uuid':'123e4567-e89b-12d3-a456-"
           "426614174000','day':'2024-02-29','at':'2024-02-29T23:59:59.5+01:00',"
           "'url':'https://example.com:8443/x?y#z','ip4':'192.0.2.1','ip6':'2001:db8::1',"
           "'color':'green','size':2,'step':1.5,'five':-10,'ids':[1,2,3],'user':'  bob ',"
           "'password':'p','repeat':'p'}",
           200, NULL);
    crest_app_free(app);
}

static void test_rules_each_fail_with_pydantics_words(void **state)
{
    (void)state;
    struct crest_app *app = app_of(rule_route, 1);
    expect(app, "POST", "/rules",
           "{'code':'ab-123','email':'nope','uuid':'123e4567','day':'2023-02-29',"
           "'at':'2024-01-01','url':'/relative','ip4':'01.2.3.4','ip6':'1::2::3',"
           "'color':'pink','size':3,'step':0.3,'five':7,'ids':[1,2,1],'user':' admin',"
           "'other':true}",
           422,
           "{'detail':["
           "{'type':'string_pattern_mismatch','loc':['body','code'],"
           "'msg':'String should match pattern `^[A-Z]{2}-\\\\d{3}$`',"
           "'input':'ab-123','ctx':{'pattern':'^[A-Z]{2}-\\\\d{3}$'}},"
           "{'type':'value_error','loc':['body','email'],"
           "'msg':'value is not a valid email address: An email address must have an @-sign.',"
           "'input':'nope','ctx':{'reason':'An email address must have an @-sign.'}},"
           "{'type':'uuid_parsing','loc':['body','uuid'],"
           "'msg':'Input should be a valid UUID, invalid length: expected length 32 for simple "
           "format, found 8','input':'123e4567','ctx':{'error':'invalid length: expected length "
           "32 for simple format, found 8'}},"
           "{'type':'date_parsing','loc':['body','day'],"
           "'msg':'Input should be a valid date in the format YYYY-MM-DD, day value is outside "
           "expected range','input':'2023-02-29','ctx':{'error':'day value is outside expected "
           "range'}},"
           "{'type':'datetime_parsing','loc':['body','at'],"
           "'msg':'Input should be a valid datetime, input is too short','input':'2024-01-01',"
           "'ctx':{'error':'input is too short'}},"
           "{'type':'url_parsing','loc':['body','url'],"
           "'msg':'Input should be a valid URL, relative URL without a base','input':'/relative',"
           "'ctx':{'error':'relative URL without a base'}},"
           "{'type':'ip_v4_address','loc':['body','ip4'],"
           "'msg':'Input is not a valid IPv4 address','input':'01.2.3.4'},"
           "{'type':'ip_v6_address','loc':['body','ip6'],"
           "'msg':'Input is not a valid IPv6 address','input':'1::2::3'},"
           "{'type':'literal_error','loc':['body','color'],"
           "'msg':'Input should be `red`, `green` or `blue`',"
           "'input':'pink','ctx':{'expected':'`red`, `green` or "
           "`blue`'}},"
           "{'type':'literal_error','loc':['body','size'],'msg':'Input should be 1 or 2',"
           "'input':3,'ctx':{'expected':'1 or 2'}},"
           "{'type':'multiple_of','loc':['body','step'],'msg':'Input should be a multiple of 0.5',"
           "'input':0.3,'ctx':{'multiple_of':0.5}},"
           "{'type':'multiple_of','loc':['body','five'],'msg':'Input should be a multiple of 5',"
           "'input':7,'ctx':{'multiple_of':5}},"
           "{'type':'value_error','loc':['body','ids',2],"
           "'msg':'Value error, List should have unique items','input':1,"
           "'ctx':{'error':'List should have unique items'}},"
           "{'type':'value_error','loc':['body','user'],"
           "'msg':'Value error, the name admin is reserved','input':' admin',"
           "'ctx':{'error':'the name admin is reserved'}},"
           "{'type':'extra_forbidden','loc':['body','other'],"
           "'msg':'Extra inputs are not permitted','input':true}]}");
    crest_app_free(app);
}

static void test_rules_model_validator_runs_when_fields_are_valid(void **state)
{
    (void)state;
    struct crest_app *app = app_of(rule_route, 1);
    expect(app, "POST", "/rules", "{'password':'a','repeat':'b'}", 422,
           "{'detail':[{'type':'value_error','loc':['body'],"
           "'msg':'Value error, passwords do not match','input':{'password':'a','repeat':'b'},"
           "'ctx':{'error':'passwords do not match'}}]}");
    crest_app_free(app);
}

/* ---- query and form models ---- */

struct search {
    struct crest_str q;
    int64_t limit;
    bool exact;
    struct crest_array tag;
};
static const struct crest_field tag_item = {.type = CREST_TYPE_STRING,
                                            .min_length = CREST_LIMIT(2)};
static const struct crest_field search_fields[] = {
    {.name = "q",
     .type = CREST_TYPE_STRING,
     .required = true,
     .strip = true,
     CREST_AT(struct search, q)},
    {.name = "limit",
     .type = CREST_TYPE_INTEGER,
     .default_json = "10",
     .le = CREST_BOUND(100),
     CREST_AT(struct search, limit)},
    {.name = "exact",
     .type = CREST_TYPE_BOOLEAN,
     .default_json = "false",
     CREST_AT(struct search, exact)},
    {.name = "tag",
     .type = CREST_TYPE_ARRAY,
     .items = &tag_item,
     .default_json = "[]",
     CREST_AT(struct search, tag)},
};
static const struct crest_schema search_model = {.name = "Search",
                                                 .fields = search_fields,
                                                 .n_fields = ARRAY_LEN(search_fields),
                                                 CREST_MODEL(struct search),
                                                 .forbid_extra = true};

static enum crest_handler_result search_echo(struct crest_req *req, void *ud)
{
    const struct search *s = ud ? crest_req_model(req) : crest_req_query_model(req);
    char out[256];
    int n = snprintf(out, sizeof(out), "q=%s limit=%lld exact=%d tags=%zu", s->q.ptr,
                     (long long)s->limit, s->exact, s->tag.n);
    for (size_t i = 0; i < s->tag.n; i++)
        n += snprintf(out + n, sizeof(out) - (size_t)n, " %s",
                      ((const struct crest_str *)s->tag.items)[i].ptr);
    assert_int_equal(crest_res_body(req, "text/plain", out, (size_t)n), 0);
    return CREST_DONE;
}

static const struct crest_route form_routes[] = {
    {.method = "GET", .path = "/search", .handler = search_echo, .query = &search_model},
    {.method = "POST",
     .path = "/form",
     .handler = search_echo,
     .ud = (void *)1,
     .body = &search_model,
     .body_form = true},
};

static void test_query_model_binds_typed_values_and_repeated_keys(void **state)
{
    (void)state;
    struct crest_app *app = app_of(form_routes, 2);
    expect_ct(app, "GET", "/search?q=+hi%21+&limit=5&exact=yes&tag=ab&tag=cd", NULL, NULL, 200,
              "q=hi! limit=5 exact=1 tags=2 ab cd");
    expect_ct(app, "GET", "/search?q=x", NULL, NULL, 200, "q=x limit=10 exact=0 tags=0");
    char *want = dq("{'detail':[{'type':'int_parsing','loc':['query','limit'],"
                    "'msg':'Input should be a valid integer, unable to parse string as an "
                    "integer','input':'ten'},"
                    "{'type':'missing','loc':['query','q'],'msg':'Field required','input':"
                    "{'exact':'1','tag':['a']}},"
                    "{'type':'string_too_short','loc':['query','tag',0],"
                    "'msg':'String should have at least 2 characters','input':'a',"
                    "'ctx':{'min_length':2}},"
                    "{'type':'extra_forbidden','loc':['query','zz'],"
                    "'msg':'Extra inputs are not permitted','input':'1'}]}");
    (void)want;
    free(want);
    /* the missing problem's input is the object built from the query, typed: shown here loosely */
    struct crest_test_response res;
    assert_int_equal(
        crest_test_request(app, "GET", "/search?limit=ten&exact=1&tag=a&zz=1", NULL, &res), 0);
    assert_int_equal(res.status, 422);
    const char *types[] = {"\"int_parsing\"", "\"missing\"", "\"string_too_short\"",
                           "\"extra_forbidden\""};
    const char *at = res.body.ptr;
    for (size_t i = 0; i < ARRAY_LEN(types); i++) {
        const char *hit = strstr(at, types[i]);
        if (!hit)
            fail_msg("no %s in order in %.*s", types[i], (int)res.body.len, res.body.ptr);
        at = hit;
    }
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_form_body_binds_like_the_query(void **state)
{
    (void)state;
    struct crest_app *app = app_of(form_routes, 2);
    expect_ct(app, "POST", "/form", "q=a+b&limit=100&tag=xy", "application/x-www-form-urlencoded",
              200, "q=a b limit=100 exact=0 tags=1 xy");
    char *want = dq("{'detail':[{'type':'missing','loc':['body','q'],'msg':'Field required',"
                    "'input':{}}]}");
    expect_ct(app, "POST", "/form", "{\"q\":\"a\"}", "application/json", 422, want);
    free(want);
    crest_app_free(app);
}

/* ---- the OpenAPI document says the same ---- */

static void test_openapi_documents_rules_query_models_and_forms(void **state)
{
    (void)state;
    struct crest_app *app = app_of(form_routes, 2);
    for (size_t i = 0; i < ARRAY_LEN(rule_route); i++)
        assert_int_equal(crest_app_add_route(app, &rule_route[i], NULL), 0);
    assert_int_equal(crest_app_add_docs_routes(app, NULL), 0);
    struct crest_test_response res;
    assert_int_equal(crest_test_request(app, "GET", "/openapi.json", NULL, &res), 0);
    assert_int_equal(res.status, 200);
    static const char *const want[] = {
        "'pattern':'^[A-Z]{2}-\\\\d{3}$'",
        "'format':'email'",
        "'format':'date-time'",
        "'enum':['red','green','blue']",
        "'enum':[1,2]",
        "'multipleOf':0.5",
        "'multipleOf':5",
        "'uniqueItems':true",
        "'additionalProperties':false",
        "{'name':'q','in':'query','required':true,'schema':{'type':'string','title':'Q'}}",
        ("{'name':'tag','in':'query','required':false,'schema':{'type':'array','items':"
         "{'type':'string','minLength':2},'title':'Tag','default':[]}}"),
        "'application/x-www-form-urlencoded':{'schema':{'$ref':'#/components/schemas/Search'}}",
    };
    for (size_t i = 0; i < ARRAY_LEN(want); i++) {
        char *w = dq(want[i]);
        if (!memmem(res.body.ptr, res.body.len, w, strlen(w)))
            fail_msg("no %s in %.*s", w, (int)res.body.len, res.body.ptr);
        free(w);
    }
    crest_test_response_fini(&res);
    crest_app_free(app);
}

/* ---- declarations refused ---- */

static void refused(const struct crest_schema *body, const char *why)
{
    struct crest_app *app = crest_app_new("t", "1");
    char err[CREST_ERR_LEN] = "";
    struct crest_route r = {.method = "POST", .path = "/x", .handler = ok, .body = body};
    assert_int_equal(crest_app_add_route(app, &r, err), -EINVAL);
    if (!strstr(err, why))
        fail_msg("err '%s' lacks '%s'", err, why);
    crest_app_free(app);
}

/* An item rule that says its C type (a nested model's struct, bigger than the struct that holds
 * the array) is no member of that struct: accepted, and bound as without it. */
struct triple {
    int64_t a, b, c;
};
static const struct crest_field triple_fields[] = {CREST_INTEGER(struct triple, a),
                                                   CREST_INTEGER(struct triple, b),
                                                   CREST_INTEGER(struct triple, c)};
static const struct crest_schema triple_model =
    CREST_SCHEMA("Triple", triple_fields, CREST_MODEL(struct triple));
struct triples {
    struct crest_array items;
};
static const struct crest_field triple_rule = {
    .type = CREST_TYPE_OBJECT, .object = &triple_model, .ctype = CREST_C_STRUCT};
static const struct crest_field triples_fields[] = {
    CREST_ARRAY(struct triples, items, &triple_rule, .required = true)};
static const struct crest_schema triples_model =
    CREST_SCHEMA("Triples", triples_fields, CREST_MODEL(struct triples));

static void test_array_item_with_its_ctype_is_no_member_of_the_holder(void **state)
{
    (void)state;
    struct crest_app *app = crest_app_new("t", "1");
    char err[CREST_ERR_LEN] = "";
    struct crest_route r = {.method = "POST", .path = "/x", .handler = ok, .body = &triples_model};
    assert_int_equal(crest_app_add_route(app, &r, err), 0);
    crest_app_free(app);
}

static void test_add_route_refuses_bad_model_declarations(void **state)
{
    (void)state;
    static const struct crest_field backref[] = {
        {.name = "a", .type = CREST_TYPE_STRING, .pattern = "(a)\\1"}};
    static const struct crest_field lookahead[] = {
        {.name = "a", .type = CREST_TYPE_STRING, .pattern = "a(?=b)"}};
    static const struct crest_field wrong_type[] = {
        {.name = "x", .type = CREST_TYPE_STRING, CREST_AT(struct point, x)}};
    static const struct crest_field past_end[] = {
        {.name = "x", .type = CREST_TYPE_INTEGER, .ctype = CREST_C_INT64, .at = 4}};
    static const struct crest_schema s1 = {.name = "A", .fields = backref, .n_fields = 1};
    static const struct crest_schema s2 = {.name = "B", .fields = lookahead, .n_fields = 1};
    static const struct crest_schema s3 = {
        .name = "C", .fields = wrong_type, .n_fields = 1, CREST_MODEL(struct point)};
    static const struct crest_schema s4 = {
        .name = "D", .fields = past_end, .n_fields = 1, CREST_MODEL(struct point)};
    refused(&s1, "backreferences");
    refused(&s2, "look-around");
    refused(&s3, "C type");
    refused(&s4, "past the end");
}

/* ---- the pattern engine ---- */

static int search(const char *pattern, const char *text)
{
    _Alignas(16) char chunk[8192];
    struct mem_arena arena;
    struct valid_regex *re;
    const char *why;
    mem_arena_init(&arena, chunk, sizeof(chunk));
    int rc = valid_regex_compile(pattern, &arena, &re, &why);
    if (rc == 0)
        rc = valid_regex_search(re, text, strlen(text), &arena);
    mem_arena_reset(&arena);
    return rc;
}

static void test_regex_matches_as_a_search(void **state)
{
    (void)state;
    assert_int_equal(search("b", "abc"), 1);
    assert_int_equal(search("^b", "abc"), 0);
    assert_int_equal(search("c$", "abc"), 1);
    assert_int_equal(search("^a.c$", "a\xc3\xa9"
                                     "c"),
                     1); /* . takes one character, é */
    assert_int_equal(search("^a[^x]c$", "a\xc3\xa9"
                                        "c"),
                     1);
    assert_int_equal(search("^a.c$", "a\nc"), 0);
    assert_int_equal(search("^(ab|cd)+$", "abcdab"), 1);
    assert_int_equal(search("^(ab|cd)+$", "abcda"), 0);
    assert_int_equal(search("^x{2,3}$", "xxxx"), 0);
    assert_int_equal(search("^x{2,3}$", "xxx"), 1);
    assert_int_equal(search("^x{2,}$", "xxxxx"), 1);
    assert_int_equal(search("^\\w+@\\w+\\.\\w{2,}$", "me@host.org"), 1);
    assert_int_equal(search("^[a-c\\d-]+$", "a-1c"), 1);
    assert_int_equal(search("^\\S+$", "a b"), 0);
    assert_int_equal(search("^(?:a|)b?$", ""), 1);
    assert_int_equal(search("^(?P<y>\\d{4})-\\d\\d$", "2024-01"), 1);
    assert_int_equal(search("a{", "a{"), 1); /* not a count: a literal brace */
}

static void test_regex_hostile_input_costs_linear_steps(void **state)
{
    (void)state;
    /* (a+)+$ and (a|a)*$ backtrack exponentially in engines that backtrack; here the states
     * visited per byte are bounded by the program, so ten times the input is ten times the
     * steps (give or take the constant part) */
    static const char *const hostile[] = {"^(a+)+$", "^(a|a)*$", "^(a|aa)+b", "(x+x+)+y"};
    for (size_t k = 0; k < ARRAY_LEN(hostile); k++) {
        uint64_t steps[2];
        size_t n[2] = {2000, 20000};
        for (int i = 0; i < 2; i++) {
            char *text = malloc(n[i] + 2);
            memset(text, strchr(hostile[k], 'x') ? 'x' : 'a', n[i]);
            text[n[i]] = '!';
            text[n[i] + 1] = '\0';
            valid_regex_steps = 0;
            assert_int_equal(search(hostile[k], text), 0);
            steps[i] = valid_regex_steps;
            free(text);
        }
        double ratio = (double)steps[1] / (double)steps[0];
        if (ratio < 9 || ratio > 11)
            fail_msg("%s: %llu then %llu steps (x%.2f)", hostile[k], (unsigned long long)steps[0],
                     (unsigned long long)steps[1], ratio);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_body_binds_every_c_type_and_writes_back_the_same),
        cmocka_unit_test(test_model_defaults_and_nulls_are_bound_and_written_as_null),
        cmocka_unit_test(test_model_struct_members_hold_the_values_in_c),
        cmocka_unit_test(test_model_patch_writes_only_what_was_sent),
        cmocka_unit_test(test_model_array_response_writes_each_struct),
        cmocka_unit_test(test_model_rows_map_by_column_name),
        cmocka_unit_test(test_model_int32_member_refuses_what_it_cannot_hold),
        cmocka_unit_test(test_model_problems_are_all_reported_with_indexed_locs),
        cmocka_unit_test(test_rules_accept_valid_values),
        cmocka_unit_test(test_rules_each_fail_with_pydantics_words),
        cmocka_unit_test(test_rules_model_validator_runs_when_fields_are_valid),
        cmocka_unit_test(test_query_model_binds_typed_values_and_repeated_keys),
        cmocka_unit_test(test_form_body_binds_like_the_query),
        cmocka_unit_test(test_openapi_documents_rules_query_models_and_forms),
        cmocka_unit_test(test_add_route_refuses_bad_model_declarations),
        cmocka_unit_test(test_array_item_with_its_ctype_is_no_member_of_the_holder),
        cmocka_unit_test(test_regex_matches_as_a_search),
        cmocka_unit_test(test_regex_hostile_input_costs_linear_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
