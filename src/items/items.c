/* items/items.c: the reference items service (the FastAPI tutorial's model) written only against
 * crest.h, which is what proves it sufficient. Routes declare their parameters and body schemas,
 * so validation (and its 422s) happens before any handler runs; handlers turn the validated JSON
 * into one statement of crest's database API and its rows into a response. Every call completes
 * through a callback, which is where the response is finished: the same code serves a read that
 * SQLite answers at once and a write its writer thread commits later, or PostgreSQL's answers. */
#include "items.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- schemas: Item as FastAPI's tutorial declares it ---- */

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

/* POST and PUT: name and price required, the rest defaulted. */
static const struct crest_field item_in_fields[] = {ITEM_FIELDS(true, "null", "[]")};
static const struct crest_schema item_in = {
    .name = "ItemIn", .fields = item_in_fields, .n_fields = 5};

/* PATCH: every field optional and left absent when not sent; name, price and tags not nullable. */
static const struct crest_field item_patch_fields[] = {ITEM_FIELDS(false, NULL, NULL)};
static const struct crest_schema item_patch = {
    .name = "ItemPatch", .fields = item_patch_fields, .n_fields = 5};

/* What every answer carries: the stored item with its id (for the OpenAPI document). */
static const struct crest_field item_fields[] = {
    {.name = "id", .type = CREST_TYPE_INTEGER, .required = true},
    ITEM_FIELDS(true, "null", "[]"),
};
static const struct crest_schema item_out = {.name = "Item", .fields = item_fields, .n_fields = 6};

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
     .le = CREST_BOUND(1000)},
};

/* ---- the table, on either database ---- */

#define ITEM_COLUMNS "id, name, description, price, tax, tags"
enum item_column { COL_ID, COL_NAME, COL_DESCRIPTION, COL_PRICE, COL_TAX, COL_TAGS };

/* Which fields a write sets; the UPDATE changes a column only when its bit is set in $7, so a
 * patch's read-modify-write is one statement of one transaction. */
enum item_field {
    F_NAME = 1 << 0,
    F_DESCRIPTION = 1 << 1,
    F_PRICE = 1 << 2,
    F_TAX = 1 << 3,
    F_TAGS = 1 << 4,
    F_ALL = F_NAME | F_DESCRIPTION | F_PRICE | F_TAX | F_TAGS,
};

static const char INSERT_SQL[] = "INSERT INTO items (name, description, price, tax, tags) "
                                 "VALUES ($1, $2, $3, $4, $5) RETURNING " ITEM_COLUMNS;
static const char SELECT_SQL[] = "SELECT " ITEM_COLUMNS " FROM items WHERE id = $1";
static const char LIST_SQL[] = "SELECT " ITEM_COLUMNS " FROM items ORDER BY id LIMIT $2 OFFSET $1";
#define SET_IF(bit, column, param) \
    column " = CASE WHEN (CAST($7 AS integer) & " #bit ") <> 0 THEN " param " ELSE " column " END"
static const char UPDATE_SQL[] =
    "UPDATE items SET " SET_IF(1, "name", "$1") ", " SET_IF(2, "description", "$2") ", " SET_IF(
        4, "price",
        "$3") ", " SET_IF(8, "tax",
                          "$4") ", " SET_IF(16, "tags",
                                            "$5") " WHERE id = $6 RETURNING " ITEM_COLUMNS;
static const char DELETE_SQL[] = "DELETE FROM items WHERE id = $1 RETURNING id";

/* The reads by id of one event-loop turn, as one statement on PostgreSQL (crest_db_batch). */
static const struct crest_db_batch get_many = {
    .sql = "SELECT " ITEM_COLUMNS " FROM items WHERE id = ANY($1)", .key_column = "id"};

/* Migration 1 as each database spells it; IF NOT EXISTS keeps a table an older crest made. An id
 * is never handed out again once deleted (AUTOINCREMENT, an identity column). */
static const char *const sqlite_migrations[] = {
    "CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, "
    "description TEXT, price REAL NOT NULL, tax REAL, tags TEXT NOT NULL)",
};
static const char *const pg_migrations[] = {
    "CREATE TABLE IF NOT EXISTS items (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
    "name text NOT NULL, description text, price double precision NOT NULL, "
    "tax double precision, tags text NOT NULL)",
};

/* ---- JSON to parameters ---- */

static struct crest_db_value text_of(const struct crest_json_value *v)
{
    if (!v || v->type != CREST_JSON_STRING)
        return crest_db_null();
    return crest_db_text(v->string, v->len);
}

static struct crest_db_value number_of(const struct crest_json_value *v)
{
    if (!v || v->type != CREST_JSON_NUMBER)
        return crest_db_null();
    return crest_db_double(v->number);
}

/* The tags of a validated body as their column's text, in the request's arena. -ENOMEM. */
static int tags_param(struct crest_req *req, const struct crest_json_value *v,
                      struct crest_db_value *out)
{
    uint32_t n = v ? v->len : 0;
    struct crest_str *tags = crest_req_alloc(req, (n ? n : 1) * sizeof(*tags));
    struct crest_json *j = NULL;
    if (!tags)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        tags[i] = (struct crest_str){v->items[i].string, v->items[i].len};
    int rc = items_tags_encode(tags, n, &j);
    struct crest_str text = rc == 0 ? crest_json_text(j) : (struct crest_str){NULL, 0};
    char *copy = rc == 0 ? crest_req_alloc(req, text.len + 1) : NULL;
    if (copy) {
        memcpy(copy, text.ptr, text.len);
        *out = crest_db_text(copy, text.len);
    }
    crest_json_free(j);
    return copy ? 0 : -ENOMEM;
}

/* $1..$5 from a validated body (a field not sent is NULL and, in a patch, not written); the
 * enum item_field bits of the fields present. -ENOMEM. */
static int fields_of(struct crest_req *req, struct crest_db_value *p, unsigned *present)
{
    const struct crest_json_value *body = crest_req_json(req), *v;
    *present = 0;
    p[0] = text_of(v = crest_json_get(body, "name"));
    *present |= v ? F_NAME : 0;
    p[1] = text_of(v = crest_json_get(body, "description"));
    *present |= v ? F_DESCRIPTION : 0;
    p[2] = number_of(v = crest_json_get(body, "price"));
    *present |= v ? F_PRICE : 0;
    p[3] = number_of(v = crest_json_get(body, "tax"));
    *present |= v ? F_TAX : 0;
    p[4] = crest_db_null();
    if ((v = crest_json_get(body, "tags"))) {
        *present |= F_TAGS;
        return tags_param(req, v, &p[4]);
    }
    return 0;
}

/* ---- rows to JSON ---- */

/* An item row as the API shows it. -ENOMEM, -EIO (its tags column is not what was written). */
static int write_item(struct crest_req *req, struct crest_json *j, const struct crest_db_result *r,
                      size_t row)
{
    struct crest_str tags_text = crest_db_get_text(r, row, COL_TAGS);
    struct crest_str *tags;
    uint32_t n_tags;
    int rc = items_tags_decode(req, tags_text.ptr, tags_text.len, &tags, &n_tags);
    if (rc)
        return rc;
    crest_json_object_begin(j);
    crest_json_key(j, "id");
    crest_json_int(j, crest_db_get_int(r, row, COL_ID));
    crest_json_key(j, "name");
    struct crest_str name = crest_db_get_text(r, row, COL_NAME);
    crest_json_string_len(j, name.ptr ? name.ptr : "", name.len);
    crest_json_key(j, "description");
    struct crest_str description = crest_db_get_text(r, row, COL_DESCRIPTION);
    if (description.ptr)
        crest_json_string_len(j, description.ptr, description.len);
    else
        crest_json_null(j);
    crest_json_key(j, "price");
    crest_json_double(j, crest_db_get_double(r, row, COL_PRICE));
    crest_json_key(j, "tax");
    if (crest_db_is_null(r, row, COL_TAX))
        crest_json_null(j);
    else
        crest_json_double(j, crest_db_get_double(r, row, COL_TAX));
    crest_json_key(j, "tags");
    crest_json_array_begin(j);
    for (uint32_t i = 0; i < n_tags; i++)
        crest_json_string_len(j, tags[i].ptr, tags[i].len);
    crest_json_array_end(j);
    crest_json_object_end(j);
    return 0;
}

/* ---- answers ---- */

static struct crest_db *db_of(void *ud)
{
    return ((const struct items_config *)ud)->db;
}

/* Ends the request with an error body; a failure to write even that closes the connection. */
static void finish_error(struct crest_req *req, int status, const char *detail)
{
    int err = crest_res_error(req, status, detail);
    (void)err; /* nothing better to say: the status line still tells */
    crest_req_finish(req);
}

/* Answers a failed call: 404 for a missing item, 503 for a database that cannot answer now;
 * true when it answered. */
static bool answered_failure(struct crest_req *req, enum crest_db_status status)
{
    if (status == CREST_DB_OK)
        return false;
    if (status == CREST_DB_NOT_FOUND)
        finish_error(req, 404, "Item not found");
    else if (status == CREST_DB_INVALID)
        finish_error(req, 500, "Internal Server Error");
    else
        finish_error(req, 503, "Database unavailable");
    return true;
}

static void on_item(struct crest_req *req, enum crest_db_status status,
                    const struct crest_db_result *r, size_t n, int code)
{
    (void)n;
    if (answered_failure(req, status))
        return;
    if (code == 201) {
        char location[40];
        snprintf(location, sizeof(location), "/items/%lld",
                 (long long)crest_db_get_int(r, 0, COL_ID));
        if (crest_res_header(req, "Location", location) != 0) {
            finish_error(req, 503, "Service Unavailable");
            return;
        }
    }
    int rc = write_item(req, crest_res_json(req, code), r, 0);
    if (rc) {
        finish_error(req, 503, "Database unavailable");
        return;
    }
    crest_req_finish(req);
}

static void on_created(struct crest_req *req, enum crest_db_status status,
                       const struct crest_db_result *r, size_t n, void *ud)
{
    (void)ud;
    on_item(req, status, r, n, 201);
}

static void on_found(struct crest_req *req, enum crest_db_status status,
                     const struct crest_db_result *r, size_t n, void *ud)
{
    (void)ud;
    on_item(req, status, r, n, 200);
}

static void on_page(struct crest_req *req, enum crest_db_status status,
                    const struct crest_db_result *r, size_t n, void *ud)
{
    (void)n;
    (void)ud;
    if (answered_failure(req, status))
        return;
    struct crest_json *j = crest_res_json(req, 200);
    crest_json_array_begin(j);
    for (size_t row = 0; row < r->n_rows; row++) {
        if (write_item(req, j, r, row) != 0) {
            finish_error(req, 503, "Database unavailable");
            return;
        }
    }
    crest_json_array_end(j);
    crest_req_finish(req);
}

static void on_removed(struct crest_req *req, enum crest_db_status status,
                       const struct crest_db_result *r, size_t n, void *ud)
{
    (void)r;
    (void)n;
    (void)ud;
    if (answered_failure(req, status))
        return;
    crest_res_status(req, 204);
    crest_req_finish(req);
}

/* A call that could not even start answers now (its callback will never run). */
static enum crest_handler_result started(struct crest_req *req, int rc)
{
    if (rc)
        finish_error(req, 503, "Database unavailable");
    return CREST_PENDING;
}

/* ---- handlers ---- */

static enum crest_handler_result create_item(struct crest_req *req, void *ud)
{
    struct crest_db_value p[5];
    unsigned present;
    if (fields_of(req, p, &present) != 0)
        return started(req, -ENOMEM);
    return started(req, crest_db_query(req, db_of(ud), INSERT_SQL, p, 5, 0, on_created, NULL));
}

static enum crest_handler_result list_items(struct crest_req *req, void *ud)
{
    const struct crest_db_value p[] = {crest_db_int(crest_param_int(req, "offset")),
                                       crest_db_int(crest_param_int(req, "limit"))};
    return started(req, crest_db_query(req, db_of(ud), LIST_SQL, p, 2, 0, on_page, NULL));
}

static enum crest_handler_result read_item(struct crest_req *req, void *ud)
{
    const struct crest_db_value id = crest_db_int(crest_param_int(req, "item_id"));
    const struct crest_db_stmt st = {
        .sql = SELECT_SQL, .params = &id, .n_params = 1, .flags = CREST_DB_ONE, .batch = &get_many};
    return started(req, crest_db_run(req, db_of(ud), &st, 1, on_found, NULL));
}

/* PUT and PATCH: the fields sent (PUT's body has them all, defaulted) set, the others kept. */
static enum crest_handler_result update_item(struct crest_req *req, void *ud, bool whole)
{
    struct crest_db_value p[7];
    unsigned present;
    if (fields_of(req, p, &present) != 0)
        return started(req, -ENOMEM);
    p[5] = crest_db_int(crest_param_int(req, "item_id"));
    p[6] = crest_db_int(whole ? F_ALL : present);
    return started(req,
                   crest_db_query(req, db_of(ud), UPDATE_SQL, p, 7, CREST_DB_ONE, on_found, NULL));
}

static enum crest_handler_result replace_item(struct crest_req *req, void *ud)
{
    return update_item(req, ud, true);
}

static enum crest_handler_result patch_item(struct crest_req *req, void *ud)
{
    return update_item(req, ud, false);
}

static enum crest_handler_result delete_item(struct crest_req *req, void *ud)
{
    const struct crest_db_value id = crest_db_int(crest_param_int(req, "item_id"));
    return started(
        req, crest_db_query(req, db_of(ud), DELETE_SQL, &id, 1, CREST_DB_ONE, on_removed, NULL));
}

/* ---- settings and setup ---- */

void items_config_defaults(struct items_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->url = "./crest.db";
    cfg->pool = 2;
    cfg->timeout_ms = 5000;
}

static int add_database(struct crest_app *app, struct items_config *cfg, char err[CREST_ERR_LEN])
{
    bool pg =
        strncmp(cfg->url, "postgresql://", 13) == 0 || strncmp(cfg->url, "postgres://", 11) == 0;
    const struct crest_db_config dbc = {
        .name = "store",
        .url = cfg->url,
        .pool = cfg->pool,
        .timeout_ms = cfg->timeout_ms,
        .no_pipeline = cfg->no_pipeline,
        .migrations = pg ? pg_migrations : sqlite_migrations,
        .n_migrations = 1,
    };
    return crest_app_add_db(app, &dbc, &cfg->db, err);
}

int items_install(struct crest_app *app, struct items_config *cfg, char err[CREST_ERR_LEN])
{
    static const struct crest_route routes[] = {
        {.method = "POST",
         .path = "/items",
         .handler = create_item,
         .response = &item_out,
         .body = &item_in,
         .status = 201,
         .summary = "Create an item",
         .tag = "items"},
        {.method = "GET",
         .path = "/items",
         .handler = list_items,
         .response = &item_out,
         .response_is_array = true,
         .params = list_params,
         .n_params = 2,
         .summary = "List items",
         .tag = "items"},
        {.method = "GET",
         .path = "/items/{item_id:int}",
         .handler = read_item,
         .response = &item_out,
         .summary = "Read an item",
         .tag = "items"},
        {.method = "PUT",
         .path = "/items/{item_id:int}",
         .handler = replace_item,
         .response = &item_out,
         .body = &item_in,
         .summary = "Replace an item",
         .tag = "items"},
        {.method = "PATCH",
         .path = "/items/{item_id:int}",
         .handler = patch_item,
         .response = &item_out,
         .body = &item_patch,
         .summary = "Update some fields of an item",
         .tag = "items"},
        {.method = "DELETE",
         .path = "/items/{item_id:int}",
         .handler = delete_item,
         .status = 204,
         .summary = "Delete an item",
         .tag = "items"},
    };
    cfg->auth = (struct crest_security){.kind = CREST_SECURITY_HTTP_BEARER,
                                        .keys = cfg->api_keys,
                                        .n_keys = cfg->n_api_keys,
                                        .description = "One of the keys of crest --api-key-file"};
    cfg->auth_hooks[0] = (struct crest_hook)CREST_SECURITY_HOOK(&cfg->auth);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        struct crest_route route = routes[i];
        if (cfg->n_api_keys && strcmp(route.method, "GET") != 0) { /* writes */
            route.hooks = cfg->auth_hooks; /* the document then lists its 401 */
            route.n_hooks = 1;
        }
        route.ud = cfg;
        int rc = crest_app_add_route(app, &route, err);
        if (rc)
            return rc;
    }
    return add_database(app, cfg, err);
}
