/* app/schema.h: validation of parsed JSON against crest_field / crest_schema declarations, with
 * pydantic v2's rules and messages. Every violation is reported (not only the first). The
 * validated result is a new value in the request arena: objects keep only declared fields, in
 * declaration order, with defaults filled in; integral numbers for integer fields become
 * integers. */
#ifndef CREST_APP_SCHEMA_H
#define CREST_APP_SCHEMA_H

#include "app/problems.h"
#include "crest.h"

struct mem_arena;

struct app_check {
    struct app_problems *problems;
    struct app_loc loc;
    struct mem_arena *arena; /* validated values and defaults go here (the request's) */
    bool oom;
};

/* Validates an object against schema; *out receives the validated object. Returns whether the
 * value was valid (problems are recorded either way). */
bool app_schema_check_object(struct app_check *c, const struct crest_schema *schema,
                             const struct crest_json_value *v, struct crest_json_value *out);

/* 0, or -EINVAL when a default_json of the schema (or a nested one) is not valid JSON, with the
 * field named in err. */
int app_schema_check_defaults(const struct crest_schema *schema, char *err);

/* Number of Unicode code points in valid UTF-8. */
size_t app_utf8_length(const char *s, size_t len);

/* Checks a number against gt/ge/lt/le (first failure only, as pydantic-core). */
bool app_check_bounds(struct app_problems *p, const struct app_loc *loc, double v,
                      struct app_input input, struct crest_bound gt, struct crest_bound ge,
                      struct crest_bound lt, struct crest_bound le);

/* Checks a string's length in code points against min/max. */
bool app_check_string_length(struct app_problems *p, const struct app_loc *loc, size_t n,
                             struct app_input input, struct crest_limit min,
                             struct crest_limit max);

#endif
