/* tests/unit/test_obs_prom.c: the Prometheus text writer (obs/prom.c): families, label escaping
 * (backslash, double quote, line feed and nothing else) and numbers as the format spells them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <math.h>

#include "obs/prom.h"

static void assert_text(struct obs_prom *t, const char *want)
{
    assert_int_equal(t->err, 0);
    assert_int_equal(t->buf.len, strlen(want));
    assert_memory_equal(t->buf.ptr, want, strlen(want));
    mem_buf_fini(&t->buf, t->tag);
}

static void test_prom_single_series_has_help_type_and_value(void **state)
{
    struct obs_prom t = {.tag = MEM_METRICS};
    (void)state;
    obs_prom_single_u64(&t, "x_total", "counter", "Things.", 42);
    assert_text(&t, "# HELP x_total Things.\n# TYPE x_total counter\nx_total 42\n");
}

static void test_prom_label_values_escape_backslash_quote_and_newline_only(void **state)
{
    struct obs_prom t = {.tag = MEM_METRICS};
    (void)state;
    obs_prom_str(&t, "m");
    obs_prom_label(&t, '{', "path", "/a\\b\"c\nd\te");
    obs_prom_label(&t, ',', "m", "");
    obs_prom_str(&t, "} 1\n");
    assert_text(&t, "m{path=\"/a\\\\b\\\"c\\nd\te\",m=\"\"} 1\n");
}

static void test_prom_doubles_are_shortest_and_non_finite_spelt_as_go(void **state)
{
    struct obs_prom t = {.tag = MEM_METRICS};
    (void)state;
    obs_prom_double(&t, 0.1);
    obs_prom_put(&t, " ", 1);
    obs_prom_double(&t, NAN);
    obs_prom_put(&t, " ", 1);
    obs_prom_double(&t, INFINITY);
    obs_prom_put(&t, " ", 1);
    obs_prom_double(&t, -INFINITY);
    obs_prom_put(&t, " ", 1);
    obs_prom_i64(&t, INT64_MIN);
    assert_text(&t, "0.1 NaN +Inf -Inf -9223372036854775808");
}

static void test_prom_error_is_sticky(void **state)
{
    struct obs_prom t = {.tag = MEM_METRICS, .err = -12};
    (void)state;
    obs_prom_single_double(&t, "x", "gauge", "X.", 1.5);
    assert_int_equal(t.err, -12);
    assert_int_equal(t.buf.len, 0);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prom_single_series_has_help_type_and_value),
        cmocka_unit_test(test_prom_label_values_escape_backslash_quote_and_newline_only),
        cmocka_unit_test(test_prom_doubles_are_shortest_and_non_finite_spelt_as_go),
        cmocka_unit_test(test_prom_error_is_sticky),
    };
    return cmocka_run_group_tests_name("obs_prom", tests, NULL, NULL);
}
