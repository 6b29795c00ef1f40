/* valid/valid.h: validation of a matched request against its route's declarations, with
 * pydantic v2's rules and vocabulary: parameters (valid/params.c), JSON bodies against schemas
 * (valid/schema.c), the 422 problem list (valid/problems.c, valid/loc.c), the request recipe
 * (valid/request.c) and the check of a route's declarations when it is added (valid/route.c). */
#ifndef CREST_VALID_VALID_H
#define CREST_VALID_VALID_H

/* valid/problems.c: the list of validation errors answered as one 422, in FastAPI's shape:
 *   {"detail":[{"type":"missing","loc":["body","name"],"msg":"Field required","input":{...}}, ...]}
 * Errors are written straight into the response body as they are found: no list is built. */

#include "crest.h"

#include <stdbool.h>
#include <stdint.h>

enum { VALID_LOC_MAX = 32, VALID_CTX_MAX = 3 };

/* Where a value sits: "body" / "path" / "query" / "header" / "cookie", then keys and array
 * indexes. */
struct valid_loc {
    const char *root;
    uint32_t depth;
    struct {
        const char *key; /* NULL: an array index */
        size_t key_len;
        int64_t index;
    } seg[VALID_LOC_MAX];
};

/* One ctx entry: {"gt": 0}, {"error": "Expecting value"}, ... */
struct valid_ctx {
    const char *key;
    const char *str; /* a string value, or NULL for a number */
    double num;
};

/* What the input was: a parsed JSON value, a raw parameter string, or null. */
struct valid_input {
    const struct crest_json_value *json;
    const struct crest_str *text;
};

struct valid_problems {
    struct crest_req *req;
    struct crest_json *j; /* the 422 body, opened at the first problem */
    uint32_t count;
    /* Sticky, as the JSON writer's: 0, or -ENOMEM once memory was refused anywhere in the
     * validation (decoding a value, copying a default, writing the 422): the one channel by which
     * it reaches valid_request's caller, which then answers 503 instead of 422. */
    int err;
};

void valid_loc_push_key(struct valid_loc *loc, const char *key, size_t len);
void valid_loc_push_index(struct valid_loc *loc, int64_t index);
void valid_loc_pop(struct valid_loc *loc);

void valid_problems_add(struct valid_problems *p, const struct valid_loc *loc, const char *type,
                        const char *msg, struct valid_input input, const struct valid_ctx *ctx,
                        int n_ctx);

/* Closes the 422 body when there were problems. 0 (no problem), 422 (the problems are the
 * response), or -ENOMEM (memory was refused: nothing valid was answered). */
int valid_problems_finish(struct valid_problems *p);

/* Writes a bound the way pydantic prints it in messages: 0, 0.5, 1e+300. */
void valid_problems_format_bound(double v, char *out, size_t size);

/* valid/schema.c: validation of parsed JSON against crest_field / crest_schema declarations, with
 * pydantic v2's rules and messages. Every violation is reported (not only the first). The
 * validated result is a new value in the request arena: objects keep only declared fields, in
 * declaration order, with defaults filled in; integral numbers for integer fields become
 * integers. */

struct mem_arena;

struct valid_check {
    struct valid_problems *problems;
    struct valid_loc loc;
    struct mem_arena *arena; /* validated values and defaults go here (the request's) */
    uint64_t skip;           /* fields of the top object already refused (valid/form.c's parsing) */
};

/* Validates an object against schema; *out receives the validated object and, when schema is a
 * model and dst is not NULL, dst (schema->size zeroed bytes) the bound struct. Returns whether the
 * value was valid (problems are recorded either way). */
bool valid_schema_check_object(struct valid_check *c, const struct crest_schema *schema,
                               const struct crest_json_value *v, struct crest_json_value *out,
                               void *dst);

/* 0, or -EINVAL when a default_json of the schema (or a nested one) is not valid JSON, with the
 * field named in err. */
int valid_schema_check_defaults(const struct crest_schema *schema, char *err);

/* Number of Unicode code points in valid UTF-8. */
size_t valid_schema_utf8_length(const char *s, size_t len);

/* Checks a number against gt/ge/lt/le (first failure only, as pydantic-core). */
bool valid_schema_check_bounds(struct valid_problems *p, const struct valid_loc *loc, double v,
                               struct valid_input input, struct crest_bound gt,
                               struct crest_bound ge, struct crest_bound lt, struct crest_bound le);

/* Checks a string's length in code points against min/max. */
bool valid_schema_check_string_length(struct valid_problems *p, const struct valid_loc *loc,
                                      size_t n, struct valid_input input, struct crest_limit min,
                                      struct crest_limit max);

/* valid/rules.c: the rules beyond type, lengths and bounds (crest_field's strip, pattern,
 * format, literals, multiple_of, unique_items, check; crest_schema's forbid_extra and check),
 * each recording pydantic's problem when it fails. */
bool valid_rules_strip(struct valid_check *c, struct crest_json_value *out);
/* pattern, format and literals of a string (v: the value sent, for the problem's input); an
 * email's domain is lower-cased in out, as pydantic hands it on. */
bool valid_rules_string(struct valid_check *c, const struct crest_field *f,
                        struct crest_json_value *out, const struct crest_json_value *v);
bool valid_rules_literal(struct valid_check *c, const struct crest_field *f,
                         const struct crest_json_value *out, const struct crest_json_value *v);
bool valid_rules_multiple_of(struct valid_check *c, const struct crest_field *f,
                             const struct crest_json_value *v);
/* The first item equal to an earlier one gets the problem (loc: its index). */
bool valid_rules_unique(struct valid_check *c, const struct crest_json_value *array);
bool valid_rules_check(struct valid_check *c, const struct crest_field *f,
                       const struct crest_json_value *out, const struct crest_json_value *v);
bool valid_rules_extra(struct valid_check *c, const struct crest_schema *schema,
                       const struct crest_json_value *v);
bool valid_rules_model_check(struct valid_check *c, const struct crest_schema *schema,
                             const struct crest_json_value *obj, const void *model);

/* valid/format.c: string formats (enum crest_format): true when text is one, else false with
 * pydantic's error type (*type) and the detail its message ends with (*detail; NULL for IP
 * addresses), valid until the next call on this thread. */
bool valid_format_check(uint8_t format, const char *s, size_t len, const char **type,
                        const char **msg);

/* valid/regex.c: patterns compiled to a Thompson NFA and matched in O(pattern × text) time and
 * O(pattern) memory, never backtracking. */
struct mem_arena;
struct valid_regex;
/* 0 with *out in arena; -EINVAL (a syntax crest does not take, reason in *why); -ENOMEM. */
int valid_regex_compile(const char *pattern, struct mem_arena *arena, struct valid_regex **out,
                        const char **why);
/* States visited by this thread's searches, for tests that count work instead of timing it. */
extern _Thread_local uint64_t valid_regex_steps;
/* Whether re matches somewhere in text (search semantics). -ENOMEM when the arena refuses
 * the state lists (the caller answers 503), else 1 or 0. */
int valid_regex_search(const struct valid_regex *re, const char *text, size_t len,
                       struct mem_arena *arena);

/* valid/bind.c: validated values into the members of a model's struct. */
/* The bytes one value of f's C type takes (its ctype, or the one its JSON type implies for
 * array items: int64_t, double, bool, struct crest_str, struct crest_array, a nested struct). */
size_t valid_bind_size(const struct crest_field *f);
uint8_t valid_bind_infer(const struct crest_field *f);
/* Inline: binding and writing ask it for every value. */
static inline uint8_t valid_bind_ctype(const struct crest_field *f)
{
    return f->ctype ? f->ctype : valid_bind_infer(f);
}
/* Stores a scalar or string (arrays and objects are stored as they are checked); false with a
 * problem when it does not fit the member (int32_t), or -ENOMEM in c's problems. */
bool valid_bind_scalar(struct valid_check *c, const struct crest_field *f,
                       const struct crest_json_value *v, void *dst);
/* Sets field i's bit in the struct's crest_fields.set (sent) and .null (null), if any. */
void valid_bind_flags(const struct crest_schema *s, void *obj, size_t i, bool null);
void valid_bind_default_null(const struct crest_schema *s, void *obj, size_t i, bool null);
/* The struct crest_fields of obj, or NULL. */
static inline struct crest_fields *valid_bind_fields_of(const struct crest_schema *s,
                                                        const void *obj)
{
    if (!obj || !s->fields_at)
        return NULL;
    return (struct crest_fields *)((char *)obj + s->fields_at - 1);
}
/* A model's declarations: members inside its size, C types its JSON types can fill, at most 64
 * fields with crest_fields, patterns that compile. 0 or -EINVAL with the reason in err. */
int valid_bind_check_schema(const struct crest_schema *s, char *err, unsigned depth);

/* valid/form.c: the object a query model or form body describes, built from urlencoded text
 * (values typed by their fields; *_parsing problems recorded at ["<root>", name], and those
 * fields marked in *skip so that the walk does not call them missing). false when memory was
 * refused. */
bool valid_form_object(struct valid_check *c, const struct crest_schema *schema,
                       struct crest_str text, struct crest_json_value *out, uint64_t *skip);

struct crest_req;
struct route;

/* valid/request.c: validates path, query, header and cookie parameters and the body of a matched
 * request.
 * 0: valid, the handler runs; 422: answered with every problem; -ENOMEM: memory was refused, the
 * caller answers 503 (req_response_oom). */
int valid_request(struct crest_req *req);

/* valid/route.c: checks a route's declarations when it is added: parameters exist and parse,
 * defaults are valid JSON. 0 or -EINVAL with the reason in err. */
int valid_route(const struct route *route, char *err);

/* valid/params.c: converts and checks the path, query, header and cookie parameters of req. */
void valid_params_check(struct valid_problems *p, struct crest_req *req);

#endif
