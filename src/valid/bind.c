/* valid/bind.c: models, the binding half: a validated value stored into the member of a C struct
 * that its field names (CREST_AT), and the crest_fields bits that say which fields were sent and
 * which were null. Validation (valid/schema.c) calls it as it walks, so a body lands in its struct
 * in the same pass, in the request's arena; arrays and nested objects are laid out by the walk
 * itself. Writing structs back as JSON is valid/model.c's. */
#include "valid/valid.h"

#include "mem/arena.h"
#include "req/req.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

uint8_t valid_bind_infer(const struct crest_field *f)
{
    switch (f->type) { /* an array's items name no member: their type says how they are stored */
    case CREST_TYPE_INTEGER:
        return CREST_C_INT64;
    case CREST_TYPE_NUMBER:
        return CREST_C_DOUBLE;
    case CREST_TYPE_BOOLEAN:
        return CREST_C_BOOL;
    case CREST_TYPE_STRING:
        return CREST_C_STR;
    case CREST_TYPE_ARRAY:
        return CREST_C_ARRAY;
    case CREST_TYPE_OBJECT:
        return f->object && f->object->size ? CREST_C_STRUCT : CREST_C_NONE;
    default:
        return CREST_C_NONE;
    }
}

size_t valid_bind_size(const struct crest_field *f)
{
    switch (valid_bind_ctype(f)) {
    case CREST_C_INT64:
        return sizeof(int64_t);
    case CREST_C_INT32:
        return sizeof(int32_t);
    case CREST_C_DOUBLE:
        return sizeof(double);
    case CREST_C_BOOL:
        return sizeof(bool);
    case CREST_C_STR:
        return sizeof(struct crest_str);
    case CREST_C_CSTR:
        return sizeof(const char *);
    case CREST_C_ARRAY:
        return sizeof(struct crest_array);
    case CREST_C_STRUCT:
        return f->object ? f->object->size : 0;
    default:
        return 0;
    }
}

/* int32_t members refuse what they cannot hold with the bounds' own problem (ge/le). */
static bool store_int32(struct valid_check *c, const struct crest_json_value *v, void *dst)
{
    int64_t x = v->integer;
    if (x > INT32_MAX || x < INT32_MIN) {
        bool big = x > INT32_MAX;
        struct valid_ctx ctx = {.key = big ? "le" : "ge", .num = big ? INT32_MAX : INT32_MIN};
        valid_problems_add(c->problems, &c->loc, big ? "less_than_equal" : "greater_than_equal",
                           big ? "Input should be less than or equal to 2147483647"
                               : "Input should be greater than or equal to -2147483648",
                           (struct valid_input){.json = v}, &ctx, 1);
        return false;
    }
    int32_t y = (int32_t)x;
    memcpy(dst, &y, sizeof(y));
    return true;
}

bool valid_bind_scalar(struct valid_check *c, const struct crest_field *f,
                       const struct crest_json_value *v, void *dst)
{
    switch (valid_bind_ctype(f)) {
    case CREST_C_INT64: {
        int64_t x = v->is_integer ? v->integer : (int64_t)v->number;
        memcpy(dst, &x, sizeof(x));
        return true;
    }
    case CREST_C_INT32:
        return store_int32(c, v, dst);
    case CREST_C_DOUBLE:
        memcpy(dst, &v->number, sizeof(double));
        return true;
    case CREST_C_BOOL: {
        bool b = v->type == CREST_JSON_TRUE;
        memcpy(dst, &b, sizeof(b));
        return true;
    }
    case CREST_C_STR: {
        struct crest_str s = {v->string, v->len};
        memcpy(dst, &s, sizeof(s));
        return true;
    }
    case CREST_C_CSTR:
        memcpy(dst, &v->string, sizeof(v->string)); /* parsed strings end in a NUL */
        return true;
    default:
        return true; /* arrays and nested structs were laid out while they were checked */
    }
}

void valid_bind_flags(const struct crest_schema *s, void *obj, size_t i, bool null)
{
    struct crest_fields *bits = valid_bind_fields_of(s, obj);
    if (!bits || i >= 64)
        return;
    bits->set |= UINT64_C(1) << i;
    if (null)
        bits->null |= UINT64_C(1) << i;
}

void valid_bind_default_null(const struct crest_schema *s, void *obj, size_t i, bool null)
{
    struct crest_fields *bits = valid_bind_fields_of(s, obj);
    if (bits && i < 64 && null)
        bits->null |= UINT64_C(1) << i;
}

/* Which C types a JSON type may fill. */
static bool ctype_fits(const struct crest_field *f)
{
    switch (valid_bind_ctype(f)) {
    case CREST_C_INT64:
    case CREST_C_INT32:
        return f->type == CREST_TYPE_INTEGER;
    case CREST_C_DOUBLE:
        return f->type == CREST_TYPE_NUMBER || f->type == CREST_TYPE_INTEGER;
    case CREST_C_BOOL:
        return f->type == CREST_TYPE_BOOLEAN;
    case CREST_C_STR:
    case CREST_C_CSTR:
        return f->type == CREST_TYPE_STRING;
    case CREST_C_ARRAY:
        return f->type == CREST_TYPE_ARRAY && f->items;
    case CREST_C_STRUCT:
        return f->type == CREST_TYPE_OBJECT && f->object && f->object->size;
    default:
        return false;
    }
}

static int bad_field(const struct crest_schema *s, const struct crest_field *f, const char *why,
                     char *err)
{
    if (err)
        snprintf(err, CREST_ERR_LEN, "model '%s': field '%s' %s", s->name ? s->name : "?",
                 f->name ? f->name : "?", why);
    return -EINVAL;
}

static int check_field(const struct crest_schema *s, const struct crest_field *f, char *err,
                       unsigned depth, bool item);

static int check_rules(const struct crest_schema *s, const struct crest_field *f, char *err)
{
    char chunk[4096];
    struct mem_arena arena;
    struct valid_regex *re;
    const char *why = NULL;
    int rc = 0;

    if (f->pattern) {
        mem_arena_init(&arena, chunk, sizeof(chunk));
        rc = valid_regex_compile(f->pattern, &arena, &re, &why);
        mem_arena_reset(&arena);
    }
    if (rc == -EINVAL) {
        char msg[160];
        snprintf(msg, sizeof(msg), "has a pattern crest cannot match: %s", why);
        return bad_field(s, f, msg, err);
    }
    if (rc)
        return rc;
    if ((f->pattern || f->format || f->strip) && f->type != CREST_TYPE_STRING)
        return bad_field(s, f, "has a string rule but is not a string", err);
    if (f->literals && f->type != CREST_TYPE_STRING && f->type != CREST_TYPE_INTEGER)
        return bad_field(s, f, "has literals but is neither a string nor an integer", err);
    if (f->multiple_of.on && !(f->multiple_of.value > 0))
        return bad_field(s, f, "has a multiple_of that is not > 0", err);
    return 0;
}

/* An array's item rule (item) names no member of s: where its values go is the array's, so only
 * its C type is checked, not its place in s. */
static int check_field(const struct crest_schema *s, const struct crest_field *f, char *err,
                       unsigned depth, bool item)
{
    int rc = check_rules(s, f, err);
    if (rc)
        return rc;
    if (s->size && f->ctype) {
        if (!ctype_fits(f))
            return bad_field(s, f,
                             item ? "is an item whose C type its type cannot fill"
                                  : "is bound to a member whose C type its type cannot fill",
                             err);
        if (!item && f->at + valid_bind_size(f) > s->size)
            return bad_field(s, f, "is bound past the end of the model's struct", err);
    }
    if (f->items) {
        if (s->size && f->ctype && !valid_bind_size(f->items))
            return bad_field(s, f, "has items no C type holds (an object that is no model)", err);
        rc = check_field(s, f->items, err, depth + 1, true);
    }
    if (!rc && f->object)
        rc = valid_bind_check_schema(f->object, err, depth + 1);
    return rc;
}

int valid_bind_check_schema(const struct crest_schema *s, char *err, unsigned depth)
{
    if (depth > VALID_LOC_MAX) /* a schema that contains itself: documented and checked once */
        return 0;
    if (s->fields_at && (s->n_fields > 64 || !s->size ||
                         s->fields_at - 1 + sizeof(struct crest_fields) > s->size)) {
        if (err)
            snprintf(err, CREST_ERR_LEN,
                     "model '%s': crest_fields needs at most 64 fields, inside the struct",
                     s->name ? s->name : "?");
        return -EINVAL;
    }
    for (size_t i = 0; i < s->n_fields; i++) {
        int rc = check_field(s, &s->fields[i], err, depth, false);
        if (rc)
            return rc;
    }
    return 0;
}

CREST_API const void *crest_req_model(const struct crest_req *req)
{
    return req->body_model;
}

CREST_API const void *crest_req_query_model(const struct crest_req *req)
{
    return req->query_model;
}
