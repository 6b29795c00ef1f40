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
};

/* Validates an object against schema; *out receives the validated object. Returns whether the
 * value was valid (problems are recorded either way). */
bool valid_schema_check_object(struct valid_check *c, const struct crest_schema *schema,
                               const struct crest_json_value *v, struct crest_json_value *out);

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
