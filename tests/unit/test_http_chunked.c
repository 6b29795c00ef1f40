/* tests/unit/test_http_chunked.c: the chunked decoder (http/chunked.c). Every sample is decoded
 * whole, split into two calls at every byte and fed byte by byte; each way must give the same data,
 * the same consumed count and the same status. Each row of the tables is its own named test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/chunked.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* a string literal and its length, NULs included */
#define LIT(s) s, sizeof(s) - 1

struct valid_case {
    const char *name;
    const char *in;
    size_t in_len;
    const char *data;
    size_t data_len;
    size_t tail; /* bytes after the end of the body, which must not be consumed */
};

struct invalid_case {
    const char *name;
    const char *in;
    size_t in_len;
};

struct outcome {
    enum http_chunked_status status;
    char *data; /* every data byte returned, in order */
    size_t data_len;
    size_t consumed;
};

/* Feeds in[0..len) to one decoder in pieces that end at cuts[0] < cuts[1] < ... = len, each piece
 * in a heap buffer of its exact size so a sanitizer sees any access past it. Stops at DONE or
 * ERROR, as a caller would. */
static void feed(const char *in, size_t len, const size_t *cuts, size_t n_cuts, struct outcome *o)
{
    struct http_chunked c;
    size_t start = 0;

    memset(&c, 0, sizeof(c));
    memset(o, 0, sizeof(*o));
    o->data = malloc(len + 1);
    assert_non_null(o->data);
    o->status = HTTP_CHUNKED_AGAIN;
    for (size_t k = 0; k < n_cuts && o->status == HTTP_CHUNKED_AGAIN; k++) {
        uint32_t piece = (uint32_t)(cuts[k] - start);
        char *buf = malloc(piece ? piece : 1);
        uint32_t n = piece;
        uint32_t used = UINT32_MAX;

        assert_non_null(buf);
        memcpy(buf, in + start, piece);
        o->status = http_chunked_decode(&c, buf, &n, &used);
        assert_true(used <= piece);
        assert_true(n <= used);
        if (o->status == HTTP_CHUNKED_AGAIN)
            assert_int_equal(used, piece); /* AGAIN consumes all input */
        memcpy(o->data + o->data_len, buf, n);
        o->data_len += n;
        o->consumed += used;
        start = cuts[k];
        free(buf);
    }
}

static void feed_whole(const char *in, size_t len, struct outcome *o)
{
    size_t cut = len;

    feed(in, len, &cut, 1, o);
}

static void feed_split(const char *in, size_t len, size_t at, struct outcome *o)
{
    size_t cuts[2] = {at, len};

    feed(in, len, cuts, 2, o);
}

static void feed_bytewise(const char *in, size_t len, struct outcome *o)
{
    size_t *cuts = malloc((len ? len : 1) * sizeof(*cuts));

    assert_non_null(cuts);
    for (size_t k = 0; k < len; k++)
        cuts[k] = k + 1;
    feed(in, len, cuts, len, o);
    free(cuts);
}

static void assert_same(const struct outcome *got, const struct outcome *want)
{
    assert_int_equal(got->status, want->status);
    assert_int_equal(got->consumed, want->consumed);
    assert_int_equal(got->data_len, want->data_len);
    assert_memory_equal(got->data, want->data, want->data_len);
}

/* Decodes in every way and compares each outcome with want. */
static void expect_outcome(const char *in, size_t len, const struct outcome *want)
{
    struct outcome got;

    feed_whole(in, len, &got);
    assert_same(&got, want);
    free(got.data);
    for (size_t at = 0; at <= len; at++) {
        feed_split(in, len, at, &got);
        assert_same(&got, want);
        free(got.data);
    }
    feed_bytewise(in, len, &got);
    assert_same(&got, want);
    free(got.data);
}

static void expect_decodes(const char *in, size_t len, const char *data, size_t data_len,
                           size_t tail)
{
    struct outcome want = {HTTP_CHUNKED_DONE, (char *)data, data_len, len - tail};

    expect_outcome(in, len, &want);
}

/* An invalid body is an error however it is split; the data and counts on error are not part of
 * the contract, so only the status is compared. */
static void expect_rejects(const char *in, size_t len)
{
    struct outcome got;

    feed_whole(in, len, &got);
    assert_int_equal(got.status, HTTP_CHUNKED_ERROR);
    free(got.data);
    for (size_t at = 0; at <= len; at++) {
        feed_split(in, len, at, &got);
        assert_int_equal(got.status, HTTP_CHUNKED_ERROR);
        free(got.data);
    }
    feed_bytewise(in, len, &got);
    assert_int_equal(got.status, HTTP_CHUNKED_ERROR);
    free(got.data);
}

static const struct valid_case valid_cases[] = {
    {"test_chunked_decodes_single_chunk", LIT("5\r\nhello\r\n0\r\n\r\n"), LIT("hello"), 0},
    {"test_chunked_decodes_many_chunks",
     LIT("1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n4\r\nghij\r\n0\r\n\r\n"), LIT("abcdefghij"), 0},
    {"test_chunked_decodes_upper_and_lower_case_hex",
     LIT("A\r\n0123456789\r\na\r\nabcdefghij\r\n1F\r\n0123456789012345678901234567890\r\n"
         "1f\r\nabcdefghijabcdefghijabcdefghija\r\n0\r\n\r\n"),
     LIT("0123456789abcdefghij0123456789012345678901234567890abcdefghijabcdefghijabcdefghija"), 0},
    {"test_chunked_decodes_sizes_with_leading_zeros",
     LIT("0005\r\nhello\r\n000000000000000A\r\n0123456789\r\n0000\r\n\r\n"), LIT("hello0123456789"),
     0},
    {"test_chunked_decodes_extensions_with_token_values",
     LIT("5;name=value;flag\r\nhello\r\n0;last=1\r\n\r\n"), LIT("hello"), 0},
    {"test_chunked_decodes_extensions_with_quoted_values",
     LIT("5;a=\"x y\\\"z\\\\\";b=\"\"\r\nhello\r\n0;c=\"\t\xff\\\xfe\"\r\n\r\n"), LIT("hello"), 0},
    {"test_chunked_decodes_extensions_with_bws_around_semicolon_and_equals",
     LIT("5 \t;\t a \t= \t b\t ;  c ;d= \"e\"\r\nhello\r\n0 ; z\r\n\r\n"), LIT("hello"), 0},
    {"test_chunked_decodes_and_discards_trailer_fields",
     LIT("5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum:\tabc def \r\nEmpty:\r\nObs: "
         "\x80\xff\r\n\r\n"),
     LIT("hello"), 0},
    {"test_chunked_decodes_empty_body", LIT("0\r\n\r\n"), LIT(""), 0},
    {"test_chunked_does_not_consume_bytes_after_the_end",
     LIT("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"), LIT("abc"), 18},
    {"test_chunked_does_not_consume_the_next_chunked_body", LIT("0\r\n\r\n0\r\n\r\n"), LIT(""), 5},
    {"test_chunked_passes_crlf_and_last_chunk_inside_data_through",
     LIT("7\r\n\r\n0\r\n\r\n\r\n0\r\n\r\n"), LIT("\r\n0\r\n\r\n"), 0},
    {"test_chunked_passes_binary_data_through", LIT("4\r\n\0\xff\r\n\r\n0\r\n\r\n"),
     LIT("\0\xff\r\n"), 0},
};

static const struct invalid_case invalid_cases[] = {
    {"test_chunked_rejects_17_hex_digits", LIT("00000000000000005\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_size_overflowing_64_bits", LIT("10000000000000000\r\nx\r\n0\r\n\r\n")},
    {"test_chunked_rejects_non_hex_digit", LIT("g\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_letter_after_hex_digits", LIT("5g\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_empty_size_line", LIT("\r\n5\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_space_before_size", LIT(" 5\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_space_after_size", LIT("5 \r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_negative_size", LIT("-1\r\nh\r\n0\r\n\r\n")},
    {"test_chunked_rejects_plus_sign", LIT("+5\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_0x_prefix", LIT("0x10\r\n0123456789abcdef\r\n0\r\n\r\n")},
    {"test_chunked_rejects_bare_lf_after_size", LIT("5\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_bare_lf_after_data", LIT("5\r\nhello\n0\r\n\r\n")},
    {"test_chunked_rejects_bare_lf_after_last_chunk", LIT("0\n\r\n")},
    {"test_chunked_rejects_bare_lf_after_trailer_field", LIT("0\r\nX: y\n\r\n")},
    {"test_chunked_rejects_bare_lf_ending_trailer_section", LIT("0\r\n\n")},
    {"test_chunked_rejects_bare_cr_after_size", LIT("5\rhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_cr_cr_lf_after_size", LIT("5\r\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_bare_cr_after_last_chunk", LIT("0\rX\r\n")},
    {"test_chunked_rejects_bare_cr_after_data", LIT("1\r\na\rX1\r\nb\r\n0\r\n\r\n")},
    {"test_chunked_rejects_bare_cr_in_trailer_value", LIT("0\r\nX: a\rYY: b\r\n\r\n")},
    {"test_chunked_rejects_bare_cr_ending_trailer_section", LIT("0\r\n\rX")},
    {"test_chunked_rejects_missing_crlf_after_data", LIT("5\r\nhello0\r\n\r\n")},
    {"test_chunked_rejects_data_longer_than_size", LIT("3\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_extra_data_byte_before_lf", LIT("3\r\nabcd\n0\r\n\r\n")},
    {"test_chunked_rejects_empty_extension", LIT("5;\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_empty_extension_name", LIT("5;=a\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_empty_extension_value", LIT("5;a=\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_extension_without_semicolon", LIT("5 a\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_whitespace_ending_extension_name", LIT("5;a \r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_whitespace_ending_extension_value",
     LIT("5;a=b\t\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_control_char_in_extension_name", LIT("5;a\x01"
                                                                "b\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_control_char_in_extension_value",
     LIT("5;a=b\x7f\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_nul_in_extension", LIT("5;a\0\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_control_char_in_quoted_extension",
     LIT("5;a=\"b\x01\"\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_control_char_in_quoted_pair",
     LIT("5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_unterminated_quoted_extension", LIT("5;a=\"b\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_text_after_quoted_extension", LIT("5;a=\"b\"c\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_separator_in_extension_token", LIT("5;a=b/c\r\nhello\r\n0\r\n\r\n")},
    {"test_chunked_rejects_obs_fold_in_trailer", LIT("0\r\nX: a\r\n b\r\n\r\n")},
    {"test_chunked_rejects_obs_fold_with_htab_in_trailer", LIT("0\r\nX: a\r\n\tb: c\r\n\r\n")},
    {"test_chunked_rejects_leading_space_in_trailer", LIT("0\r\n X: a\r\n\r\n")},
    {"test_chunked_rejects_space_before_colon_in_trailer", LIT("0\r\nX : a\r\n\r\n")},
    {"test_chunked_rejects_trailer_without_colon", LIT("0\r\nX\r\n\r\n")},
    {"test_chunked_rejects_trailer_with_empty_name", LIT("0\r\n: a\r\n\r\n")},
    {"test_chunked_rejects_control_char_in_trailer_value", LIT("0\r\nX: a\x01"
                                                               "b\r\n\r\n")},
    {"test_chunked_rejects_del_in_trailer_value", LIT("0\r\nX: a\x7f\r\n\r\n")},
    {"test_chunked_rejects_nul_in_trailer_value", LIT("0\r\nX: a\0b\r\n\r\n")},
};

static void check_valid_case(void **state)
{
    const struct valid_case *v = *state;

    expect_decodes(v->in, v->in_len, v->data, v->data_len, v->tail);
}

static void check_invalid_case(void **state)
{
    const struct invalid_case *v = *state;

    expect_rejects(v->in, v->in_len);
}

/* "1;a=bbb...b\r\nx\r\n0\r\n\r\n" whose size line is line_len bytes, its CRLF included */
static char *size_line_body(size_t line_len, size_t *len)
{
    static const char head[] = "1;a=", rest[] = "\r\nx\r\n0\r\n\r\n";
    size_t fill = line_len - (sizeof(head) - 1) - 2;
    char *s = malloc(line_len + sizeof(rest));

    assert_non_null(s);
    memcpy(s, head, sizeof(head) - 1);
    memset(s + sizeof(head) - 1, 'b', fill);
    memcpy(s + sizeof(head) - 1 + fill, rest, sizeof(rest));
    *len = strlen(s);
    return s;
}

/* "0\r\nX:vvv...v\r\n\r\n" whose trailer section is section_len bytes, the final CRLF included */
static char *trailer_body(size_t section_len, size_t *len)
{
    static const char head[] = "0\r\nX:", rest[] = "\r\n\r\n";
    size_t fill = section_len - 2 - 4;
    char *s = malloc(sizeof(head) + fill + sizeof(rest));

    assert_non_null(s);
    memcpy(s, head, sizeof(head) - 1);
    memset(s + sizeof(head) - 1, 'v', fill);
    memcpy(s + sizeof(head) - 1 + fill, rest, sizeof(rest));
    *len = strlen(s);
    return s;
}

static void test_chunked_accepts_extension_line_of_8_kib(void **state)
{
    size_t len;
    char *in = size_line_body(8192, &len);

    (void)state;
    expect_decodes(in, len, LIT("x"), 0);
    free(in);
}

static void test_chunked_rejects_extension_line_over_8_kib(void **state)
{
    size_t len;
    char *in = size_line_body(8193, &len);

    (void)state;
    expect_rejects(in, len);
    free(in);
}

static void test_chunked_accepts_trailer_section_of_8_kib(void **state)
{
    size_t len;
    char *in = trailer_body(8192, &len);

    (void)state;
    expect_decodes(in, len, LIT(""), 0);
    free(in);
}

static void test_chunked_rejects_trailer_section_over_8_kib(void **state)
{
    size_t len;
    char *in = trailer_body(8193, &len);

    (void)state;
    expect_rejects(in, len);
    free(in);
}

/* The 8 KiB limits are per line: many size lines together may exceed it. */
static void test_chunked_limits_each_size_line_not_the_body(void **state)
{
    enum { N_CHUNKS = 2000 };
    static const char chunk[] = "1;ext=value\r\nx\r\n";
    size_t len = N_CHUNKS * (sizeof(chunk) - 1) + 5;
    char *in = malloc(len + 1);
    char *data = malloc(N_CHUNKS);
    struct outcome got;

    (void)state;
    assert_non_null(in);
    assert_non_null(data);
    for (size_t k = 0; k < N_CHUNKS; k++)
        memcpy(in + k * (sizeof(chunk) - 1), chunk, sizeof(chunk) - 1);
    memcpy(in + len - 5, "0\r\n\r\n", 5);
    memset(data, 'x', N_CHUNKS);
    feed_whole(in, len, &got);
    assert_int_equal(got.status, HTTP_CHUNKED_DONE);
    assert_int_equal(got.consumed, len);
    assert_int_equal(got.data_len, N_CHUNKS);
    assert_memory_equal(got.data, data, N_CHUNKS);
    free(got.data);
    feed_bytewise(in, len, &got);
    assert_int_equal(got.status, HTTP_CHUNKED_DONE);
    assert_int_equal(got.data_len, N_CHUNKS);
    free(got.data);
    free(data);
    free(in);
}

/* A chunk longer than 64 KiB, whole and byte by byte. */
static void test_chunked_decodes_chunk_over_64_kib(void **state)
{
    enum { DATA_LEN = 0x10001 };
    static const char head[] = "10001\r\n", end[] = "\r\n0\r\n\r\n";
    size_t len = sizeof(head) - 1 + DATA_LEN + sizeof(end) - 1;
    char *in = malloc(len);
    struct outcome got;

    (void)state;
    assert_non_null(in);
    memcpy(in, head, sizeof(head) - 1);
    for (size_t k = 0; k < DATA_LEN; k++)
        in[sizeof(head) - 1 + k] = (char)(k * 7);
    memcpy(in + sizeof(head) - 1 + DATA_LEN, end, sizeof(end) - 1);
    feed_whole(in, len, &got);
    assert_int_equal(got.status, HTTP_CHUNKED_DONE);
    assert_int_equal(got.consumed, len);
    assert_int_equal(got.data_len, DATA_LEN);
    assert_memory_equal(got.data, in + sizeof(head) - 1, DATA_LEN);
    free(got.data);
    feed_bytewise(in, len, &got);
    assert_int_equal(got.status, HTTP_CHUNKED_DONE);
    assert_int_equal(got.data_len, DATA_LEN);
    assert_memory_equal(got.data, in + sizeof(head) - 1, DATA_LEN);
    free(got.data);
    free(in);
}

static void test_chunked_moves_partial_data_to_front_and_consumes_all_on_again(void **state)
{
    struct http_chunked c = {0};
    char buf[] = "5\r\nhel";
    uint32_t len = sizeof(buf) - 1;
    uint32_t consumed = 0;

    (void)state;
    assert_int_equal(http_chunked_decode(&c, buf, &len, &consumed), HTTP_CHUNKED_AGAIN);
    assert_int_equal(consumed, 6);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "hel", 3);
}

static void test_chunked_accepts_largest_16_digit_size(void **state)
{
    struct http_chunked c = {0};
    char buf[] = "FFFFFFFFFFFFFFFF\r\nab";
    uint32_t len = sizeof(buf) - 1;
    uint32_t consumed = 0;

    (void)state;
    assert_int_equal(http_chunked_decode(&c, buf, &len, &consumed), HTTP_CHUNKED_AGAIN);
    assert_int_equal(consumed, sizeof(buf) - 1);
    assert_int_equal(len, 2);
    assert_true(c.remaining == UINT64_MAX - 2);
}

static void test_chunked_returns_done_again_after_the_end(void **state)
{
    struct http_chunked c = {0};
    char buf[] = "0\r\n\r\n";
    char more[] = "5\r\nhello\r\n";
    uint32_t len = sizeof(buf) - 1;
    uint32_t consumed = 0;

    (void)state;
    assert_int_equal(http_chunked_decode(&c, buf, &len, &consumed), HTTP_CHUNKED_DONE);
    len = sizeof(more) - 1;
    assert_int_equal(http_chunked_decode(&c, more, &len, &consumed), HTTP_CHUNKED_DONE);
    assert_int_equal(consumed, 0);
    assert_int_equal(len, 0);
}

static void test_chunked_stays_in_error_after_an_error(void **state)
{
    struct http_chunked c = {0};
    char bad[] = "5\n";
    char good[] = "hello\r\n0\r\n\r\n";
    uint32_t len = sizeof(bad) - 1;
    uint32_t consumed = 0;

    (void)state;
    assert_int_equal(http_chunked_decode(&c, bad, &len, &consumed), HTTP_CHUNKED_ERROR);
    len = sizeof(good) - 1;
    assert_int_equal(http_chunked_decode(&c, good, &len, &consumed), HTTP_CHUNKED_ERROR);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_chunked_accepts_extension_line_of_8_kib),
        cmocka_unit_test(test_chunked_rejects_extension_line_over_8_kib),
        cmocka_unit_test(test_chunked_accepts_trailer_section_of_8_kib),
        cmocka_unit_test(test_chunked_rejects_trailer_section_over_8_kib),
        cmocka_unit_test(test_chunked_limits_each_size_line_not_the_body),
        cmocka_unit_test(test_chunked_decodes_chunk_over_64_kib),
        cmocka_unit_test(test_chunked_moves_partial_data_to_front_and_consumes_all_on_again),
        cmocka_unit_test(test_chunked_accepts_largest_16_digit_size),
        cmocka_unit_test(test_chunked_returns_done_again_after_the_end),
        cmocka_unit_test(test_chunked_stays_in_error_after_an_error),
    };
    static struct CMUnitTest
        tests[ARRAY_LEN(valid_cases) + ARRAY_LEN(invalid_cases) + ARRAY_LEN(fixed)];
    size_t n = 0;

    /* one named test per table row, so a failure names its sample */
    for (size_t k = 0; k < ARRAY_LEN(valid_cases); k++) {
        struct CMUnitTest t = {valid_cases[k].name, check_valid_case, NULL, NULL,
                               (void *)&valid_cases[k]};
        tests[n++] = t;
    }
    for (size_t k = 0; k < ARRAY_LEN(invalid_cases); k++) {
        struct CMUnitTest t = {invalid_cases[k].name, check_invalid_case, NULL, NULL,
                               (void *)&invalid_cases[k]};
        tests[n++] = t;
    }
    for (size_t k = 0; k < ARRAY_LEN(fixed); k++)
        tests[n++] = fixed[k];
    return cmocka_run_group_tests_name("http_chunked", tests, NULL, NULL);
}
