/* tests/unit/test_store_pg.c: the PostgreSQL store (store/pg.c) without a server: the backend a
 * URL selects, password redaction, what open refuses at once (no loop, a URL libpq cannot read,
 * TLS this build lacks, a pool too large), and a store whose server refuses connections: it opens,
 * is down, answers a call made while connecting with -EIO once the attempt failed, answers later
 * calls -EIO at once, and counts the failures. The tests with a real server are in tests/e2e
 * (test_items.py parameterised by backend, test_pg_faults.py, test_scaleout.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>

#include "crest.h"
#include "mem/mem.h"
#include "net/loop.h"
#include "obs/stats.h"
#include "store/store.h"

/* Port 1 on loopback: nothing listens there, so a connection is refused at once. */
#define REFUSED_URL "postgresql://crest:s3cret-pw@127.0.0.1:1/items"

static void test_url_selects_the_backend(void **state)
{
    (void)state;
    assert_ptr_equal(crest_store_for_url("postgresql://u@h/db"), crest_store_postgresql());
    assert_ptr_equal(crest_store_for_url("postgres://u@h/db"), crest_store_postgresql());
    assert_ptr_equal(crest_store_for_url("./crest.db"), crest_store_sqlite());
    assert_ptr_equal(crest_store_for_url(":memory:"), crest_store_sqlite());
    assert_ptr_equal(crest_store_for_url("postgresql"), crest_store_sqlite()); /* a file name */
    assert_string_equal(crest_store_postgresql()->name, "postgresql");
}

static void assert_redacts(const char *url, const char *want)
{
    char buf[256];
    crest_store_redact_url(url, buf, sizeof(buf));
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
    crest_store_redact_url("postgresql://u:secret@h/db", small, sizeof(small));
    assert_null(strstr(small, "secret"));
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

static void test_open_refuses_what_no_retry_can_fix(void **state)
{
    struct net_loop loop;
    struct store *s = (struct store *)&loop;
    char err[CREST_ERR_LEN] = "";
    (void)state;
    assert_int_equal(net_loop_init(&loop), 0);
    struct store_config cfg = {.url = REFUSED_URL};

    assert_int_equal(crest_store_postgresql()->open(&cfg, &s, err), -ENOTSUP); /* no loop */
    assert_null(s);
    assert_non_null(strstr(err, "event loop"));

    cfg.loop = net_loop_public(&loop);
    cfg.url = "postgresql://u:s3cret-pw@h/db?no_such_option=1";
    assert_int_equal(crest_store_postgresql()->open(&cfg, &s, err), -EINVAL);
    assert_non_null(strstr(err, "postgresql://u:***@h/db"));
    assert_null(strstr(err, "s3cret-pw"));

    cfg.url = "postgresql://u:s3cret-pw@h/db?sslmode=require";
    assert_int_equal(crest_store_postgresql()->open(&cfg, &s, err), -ENOTSUP);
    assert_non_null(strstr(err, "TLS"));
    assert_null(strstr(err, "s3cret-pw"));

    cfg.url = REFUSED_URL;
    cfg.pool = 65;
    assert_int_equal(crest_store_postgresql()->open(&cfg, &s, err), -EINVAL);
    assert_int_equal(crest_store_postgresql()->open(NULL, &s, err), -EINVAL);
    net_loop_fini(&loop);
}

struct answer {
    int calls;
    int status;
};

static void on_done(void *ud, int status, const struct store_item *items, size_t n)
{
    struct answer *a = ud;
    (void)items;
    assert_int_equal(n, 0);
    a->calls++;
    a->status = status;
}

static void *bump(void *ctx, size_t n)
{
    (void)ctx;
    (void)n;
    fail_msg("a failed call copied a result");
    return NULL;
}

static void run_loop(struct net_loop *loop, int rounds)
{
    for (int i = 0; i < rounds; i++)
        (void)net_loop_poll(loop, 10, NULL, NULL);
}

static void test_unreachable_server_is_down_and_calls_fail(void **state)
{
    struct net_loop loop;
    struct store *s = NULL;
    char err[CREST_ERR_LEN] = "";
    struct store_alloc out = {bump, NULL};
    struct answer early = {0}, late = {0};
    (void)state;
    assert_int_equal(net_loop_init(&loop), 0);
    obs_set_workers(1);
    uint64_t connect_errors = obs_db_errors(OBS_DB_ERR_CONNECT);
    struct store_config cfg = {.url = REFUSED_URL, .loop = net_loop_public(&loop), .pool = 2};

    struct mem_tag_stats db;
    mem_stats(MEM_DB, &db);
    int64_t before = db.live_bytes;
    assert_int_equal(crest_store_postgresql()->open(&cfg, &s, err), 0); /* retried, not fatal */
    assert_non_null(s);
    /* libpq's connections are counted too (it is built to allocate through crest's accounting):
     * each holds 16 KiB input and output buffers */
    mem_stats(MEM_DB, &db);
    assert_true(db.live_bytes - before > 2 * 2 * 16384);
    assert_ptr_equal(s->ops, crest_store_postgresql());
    assert_false(s->ops->up(s));
    /* a call made while the connections are being opened waits for them... */
    assert_int_equal(s->ops->get(s, 1, &out, on_done, &early), 0);
    assert_int_equal(early.calls, 0);
    run_loop(&loop, 5);
    /* ...and fails with them */
    assert_int_equal(early.calls, 1);
    assert_int_equal(early.status, -EIO);
    assert_false(s->ops->up(s));
    assert_true(obs_db_errors(OBS_DB_ERR_CONNECT) >= connect_errors + 2);
    assert_int_equal(obs_db_conns(OBS_DB_DOWN), 2);
    /* while the connections wait out their backoff, calls fail at once, never queued */
    assert_int_equal(s->ops->get(s, 1, &out, on_done, &late), -EIO);
    assert_int_equal(late.calls, 0);
    struct store_item item = {.name = {"x", 1}, .price = 1};
    assert_int_equal(s->ops->create(s, &item, NULL, on_done, &late), -EINVAL); /* no allocator */
    assert_int_equal(s->ops->list(s, -1, 10, &out, on_done, &late), -EINVAL);
    assert_int_equal(s->ops->patch(s, &item, 1u << 7, &out, on_done, &late), -EINVAL);
    assert_false(s->ops->pending(s));
    s->ops->close(s);
    assert_int_equal(obs_db_conns(OBS_DB_DOWN), 0); /* the pool's gauges leave with it */
    mem_stats(MEM_DB, &db);
    assert_int_equal(db.live_bytes, 0); /* every block the store and libpq made is freed */
    net_loop_fini(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_selects_the_backend),
        cmocka_unit_test(test_password_is_redacted),
        cmocka_unit_test(test_open_refuses_what_no_retry_can_fix),
        cmocka_unit_test(test_unreachable_server_is_down_and_calls_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
