/* tests/unit/test_db_pg.c: the PostgreSQL backend of the database API (db/pg*.c) without a server:
 * the password redacted from every URL crest prints, what crest_app_add_db refuses at once (a URL
 * libpq cannot read, TLS this build lacks, a pool too large) without repeating the password, and
 * the test client's worker, which has no loop for libpq's sockets, refused with a reason. Calls,
 * pipelines, batches, timeouts, faults and migrations against a real server are tests/e2e's
 * (test_db.py, test_items.py, test_pg_faults.py, test_pg_batch.py, test_example_tfb.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>

#include "crest.h"
#include "db/db.h"

static void assert_redacts(const char *url, const char *want)
{
    char buf[256];
    db_redact_url(url, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void test_password_is_redacted(void **state)
{
    (void)state;
    assert_redacts("postgresql://crest:pw@127.0.0.1:5432/db",
                   "postgresql://crest:***@127.0.0.1:5432/db");
    /* the userinfo ends at the last @ of the authority: a password may contain @ */
    assert_redacts("postgresql://u:p@ss@h/db?x=1", "postgresql://u:***@h/db?x=1");
    assert_redacts("postgresql://u@h/db", "postgresql://u@h/db");       /* no password */
    assert_redacts("postgresql://h:5432/db", "postgresql://h:5432/db"); /* the port stays */
    assert_redacts("postgresql://u@h/db?password=pw&sslmode=disable",
                   "postgresql://u@h/db?password=***");
    assert_redacts("./crest.db", "./crest.db");
    char small[12];
    db_redact_url("postgresql://u:secret@h/db", small, sizeof(small));
    assert_null(strstr(small, "secret"));
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

static void test_add_refuses_what_no_retry_can_fix(void **state)
{
    char err[CREST_ERR_LEN] = "";
    struct crest_db *db;
    (void)state;
    struct crest_app *app = crest_app_new("pg", "1");
    struct crest_db_config cfg = {.url = "postgresql://u:s3cret-pw@h/db?no_such_option=1"};
    assert_int_equal(crest_app_add_db(app, &cfg, &db, err), -EINVAL);
    assert_non_null(strstr(err, "postgresql://u:***@h/db"));
    assert_null(strstr(err, "s3cret-pw"));
    cfg.url = "postgresql://u:s3cret-pw@h/db?sslmode=require";
    assert_int_equal(crest_app_add_db(app, &cfg, &db, err), -ENOTSUP);
    assert_non_null(strstr(err, "TLS"));
    assert_null(strstr(err, "s3cret-pw"));
    cfg.url = "postgres://u:s3cret-pw@127.0.0.1:1/db";
    cfg.pool = 65;
    assert_int_equal(crest_app_add_db(app, &cfg, &db, err), -EINVAL);
    crest_app_free(app);
}

static enum crest_handler_result never(struct crest_req *req, void *ud)
{
    (void)req;
    (void)ud;
    fail_msg("a request ran without its database");
    return CREST_DONE;
}

/* The test client's worker has no loop: its start fails, so crest_test_request does, with the
 * backend's -ENOTSUP, every time (nothing half-started stays behind). */
static void test_the_test_client_has_no_loop_for_postgresql(void **state)
{
    char err[CREST_ERR_LEN];
    struct crest_db *db;
    struct crest_test_response res;
    (void)state;
    struct crest_app *app = crest_app_new("pg", "1");
    const struct crest_route route = {.method = "GET", .path = "/x", .handler = never};
    assert_int_equal(crest_app_add_route(app, &route, NULL), 0);
    const struct crest_db_config cfg = {.url = "postgresql://u:pw@127.0.0.1:1/db"};
    assert_int_equal(crest_app_add_db(app, &cfg, &db, err), 0); /* checked now, opened per worker */
    for (int i = 0; i < 2; i++)
        assert_int_equal(crest_test_request(app, "GET", "/x", NULL, &res), -ENOTSUP);
    crest_app_free(app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_is_redacted),
        cmocka_unit_test(test_add_refuses_what_no_retry_can_fix),
        cmocka_unit_test(test_the_test_client_has_no_loop_for_postgresql),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
