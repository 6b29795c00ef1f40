/* app/problems.h: the list of validation errors answered as one 422, in FastAPI's shape:
 *   {"detail":[{"type":"missing","loc":["body","name"],"msg":"Field required","input":{...}}, ...]}
 * Errors are written straight into the response body as they are found: no list is built. */
#ifndef CREST_APP_PROBLEMS_H
#define CREST_APP_PROBLEMS_H

#include "crest.h"

#include <stdbool.h>
#include <stdint.h>

enum { APP_LOC_MAX = 32, APP_CTX_MAX = 3 };

/* Where a value sits: "body" / "path" / "query", then keys and array indexes. */
struct app_loc {
    const char *root;
    uint32_t depth;
    struct {
        const char *key; /* NULL: an array index */
        size_t key_len;
        int64_t index;
    } seg[APP_LOC_MAX];
};

/* One ctx entry: {"gt": 0}, {"error": "Expecting value"}, ... */
struct app_ctx {
    const char *key;
    const char *str; /* a string value, or NULL for a number */
    double num;
};

/* What the input was: a parsed JSON value, a raw parameter string, or null. */
struct app_input {
    const struct crest_json_value *json;
    const struct crest_str *text;
};

struct app_problems {
    struct crest_req *req;
    struct crest_json *j; /* the 422 body, opened at the first problem */
    uint32_t count;
    bool oom; /* a value could not even be decoded: answer 503, not 422 */
};

void app_loc_push_key(struct app_loc *loc, const char *key, size_t len);
void app_loc_push_index(struct app_loc *loc, int64_t index);
void app_loc_pop(struct app_loc *loc);

void app_problem(struct app_problems *p, const struct app_loc *loc, const char *type,
                 const char *msg, struct app_input input, const struct app_ctx *ctx, int n_ctx);

/* Closes the 422 body when there were problems; returns whether there were. */
bool app_problems_finish(struct app_problems *p);

/* Writes a bound the way pydantic prints it in messages: 0, 0.5, 1e+300. */
void app_format_bound(double v, char *out, size_t size);

#endif
