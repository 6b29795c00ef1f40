/* valid/params.c: path, query, header and cookie parameters: text → typed value, checked against
 * the declaration, with pydantic's *_parsing errors and bounds. Path parameters take their type
 * from the route template and their bounds from a declared crest_param of the same name. */
#include "req/req.h"
#include "valid/valid.h"

#include <errno.h>
#include <string.h>

static const struct crest_param *declared(const struct route *route, uint8_t in, const char *name,
                                          size_t len)
{
    for (size_t i = 0; i < route->def.n_params; i++) {
        const struct crest_param *d = &route->def.params[i];
        if (d->in == in && strlen(d->name) == len && memcmp(d->name, name, len) == 0)
            return d;
    }
    return NULL;
}

static const char *parsing_message(uint8_t type, const char **kind)
{
    switch (type) {
    case CREST_TYPE_INTEGER:
        *kind = "int_parsing";
        return "Input should be a valid integer, unable to parse string as an integer";
    case CREST_TYPE_NUMBER:
        *kind = "float_parsing";
        return "Input should be a valid number, unable to parse string as a number";
    default:
        *kind = "bool_parsing";
        return "Input should be a valid boolean, unable to interpret input";
    }
}

/* Converts and checks one parameter's text into v. */
static bool check_text(struct valid_problems *p, const struct valid_loc *loc,
                       const struct crest_param *d, uint8_t type, struct crest_str text,
                       struct req_value *v)
{
    struct valid_input input = {.text = &text};
    int err = 0;

    v->type = type;
    switch (type) {
    case CREST_TYPE_INTEGER:
        err = req_scalar_int64(text.ptr, text.len, &v->i);
        if (!err)
            v->d = (double)v->i;
        break;
    case CREST_TYPE_NUMBER:
        err = req_scalar_double(text.ptr, text.len, &v->d);
        break;
    case CREST_TYPE_BOOLEAN:
        err = req_scalar_bool(text.ptr, text.len, &v->b);
        break;
    default:
        v->s = text;
        return !d || valid_schema_check_string_length(p, loc,
                                                      valid_schema_utf8_length(text.ptr, text.len),
                                                      input, d->min_length, d->max_length);
    }
    if (err) {
        const char *kind, *msg = parsing_message(type, &kind);
        valid_problems_add(p, loc, kind, msg, input, NULL, 0);
        return false;
    }
    if (!d || type == CREST_TYPE_BOOLEAN)
        return true;
    return valid_schema_check_bounds(p, loc, type == CREST_TYPE_INTEGER ? (double)v->i : v->d,
                                     input, d->gt, d->ge, d->lt, d->le);
}

static void check_path(struct valid_problems *p, struct crest_req *req)
{
    const struct route *route = req->match.route;
    for (uint8_t k = 0; k < req->match.n_params && req->n_values < REQ_MAX_VALUES; k++) {
        const struct route_param *mp = &req->match.params[k];
        const struct crest_param *d =
            declared(route, CREST_IN_PATH, mp->segment->text, mp->segment->len);
        uint8_t type = mp->segment->kind == ROUTE_SEG_INT ? CREST_TYPE_INTEGER
                       : d                                ? d->type
                                                          : CREST_TYPE_STRING;
        struct valid_loc loc = {.root = "path"};
        struct req_value *v = &req->values[req->n_values++];
        valid_loc_push_key(&loc, mp->segment->text, mp->segment->len);
        v->name = d ? d->name : NULL;
        v->has = check_text(p, &loc, d, type, mp->value, v);
    }
}

/* A query parameter's, header's or cookie's text: 0, -ENOENT (absent), -ENOMEM. */
static int text_of(struct crest_req *req, const struct crest_param *d, struct crest_str *text)
{
    switch (d->in) {
    case CREST_IN_QUERY:
        return req_query_param(req, d->name, text);
    case CREST_IN_HEADER:
        *text = crest_req_header(req, d->name);
        return text->ptr ? 0 : -ENOENT;
    default:
        *text = crest_req_cookie(req, d->name);
        return text->ptr ? 0 : -ENOENT;
    }
}

/* The declared parameters found in one place (query, header or cookie). */
static void check_declared(struct valid_problems *p, struct crest_req *req, uint8_t in,
                           const char *root)
{
    const struct route *route = req->match.route;
    for (size_t i = 0; i < route->def.n_params && req->n_values < REQ_MAX_VALUES; i++) {
        const struct crest_param *d = &route->def.params[i];
        struct valid_loc loc = {.root = root};
        struct req_value *v;
        struct crest_str text;
        if (d->in != in)
            continue;
        v = &req->values[req->n_values++];
        v->name = d->name;
        v->type = d->type;
        valid_loc_push_key(&loc, d->name, strlen(d->name));
        int err = text_of(req, d, &text);
        if (err == -ENOENT && d->required) {
            valid_problems_add(p, &loc, "missing", "Field required", (struct valid_input){0}, NULL,
                               0);
            continue;
        }
        if (err == -ENOENT && !d->default_text)
            continue; /* optional without default: stays absent */
        if (err == -ENOMEM) {
            p->err = -ENOMEM;
            continue;
        }
        if (err == -ENOENT)
            text = (struct crest_str){d->default_text, strlen(d->default_text)};
        v->has = check_text(p, &loc, d, d->type, text, v);
    }
}

void valid_params_check(struct valid_problems *p, struct crest_req *req)
{
    req->n_values = 0;
    check_path(p, req); /* FastAPI's order: path, query, header, cookie (then the body) */
    check_declared(p, req, CREST_IN_QUERY, "query");
    check_declared(p, req, CREST_IN_HEADER, "header");
    check_declared(p, req, CREST_IN_COOKIE, "cookie");
}

static const struct req_value *value_of(const struct crest_req *req, const char *name)
{
    for (uint8_t i = 0; i < req->n_values; i++) {
        const struct req_value *v = &req->values[i];
        const char *n = v->name;
        if (!n && i < req->match.n_params) { /* an undeclared path parameter: named by template */
            const struct route_segment *seg = req->match.params[i].segment;
            if (strlen(name) == seg->len && memcmp(seg->text, name, seg->len) == 0)
                return v->has ? v : NULL;
            continue;
        }
        if (n && strcmp(n, name) == 0)
            return v->has ? v : NULL;
    }
    return NULL;
}

CREST_API bool crest_param_has(const struct crest_req *req, const char *name)
{
    return value_of(req, name) != NULL;
}

CREST_API int64_t crest_param_int(const struct crest_req *req, const char *name)
{
    const struct req_value *v = value_of(req, name);
    return v && v->type == CREST_TYPE_INTEGER ? v->i : 0;
}

CREST_API double crest_param_number(const struct crest_req *req, const char *name)
{
    const struct req_value *v = value_of(req, name);
    return v && (v->type == CREST_TYPE_NUMBER || v->type == CREST_TYPE_INTEGER) ? v->d : 0;
}

CREST_API bool crest_param_bool(const struct crest_req *req, const char *name)
{
    const struct req_value *v = value_of(req, name);
    return v && v->type == CREST_TYPE_BOOLEAN && v->b;
}

CREST_API struct crest_str crest_param_str(const struct crest_req *req, const char *name)
{
    const struct req_value *v = value_of(req, name);
    return v && v->type == CREST_TYPE_STRING ? v->s : (struct crest_str){NULL, 0};
}
