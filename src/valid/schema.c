/* valid/schema.c: one function per JSON type, each checking its rules and returning the validated
 * value; objects and arrays recurse with the location extended, so every error names where it is
 * ("body" / "tags" / 3). */
#include "valid/valid.h"

#include "mem/arena.h"
#include "json/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static bool check_value(struct valid_check *c, const struct crest_field *f,
                        const struct crest_json_value *v, struct crest_json_value *out, void *dst);

size_t valid_schema_utf8_length(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80; /* count every byte but continuations */
    return n;
}

static struct valid_input json_input(const struct crest_json_value *v)
{
    return (struct valid_input){.json = v};
}

static void problem(struct valid_check *c, const char *type, const char *msg,
                    const struct crest_json_value *v)
{
    valid_problems_add(c->problems, &c->loc, type, msg, json_input(v), NULL, 0);
}

bool valid_schema_check_bounds(struct valid_problems *p, const struct valid_loc *loc, double v,
                               struct valid_input input, struct crest_bound gt,
                               struct crest_bound ge, struct crest_bound lt, struct crest_bound le)
{
    static const struct {
        const char *type, *words, *key;
    } kinds[4] = {
        {"less_than_equal", "less than or equal to", "le"},
        {"less_than", "less than", "lt"},
        {"greater_than_equal", "greater than or equal to", "ge"},
        {"greater_than", "greater than", "gt"},
    };
    const struct crest_bound bounds[4] = {le, lt, ge, gt};
    const bool failed[4] = {le.on && !(v <= le.value), lt.on && !(v < lt.value),
                            ge.on && !(v >= ge.value), gt.on && !(v > gt.value)};
    for (int i = 0; i < 4; i++) {
        if (!failed[i])
            continue;
        char bound[40], msg[96];
        valid_problems_format_bound(bounds[i].value, bound, sizeof(bound));
        snprintf(msg, sizeof(msg), "Input should be %s %s", kinds[i].words, bound);
        struct valid_ctx ctx = {.key = kinds[i].key, .num = bounds[i].value};
        valid_problems_add(p, loc, kinds[i].type, msg, input, &ctx, 1);
        return false;
    }
    return true;
}

bool valid_schema_check_string_length(struct valid_problems *p, const struct valid_loc *loc,
                                      size_t n, struct valid_input input, struct crest_limit min,
                                      struct crest_limit max)
{
    char msg[96];
    if (min.on && n < min.value) {
        snprintf(msg, sizeof(msg), "String should have at least %u character%s", min.value,
                 min.value == 1 ? "" : "s");
        struct valid_ctx ctx = {.key = "min_length", .num = min.value};
        valid_problems_add(p, loc, "string_too_short", msg, input, &ctx, 1);
        return false;
    }
    if (max.on && n > max.value) {
        snprintf(msg, sizeof(msg), "String should have at most %u character%s", max.value,
                 max.value == 1 ? "" : "s");
        struct valid_ctx ctx = {.key = "max_length", .num = max.value};
        valid_problems_add(p, loc, "string_too_long", msg, input, &ctx, 1);
        return false;
    }
    return true;
}

static bool check_string(struct valid_check *c, const struct crest_field *f,
                         const struct crest_json_value *v, struct crest_json_value *out)
{
    if (v->type != CREST_JSON_STRING) {
        problem(c, "string_type", "Input should be a valid string", v);
        return false;
    }
    if (f->strip && !valid_rules_strip(c, out))
        return false;
    if (!valid_schema_check_string_length(c->problems, &c->loc,
                                          valid_schema_utf8_length(out->string, out->len),
                                          json_input(v), f->min_length, f->max_length))
        return false;
    return valid_rules_string(c, f, out, v);
}

static bool check_number(struct valid_check *c, const struct crest_field *f,
                         const struct crest_json_value *v, struct crest_json_value *out)
{
    if (v->type != CREST_JSON_NUMBER) {
        if (f->type == CREST_TYPE_INTEGER)
            problem(c, "int_type", "Input should be a valid integer", v);
        else
            problem(c, "float_type", "Input should be a valid number", v);
        return false;
    }
    if (!isfinite(v->number)) {
        /* 1e400 parses as infinity: JSON cannot write it back (it would come out as null), so it
         * is refused as pydantic does with allow_inf_nan=False */
        problem(c, "finite_number", "Input should be a finite number", v);
        return false;
    }
    if (f->type == CREST_TYPE_INTEGER && !v->is_integer) {
        if (v->number != floor(v->number)) {
            problem(c, "int_from_float",
                    "Input should be a valid integer, got a number with a fractional part", v);
            return false;
        }
        if (fabs(v->number) >= 9.2e18) { /* integral, but past what crest stores (int64) */
            problem(c, "int_parsing_size",
                    "Unable to parse input string as an integer, exceeded maximum size", v);
            return false;
        }
        out->is_integer = true; /* 5.0 for an integer field is 5, as in pydantic's lax mode */
        out->integer = (int64_t)v->number;
    }
    if (f->literals && !valid_rules_literal(c, f, out, v))
        return false;
    if (!valid_schema_check_bounds(c->problems, &c->loc, v->number, json_input(v), f->gt, f->ge,
                                   f->lt, f->le))
        return false;
    return !f->multiple_of.on || valid_rules_multiple_of(c, f, v);
}

static bool check_list_length(struct valid_check *c, const struct crest_field *f,
                              const struct crest_json_value *v)
{
    char msg[128];
    bool too_short = f->min_length.on && v->len < f->min_length.value;
    bool too_long = f->max_length.on && v->len > f->max_length.value;
    if (!too_short && !too_long)
        return true;
    uint32_t limit = too_short ? f->min_length.value : f->max_length.value;
    snprintf(msg, sizeof(msg), "List should have at %s %u item%s after validation, not %u",
             too_short ? "least" : "most", limit, limit == 1 ? "" : "s", v->len);
    struct valid_ctx ctx[3] = {{.key = "field_type", .str = "List"},
                               {.key = too_short ? "min_length" : "max_length", .num = limit},
                               {.key = "actual_length", .num = v->len}};
    valid_problems_add(c->problems, &c->loc, too_short ? "too_short" : "too_long", msg,
                       json_input(v), ctx, 3);
    return false;
}

/* The storage of a bound array's items (zeroed, in the arena), or NULL when not bound. */
static char *array_storage(struct valid_check *c, const struct crest_field *f, uint32_t n,
                           void *dst, size_t *size)
{
    if (!dst || !f->items || n == 0)
        return NULL;
    *size = valid_bind_size(f->items);
    char *items = mem_arena_alloc(c->arena, (size_t)n * *size);
    if (!items)
        c->problems->err = -ENOMEM;
    else
        memset(items, 0, (size_t)n * *size);
    return items;
}

static bool check_array(struct valid_check *c, const struct crest_field *f,
                        const struct crest_json_value *v, struct crest_json_value *out, void *dst)
{
    if (v->type != CREST_JSON_ARRAY) {
        problem(c, "list_type", "Input should be a valid list", v);
        return false;
    }
    bool ok = check_list_length(c, f, v);
    if (!f->items || v->len == 0)
        return ok;
    struct crest_json_value *items = mem_arena_alloc(c->arena, v->len * sizeof(*items));
    size_t size = 0;
    char *bound = array_storage(c, f, v->len, dst, &size);
    if (!items || (dst && !bound)) {
        c->problems->err = -ENOMEM;
        return false;
    }
    for (uint32_t i = 0; i < v->len; i++) {
        valid_loc_push_index(&c->loc, i);
        ok &= check_value(c, f->items, &v->items[i], &items[i], bound ? bound + i * size : NULL);
        valid_loc_pop(&c->loc);
    }
    out->items = items;
    if (ok && f->unique_items)
        ok = valid_rules_unique(c, out);
    if (dst)
        *(struct crest_array *)dst = (struct crest_array){bound, v->len};
    return ok;
}

/* The type's own rules; arrays and objects bind themselves into dst as they go. */
static bool check_type(struct valid_check *c, const struct crest_field *f,
                       const struct crest_json_value *v, struct crest_json_value *out, void *dst)
{
    switch (f->type) {
    case CREST_TYPE_STRING:
        return check_string(c, f, v, out);
    case CREST_TYPE_INTEGER:
    case CREST_TYPE_NUMBER:
        return check_number(c, f, v, out);
    case CREST_TYPE_BOOLEAN:
        if (v->type == CREST_JSON_TRUE || v->type == CREST_JSON_FALSE)
            return true;
        problem(c, "bool_type", "Input should be a valid boolean", v);
        return false;
    case CREST_TYPE_ARRAY:
        return check_array(c, f, v, out, dst);
    case CREST_TYPE_OBJECT:
        if (f->object)
            return valid_schema_check_object(c, f->object, v, out, dst);
        if (v->type == CREST_JSON_OBJECT)
            return true;
        problem(c, "dict_type", "Input should be a valid dictionary", v);
        return false;
    default:
        return false;
    }
}

/* Checks v against f into out (the validated value) and, when dst is not NULL, stores it in the
 * struct member dst points to. */
static bool check_value(struct valid_check *c, const struct crest_field *f,
                        const struct crest_json_value *v, struct crest_json_value *out, void *dst)
{
    *out = *v;
    if (v->type == CREST_JSON_NULL && f->nullable)
        return true; /* the member stays zero; the null bit says it is null */
    bool ok = check_type(c, f, v, out, dst);
    if (ok && f->check)
        ok = valid_rules_check(c, f, out, v);
    if (ok && dst)
        ok = valid_bind_scalar(c, f, out, dst);
    return ok;
}

/* The default of an absent field, parsed from its JSON text (checked when the route was added)
 * into the request arena. */
static bool default_value(struct valid_check *c, const struct crest_field *f,
                          struct crest_json_value *out)
{
    struct crest_json_value *v;
    size_t off;
    const char *msg;
    if (json_parse(f->default_json, strlen(f->default_json), c->arena, &v, &off, &msg) !=
        JSON_PARSE_OK) {
        c->problems->err = -ENOMEM; /* the text parsed at start-up, so only memory can fail here */
        return false;
    }
    *out = *v;
    return true;
}

static void model_type_problem(struct valid_check *c, const struct crest_schema *schema,
                               const struct crest_json_value *v)
{
    char msg[128];
    const char *name = schema->name ? schema->name : "object";
    snprintf(msg, sizeof(msg), "Input should be a valid dictionary or instance of %s", name);
    struct valid_ctx ctx = {.key = "class_name", .str = name};
    valid_problems_add(c->problems, &c->loc, "model_type", msg, json_input(v), &ctx, 1);
}

/* A default is not validated (as in pydantic, which trusts it); a scalar one is bound (arrays
 * and objects stay zero: "[]" is an empty array), and its bit in crest_fields.set stays clear. */
static bool default_field(struct valid_check *c, const struct crest_field *f,
                          struct crest_json_value *out, void *dst)
{
    if (!default_value(c, f, out))
        return false;
    if (!dst || out->type == CREST_JSON_NULL || f->type == CREST_TYPE_ARRAY ||
        f->type == CREST_TYPE_OBJECT)
        return true;
    return valid_bind_scalar(c, f, out, dst);
}

bool valid_schema_check_object(struct valid_check *c, const struct crest_schema *schema,
                               const struct crest_json_value *v, struct crest_json_value *out,
                               void *dst)
{
    struct crest_json_member *members;
    uint32_t n = 0;
    bool ok = true;

    *out = *v;
    if (v->type != CREST_JSON_OBJECT) {
        model_type_problem(c, schema, v);
        return false;
    }
    members =
        mem_arena_alloc(c->arena, (schema->n_fields ? schema->n_fields : 1) * sizeof(*members));
    if (!members) {
        c->problems->err = -ENOMEM;
        return false;
    }
    if (!schema->size)
        dst = NULL; /* not a model: nothing below binds */
    for (size_t i = 0; i < schema->n_fields; i++) {
        const struct crest_field *f = &schema->fields[i];
        const struct crest_json_value *given = crest_json_get(v, f->name);
        struct crest_json_member *m = &members[n];
        void *at = dst && f->ctype ? (char *)dst + f->at : NULL;
        if (c->loc.depth == 0 && i < 64 && ((c->skip >> i) & 1)) {
            ok = false; /* its text did not parse: said already */
            continue;
        }
        m->key = (struct crest_str){f->name, strlen(f->name)};
        valid_loc_push_key(&c->loc, f->name, m->key.len);
        if (given) {
            ok &= check_value(c, f, given, &m->value, at);
            valid_bind_flags(schema, dst, i, given->type == CREST_JSON_NULL);
            n++;
        } else if (f->required) {
            valid_problems_add(c->problems, &c->loc, "missing", "Field required", json_input(v),
                               NULL, 0);
            ok = false;
        } else if (f->default_json) {
            ok &= default_field(c, f, &m->value, at);
            valid_bind_default_null(schema, dst, i, m->value.type == CREST_JSON_NULL);
            n++;
        }
        valid_loc_pop(&c->loc);
    }
    out->members = members;
    out->len = n;
    if (schema->forbid_extra)
        ok &= valid_rules_extra(c, schema, v);
    if (ok && schema->check)
        ok = valid_rules_model_check(c, schema, out, dst);
    return ok;
}

static int check_field_defaults(const struct crest_field *f, struct mem_arena *arena, char *err);

int valid_schema_check_defaults(const struct crest_schema *schema, char *err)
{
    char chunk[512];
    struct mem_arena arena;
    int rc = 0;

    mem_arena_init(&arena, chunk, sizeof(chunk));
    for (size_t i = 0; rc == 0 && i < schema->n_fields; i++)
        rc = check_field_defaults(&schema->fields[i], &arena, err);
    mem_arena_reset(&arena);
    return rc;
}

static int check_field_defaults(const struct crest_field *f, struct mem_arena *arena, char *err)
{
    struct crest_json_value *v;
    size_t off;
    const char *msg;

    if (f->default_json && json_parse(f->default_json, strlen(f->default_json), arena, &v, &off,
                                      &msg) != JSON_PARSE_OK) {
        if (err)
            snprintf(err, CREST_ERR_LEN, "field '%s': default_json is not valid JSON",
                     f->name ? f->name : "?");
        return -EINVAL;
    }
    if (f->items && check_field_defaults(f->items, arena, err) != 0)
        return -EINVAL;
    if (f->object && valid_schema_check_defaults(f->object, err) != 0)
        return -EINVAL;
    return 0;
}
