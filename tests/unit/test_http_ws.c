/* tests/unit/test_http_ws.c: the pure parts of WebSockets and Server-Sent Events (http/ws_frame.c,
 * http/sse.c's encoder): frame headers parsed whole and at every prefix, each refusal with its
 * close code, headers encoded at the length boundaries and read back, UTF-8 whole and split at
 * every byte, close codes, SHA-1 against FIPS 180's examples, the accept key of RFC 6455 1.3, and
 * events with multi-line data and fields that would inject a line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/sse.h"
#include "http/ws.h"

static size_t client_frame(uint8_t *out, uint8_t b0, const char *payload, size_t n)
{
    static const uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
    uint8_t head[10];
    size_t h = http_ws_frame_head(head, true, 0, n);
    head[0] = b0;
    head[1] |= 0x80;
    memcpy(out, head, h);
    memcpy(out + h, mask, 4);
    for (size_t i = 0; i < n; i++)
        out[h + 4 + i] = (uint8_t)payload[i] ^ mask[i & 3];
    return h + 4 + n;
}

static void test_frame_parses_whole_and_is_incomplete_at_every_prefix(void **state)
{
    static const size_t sizes[] = {0, 5, 125, 126, 65535, 65536, 70000};
    (void)state;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s];
        char *payload = malloc(n + 1);
        uint8_t *buf = malloc(n + 14);
        memset(payload, 'a', n);
        size_t len = client_frame(buf, 0x82, payload, n);
        struct http_ws_frame f;
        int r = http_ws_frame_parse(buf, len, 1 << 20, &f);
        assert_int_equal(r, (int)(len - n));
        assert_true(f.fin);
        assert_int_equal(f.opcode, 2);
        assert_int_equal(f.len, n);
        http_ws_unmask(buf + r, n, f.mask, 0);
        assert_memory_equal(buf + r, payload, n);
        for (size_t k = 0; k<len; k += n> 1000 ? 997 : 1) {
            struct http_ws_frame g;
            assert_int_equal(http_ws_frame_parse(buf, k, 1 << 20, &g), 0);
        }
        free(payload);
        free(buf);
    }
}

static void test_frame_refusals_carry_their_close_code(void **state)
{
    uint8_t buf[200];
    struct http_ws_frame f;
    (void)state;
    size_t n = client_frame(buf, 0xC1, "x", 1); /* RSV1 */
    assert_int_equal(http_ws_frame_parse(buf, n, 100, &f), -1002);
    n = client_frame(buf, 0x83, "x", 1); /* reserved opcode */
    assert_int_equal(http_ws_frame_parse(buf, n, 100, &f), -1002);
    n = client_frame(buf, 0x09, "x", 1); /* fragmented ping */
    assert_int_equal(http_ws_frame_parse(buf, n, 100, &f), -1002);
    char big[126];
    memset(big, 'p', sizeof(big));
    n = client_frame(buf, 0x89, big, 126); /* ping over 125 bytes */
    assert_int_equal(http_ws_frame_parse(buf, n, 1000, &f), -1002);
    n = client_frame(buf, 0x81, "x", 1);
    buf[1] &= 0x7F; /* unmasked */
    assert_int_equal(http_ws_frame_parse(buf, n, 100, &f), -1002);
    n = client_frame(buf, 0x82, big, 101); /* over the limit: refused from the header alone */
    assert_int_equal(http_ws_frame_parse(buf, 4, 100, &f), -1009);
    uint8_t top[10] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1}; /* length's top bit */
    assert_int_equal(http_ws_frame_parse(top, 10, UINT64_MAX, &f), -1002);
}

static void test_frame_head_uses_the_shortest_length(void **state)
{
    uint8_t h[10];
    (void)state;
    assert_int_equal(http_ws_frame_head(h, true, 1, 125), 2);
    assert_int_equal(h[0], 0x81);
    assert_int_equal(h[1], 125);
    assert_int_equal(http_ws_frame_head(h, true, 2, 126), 4);
    assert_int_equal(h[1], 126);
    assert_int_equal(h[2] << 8 | h[3], 126);
    assert_int_equal(http_ws_frame_head(h, false, 0, 65536), 10);
    assert_int_equal(h[0], 0x00);
    assert_int_equal(h[7], 1);
}

static int utf8_all(const char *s, size_t n)
{
    uint32_t st = 0;
    if (http_ws_utf8(&st, (const uint8_t *)s, n) != 0)
        return -1;
    return st == 0 ? 0 : 1; /* 1: ends inside a character */
}

static void test_utf8_whole_and_split_at_every_byte(void **state)
{
    static const struct {
        const char *s;
        int want;
    } cases[] = {
        {"plain", 0},
        {"h\xc3\xa9", 0},
        {"\xe2\x82\xac", 0},
        {"\xf0\x9f\x98\x80", 0},
        {"\xf4\x8f\xbf\xbf", 0},
        {"\xc3", 1},
        {"\xe2\x82", 1},
        {"\xc0\xaf", -1},
        {"\xe0\x80\xaf", -1},
        {"\xed\xa0\x80", -1},
        {"\xf4\x90\x80\x80", -1},
        {"\xff", -1},
        {"\x80", -1},
        {"\xf5\x80\x80\x80", -1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].s);
        assert_int_equal(utf8_all(cases[i].s, n), cases[i].want);
        for (size_t at = 0; at <= n; at++) {
            uint32_t st = 0;
            int r = http_ws_utf8(&st, (const uint8_t *)cases[i].s, at);
            if (r == 0)
                r = http_ws_utf8(&st, (const uint8_t *)cases[i].s + at, n - at);
            int got = r ? -1 : (st ? 1 : 0);
            assert_int_equal(got, cases[i].want);
        }
    }
}

static void test_close_codes(void **state)
{
    (void)state;
    assert_true(http_ws_close_code_valid(1000));
    assert_true(http_ws_close_code_valid(1011));
    assert_true(http_ws_close_code_valid(4999));
    assert_false(http_ws_close_code_valid(999));
    assert_false(http_ws_close_code_valid(1005));
    assert_false(http_ws_close_code_valid(1006));
    assert_false(http_ws_close_code_valid(1015));
    assert_false(http_ws_close_code_valid(2999));
    assert_false(http_ws_close_code_valid(5000));
}

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha1_fips_examples_and_the_accept_key(void **state)
{
    uint8_t d[20];
    char text[41], accept[29];
    (void)state;
    http_ws_sha1("abc", 3, d);
    hex(d, 20, text);
    assert_string_equal(text, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    http_ws_sha1(two, strlen(two), d);
    hex(d, 20, text);
    assert_string_equal(text, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    http_ws_sha1("", 0, d);
    hex(d, 20, text);
    assert_string_equal(text, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert_int_equal(http_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, accept), 0);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(http_ws_accept_key("dGhlIHNhbXBsZSBub25jZR==", 24, accept), -1);
    assert_int_equal(http_ws_accept_key("dGhlIHNhbXBsZSBub25j", 20, accept), -1);
    assert_int_equal(http_ws_accept_key("dGhlIHNhbXBsZSBub2!jZQ==", 24, accept), -1);
}

static char *encode(const struct crest_sse_event *ev, bool chunked, long *len)
{
    size_t front, back;
    *len = http_sse_encode(ev, NULL, chunked, &front, &back);
    if (*len < 0)
        return NULL;
    char *out = calloc(1, (size_t)*len + 1);
    assert_int_equal(http_sse_encode(ev, out, chunked, &front, &back), *len);
    return out;
}

static void test_sse_event_fields_and_multiline_data(void **state)
{
    long len;
    (void)state;
    struct crest_sse_event ev = {
        .event = "tick", .id = "7", .data = "a\r\nb\rc\nd", .retry_ms = 50};
    char *t = encode(&ev, false, &len);
    assert_string_equal(t, "retry: 50\nid: 7\nevent: tick\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
    free(t);
    struct crest_sse_event one = {.data = "x"};
    t = encode(&one, true, &len);
    assert_string_equal(t, "9\r\ndata: x\n\n\r\n");
    free(t);
    struct crest_sse_event empty_line = {.data = "a\n"};
    t = encode(&empty_line, false, &len);
    assert_string_equal(t, "data: a\ndata: \n\n");
    free(t);
}

static void test_sse_fields_that_would_inject_a_line_are_refused(void **state)
{
    long len;
    (void)state;
    struct crest_sse_event bad_event = {.event = "tick\ndata: forged", .data = "x"};
    assert_null(encode(&bad_event, false, &len));
    assert_int_equal(len, -EINVAL);
    struct crest_sse_event bad_id = {.id = "1\r", .data = "x"};
    assert_null(encode(&bad_id, true, &len));
    assert_int_equal(len, -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_parses_whole_and_is_incomplete_at_every_prefix),
        cmocka_unit_test(test_frame_refusals_carry_their_close_code),
        cmocka_unit_test(test_frame_head_uses_the_shortest_length),
        cmocka_unit_test(test_utf8_whole_and_split_at_every_byte),
        cmocka_unit_test(test_close_codes),
        cmocka_unit_test(test_sha1_fips_examples_and_the_accept_key),
        cmocka_unit_test(test_sse_event_fields_and_multiline_data),
        cmocka_unit_test(test_sse_fields_that_would_inject_a_line_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
