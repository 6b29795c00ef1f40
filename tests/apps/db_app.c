/* tests/apps/db_app.c: an application of the database API for the black-box tests
 * (tests/e2e/test_db.py), written only against crest.h. POST /run takes statements as JSON,
 *   {"stmts": [{"sql": "...", "params": [1, 2.5, "text", null, true], "one": false}, ...]}
 * runs them as one crest_db_run (one transaction when several), and answers
 *   200 {"results": [{"columns": [...], "rows": [[...], ...], "changes": n}, ...]}
 * or the classified error: crest_db_http_status's code, {"detail": ..., "status": N}.
 *   db_app --host H --port P --db URL [--workers N] [--timeout-ms T] [--migration SQL]...
 */
#include <crest.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_MIGRATIONS = 16 };

static struct crest_db *db;

static void write_value(struct crest_json *j, const struct crest_db_value *v)
{
    switch (v->type) {
    case CREST_DB_INT:
        crest_json_int(j, v->i);
        break;
    case CREST_DB_DOUBLE:
        crest_json_double(j, v->d);
        break;
    case CREST_DB_BOOL:
        crest_json_bool(j, v->b);
        break;
    case CREST_DB_TEXT:
    case CREST_DB_BLOB:
        crest_json_string_len(j, v->s.ptr, v->s.len);
        break;
    default:
        crest_json_null(j);
    }
}

static void write_result(struct crest_json *j, const struct crest_db_result *r)
{
    crest_json_object_begin(j);
    crest_json_key(j, "columns");
    crest_json_array_begin(j);
    for (size_t c = 0; c < r->n_cols; c++)
        crest_json_string_len(j, r->names[c].ptr, r->names[c].len);
    crest_json_array_end(j);
    crest_json_key(j, "rows");
    crest_json_array_begin(j);
    for (size_t row = 0; row < r->n_rows; row++) {
        crest_json_array_begin(j);
        for (size_t c = 0; c < r->n_cols; c++)
            write_value(j, crest_db_get(r, row, (int)c));
        crest_json_array_end(j);
    }
    crest_json_array_end(j);
    crest_json_key(j, "changes");
    crest_json_int(j, r->changes);
    crest_json_object_end(j);
}

static void done(struct crest_req *req, enum crest_db_status status,
                 const struct crest_db_result *results, size_t n, void *ud)
{
    (void)ud;
    struct crest_json *j = crest_res_json(req, crest_db_http_status(status));
    crest_json_object_begin(j);
    if (status != CREST_DB_OK) {
        crest_json_key(j, "detail");
        crest_json_string(j, crest_db_status_text(status));
        crest_json_key(j, "status");
        crest_json_int(j, status);
    } else {
        crest_json_key(j, "results");
        crest_json_array_begin(j);
        for (size_t i = 0; i < n; i++)
            write_result(j, &results[i]);
        crest_json_array_end(j);
    }
    crest_json_object_end(j);
    crest_req_finish(req);
}

static struct crest_db_value param_of(const struct crest_json_value *v)
{
    switch (v->type) {
    case CREST_JSON_NUMBER:
        return v->is_integer ? crest_db_int(v->integer) : crest_db_double(v->number);
    case CREST_JSON_STRING:
        return crest_db_text(v->string, v->len);
    case CREST_JSON_TRUE:
        return crest_db_bool(true);
    case CREST_JSON_FALSE:
        return crest_db_bool(false);
    default:
        return crest_db_null();
    }
}

static int stmt_of(struct crest_req *req, const struct crest_json_value *in,
                   struct crest_db_stmt *out)
{
    const struct crest_json_value *sql = crest_json_get(in, "sql");
    const struct crest_json_value *params = crest_json_get(in, "params");
    const struct crest_json_value *one = crest_json_get(in, "one");
    if (!sql || sql->type != CREST_JSON_STRING)
        return -EINVAL;
    *out = (struct crest_db_stmt){.sql = sql->string};
    if (one && one->type == CREST_JSON_TRUE)
        out->flags = CREST_DB_ONE;
    if (params && params->type == CREST_JSON_ARRAY && params->len) {
        struct crest_db_value *p = crest_req_alloc(req, params->len * sizeof(*p));
        if (!p)
            return -ENOMEM;
        for (uint32_t i = 0; i < params->len; i++)
            p[i] = param_of(&params->items[i]);
        out->params = p;
        out->n_params = params->len;
    }
    return 0;
}

/* {"stmts": [{"sql": ..., "params": [...], "one": ...}, ...]}, validated before the handler */
static const struct crest_field stmt_fields[] = {
    {.name = "sql", .type = CREST_TYPE_STRING, .required = true},
    {.name = "params", .type = CREST_TYPE_ARRAY},
    {.name = "one", .type = CREST_TYPE_BOOLEAN},
};
static const struct crest_schema stmt_schema = {
    .name = "Stmt", .fields = stmt_fields, .n_fields = 3};
static const struct crest_field stmt_rule = {.type = CREST_TYPE_OBJECT, .object = &stmt_schema};
static const struct crest_field run_fields[] = {
    {.name = "stmts",
     .type = CREST_TYPE_ARRAY,
     .required = true,
     .min_length = CREST_LIMIT(1),
     .items = &stmt_rule},
};
static const struct crest_schema run_schema = {.name = "Run", .fields = run_fields, .n_fields = 1};

static enum crest_handler_result answer(struct crest_req *req, int status, const char *detail)
{
    if (crest_res_error(req, status, detail) != 0)
        crest_res_status(req, 500);
    return CREST_DONE;
}

static enum crest_handler_result run(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct crest_json_value *body = crest_req_json(req);
    const struct crest_json_value *list = body ? crest_json_get(body, "stmts") : NULL;
    if (!list || list->type != CREST_JSON_ARRAY || !list->len)
        return answer(req, 400, "stmts: a non-empty array");
    struct crest_db_stmt *stmts = crest_req_alloc(req, list->len * sizeof(*stmts));
    int rc = stmts ? 0 : -ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < list->len; i++)
        rc = stmt_of(req, &list->items[i], &stmts[i]);
    if (rc == 0)
        rc = crest_db_run(req, db, stmts, list->len, done, NULL);
    if (rc == 0)
        return CREST_PENDING;
    return answer(req, rc == -EINVAL ? 400 : 503, strerror(-rc));
}

int main(int argc, char **argv)
{
    struct crest_config cfg;
    char err[CREST_ERR_LEN];
    const char *migrations[MAX_MIGRATIONS];
    struct crest_db_config dbc = {.name = "main", .migrations = migrations};
    crest_config_defaults(&cfg);
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *v = argv[i + 1];
        if (strcmp(argv[i], "--host") == 0)
            cfg.host = v;
        else if (strcmp(argv[i], "--port") == 0)
            cfg.port = (uint16_t)atoi(v);
        else if (strcmp(argv[i], "--workers") == 0)
            cfg.workers = (unsigned)atoi(v);
        else if (strcmp(argv[i], "--db") == 0)
            dbc.url = v;
        else if (strcmp(argv[i], "--memory-limit") == 0)
            cfg.memory_limit_bytes = strtoull(v, NULL, 10);
        else if (strcmp(argv[i], "--timeout-ms") == 0)
            dbc.timeout_ms = (uint32_t)atoi(v);
        else if (strcmp(argv[i], "--migration") == 0 && dbc.n_migrations < MAX_MIGRATIONS)
            migrations[dbc.n_migrations++] = v;
        else
            return fprintf(stderr, "db_app: unknown option %s\n", argv[i]), 2;
    }
    const struct crest_route route = {
        .method = "POST", .path = "/run", .handler = run, .body = &run_schema};
    struct crest_app *app = crest_app_new("db_app", "1");
    if (!app || crest_app_add_builtin_routes(app) != 0 ||
        crest_app_add_route(app, &route, err) != 0)
        return fprintf(stderr, "db_app: setup failed\n"), 1;
    int rc = crest_app_add_db(app, &dbc, &db, err);
    if (rc == 0)
        rc = crest_serve(app, &cfg, err);
    if (rc)
        fprintf(stderr, "db_app: %s\n", err);
    crest_app_free(app);
    return rc ? 1 : 0;
}
