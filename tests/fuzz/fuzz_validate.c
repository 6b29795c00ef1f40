/* tests/fuzz/fuzz_validate.c: body validation (app/validate.c) end to end, through the in-process
 * test client: arbitrary bytes are POSTed as a JSON body to an app whose route declares the items
 * service's schema (name string 1..100 required, description string <= 1000 nullable default null,
 * price number > 0 required, tax number >= 0 nullable default null, tags <= 16 strings of 1..50,
 * default []), and PATCHed to a route with the same fields all optional and no defaults. A body
 * that passes must reach the handler holding exactly what the schema promises (the handler checks
 * and echoes it: 201 or 200); any other answer must be 422 with a non-empty "detail" array, and
 * never for a body a plain reading of the schema finds valid. Every response body must be valid
 * JSON. The app is made and freed per input, and every byte crest
 * tracks must come back. */
#include "fuzz.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "crest.h"
#include "mem/arena.h"
#include "mem/mem.h"
#include "json/json.h"

static const struct crest_field tag_rule = {
    .type = CREST_TYPE_STRING, .min_length = CREST_LIMIT(1), .max_length = CREST_LIMIT(50)};

#define ITEM_FIELDS(REQUIRED, NULL_DEFAULT, TAGS_DEFAULT)                                         \
    {.name = "name",                                                                              \
     .type = CREST_TYPE_STRING,                                                                   \
     .required = REQUIRED,                                                                        \
     .min_length = CREST_LIMIT(1),                                                                \
     .max_length = CREST_LIMIT(100)},                                                             \
        {.name = "description",                                                                   \
         .type = CREST_TYPE_STRING,                                                               \
         .nullable = true,                                                                        \
         .default_json = NULL_DEFAULT,                                                            \
         .max_length = CREST_LIMIT(1000)},                                                        \
        {.name = "price", .type = CREST_TYPE_NUMBER, .required = REQUIRED, .gt = CREST_BOUND(0)}, \
        {.name = "tax",                                                                           \
         .type = CREST_TYPE_NUMBER,                                                               \
         .nullable = true,                                                                        \
         .default_json = NULL_DEFAULT,                                                            \
         .ge = CREST_BOUND(0)},                                                                   \
    {                                                                                             \
        .name = "tags", .type = CREST_TYPE_ARRAY, .default_json = TAGS_DEFAULT,                   \
        .max_length = CREST_LIMIT(16), .items = &tag_rule                                         \
    }

static const struct crest_field item_in_fields[] = {ITEM_FIELDS(true, "null", "[]")};
static const struct crest_schema item_in = {
    .name = "ItemIn", .fields = item_in_fields, .n_fields = 5};
static const struct crest_field item_patch_fields[] = {ITEM_FIELDS(false, NULL, NULL)};
static const struct crest_schema item_patch = {
    .name = "ItemPatch", .fields = item_patch_fields, .n_fields = 5};

/* What a handler saw: how many times it ran. */
struct seen {
    int calls;
};

static size_t code_points(const char *s, uint32_t len)
{
    size_t n = 0;

    for (uint32_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

static double number_of(const struct crest_json_value *v)
{
    return v->is_integer ? (double)v->integer : v->number;
}

static void check_string(const struct crest_json_value *v, size_t min, size_t max)
{
    FUZZ_CHECK(v->type == CREST_JSON_STRING);
    size_t n = code_points(v->string, v->len);
    FUZZ_CHECK(n >= min && n <= max);
}

/* full: POST's schema (required fields and defaults present); else PATCH's (only what was sent).
 * echoed: item is the response's echo, where a number JSON cannot hold (1e400 parses as infinity,
 * which pydantic's floats accept too) was written as null. */
static void check_item(const struct crest_json_value *item, bool full, bool echoed)
{
    const struct crest_json_value *v;

    FUZZ_CHECK(item != NULL && item->type == CREST_JSON_OBJECT);
    if ((v = crest_json_get(item, "name")) != NULL)
        check_string(v, 1, 100);
    else
        FUZZ_CHECK(!full);
    if ((v = crest_json_get(item, "description")) != NULL) {
        if (v->type != CREST_JSON_NULL)
            check_string(v, 0, 1000);
    } else {
        FUZZ_CHECK(!full);
    }
    if ((v = crest_json_get(item, "price")) != NULL)
        FUZZ_CHECK((v->type == CREST_JSON_NUMBER && number_of(v) > 0) ||
                   (echoed && v->type == CREST_JSON_NULL));
    else
        FUZZ_CHECK(!full);
    if ((v = crest_json_get(item, "tax")) != NULL)
        FUZZ_CHECK(v->type == CREST_JSON_NULL ||
                   (v->type == CREST_JSON_NUMBER && number_of(v) >= 0));
    else
        FUZZ_CHECK(!full);
    if ((v = crest_json_get(item, "tags")) != NULL) {
        FUZZ_CHECK(v->type == CREST_JSON_ARRAY && v->len <= 16);
        for (uint32_t i = 0; i < v->len; i++)
            check_string(&v->items[i], 1, 50);
    } else {
        FUZZ_CHECK(!full);
    }
}

static enum crest_handler_result echo(struct crest_req *req, int status, bool full, void *ud)
{
    const struct crest_json_value *item = crest_req_json(req);
    struct crest_json *j;

    ((struct seen *)ud)->calls++;
    check_item(item, full, false);
    j = crest_res_json(req, status);
    crest_json_write_value(j, item);
    return CREST_DONE;
}

static enum crest_handler_result create(struct crest_req *req, void *ud)
{
    return echo(req, 201, true, ud);
}

static enum crest_handler_result patch(struct crest_req *req, void *ud)
{
    return echo(req, 200, false, ud);
}

/* Whether the body is certainly valid, read plainly: an object whose last member of each name
 * (what Python's json keeps) fits the schema; unknown members are ignored, as pydantic does. Only
 * finite numbers are judged; a body this says nothing about may go either way. */
static bool ref_valid_string(const struct crest_json_value *v, size_t min, size_t max)
{
    size_t n;

    if (v->type != CREST_JSON_STRING)
        return false;
    n = code_points(v->string, v->len);
    return n >= min && n <= max;
}

static bool ref_valid_number(const struct crest_json_value *v, double above, bool or_equal)
{
    if (v->type != CREST_JSON_NUMBER || !isfinite(number_of(v)))
        return false;
    return or_equal ? number_of(v) >= above : number_of(v) > above;
}

static bool ref_valid(const struct crest_json_value *body, bool full)
{
    const struct crest_json_value *name, *description, *price, *tax, *tags;

    if (!body || body->type != CREST_JSON_OBJECT)
        return false;
    name = crest_json_get(body, "name");
    description = crest_json_get(body, "description");
    price = crest_json_get(body, "price");
    tax = crest_json_get(body, "tax");
    tags = crest_json_get(body, "tags");
    if (full && (!name || !price))
        return false;
    if ((name && !ref_valid_string(name, 1, 100)) || (price && !ref_valid_number(price, 0, false)))
        return false;
    if (description && description->type != CREST_JSON_NULL &&
        !ref_valid_string(description, 0, 1000))
        return false;
    if (tax && tax->type != CREST_JSON_NULL && !ref_valid_number(tax, 0, true))
        return false;
    if (tags) {
        if (tags->type != CREST_JSON_ARRAY || tags->len > 16)
            return false;
        for (uint32_t i = 0; i < tags->len; i++)
            if (!ref_valid_string(&tags->items[i], 1, 50))
                return false;
    }
    return true;
}

/* Sends body[0..len): through crest_test_request when it is a C string, else as raw bytes. */
static void send_body(struct crest_app *app, const char *method, const char *target,
                      const char *body, size_t len, struct crest_test_response *res)
{
    static const char head[] = " HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
                               "Content-Length: ";
    size_t room;
    char *raw;
    int n;

    if (!memchr(body, '\0', len)) {
        FUZZ_CHECK(crest_test_request(app, method, target, body, res) == 0);
        return;
    }
    room = strlen(method) + strlen(target) + sizeof(head) + 32;
    raw = malloc(room + len);
    FUZZ_CHECK(raw != NULL);
    n = snprintf(raw, room, "%s %s%s%zu\r\n\r\n", method, target, head, len);
    FUZZ_CHECK(n > 0 && (size_t)n < room);
    memcpy(raw + n, body, len);
    FUZZ_CHECK(crest_test_raw(app, raw, (size_t)n + len, res) == 0);
    free(raw);
}

/* The response: the expected success status with the handler run once, or 422 without it; its
 * body valid JSON either way. */
static void check_response(const struct crest_test_response *res, int ok_status,
                           const struct seen *seen, bool valid)
{
    _Alignas(16) char first[1024];
    struct mem_arena arena;
    struct crest_json_value *root = NULL;

    FUZZ_CHECK(res->status == ok_status || (res->status == 422 && !valid));
    FUZZ_CHECK(seen->calls == (res->status == ok_status));
    mem_arena_init(&arena, first, sizeof(first));
    FUZZ_CHECK(json_parse(res->body.ptr, res->body.len, &arena, &root, NULL, NULL) ==
               JSON_PARSE_OK);
    if (res->status == 422) {
        const struct crest_json_value *detail = crest_json_get(root, "detail");
        FUZZ_CHECK(detail != NULL && detail->type == CREST_JSON_ARRAY && detail->len >= 1);
    } else {
        check_item(root, ok_status == 201, true);
    }
    mem_arena_reset(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t before = mem_tracked_bytes();
    struct seen created = {0}, patched = {0};
    const struct crest_route routes[] = {
        {.method = "POST", .path = "/items", .handler = create, .ud = &created, .body = &item_in},
        {.method = "PATCH",
         .path = "/items/{id:int}",
         .handler = patch,
         .ud = &patched,
         .body = &item_patch},
    };
    struct crest_app *app = crest_app_new("fuzz", "1");
    char *body = malloc(size + 1);
    struct crest_test_response res;
    _Alignas(16) char first[1024];
    struct mem_arena arena;
    struct crest_json_value *parsed = NULL;

    FUZZ_CHECK(app && body);
    memcpy(body, data, size);
    body[size] = '\0';
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        FUZZ_CHECK(crest_app_add_route(app, &routes[i], NULL) == 0);

    mem_arena_init(&arena, first, sizeof(first));
    if (json_parse(body, size, &arena, &parsed, NULL, NULL) != JSON_PARSE_OK)
        parsed = NULL;
    send_body(app, "POST", "/items", body, size, &res);
    check_response(&res, 201, &created, ref_valid(parsed, true));
    crest_test_response_fini(&res);
    send_body(app, "PATCH", "/items/7", body, size, &res);
    check_response(&res, 200, &patched, ref_valid(parsed, false));
    crest_test_response_fini(&res);
    mem_arena_reset(&arena);

    crest_app_free(app);
    free(body);
    FUZZ_CHECK(mem_tracked_bytes() == before);
    return 0;
}
