/* valid/request.c: the validation recipe FastAPI follows: path parameters, then query parameters,
 * then the body; every problem is collected and answered together as one 422. */
#include "req/req.h"
#include "valid/valid.h"
#include "json/json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void body_problem(struct valid_problems *p, const char *type, const char *msg,
                         struct valid_input input, const struct valid_ctx *ctx, int n_ctx,
                         const int64_t *offset)
{
    struct valid_loc loc = {.root = "body"};
    if (offset)
        valid_loc_push_index(&loc, *offset);
    valid_problems_add(p, &loc, type, msg, input, ctx, n_ctx);
}

/* Records the body's problems in p, and memory refused in p->err. */
static void check_body(struct valid_problems *p, struct crest_req *req,
                       const struct crest_schema *schema)
{
    static const struct crest_json_value empty_object = {.type = CREST_JSON_OBJECT};
    struct crest_str body = req->http.body;
    struct crest_json_value *root, *validated;
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
    validated = crest_req_alloc(req, sizeof(*validated));
    if (!validated) {
        p->err = -ENOMEM;
        return;
    }
    struct valid_check c = {.problems = p, .loc = {.root = "body"}, .arena = req->http.arena};
    valid_schema_check_object(&c, schema, root, validated);
    req->body_json = validated;
}

int valid_request(struct crest_req *req)
{
    const struct route *route = req->match.route;
    struct valid_problems p = {.req = req};

    req->body_json = NULL;
    valid_params_check(&p, req);
    if (route->def.body)
        check_body(&p, req, route->def.body);
    return valid_problems_finish(&p);
}
