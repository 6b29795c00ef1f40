/* tests/unit/test_req_multipart.c: the multipart/form-data parser (req/multipart.c, issue 18) on
 * (state, bytes) alone: every sample body cut at every byte, and fed byte by byte, gives the same
 * parts; boundaries from Content-Type (quoted, case, bad ones); the limits on parts, field and file
 * sizes and header sections; malformed and truncated bodies; a callback's error stops it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>

#include "req/req.h"

#define LIT(s) s, sizeof(s) - 1

/* What the callbacks saw, as text: "[name|filename|type]data;" per part. */
struct seen {
    char text[4096];
    size_t len;
    int begins, ends;
    int fail_begin; /* a negative errno to return from the begin of this many-th part */
};

static void add(struct seen *s, const char *p, size_t n)
{
    assert_true(s->len + n < sizeof(s->text));
    memcpy(s->text + s->len, p, n);
    s->len += n;
    s->text[s->len] = '\0';
}

static int on_begin(void *ud, const struct crest_part *part)
{
    struct seen *s = ud;
    assert_int_equal(part->index, (uint32_t)s->begins);
    if (s->fail_begin && ++s->begins == s->fail_begin)
        return -EPERM;
    if (!s->fail_begin)
        s->begins++;
    add(s, "[", 1);
    add(s, part->name.ptr, part->name.len);
    add(s, "|", 1);
    if (part->filename.ptr)
        add(s, part->filename.ptr, part->filename.len);
    add(s, "|", 1);
    if (part->content_type.ptr)
        add(s, part->content_type.ptr, part->content_type.len);
    add(s, "]", 1);
    return 0;
}

static int on_data(void *ud, const struct crest_part *part, const void *data, size_t len)
{
    (void)part;
    assert_true(len > 0);
    add(ud, data, len);
    return 0;
}

static int on_end(void *ud, const struct crest_part *part)
{
    struct seen *s = ud;
    (void)part;
    s->ends++;
    add(s, ";", 1);
    return 0;
}

struct run {
    struct crest_multipart mp;
    char hbuf[8192];
    struct seen seen;
};

static void start(struct run *r, const char *boundary, struct crest_multipart_config cfg)
{
    memset(&r->seen, 0, sizeof(r->seen));
    cfg.part_begin = on_begin;
    cfg.part_data = on_data;
    cfg.part_end = on_end;
    cfg.ud = &r->seen;
    assert_true(req_multipart_header_bytes(&cfg) <= sizeof(r->hbuf));
    req_multipart_init(&r->mp, (struct crest_str){boundary, strlen(boundary)}, &cfg, r->hbuf);
}

/* Feeds body in the pieces cuts says (increasing offsets, the last one its length); returns
 * feed's first error, else finish's status. */
static int parse_cut(struct run *r, const char *boundary, struct crest_multipart_config cfg,
                     const char *body, size_t len, const size_t *cuts, size_t n_cuts)
{
    size_t from = 0;
    start(r, boundary, cfg);
    for (size_t k = 0; k <= n_cuts; k++) {
        size_t to = k < n_cuts ? cuts[k] : len;
        /* each piece in a buffer of its own size, so a read past it is caught (ASan) */
        char *piece = malloc(to - from + 1);
        memcpy(piece, body + from, to - from);
        int err = req_multipart_feed(&r->mp, piece, to - from);
        free(piece);
        if (err)
            return err;
        from = to;
    }
    return req_multipart_finish(&r->mp);
}

static const char form[] =
    "preamble to ignore\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"title\"\r\n"
    "\r\n"
    "hello\r\nworld\r\n"
    "--XyZ  \r\n"
    "content-disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".txt\"\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "line1\r\n--XyYnot\r\n-\r\r\n--Xy\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=empty; filename=\"\"\r\n"
    "\r\n"
    "\r\n"
    "--XyZ--\r\n"
    "epilogue, ignored too --XyZ\r\n";
static const char form_seen[] = "[title||]hello\r\nworld;"
                                "[file|a \"b\".txt|text/plain]line1\r\n--XyYnot\r\n-\r\r\n--Xy;"
                                "[empty||];";

static void test_multipart_parses_a_form_whole(void **state)
{
    struct run r;
    (void)state;
    assert_int_equal(parse_cut(&r, "XyZ", (struct crest_multipart_config){0}, LIT(form), NULL, 0),
                     0);
    assert_string_equal(r.seen.text, form_seen);
    assert_int_equal(r.seen.ends, 3);
}

static void test_multipart_parses_the_same_cut_at_every_byte(void **state)
{
    struct run r;
    (void)state;
    for (size_t at = 0; at <= sizeof(form) - 1; at++) {
        assert_int_equal(
            parse_cut(&r, "XyZ", (struct crest_multipart_config){0}, LIT(form), &at, 1), 0);
        assert_string_equal(r.seen.text, form_seen);
    }
    for (size_t a = 1; a < sizeof(form) - 1; a += 7) /* and at every pair of bytes, sampled */
        for (size_t b = a; b <= sizeof(form) - 1; b++) {
            size_t cuts[2] = {a, b};
            assert_int_equal(
                parse_cut(&r, "XyZ", (struct crest_multipart_config){0}, LIT(form), cuts, 2), 0);
            assert_string_equal(r.seen.text, form_seen);
        }
}

static void test_multipart_parses_the_same_byte_by_byte(void **state)
{
    struct run r;
    size_t cuts[sizeof(form)];
    (void)state;
    for (size_t i = 0; i < sizeof(form) - 1; i++)
        cuts[i] = i + 1;
    assert_int_equal(
        parse_cut(&r, "XyZ", (struct crest_multipart_config){0}, LIT(form), cuts, sizeof(form) - 1),
        0);
    assert_string_equal(r.seen.text, form_seen);
}

static void test_multipart_body_may_start_with_the_delimiter(void **state)
{
    struct run r;
    (void)state;
    static const char body[] = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--";
    assert_int_equal(parse_cut(&r, "b", (struct crest_multipart_config){0}, LIT(body), NULL, 0), 0);
    assert_string_equal(r.seen.text, "[a||]1;");
}

static int expect_error(const char *body, size_t len, struct crest_multipart_config cfg,
                        const char *why)
{
    struct run r;
    int err = parse_cut(&r, "b", cfg, body, len, NULL, 0);
    assert_non_null(r.mp.error);
    assert_string_equal(r.mp.error, why);
    /* the error is sticky: more bytes change nothing */
    assert_int_equal(req_multipart_feed(&r.mp, "x", 1), err);
    assert_int_equal(req_multipart_finish(&r.mp), err);
    return err;
}

static void test_multipart_refuses_malformed_bodies(void **state)
{
    struct crest_multipart_config none = {0};
    (void)state;
    assert_int_equal(expect_error(LIT("--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1"),
                                  none, "Multipart body truncated"),
                     -EBADMSG);
    assert_int_equal(expect_error(LIT(""), none, "Multipart body truncated"), -EBADMSG);
    assert_int_equal(expect_error(LIT("no delimiter at all"), none, "Multipart body truncated"),
                     -EBADMSG);
    assert_int_equal(expect_error(LIT("--bx\r\n"), none, "Malformed multipart delimiter"),
                     -EBADMSG);
    assert_int_equal(expect_error(LIT("--b-x"), none, "Malformed multipart delimiter"), -EBADMSG);
    assert_int_equal(expect_error(LIT("--b\rx"), none, "Malformed multipart delimiter"), -EBADMSG);
    assert_int_equal(expect_error(LIT("--b\r\nContent-Disposition: attachment; name=a\r\n\r\n"),
                                  none, "A part's Content-Disposition is not form-data"),
                     -EBADMSG);
    assert_int_equal(expect_error(LIT("--b\r\nContent-Type: text/plain\r\n\r\n"), none,
                                  "A part has no form-data name"),
                     -EBADMSG);
    assert_int_equal(expect_error(LIT("--b\r\n\r\n"), none, "A part has no form-data name"),
                     -EBADMSG);
    assert_int_equal(
        expect_error(LIT("--b\r\nno colon\r\n\r\n"), none, "Malformed header in a part"), -EBADMSG);
    assert_int_equal(expect_error(LIT("--b\r\nContent-Disposition: form-data;\r\n folded\r\n\r\n"),
                                  none, "Malformed Content-Disposition in a part"),
                     -EBADMSG);
    assert_int_equal(expect_error(LIT("--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\n"),
                                  none, "Malformed Content-Disposition in a part"),
                     -EBADMSG);
}

static void test_multipart_enforces_its_limits(void **state)
{
    (void)state;
    static const char two[] = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
                              "--b\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n--b--";
    assert_int_equal(expect_error(LIT(two), (struct crest_multipart_config){.max_parts = 1},
                                  "Too many parts in the form"),
                     -EMSGSIZE);
    static const char big[] = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n12345\r\n--b--";
    assert_int_equal(expect_error(LIT(big), (struct crest_multipart_config){.max_field_bytes = 4},
                                  "A form field is too large"),
                     -EMSGSIZE);
    static const char file[] =
        "--b\r\nContent-Disposition: form-data; name=a; filename=f\r\n\r\n12345\r\n--b--";
    assert_int_equal(expect_error(LIT(file), (struct crest_multipart_config){.max_file_bytes = 4},
                                  "A file in the form is too large"),
                     -EMSGSIZE);
    /* a file is not a field: the field limit does not apply to it */
    struct run r;
    assert_int_equal(parse_cut(&r, "b", (struct crest_multipart_config){.max_field_bytes = 4},
                               LIT(file), NULL, 0),
                     0);
    assert_int_equal(expect_error(LIT(file),
                                  (struct crest_multipart_config){.max_header_bytes = 20},
                                  "A part's headers are too large"),
                     -EMSGSIZE);
}

static void test_multipart_stops_at_a_callback_error(void **state)
{
    struct run r;
    (void)state;
    start(&r, "XyZ", (struct crest_multipart_config){0});
    r.seen.fail_begin = 2;
    assert_int_equal(req_multipart_feed(&r.mp, LIT(form)), -EPERM);
    assert_int_equal(req_multipart_finish(&r.mp), -EPERM);
    assert_string_equal(r.mp.error, "The form's part was refused");
}

static int boundary_of(const char *content_type, char *out)
{
    char copy[256];
    struct crest_str b;
    int err = req_multipart_boundary((struct crest_str){content_type, strlen(content_type)}, copy,
                                     sizeof(copy), &b);
    if (!err) {
        memcpy(out, b.ptr, b.len);
        out[b.len] = '\0';
    }
    return err;
}

static void test_multipart_boundary_comes_from_the_content_type(void **state)
{
    char b[128];
    (void)state;
    assert_int_equal(boundary_of("multipart/form-data; boundary=abc", b), 0);
    assert_string_equal(b, "abc");
    assert_int_equal(boundary_of("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b:c\"", b), 0);
    assert_string_equal(b, "a b:c");
    assert_int_equal(boundary_of("multipart/form-data; boundary=----WebKitFormBoundary7MA4YW", b),
                     0);
    assert_string_equal(b, "----WebKitFormBoundary7MA4YW");
    assert_int_equal(boundary_of("multipart/form-data", b), -EINVAL);
    assert_int_equal(boundary_of("multipart/form-data; boundary=", b), -EINVAL);
    assert_int_equal(boundary_of("multipart/form-data; boundary=\"ends with space \"", b), -EINVAL);
    assert_int_equal(boundary_of("multipart/form-data; boundary=a\x01", b), -EINVAL);
    assert_int_equal(boundary_of("multipart/mixed; boundary=abc", b), -EINVAL);
    assert_int_equal(boundary_of("application/json", b), -EINVAL);
    assert_int_equal(boundary_of("multipart/form-data; boundary=\"unterminated", b), -EINVAL);
    char long71[128] = "multipart/form-data; boundary=";
    memset(long71 + strlen(long71), 'x', 71);
    assert_int_equal(boundary_of(long71, b), -EINVAL);
    long71[strlen(long71) - 1] = '\0';
    assert_int_equal(boundary_of(long71, b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multipart_parses_a_form_whole),
        cmocka_unit_test(test_multipart_parses_the_same_cut_at_every_byte),
        cmocka_unit_test(test_multipart_parses_the_same_byte_by_byte),
        cmocka_unit_test(test_multipart_body_may_start_with_the_delimiter),
        cmocka_unit_test(test_multipart_refuses_malformed_bodies),
        cmocka_unit_test(test_multipart_enforces_its_limits),
        cmocka_unit_test(test_multipart_stops_at_a_callback_error),
        cmocka_unit_test(test_multipart_boundary_comes_from_the_content_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
