/* tests/unit/test_http_parse.c: the request-head parser (http/parse.c). Every valid sample is
 * parsed whole, split into two calls at every byte and fed byte by byte, each call in a fresh heap
 * buffer of the exact size (so the parser may keep offsets only, and a sanitizer sees any read
 * past the bytes given); all three ways must give identical results. Every rejection is checked
 * the same three ways for its exact status. Each row of the tables is its own named test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crest.h"
#include "http/parse.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* a string literal and its length, NULs included */
#define LIT(s) s, sizeof(s) - 1

enum { MAX_HEADERS = 100, MAX_HEAD_BYTES = 16384, MAX_EXPECTED_HEADERS = 4 };

struct exp_header {
    const char *name;
    const char *value;
};

struct valid_case {
    const char *name;
    const char *in; /* exactly one head, nothing after it */
    size_t in_len;
    uint8_t method;
    const char *target;
    uint8_t version_minor;
    uint32_t skip;
    uint32_t n_headers;
    bool has_content_length;
    uint64_t content_length;
    bool chunked;
    bool keep_alive;
    bool expect_continue;
    struct exp_header headers[MAX_EXPECTED_HEADERS]; /* the first ones, in order */
};

struct invalid_case {
    const char *name;
    const char *in;
    size_t in_len;
    uint16_t status;
};

/* Everything the parser reports, copied out so two runs can be compared. */
struct outcome {
    enum http_parse_status result;
    uint16_t status;
    uint8_t method;
    uint8_t version_minor;
    uint32_t method_len;
    uint32_t skip;
    uint32_t target_off;
    uint32_t target_len;
    uint32_t head_len;
    uint32_t n_headers;
    int32_t host;
    bool has_content_length;
    uint64_t content_length;
    bool chunked;
    bool keep_alive;
    bool expect_continue;
    struct http_header headers[MAX_HEADERS];
};

static void capture(const struct http_parser *p, enum http_parse_status r, struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->result = r;
    if (r == HTTP_PARSE_ERROR) {
        o->status = p->status;
        return;
    }
    o->method = p->method;
    o->version_minor = p->version_minor;
    o->method_len = p->method_len;
    o->skip = p->skip;
    o->target_off = p->target_off;
    o->target_len = p->target_len;
    o->head_len = p->head_len;
    o->n_headers = p->n_headers;
    o->host = p->host;
    o->has_content_length = p->has_content_length;
    o->content_length = p->content_length;
    o->chunked = p->chunked;
    o->keep_alive = p->keep_alive;
    o->expect_continue = p->expect_continue;
    memcpy(o->headers, p->headers, p->n_headers * sizeof(p->headers[0]));
}

/* One call of the parser on a fresh heap copy of in[0..n). */
static enum http_parse_status parse_copy(struct http_parser *p, const char *in, size_t n)
{
    char *buf = malloc(n ? n : 1);
    enum http_parse_status r;

    assert_non_null(buf);
    memcpy(buf, in, n);
    r = http_parse_head(p, buf, (uint32_t)n);
    free(buf);
    return r;
}

/* Feeds in[0..len) in calls that see in[0..cuts[k]), as a caller whose buffer grows would; every
 * call before the last must ask for more, unless the parser already rejected the bytes. */
static void feed(const char *in, size_t len, const size_t *cuts, size_t n_cuts,
                 uint32_t max_headers, uint32_t max_head_bytes, struct outcome *o)
{
    struct http_header headers[MAX_HEADERS];
    struct http_parser p;
    enum http_parse_status r = HTTP_PARSE_AGAIN;

    assert_true(max_headers <= MAX_HEADERS);
    http_parser_init(&p, headers, max_headers, max_head_bytes);
    for (size_t k = 0; k < n_cuts && r == HTTP_PARSE_AGAIN; k++) {
        assert_true(cuts[k] <= len);
        r = parse_copy(&p, in, cuts[k]);
        if (k + 1 < n_cuts && r == HTTP_PARSE_DONE)
            fail_msg("DONE after %zu of %zu bytes", cuts[k], len);
    }
    capture(&p, r, o);
}

static void feed_whole(const char *in, size_t len, struct outcome *o)
{
    size_t cut = len;

    feed(in, len, &cut, 1, MAX_HEADERS, MAX_HEAD_BYTES, o);
}

static void feed_split(const char *in, size_t len, size_t at, struct outcome *o)
{
    size_t cuts[2] = {at, len};

    feed(in, len, cuts, 2, MAX_HEADERS, MAX_HEAD_BYTES, o);
}

static void feed_bytewise(const char *in, size_t len, struct outcome *o)
{
    size_t *cuts = malloc((len + 1) * sizeof(*cuts));

    assert_non_null(cuts);
    for (size_t k = 0; k <= len; k++)
        cuts[k] = k;
    feed(in, len, cuts, len + 1, MAX_HEADERS, MAX_HEAD_BYTES, o);
    free(cuts);
}

static void assert_same_outcome(const struct outcome *a, const struct outcome *b)
{
    assert_int_equal(a->result, b->result);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->method, b->method);
    assert_int_equal(a->version_minor, b->version_minor);
    assert_int_equal(a->method_len, b->method_len);
    assert_int_equal(a->skip, b->skip);
    assert_int_equal(a->target_off, b->target_off);
    assert_int_equal(a->target_len, b->target_len);
    assert_int_equal(a->head_len, b->head_len);
    assert_int_equal(a->n_headers, b->n_headers);
    assert_int_equal(a->host, b->host);
    assert_int_equal(a->has_content_length, b->has_content_length);
    assert_int_equal(a->content_length, b->content_length);
    assert_int_equal(a->chunked, b->chunked);
    assert_int_equal(a->keep_alive, b->keep_alive);
    assert_int_equal(a->expect_continue, b->expect_continue);
    for (uint32_t k = 0; k < a->n_headers; k++) {
        assert_int_equal(a->headers[k].name_off, b->headers[k].name_off);
        assert_int_equal(a->headers[k].name_len, b->headers[k].name_len);
        assert_int_equal(a->headers[k].value_off, b->headers[k].value_off);
        assert_int_equal(a->headers[k].value_len, b->headers[k].value_len);
    }
}

static void assert_slice(const char *buf, uint32_t off, uint32_t len, const char *want)
{
    char got[512];

    assert_true(len < sizeof(got));
    memcpy(got, buf + off, len);
    got[len] = '\0';
    assert_string_equal(got, want);
}

/* The whole-buffer outcome against the row's expectations. */
static void assert_expected(const struct valid_case *v, const struct outcome *o)
{
    assert_int_equal(o->result, HTTP_PARSE_DONE);
    assert_int_equal(o->head_len, v->in_len);
    assert_int_equal(o->method, v->method);
    assert_int_equal(o->skip, v->skip);
    assert_int_equal(v->in[o->skip + o->method_len], ' ');
    assert_int_equal(o->target_off, o->skip + o->method_len + 1);
    assert_slice(v->in, o->target_off, o->target_len, v->target);
    assert_int_equal(o->version_minor, v->version_minor);
    assert_int_equal(o->n_headers, v->n_headers);
    assert_int_equal(o->has_content_length, v->has_content_length);
    if (v->has_content_length)
        assert_int_equal(o->content_length, v->content_length);
    assert_int_equal(o->chunked, v->chunked);
    assert_int_equal(o->keep_alive, v->keep_alive);
    assert_int_equal(o->expect_continue, v->expect_continue);
    for (size_t k = 0; k < MAX_EXPECTED_HEADERS && v->headers[k].name; k++) {
        const struct http_header *h = &o->headers[k];
        assert_true(k < o->n_headers);
        assert_slice(v->in, h->name_off, h->name_len, v->headers[k].name);
        assert_slice(v->in, h->value_off, h->value_len, v->headers[k].value);
    }
    if (o->host >= 0)
        assert_true(http_name_is(v->in + o->headers[o->host].name_off, o->headers[o->host].name_len,
                                 "host"));
}

static void expect_parses(const struct valid_case *v)
{
    struct outcome *whole = malloc(sizeof(*whole)), *got = malloc(sizeof(*got));

    assert_non_null(whole);
    assert_non_null(got);
    feed_whole(v->in, v->in_len, whole);
    assert_expected(v, whole);
    for (size_t at = 0; at < v->in_len; at++) {
        feed_split(v->in, v->in_len, at, got);
        assert_same_outcome(got, whole);
    }
    feed_bytewise(v->in, v->in_len, got);
    assert_same_outcome(got, whole);
    free(got);
    free(whole);
}

static void expect_rejects_with(const char *in, size_t len, uint16_t status, uint32_t max_headers,
                                uint32_t max_head_bytes)
{
    struct outcome *got = malloc(sizeof(*got));
    size_t whole = len;

    assert_non_null(got);
    feed(in, len, &whole, 1, max_headers, max_head_bytes, got);
    assert_int_equal(got->result, HTTP_PARSE_ERROR);
    assert_int_equal(got->status, status);
    for (size_t at = 0; at < len; at++) {
        size_t cuts[2] = {at, len};
        feed(in, len, cuts, 2, max_headers, max_head_bytes, got);
        assert_int_equal(got->result, HTTP_PARSE_ERROR);
        assert_int_equal(got->status, status);
    }
    size_t *cuts = malloc((len + 1) * sizeof(*cuts));
    assert_non_null(cuts);
    for (size_t k = 0; k <= len; k++)
        cuts[k] = k;
    feed(in, len, cuts, len + 1, max_headers, max_head_bytes, got);
    assert_int_equal(got->result, HTTP_PARSE_ERROR);
    assert_int_equal(got->status, status);
    free(cuts);
    free(got);
}

/* ---- valid samples ---- */

#define H1 "Host: example.com\r\n"
#define MANY_HEADERS                                                                            \
    "X-H01: 1\r\nX-H02: 2\r\nX-H03: 3\r\nX-H04: 4\r\nX-H05: 5\r\nX-H06: 6\r\nX-H07: 7\r\n"      \
    "X-H08: 8\r\nX-H09: 9\r\nX-H10: 10\r\nX-H11: 11\r\nX-H12: 12\r\nX-H13: 13\r\nX-H14: 14\r\n" \
    "X-H15: 15\r\nX-H16: 16\r\nX-H17: 17\r\nX-H18: 18\r\nX-H19: 19\r\nX-H20: 20\r\n"            \
    "X-H21: 21\r\nX-H22: 22\r\nX-H23: 23\r\nX-H24: 24\r\nX-H25: 25\r\nX-H26: 26\r\n"            \
    "X-H27: 27\r\nX-H28: 28\r\nX-H29: 29\r\nX-H30: 30\r\n"

static const struct valid_case valid_cases[] = {
    {"test_parse_accepts_get_with_host",
     LIT("GET /items/1?x=2 HTTP/1.1\r\nHost: example.com\r\n\r\n"),
     CREST_METHOD_GET,
     "/items/1?x=2",
     1,
     0,
     1,
     false,
     0,
     false,
     true,
     false,
     {{"Host", "example.com"}}},
    {"test_parse_accepts_post_with_content_length",
     LIT("POST /items HTTP/1.1\r\n" H1 "Content-Type: application/json\r\nContent-Length: 13\r\n"
         "\r\n"),
     CREST_METHOD_POST,
     "/items",
     1,
     0,
     3,
     true,
     13,
     false,
     true,
     false,
     {{"Host", "example.com"}, {"Content-Type", "application/json"}, {"Content-Length", "13"}}},
    {"test_parse_accepts_content_length_zero",
     LIT("PUT /x HTTP/1.1\r\n" H1 "Content-Length: 0\r\n\r\n"),
     CREST_METHOD_PUT,
     "/x",
     1,
     0,
     2,
     true,
     0,
     false,
     true,
     false,
     {{0}}},
    {"test_parse_accepts_chunked_transfer_encoding",
     LIT("POST /upload HTTP/1.1\r\n" H1 "Transfer-Encoding: chunked\r\n\r\n"),
     CREST_METHOD_POST,
     "/upload",
     1,
     0,
     2,
     false,
     0,
     true,
     true,
     false,
     {{"Host", "example.com"}, {"Transfer-Encoding", "chunked"}}},
    {"test_parse_accepts_chunked_in_any_case_with_ows",
     LIT("POST /upload HTTP/1.1\r\n" H1 "transfer-encoding:  ChUnKeD \r\n\r\n"),
     CREST_METHOD_POST,
     "/upload",
     1,
     0,
     2,
     false,
     0,
     true,
     true,
     false,
     {{"Host", "example.com"}, {"transfer-encoding", "ChUnKeD"}}},
    {"test_parse_accepts_http10_without_host",
     LIT("GET /old HTTP/1.0\r\n\r\n"),
     CREST_METHOD_GET,
     "/old",
     0,
     0,
     0,
     false,
     0,
     false,
     false,
     false,
     {{0}}},
    {"test_parse_accepts_absolute_form_target",
     LIT("GET http://example.com/a/b?x=1 HTTP/1.1\r\n" H1 "\r\n"),
     CREST_METHOD_GET,
     "http://example.com/a/b?x=1",
     1,
     0,
     1,
     false,
     0,
     false,
     true,
     false,
     {{0}}},
    {"test_parse_accepts_options_asterisk",
     LIT("OPTIONS * HTTP/1.1\r\n" H1 "\r\n"),
     CREST_METHOD_OPTIONS,
     "*",
     1,
     0,
     1,
     false,
     0,
     false,
     true,
     false,
     {{0}}},
    {"test_parse_accepts_connect_authority_form",
     LIT("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
     CREST_METHOD_CONNECT,
     "example.com:443",
     1,
     0,
     1,
     false,
     0,
     false,
     true,
     false,
     {{0}}},
    {"test_parse_skips_leading_empty_lines",
     LIT("\r\n\r\nGET / HTTP/1.1\r\n" H1 "\r\n"),
     CREST_METHOD_GET,
     "/",
     1,
     4,
     1,
     false,
     0,
     false,
     true,
     false,
     {{"Host", "example.com"}}},
    {"test_parse_accepts_thirty_headers",
     LIT("GET /many HTTP/1.1\r\n" H1 MANY_HEADERS "\r\n"),
     CREST_METHOD_GET,
     "/many",
     1,
     0,
     31,
     false,
     0,
     false,
     true,
     false,
     {{"Host", "example.com"}, {"X-H01", "1"}, {"X-H02", "2"}, {"X-H03", "3"}}},
    {"test_parse_trims_whitespace_around_values",
     LIT("GET / HTTP/1.1\r\nHost:   example.com \t\r\nX-Pad:\t value with  inner space \t\r\n"
         "X-Empty:\r\nX-Blank:  \t \r\n\r\n"),
     CREST_METHOD_GET,
     "/",
     1,
     0,
     4,
     false,
     0,
     false,
     true,
     false,
     {{"Host", "example.com"},
      {"X-Pad", "value with  inner space"},
      {"X-Empty", ""},
      {"X-Blank", ""}}},
    {"test_parse_accepts_obs_text_in_values",
     LIT("GET / HTTP/1.1\r\n" H1 "X-Name: caf\xc3\xa9 \xff\x80!\r\n\r\n"),
     CREST_METHOD_GET,
     "/",
     1,
     0,
     2,
     false,
     0,
     false,
     true,
     false,
     {{"Host", "example.com"}, {"X-Name", "caf\xc3\xa9 \xff\x80!"}}},
    {"test_parse_keeps_alive_by_default_in_http11",
     LIT("GET / HTTP/1.1\r\n" H1 "\r\n"),
     CREST_METHOD_GET,
     "/",
     1,
     0,
     1,
     false,
     0,
     false,
     true,
     false,
     {{0}}},
    {"test_parse_closes_on_connection_close_in_http11",
     LIT("GET / HTTP/1.1\r\n" H1 "Connection: close\r\n\r\n"),
     CREST_METHOD_GET,
     "/",
     1,
     0,
     2,
     false,
     0,
     false,
     false,
     false,
     {{0}}},
    {"test_parse_keeps_alive_on_connection_keep_alive_in_http11",
     LIT("GET / HTTP/1.1\r\n" H1 "Connection: keep-alive\r\n\r\n"),
     CREST_METHOD_GET,
     "/",
     1,
     0,
     2,
     false,
     0,
     false,
     true,
     false,
     {{0}}},
    {"test_parse_closes_on_close_in_a_connection_list",
     LIT("GET / HTTP/1.1\r\n" H1 "Connection: keep-alive, Upgrade ,CLOSE\r\n\r\n"),
     CREST_METHOD_GET,
     "/",
     1,
     0,
     2,
     false,
     0,
     false,
     false,
     false,
     {{0}}},
    {"test_parse_closes_by_default_in_http10",
     LIT("GET / HTTP/1.0\r\n" H1 "\r\n"),
     CREST_METHOD_GET,
     "/",
     0,
     0,
     1,
     false,
     0,
     false,
     false,
     false,
     {{0}}},
    {"test_parse_keeps_alive_on_connection_keep_alive_in_http10",
     LIT("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
     CREST_METHOD_GET,
     "/",
     0,
     0,
     1,
     false,
     0,
     false,
     true,
     false,
     {{"Connection", "Keep-Alive"}}},
    {"test_parse_closes_on_connection_close_in_http10",
     LIT("GET / HTTP/1.0\r\nConnection: close\r\n\r\n"),
     CREST_METHOD_GET,
     "/",
     0,
     0,
     1,
     false,
     0,
     false,
     false,
     false,
     {{0}}},
    {"test_parse_answers_http12_as_http11",
     LIT("GET / HTTP/1.2\r\n" H1 "\r\n"),
     CREST_METHOD_GET,
     "/",
     1,
     0,
     1,
     false,
     0,
     false,
     true,
     false,
     {{0}}},
    {"test_parse_records_expect_100_continue_with_a_body",
     LIT("POST /items HTTP/1.1\r\n" H1 "Content-Length: 5\r\nExpect: 100-Continue\r\n\r\n"),
     CREST_METHOD_POST,
     "/items",
     1,
     0,
     3,
     true,
     5,
     false,
     true,
     true,
     {{0}}},
    {"test_parse_ignores_expect_100_continue_without_a_body",
     LIT("GET / HTTP/1.1\r\n" H1 "Expect: 100-continue\r\n\r\n"),
     CREST_METHOD_GET,
     "/",
     1,
     0,
     2,
     false,
     0,
     false,
     true,
     false,
     {{0}}},
    {"test_parse_accepts_identical_content_length_list",
     LIT("POST / HTTP/1.1\r\n" H1 "Content-Length: 5, 5\r\n\r\n"),
     CREST_METHOD_POST,
     "/",
     1,
     0,
     2,
     true,
     5,
     false,
     true,
     false,
     {{0}}},
    {"test_parse_accepts_two_equal_content_length_headers",
     LIT("POST / HTTP/1.1\r\n" H1 "Content-Length: 5\r\ncontent-length: 5\r\n\r\n"),
     CREST_METHOD_POST,
     "/",
     1,
     0,
     3,
     true,
     5,
     false,
     true,
     false,
     {{0}}},
    {"test_parse_accepts_lowercase_method_as_unknown",
     LIT("get / HTTP/1.1\r\n" H1 "\r\n"),
     CREST_METHOD_UNKNOWN,
     "/",
     1,
     0,
     1,
     false,
     0,
     false,
     true,
     false,
     {{0}}},
    {"test_parse_accepts_extension_method_as_unknown",
     LIT("PURGE /cache HTTP/1.1\r\n" H1 "\r\n"),
     CREST_METHOD_UNKNOWN,
     "/cache",
     1,
     0,
     1,
     false,
     0,
     false,
     true,
     false,
     {{0}}},
    {"test_parse_accepts_percent_encoded_target",
     LIT("GET /a%20b/c%2Fd?q=%E2%82%AC&r=a+b HTTP/1.1\r\n" H1 "\r\n"),
     CREST_METHOD_GET,
     "/a%20b/c%2Fd?q=%E2%82%AC&r=a+b",
     1,
     0,
     1,
     false,
     0,
     false,
     true,
     false,
     {{0}}},
    {"test_parse_accepts_host_in_any_case",
     LIT("DELETE /items/7 HTTP/1.1\r\nhOsT: example.com:8080\r\n\r\n"),
     CREST_METHOD_DELETE,
     "/items/7",
     1,
     0,
     1,
     false,
     0,
     false,
     true,
     false,
     {{"hOsT", "example.com:8080"}}},
    {"test_parse_accepts_tchar_punctuation_in_names",
     LIT("PATCH /p HTTP/1.1\r\n" H1 "X-!#$%&'*+-.^_`|~: v\r\n\r\n"),
     CREST_METHOD_PATCH,
     "/p",
     1,
     0,
     2,
     false,
     0,
     false,
     true,
     false,
     {{"Host", "example.com"}, {"X-!#$%&'*+-.^_`|~", "v"}}},
    {"test_parse_accepts_ipv6_literal_host_with_port",
     LIT("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
     CREST_METHOD_GET,
     "/",
     1,
     0,
     1,
     false,
     0,
     false,
     true,
     false,
     {{"Host", "[::1]:8080"}}},
    {"test_parse_accepts_ipv4_host_with_port",
     LIT("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"),
     CREST_METHOD_GET,
     "/",
     1,
     0,
     1,
     false,
     0,
     false,
     true,
     false,
     {{"Host", "127.0.0.1:8080"}}},
    {"test_parse_accepts_empty_host",
     LIT("GET / HTTP/1.1\r\nHost: \r\n\r\n"),
     CREST_METHOD_GET,
     "/",
     1,
     0,
     1,
     false,
     0,
     false,
     true,
     false,
     {{"Host", ""}}},
    {"test_parse_accepts_sub_delims_and_percent_in_host",
     LIT("GET / HTTP/1.1\r\nHost: a-b_c~d!$&'()*+,;=%2F.example\r\n\r\n"),
     CREST_METHOD_GET,
     "/",
     1,
     0,
     1,
     false,
     0,
     false,
     true,
     false,
     {{"Host", "a-b_c~d!$&'()*+,;=%2F.example"}}},
};

/* ---- rejections ---- */

#define REQ11 "GET / HTTP/1.1\r\n"
#define POST11 "POST / HTTP/1.1\r\n" H1

static const struct invalid_case invalid_cases[] = {
    {"test_parse_rejects_content_length_with_transfer_encoding",
     LIT(POST11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), 400},
    {"test_parse_rejects_transfer_encoding_with_content_length",
     LIT(POST11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"), 400},
    {"test_parse_rejects_differing_content_length_list", LIT(POST11 "Content-Length: 5, 6\r\n\r\n"),
     400},
    {"test_parse_rejects_differing_content_length_headers",
     LIT(POST11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"), 400},
    {"test_parse_rejects_non_numeric_content_length", LIT(POST11 "Content-Length: abc\r\n\r\n"),
     400},
    {"test_parse_rejects_negative_content_length", LIT(POST11 "Content-Length: -1\r\n\r\n"), 400},
    {"test_parse_rejects_content_length_with_inner_space",
     LIT(POST11 "Content-Length: 1 2\r\n\r\n"), 400},
    {"test_parse_rejects_empty_content_length", LIT(POST11 "Content-Length:\r\n\r\n"), 400},
    {"test_parse_rejects_blank_content_length", LIT(POST11 "Content-Length:   \r\n\r\n"), 400},
    {"test_parse_rejects_comma_only_content_length", LIT(POST11 "Content-Length: ,\r\n\r\n"), 400},
    {"test_parse_rejects_plus_signed_content_length", LIT(POST11 "Content-Length: +5\r\n\r\n"),
     400},
    {"test_parse_rejects_hex_content_length", LIT(POST11 "Content-Length: 0x10\r\n\r\n"), 400},
    {"test_parse_rejects_overflowing_content_length",
     LIT(POST11 "Content-Length: 99999999999999999999\r\n\r\n"), 400},
    {"test_parse_rejects_transfer_encoding_not_ending_in_chunked",
     LIT(POST11 "Transfer-Encoding: gzip\r\n\r\n"), 400},
    {"test_parse_rejects_coding_after_chunked",
     LIT(POST11 "Transfer-Encoding: chunked, gzip\r\n\r\n"), 400},
    {"test_parse_answers_501_to_unsupported_coding_before_chunked",
     LIT(POST11 "Transfer-Encoding: gzip, chunked\r\n\r\n"), 501},
    {"test_parse_answers_501_to_unsupported_coding_in_separate_header",
     LIT(POST11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"), 501},
    {"test_parse_rejects_chunked_twice", LIT(POST11 "Transfer-Encoding: chunked, chunked\r\n\r\n"),
     400},
    {"test_parse_rejects_chunked_twice_in_two_headers",
     LIT(POST11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), 400},
    {"test_parse_rejects_empty_transfer_encoding", LIT(POST11 "Transfer-Encoding:\r\n\r\n"), 400},
    {"test_parse_rejects_transfer_encoding_in_http10",
     LIT("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400},
    {"test_parse_rejects_space_before_colon", LIT(REQ11 H1 "X-A : b\r\n\r\n"), 400},
    {"test_parse_rejects_tab_before_colon", LIT(REQ11 H1 "X-A\t: b\r\n\r\n"), 400},
    {"test_parse_rejects_obs_fold", LIT(REQ11 H1 "X-A: b\r\n c\r\n\r\n"), 400},
    {"test_parse_rejects_obs_fold_with_tab", LIT(REQ11 H1 "X-A: b\r\n\tc\r\n\r\n"), 400},
    {"test_parse_rejects_whitespace_before_first_header", LIT(REQ11 " Host: a\r\n\r\n"), 400},
    {"test_parse_rejects_bare_cr_in_request_line", LIT("GET / HTTP/1.1\rHost: a\r\n\r\n"), 400},
    {"test_parse_rejects_bare_cr_in_target", LIT("GET /a\rb HTTP/1.1\r\n" H1 "\r\n"), 400},
    {"test_parse_rejects_bare_cr_in_header_value", LIT(REQ11 H1 "X-A: b\rc\r\n\r\n"), 400},
    {"test_parse_rejects_bare_cr_in_header_name", LIT(REQ11 H1 "X-A\r: b\r\n\r\n"), 400},
    {"test_parse_rejects_bare_cr_ending_head", LIT(REQ11 H1 "\rX"), 400},
    {"test_parse_rejects_bare_cr_in_leading_empty_line", LIT("\rGET / HTTP/1.1\r\n" H1 "\r\n"),
     400},
    {"test_parse_rejects_bare_lf_ending_request_line", LIT("GET / HTTP/1.1\n" H1 "\r\n"), 400},
    {"test_parse_rejects_bare_lf_ending_header", LIT(REQ11 "Host: a\n\r\n"), 400},
    {"test_parse_rejects_bare_lf_ending_head", LIT(REQ11 H1 "\n"), 400},
    {"test_parse_rejects_bare_lf_leading_line", LIT("\nGET / HTTP/1.1\r\n" H1 "\r\n"), 400},
    {"test_parse_rejects_nul_in_header_value", LIT(REQ11 H1 "X-A: b\0c\r\n\r\n"), 400},
    {"test_parse_rejects_soh_in_header_value", LIT(REQ11 H1 "X-A: b\x01\r\n\r\n"), 400},
    {"test_parse_rejects_del_in_header_value", LIT(REQ11 H1 "X-A: \x7f\r\n\r\n"), 400},
    {"test_parse_rejects_escape_in_header_value", LIT(REQ11 H1 "X-A: \x1b[0m\r\n\r\n"), 400},
    {"test_parse_rejects_paren_in_header_name", LIT(REQ11 H1 "X(A): b\r\n\r\n"), 400},
    {"test_parse_rejects_slash_in_header_name", LIT(REQ11 H1 "X/A: b\r\n\r\n"), 400},
    {"test_parse_rejects_at_sign_in_header_name", LIT(REQ11 H1 "X@A: b\r\n\r\n"), 400},
    {"test_parse_rejects_non_ascii_header_name", LIT(REQ11 H1 "X-\xc3\xa9: b\r\n\r\n"), 400},
    {"test_parse_rejects_empty_header_name", LIT(REQ11 H1 ": b\r\n\r\n"), 400},
    {"test_parse_rejects_header_without_colon", LIT(REQ11 H1 "X-A\r\n\r\n"), 400},
    {"test_parse_rejects_missing_host_in_http11", LIT("GET / HTTP/1.1\r\nX-A: b\r\n\r\n"), 400},
    {"test_parse_rejects_duplicate_host", LIT(REQ11 "Host: a\r\nHost: a\r\n\r\n"), 400},
    {"test_parse_rejects_duplicate_host_in_http10",
     LIT("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"), 400},
    /* issue 13: a Host value outside RFC 3986's uri-host [ ":" port ] (tests/unit/test_http_host.c
     * walks the grammar itself) */
    {"test_parse_rejects_host_with_space", LIT(REQ11 "Host: exa mple.com\r\n\r\n"), 400},
    {"test_parse_rejects_host_with_slash", LIT(REQ11 "Host: example.com/evil\r\n\r\n"), 400},
    {"test_parse_rejects_host_with_userinfo", LIT(REQ11 "Host: user@example.com\r\n\r\n"), 400},
    {"test_parse_rejects_host_with_letters_in_port", LIT(REQ11 "Host: a:80a\r\n\r\n"), 400},
    {"test_parse_rejects_host_with_two_ports", LIT(REQ11 "Host: a:80:81\r\n\r\n"), 400},
    {"test_parse_rejects_host_with_unbracketed_ipv6", LIT(REQ11 "Host: ::1\r\n\r\n"), 400},
    {"test_parse_rejects_host_with_bad_ipv6_literal", LIT(REQ11 "Host: [::1::2]\r\n\r\n"), 400},
    {"test_parse_rejects_host_with_non_ascii", LIT(REQ11 "Host: caf\xc3\xa9.fr\r\n\r\n"), 400},
    {"test_parse_rejects_host_with_bad_percent", LIT(REQ11 "Host: a%zz\r\n\r\n"), 400},
    {"test_parse_rejects_invalid_host_in_http10", LIT("GET / HTTP/1.0\r\nHost: a b\r\n\r\n"), 400},
    {"test_parse_answers_505_to_http20", LIT("GET / HTTP/2.0\r\n" H1 "\r\n"), 505},
    {"test_parse_answers_505_to_http09", LIT("GET / HTTP/0.9\r\n" H1 "\r\n"), 505},
    {"test_parse_rejects_version_without_minor", LIT("GET / HTTP/1\r\n" H1 "\r\n"), 400},
    {"test_parse_rejects_misspelt_protocol", LIT("GET / HTP/1.1\r\n" H1 "\r\n"), 400},
    {"test_parse_rejects_lowercase_protocol", LIT("GET / http/1.1\r\n" H1 "\r\n"), 400},
    {"test_parse_rejects_two_digit_minor_version", LIT("GET / HTTP/1.10\r\n" H1 "\r\n"), 400},
    {"test_parse_rejects_missing_version", LIT("GET /\r\n" H1 "\r\n"), 400},
    {"test_parse_rejects_space_after_version", LIT("GET / HTTP/1.1 \r\n" H1 "\r\n"), 400},
    {"test_parse_rejects_two_spaces_after_method", LIT("GET  / HTTP/1.1\r\n" H1 "\r\n"), 400},
    {"test_parse_rejects_space_in_target", LIT("GET /a b HTTP/1.1\r\n" H1 "\r\n"), 400},
    {"test_parse_rejects_del_in_target", LIT("GET /a\x7f HTTP/1.1\r\n" H1 "\r\n"), 400},
    {"test_parse_rejects_raw_non_ascii_in_target", LIT("GET /\x80 HTTP/1.1\r\n" H1 "\r\n"), 400},
    {"test_parse_rejects_nul_in_target", LIT("GET /a\0b HTTP/1.1\r\n" H1 "\r\n"), 400},
    {"test_parse_rejects_asterisk_target_with_get", LIT("GET * HTTP/1.1\r\n" H1 "\r\n"), 400},
    {"test_parse_rejects_relative_target", LIT("GET items HTTP/1.1\r\n" H1 "\r\n"), 400},
    {"test_parse_rejects_non_token_method", LIT("GE(T / HTTP/1.1\r\n" H1 "\r\n"), 400},
    {"test_parse_rejects_leading_space_before_method", LIT(" GET / HTTP/1.1\r\n" H1 "\r\n"), 400},
    {"test_parse_answers_417_to_unknown_expectation",
     LIT(POST11 "Content-Length: 1\r\nExpect: something-else\r\n\r\n"), 417},
    {"test_parse_answers_417_to_unknown_expectation_without_body",
     LIT(REQ11 H1 "Expect: 200-ok\r\n\r\n"), 417},
};

static void check_valid_case(void **state)
{
    expect_parses(*state);
}

static void check_invalid_case(void **state)
{
    const struct invalid_case *v = *state;

    expect_rejects_with(v->in, v->in_len, v->status, MAX_HEADERS, MAX_HEAD_BYTES);
}

/* ---- methods ---- */

static void test_parse_maps_every_standard_method(void **state)
{
    static const struct {
        const char *name;
        uint8_t method;
    } methods[] = {
        {"GET", CREST_METHOD_GET},         {"HEAD", CREST_METHOD_HEAD},
        {"POST", CREST_METHOD_POST},       {"PUT", CREST_METHOD_PUT},
        {"DELETE", CREST_METHOD_DELETE},   {"PATCH", CREST_METHOD_PATCH},
        {"OPTIONS", CREST_METHOD_OPTIONS}, {"TRACE", CREST_METHOD_TRACE},
        {"GETS", CREST_METHOD_UNKNOWN},    {"Get", CREST_METHOD_UNKNOWN},
        {"G", CREST_METHOD_UNKNOWN},       {"DELETED", CREST_METHOD_UNKNOWN},
    };
    (void)state;
    for (size_t k = 0; k < ARRAY_LEN(methods); k++) {
        char in[128];
        struct outcome o;
        int n = snprintf(in, sizeof(in), "%s /x HTTP/1.1\r\nHost: a\r\n\r\n", methods[k].name);

        feed_whole(in, (size_t)n, &o);
        assert_int_equal(o.result, HTTP_PARSE_DONE);
        assert_int_equal(o.method, methods[k].method);
        assert_int_equal(o.method_len, strlen(methods[k].name));
    }
}

/* ---- pipelining ---- */

/* Parses each request of a pipelined buffer in turn, resetting between them as the session
 * does; bodies[k] is the Content-Length the k-th request must report (its body follows it). */
static void expect_pipeline(const char *in, size_t len, const char *const *targets,
                            const uint64_t *bodies, size_t n)
{
    struct http_header headers[MAX_HEADERS];
    struct http_parser p;
    size_t at = 0;

    http_parser_init(&p, headers, MAX_HEADERS, MAX_HEAD_BYTES);
    for (size_t k = 0; k < n; k++) {
        assert_true(at < len);
        assert_int_equal(http_parse_head(&p, in + at, (uint32_t)(len - at)), HTTP_PARSE_DONE);
        assert_slice(in + at, p.target_off, p.target_len, targets[k]);
        assert_int_equal(p.content_length, bodies[k]);
        assert_int_equal(p.host, 0);
        at += p.head_len + p.content_length;
        http_parser_reset(&p);
    }
    assert_int_equal(at, len);
    /* nothing left: the next call waits for bytes */
    assert_int_equal(http_parse_head(&p, in + at, 0), HTTP_PARSE_AGAIN);
}

static void test_parse_handles_two_pipelined_requests(void **state)
{
    static const char in[] = "GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
                             "GET /second HTTP/1.1\r\nHost: a\r\n\r\n";
    static const char *const targets[] = {"/first", "/second"};
    static const uint64_t bodies[] = {0, 0};

    (void)state;
    expect_pipeline(in, sizeof(in) - 1, targets, bodies, 2);
}

static void test_parse_handles_three_pipelined_requests_with_bodies(void **state)
{
    static const char in[] = "POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                             "GET /two HTTP/1.1\r\nHost: a\r\n\r\n"
                             "PUT /three HTTP/1.1\r\nHost: a\r\nContent-Length: 19\r\n\r\n"
                             "GET /x HTTP/1.1\r\n\r\n"; /* a body that looks like a request */
    static const char *const targets[] = {"/one", "/two", "/three"};
    static const uint64_t bodies[] = {5, 0, 19};

    (void)state;
    expect_pipeline(in, sizeof(in) - 1, targets, bodies, 3);
}

/* The first head is complete however the bytes arrive, and never reads into the second. */
static void test_parse_stops_at_end_of_first_pipelined_head_at_every_split(void **state)
{
    static const char in[] = "GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
                             "GET /second HTTP/1.1\r\nHost: a\r\n\r\n";
    const uint32_t first_len = 32;

    (void)state;
    assert_memory_equal(in + first_len, "GET /second", 11);
    for (size_t at = 0; at <= sizeof(in) - 1; at++) {
        struct http_header headers[4];
        struct http_parser p;
        enum http_parse_status r;

        http_parser_init(&p, headers, 4, MAX_HEAD_BYTES);
        r = parse_copy(&p, in, at);
        assert_int_equal(r, at < first_len ? HTTP_PARSE_AGAIN : HTTP_PARSE_DONE);
        if (r == HTTP_PARSE_AGAIN)
            r = parse_copy(&p, in, sizeof(in) - 1);
        assert_int_equal(r, HTTP_PARSE_DONE);
        assert_int_equal(p.head_len, first_len);
        assert_int_equal(p.n_headers, 1);
    }
}

static void test_parse_returns_done_again_after_done(void **state)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    struct http_header headers[4];
    struct http_parser p;

    (void)state;
    http_parser_init(&p, headers, 4, 1024);
    assert_int_equal(http_parse_head(&p, in, sizeof(in) - 1), HTTP_PARSE_DONE);
    assert_int_equal(http_parse_head(&p, in, sizeof(in) - 1), HTTP_PARSE_DONE);
    assert_int_equal(p.head_len, sizeof(in) - 1);
}

static void test_parse_stays_in_error_after_an_error(void **state)
{
    static const char bad[] = "GET / HTTP/2.0\r\n";
    static const char good[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    struct http_header headers[4];
    struct http_parser p;

    (void)state;
    http_parser_init(&p, headers, 4, 1024);
    assert_int_equal(http_parse_head(&p, bad, sizeof(bad) - 1), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 505);
    assert_non_null(p.error);
    assert_int_equal(http_parse_head(&p, good, sizeof(good) - 1), HTTP_PARSE_ERROR);
    assert_int_equal(p.status, 505);
    http_parser_reset(&p);
    assert_int_equal(http_parse_head(&p, good, sizeof(good) - 1), HTTP_PARSE_DONE);
}

/* ---- limits ---- */

/* "GET /aaa...a HTTP/1.1\r\nHost: a\r\n\r\n" with a target of target_len bytes. */
static char *long_target_request(size_t target_len, size_t *len)
{
    static const char head[] = "GET /", tail[] = " HTTP/1.1\r\nHost: a\r\n\r\n";
    *len = sizeof(head) - 1 + target_len - 1 + sizeof(tail) - 1;
    char *s = malloc(*len + 1);
    assert_non_null(s);
    memcpy(s, head, sizeof(head) - 1);
    memset(s + sizeof(head) - 1, 'a', target_len - 1);
    memcpy(s + sizeof(head) - 1 + target_len - 1, tail, sizeof(tail));
    return s;
}

/* A request whose head is exactly head_len bytes, padded by one X-Pad header. */
static char *padded_request(size_t head_len)
{
    static const char head[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ", tail[] = "\r\n\r\n";
    size_t pad = head_len - (sizeof(head) - 1) - (sizeof(tail) - 1);
    char *s = malloc(head_len + 1);
    assert_non_null(s);
    memcpy(s, head, sizeof(head) - 1);
    memset(s + sizeof(head) - 1, 'p', pad);
    memcpy(s + sizeof(head) - 1 + pad, tail, sizeof(tail));
    return s;
}

/* "GET / HTTP/1.1\r\nHost: a\r\n" plus n_extra more fields. */
static char *many_fields_request(size_t n_extra, size_t *len)
{
    size_t cap = 64 + n_extra * 16, n;
    char *s = malloc(cap);
    assert_non_null(s);
    n = (size_t)snprintf(s, cap, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (size_t k = 0; k < n_extra; k++)
        n += (size_t)snprintf(s + n, cap - n, "X-%04zu: v\r\n", k);
    n += (size_t)snprintf(s + n, cap - n, "\r\n");
    *len = n;
    return s;
}

static void test_parse_answers_414_to_request_line_over_max_head_bytes(void **state)
{
    size_t len;
    char *in = long_target_request(300, &len);

    (void)state;
    expect_rejects_with(in, len, 414, MAX_HEADERS, 256);
    free(in);
}

/* The limit is crossed before the line ends: 414 without waiting for the rest of it. */
static void test_parse_answers_414_before_request_line_ends(void **state)
{
    size_t len;
    char *in = long_target_request(300, &len);
    struct outcome o;
    size_t cut = 260;

    (void)state;
    feed(in, len, &cut, 1, MAX_HEADERS, 256, &o);
    assert_int_equal(o.result, HTTP_PARSE_ERROR);
    assert_int_equal(o.status, 414);
    free(in);
}

static void test_parse_answers_431_to_headers_over_max_head_bytes(void **state)
{
    char *in = padded_request(300);

    (void)state;
    expect_rejects_with(in, 300, 431, MAX_HEADERS, 256);
    free(in);
}

static void test_parse_accepts_head_of_exactly_max_head_bytes(void **state)
{
    char *in = padded_request(256);
    struct outcome o;
    size_t cut = 256;

    (void)state;
    feed(in, 256, &cut, 1, MAX_HEADERS, 256, &o);
    assert_int_equal(o.result, HTTP_PARSE_DONE);
    assert_int_equal(o.head_len, 256);
    for (size_t at = 0; at < 256; at++) {
        size_t cuts[2] = {at, 256};
        feed(in, 256, cuts, 2, MAX_HEADERS, 256, &o);
        assert_int_equal(o.result, HTTP_PARSE_DONE);
        assert_int_equal(o.head_len, 256);
    }
    free(in);
}

/* One byte over, where that byte is the LF ending the head. */
static void test_parse_answers_431_to_head_one_byte_over_max_head_bytes(void **state)
{
    char *in = padded_request(257);

    (void)state;
    expect_rejects_with(in, 257, 431, MAX_HEADERS, 256);
    free(in);
}

static void test_parse_answers_431_to_head_two_bytes_over_max_head_bytes(void **state)
{
    char *in = padded_request(258);

    (void)state;
    expect_rejects_with(in, 258, 431, MAX_HEADERS, 256);
    free(in);
}

/* The request line alone may use the whole budget less the CRLFs and a Host. */
static void test_parse_accepts_request_line_filling_max_head_bytes(void **state)
{
    size_t len;
    char *in = long_target_request(40, &len);
    struct outcome o;
    size_t cut = len;

    (void)state;
    feed(in, len, &cut, 1, MAX_HEADERS, (uint32_t)len, &o);
    assert_int_equal(o.result, HTTP_PARSE_DONE);
    assert_int_equal(o.target_len, 40);
    free(in);
}

/* Empty lines before the request line do not count against the limit (RFC 9112 2.2). */
static void test_parse_does_not_count_leading_empty_lines_against_limit(void **state)
{
    char *head = padded_request(256);
    char *in = malloc(256 + 4);
    struct outcome o;
    size_t cut = 260;

    (void)state;
    assert_non_null(in);
    memcpy(in, "\r\n\r\n", 4);
    memcpy(in + 4, head, 256);
    feed(in, 260, &cut, 1, MAX_HEADERS, 256, &o);
    assert_int_equal(o.result, HTTP_PARSE_DONE);
    assert_int_equal(o.skip, 4);
    assert_int_equal(o.head_len, 260);
    free(in);
    free(head);
}

/* The skipped lines do not count, but the head after them still may not pass the limit. */
static void test_parse_answers_431_to_head_over_limit_after_leading_empty_lines(void **state)
{
    char *head = padded_request(257);
    char *in = malloc(257 + 4);

    (void)state;
    assert_non_null(in);
    memcpy(in, "\r\n\r\n", 4);
    memcpy(in + 4, head, 257);
    expect_rejects_with(in, 261, 431, MAX_HEADERS, 256);
    free(in);
    free(head);
}

static void test_parse_answers_431_to_more_than_max_headers(void **state)
{
    size_t len;
    char *in = many_fields_request(10, &len); /* 11 fields */

    (void)state;
    expect_rejects_with(in, len, 431, 10, MAX_HEAD_BYTES);
    free(in);
}

static void test_parse_accepts_exactly_max_headers(void **state)
{
    size_t len;
    char *in = many_fields_request(9, &len); /* 10 fields */
    struct outcome o;

    (void)state;
    for (size_t at = 0; at < len; at++) {
        size_t cuts[2] = {at, len};
        feed(in, len, cuts, 2, 10, MAX_HEAD_BYTES, &o);
        assert_int_equal(o.result, HTTP_PARSE_DONE);
        assert_int_equal(o.n_headers, 10);
        assert_int_equal(o.head_len, len);
    }
    free(in);
}

static void test_parse_accepts_default_limit_of_100_headers(void **state)
{
    size_t len;
    char *in = many_fields_request(99, &len);
    struct outcome o;

    (void)state;
    feed_whole(in, len, &o);
    assert_int_equal(o.result, HTTP_PARSE_DONE);
    assert_int_equal(o.n_headers, 100);
    free(in);
    in = many_fields_request(100, &len);
    feed_whole(in, len, &o);
    assert_int_equal(o.result, HTTP_PARSE_ERROR);
    assert_int_equal(o.status, 431);
    free(in);
}

/* ---- helpers ---- */

static void test_parse_name_is_compares_case_insensitively_and_whole(void **state)
{
    (void)state;
    assert_true(http_name_is("Content-Length", 14, "content-length"));
    assert_true(http_name_is("HOST", 4, "host"));
    assert_false(http_name_is("Hos", 3, "host"));
    assert_false(http_name_is("Hosts", 5, "host"));
    assert_false(http_name_is("Hist", 4, "host"));
    assert_true(http_name_is("", 0, ""));
}

static void test_parse_tchar_table_matches_rfc9110(void **state)
{
    static const char tchars[] = "!#$%&'*+-.^_`|~0123456789"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (void)state;
    for (unsigned c = 0; c < 256; c++) {
        bool want = c != 0 && memchr(tchars, (int)c, sizeof(tchars) - 1) != NULL;
        assert_int_equal(http_is_tchar((unsigned char)c), want);
    }
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_parse_maps_every_standard_method),
        cmocka_unit_test(test_parse_handles_two_pipelined_requests),
        cmocka_unit_test(test_parse_handles_three_pipelined_requests_with_bodies),
        cmocka_unit_test(test_parse_stops_at_end_of_first_pipelined_head_at_every_split),
        cmocka_unit_test(test_parse_returns_done_again_after_done),
        cmocka_unit_test(test_parse_stays_in_error_after_an_error),
        cmocka_unit_test(test_parse_answers_414_to_request_line_over_max_head_bytes),
        cmocka_unit_test(test_parse_answers_414_before_request_line_ends),
        cmocka_unit_test(test_parse_answers_431_to_headers_over_max_head_bytes),
        cmocka_unit_test(test_parse_accepts_head_of_exactly_max_head_bytes),
        cmocka_unit_test(test_parse_answers_431_to_head_one_byte_over_max_head_bytes),
        cmocka_unit_test(test_parse_answers_431_to_head_two_bytes_over_max_head_bytes),
        cmocka_unit_test(test_parse_accepts_request_line_filling_max_head_bytes),
        cmocka_unit_test(test_parse_does_not_count_leading_empty_lines_against_limit),
        cmocka_unit_test(test_parse_answers_431_to_head_over_limit_after_leading_empty_lines),
        cmocka_unit_test(test_parse_answers_431_to_more_than_max_headers),
        cmocka_unit_test(test_parse_accepts_exactly_max_headers),
        cmocka_unit_test(test_parse_accepts_default_limit_of_100_headers),
        cmocka_unit_test(test_parse_name_is_compares_case_insensitively_and_whole),
        cmocka_unit_test(test_parse_tchar_table_matches_rfc9110),
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
    return cmocka_run_group_tests_name("http_parse", tests, NULL, NULL);
}
