/* items/items.c: the reference items service (the FastAPI tutorial's model) written only against
 * crest.h and store.h, which is what proves them sufficient. Routes declare their parameters and
 * body schemas, so validation (and its 422s) happens before any handler runs; handlers turn the
 * validated JSON into a store call and the store's answer into a response. Every store call
 * completes through a callback, which is where the response is finished: the same code serves a
 * store that answers at once (SQLite) and one that answers later (PostgreSQL). */
#include "items.h"

#include "store/store.h"

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

/* ---- JSON ⇄ store_item ---- */

static struct crest_str string_of(const struct crest_json_value *v)
{
    if (!v || v->type != CREST_JSON_STRING)
        return (struct crest_str){NULL, 0};
    return (struct crest_str){v->string, v->len};
}

/* Fills `item` from a validated body; returns the store_field bits present. -ENOMEM. */
static int item_from_json(struct crest_req *req, const struct crest_json_value *body,
                          struct store_item *item, unsigned *present)
{
    const struct crest_json_value *v;
    *present = 0;
    if ((v = crest_json_get(body, "name"))) {
        item->name = string_of(v);
        *present |= STORE_NAME;
    }
    if ((v = crest_json_get(body, "description"))) {
        item->description = string_of(v); /* null → ptr NULL */
        *present |= STORE_DESCRIPTION;
    }
    if ((v = crest_json_get(body, "price"))) {
        item->price = v->number;
        *present |= STORE_PRICE;
    }
    if ((v = crest_json_get(body, "tax"))) {
        item->has_tax = v->type == CREST_JSON_NUMBER;
        item->tax = v->number;
        *present |= STORE_TAX;
    }
    if ((v = crest_json_get(body, "tags"))) {
        item->n_tags = v->len;
        item->tags = crest_req_alloc(req, (v->len ? v->len : 1) * sizeof(*item->tags));
        if (!item->tags)
            return -ENOMEM;
        for (uint32_t i = 0; i < v->len; i++)
            item->tags[i] = string_of(&v->items[i]);
        *present |= STORE_TAGS;
    }
    return 0;
}

static void write_item(struct crest_json *j, const struct store_item *item)
{
    crest_json_object_begin(j);
    crest_json_key(j, "id");
    crest_json_int(j, item->id);
    crest_json_key(j, "name");
    crest_json_string_len(j, item->name.ptr, item->name.len);
    crest_json_key(j, "description");
    if (item->description.ptr)
        crest_json_string_len(j, item->description.ptr, item->description.len);
    else
        crest_json_null(j);
    crest_json_key(j, "price");
    crest_json_double(j, item->price);
    crest_json_key(j, "tax");
    if (item->has_tax)
        crest_json_double(j, item->tax);
    else
        crest_json_null(j);
    crest_json_key(j, "tags");
    crest_json_array_begin(j);
    for (uint32_t i = 0; i < item->n_tags; i++)
        crest_json_string_len(j, item->tags[i].ptr, item->tags[i].len);
    crest_json_array_end(j);
    crest_json_object_end(j);
}

/* ---- answers ---- */

static void *req_alloc(void *ctx, size_t n)
{
    return crest_req_alloc(ctx, n);
}

static struct store *store_of(struct crest_req *req)
{
    return crest_req_worker_data(req);
}

static const struct store_ops *ops_of(struct crest_req *req)
{
    return store_of(req)->ops;
}

/* Ends the request with an error body; a failure to write even that closes the connection. */
static void finish_error(struct crest_req *req, int status, const char *detail)
{
    int err = crest_res_error(req, status, detail);
    (void)err; /* nothing better to say: the status line still tells */
    crest_req_finish(req);
}

/* Maps a store status to 404/503; true when it answered. */
static bool answered_failure(struct crest_req *req, int status)
{
    if (status == 0)
        return false;
    if (status == -ENOENT)
        finish_error(req, 404, "Item not found");
    else
        finish_error(req, 503, "Database unavailable");
    return true;
}

static void on_item(void *ud, int status, const struct store_item *items, size_t n, int code)
{
    struct crest_req *req = ud;
    if (answered_failure(req, status))
        return;
    if (n != 1) {
        finish_error(req, 503, "Database unavailable");
        return;
    }
    if (code == 201) {
        char location[40];
        snprintf(location, sizeof(location), "/items/%lld", (long long)items[0].id);
        if (crest_res_header(req, "Location", location) != 0) {
            finish_error(req, 503, "Service Unavailable");
            return;
        }
    }
    write_item(crest_res_json(req, code), &items[0]);
    crest_req_finish(req);
}

static void on_created(void *ud, int status, const struct store_item *items, size_t n)
{
    on_item(ud, status, items, n, 201);
}

static void on_found(void *ud, int status, const struct store_item *items, size_t n)
{
    on_item(ud, status, items, n, 200);
}

static void on_page(void *ud, int status, const struct store_item *items, size_t n)
{
    struct crest_req *req = ud;
    if (answered_failure(req, status))
        return;
    struct crest_json *j = crest_res_json(req, 200);
    crest_json_array_begin(j);
    for (size_t i = 0; i < n; i++)
        write_item(j, &items[i]);
    crest_json_array_end(j);
    crest_req_finish(req);
}

static void on_removed(void *ud, int status, const struct store_item *items, size_t n)
{
    struct crest_req *req = ud;
    (void)items;
    (void)n;
    if (answered_failure(req, status))
        return;
    crest_res_status(req, 204);
    crest_req_finish(req);
}

/* A store call that could not even start answers now (its callback will never run). */
static enum crest_handler_result started(struct crest_req *req, int rc)
{
    if (rc)
        finish_error(req, 503, "Database unavailable");
    return CREST_PENDING;
}

static void flush_at_turn_end(struct crest_req *req, void *ud)
{
    struct store *s = ud;
    (void)req;
    s->ops->flush(s);
}

/* A call that joined the store's group is sent (PostgreSQL) or committed (SQLite) at the end of
 * this event-loop turn, once every request read in the same turn had its chance to join: one
 * fsync, one write to the database's socket, for all of them (each pending call's own request
 * holds a timer, so none waits on another's). */
static enum crest_handler_result grouped(struct crest_req *req, int rc)
{
    struct store *s = store_of(req);
    if (rc == 0 && s->ops->pending(s) && crest_req_timer(req, 0, flush_at_turn_end, s) != 0)
        s->ops->flush(s); /* no timer: flush now rather than leave the call waiting */
    return started(req, rc);
}

/* ---- handlers ---- */

static enum crest_handler_result create_item(struct crest_req *req, void *ud)
{
    struct store_item item = {0};
    unsigned present;
    struct store_alloc out = {req_alloc, req};
    (void)ud;
    if (item_from_json(req, crest_req_json(req), &item, &present) != 0)
        return started(req, -ENOMEM);
    return grouped(req, ops_of(req)->create(store_of(req), &item, &out, on_created, req));
}

static enum crest_handler_result list_items(struct crest_req *req, void *ud)
{
    struct store_alloc out = {req_alloc, req};
    (void)ud;
    return grouped(req, ops_of(req)->list(store_of(req), crest_param_int(req, "offset"),
                                          crest_param_int(req, "limit"), &out, on_page, req));
}

static enum crest_handler_result read_item(struct crest_req *req, void *ud)
{
    struct store_alloc out = {req_alloc, req};
    (void)ud;
    return grouped(
        req, ops_of(req)->get(store_of(req), crest_param_int(req, "item_id"), &out, on_found, req));
}

static enum crest_handler_result replace_item(struct crest_req *req, void *ud)
{
    struct store_item item = {.id = crest_param_int(req, "item_id")};
    unsigned present;
    struct store_alloc out = {req_alloc, req};
    (void)ud;
    if (item_from_json(req, crest_req_json(req), &item, &present) != 0)
        return started(req, -ENOMEM);
    return grouped(req, ops_of(req)->replace(store_of(req), &item, &out, on_found, req));
}

static enum crest_handler_result patch_item(struct crest_req *req, void *ud)
{
    struct store_item item = {.id = crest_param_int(req, "item_id")};
    unsigned present;
    struct store_alloc out = {req_alloc, req};
    (void)ud;
    if (item_from_json(req, crest_req_json(req), &item, &present) != 0)
        return started(req, -ENOMEM);
    return grouped(req, ops_of(req)->patch(store_of(req), &item, present, &out, on_found, req));
}

static enum crest_handler_result delete_item(struct crest_req *req, void *ud)
{
    (void)ud;
    return grouped(
        req, ops_of(req)->remove(store_of(req), crest_param_int(req, "item_id"), on_removed, req));
}

/* ---- per-worker stores ---- */

static int worker_start(void *ud, unsigned worker, struct crest_loop *loop, void **data,
                        char err[CREST_ERR_LEN])
{
    const struct items_config *cfg = ud;
    const struct store_config store_cfg = {.url = cfg->url,
                                           .loop = loop,
                                           .worker = worker,
                                           .pool = cfg->pool,
                                           .timeout_ms = cfg->timeout_ms,
                                           .no_pipeline = cfg->no_pipeline};
    struct store *s;
    int rc = crest_store_for_url(cfg->url)->open(&store_cfg, &s, err);
    if (rc == 0) {
        s->ops->set_group_commit(s, true);
        *data = s;
    }
    return rc;
}

static void worker_stop(void *ud, unsigned worker, void *data)
{
    struct store *s = data;
    (void)ud;
    (void)worker;
    if (s)
        s->ops->close(s);
}

static const char *store_health(void *worker_data)
{
    const struct store *s = worker_data;
    return s && !s->ops->up(s) ? "store" : NULL;
}

/* ---- settings and setup ---- */

void items_config_defaults(struct items_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->url = "./crest.db";
    cfg->pool = 2;
    cfg->timeout_ms = 5000;
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
        int rc = crest_app_add_route(app, &route, err);
        if (rc)
            return rc;
    }
    crest_app_on_worker(app, worker_start, worker_stop, (void *)cfg);
    crest_app_on_health(app, store_health);
    return 0;
}
