/* tests/unit/test_serve_args.c: the command line of a server built on crest (serve/args.c): the
 * engine's flags into crest_config, an application's own flags of each kind, the environment
 * under the flags, and every refusal naming what it refused. */
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

struct app_flags {
    const char *db;
    bool verbose;
    uint32_t pool;
    uint64_t cache;
    uint32_t timeout_ms;
};

static int parse(struct crest_config *cfg, struct app_flags *a, char **argv, char *err)
{
    const struct crest_arg args[] = {
        {"--db", CREST_ARG_STRING, &a->db, "TEST_ARGS_DB", "the database"},
        {"--verbose", CREST_ARG_SWITCH, &a->verbose, "TEST_ARGS_VERBOSE", "say more"},
        {"--pool", CREST_ARG_COUNT, &a->pool, NULL, "connections"},
        {"--cache", CREST_ARG_BYTES, &a->cache, NULL, "cache size"},
        {"--timeout", CREST_ARG_SECONDS, &a->timeout_ms, NULL, "timeout"},
    };
    int argc = 0;
    while (argv[argc])
        argc++;
    crest_config_defaults(cfg);
    *a = (struct app_flags){.db = "default.db", .pool = 2};
    err[0] = '\0';
    return crest_config_args(cfg, argc, argv, args, 5, err);
}

static void test_args_engine_and_application_flags(void **state)
{
    (void)state;
    struct crest_config cfg;
    struct app_flags a;
    char err[CREST_ERR_LEN];
    char *argv[] = {"app",
                    "--host",
                    "127.0.0.1",
                    "--port=8001",
                    "--workers",
                    "3",
                    "--memory-limit",
                    "64M",
                    "--timeout-keep-alive",
                    "0.5",
                    "--log-format",
                    "json",
                    "--quiet",
                    "--db",
                    "x.db",
                    "--verbose",
                    "--pool=9",
                    "--cache",
                    "2K",
                    "--timeout",
                    "10s",
                    NULL};
    assert_int_equal(parse(&cfg, &a, argv, err), 0);
    assert_string_equal(cfg.host, "127.0.0.1");
    assert_int_equal(cfg.port, 8001);
    assert_int_equal(cfg.workers, 3);
    assert_int_equal(cfg.memory_limit_bytes, 64 << 20);
    assert_int_equal(cfg.keepalive_timeout_ms, 500);
    assert_int_equal(cfg.log_format, CREST_LOG_JSON);
    assert_true(cfg.quiet);
    assert_string_equal(a.db, "x.db");
    assert_true(a.verbose);
    assert_int_equal(a.pool, 9);
    assert_int_equal(a.cache, 2048);
    assert_int_equal(a.timeout_ms, 10000);
}

static void test_args_leave_defaults_and_read_the_environment(void **state)
{
    (void)state;
    struct crest_config cfg;
    struct app_flags a;
    char err[CREST_ERR_LEN];
    char *none[] = {"app", NULL};
    setenv("TEST_ARGS_DB", "env.db", 1);
    setenv("TEST_ARGS_VERBOSE", "true", 1);
    setenv("PORT", "9001", 1);
    assert_int_equal(parse(&cfg, &a, none, err), 0);
    assert_string_equal(a.db, "env.db");
    assert_true(a.verbose);
    assert_int_equal(cfg.port, 9001);
    assert_int_equal(a.pool, 2); /* not given: left as it was */
    char *flag_wins[] = {"app", "--db", "flag.db", "--port", "9002", NULL};
    assert_int_equal(parse(&cfg, &a, flag_wins, err), 0);
    assert_string_equal(a.db, "flag.db");
    assert_int_equal(cfg.port, 9002);
    setenv("TEST_ARGS_VERBOSE", "0", 1);
    assert_int_equal(parse(&cfg, &a, none, err), 0);
    assert_false(a.verbose);
    setenv("TEST_ARGS_VERBOSE", "maybe", 1);
    assert_int_equal(parse(&cfg, &a, none, err), -EINVAL);
    assert_non_null(strstr(err, "TEST_ARGS_VERBOSE"));
    unsetenv("TEST_ARGS_VERBOSE");
    setenv("PORT", "http", 1);
    assert_int_equal(parse(&cfg, &a, none, err), -EINVAL);
    assert_non_null(strstr(err, "PORT"));
    unsetenv("PORT");
    unsetenv("TEST_ARGS_DB");
}

static void test_args_refuse_naming_the_flag(void **state)
{
    (void)state;
    static const struct {
        const char *argv[4];
        const char *named;
    } bad[] = {
        {{"app", "--bogus", NULL}, "--bogus"},
        {{"app", "--bogus=1", NULL}, "--bogus"},
        {{"app", "--port", NULL}, "--port"},
        {{"app", "--port", "0", NULL}, "--port"},
        {{"app", "--port", "65536", NULL}, "--port"},
        {{"app", "--workers", "256", NULL}, "--workers"},
        {{"app", "--workers", "-1", NULL}, "--workers"},
        {{"app", "--verbose=yes", NULL}, "--verbose"},
        {{"app", "--db", "", NULL}, "--db"},
        {{"app", "--pool", "0", NULL}, "--pool"},
        {{"app", "--pool", "4294967296", NULL}, "--pool"},
        {{"app", "--cache", "5X", NULL}, "--cache"},
        {{"app", "--cache", "20G0", NULL}, "--cache"},
        {{"app", "--timeout", "0", NULL}, "--timeout"},
        {{"app", "--timeout", "1m", NULL}, "--timeout"},
        {{"app", "--timeout", "86401", NULL}, "--timeout"},
        {{"app", "--log-format", "xml", NULL}, "--log-format"},
        {{"app", "--max-body-bytes", "5G", NULL}, "--max-body-bytes"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct crest_config cfg;
        struct app_flags a;
        char err[CREST_ERR_LEN];
        assert_int_equal(parse(&cfg, &a, (char **)bad[i].argv, err), -EINVAL);
        if (!strstr(err, bad[i].named))
            fail_msg("%s %s: '%s' does not name it", bad[i].argv[1], bad[i].argv[2], err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args_engine_and_application_flags),
        cmocka_unit_test(test_args_leave_defaults_and_read_the_environment),
        cmocka_unit_test(test_args_refuse_naming_the_flag),
    };
    return cmocka_run_group_tests_name("serve_args", tests, NULL, NULL);
}
