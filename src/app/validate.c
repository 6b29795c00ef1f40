/* app/validate.c: the validation recipe FastAPI follows: path parameters, then query parameters,
 * then the body; every problem is collected and answered together as one 422. */
#include "app/app.h"
#include "app/json_parse.h"
#include "app/problems.h"
#include "app/scalar.h"
#include "app/schema.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void app_params_check(struct app_problems *p, struct crest_req *req);

static void body_problem(struct app_problems *p, const char *type, const char *msg,
                         struct app_input input, const struct app_ctx *ctx, int n_ctx,
                         const int64_t *offset)
{
    struct app_loc loc = {.root = "body"};
    if (offset)
        app_loc_push_index(&loc, *offset);
    app_problem(p, &loc, type, msg, input, ctx, n_ctx);
}

/* Returns false when memory ran out. */
static bool check_body(struct app_problems *p, struct crest_req *req,
                       const struct crest_schema *schema)
{
    static const struct crest_json_value empty_object = {.type = CREST_JSON_OBJECT};
    struct crest_str body = req->http.body;
    struct crest_json_value *root, *validated;
    size_t offset;
    const char *why;

    if (!body.ptr || body.len == 0) {
        body_problem(p, "missing", "Field required", (struct app_input){0}, NULL, 0, NULL);
        return true;
    }
    switch (app_json_parse(body.ptr, body.len, req->http.arena, &root, &offset, &why)) {
    case APP_JSON_OK:
        break;
    case APP_JSON_NOMEM:
        return false;
    default: {
        struct app_ctx ctx = {.key = "error", .str = why};
        int64_t at = (int64_t)offset;
        body_problem(p, "json_invalid", "JSON decode error",
                     (struct app_input){.json = &empty_object}, &ctx, 1, &at);
        return true;
    }
    }
    if (root->type != CREST_JSON_OBJECT) {
        body_problem(p, "model_attributes_type",
                     "Input should be a valid dictionary or object to extract fields from",
                     (struct app_input){.json = root}, NULL, 0, NULL);
        return true;
    }
    validated = crest_req_alloc(req, sizeof(*validated));
    if (!validated)
        return false;
    struct app_check c = {.problems = p, .loc = {.root = "body"}, .arena = req->http.arena};
    app_schema_check_object(&c, schema, root, validated);
    req->body_json = validated;
    return !c.oom;
}

bool app_validate(struct crest_req *req)
{
    const struct app_route *route = req->match.route;
    struct app_problems p = {.req = req};
    bool memory_ok = true;

    req->body_json = NULL;
    app_params_check(&p, req);
    if (route->def.body)
        memory_ok = check_body(&p, req, route->def.body);
    if (!memory_ok || p.oom || (p.count && !p.j)) {
        app_answer_oom(req);
        return true;
    }
    return app_problems_finish(&p);
}

CREST_API const struct crest_json_value *crest_req_json(const struct crest_req *req)
{
    return req->body_json;
}

static int param_default_ok(const struct crest_param *d)
{
    const char *t = d->default_text;
    int64_t i;
    double x;
    bool b;
    if (!t)
        return 0;
    switch (d->type) {
    case CREST_TYPE_INTEGER:
        return app_parse_int64(t, strlen(t), &i);
    case CREST_TYPE_NUMBER:
        return app_parse_double(t, strlen(t), &x);
    case CREST_TYPE_BOOLEAN:
        return app_parse_bool(t, strlen(t), &b);
    default:
        return 0;
    }
}

static bool template_has(const struct app_route *route, const char *name)
{
    for (uint8_t i = 0; i < route->n_segments; i++) {
        const struct app_segment *s = &route->segments[i];
        if (s->kind != APP_SEG_STATIC && s->len == strlen(name) && !memcmp(s->text, name, s->len))
            return true;
    }
    return false;
}

int app_validate_route(const struct app_route *route, char *err)
{
    const struct crest_route *def = &route->def;
    if (def->n_params + route->n_params > APP_MAX_VALUES) {
        if (err)
            snprintf(err, CREST_ERR_LEN, "route '%s': too many parameters", def->path);
        return -EINVAL;
    }
    for (size_t i = 0; i < def->n_params; i++) {
        const struct crest_param *d = &def->params[i];
        const char *why = NULL;
        if (!d->name || (d->in != CREST_IN_QUERY && d->in != CREST_IN_PATH))
            why = "needs a name and .in";
        else if (d->type < CREST_TYPE_STRING || d->type > CREST_TYPE_BOOLEAN)
            why = "type must be string, integer, number or boolean";
        else if (d->in == CREST_IN_PATH && !template_has(route, d->name))
            why = "is not in the path template";
        else if (param_default_ok(d) != 0)
            why = "default_text does not parse as its type";
        if (why) {
            if (err)
                snprintf(err, CREST_ERR_LEN, "route '%s': parameter '%s' %s", def->path,
                         d->name ? d->name : "?", why);
            return -EINVAL;
        }
    }
    int rc = def->body ? app_schema_check_defaults(def->body, err) : 0;
    return rc || !def->response ? rc : app_schema_check_defaults(def->response, err);
}
