/* bench/models_app.c: what models cost against the hand-written code they replace (issue 17),
 * on a copy of the items service's routes (src/items/items.c's schemas, its item_from_json and
 * write_item) with the store left out, so that only binding and serializing differ:
 *   POST /hand/items     crest_req_json, fields read with crest_json_get, written field by field
 *   POST /model/items    crest_req_model, crest_res_model
 *   GET  /hand/items/1   one item written field by field
 *   GET  /model/items/1  the same item through crest_res_model
 * Both POSTs answer the created item (id 1) as items.c does. bench/models.py counts instructions
 * per request under callgrind. Built by bench/models.py against the build's libcrest.a, written
 * only against crest.h.
 *
 *     models_app --host 127.0.0.1 --port P */
#include <crest.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the items schemas, as src/items/items.c declares them, now bound to a struct ---- */

struct item {
    int64_t id;
    struct crest_str name, description;
    double price, tax;
    struct crest_array tags;
    struct crest_fields set;
};

static const struct crest_field tag_rule = {
    .type = CREST_TYPE_STRING, .min_length = CREST_LIMIT(1), .max_length = CREST_LIMIT(50)};

#define ITEM_FIELDS                                                                      \
    CREST_STRING(struct item, name, .required = true, .min_length = CREST_LIMIT(1),      \
                 .max_length = CREST_LIMIT(100)),                                        \
        CREST_STRING(struct item, description, .nullable = true, .default_json = "null", \
                     .max_length = CREST_LIMIT(1000)),                                   \
        CREST_NUMBER(struct item, price, .required = true, .gt = CREST_BOUND(0)),        \
        CREST_NUMBER(struct item, tax, .nullable = true, .default_json = "null",         \
                     .ge = CREST_BOUND(0)),                                              \
        CREST_ARRAY(struct item, tags, &tag_rule, .default_json = "[]",                  \
                    .max_length = CREST_LIMIT(16))
static const struct crest_field item_in_fields[] = {ITEM_FIELDS};
static const struct crest_schema item_in = CREST_SCHEMA(
    "ItemIn", item_in_fields, CREST_MODEL(struct item), CREST_FIELDS_AT(struct item, set));
static const struct crest_field item_fields[] = {CREST_INTEGER(struct item, id, .required = true),
                                                 ITEM_FIELDS};
static const struct crest_schema item_out =
    CREST_SCHEMA("Item", item_fields, CREST_MODEL(struct item), CREST_FIELDS_AT(struct item, set));

/* ---- hand-written, as items.c (item_from_json, write_item) ---- */

struct hand_item {
    int64_t id;
    struct crest_str name, description;
    double price, tax;
    bool has_tax;
    struct crest_str *tags;
    uint32_t n_tags;
};

static struct crest_str string_of(const struct crest_json_value *v)
{
    if (!v || v->type != CREST_JSON_STRING)
        return (struct crest_str){NULL, 0};
    return (struct crest_str){v->string, v->len};
}

static int item_from_json(struct crest_req *req, const struct crest_json_value *body,
                          struct hand_item *item)
{
    const struct crest_json_value *v;
    if ((v = crest_json_get(body, "name")))
        item->name = string_of(v);
    if ((v = crest_json_get(body, "description")))
        item->description = string_of(v);
    if ((v = crest_json_get(body, "price")))
        item->price = v->number;
    if ((v = crest_json_get(body, "tax"))) {
        item->has_tax = v->type == CREST_JSON_NUMBER;
        item->tax = v->number;
    }
    if ((v = crest_json_get(body, "tags"))) {
        item->n_tags = v->len;
        item->tags = crest_req_alloc(req, (v->len ? v->len : 1) * sizeof(*item->tags));
        if (!item->tags)
            return -ENOMEM;
        for (uint32_t i = 0; i < v->len; i++)
            item->tags[i] = string_of(&v->items[i]);
    }
    return 0;
}

static void write_item(struct crest_json *j, const struct hand_item *item)
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

/* ---- handlers ---- */

static struct crest_str stored_tags[] = {{"a", 1}, {"bb", 2}};
static const struct hand_item stored_hand = {.id = 1,
                                             .name = {"Foo", 3},
                                             .description = {"A foo", 5},
                                             .price = 35.4,
                                             .tax = 3.2,
                                             .has_tax = true,
                                             .tags = stored_tags,
                                             .n_tags = 2};
static const struct item stored_model = {.id = 1,
                                         .name = {"Foo", 3},
                                         .description = {"A foo", 5},
                                         .price = 35.4,
                                         .tax = 3.2,
                                         .tags = {stored_tags, 2}};

static enum crest_handler_result hand_post(struct crest_req *req, void *ud)
{
    (void)ud;
    struct hand_item item = {.id = 1};
    if (item_from_json(req, crest_req_json(req), &item) == 0)
        write_item(crest_res_json(req, 201), &item);
    else
        crest_res_status(req, 503);
    return CREST_DONE;
}

static enum crest_handler_result model_post(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct item *in = crest_req_model(req);
    struct item item = *in;
    item.id = 1;
    item.set = (struct crest_fields){0}; /* Item's bits are its own: tax may be null */
    if (crest_model_set(&item_out, &item, "tax", crest_model_null(&item_in, in, "tax")) != 0 ||
        crest_res_model(req, 201, &item) != 0)
        return CREST_DONE; /* crest answers 503 for a body it could not write */
    return CREST_DONE;
}

static enum crest_handler_result hand_get(struct crest_req *req, void *ud)
{
    (void)ud;
    write_item(crest_res_json(req, 200), &stored_hand);
    return CREST_DONE;
}

static enum crest_handler_result model_get(struct crest_req *req, void *ud)
{
    (void)ud;
    int rc = crest_res_model(req, 200, &stored_model);
    (void)rc; /* crest answers 503 for a body it could not write */
    return CREST_DONE;
}

static const struct crest_route routes[] = {
    CREST_ROUTE("POST", "/hand/items", hand_post, .body = &item_in, .status = 201,
                .response = &item_out),
    CREST_ROUTE("POST", "/model/items", model_post, .body = &item_in, .status = 201,
                .response = &item_out),
    CREST_ROUTE("GET", "/hand/items/{item_id:int}", hand_get, .response = &item_out),
    CREST_ROUTE("GET", "/model/items/{item_id:int}", model_get, .response = &item_out),
};

int main(int argc, char **argv)
{
    struct crest_config cfg;
    char err[CREST_ERR_LEN] = "";

    crest_config_defaults(&cfg);
    cfg.workers = 1;
    cfg.quiet = true;
    int rc = crest_config_args(&cfg, argc, argv, NULL, 0, err);
    if (rc != 0) /* 1: --help printed the flags */
        return rc > 0 ? 0 : (fprintf(stderr, "models_app: %s\n", err), 2);
    struct crest_app *app = crest_app_new("models bench", "1");
    for (size_t i = 0; app && i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (crest_app_add_route(app, &routes[i], err) != 0) {
            fprintf(stderr, "models_app: %s\n", err);
            return 1;
        }
    }
    if (!app || crest_app_add_builtin_routes(app) != 0)
        return 1;
    rc = crest_serve(app, &cfg, err);
    if (rc)
        fprintf(stderr, "models_app: %s\n", err);
    crest_app_free(app);
    return rc ? 1 : 0;
}
