/* tests/unit/test_mw_proxy.c: trusted proxies (mw/proxy.c, crest_app_trust_proxies,
 * crest_req_client, issue 16). Proxy lists (IPv4, IPv6, CIDRs, "*", bad entries), the client named
 * by X-Forwarded-For and Forwarded (RFC 7239: quoted, bracketed IPv6, ports, several elements),
 * walked from the right past trusted hops, and every malformed form ignored; then through the test
 * client, whose peer is 127.0.0.1: trusted, the client is the header's, untrusted it is the peer,
 * and a repeated header is believed in neither copy. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crest.h"
#include "mw/mw.h"

static void test_proxy_list_parses_addresses_and_cidrs(void **state)
{
    struct mw_proxy_list l;
    (void)state;

    assert_int_equal(mw_proxy_parse_list("127.0.0.1, 10.0.0.0/8 ::1,fd00::/8", &l), 0);
    assert_int_equal(l.n, 4);
    assert_false(l.any);
    assert_true(mw_proxy_trusted(&l, "127.0.0.1", 9));
    assert_false(mw_proxy_trusted(&l, "127.0.0.2", 9));
    assert_true(mw_proxy_trusted(&l, "10.200.3.4", 10));
    assert_false(mw_proxy_trusted(&l, "11.0.0.1", 8));
    assert_true(mw_proxy_trusted(&l, "::1", 3));
    assert_true(mw_proxy_trusted(&l, "fd12:3456::1", 12));
    assert_false(mw_proxy_trusted(&l, "fe80::1", 7));
    assert_true(mw_proxy_trusted(&l, "::ffff:10.1.2.3", 15)); /* mapped: the IPv4 address */
    assert_false(mw_proxy_trusted(&l, "garbage", 7));
    assert_int_equal(mw_proxy_parse_list("192.168.1.0/23", &l), 0);
    assert_true(mw_proxy_trusted(&l, "192.168.0.9", 11));
    assert_false(mw_proxy_trusted(&l, "192.168.2.9", 11));
    assert_int_equal(mw_proxy_parse_list("*", &l), 0);
    assert_true(l.any);
    assert_true(mw_proxy_trusted(&l, "203.0.113.5", 11));
}

static void test_proxy_list_refuses_bad_entries(void **state)
{
    static const char *const bad[] = {
        "",           "  ,, ",     "10.0.0.0/33", "::1/129",     "10.0.0.0/",
        "10.0.0.0/x", "localhost", "1.2.3",       "1.2.3.4/8/8", "10.0.0.0/0008"};
    struct mw_proxy_list l;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (mw_proxy_parse_list(bad[i], &l) != -EINVAL)
            fail_msg("\"%s\" accepted", bad[i]);
    char many[MW_PROXY_MAX_NETS * 16 + 16] = "";
    for (int i = 0; i <= MW_PROXY_MAX_NETS; i++)
        sprintf(many + strlen(many), "10.0.0.%d,", i);
    assert_int_equal(mw_proxy_parse_list(many, &l), -EINVAL);
}

static const char *client(const char *list, const char *fwd, const char *xff)
{
    static char out[MW_PROXY_ADDR_LEN];
    struct mw_proxy_list l;
    assert_int_equal(mw_proxy_parse_list(list, &l), 0);
    size_t n = mw_proxy_client(&l, (struct crest_str){fwd, fwd ? strlen(fwd) : 0},
                               (struct crest_str){xff, xff ? strlen(xff) : 0}, out);
    assert_int_equal(n, strlen(out));
    return n ? out : NULL;
}

static void expect(const char *got, const char *want, const char *what)
{
    if (!want && got)
        fail_msg("%s: want none, got %s", what, got);
    if (want && (!got || strcmp(got, want) != 0))
        fail_msg("%s: want %s, got %s", what, want, got ? got : "none");
}

static void test_proxy_client_from_x_forwarded_for_walks_from_the_right(void **state)
{
    (void)state;
    expect(client("127.0.0.1", NULL, "203.0.113.7"), "203.0.113.7", "one hop");
    expect(client("127.0.0.1", NULL, " 203.0.113.7 ,127.0.0.1"), "203.0.113.7", "trusted hop");
    /* a client prepending a forged address gets its own address reported, not the forgery */
    expect(client("127.0.0.1", NULL, "1.1.1.1, 198.51.100.2"), "198.51.100.2", "forged left");
    expect(client("10.0.0.0/8", NULL, "198.51.100.2, 10.0.0.5, 10.0.0.6"), "198.51.100.2",
           "two proxies");
    expect(client("*", NULL, "198.51.100.2, 10.0.0.5"), "198.51.100.2", "* takes the leftmost");
    expect(client("127.0.0.1", NULL, "127.0.0.1"), "127.0.0.1", "all trusted: leftmost");
    expect(client("127.0.0.1", NULL, "2001:DB8::0001"), "2001:db8::1", "IPv6, canonical");
    expect(client("127.0.0.1", NULL, "192.0.2.1:8080"), "192.0.2.1", "with a port");
    expect(client("127.0.0.1", NULL, "[2001:db8::1]:443"), "2001:db8::1", "bracketed");
    expect(client("127.0.0.1", NULL, "::ffff:192.0.2.9"), "192.0.2.9", "mapped IPv4");
}

static void test_proxy_client_from_forwarded_rfc7239(void **state)
{
    (void)state;
    expect(client("127.0.0.1", "for=192.0.2.60;proto=http;by=203.0.113.43", NULL), "192.0.2.60",
           "rfc 7239 4");
    expect(client("127.0.0.1", "For=\"[2001:db8:cafe::17]:4711\"", NULL), "2001:db8:cafe::17",
           "quoted IPv6 with port");
    expect(client("127.0.0.1", "for=192.0.2.43, for=198.51.100.17", NULL), "198.51.100.17",
           "two elements");
    expect(client("127.0.0.1", "proto=https; for=\"192.0.2.1:1\"", "9.9.9.9"), "192.0.2.1",
           "Forwarded wins over X-Forwarded-For");
}

static void test_proxy_client_ignores_malformed_headers(void **state)
{
    static const char *const xff[] = {
        "",           "unknown",   "not an address",  "1.2.3.4, ",
        ",",          "1.2.3.4,,", "1.2.3.4 5.6.7.8", "1.2.3.4\r\nX: y",
        "[::1",       "[1.2.3.4]", "1.2.3.4:80:90:1", "999.1.1.1",
        "1.2.3.4%00", "::1]:80",
    };
    static const char *const fwd[] = {
        "for=unknown",       "for=_hidden", "proto=http",  "for=\"1.2.3.4",
        "for=\"1.2.\\3.4\"", "for=",        "for 1.2.3.4", "for=[::1]x",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(xff) / sizeof(xff[0]); i++)
        expect(client("127.0.0.1", NULL, xff[i]), NULL, xff[i]);
    for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
        expect(client("127.0.0.1", fwd[i], NULL), NULL, fwd[i]);
    /* more hops than MW_PROXY_MAX_HOPS, all trusted: believe none of it */
    char *chain = malloc(64 * 12);
    chain[0] = '\0';
    for (int i = 0; i < 40; i++)
        strcat(chain, i ? ", 127.0.0.1" : "127.0.0.1");
    expect(client("127.0.0.1", NULL, chain), NULL, "40 hops");
    free(chain);
}

/* ---- through the test client (its peer is 127.0.0.1) ---- */

static enum crest_handler_result who(struct crest_req *req, void *ud)
{
    (void)ud;
    struct crest_str c = crest_req_client(req);
    assert_int_equal(crest_res_body(req, "text/plain", c.ptr, c.len), 0);
    return CREST_DONE;
}

static void ask(struct crest_app *app, const char *const *h, size_t n, const char *want)
{
    struct crest_test_response res;
    const struct crest_test_req r = {
        .method = "GET", .target = "/who", .headers = h, .n_headers = n};
    assert_int_equal(crest_test_send(app, &r, &res), 0);
    assert_int_equal(res.status, 200);
    if (res.body.len != strlen(want) || memcmp(res.body.ptr, want, res.body.len) != 0)
        fail_msg("want %s, got %.*s", want, (int)res.body.len, res.body.ptr);
    crest_test_response_fini(&res);
}

static struct crest_app *app_trusting(const char *list)
{
    struct crest_app *app = crest_app_new("proxy", "1");
    const struct crest_route r = {.method = "GET", .path = "/who", .handler = who};
    assert_int_equal(crest_app_add_route(app, &r, NULL), 0);
    if (list)
        assert_int_equal(crest_app_trust_proxies(app, list), 0);
    return app;
}

static void test_proxy_headers_count_only_from_a_trusted_peer(void **state)
{
    static const char *const xff[] = {"X-Forwarded-For: 198.51.100.2"};
    static const char *const fwd[] = {"Forwarded: for=\"[2001:db8::5]\""};
    static const char *const twice[] = {"X-Forwarded-For: 198.51.100.2",
                                        "X-Forwarded-For: 203.0.113.1"};
    (void)state;

    struct crest_app *app = app_trusting(NULL); /* no proxies: the peer, whatever is sent */
    ask(app, xff, 1, "127.0.0.1");
    crest_app_free(app);
    app = app_trusting("10.0.0.0/8"); /* the peer is not one of them */
    ask(app, xff, 1, "127.0.0.1");
    crest_app_free(app);
    app = app_trusting("127.0.0.1");
    ask(app, xff, 1, "198.51.100.2");
    ask(app, fwd, 1, "2001:db8::5");
    ask(app, twice, 2, "127.0.0.1");
    ask(app, NULL, 0, "127.0.0.1");
    assert_int_equal(crest_app_trust_proxies(app, "::1"), -EEXIST);
    crest_app_free(app);
    app = crest_app_new("proxy", "1");
    assert_int_equal(crest_app_trust_proxies(app, "bad"), -EINVAL);
    crest_app_free(app);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proxy_list_parses_addresses_and_cidrs),
        cmocka_unit_test(test_proxy_list_refuses_bad_entries),
        cmocka_unit_test(test_proxy_client_from_x_forwarded_for_walks_from_the_right),
        cmocka_unit_test(test_proxy_client_from_forwarded_rfc7239),
        cmocka_unit_test(test_proxy_client_ignores_malformed_headers),
        cmocka_unit_test(test_proxy_headers_count_only_from_a_trusted_peer),
    };
    return cmocka_run_group_tests_name("mw_proxy", tests, NULL, NULL);
}
