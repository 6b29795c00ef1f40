/* tests/unit/test_http_host.c: the Host value grammar (http/host.c, issue 13). Every byte value is
 * tried in each position of the grammar (a reg-name, a port, an IPv6 literal, an IPvFuture
 * literal) against a class table written here from RFC 3986's own lists, and tables of whole
 * values cover the IPv4, IPv6 and port rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/host.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* RFC 3986 2.3 and 2.2, spelt out instead of shared with the code under test */
static bool is_unreserved(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("-._~", c) != NULL);
}

static bool is_sub_delim(int c)
{
    return c != 0 && strchr("!$&'()*+,;=", c) != NULL;
}

static bool is_hexdig(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool valid(const char *s)
{
    return http_host_is_valid(s, (uint32_t)strlen(s));
}

/* "a" c "b": a reg-name takes unreserved and sub-delims; "%" only as pct-encoded, ":" only
 * before a port, so both fail here with a letter after them. */
static void test_host_reg_name_takes_exactly_unreserved_and_sub_delims(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        char v[3] = {'a', (char)c, 'b'};
        bool want = is_unreserved(c) || is_sub_delim(c);
        if (http_host_is_valid(v, 3) != want)
            fail_msg("byte 0x%02x in a reg-name: want %s", c, want ? "valid" : "invalid");
    }
}

static void test_host_port_takes_only_digits(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        char v[5] = {'a', ':', '8', (char)c, '0'};
        bool want = c >= '0' && c <= '9';
        if (http_host_is_valid(v, 5) != want)
            fail_msg("byte 0x%02x in a port: want %s", c, want ? "valid" : "invalid");
    }
}

/* "[::" c "]": an IPv6 piece takes hex digits only */
static void test_host_ipv6_literal_takes_only_hex_digits(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        char v[5] = {'[', ':', ':', (char)c, ']'};
        bool want = is_hexdig(c);
        if (http_host_is_valid(v, 5) != want)
            fail_msg("byte 0x%02x in an IPv6 piece: want %s", c, want ? "valid" : "invalid");
    }
}

/* "[v1." c "]": IPvFuture's tail takes unreserved, sub-delims and ":" */
static void test_host_ipvfuture_tail_takes_unreserved_sub_delims_and_colon(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        char v[6] = {'[', 'v', '1', '.', (char)c, ']'};
        bool want = is_unreserved(c) || is_sub_delim(c) || c == ':';
        if (http_host_is_valid(v, 6) != want)
            fail_msg("byte 0x%02x in an IPvFuture: want %s", c, want ? "valid" : "invalid");
    }
}

static void test_host_percent_needs_two_hex_digits(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        char v[4] = {'%', '4', (char)c, 'x'};
        bool want = is_hexdig(c);
        if (http_host_is_valid(v, 4) != want)
            fail_msg("%%4 then byte 0x%02x: want %s", c, want ? "valid" : "invalid");
    }
    assert_false(valid("a%"));
    assert_false(valid("a%4"));
    assert_true(valid("a%4F"));
}

static const char *const valid_hosts[] = {
    "", /* RFC 9112 3.2: no authority in the target */
    "example.com",
    "EXAMPLE.com:8080",
    "localhost:",
    "a:0",
    "127.0.0.1",
    "127.0.0.1:80",
    "999.999.999.999", /* a reg-name, as RFC 3986 3.2.2 says such a value is */
    "xn--caf-dma.fr",
    "[::]",
    "[::1]",
    "[::1]:8080",
    "[::1]:",
    "[1::]",
    "[1:2:3:4:5:6:7:8]",
    "[1:2:3:4:5:6:7::]",
    "[::2:3:4:5:6:7:8]",
    "[1::8]",
    "[ABCD:ef01::1]",
    "[::ffff:192.168.0.1]",
    "[1:2:3:4:5:6:1.2.3.4]",
    "[::1.2.3.4]",
    "[1::255.255.255.255]:443",
    ":80", /* an empty reg-name with a port: the grammar allows it */
    "[v1.x]",
    "[V7f.a:b!$]",
    "[vF.::]",
};

static const char *const invalid_hosts[] = {
    "exa mple.com",
    "a\tb",
    "a/b",
    "a?b",
    "a#b",
    "a@b",
    "user:pw@host",
    "a:8a",
    "a:80:81",
    "a:-1",
    "a:80 ",
    "a[b]",
    "a]",
    "::1",
    "[::1",
    "::1]",
    "[]",
    "[::1]x",
    "[::1]]",
    "[::1]:8a",
    "[:1]",
    "[1:]",
    "[:::]",
    "[1:::2]",
    "[1::2::3]",
    "[12345::]",
    "[1:2:3:4:5:6:7:8:9]",
    "[1:2:3:4:5:6:7]",
    "[::1:2:3:4:5:6:7:8]",
    "[1:2:3:4:5:6:7:1.2.3.4]",
    "[::1.2.3]",
    "[::1.2.3.4.5]",
    "[::256.1.1.1]",
    "[::01.1.1.1]",
    "[::1.2.3.4:5]",
    "[g::]",
    "[::1%25eth0]",
    "[v.x]",
    "[v1.]",
    "[v1x]",
    "[vx.a]",
    "[v1.a/b]",
    "caf\xc3\xa9",
    "a\x7f",
    "\"a\"",
    "a<b>",
    "a\\b",
    "a^b",
    "a`b",
    "a{b}",
    "a|b",
};

static void test_host_accepts_valid_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(valid_hosts); i++)
        if (!valid(valid_hosts[i]))
            fail_msg("\"%s\" should be valid", valid_hosts[i]);
}

static void test_host_rejects_invalid_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(invalid_hosts); i++)
        if (valid(invalid_hosts[i]))
            fail_msg("\"%s\" should be invalid", invalid_hosts[i]);
}

/* the length is honoured: a NUL or valid bytes past len change nothing */
static void test_host_reads_only_len_bytes(void **state)
{
    (void)state;
    assert_true(http_host_is_valid("a b", 1));
    assert_false(http_host_is_valid("a\0b", 3));
    assert_true(http_host_is_valid("[::1]:80/x", 8));
    assert_false(http_host_is_valid("[::1]", 4));
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_reg_name_takes_exactly_unreserved_and_sub_delims),
        cmocka_unit_test(test_host_port_takes_only_digits),
        cmocka_unit_test(test_host_ipv6_literal_takes_only_hex_digits),
        cmocka_unit_test(test_host_ipvfuture_tail_takes_unreserved_sub_delims_and_colon),
        cmocka_unit_test(test_host_percent_needs_two_hex_digits),
        cmocka_unit_test(test_host_accepts_valid_values),
        cmocka_unit_test(test_host_rejects_invalid_values),
        cmocka_unit_test(test_host_reads_only_len_bytes),
    };
    return cmocka_run_group_tests_name("http_host", tests, NULL, NULL);
}
