/* valid/request.c: the validation recipe FastAPI follows: path parameters, then query parameters,
 * then the body; every problem is collected and answered together as one 422. */
#include "mem/arena.h"
#include "req/req.h"
#include "valid/valid.h"
#include "json/json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void body_problem(struct valid_problems *p, const char *type, const char *msg,
                         struct valid_input input, const struct valid_ctx *ctx, int n_ctx,
                         const int64_t *offset)
{
    struct valid_loc loc = {.root = "body"};
    if (offset)
        valid_loc_push_index(&loc, *offset);
    valid_problems_add(p, &loc, type, msg, input, ctx, n_ctx);
}

static void check_object(struct valid_check *c, const struct crest_schema *schema,
                         const struct crest_json_value *root, const struct crest_json_value **json,
                         void **model);

/* Records the body's problems in p, and memory refused in p->err. */
static void check_body(struct valid_problems *p, struct crest_req *req,
                       const struct crest_schema *schema)
{
    static const struct crest_json_value empty_object = {.type = CREST_JSON_OBJECT};
    struct crest_str body = req->http.body;
    struct crest_json_value *root;
    size_t offset;
    const char *why;

    if (!body.ptr || body.len == 0) {
        body_problem(p, "missing", "Field required", (struct valid_input){0}, NULL, 0, NULL);
        return;
    }
    switch (json_parse(body.ptr, body.len, req->http.arena, &root, &offset, &why)) {
    case JSON_PARSE_OK:
        break;
    case JSON_PARSE_NOMEM:
        p->err = -ENOMEM;
        return;
    default: {
        struct valid_ctx ctx = {.key = "error", .str = why};
        int64_t at = (int64_t)offset;
        body_problem(p, "json_invalid", "JSON decode error",
                     (struct valid_input){.json = &empty_object}, &ctx, 1, &at);
        return;
    }
    }
    if (root->type != CREST_JSON_OBJECT) {
        body_problem(p, "model_attributes_type",
                     "Input should be a valid dictionary or object to extract fields from",
                     (struct valid_input){.json = root}, NULL, 0, NULL);
        return;
    }
    struct valid_check c = {.problems = p, .loc = {.root = "body"}, .arena = req->http.arena};
    check_object(&c, schema, root, &req->body_json, &req->body_model);
}

/* Validates root against schema into *json and, for a model, binds it into a new struct *model
 * (zeroed, in the arena). */
static void check_object(struct valid_check *c, const struct crest_schema *schema,
                         const struct crest_json_value *root, const struct crest_json_value **json,
                         void **model)
{
    struct crest_json_value *validated = mem_arena_alloc(c->arena, sizeof(*validated));
    void *obj = schema->size ? mem_arena_alloc(c->arena, schema->size) : NULL;
    if (!validated || (schema->size && !obj)) {
        c->problems->err = -ENOMEM;
        return;
    }
    if (obj)
        memset(obj, 0, schema->size);
    valid_schema_check_object(c, schema, root, validated, obj);
    *json = validated;
    *model = obj;
}

/* A query model, or a form body: urlencoded text into an object, then the same walk. */
static void check_form(struct valid_problems *p, struct crest_req *req,
                       const struct crest_schema *schema, const char *root, struct crest_str text,
                       const struct crest_json_value **json, void **model)
{
    struct crest_json_value obj;
    struct valid_check c = {.problems = p, .loc = {.root = root}, .arena = req->http.arena};
    if (valid_form_object(&c, schema, text, &obj, &c.skip))
        check_object(&c, schema, &obj, json, model);
}

static bool is_form(struct crest_req *req)
{
    static const char type[] = "application/x-www-form-urlencoded";
    struct crest_str ct = crest_req_header(req, "Content-Type");
    size_t n = sizeof(type) - 1;
    return ct.ptr && ct.len >= n && strncasecmp(ct.ptr, type, n) == 0 &&
           (ct.len == n || ct.ptr[n] == ';' || ct.ptr[n] == ' ');
}

int valid_request(struct crest_req *req)
{
    const struct route *route = req->match.route;
    const struct crest_json_value *query_json = NULL;
    struct valid_problems p = {.req = req};

    req->body_json = NULL;
    req->body_model = req->query_model = NULL;
    valid_params_check(&p, req);
    if (route->def.query)
        check_form(&p, req, route->def.query, "query", req->http.query, &query_json,
                   &req->query_model);
    if (route->def.body && route->def.body_form) /* any other type: an empty form (FastAPI) */
        check_form(&p, req, route->def.body, "body",
                   is_form(req) ? req->http.body : (struct crest_str){NULL, 0}, &req->body_json,
                   &req->body_model);
    else if (route->def.body)
        check_body(&p, req, route->def.body);
    return valid_problems_finish(&p);
}
