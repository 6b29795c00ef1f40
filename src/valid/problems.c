/* valid/problems.c: the 422 body, written as problems are found: each problem's type, loc, msg,
 * input and ctx in pydantic v2's vocabulary, and bounds printed as pydantic prints them. */
#include "valid/valid.h"

#include "json/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static bool is_small_integer(double v)
{
    return v == floor(v) && fabs(v) < 1e15;
}

void valid_problems_format_bound(double v, char *out, size_t size)
{
    char tmp[32];
    if (is_small_integer(v)) {
        snprintf(out, size, "%lld", (long long)v);
        return;
    }
    int n = json_write_format_double(v, tmp);
    snprintf(out, size, "%.*s", n, tmp);
}

static void write_number(struct crest_json *j, double v)
{
    if (is_small_integer(v))
        crest_json_int(j, (int64_t)v);
    else
        crest_json_double(j, v);
}

static void write_loc(struct crest_json *j, const struct valid_loc *loc)
{
    uint32_t depth = loc->depth < VALID_LOC_MAX ? loc->depth : VALID_LOC_MAX;
    crest_json_array_begin(j);
    crest_json_string(j, loc->root);
    for (uint32_t i = 0; i < depth; i++) {
        if (loc->seg[i].key)
            crest_json_string_len(j, loc->seg[i].key, loc->seg[i].key_len);
        else
            crest_json_int(j, loc->seg[i].index);
    }
    crest_json_array_end(j);
}

static void write_ctx(struct crest_json *j, const struct valid_ctx *ctx, int n_ctx)
{
    crest_json_key(j, "ctx");
    crest_json_object_begin(j);
    for (int i = 0; i < n_ctx; i++) {
        crest_json_key(j, ctx[i].key);
        if (ctx[i].str)
            crest_json_string(j, ctx[i].str);
        else
            write_number(j, ctx[i].num);
    }
    crest_json_object_end(j);
}

static bool open_body(struct valid_problems *p)
{
    if (p->j)
        return true;
    p->j = crest_res_json(p->req, 422);
    if (!p->j) {
        p->err = -ENOMEM;
        return false;
    }
    crest_json_object_begin(p->j);
    crest_json_key(p->j, "detail");
    crest_json_array_begin(p->j);
    return true;
}

void valid_problems_add(struct valid_problems *p, const struct valid_loc *loc, const char *type,
                        const char *msg, struct valid_input input, const struct valid_ctx *ctx,
                        int n_ctx)
{
    p->count++;
    if (p->err || !open_body(p))
        return; /* memory refused: valid_problems_finish reports it */
    struct crest_json *j = p->j;
    crest_json_object_begin(j);
    crest_json_key(j, "type");
    crest_json_string(j, type);
    crest_json_key(j, "loc");
    write_loc(j, loc);
    crest_json_key(j, "msg");
    crest_json_string(j, msg);
    crest_json_key(j, "input");
    if (input.json)
        crest_json_write_value(j, input.json);
    else if (input.text)
        crest_json_string_len(j, input.text->ptr, input.text->len);
    else
        crest_json_null(j);
    if (n_ctx > 0)
        write_ctx(j, ctx, n_ctx);
    crest_json_object_end(j);
}

int valid_problems_finish(struct valid_problems *p)
{
    if (!p->err && p->j) {
        crest_json_array_end(p->j);
        crest_json_object_end(p->j);
        p->err = crest_json_error(p->j); /* the writer's own sticky error joins ours */
    }
    if (p->err)
        return p->err;
    return p->count ? 422 : 0;
}
