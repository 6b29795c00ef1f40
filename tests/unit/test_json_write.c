/* Unit tests for app/json_write.c: grammar (commas, nesting, misuse), string escaping and UTF-8
 * repair, integers, shortest round-trip doubles, sticky errors. Every text a writer produces is
 * also checked by json_valid(), an RFC 8259 recognizer written here independently of the writer
 * (it decodes UTF-8 to code points instead of using the writer's byte ranges). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crest.h"
#include "json/json.h"

/* ------------------------------------------------------------------------------------------------
 * An independent JSON recognizer (RFC 8259, plus well-formed UTF-8 per RFC 3629). */

struct jp {
    const unsigned char *s;
    size_t n;
    size_t i;
};

static bool jp_value(struct jp *p, int depth);

static void jp_ws(struct jp *p)
{
    while (p->i < p->n && strchr(" \t\n\r", p->s[p->i]) && p->s[p->i])
        p->i++;
}

static bool jp_peek(const struct jp *p, char c)
{
    return p->i < p->n && p->s[p->i] == (unsigned char)c;
}

static bool jp_digits(struct jp *p)
{
    size_t start = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
        p->i++;
    return p->i > start;
}

static bool jp_number(struct jp *p)
{
    if (jp_peek(p, '-'))
        p->i++;
    if (jp_peek(p, '0'))
        p->i++;
    else if (p->i >= p->n || p->s[p->i] < '1' || p->s[p->i] > '9' || !jp_digits(p))
        return false;
    if (jp_peek(p, '.')) {
        p->i++;
        if (!jp_digits(p))
            return false;
    }
    if (jp_peek(p, 'e') || jp_peek(p, 'E')) {
        p->i++;
        if (jp_peek(p, '+') || jp_peek(p, '-'))
            p->i++;
        if (!jp_digits(p))
            return false;
    }
    return true;
}

/* Decodes one UTF-8 sequence to a code point and rejects what RFC 3629 forbids. */
static bool jp_utf8(struct jp *p)
{
    unsigned char c = p->s[p->i];
    int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    uint32_t cp = c & (0x7f >> len);

    if (len == 0 || c >= 0xf8 || p->i + (size_t)len > p->n)
        return false;
    for (int k = 1; k < len; k++) {
        unsigned char cc = p->s[p->i + (size_t)k];
        if ((cc & 0xc0) != 0x80)
            return false;
        cp = cp << 6 | (cc & 0x3f);
    }
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return false;
    p->i += (size_t)len;
    return true;
}

static bool jp_string(struct jp *p)
{
    p->i++; /* opening quote */
    while (p->i < p->n) {
        unsigned char c = p->s[p->i];
        if (c == '"') {
            p->i++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c >= 0x80) {
            if (!jp_utf8(p))
                return false;
            continue;
        }
        p->i++;
        if (c != '\\')
            continue;
        if (p->i >= p->n)
            return false;
        c = p->s[p->i++];
        if (c == 'u') {
            for (int k = 0; k < 4; k++, p->i++) {
                if (p->i >= p->n || !strchr("0123456789abcdefABCDEF", p->s[p->i]) || !p->s[p->i])
                    return false;
            }
        } else if (!c || !strchr("\"\\/bfnrt", c)) {
            return false;
        }
    }
    return false;
}

static bool jp_literal(struct jp *p, const char *word)
{
    size_t len = strlen(word);
    if (p->n - p->i < len || memcmp(p->s + p->i, word, len) != 0)
        return false;
    p->i += len;
    return true;
}

/* Members of an object (object == true) or elements of an array, after the opening bracket. */
static bool jp_members(struct jp *p, bool object, int depth)
{
    char close = object ? '}' : ']';

    jp_ws(p);
    if (jp_peek(p, close)) {
        p->i++;
        return true;
    }
    for (;;) {
        jp_ws(p);
        if (object) {
            if (!jp_peek(p, '"') || !jp_string(p))
                return false;
            jp_ws(p);
            if (!jp_peek(p, ':'))
                return false;
            p->i++;
        }
        if (!jp_value(p, depth + 1))
            return false;
        jp_ws(p);
        if (jp_peek(p, close)) {
            p->i++;
            return true;
        }
        if (!jp_peek(p, ','))
            return false;
        p->i++;
    }
}

static bool jp_value(struct jp *p, int depth)
{
    jp_ws(p);
    if (p->i >= p->n || depth > JSON_WRITE_MAX_DEPTH + 1)
        return false;
    switch (p->s[p->i]) {
    case '{':
        p->i++;
        return jp_members(p, true, depth);
    case '[':
        p->i++;
        return jp_members(p, false, depth);
    case '"':
        return jp_string(p);
    case 't':
        return jp_literal(p, "true");
    case 'f':
        return jp_literal(p, "false");
    case 'n':
        return jp_literal(p, "null");
    default:
        return jp_number(p);
    }
}

static bool json_valid(const char *s, size_t n)
{
    struct jp p = {(const unsigned char *)s, n, 0};
    if (!jp_value(&p, 0))
        return false;
    jp_ws(&p);
    return p.i == n;
}

/* ------------------------------------------------------------------------------------------------
 * Helpers */

static struct crest_json *new_writer(void)
{
    struct crest_json *j = crest_json_new();
    assert_non_null(j);
    return j;
}

/* The writer succeeded, wrote exactly want, and want is one valid JSON text. */
static void check_json(struct crest_json *j, const char *want)
{
    struct crest_str t = crest_json_text(j);

    assert_int_equal(crest_json_error(j), 0);
    if (t.len != strlen(want) || memcmp(t.ptr, want, t.len) != 0)
        fail_msg("got '%.*s', want '%s'", (int)t.len, t.ptr, want);
    assert_true(json_valid(t.ptr, t.len));
}

/* Writes s (n bytes) as the only value of a fresh writer and expects want. */
static void check_string(const char *s, size_t n, const char *want)
{
    struct crest_json *j = new_writer();
    crest_json_string_len(j, s, n);
    check_json(j, want);
    crest_json_free(j);
}

#define CHECK_STRING(lit, want) check_string(lit, sizeof(lit) - 1, want)

static void check_double(double v, const char *want)
{
    struct crest_json *j = new_writer();
    crest_json_double(j, v);
    check_json(j, want);
    crest_json_free(j);
}

static void check_misuse(struct crest_json *j, const char *want_text)
{
    struct crest_str t = crest_json_text(j);

    assert_int_equal(crest_json_error(j), -EINVAL);
    assert_int_equal(t.len, strlen(want_text));
    assert_memory_equal(t.ptr, want_text, t.len);
    /* sticky: nothing more is written, and the error stays the first one */
    crest_json_int(j, 1);
    crest_json_array_begin(j);
    crest_json_object_end(j);
    assert_int_equal(crest_json_error(j), -EINVAL);
    assert_int_equal(crest_json_text(j).len, strlen(want_text));
    crest_json_free(j);
}

/* The checker must itself reject bad text, or the validity checks below would prove nothing. */
static void test_json_checker_rejects_invalid_text(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "[1,]",
        "{\"a\"}",
        "{\"a\":1,}",
        "[1 2]",
        "01",
        "1.",
        ".5",
        "1e",
        "-",
        "inf",
        "nan",
        "tru",
        "\"a",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\x01\"",
        "\"\xc0\x80\"",
        "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "\"\xe2\x82\"",
        "1 2",
        "[]]",
        "{1:2}",
    };
    static const char *const good[] = {
        "0", "-0.0", "1e+300", "1E-05", "[1,{\"a\":[]}]", " {\"\\u00e9\":\"\xc3\xa9\\n\"} ",
    };

    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        if (json_valid(bad[k], strlen(bad[k])))
            fail_msg("accepted '%s'", bad[k]);
    }
    for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
        if (!json_valid(good[k], strlen(good[k])))
            fail_msg("rejected '%s'", good[k]);
    }
}

/* ------------------------------------------------------------------------------------------------
 * Grammar */

static void test_json_nested_containers_get_commas_and_colons(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_object_begin(j);
    crest_json_key(j, "a");
    crest_json_array_begin(j);
    crest_json_int(j, 1);
    crest_json_int(j, 2);
    crest_json_object_begin(j);
    crest_json_key(j, "b");
    crest_json_null(j);
    crest_json_object_end(j);
    crest_json_array_begin(j);
    crest_json_array_end(j);
    crest_json_array_end(j);
    crest_json_key(j, "c");
    crest_json_object_begin(j);
    crest_json_object_end(j);
    crest_json_key(j, "d");
    crest_json_object_begin(j);
    crest_json_key_len(j, "eXX", 1);
    crest_json_array_begin(j);
    crest_json_bool(j, true);
    crest_json_bool(j, false);
    crest_json_array_end(j);
    crest_json_object_end(j);
    crest_json_key(j, "f");
    crest_json_string(j, "x");
    crest_json_object_end(j);
    check_json(j, "{\"a\":[1,2,{\"b\":null},[]],\"c\":{},\"d\":{\"e\":[true,false]},\"f\":\"x\"}");
    crest_json_free(j);
}

static void test_json_arrays_of_containers_get_commas(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_array_begin(j);
    crest_json_array_begin(j);
    crest_json_array_end(j);
    crest_json_array_begin(j);
    crest_json_array_begin(j);
    crest_json_array_end(j);
    crest_json_array_end(j);
    crest_json_object_begin(j);
    crest_json_object_end(j);
    crest_json_string_len(j, "", 0);
    crest_json_array_end(j);
    check_json(j, "[[],[[]],{},\"\"]");
    crest_json_free(j);
}

static void test_json_top_level_scalar_is_a_text(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_int(j, 42);
    check_json(j, "42");
    crest_json_free(j);
}

static void test_json_empty_writer_has_empty_text(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();
    struct crest_str t = crest_json_text(j);

    assert_non_null(t.ptr);
    assert_int_equal(t.len, 0);
    assert_int_equal(crest_json_error(j), 0);
    crest_json_free(j);
}

static void test_json_max_depth_is_allowed(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();
    char want[2 * JSON_WRITE_MAX_DEPTH + 1];

    for (int i = 0; i < JSON_WRITE_MAX_DEPTH; i++) {
        crest_json_array_begin(j);
        want[i] = '[';
        want[2 * JSON_WRITE_MAX_DEPTH - 1 - i] = ']';
    }
    for (int i = 0; i < JSON_WRITE_MAX_DEPTH; i++)
        crest_json_array_end(j);
    want[2 * JSON_WRITE_MAX_DEPTH] = '\0';
    check_json(j, want);
    crest_json_free(j);
}

static void test_json_deeper_than_max_is_einval(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    for (int i = 0; i < JSON_WRITE_MAX_DEPTH - 1; i++) {
        crest_json_object_begin(j);
        crest_json_key(j, "");
    }
    crest_json_array_begin(j);
    crest_json_int(j, 1);
    assert_int_equal(crest_json_error(j), 0);
    size_t len = crest_json_text(j).len;
    crest_json_array_begin(j);
    assert_int_equal(crest_json_error(j), -EINVAL);
    crest_json_array_end(j);
    crest_json_object_end(j);
    /* nothing was added, not even the comma the refused array would have needed */
    assert_int_equal(crest_json_text(j).len, len);
    assert_int_equal(crest_json_text(j).ptr[len - 1], '1');
    crest_json_free(j);
}

static void test_json_value_in_object_without_key_is_einval(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_object_begin(j);
    crest_json_int(j, 1);
    check_misuse(j, "{");
}

static void test_json_second_value_in_object_without_key_is_einval(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_object_begin(j);
    crest_json_key(j, "a");
    crest_json_int(j, 1);
    crest_json_string(j, "b");
    check_misuse(j, "{\"a\":1");
}

static void test_json_key_at_top_level_is_einval(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_key(j, "a");
    check_misuse(j, "");
}

static void test_json_key_in_array_is_einval(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_array_begin(j);
    crest_json_key(j, "a");
    check_misuse(j, "[");
}

static void test_json_key_after_key_is_einval(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_object_begin(j);
    crest_json_key(j, "a");
    crest_json_key(j, "b");
    check_misuse(j, "{\"a\":");
}

static void test_json_null_key_is_einval(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_object_begin(j);
    crest_json_key(j, NULL);
    check_misuse(j, "{");
}

static void test_json_end_without_begin_is_einval(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_object_end(j);
    check_misuse(j, "");
    j = new_writer();
    crest_json_array_end(j);
    check_misuse(j, "");
    j = new_writer();
    crest_json_array_begin(j);
    crest_json_array_end(j);
    crest_json_array_end(j);
    check_misuse(j, "[]");
}

static void test_json_mismatched_end_is_einval(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_array_begin(j);
    crest_json_object_end(j);
    check_misuse(j, "[");
    j = new_writer();
    crest_json_object_begin(j);
    crest_json_array_end(j);
    check_misuse(j, "{");
}

static void test_json_object_end_after_dangling_key_is_einval(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_object_begin(j);
    crest_json_key(j, "a");
    crest_json_object_end(j);
    check_misuse(j, "{\"a\":");
}

static void test_json_second_top_level_value_is_einval(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_object_begin(j);
    crest_json_object_end(j);
    crest_json_object_begin(j);
    check_misuse(j, "{}");
    j = new_writer();
    crest_json_null(j);
    crest_json_null(j);
    check_misuse(j, "null");
}

/* ------------------------------------------------------------------------------------------------
 * Strings */

static void test_json_string_escapes_quote_backslash_and_short_forms(void **state)
{
    (void)state;
    CHECK_STRING("\"\\\b\f\n\r\t", "\"\\\"\\\\\\b\\f\\n\\r\\t\"");
    /* '/' and DEL need no escape (RFC 8259 section 7) */
    CHECK_STRING("a/b\x7f", "\"a/b\x7f\"");
    CHECK_STRING("a\0b", "\"a\\u0000b\"");
}

static void test_json_string_escapes_every_control_char(void **state)
{
    (void)state;
    static const char *const short_forms[32] = {
        ['\b'] = "\\b", ['\f'] = "\\f", ['\n'] = "\\n", ['\r'] = "\\r", ['\t'] = "\\t",
    };

    for (int c = 0; c < 0x20; c++) {
        char in = (char)c;
        char want[16];
        if (short_forms[c])
            snprintf(want, sizeof(want), "\"%s\"", short_forms[c]);
        else
            snprintf(want, sizeof(want), "\"\\u%04x\"", (unsigned)c);
        check_string(&in, 1, want);
    }
}

static void test_json_keys_are_escaped_like_strings(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_object_begin(j);
    crest_json_key(j, "a\"b\n\xc0");
    crest_json_int(j, 1);
    crest_json_object_end(j);
    check_json(j, "{\"a\\\"b\\n\xef\xbf\xbd\":1}");
    crest_json_free(j);
}

static void test_json_null_string_is_null(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_array_begin(j);
    crest_json_string(j, NULL);
    crest_json_string_len(j, NULL, 3);
    crest_json_array_end(j);
    check_json(j, "[null,null]");
    crest_json_free(j);
}

static void test_json_valid_multibyte_utf8_passes_through(void **state)
{
    (void)state;
    CHECK_STRING("\xc3\xa9", "\"\xc3\xa9\"");                 /* é */
    CHECK_STRING("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""); /* 😀 */
    CHECK_STRING("h\xc3\xa9llo \xf0\x9f\x98\x80 w\xc3\xb6rld\n",
                 "\"h\xc3\xa9llo \xf0\x9f\x98\x80 w\xc3\xb6rld\\n\"");
    /* the edges of every range of Unicode table 3-7 */
    CHECK_STRING("\xc2\x80", "\"\xc2\x80\"");                 /* U+0080 */
    CHECK_STRING("\xdf\xbf", "\"\xdf\xbf\"");                 /* U+07FF */
    CHECK_STRING("\xe0\xa0\x80", "\"\xe0\xa0\x80\"");         /* U+0800 */
    CHECK_STRING("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");         /* U+D7FF */
    CHECK_STRING("\xee\x80\x80", "\"\xee\x80\x80\"");         /* U+E000 */
    CHECK_STRING("\xef\xbf\xbf", "\"\xef\xbf\xbf\"");         /* U+FFFF */
    CHECK_STRING("\xf0\x90\x80\x80", "\"\xf0\x90\x80\x80\""); /* U+10000 */
    CHECK_STRING("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
}

#define R "\xef\xbf\xbd" /* U+FFFD as UTF-8 */

static void test_json_overlong_is_replaced_per_byte(void **state)
{
    (void)state;
    CHECK_STRING("\xc0\x80", "\"" R R "\"");
    CHECK_STRING("\xc1\xbf", "\"" R R "\"");
    CHECK_STRING("\xe0\x80\x80", "\"" R R R "\"");
    CHECK_STRING("\xf0\x80\x80\x80", "\"" R R R R "\"");
}

static void test_json_lone_continuation_byte_is_replaced(void **state)
{
    (void)state;
    CHECK_STRING("\x80", "\"" R "\"");
    CHECK_STRING("a\xbf"
                 "b",
                 "\"a" R "b\"");
}

static void test_json_truncated_sequence_is_one_replacement(void **state)
{
    (void)state;
    CHECK_STRING("ab\xe2\x82", "\"ab" R "\"");
    CHECK_STRING("\xc2", "\"" R "\"");
    CHECK_STRING("\xf0\x9f\x98", "\"" R "\"");
    CHECK_STRING("\xe2\x82"
                 "A",
                 "\"" R "A\"");
    CHECK_STRING("\xf0\x9f\x98\"", "\"" R "\\\"\"");
}

static void test_json_utf8_surrogate_is_replaced_per_byte(void **state)
{
    (void)state;
    CHECK_STRING("\xed\xa0\x80", "\"" R R R "\"");
    CHECK_STRING("\xed\xbf\xbf", "\"" R R R "\"");
}

static void test_json_code_point_above_max_is_replaced_per_byte(void **state)
{
    (void)state;
    CHECK_STRING("\xf4\x90\x80\x80", "\"" R R R R "\"");
    CHECK_STRING("\xf5\x80\x80\x80", "\"" R R R R "\"");
    CHECK_STRING("\xfe\xff", "\"" R R "\"");
}

/* The example of Unicode section 3.9 (table 3-8), byte for byte. */
static void test_json_maximal_subparts_match_unicode_example(void **state)
{
    (void)state;
    CHECK_STRING("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64",
                 "\"a" R R R "b" R "c" R R "d\"");
}

#undef R

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* xorshift64*: fixed seed, so a failure reproduces. */
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static void test_json_random_bytes_always_give_valid_json(void **state)
{
    (void)state;
    /* biased toward the bytes that matter: ASCII, controls, leads and continuations */
    static const unsigned char pool[] = {'a',  '"',  '\\', 0x00, 0x1f, 0x7f, 0x80, 0x8f,
                                         0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0,
                                         0xe1, 0xed, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff};
    char in[24];

    for (int round = 0; round < 20000; round++) {
        size_t n = rng() % sizeof(in);
        for (size_t k = 0; k < n; k++)
            in[k] = (char)(round & 1 ? pool[rng() % sizeof(pool)] : rng());
        struct crest_json *j = new_writer();
        crest_json_object_begin(j);
        crest_json_key_len(j, in, n);
        crest_json_string_len(j, in, n);
        crest_json_object_end(j);
        struct crest_str t = crest_json_text(j);
        assert_int_equal(crest_json_error(j), 0);
        if (!json_valid(t.ptr, t.len))
            fail_msg("invalid JSON for input of %zu bytes: %.*s", n, (int)t.len, t.ptr);
        crest_json_free(j);
    }
}

static void test_json_long_ascii_string_is_copied_whole(void **state)
{
    (void)state;
    size_t n = 100000;
    char *s = malloc(n);
    assert_non_null(s);
    for (size_t k = 0; k < n; k++)
        s[k] = (char)('a' + k % 26);
    struct crest_json *j = new_writer();

    crest_json_string_len(j, s, n);
    struct crest_str t = crest_json_text(j);
    assert_int_equal(crest_json_error(j), 0);
    assert_int_equal(t.len, n + 2);
    assert_memory_equal(t.ptr + 1, s, n);
    crest_json_free(j);
    free(s);
}

/* ------------------------------------------------------------------------------------------------
 * Integers */

static void test_json_int_extremes(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_array_begin(j);
    crest_json_int(j, 0);
    crest_json_int(j, -1);
    crest_json_int(j, 42);
    crest_json_int(j, INT64_MAX);
    crest_json_int(j, INT64_MIN);
    crest_json_array_end(j);
    check_json(j, "[0,-1,42,9223372036854775807,-9223372036854775808]");
    crest_json_free(j);
}

static void test_json_int_matches_printf(void **state)
{
    (void)state;
    for (int k = 0; k < 10000; k++) {
        int64_t v = (int64_t)(rng() >> (rng() % 64));
        if (k & 1)
            v = -v;
        char want[32];
        snprintf(want, sizeof(want), "%" PRId64, v);
        struct crest_json *j = new_writer();
        crest_json_int(j, v);
        check_json(j, want);
        crest_json_free(j);
    }
}

/* ------------------------------------------------------------------------------------------------
 * Doubles */

static void test_json_double_known_values(void **state)
{
    (void)state;
    check_double(0.1, "0.1");
    check_double(1.0, "1.0");
    check_double(0.0, "0.0");
    check_double(-0.0, "-0.0");
    check_double(-2.5, "-2.5");
    check_double(100.0, "100.0");
    check_double(123.456, "123.456");
    check_double(1e300, "1e+300");
    check_double(-1e-300, "-1e-300");
    check_double(5e-324, "5e-324");
    check_double(0.30000000000000004, "0.30000000000000004");
    check_double(123456789012345680.0, "1.2345678901234568e+17");
    check_double(9007199254740992.0, "9007199254740992.0");
    check_double(1e16, "1e+16");
    check_double(1e15, "1000000000000000.0");
    check_double(1e-4, "0.0001");
    check_double(1e-5, "1e-05");
    check_double(1.5e-7, "1.5e-07");
    check_double(1.7976931348623157e308, "1.7976931348623157e+308");
    check_double(2.2250738585072014e-308, "2.2250738585072014e-308");
}

static void test_json_double_non_finite_is_null(void **state)
{
    (void)state;
    struct crest_json *j = new_writer();

    crest_json_array_begin(j);
    crest_json_double(j, NAN);
    crest_json_double(j, -NAN);
    crest_json_double(j, INFINITY);
    crest_json_double(j, -INFINITY);
    crest_json_array_end(j);
    check_json(j, "[null,null,null,null]");
    crest_json_free(j);
}

/* The significant digits of a decimal text, without sign, point, exponent, leading or trailing
 * zeros ("0" for zero), so two texts of the same decimal compare equal. */
static void significant_digits(const char *text, char *out)
{
    size_t n = 0;

    for (const char *c = text; *c && *c != 'e' && *c != 'E'; c++) {
        if (*c >= '0' && *c <= '9' && (n > 0 || *c != '0'))
            out[n++] = *c;
    }
    while (n > 0 && out[n - 1] == '0')
        n--;
    if (n == 0)
        out[n++] = '0';
    out[n] = '\0';
}

/* The approach the writer must match: the first precision 1..17 whose %g text reads back. */
static void reference_digits(double v, char *out)
{
    char text[40];

    for (int prec = 1; prec <= 17; prec++) {
        snprintf(text, sizeof(text), "%.*g", prec, v);
        double r = strtod(text, NULL);
        if (memcmp(&r, &v, sizeof(v)) == 0)
            break;
    }
    significant_digits(text, out);
}

static void check_round_trip(double v)
{
    char text[32];
    char got[40];
    char want[40];
    int len = json_write_format_double(v, text);

    assert_int_equal(len, (int)strlen(text));
    assert_true(json_valid(text, (size_t)len));
    double r = strtod(text, NULL);
    if (memcmp(&r, &v, sizeof(v)) != 0)
        fail_msg("%s reads back as %.17g, not %.17g", text, r, v);
    significant_digits(text, got);
    assert_true(strlen(got) <= 17);
    reference_digits(v, want);
    if (strcmp(got, want) != 0)
        fail_msg("%.17g: wrote %s, shortest digits are %s", v, text, want);
}

static double from_bits(uint64_t bits)
{
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

/* The bits of twice the positive power of two whose bits are given. */
static uint64_t next_power(uint64_t bits)
{
    return bits < UINT64_C(1) << 52 ? bits << 1 : bits + (UINT64_C(1) << 52);
}

static void test_json_double_random_bits_round_trip_shortest(void **state)
{
    (void)state;
    for (int k = 0; k < 100000; k++) {
        double v = from_bits(rng());
        if (isfinite(v))
            check_round_trip(v);
    }
}

/* Short decimals are where a writer that is not shortest shows it (0.1 as 0.10000000000000001). */
static void test_json_double_random_short_decimals_round_trip_shortest(void **state)
{
    (void)state;
    static const double scale[] = {1, 10, 100, 1e3, 1e6, 1e-3, 1e-10, 1e20, 1e-300, 1e300};

    for (int k = 0; k < 100000; k++) {
        double v = (double)(int64_t)(rng() % 2000001 - 1000000) / scale[rng() % 10];
        check_round_trip(v);
        check_round_trip((double)(int64_t)rng());
    }
    /* powers of two and their predecessors: every binade edge, subnormals included (built from
     * bits, as CMake links no libm) */
    for (uint64_t bits = 1; bits < UINT64_C(0x7ff) << 52; bits = next_power(bits)) {
        check_round_trip(from_bits(bits));
        check_round_trip(from_bits(bits - 1));
    }
}

/* ------------------------------------------------------------------------------------------------
 * Binding, memory and errors */

static void test_json_bind_appends_to_existing_buffer(void **state)
{
    (void)state;
    struct mem_buf b = {0};
    struct crest_json j;

    assert_int_equal(mem_buf_append(&b, MEM_TEST, "x=", 2), 0);
    json_write_bind(&j, &b, MEM_TEST);
    crest_json_object_begin(&j);
    crest_json_key(&j, "a");
    crest_json_double(&j, 1.5);
    crest_json_object_end(&j);
    assert_int_equal(crest_json_error(&j), 0);
    assert_int_equal(b.len, 11);
    assert_memory_equal(b.ptr, "x={\"a\":1.5}", 11);
    mem_buf_fini(&b, MEM_TEST);
}

static void test_json_free_returns_all_json_memory(void **state)
{
    (void)state;
    struct mem_tag_stats before, during, after;

    mem_stats(MEM_JSON, &before);
    struct crest_json *j = new_writer();
    crest_json_array_begin(j);
    for (int k = 0; k < 1000; k++)
        crest_json_string(j, "some text to make the buffer grow");
    crest_json_array_end(j);
    assert_int_equal(crest_json_error(j), 0);
    mem_stats(MEM_JSON, &during);
    assert_true(during.live_bytes > before.live_bytes);
    crest_json_free(j);
    crest_json_free(NULL);
    mem_stats(MEM_JSON, &after);
    assert_int_equal(after.live_bytes, before.live_bytes);
    assert_int_equal(after.live_blocks, before.live_blocks);
}

/* A buffer already at the 4 GiB limit refuses to grow without allocating: out of memory on every
 * write, with no allocator hook needed. */
static void test_json_out_of_memory_is_sticky(void **state)
{
    (void)state;
    char storage[1];
    struct mem_buf b = {storage, UINT32_MAX, UINT32_MAX};
    struct crest_json j;

    json_write_bind(&j, &b, MEM_TEST);
    crest_json_array_begin(&j);
    assert_int_equal(crest_json_error(&j), -ENOMEM);
    /* later writes do nothing, and misuse does not replace the first error */
    crest_json_int(&j, 1);
    crest_json_key(&j, "a");
    crest_json_object_end(&j);
    crest_json_string(&j, "abc");
    crest_json_double(&j, 0.5);
    assert_int_equal(crest_json_error(&j), -ENOMEM);
    assert_int_equal(b.len, UINT32_MAX);
    assert_ptr_equal(crest_json_text(&j).ptr, storage);
}

static void test_json_null_writer_reads_as_out_of_memory(void **state)
{
    (void)state;
    /* what a failed crest_json_new() hands back: writes must not crash */
    crest_json_object_begin(NULL);
    crest_json_key(NULL, "a");
    crest_json_string(NULL, "b");
    crest_json_int(NULL, 1);
    crest_json_double(NULL, 1.0);
    crest_json_object_end(NULL);
    assert_int_equal(crest_json_error(NULL), -ENOMEM);
    assert_int_equal(crest_json_text(NULL).len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_checker_rejects_invalid_text),
        cmocka_unit_test(test_json_nested_containers_get_commas_and_colons),
        cmocka_unit_test(test_json_arrays_of_containers_get_commas),
        cmocka_unit_test(test_json_top_level_scalar_is_a_text),
        cmocka_unit_test(test_json_empty_writer_has_empty_text),
        cmocka_unit_test(test_json_max_depth_is_allowed),
        cmocka_unit_test(test_json_deeper_than_max_is_einval),
        cmocka_unit_test(test_json_value_in_object_without_key_is_einval),
        cmocka_unit_test(test_json_second_value_in_object_without_key_is_einval),
        cmocka_unit_test(test_json_key_at_top_level_is_einval),
        cmocka_unit_test(test_json_key_in_array_is_einval),
        cmocka_unit_test(test_json_key_after_key_is_einval),
        cmocka_unit_test(test_json_null_key_is_einval),
        cmocka_unit_test(test_json_end_without_begin_is_einval),
        cmocka_unit_test(test_json_mismatched_end_is_einval),
        cmocka_unit_test(test_json_object_end_after_dangling_key_is_einval),
        cmocka_unit_test(test_json_second_top_level_value_is_einval),
        cmocka_unit_test(test_json_string_escapes_quote_backslash_and_short_forms),
        cmocka_unit_test(test_json_string_escapes_every_control_char),
        cmocka_unit_test(test_json_keys_are_escaped_like_strings),
        cmocka_unit_test(test_json_null_string_is_null),
        cmocka_unit_test(test_json_valid_multibyte_utf8_passes_through),
        cmocka_unit_test(test_json_overlong_is_replaced_per_byte),
        cmocka_unit_test(test_json_lone_continuation_byte_is_replaced),
        cmocka_unit_test(test_json_truncated_sequence_is_one_replacement),
        cmocka_unit_test(test_json_utf8_surrogate_is_replaced_per_byte),
        cmocka_unit_test(test_json_code_point_above_max_is_replaced_per_byte),
        cmocka_unit_test(test_json_maximal_subparts_match_unicode_example),
        cmocka_unit_test(test_json_random_bytes_always_give_valid_json),
        cmocka_unit_test(test_json_long_ascii_string_is_copied_whole),
        cmocka_unit_test(test_json_int_extremes),
        cmocka_unit_test(test_json_int_matches_printf),
        cmocka_unit_test(test_json_double_known_values),
        cmocka_unit_test(test_json_double_non_finite_is_null),
        cmocka_unit_test(test_json_double_random_bits_round_trip_shortest),
        cmocka_unit_test(test_json_double_random_short_decimals_round_trip_shortest),
        cmocka_unit_test(test_json_bind_appends_to_existing_buffer),
        cmocka_unit_test(test_json_free_returns_all_json_memory),
        cmocka_unit_test(test_json_out_of_memory_is_sticky),
        cmocka_unit_test(test_json_null_writer_reads_as_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
