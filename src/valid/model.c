/* valid/model.c: models, the writing half: a struct bound by a model (CREST_AT), an array of them,
 * or rows of the database API written as JSON by the same declaration that validates and
 * documents them (FastAPI's response_model), and rows read into structs by column name. The
 * route's response schema is the model, so what is sent is what /openapi.json says. */
#include "valid/valid.h"

#include "req/req.h"
#include "json/json.h"

#include <errno.h>
#include <string.h>

static bool bit(const struct crest_schema *m, const void *obj, size_t i, bool null)
{
    const struct crest_fields *f = valid_bind_fields_of(m, obj);
    if (!f || i >= 64)
        return false;
    return ((null ? f->null : f->set) >> i) & 1;
}

static long field_index(const struct crest_schema *m, const char *name)
{
    for (size_t i = 0; i < m->n_fields; i++)
        if (strcmp(m->fields[i].name, name) == 0)
            return (long)i;
    return -1;
}

CREST_API bool crest_model_sent(const struct crest_schema *m, const void *obj, const char *name)
{
    long i = field_index(m, name);
    return i >= 0 && bit(m, obj, (size_t)i, false);
}

CREST_API bool crest_model_null(const struct crest_schema *m, const void *obj, const char *name)
{
    long i = field_index(m, name);
    return i >= 0 && bit(m, obj, (size_t)i, true);
}

CREST_API int crest_model_set(const struct crest_schema *m, void *obj, const char *name, bool null)
{
    long i = field_index(m, name);
    struct crest_fields *f = valid_bind_fields_of(m, obj);
    if (i < 0 || i >= 64 || !f)
        return -ENOENT;
    f->set |= UINT64_C(1) << i;
    f->null = null ? f->null | UINT64_C(1) << i : f->null & ~(UINT64_C(1) << i);
    return 0;
}

/* ---- structs to JSON ---- */

static void write_value(struct crest_json *j, const struct crest_field *f, const void *p,
                        unsigned depth);

static void write_array(struct crest_json *j, const struct crest_field *f,
                        const struct crest_array *a, unsigned depth)
{
    size_t size = valid_bind_size(f->items);
    crest_json_array_begin(j);
    for (size_t i = 0; i < a->n && size; i++)
        write_value(j, f->items, (const char *)a->items + i * size, depth);
    crest_json_array_end(j);
}

static void write_object(struct crest_json *j, const struct crest_schema *m, const void *obj,
                         unsigned depth);

/* One value of f's C type at p. NULL strings are null (a struct built by hand says null so). */
static void write_value(struct crest_json *j, const struct crest_field *f, const void *p,
                        unsigned depth)
{
    switch (valid_bind_ctype(f)) {
    case CREST_C_INT64: {
        int64_t v;
        memcpy(&v, p, sizeof(v));
        crest_json_int(j, v);
        return;
    }
    case CREST_C_INT32: {
        int32_t v;
        memcpy(&v, p, sizeof(v));
        crest_json_int(j, v);
        return;
    }
    case CREST_C_DOUBLE: {
        double v;
        memcpy(&v, p, sizeof(v));
        if (f->type == CREST_TYPE_INTEGER && v == (double)(int64_t)v)
            crest_json_int(j, (int64_t)v);
        else
            crest_json_double(j, v);
        return;
    }
    case CREST_C_BOOL:
        crest_json_bool(j, *(const bool *)p);
        return;
    case CREST_C_STR: {
        struct crest_str s;
        memcpy(&s, p, sizeof(s));
        if (s.ptr)
            crest_json_string_len(j, s.ptr, s.len);
        else
            crest_json_null(j);
        return;
    }
    case CREST_C_CSTR: {
        const char *s;
        memcpy(&s, p, sizeof(s));
        if (s)
            crest_json_string(j, s);
        else
            crest_json_null(j);
        return;
    }
    case CREST_C_ARRAY:
        write_array(j, f, p, depth);
        return;
    case CREST_C_STRUCT:
        write_object(j, f->object, p, depth + 1);
        return;
    default:
        crest_json_null(j);
    }
}

/* A field name that JSON writes as it is (all of them, in practice): its key goes out in one
 * append instead of five (json_write_plain_key). */
static void write_key(struct crest_json *j, const char *name)
{
    size_t n = 0;
    for (unsigned char c; (c = (unsigned char)name[n]) != 0; n++) {
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            crest_json_key(j, name);
            return;
        }
    }
    json_write_plain_key(j, name, n);
}

static void write_object(struct crest_json *j, const struct crest_schema *m, const void *obj,
                         unsigned depth)
{
    const struct crest_fields *bits = valid_bind_fields_of(m, obj);
    uint64_t skip = bits && m->exclude_unset ? ~bits->set : 0, null = bits ? bits->null : 0;
    crest_json_object_begin(j);
    for (size_t i = 0; i < m->n_fields && depth < VALID_LOC_MAX; i++) {
        const struct crest_field *f = &m->fields[i];
        uint64_t b = i < 64 ? UINT64_C(1) << i : 0;
        if (!f->ctype || (skip & b))
            continue;
        write_key(j, f->name);
        if (null & b)
            crest_json_null(j);
        else
            write_value(j, f, (const char *)obj + f->at, depth);
    }
    crest_json_object_end(j);
}

CREST_API void crest_json_model(struct crest_json *j, const struct crest_schema *m, const void *obj)
{
    write_object(j, m, obj, 0);
}

static const struct crest_schema *response_model(struct crest_req *req)
{
    const struct crest_schema *m = req->match.route ? req->match.route->def.response : NULL;
    return m && m->size ? m : NULL;
}

/* A writer error is answered by dispatch (req_response_check_body: 503, never a cut body). */
static int finish(struct crest_req *req, struct crest_json *j)
{
    (void)req;
    return crest_json_error(j);
}

CREST_API int crest_res_model(struct crest_req *req, int status, const void *obj)
{
    const struct crest_schema *m = response_model(req);
    if (!m)
        return -EINVAL;
    struct crest_json *j = crest_res_json(req, status);
    if (!j)
        return -ENOMEM;
    write_object(j, m, obj, 0);
    return finish(req, j);
}

CREST_API int crest_res_models(struct crest_req *req, int status, const void *objs, size_t n)
{
    const struct crest_schema *m = response_model(req);
    if (!m)
        return -EINVAL;
    struct crest_json *j = crest_res_json(req, status);
    if (!j)
        return -ENOMEM;
    crest_json_array_begin(j);
    for (size_t i = 0; i < n; i++)
        write_object(j, m, (const char *)objs + i * m->size, 0);
    crest_json_array_end(j);
    return finish(req, j);
}

/* ---- database rows ---- */

/* Each field's column in r (-1: none), at most 64 fields looked up once per result. */
static void columns(const struct crest_schema *m, const struct crest_db_result *r, int *cols)
{
    for (size_t i = 0; i < m->n_fields && i < 64; i++) {
        const char *name = m->fields[i].name;
        size_t len = strlen(name);
        cols[i] = -1;
        for (size_t c = 0; c < r->n_cols; c++) {
            if (r->names[c].len == len && memcmp(r->names[c].ptr, name, len) == 0) {
                cols[i] = (int)c;
                break;
            }
        }
    }
}

static bool scalar(const struct crest_field *f)
{
    return f->type != CREST_TYPE_ARRAY && f->type != CREST_TYPE_OBJECT;
}

static double as_double(const struct crest_db_value *v)
{
    switch (v->type) {
    case CREST_DB_INT:
        return (double)v->i;
    case CREST_DB_DOUBLE:
        return v->d;
    case CREST_DB_BOOL:
        return v->b;
    default:
        return 0;
    }
}

static void write_cell(struct crest_json *j, const struct crest_field *f,
                       const struct crest_db_value *v)
{
    if (v->type == CREST_DB_NULL) {
        crest_json_null(j);
        return;
    }
    switch (f->type) {
    case CREST_TYPE_INTEGER:
        crest_json_int(j, v->type == CREST_DB_INT ? v->i : (int64_t)as_double(v));
        return;
    case CREST_TYPE_NUMBER:
        crest_json_double(j, as_double(v));
        return;
    case CREST_TYPE_BOOLEAN:
        crest_json_bool(j, as_double(v) != 0); /* SQLite keeps booleans as 0 and 1 */
        return;
    default:
        if (v->type == CREST_DB_TEXT || v->type == CREST_DB_BLOB)
            crest_json_string_len(j, v->s.ptr, v->s.len);
        else if (v->type == CREST_DB_INT)
            crest_json_int(j, v->i);
        else
            crest_json_double(j, as_double(v));
    }
}

static void write_row(struct crest_json *j, const struct crest_schema *m,
                      const struct crest_db_result *r, size_t row, const int *cols)
{
    crest_json_object_begin(j);
    for (size_t i = 0; i < m->n_fields && i < 64; i++) {
        const struct crest_field *f = &m->fields[i];
        if (cols[i] < 0 || !scalar(f))
            continue;
        write_key(j, f->name);
        write_cell(j, f, &r->values[row * r->n_cols + (size_t)cols[i]]);
    }
    crest_json_object_end(j);
}

CREST_API void crest_json_row(struct crest_json *j, const struct crest_schema *m,
                              const struct crest_db_result *r, size_t row)
{
    int cols[64];
    columns(m, r, cols);
    if (row < r->n_rows)
        write_row(j, m, r, row, cols);
    else
        crest_json_null(j);
}

CREST_API void crest_json_rows(struct crest_json *j, const struct crest_schema *m,
                               const struct crest_db_result *r)
{
    int cols[64];
    columns(m, r, cols);
    crest_json_array_begin(j);
    for (size_t row = 0; row < r->n_rows; row++)
        write_row(j, m, r, row, cols);
    crest_json_array_end(j);
}

CREST_API int crest_res_rows(struct crest_req *req, int status, const struct crest_db_result *r)
{
    const struct crest_route *def = req->match.route ? &req->match.route->def : NULL;
    if (!def || !def->response)
        return -EINVAL;
    if (!def->response_is_array && r->n_rows == 0)
        return -ENOENT;
    struct crest_json *j = crest_res_json(req, status);
    if (!j)
        return -ENOMEM;
    if (def->response_is_array)
        crest_json_rows(j, def->response, r);
    else
        crest_json_row(j, def->response, r, 0);
    return finish(req, j);
}

/* ---- rows into structs ---- */

static void store_cell(const struct crest_field *f, const struct crest_db_value *v, char *dst)
{
    switch (f->ctype) {
    case CREST_C_INT64: {
        int64_t x = v->type == CREST_DB_INT ? v->i : (int64_t)as_double(v);
        memcpy(dst, &x, sizeof(x));
        return;
    }
    case CREST_C_INT32: {
        int32_t x = (int32_t)(v->type == CREST_DB_INT ? v->i : (int64_t)as_double(v));
        memcpy(dst, &x, sizeof(x));
        return;
    }
    case CREST_C_DOUBLE: {
        double x = as_double(v);
        memcpy(dst, &x, sizeof(x));
        return;
    }
    case CREST_C_BOOL:
        *(bool *)dst = as_double(v) != 0;
        return;
    case CREST_C_STR: {
        struct crest_str s = {NULL, 0};
        if (v->type == CREST_DB_TEXT || v->type == CREST_DB_BLOB)
            s = v->s;
        memcpy(dst, &s, sizeof(s));
        return;
    }
    case CREST_C_CSTR: {
        const char *s = v->type == CREST_DB_TEXT ? v->s.ptr : NULL; /* text ends in a NUL */
        memcpy(dst, &s, sizeof(s));
        return;
    }
    default:
        return;
    }
}

static void read_row(const struct crest_schema *m, const struct crest_db_result *r, size_t row,
                     const int *cols, char *obj)
{
    struct crest_fields *bits = valid_bind_fields_of(m, obj);
    for (size_t i = 0; i < m->n_fields && i < 64; i++) {
        const struct crest_field *f = &m->fields[i];
        if (cols[i] < 0 || !f->ctype || !scalar(f))
            continue;
        const struct crest_db_value *v = &r->values[row * r->n_cols + (size_t)cols[i]];
        if (bits) {
            bits->set |= UINT64_C(1) << i;
            if (v->type == CREST_DB_NULL)
                bits->null |= UINT64_C(1) << i;
        }
        if (v->type != CREST_DB_NULL)
            store_cell(f, v, obj + f->at);
    }
}

CREST_API int crest_model_rows(struct crest_req *req, const struct crest_schema *m,
                               const struct crest_db_result *r, void **out)
{
    int cols[64];
    if (!m->size)
        return -EINVAL;
    *out = NULL;
    if (r->n_rows == 0)
        return 0;
    char *objs = crest_req_alloc(req, r->n_rows * m->size);
    if (!objs)
        return -ENOMEM;
    memset(objs, 0, r->n_rows * m->size);
    columns(m, r, cols);
    for (size_t row = 0; row < r->n_rows; row++)
        read_row(m, r, row, cols, objs + row * m->size);
    *out = objs;
    return 0;
}
