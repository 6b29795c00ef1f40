/* tests/unit/test_req_file.c: files as responses (req/file.c, crest_res_file) and the static
 * mount (app/static.c, crest_app_add_static), issue 18, through the test client: validators,
 * RFC 9110's conditional requests (304, 412) and single ranges (206, 416; several ranges and a
 * stale If-Range answered whole), HEAD, and a mount that refuses "..", encoded or not, hidden
 * names, directories and a symbolic link out of its root while it follows one inside. Each test
 * makes its own directory under /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crest.h"

struct fixture {
    char dir[64];
    char outside[96];
    struct crest_app *app;
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[160];
    strcpy(f->dir, "/tmp/crest-file-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->outside, sizeof(f->outside), "%s.secret", f->dir);
    write_file(f->outside, "outside the root");
    snprintf(path, sizeof(path), "%s/hello.txt", f->dir);
    write_file(path, "0123456789abcdefghij"); /* 20 bytes */
    snprintf(path, sizeof(path), "%s/.hidden", f->dir);
    write_file(path, "hidden");
    snprintf(path, sizeof(path), "%s/sub", f->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/sub/page.html", f->dir);
    write_file(path, "<p>hi</p>");
    snprintf(path, sizeof(path), "%s/escape", f->dir);
    assert_int_equal(symlink(f->outside, path), 0);
    snprintf(path, sizeof(path), "%s/inside", f->dir);
    assert_int_equal(symlink("sub/page.html", path), 0);
    f->app = crest_app_new("files", "1");
    assert_int_equal(crest_app_add_static(f->app, "/static", f->dir), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[256];
    crest_app_free(f->app);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", f->dir, f->outside);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* GET target with extra header lines; returns the status, the body in res. */
static int get(struct fixture *f, const char *method, const char *target, const char *h1,
               const char *h2, struct crest_test_response *res)
{
    const char *headers[2];
    size_t n = 0;
    if (h1)
        headers[n++] = h1;
    if (h2)
        headers[n++] = h2;
    const struct crest_test_req r = {
        .method = method, .target = target, .headers = headers, .n_headers = n};
    assert_int_equal(crest_test_send(f->app, &r, res), 0);
    return res->status;
}

static void assert_body(const struct crest_test_response *res, const char *want)
{
    assert_int_equal(res->body.len, strlen(want));
    assert_memory_equal(res->body.ptr, want, strlen(want));
}

static void assert_header(const struct crest_test_response *res, const char *name, const char *want)
{
    struct crest_str v = crest_test_header(res, name);
    if (!v.ptr || v.len != strlen(want) || memcmp(v.ptr, want, v.len) != 0)
        fail_msg("%s: want \"%s\", got \"%.*s\"", name, want, (int)v.len, v.ptr ? v.ptr : "");
}

/* The file's ETag, as a full header line for a conditional request. */
static void etag_line(struct fixture *f, const char *field, char *out, size_t cap)
{
    struct crest_test_response res;
    get(f, "GET", "/static/hello.txt", NULL, NULL, &res);
    struct crest_str e = crest_test_header(&res, "ETag");
    snprintf(out, cap, "%s: %.*s", field, (int)e.len, e.ptr);
    crest_test_response_fini(&res);
}

static void test_file_whole_with_validators(void **state)
{
    struct fixture *f = *state;
    struct crest_test_response res;
    assert_int_equal(get(f, "GET", "/static/hello.txt", NULL, NULL, &res), 200);
    assert_body(&res, "0123456789abcdefghij");
    assert_header(&res, "Content-Length", "20");
    assert_header(&res, "Content-Type", "text/plain; charset=utf-8");
    assert_header(&res, "Accept-Ranges", "bytes");
    assert_non_null(crest_test_header(&res, "ETag").ptr);
    assert_int_equal(crest_test_header(&res, "Last-Modified").len, 29);
    crest_test_response_fini(&res);
    assert_int_equal(get(f, "HEAD", "/static/hello.txt", NULL, NULL, &res), 200);
    assert_body(&res, "");
    assert_header(&res, "Content-Length", "20");
    crest_test_response_fini(&res);
}

static void test_file_if_none_match_and_if_modified_since_give_304(void **state)
{
    struct fixture *f = *state;
    struct crest_test_response res;
    char line[128], weak[140];

    etag_line(f, "If-None-Match", line, sizeof(line));
    assert_int_equal(get(f, "GET", "/static/hello.txt", line, NULL, &res), 304);
    assert_body(&res, "");
    assert_non_null(crest_test_header(&res, "ETag").ptr);
    crest_test_response_fini(&res);
    snprintf(weak, sizeof(weak), "If-None-Match: \"x\", W/%s", line + 15);
    assert_int_equal(get(f, "GET", "/static/hello.txt", weak, NULL, &res), 304);
    crest_test_response_fini(&res);
    assert_int_equal(get(f, "GET", "/static/hello.txt", "If-None-Match: \"other\"", NULL, &res),
                     200);
    crest_test_response_fini(&res);
    assert_int_equal(get(f, "GET", "/static/hello.txt",
                         "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT", NULL, &res),
                     304);
    crest_test_response_fini(&res);
    assert_int_equal(get(f, "GET", "/static/hello.txt",
                         "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT", NULL, &res),
                     200);
    crest_test_response_fini(&res);
    /* obsolete formats a recipient must read (RFC 9110 5.6.7), and garbage ignored */
    assert_int_equal(get(f, "GET", "/static/hello.txt",
                         "If-Modified-Since: Friday, 01-Jan-99 00:00:00 GMT", NULL, &res),
                     200);
    crest_test_response_fini(&res);
    assert_int_equal(get(f, "GET", "/static/hello.txt",
                         "If-Modified-Since: Fri Jan  1 00:00:00 2100", NULL, &res),
                     304);
    crest_test_response_fini(&res);
    assert_int_equal(get(f, "GET", "/static/hello.txt", "If-Modified-Since: tomorrow", NULL, &res),
                     200);
    crest_test_response_fini(&res);
}

static void test_file_if_match_and_if_unmodified_since_give_412(void **state)
{
    struct fixture *f = *state;
    struct crest_test_response res;
    char line[128];

    assert_int_equal(get(f, "GET", "/static/hello.txt", "If-Match: \"other\"", NULL, &res), 412);
    assert_int_equal(strncmp(res.head.ptr, "HTTP/1.1 412 Precondition Failed\r\n", 34), 0);
    assert_body(&res, "{\"detail\":\"Precondition Failed\"}");
    crest_test_response_fini(&res);
    etag_line(f, "If-Match", line, sizeof(line));
    assert_int_equal(get(f, "GET", "/static/hello.txt", line, NULL, &res), 200);
    crest_test_response_fini(&res);
    assert_int_equal(get(f, "GET", "/static/hello.txt", "If-Match: *", NULL, &res), 200);
    crest_test_response_fini(&res);
    assert_int_equal(get(f, "GET", "/static/hello.txt",
                         "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT", NULL, &res),
                     412);
    crest_test_response_fini(&res);
}

static void test_file_single_ranges_give_206(void **state)
{
    struct fixture *f = *state;
    struct crest_test_response res;
    static const struct {
        const char *range, *body, *content_range;
    } cases[] = {
        {"Range: bytes=0-4", "01234", "bytes 0-4/20"},
        {"Range: bytes=10-", "abcdefghij", "bytes 10-19/20"},
        {"Range: bytes=-3", "hij", "bytes 17-19/20"},
        {"Range: bytes=15-99", "fghij", "bytes 15-19/20"},
        {"Range: bytes=-50", "0123456789abcdefghij", "bytes 0-19/20"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(get(f, "GET", "/static/hello.txt", cases[i].range, NULL, &res), 206);
        assert_int_equal(strncmp(res.head.ptr, "HTTP/1.1 206 Partial Content\r\n", 30), 0);
        assert_body(&res, cases[i].body);
        assert_header(&res, "Content-Range", cases[i].content_range);
        crest_test_response_fini(&res);
    }
}

static void test_file_unsatisfiable_range_is_416_and_others_are_ignored(void **state)
{
    struct fixture *f = *state;
    struct crest_test_response res;
    static const char *const ignored[] = {"Range: bytes=0-1,5-6", "Range: items=0-1",
                                          "Range: bytes=5-2", "Range: bytes=x-"};

    assert_int_equal(get(f, "GET", "/static/hello.txt", "Range: bytes=20-", NULL, &res), 416);
    assert_int_equal(strncmp(res.head.ptr, "HTTP/1.1 416 Range Not Satisfiable\r\n", 36), 0);
    assert_header(&res, "Content-Range", "bytes */20");
    crest_test_response_fini(&res);
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
        assert_int_equal(get(f, "GET", "/static/hello.txt", ignored[i], NULL, &res), 200);
        assert_body(&res, "0123456789abcdefghij");
        crest_test_response_fini(&res);
    }
    /* a stale If-Range: the whole file; a fresh one: the range */
    assert_int_equal(
        get(f, "GET", "/static/hello.txt", "Range: bytes=0-1", "If-Range: \"stale\"", &res), 200);
    crest_test_response_fini(&res);
    char line[128];
    etag_line(f, "If-Range", line, sizeof(line));
    assert_int_equal(get(f, "GET", "/static/hello.txt", "Range: bytes=0-1", line, &res), 206);
    assert_body(&res, "01");
    crest_test_response_fini(&res);
}

static void test_static_serves_nested_files_and_links_inside(void **state)
{
    struct fixture *f = *state;
    struct crest_test_response res;
    assert_int_equal(get(f, "GET", "/static/sub/page.html", NULL, NULL, &res), 200);
    assert_body(&res, "<p>hi</p>");
    assert_header(&res, "Content-Type", "text/html; charset=utf-8");
    crest_test_response_fini(&res);
    assert_int_equal(get(f, "GET", "/static/inside", NULL, NULL, &res), 200);
    assert_body(&res, "<p>hi</p>");
    crest_test_response_fini(&res);
    assert_int_equal(get(f, "GET", "/static/sub%2Fpage.html", NULL, NULL, &res), 200);
    crest_test_response_fini(&res);
}

static void test_static_refuses_what_is_not_a_plain_file_inside(void **state)
{
    struct fixture *f = *state;
    struct crest_test_response res;
    static const char *const refused[] = {
        "/static/../hello.txt",
        "/static/sub/../../x",
        "/static/%2e%2e/etc/passwd",
        "/static/sub/%2E%2E/%2E%2E",
        "/static/.hidden",
        "/static/sub/.%68idden",
        "/static/escape",
        "/static/sub",
        "/static/missing.txt",
        "/static/sub//page.html",
        "/static/%2Fetc/passwd",
        "/static/./hello.txt",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        int status = get(f, "GET", refused[i], NULL, NULL, &res);
        if (status != 404)
            fail_msg("%s: %d", refused[i], status);
        assert_null(memmem(res.body.ptr, res.body.len, "outside", 7));
        crest_test_response_fini(&res);
    }
}

static void test_static_mount_arguments(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(crest_app_add_static(f->app, "static", f->dir), -EINVAL);
    assert_int_equal(crest_app_add_static(f->app, "/other", "/nonexistent-dir-xyz"), -ENOENT);
    assert_int_equal(crest_app_add_static(f->app, "/static", f->dir), -EEXIST);
    assert_string_equal(crest_file_type("a/b.WOFF2"), "font/woff2");
    assert_string_equal(crest_file_type("a.b/c"), "application/octet-stream");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_file_whole_with_validators),
        T(test_file_if_none_match_and_if_modified_since_give_304),
        T(test_file_if_match_and_if_unmodified_since_give_412),
        T(test_file_single_ranges_give_206),
        T(test_file_unsatisfiable_range_is_416_and_others_are_ignored),
        T(test_static_serves_nested_files_and_links_inside),
        T(test_static_refuses_what_is_not_a_plain_file_inside),
        T(test_static_mount_arguments),
    };
#undef T
    return cmocka_run_group_tests_name("req_file", tests, NULL, NULL);
}
