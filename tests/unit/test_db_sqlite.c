/* tests/unit/test_db_sqlite.c: the database API (db/, crest.h's crest_db_*) on SQLite, through the
 * test client (whose worker has no loop: reads run on the worker's connection, writes on the
 * writer connection in the caller's thread, as the server's writer thread runs them): typed
 * parameters ($N in any order, repeated) and rows, a transaction rolled back whole, each error
 * class, CREST_DB_ONE, migrations (applied once, by several apps opening one file together, and a
 * newer schema refused), files that cannot be opened, a read-only file, ":memory:", more distinct
 * statements than a connection caches, the arguments crest_db_run refuses, and SQLite's memory
 * under its tag. The server's writer thread, kill -9 durability and a held write lock are
 * tests/e2e/test_db.py's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crest.h"
#include "mem/mem.h"

/* What the route runs, and what came back (copied out of the request's arena as text). */
static struct crest_db *the_db;
static const struct crest_db_stmt *run_stmts;
static size_t run_n;
static int run_rc;
static enum crest_db_status got_status;
static size_t got_n, got_rows[8];
static int64_t got_changes[8];
static char got_text[4096]; /* every value of every result, "|"-separated, "~" for NULL */

static void append(const char *fmt, ...)
{
    size_t len = strlen(got_text);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(got_text + len, sizeof(got_text) - len, fmt, ap);
    va_end(ap);
}

static void record(struct crest_req *req, enum crest_db_status status,
                   const struct crest_db_result *r, size_t n, void *ud)
{
    (void)ud;
    got_status = status;
    got_n = n;
    got_text[0] = '\0';
    for (size_t k = 0; k < n && k < 8; k++) {
        got_rows[k] = r[k].n_rows;
        got_changes[k] = r[k].changes;
        for (size_t row = 0; row < r[k].n_rows; row++)
            for (size_t c = 0; c < r[k].n_cols; c++) {
                const struct crest_db_value *v = crest_db_get(&r[k], row, (int)c);
                if (v->type == CREST_DB_NULL)
                    append("~|");
                else if (v->type == CREST_DB_INT)
                    append("%lld|", (long long)v->i);
                else if (v->type == CREST_DB_DOUBLE)
                    append("%g|", v->d);
                else
                    append("%.*s|", (int)v->s.len, v->s.ptr);
            }
    }
    crest_res_status(req, 200);
    crest_req_finish(req);
}

static enum crest_handler_result handler(struct crest_req *req, void *ud)
{
    (void)ud;
    run_rc = crest_db_run(req, the_db, run_stmts, run_n, record, NULL);
    if (run_rc)
        crest_res_status(req, 599);
    return run_rc ? CREST_DONE : CREST_PENDING;
}

static struct crest_app *app_on(const char *url, const char *const *migrations, size_t n, int *rc,
                                char *err)
{
    struct crest_app *app = crest_app_new("db", "1");
    const struct crest_route route = {.method = "GET", .path = "/q", .handler = handler};
    assert_non_null(app);
    assert_int_equal(crest_app_add_route(app, &route, NULL), 0);
    const struct crest_db_config cfg = {
        .url = url, .migrations = migrations, .n_migrations = n, .timeout_ms = 2000};
    *rc = crest_app_add_db(app, &cfg, &the_db, err);
    return app;
}

/* Runs stmts through the route; the route's own status (200, or 599 when crest_db_run refused). */
static int run(struct crest_app *app, const struct crest_db_stmt *stmts, size_t n)
{
    struct crest_test_response res;
    run_stmts = stmts;
    run_n = n;
    got_status = (enum crest_db_status) - 1;
    got_text[0] = '\0';
    assert_int_equal(crest_test_request(app, "GET", "/q", NULL, &res), 0);
    int status = res.status;
    crest_test_response_fini(&res);
    return status;
}

static enum crest_db_status sql(struct crest_app *app, const char *text)
{
    const struct crest_db_stmt st = {.sql = text};
    assert_int_equal(run(app, &st, 1), 200);
    return got_status;
}

static int64_t sqlite_bytes(void)
{
    struct mem_tag_stats st;
    mem_stats(MEM_SQLITE, &st);
    return st.live_bytes;
}

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/crest-test-db-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *path(const char *name)
{
    static char buf[128];
    snprintf(buf, sizeof(buf), "%s/%s", dir, name);
    return buf;
}

static const char *const schema[] = {
    "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, n INTEGER CHECK (n >= 0), "
    "x REAL, b BLOB)",
    "CREATE TABLE child(id INTEGER PRIMARY KEY, parent INTEGER NOT NULL REFERENCES t(id))",
};

static void test_parameters_and_rows_are_typed(void **state)
{
    char err[CREST_ERR_LEN];
    int rc;
    (void)state;
    struct crest_app *app = app_on(path("typed.db"), schema, 2, &rc, err);
    assert_int_equal(rc, 0);
    const struct crest_db_value p[] = {crest_db_int(7), crest_db_text("seven ✓", strlen("seven ✓")),
                                       crest_db_int(3), crest_db_double(2.5),
                                       crest_db_blob("a\0b", 3)};
    const struct crest_db_stmt ins = {
        .sql = "INSERT INTO t VALUES ($1, $2, $3, $4, $5) RETURNING id, name",
        .params = p,
        .n_params = 5};
    assert_int_equal(run(app, &ins, 1), 200);
    assert_int_equal(got_status, CREST_DB_OK);
    assert_string_equal(got_text, "7|seven ✓|");
    assert_int_equal(got_changes[0], 1);
    /* $N in any order, repeated; NULL and booleans bind */
    const struct crest_db_value q[] = {crest_db_null(), crest_db_int(7), crest_db_bool(true)};
    const struct crest_db_stmt sel = {
        .sql = "SELECT $2 + 0, n, x, length(b), $1 IS NULL, $3 FROM t WHERE id = $2",
        .params = q,
        .n_params = 3};
    assert_int_equal(run(app, &sel, 1), 200);
    assert_int_equal(got_status, CREST_DB_OK);
    assert_string_equal(got_text, "7|3|2.5|3|1|1|");
    crest_app_free(app);
}

static void test_a_transaction_rolls_back_whole(void **state)
{
    char err[CREST_ERR_LEN];
    int rc;
    (void)state;
    struct crest_app *app = app_on(path("txn.db"), schema, 2, &rc, err);
    assert_int_equal(rc, 0);
    const struct crest_db_stmt two[] = {{.sql = "INSERT INTO t(id, name) VALUES (1, 'a')"},
                                        {.sql = "INSERT INTO t(id, name) VALUES (2, 'a')"}};
    run(app, two, 2);
    assert_int_equal(got_status, CREST_DB_UNIQUE);
    assert_int_equal(sql(app, "SELECT count(*) FROM t"), CREST_DB_OK);
    assert_string_equal(got_text, "0|");
    const struct crest_db_stmt ok[] = {{.sql = "INSERT INTO t(id, name) VALUES (1, 'a')"},
                                       {.sql = "INSERT INTO t(id, name) VALUES (2, 'b')"},
                                       {.sql = "SELECT count(*) FROM t"}};
    run(app, ok, 3);
    assert_int_equal(got_status, CREST_DB_OK);
    assert_int_equal(got_n, 3);
    assert_string_equal(got_text, "2|"); /* the third sees the first two, in the transaction */
    crest_app_free(app);
}

static void test_errors_are_classified(void **state)
{
    char err[CREST_ERR_LEN];
    int rc;
    (void)state;
    struct crest_app *app = app_on(path("errors.db"), schema, 2, &rc, err);
    assert_int_equal(rc, 0);
    assert_int_equal(sql(app, "INSERT INTO t(id, name) VALUES (1, 'a')"), CREST_DB_OK);
    assert_int_equal(sql(app, "INSERT INTO t(id, name) VALUES (1, 'b')"), CREST_DB_UNIQUE);
    assert_int_equal(sql(app, "INSERT INTO t(id, name) VALUES (2, 'a')"), CREST_DB_UNIQUE);
    assert_int_equal(sql(app, "INSERT INTO child VALUES (1, 99)"), CREST_DB_FOREIGN_KEY);
    assert_int_equal(sql(app, "INSERT INTO t(id, name, n) VALUES (3, 'c', -1)"), CREST_DB_CHECK);
    assert_int_equal(sql(app, "INSERT INTO t(id) VALUES (4)"), CREST_DB_CHECK); /* NOT NULL */
    assert_int_equal(sql(app, "SELEC 1"), CREST_DB_INVALID);
    assert_int_equal(sql(app, "SELECT * FROM nowhere"), CREST_DB_INVALID);
    const struct crest_db_stmt one = {.sql = "UPDATE t SET n = 1 WHERE id = 404",
                                      .flags = CREST_DB_ONE};
    run(app, &one, 1);
    assert_int_equal(got_status, CREST_DB_NOT_FOUND);
    const struct crest_db_stmt found = {.sql = "SELECT id FROM t WHERE id = 1",
                                        .flags = CREST_DB_ONE};
    run(app, &found, 1);
    assert_int_equal(got_status, CREST_DB_OK);
    /* $N past the parameters given, and :name parameters, are the statement's error */
    const struct crest_db_value v = crest_db_int(1);
    const struct crest_db_stmt past = {.sql = "SELECT $2", .params = &v, .n_params = 1};
    run(app, &past, 1);
    assert_int_equal(got_status, CREST_DB_INVALID);
    const struct crest_db_stmt named = {.sql = "SELECT :x", .params = &v, .n_params = 1};
    run(app, &named, 1);
    assert_int_equal(got_status, CREST_DB_INVALID);
    assert_int_equal(crest_db_http_status(CREST_DB_UNIQUE), 409);
    assert_int_equal(crest_db_http_status(CREST_DB_NOT_FOUND), 404);
    assert_int_equal(crest_db_http_status(CREST_DB_CHECK), 422);
    assert_int_equal(crest_db_http_status(CREST_DB_TIMEOUT), 503);
    assert_int_equal(crest_db_http_status(CREST_DB_INVALID), 500);
    crest_app_free(app);
}

static void test_bad_arguments_are_refused_without_a_callback(void **state)
{
    char err[CREST_ERR_LEN];
    int rc;
    (void)state;
    struct crest_app *app = app_on(":memory:", NULL, 0, &rc, err);
    assert_int_equal(rc, 0);
    const struct crest_db_stmt no_sql = {.sql = NULL};
    assert_int_equal(run(app, &no_sql, 1), 599);
    assert_int_equal(run_rc, -EINVAL);
    assert_int_equal((int)got_status, -1);
    const struct crest_db_value bad = {.type = 99};
    const struct crest_db_stmt bad_type = {.sql = "SELECT $1", .params = &bad, .n_params = 1};
    assert_int_equal(run(app, &bad_type, 1), 599);
    assert_int_equal(run(app, &no_sql, 0), 599); /* no statement */
    const struct crest_db_batch half = {.sql = "SELECT 1"};
    const struct crest_db_stmt batch = {.sql = "SELECT 1", .batch = &half};
    assert_int_equal(run(app, &batch, 1), 599);
    crest_app_free(app);
    /* configurations no database could use */
    const struct crest_db_config none = {.url = NULL};
    struct crest_db *db;
    app = crest_app_new("db", "1");
    assert_int_equal(crest_app_add_db(app, &none, &db, err), -EINVAL);
    const struct crest_db_config pool = {.url = ":memory:", .pool = 65};
    assert_int_equal(crest_app_add_db(app, &pool, &db, err), -EINVAL);
    const struct crest_db_config pg = {.url = "postgresql://u:secret@[::1"};
    assert_int_equal(crest_app_add_db(app, &pg, &db, err), -EINVAL);
    assert_null(strstr(err, "secret")); /* the password is never repeated */
    crest_app_free(app);
}

static void test_migrations_apply_once_and_a_newer_schema_is_refused(void **state)
{
    char err[CREST_ERR_LEN];
    int rc;
    (void)state;
    const char *const m[] = {"CREATE TABLE m(x INTEGER)", "INSERT INTO m VALUES (1)",
                             "INSERT INTO m VALUES (2)"};
    struct crest_app *app = app_on(path("mig.db"), m, 2, &rc, err);
    assert_int_equal(rc, 0);
    crest_app_free(app);
    app = app_on(path("mig.db"), m, 3, &rc, err); /* one more: only it is applied */
    assert_int_equal(rc, 0);
    assert_int_equal(sql(app, "SELECT group_concat(x) FROM m"), CREST_DB_OK);
    assert_string_equal(got_text, "1,2|");
    assert_int_equal(sql(app, "SELECT group_concat(version) FROM crest_migrations"), CREST_DB_OK);
    assert_string_equal(got_text, "1,2,3|");
    crest_app_free(app);
    app = app_on(path("mig.db"), m, 1, &rc, err); /* an older application */
    assert_int_equal(rc, -EPROTO);
    assert_non_null(strstr(err, "newer"));
    crest_app_free(app);
    /* migration 2 edited after it ran (or another application's): refused, nothing applied */
    const char *const edited[] = {m[0], "INSERT INTO m VALUES (20)", m[2]};
    app = app_on(path("mig.db"), edited, 3, &rc, err);
    assert_int_equal(rc, -EPROTO);
    assert_non_null(strstr(err, "migration 2 is not the one applied"));
    crest_app_free(app);
    const char *const broken[] = {"CREATE TABLE ok(x)", "THIS IS NOT SQL"};
    app = app_on(path("broken.db"), broken, 2, &rc, err);
    assert_int_equal(rc, -EIO);
    assert_non_null(strstr(err, "migration 2"));
    crest_app_free(app);
}

struct opener {
    const char *url;
    int rc;
};

static void *open_concurrently(void *arg)
{
    struct opener *o = arg;
    static const char *const m[] = {"CREATE TABLE c(x INTEGER)", "INSERT INTO c VALUES (1)"};
    struct crest_app *app = crest_app_new("db", "1");
    const struct crest_db_config cfg = {.url = o->url, .migrations = m, .n_migrations = 2};
    struct crest_db *db;
    char err[CREST_ERR_LEN];
    o->rc = crest_app_add_db(app, &cfg, &db, err);
    crest_app_free(app);
    return NULL;
}

static void test_apps_opening_one_new_file_together_migrate_once(void **state)
{
    char err[CREST_ERR_LEN];
    int rc;
    pthread_t threads[4];
    struct opener o[4];
    (void)state;
    for (int i = 0; i < 4; i++) {
        o[i] = (struct opener){path("together.db"), -1};
        assert_int_equal(pthread_create(&threads[i], NULL, open_concurrently, &o[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(o[i].rc, 0);
    }
    struct crest_app *app = app_on(path("together.db"), NULL, 0, &rc, err);
    assert_int_equal(sql(app, "SELECT count(*) FROM c"), CREST_DB_OK);
    assert_string_equal(got_text, "1|");
    crest_app_free(app);
}

static void test_files_that_cannot_be_databases_fail_with_a_reason(void **state)
{
    char err[CREST_ERR_LEN];
    int rc;
    (void)state;
    FILE *f = fopen(path("garbage.db"), "w");
    fputs("this is not a SQLite database, not even close to one; it is longer than a header", f);
    fclose(f);
    const char *const m[] = {"CREATE TABLE g(x)"};
    struct crest_app *app = app_on(path("garbage.db"), m, 1, &rc, err);
    assert_int_equal(rc, -EIO);
    assert_non_null(strstr(err, "garbage.db"));
    crest_app_free(app);
    app = app_on(path("no/such/dir/x.db"), NULL, 0, &rc, err);
    assert_int_equal(rc, -EIO);
    crest_app_free(app);
    /* file:... is a path, not a URI with options */
    char colon[160];
    snprintf(colon, sizeof(colon), "%s/file:x.db?mode=ro", dir);
    app = app_on(colon, m, 1, &rc, err);
    assert_int_equal(rc, 0);
    crest_app_free(app);
    assert_int_equal(access(colon, F_OK), 0);
}

static void test_a_read_only_file_serves_reads_and_refuses_writes(void **state)
{
    char err[CREST_ERR_LEN];
    int rc;
    (void)state;
    const char *const m[] = {"CREATE TABLE r(x INTEGER); INSERT INTO r VALUES (5)"};
    struct crest_app *app = app_on(path("ro.db"), m, 1, &rc, err);
    assert_int_equal(rc, 0);
    crest_app_free(app); /* the last connection checkpoints and removes -wal and -shm */
    if (geteuid() == 0)
        skip(); /* root writes read-only files anyway */
    assert_int_equal(chmod(path("ro.db"), 0444), 0);
    assert_int_equal(chmod(dir, 0555), 0);
    app = app_on(path("ro.db"), m, 1, &rc, err);
    chmod(dir, 0755);
    if (rc == 0) {
        assert_int_equal(sql(app, "SELECT x FROM r"), CREST_DB_OK);
        assert_string_equal(got_text, "5|");
        assert_int_equal(sql(app, "INSERT INTO r VALUES (6)"), CREST_DB_UNAVAILABLE);
    }
    crest_app_free(app);
}

static void test_memory_databases_and_many_statements(void **state)
{
    char err[CREST_ERR_LEN];
    int rc;
    (void)state;
    const char *const m[] = {"CREATE TABLE k(x INTEGER)"};
    int64_t before = sqlite_bytes();
    struct crest_app *app = app_on(":memory:", m, 1, &rc, err);
    assert_int_equal(rc, 0);
    assert_int_equal(sql(app, "INSERT INTO k VALUES (1)"), CREST_DB_OK);
    assert_true(sqlite_bytes() > before); /* SQLite's memory is counted */
    /* more distinct statements than a connection keeps prepared: each still runs */
    for (int i = 0; i < 200; i++) {
        char text[64];
        snprintf(text, sizeof(text), "SELECT x + %d FROM k", i);
        assert_int_equal(sql(app, text), CREST_DB_OK);
        char want[32];
        snprintf(want, sizeof(want), "%d|", 1 + i);
        assert_string_equal(got_text, want);
    }
    crest_app_free(app);
}

/* ---- crest_db_answer: a handler's whole answer from one statement ---- */

static const char *answer_sql;
static unsigned answer_flags;
static const struct crest_db_errors answer_errors = {
    .detail = {[CREST_DB_NOT_FOUND] = "Row not found"}};

static enum crest_handler_result answer_handler(struct crest_req *req, void *ud)
{
    const struct crest_db_value p[] = {crest_db_str(crest_param_str(req, "name"))};
    return crest_db_answer(req, the_db, answer_sql, p, strstr(answer_sql, "$1") ? 1 : 0,
                           answer_flags, ud);
}

static const struct crest_field row_fields[] = {
    {.name = "id", .type = CREST_TYPE_INTEGER, .required = true},
    {.name = "name", .type = CREST_TYPE_STRING, .required = true},
    {.name = "n", .type = CREST_TYPE_INTEGER, .nullable = true},
};
static const struct crest_schema row = {.name = "Row", .fields = row_fields, .n_fields = 3};

static void expect_answer(struct crest_app *app, const char *method, const char *target,
                          const char *sql, unsigned flags, int status, const char *body)
{
    struct crest_test_response res;
    answer_sql = sql;
    answer_flags = flags;
    assert_int_equal(crest_test_request(app, method, target, NULL, &res), 0);
    if (res.status != status || strncmp(res.body.ptr, body, res.body.len) != 0 ||
        strlen(body) != res.body.len)
        fail_msg("%s %s: %d %.*s, want %d %s", method, target, res.status, (int)res.body.len,
                 res.body.ptr, status, body);
    if (status == 503)
        assert_non_null(crest_test_header(&res, "Retry-After").ptr);
    crest_test_response_fini(&res);
}

static void test_answer_sends_rows_through_the_response_schema(void **state)
{
    char err[CREST_ERR_LEN];
    int rc;
    (void)state;
    struct crest_app *app = app_on(path("answer.db"), schema, 2, &rc, err);
    assert_int_equal(rc, 0);
    const struct crest_route routes[] = {
        {.method = "POST",
         .path = "/rows/{name}",
         .handler = answer_handler,
         .status = 201,
         .response = &row},
        {.method = "GET",
         .path = "/rows/{name}",
         .handler = answer_handler,
         .response = &row,
         .ud = (void *)&answer_errors},
        {.method = "GET",
         .path = "/rows",
         .handler = answer_handler,
         .response = &row,
         .response_is_array = true},
        {.method = "DELETE",
         .path = "/rows/{name}",
         .handler = answer_handler,
         .status = 204,
         .ud = (void *)&answer_errors},
        {.method = "PUT", .path = "/rows/{name}", .handler = answer_handler},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        assert_int_equal(crest_app_add_route(app, &routes[i], err), 0);
    const char *ins = "INSERT INTO t(name) VALUES ($1) RETURNING id, name, n";
    expect_answer(app, "POST", "/rows/a", ins, 0, 201, "{\"id\":1,\"name\":\"a\",\"n\":null}");
    expect_answer(app, "POST", "/rows/b", ins, 0, 201, "{\"id\":2,\"name\":\"b\",\"n\":null}");
    /* crest's words, or the application's where it gave them */
    expect_answer(app, "POST", "/rows/a", ins, 0, 409, "{\"detail\":\"Conflict: already exists\"}");
    const char *one = "SELECT id, name FROM t WHERE name = $1";
    expect_answer(app, "GET", "/rows/b", one, CREST_DB_ONE, 200, "{\"id\":2,\"name\":\"b\"}");
    expect_answer(app, "GET", "/rows/zz", one, CREST_DB_ONE, 404, "{\"detail\":\"Row not found\"}");
    expect_answer(app, "GET", "/rows/zz", one, 0, 404, "{\"detail\":\"Row not found\"}");
    const char *all = "SELECT id, name, n FROM t ORDER BY id";
    expect_answer(app, "GET", "/rows", all, 0, 200,
                  "[{\"id\":1,\"name\":\"a\",\"n\":null},{\"id\":2,\"name\":\"b\",\"n\":null}]");
    expect_answer(app, "GET", "/rows", "SELECT id, name, n FROM t WHERE id > 9", 0, 200, "[]");
    const char *del = "DELETE FROM t WHERE name = $1";
    expect_answer(app, "DELETE", "/rows/a", del, CREST_DB_ONE, 204, "");
    expect_answer(app, "DELETE", "/rows/a", del, CREST_DB_ONE, 404,
                  "{\"detail\":\"Row not found\"}");
    /* the statement is wrong; the route has no response schema to write rows with */
    expect_answer(app, "GET", "/rows/b", "SELECT nope FROM t", 0, 500,
                  "{\"detail\":\"Internal Server Error\"}");
    expect_answer(app, "PUT", "/rows/b", one, 0, 500, "{\"detail\":\"Internal Server Error\"}");
    crest_app_free(app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parameters_and_rows_are_typed),
        cmocka_unit_test(test_a_transaction_rolls_back_whole),
        cmocka_unit_test(test_errors_are_classified),
        cmocka_unit_test(test_bad_arguments_are_refused_without_a_callback),
        cmocka_unit_test(test_migrations_apply_once_and_a_newer_schema_is_refused),
        cmocka_unit_test(test_apps_opening_one_new_file_together_migrate_once),
        cmocka_unit_test(test_files_that_cannot_be_databases_fail_with_a_reason),
        cmocka_unit_test(test_a_read_only_file_serves_reads_and_refuses_writes),
        cmocka_unit_test(test_memory_databases_and_many_statements),
        cmocka_unit_test(test_answer_sends_rows_through_the_response_schema),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
