/* openapi/openapi.c: an app's OpenAPI 3.1.0 document, rendered from its route table and schemas in
 * FastAPI's shapes (operationIds, titles, the 422 HTTPValidationError and ValidationError
 * components, nullable fields as anyOf with null), so that Swagger UI, ReDoc and client
 * generators treat a crest service as they treat a FastAPI one. It runs once per app (app/docs.c
 * keeps the text and serves it); nothing here is on the request path. */
#include "openapi/openapi.h"

#include "app/app.h"
#include "http/status.h"
#include "mem/arena.h"
#include "mem/mem.h"
#include "json/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REF_PREFIX "#/components/schemas/"

enum {
    PATH_MAX_BYTES = 1024, /* an OpenAPI path; longer templates are cut (none is, in practice) */
    TITLE_MAX_BYTES = 128,
    MAX_NESTING = 32, /* unnamed schemas are inlined; a cycle of them stops here */
};

struct render {
    struct crest_json *j;
    const struct crest_app *app;
    struct mem_arena arena; /* parsed default values, reset after each */
    unsigned depth;
    bool oom; /* the arena could not hold a value to copy: the document is incomplete */
    _Alignas(16) char arena_first[1024];
};

/* A components.schemas entry: a declared schema, or (schema NULL) one of crest's error bodies. */
struct component {
    const char *name;
    const struct crest_schema *schema;
};

struct components {
    struct component *v; /* MEM_APP, freed once the document is written */
    size_t n, cap;
};

/* ---- small writers ---- */

static void key_str(struct crest_json *j, const char *key, const char *value)
{
    crest_json_key(j, key);
    crest_json_string(j, value);
}

static void ref_string(struct crest_json *j, const char *name)
{
    char text[sizeof(REF_PREFIX) + TITLE_MAX_BYTES];
    size_t n = strnlen(name, TITLE_MAX_BYTES);
    memcpy(text, REF_PREFIX, sizeof(REF_PREFIX) - 1);
    memcpy(text + sizeof(REF_PREFIX) - 1, name, n);
    crest_json_string_len(j, text, sizeof(REF_PREFIX) - 1 + n);
}

static void ref(struct crest_json *j, const char *name)
{
    crest_json_object_begin(j);
    crest_json_key(j, "$ref");
    ref_string(j, name);
    crest_json_object_end(j);
}

/* pydantic's title of a field: Python's str.title() with '_' as a space ("item_id" → "Item Id"). */
static void title(struct crest_json *j, const char *name)
{
    char text[TITLE_MAX_BYTES];
    size_t n = 0;
    bool after_letter = false;
    for (; n < sizeof(text) && name[n]; n++) {
        char c = name[n];
        bool lower = c >= 'a' && c <= 'z', upper = c >= 'A' && c <= 'Z';
        if (lower && !after_letter)
            c = (char)(c - 'a' + 'A');
        else if (upper && after_letter)
            c = (char)(c - 'A' + 'a');
        text[n] = c == '_' ? ' ' : c;
        after_letter = lower || upper;
    }
    crest_json_key(j, "title");
    crest_json_string_len(j, text, n);
}

static const char *type_name(uint8_t type)
{
    switch (type) {
    case CREST_TYPE_STRING:
        return "string";
    case CREST_TYPE_INTEGER:
        return "integer";
    case CREST_TYPE_NUMBER:
        return "number";
    case CREST_TYPE_BOOLEAN:
        return "boolean";
    case CREST_TYPE_ARRAY:
        return "array";
    default:
        return "object";
    }
}

/* OpenAPI 3.1 is JSON Schema 2020-12: exclusive bounds are numbers, not booleans. */
static void bounds(struct crest_json *j, struct crest_bound gt, struct crest_bound ge,
                   struct crest_bound lt, struct crest_bound le)
{
    const struct {
        const char *key;
        struct crest_bound b;
    } all[] = {
        {"exclusiveMinimum", gt}, {"minimum", ge}, {"exclusiveMaximum", lt}, {"maximum", le}};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (!all[i].b.on)
            continue;
        crest_json_key(j, all[i].key);
        if (all[i].b.value == (double)(int64_t)all[i].b.value)
            crest_json_int(j, (int64_t)all[i].b.value); /* 0, not 0.0: as pydantic writes it */
        else
            crest_json_double(j, all[i].b.value);
    }
}

/* Strings count code points (minLength), arrays items (minItems). */
static void lengths(struct crest_json *j, uint8_t type, struct crest_limit min,
                    struct crest_limit max)
{
    bool array = type == CREST_TYPE_ARRAY;
    if (min.on) {
        crest_json_key(j, array ? "minItems" : "minLength");
        crest_json_int(j, min.value);
    }
    if (max.on) {
        crest_json_key(j, array ? "maxItems" : "maxLength");
        crest_json_int(j, max.value);
    }
}

/* Writes a JSON text as a value. The texts are valid (defaults are checked when a route is added,
 * the rest are constants here), so a failure is the arena running out of memory. */
static void json_text(struct render *rd, const char *text)
{
    struct crest_json_value *v;
    enum json_parse_status st = json_parse(text, strlen(text), &rd->arena, &v, NULL, NULL);
    if (st == JSON_PARSE_OK)
        crest_json_write_value(rd->j, v);
    else
        crest_json_null(rd->j);
    rd->oom |= st == JSON_PARSE_NOMEM;
    mem_arena_reset(&rd->arena);
}

static void default_json(struct render *rd, const char *text)
{
    crest_json_key(rd->j, "default");
    json_text(rd, text);
}

/* A query parameter's default_text, written as its type reads it ("100" → 100, "true" → true). */
static void default_text(struct crest_json *j, uint8_t type, const char *text)
{
    crest_json_key(j, "default");
    if (type == CREST_TYPE_INTEGER) {
        crest_json_int(j, strtoll(text, NULL, 10));
    } else if (type == CREST_TYPE_NUMBER) {
        crest_json_double(j, strtod(text, NULL));
    } else if (type == CREST_TYPE_BOOLEAN) {
        static const char *const yes[] = {"true", "1", "yes", "on"};
        bool v = false;
        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
            v |= strcasecmp(text, yes[i]) == 0;
        crest_json_bool(j, v);
    } else {
        crest_json_string(j, text);
    }
}

/* ---- schemas ---- */

static void object_schema(struct render *rd, const struct crest_schema *s);

/* A schema by reference when it has a name (it is in components), else inline. */
static void schema_use(struct render *rd, const struct crest_schema *s)
{
    if (s->name)
        ref(rd->j, s->name);
    else
        object_schema(rd, s);
}

static void rule_schema(struct render *rd, const struct crest_field *f);

static const char *format_name(uint8_t format)
{
    static const char *const names[] = {
        [CREST_FORMAT_EMAIL] = "email", [CREST_FORMAT_UUID] = "uuid",
        [CREST_FORMAT_DATE] = "date",   [CREST_FORMAT_DATE_TIME] = "date-time",
        [CREST_FORMAT_URI] = "uri",     [CREST_FORMAT_IPV4] = "ipv4",
        [CREST_FORMAT_IPV6] = "ipv6",
    };
    return format < sizeof(names) / sizeof(names[0]) ? names[format] : NULL;
}

/* The rules of issue 17 as JSON Schema says them (pydantic writes the same keys): pattern,
 * format, enum, multipleOf, uniqueItems. */
static void rule_keys(struct crest_json *j, const struct crest_field *f)
{
    if (f->pattern)
        key_str(j, "pattern", f->pattern);
    if (f->format && format_name(f->format))
        key_str(j, "format", format_name(f->format));
    if (f->literals) {
        crest_json_key(j, "enum");
        crest_json_array_begin(j);
        for (size_t i = 0; i < f->n_literals; i++) {
            if (f->type == CREST_TYPE_INTEGER)
                crest_json_int(j, strtoll(f->literals[i], NULL, 10));
            else
                crest_json_string(j, f->literals[i]);
        }
        crest_json_array_end(j);
    }
    if (f->multiple_of.on) {
        crest_json_key(j, "multipleOf");
        if (f->multiple_of.value == (double)(int64_t)f->multiple_of.value)
            crest_json_int(j, (int64_t)f->multiple_of.value);
        else
            crest_json_double(j, f->multiple_of.value);
    }
    if (f->unique_items) {
        crest_json_key(j, "uniqueItems");
        crest_json_bool(j, true);
    }
}

/* The keys of a field's value rule (type, limits, items) inside an object being written. */
static void value_keys(struct render *rd, const struct crest_field *f)
{
    struct crest_json *j = rd->j;
    key_str(j, "type", type_name(f->type));
    if (f->type == CREST_TYPE_STRING || f->type == CREST_TYPE_ARRAY)
        lengths(j, f->type, f->min_length, f->max_length);
    if (f->type == CREST_TYPE_INTEGER || f->type == CREST_TYPE_NUMBER)
        bounds(j, f->gt, f->ge, f->lt, f->le);
    rule_keys(j, f);
    if (f->type == CREST_TYPE_ARRAY && f->items && rd->depth < MAX_NESTING) {
        rd->depth++;
        crest_json_key(j, "items");
        rule_schema(rd, f->items);
        rd->depth--;
    }
}

/* The value rule of a field, without what belongs to the field itself (title, default). */
static void value_schema(struct render *rd, const struct crest_field *f)
{
    if (f->type == CREST_TYPE_OBJECT && f->object) {
        schema_use(rd, f->object);
        return;
    }
    crest_json_object_begin(rd->j);
    value_keys(rd, f);
    crest_json_object_end(rd->j);
}

static void nullable_of(struct render *rd, const struct crest_field *f)
{
    struct crest_json *j = rd->j;
    crest_json_key(j, "anyOf");
    crest_json_array_begin(j);
    value_schema(rd, f);
    crest_json_object_begin(j);
    key_str(j, "type", "null");
    crest_json_object_end(j);
    crest_json_array_end(j);
}

/* An array's item rule: its value rule, or that or null. */
static void rule_schema(struct render *rd, const struct crest_field *f)
{
    if (!f->nullable) {
        value_schema(rd, f);
        return;
    }
    crest_json_object_begin(rd->j);
    nullable_of(rd, f);
    crest_json_object_end(rd->j);
}

/* A property, as pydantic writes it: Optional[T] is {"anyOf": [T, {"type": "null"}]} with the
 * title and default beside it; a nested model is its $ref (with a default or description beside
 * it, which 3.1 allows); anything else is its rule plus title and default. */
static void field_schema(struct render *rd, const struct crest_field *f)
{
    struct crest_json *j = rd->j;
    bool named_object = f->type == CREST_TYPE_OBJECT && f->object && f->object->name;

    if (named_object && !f->nullable && !f->default_json && !f->description) {
        ref(j, f->object->name);
        return;
    }
    crest_json_object_begin(j);
    if (f->nullable) {
        nullable_of(rd, f);
    } else if (named_object) {
        crest_json_key(j, "$ref");
        ref_string(j, f->object->name);
    } else if (f->type == CREST_TYPE_OBJECT && f->object) {
        crest_json_key(j, "allOf"); /* an inline object schema with a title beside it */
        crest_json_array_begin(j);
        object_schema(rd, f->object);
        crest_json_array_end(j);
    } else {
        value_keys(rd, f);
    }
    if (f->name && !named_object)
        title(j, f->name);
    if (f->description)
        key_str(j, "description", f->description);
    if (f->default_json)
        default_json(rd, f->default_json);
    crest_json_object_end(j);
}

static void object_schema(struct render *rd, const struct crest_schema *s)
{
    struct crest_json *j = rd->j;
    size_t n_required = 0;

    if (rd->depth >= MAX_NESTING) {
        crest_json_object_begin(j);
        crest_json_object_end(j);
        return;
    }
    rd->depth++;
    crest_json_object_begin(j);
    crest_json_key(j, "properties");
    crest_json_object_begin(j);
    for (size_t i = 0; i < s->n_fields; i++) {
        crest_json_key(j, s->fields[i].name);
        field_schema(rd, &s->fields[i]);
        n_required += s->fields[i].required;
    }
    crest_json_object_end(j);
    key_str(j, "type", "object");
    if (s->forbid_extra) { /* pydantic's extra="forbid" */
        crest_json_key(j, "additionalProperties");
        crest_json_bool(j, false);
    }
    if (n_required) {
        crest_json_key(j, "required");
        crest_json_array_begin(j);
        for (size_t i = 0; i < s->n_fields; i++)
            if (s->fields[i].required)
                crest_json_string(j, s->fields[i].name);
        crest_json_array_end(j);
    }
    if (s->name)
        key_str(j, "title", s->name);
    crest_json_object_end(j);
    rd->depth--;
}

/* ---- operations ---- */

static bool in_document(const struct route *r)
{
    return !r->def.hidden;
}

/* Whether crest may answer 422 before the handler runs. */
static bool validates(const struct route *r)
{
    return r->n_params || r->def.n_params || r->def.body || r->def.query;
}

/* "/items/{item_id:int}" → "/items/{item_id}", NUL-terminated, cut to fit out. */
static void openapi_path(const struct route *r, char out[PATH_MAX_BYTES])
{
    size_t n = 0;
    for (uint8_t i = 0; i < r->n_segments; i++) {
        const struct route_segment *seg = &r->segments[i];
        bool param = seg->kind != ROUTE_SEG_STATIC;
        if (n + seg->len + 4 >= PATH_MAX_BYTES)
            break;
        out[n++] = '/';
        if (param)
            out[n++] = '{';
        memcpy(out + n, seg->text, seg->len);
        n += seg->len;
        if (param)
            out[n++] = '}';
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
}

static void append_id(char *out, size_t *n, const char *s)
{
    for (; *s && *n + 1 < OPENAPI_ID_MAX; s++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            c = '_';
        out[(*n)++] = c;
    }
}

void openapi_operation_id(const char *summary, const char *method, const char *openapi_path,
                          char out[OPENAPI_ID_MAX])
{
    size_t n = 0;
    append_id(out, &n, summary ? summary : method);
    append_id(out, &n, openapi_path);
    append_id(out, &n, "_");
    append_id(out, &n, method);
    out[n] = '\0';
}

/* FastAPI's ids are unique because function names are; summaries need not be, so the k-th route
 * (in table order) with an id already taken gets "_<k>" after it. Ids end with the method, so a
 * suffixed one never equals another route's plain one. */
static void plain_id(const struct route *r, char out[OPENAPI_ID_MAX])
{
    char path[PATH_MAX_BYTES];
    openapi_path(r, path);
    openapi_operation_id(r->def.summary, route_method_name(r->method), path, out);
}

static void operation_id(const struct crest_app *app, uint32_t index, char out[OPENAPI_ID_MAX])
{
    const struct route *routes = app->router.routes;
    char other[OPENAPI_ID_MAX];
    unsigned same = 0;

    plain_id(&routes[index], out);
    for (uint32_t i = 0; i < index; i++) {
        if (!in_document(&routes[i]))
            continue;
        plain_id(&routes[i], other);
        same += strcmp(other, out) == 0;
    }
    if (same) {
        size_t n = strlen(out);
        if (n + 12 >= OPENAPI_ID_MAX)
            n = OPENAPI_ID_MAX - 12;
        snprintf(out + n, OPENAPI_ID_MAX - n, "_%u", same + 1);
    }
}

static const struct crest_param *declared(const struct route *r, const char *name, size_t len,
                                          uint8_t in)
{
    for (size_t i = 0; i < r->def.n_params; i++) {
        const struct crest_param *d = &r->def.params[i];
        if (d->in == in && strlen(d->name) == len && memcmp(d->name, name, len) == 0)
            return d;
    }
    return NULL;
}

static const char *in_name(uint8_t in)
{
    switch (in) {
    case CREST_IN_PATH:
        return "path";
    case CREST_IN_HEADER:
        return "header";
    case CREST_IN_COOKIE:
        return "cookie";
    default:
        return "query";
    }
}

/* One entry of "parameters"; d (may be NULL) adds limits, default and description. */
static void parameter(struct render *rd, const char *name, uint8_t in, uint8_t type, bool required,
                      const struct crest_param *d)
{
    struct crest_json *j = rd->j;
    crest_json_object_begin(j);
    key_str(j, "name", name);
    key_str(j, "in", in_name(in));
    crest_json_key(j, "required");
    crest_json_bool(j, required);
    if (d && d->description)
        key_str(j, "description", d->description);
    crest_json_key(j, "schema");
    crest_json_object_begin(j);
    key_str(j, "type", type_name(type));
    if (d && type == CREST_TYPE_STRING)
        lengths(j, type, d->min_length, d->max_length);
    if (d && (type == CREST_TYPE_INTEGER || type == CREST_TYPE_NUMBER))
        bounds(j, d->gt, d->ge, d->lt, d->le);
    if (d && d->default_text && !required)
        default_text(j, type, d->default_text);
    title(j, name);
    crest_json_object_end(j);
    crest_json_object_end(j);
}

/* A query model's fields, one query parameter each, their schema as a body field's. */
static void model_parameters(struct render *rd, const struct crest_schema *m)
{
    struct crest_json *j = rd->j;
    for (size_t i = 0; i < m->n_fields; i++) {
        const struct crest_field *f = &m->fields[i];
        crest_json_object_begin(j);
        key_str(j, "name", f->name);
        key_str(j, "in", "query");
        crest_json_key(j, "required");
        crest_json_bool(j, f->required);
        if (f->description)
            key_str(j, "description", f->description);
        crest_json_key(j, "schema");
        field_schema(rd, f);
        crest_json_object_end(j);
    }
}

/* Path parameters in template order (typed by the template), then query, header and cookie
 * parameters, as FastAPI lists them. */
static void parameters(struct render *rd, const struct route *r)
{
    static const uint8_t places[] = {CREST_IN_QUERY, CREST_IN_HEADER, CREST_IN_COOKIE};
    struct crest_json *j = rd->j;
    bool any_declared = false;

    for (size_t i = 0; i < r->def.n_params; i++)
        any_declared |= r->def.params[i].in != CREST_IN_PATH;
    if (!r->n_params && !any_declared && !r->def.query)
        return;
    crest_json_key(j, "parameters");
    crest_json_array_begin(j);
    for (uint8_t i = 0; i < r->n_segments; i++) {
        const struct route_segment *seg = &r->segments[i];
        char name[TITLE_MAX_BYTES];
        if (seg->kind == ROUTE_SEG_STATIC)
            continue;
        size_t n = seg->len < sizeof(name) - 1 ? seg->len : sizeof(name) - 1;
        memcpy(name, seg->text, n);
        name[n] = '\0';
        parameter(rd, name, CREST_IN_PATH,
                  seg->kind == ROUTE_SEG_INT ? CREST_TYPE_INTEGER : CREST_TYPE_STRING, true,
                  declared(r, seg->text, seg->len, CREST_IN_PATH));
    }
    for (size_t k = 0; k < sizeof(places); k++) {
        for (size_t i = 0; i < r->def.n_params; i++) {
            const struct crest_param *d = &r->def.params[i];
            if (d->in == places[k])
                parameter(rd, d->name, d->in, d->type, d->required, d);
        }
        if (places[k] == CREST_IN_QUERY && r->def.query)
            model_parameters(rd, r->def.query);
    }
    crest_json_array_end(j);
}

/* ---- security ---- */

/* The scheme's name in components.securitySchemes: its own, or FastAPI's class name. */
static const char *scheme_name(const struct crest_security *s)
{
    if (s->scheme_name)
        return s->scheme_name;
    switch (s->kind) {
    case CREST_SECURITY_HTTP_BEARER:
        return "HTTPBearer";
    case CREST_SECURITY_HTTP_BASIC:
        return "HTTPBasic";
    default:
        return s->in == CREST_IN_QUERY    ? "APIKeyQuery"
               : s->in == CREST_IN_COOKIE ? "APIKeyCookie"
                                          : "APIKeyHeader";
    }
}

/* The security hook at position pos of the route's chain and after, or NULL; *pos moves past it. */
static const struct crest_security *next_scheme(const struct crest_app *app, const struct route *r,
                                                uint16_t *pos)
{
    const struct crest_hook *h;
    while ((h = app_hook_at(app, r, (*pos)++)) != NULL)
        if (h->security)
            return h->security;
    return NULL;
}

static bool secured(const struct crest_app *app, const struct route *r)
{
    uint16_t pos = 0;
    return next_scheme(app, r, &pos) != NULL;
}

/* "security": [{"HTTPBearer": []}, ...]: one requirement per scheme guarding the route, as
 * FastAPI lists its security dependencies. */
static void security(struct render *rd, const struct route *r)
{
    struct crest_json *j = rd->j;
    const struct crest_security *s;
    uint16_t pos = 0;
    bool any = false;

    while ((s = next_scheme(rd->app, r, &pos)) != NULL) {
        if (!any) {
            crest_json_key(j, "security");
            crest_json_array_begin(j);
            any = true;
        }
        crest_json_object_begin(j);
        crest_json_key(j, scheme_name(s));
        crest_json_array_begin(j);
        crest_json_array_end(j);
        crest_json_object_end(j);
    }
    if (any)
        crest_json_array_end(j);
}

/* {"description": ..., "content": {"application/json": {"schema": <ref to component>}}} */
static void error_response(struct crest_json *j, const char *status, const char *description,
                           const char *component)
{
    crest_json_key(j, status);
    crest_json_object_begin(j);
    key_str(j, "description", description);
    crest_json_key(j, "content");
    crest_json_object_begin(j);
    crest_json_key(j, "application/json");
    crest_json_object_begin(j);
    crest_json_key(j, "schema");
    ref(j, component);
    crest_json_object_end(j);
    crest_json_object_end(j);
    crest_json_object_end(j);
}

/* A body that is not JSON: text (FastAPI's PlainTextResponse and HTMLResponse say
 * {"type": "string"}), or bytes (OpenAPI 3.1 4.8.14.3: binary content is a string of the media
 * type; "format": "binary" is what Swagger UI reads to offer a download). */
static void other_type_schema(struct crest_json *j, const char *type)
{
    crest_json_object_begin(j);
    key_str(j, "type", "string");
    if (strncasecmp(type, "text/", 5) != 0)
        key_str(j, "format", "binary");
    crest_json_object_end(j);
}

static void success_response(struct render *rd, const struct crest_route *def, int status)
{
    struct crest_json *j = rd->j;
    char code[16];

    snprintf(code, sizeof(code), "%d", status);
    crest_json_key(j, code);
    crest_json_object_begin(j);
    key_str(j, "description", "Successful Response");
    if (status >= 200 && status != 204 && status != 304) { /* RFC 9110 15.3.5: 204 has no body */
        crest_json_key(j, "content");
        crest_json_object_begin(j);
        crest_json_key(j, def->response_type ? def->response_type : "application/json");
        crest_json_object_begin(j);
        crest_json_key(j, "schema");
        if (def->response_type) {
            other_type_schema(j, def->response_type);
        } else if (def->response && def->response_is_array) {
            crest_json_object_begin(j);
            key_str(j, "type", "array");
            crest_json_key(j, "items");
            schema_use(rd, def->response);
            crest_json_object_end(j);
        } else if (def->response) {
            schema_use(rd, def->response);
        } else {
            crest_json_object_begin(j); /* FastAPI's "anything": {} */
            crest_json_object_end(j);
        }
        crest_json_object_end(j);
        crest_json_object_end(j);
    }
    crest_json_object_end(j);
}

/* The response the route declares for status, or NULL. */
static const struct crest_doc_response *declared_response(const struct crest_route *def, int status)
{
    for (size_t i = 0; i < def->n_responses; i++)
        if (def->responses[i].status == status)
            return &def->responses[i];
    return NULL;
}

/* A declared response, {"detail": ...} unless it names a schema. */
static void doc_response(struct render *rd, const struct crest_doc_response *d)
{
    struct crest_json *j = rd->j;
    char code[16];
    const char *reason = http_status_reason((unsigned)d->status);

    snprintf(code, sizeof(code), "%d", d->status);
    if (!d->schema) {
        error_response(j, code, d->description ? d->description : reason, "HTTPError");
        return;
    }
    crest_json_key(j, code);
    crest_json_object_begin(j);
    key_str(j, "description", d->description ? d->description : reason);
    crest_json_key(j, "content");
    crest_json_object_begin(j);
    crest_json_key(j, "application/json");
    crest_json_object_begin(j);
    crest_json_key(j, "schema");
    schema_use(rd, d->schema);
    crest_json_object_end(j);
    crest_json_object_end(j);
    crest_json_object_end(j);
}

/* The statuses crest itself may answer for this route, in order, unless declared or the success
 * one: 401 where a security hook guards it, 404 where a path parameter may name nothing, 422
 * where crest validates, and 503, which any request may get when memory is over the budget. */
static void responses(struct render *rd, const struct route *r)
{
    struct crest_json *j = rd->j;
    const struct crest_route *def = &r->def;
    int status = def->status ? def->status : 200;
    const struct {
        int status;
        bool on;
        const char *description, *component;
    } own[] = {
        {401, secured(rd->app, r), "Not authenticated", "HTTPError"},
        {404, r->n_params > 0, "Not Found", "HTTPError"},
        {413, def->body_stream, "Request body too large", "HTTPError"},
        {422, validates(r), "Validation Error", "HTTPValidationError"},
        {503, true, "Service Unavailable (over the memory budget)", "HTTPError"},
    };
    size_t k = 0;

    crest_json_key(j, "responses");
    crest_json_object_begin(j);
    success_response(rd, def, status);
    /* ascending, as FastAPI writes them: crest's own and the declared ones merged */
    for (int code = 100; code < 600; code++) {
        bool mine = k < sizeof(own) / sizeof(own[0]) && own[k].status == code;
        size_t at = k;
        k += mine;
        if (code == status)
            continue;
        const struct crest_doc_response *d = declared_response(def, code);
        if (d) {
            doc_response(rd, d);
        } else if (mine && own[at].on) {
            char text[16];
            snprintf(text, sizeof(text), "%d", code);
            error_response(j, text, own[at].description, own[at].component);
        }
    }
    crest_json_object_end(j);
}

/* A streamed body (body_stream): multipart/form-data of the route's form fields (files as
 * strings of format binary, FastAPI's UploadFile), else application/octet-stream. */
static void stream_body_content(struct crest_json *j, const struct crest_route *def)
{
    crest_json_key(j, def->n_form ? "multipart/form-data" : "application/octet-stream");
    crest_json_object_begin(j);
    crest_json_key(j, "schema");
    crest_json_object_begin(j);
    if (!def->n_form) {
        key_str(j, "type", "string");
        key_str(j, "format", "binary");
        crest_json_object_end(j);
        crest_json_object_end(j);
        return;
    }
    key_str(j, "type", "object");
    crest_json_key(j, "properties");
    crest_json_object_begin(j);
    for (size_t i = 0; i < def->n_form; i++) {
        crest_json_key(j, def->form[i].name);
        crest_json_object_begin(j);
        key_str(j, "type", "string");
        if (def->form[i].file)
            key_str(j, "format", "binary");
        if (def->form[i].description)
            key_str(j, "description", def->form[i].description);
        crest_json_object_end(j);
    }
    crest_json_object_end(j);
    crest_json_key(j, "required");
    crest_json_array_begin(j);
    for (size_t i = 0; i < def->n_form; i++)
        if (def->form[i].required)
            crest_json_string(j, def->form[i].name);
    crest_json_array_end(j);
    crest_json_object_end(j);
    crest_json_object_end(j);
}

static void request_body(struct render *rd, const struct crest_route *def)
{
    struct crest_json *j = rd->j;

    if (!def->body && !def->body_stream)
        return;
    crest_json_key(j, "requestBody");
    crest_json_object_begin(j);
    crest_json_key(j, "content");
    crest_json_object_begin(j);
    if (def->body_stream) {
        stream_body_content(j, def);
    } else {
        crest_json_key(j,
                       def->body_form ? "application/x-www-form-urlencoded" : "application/json");
        crest_json_object_begin(j);
        crest_json_key(j, "schema");
        schema_use(rd, def->body);
        crest_json_object_end(j);
    }
    crest_json_object_end(j);
    crest_json_key(j, "required");
    crest_json_bool(j, true);
    crest_json_object_end(j);
}

static void operation(struct render *rd, uint32_t index)
{
    const struct route *r = &rd->app->router.routes[index];
    const struct crest_route *def = &r->def;
    struct crest_json *j = rd->j;
    char method[16], id[OPENAPI_ID_MAX];
    const char *name = route_method_name(r->method);
    size_t n = 0;

    for (; name[n] && n + 1 < sizeof(method); n++)
        method[n] = (char)(name[n] - 'A' + 'a');
    method[n] = '\0';
    crest_json_key(j, method);
    crest_json_object_begin(j);
    if (def->tag) {
        crest_json_key(j, "tags");
        crest_json_array_begin(j);
        crest_json_string(j, def->tag);
        crest_json_array_end(j);
    }
    if (def->summary)
        key_str(j, "summary", def->summary);
    if (def->description)
        key_str(j, "description", def->description);
    operation_id(rd->app, index, id);
    key_str(j, "operationId", id);
    parameters(rd, r);
    request_body(rd, def);
    responses(rd, r);
    security(rd, r);
    crest_json_object_end(j);
}

/* Paths in the order their first route comes in the table, each with all its methods. */
static void paths(struct render *rd)
{
    const struct route_table *router = &rd->app->router;
    char path[PATH_MAX_BYTES], other[PATH_MAX_BYTES];

    crest_json_key(rd->j, "paths");
    crest_json_object_begin(rd->j);
    for (uint32_t i = 0; i < router->n_routes; i++) {
        bool seen = false;
        if (!in_document(&router->routes[i]))
            continue;
        openapi_path(&router->routes[i], path);
        for (uint32_t k = 0; k < i && !seen; k++) {
            openapi_path(&router->routes[k], other);
            seen = in_document(&router->routes[k]) && strcmp(path, other) == 0;
        }
        if (seen)
            continue;
        crest_json_key(rd->j, path);
        crest_json_object_begin(rd->j);
        for (uint32_t k = i; k < router->n_routes; k++) {
            openapi_path(&router->routes[k], other);
            if (in_document(&router->routes[k]) && strcmp(path, other) == 0)
                operation(rd, k);
        }
        crest_json_object_end(rd->j);
    }
    crest_json_object_end(rd->j);
}

/* ---- components ---- */

/* FastAPI's own error bodies, as FastAPI declares them (fastapi/openapi/utils.py), and the
 * {"detail": "..."} every other crest error has. */
static const char validation_error[] =
    "{\"properties\":{\"loc\":{\"items\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}"
    ","
    "\"type\":\"array\",\"title\":\"Location\"},\"msg\":{\"type\":\"string\",\"title\":\"Message\"}"
    ","
    "\"type\":{\"type\":\"string\",\"title\":\"Error Type\"}},\"type\":\"object\","
    "\"required\":[\"loc\",\"msg\",\"type\"],\"title\":\"ValidationError\"}";
static const char http_validation_error[] =
    "{\"properties\":{\"detail\":{\"items\":{\"$ref\":\"" REF_PREFIX "ValidationError\"},"
    "\"type\":\"array\",\"title\":\"Detail\"}},\"type\":\"object\",\"title\":"
    "\"HTTPValidationError\"}";
static const char http_error[] =
    "{\"properties\":{\"detail\":{\"type\":\"string\",\"title\":\"Detail\"}},\"type\":\"object\","
    "\"required\":[\"detail\"],\"title\":\"HTTPError\"}";

static const char *builtin_text(const char *name)
{
    if (strcmp(name, "ValidationError") == 0)
        return validation_error;
    if (strcmp(name, "HTTPValidationError") == 0)
        return http_validation_error;
    return http_error;
}

/* Adds name unless present (the first schema of a name wins). 1 if added, 0 if present, -ENOMEM. */
static int add_component(struct components *c, const char *name, const struct crest_schema *s)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0)
            return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct component *v =
            mem_realloc(MEM_APP, c->v, c->cap * sizeof(*c->v), cap * sizeof(*c->v));
        if (!v)
            return -ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = (struct component){name, s};
    return 1;
}

static int collect_schema(struct components *c, const struct crest_schema *s, unsigned depth);

static int collect_field(struct components *c, const struct crest_field *f, unsigned depth)
{
    int rc = 0;
    if (depth > MAX_NESTING)
        return 0;
    if (f->type == CREST_TYPE_OBJECT && f->object)
        rc = collect_schema(c, f->object, depth + 1);
    if (rc == 0 && f->type == CREST_TYPE_ARRAY && f->items)
        rc = collect_field(c, f->items, depth + 1);
    return rc;
}

/* A named schema and the named schemas its fields reach (once each, so cycles end). */
static int collect_schema(struct components *c, const struct crest_schema *s, unsigned depth)
{
    if (depth > MAX_NESTING)
        return 0;
    if (s->name) {
        int added = add_component(c, s->name, s);
        if (added <= 0)
            return added;
    }
    for (size_t i = 0; i < s->n_fields; i++) {
        int rc = collect_field(c, &s->fields[i], depth);
        if (rc)
            return rc;
    }
    return 0;
}

static int compare_components(const void *a, const void *b)
{
    return strcmp(((const struct component *)a)->name, ((const struct component *)b)->name);
}

/* Every component the document refers to, sorted by name as FastAPI sorts them. */
static int collect(const struct crest_app *app, struct components *c)
{
    const struct route_table *router = &app->router;
    bool any = false, any_422 = false;
    int rc = 0;

    for (uint32_t i = 0; i < router->n_routes && rc >= 0; i++) {
        const struct route *r = &router->routes[i];
        if (!in_document(r))
            continue;
        any = true;
        any_422 |= validates(r);
        if (r->def.body)
            rc = collect_schema(c, r->def.body, 0);
        if (rc >= 0 && r->def.response)
            rc = collect_schema(c, r->def.response, 0);
        for (size_t k = 0; rc >= 0 && r->def.query && k < r->def.query->n_fields; k++)
            rc = collect_field(c, &r->def.query->fields[k], 1); /* no component of its own */
        for (size_t k = 0; rc >= 0 && k < r->def.n_responses; k++)
            if (r->def.responses[k].schema)
                rc = collect_schema(c, r->def.responses[k].schema, 0);
    }
    if (rc >= 0 && any)
        rc = add_component(c, "HTTPError", NULL);
    if (rc >= 0 && any_422)
        rc = add_component(c, "HTTPValidationError", NULL);
    if (rc >= 0 && any_422)
        rc = add_component(c, "ValidationError", NULL);
    if (rc < 0)
        return rc;
    if (c->n)
        qsort(c->v, c->n, sizeof(*c->v), compare_components);
    return 0;
}

static void scheme_object(struct crest_json *j, const struct crest_security *s)
{
    crest_json_object_begin(j);
    if (s->kind == CREST_SECURITY_API_KEY) {
        key_str(j, "type", "apiKey");
        key_str(
            j, "in",
            in_name(s->in == CREST_IN_QUERY || s->in == CREST_IN_COOKIE ? s->in : CREST_IN_HEADER));
        key_str(j, "name", s->param_name ? s->param_name : "");
    } else {
        key_str(j, "type", "http");
        key_str(j, "scheme", s->kind == CREST_SECURITY_HTTP_BASIC ? "basic" : "bearer");
        if (s->kind == CREST_SECURITY_HTTP_BEARER && s->bearer_format)
            key_str(j, "bearerFormat", s->bearer_format);
    }
    if (s->description)
        key_str(j, "description", s->description);
    crest_json_object_end(j);
}

/* Whether a documented route before index (or an earlier hook of route index, before pos) has a
 * scheme of this name: the first one of a name is the one written. */
static bool scheme_seen(const struct crest_app *app, uint32_t index, uint16_t pos, const char *name)
{
    for (uint32_t i = 0; i <= index; i++) {
        const struct route *r = &app->router.routes[i];
        const struct crest_security *s;
        uint16_t at = 0;
        if (!in_document(r))
            continue;
        while ((s = next_scheme(app, r, &at)) != NULL && (i < index || at <= pos))
            if (strcmp(scheme_name(s), name) == 0)
                return true;
    }
    return false;
}

/* "securitySchemes": every scheme guarding a documented route, in order of first use. */
static void security_schemes(struct render *rd)
{
    const struct crest_app *app = rd->app;
    bool any = false;

    for (uint32_t i = 0; i < app->router.n_routes; i++) {
        const struct route *r = &app->router.routes[i];
        const struct crest_security *s;
        uint16_t pos = 0;
        if (!in_document(r))
            continue;
        while ((s = next_scheme(app, r, &pos)) != NULL) {
            if (scheme_seen(app, i, (uint16_t)(pos - 1), scheme_name(s)))
                continue;
            if (!any) {
                crest_json_key(rd->j, "securitySchemes");
                crest_json_object_begin(rd->j);
                any = true;
            }
            crest_json_key(rd->j, scheme_name(s));
            scheme_object(rd->j, s);
        }
    }
    if (any)
        crest_json_object_end(rd->j);
}

static void components(struct render *rd, const struct components *c)
{
    struct crest_json *j = rd->j;
    bool any_scheme = false;

    for (uint32_t i = 0; i < rd->app->router.n_routes && !any_scheme; i++)
        any_scheme =
            in_document(&rd->app->router.routes[i]) && secured(rd->app, &rd->app->router.routes[i]);
    if (!c->n && !any_scheme)
        return;
    crest_json_key(j, "components");
    crest_json_object_begin(j);
    if (c->n) {
        crest_json_key(j, "schemas");
        crest_json_object_begin(j);
        for (size_t i = 0; i < c->n; i++) {
            crest_json_key(j, c->v[i].name);
            if (c->v[i].schema) {
                object_schema(rd, c->v[i].schema);
            } else {
                json_text(rd, builtin_text(c->v[i].name));
            }
        }
        crest_json_object_end(j);
    }
    security_schemes(rd);
    crest_json_object_end(j);
}

/* ---- the document ---- */

static void info(struct render *rd)
{
    struct crest_json *j = rd->j;
    crest_json_key(j, "info");
    crest_json_object_begin(j);
    key_str(j, "title", rd->app->title);
    if (rd->app->description)
        key_str(j, "description", rd->app->description);
    key_str(j, "version", rd->app->version);
    crest_json_object_end(j);
}

int openapi_render(const struct crest_app *app, struct mem_buf *out, enum mem_tag tag)
{
    struct render rd = {.app = app};
    struct crest_json j;
    struct components c = {0};
    int err;

    json_write_bind(&j, out, tag);
    rd.j = &j;
    mem_arena_init(&rd.arena, rd.arena_first, sizeof(rd.arena_first));
    err = collect(app, &c);
    if (err)
        goto free_components;
    crest_json_object_begin(&j);
    key_str(&j, "openapi", "3.1.0");
    info(&rd);
    paths(&rd);
    components(&rd, &c);
    crest_json_object_end(&j);
    err = crest_json_error(&j);
    if (!err && rd.oom)
        err = -ENOMEM;

free_components:
    if (c.v)
        mem_free(MEM_APP, c.v, c.cap * sizeof(*c.v));
    mem_arena_reset(&rd.arena);
    return err;
}
