/* valid/route.c: the check of a route's declarations when it is added (crest_app_add_route), so
 * that a mistake fails at start-up with a sentence rather than as a 500 at the first request:
 * parameters exist in the template and parse as their type, defaults are valid JSON. */
#include "valid/valid.h"

#include "req/req.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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
        return req_scalar_int64(t, strlen(t), &i);
    case CREST_TYPE_NUMBER:
        return req_scalar_double(t, strlen(t), &x);
    case CREST_TYPE_BOOLEAN:
        return req_scalar_bool(t, strlen(t), &b);
    default:
        return 0;
    }
}

static bool template_has(const struct route *route, const char *name)
{
    for (uint8_t i = 0; i < route->n_segments; i++) {
        const struct route_segment *s = &route->segments[i];
        if (s->kind != ROUTE_SEG_STATIC && s->len == strlen(name) && !memcmp(s->text, name, s->len))
            return true;
    }
    return false;
}

int valid_route(const struct route *route, char *err)
{
    const struct crest_route *def = &route->def;
    if (def->n_params + route->n_params > REQ_MAX_VALUES) {
        if (err)
            snprintf(err, CREST_ERR_LEN, "route '%s': too many parameters", def->path);
        return -EINVAL;
    }
    for (size_t i = 0; i < def->n_params; i++) {
        const struct crest_param *d = &def->params[i];
        const char *why = NULL;
        if (!d->name || d->in < CREST_IN_QUERY || d->in > CREST_IN_COOKIE)
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
    if ((def->body_stream && def->body) || (def->n_form && (!def->form || !def->body_stream))) {
        if (err) /* a schema needs the whole body; a form describes a streamed one */
            snprintf(err, CREST_ERR_LEN, "route '%s': body_stream excludes body; form needs it",
                     def->path);
        return -EINVAL;
    }
    for (size_t i = 0; i < def->n_form; i++) {
        if (!def->form[i].name) {
            if (err)
                snprintf(err, CREST_ERR_LEN, "route '%s': a form field needs a name", def->path);
            return -EINVAL;
        }
    }
    const struct crest_schema *schemas[3] = {def->body, def->response, def->query};
    for (size_t i = 0; i < 3; i++) {
        int rc = schemas[i] ? valid_schema_check_defaults(schemas[i], err) : 0;
        if (!rc && schemas[i])
            rc = valid_bind_check_schema(schemas[i], err, 0);
        if (rc)
            return rc;
    }
    if (def->body_form && !def->body) {
        if (err)
            snprintf(err, CREST_ERR_LEN, "route '%s': body_form needs a body schema", def->path);
        return -EINVAL;
    }
    return 0;
}
