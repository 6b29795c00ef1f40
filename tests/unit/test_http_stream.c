/* tests/unit/test_http_stream.c: streamed responses (http/stream.c, crest_res_stream, issue 18)
 * through the test client: chunked framing for HTTP/1.1 and a close-delimited body for HTTP/1.0,
 * HEAD without a producer call, a producer that waits and is resumed by a timer, a producer that
 * fails and leaves the body cut, a request pipelined after a stream, a stream begun by a pending
 * handler, writes refused outside the producer, and the window that bounds the output buffer
 * whatever the body's size. Each test builds its own app. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>

#include "crest.h"
#include "mem/mem.h"

#define LIT(s) s, sizeof(s) - 1

struct counter {
    int pieces;     /* pieces to write */
    size_t size;    /* bytes per piece */
    int written;    /* pieces written so far */
    int produced;   /* calls of produce */
    int fail_at;    /* >0: FAIL after this many pieces */
    int wait_every; /* >0: WAIT after each this many pieces */
    int done_calls;
    int done_status;
    int64_t max_out;           /* the most MEM_OUT bytes live during the stream */
    struct crest_timer *timer; /* resumes a waiting stream */
    struct crest_stream *st;
};

static void note_out(struct counter *c)
{
    struct mem_tag_stats out;
    mem_stats(MEM_OUT, &out);
    if (out.live_bytes > c->max_out)
        c->max_out = out.live_bytes;
}

static void resume(struct crest_timer *t, void *ud)
{
    struct counter *c = ud;
    crest_timer_stop(t);
    c->timer = NULL;
    crest_stream_resume(c->st);
}

static enum crest_stream_next produce(struct crest_stream *st, void *ud)
{
    struct counter *c = ud;
    char piece[4096];

    c->produced++;
    c->st = st;
    note_out(c);
    if (c->fail_at && c->written == c->fail_at)
        return CREST_STREAM_FAIL;
    if (c->written == c->pieces)
        return CREST_STREAM_END;
    memset(piece, 'a' + c->written % 26, sizeof(piece));
    assert_true(c->size <= sizeof(piece));
    assert_int_equal(crest_stream_write(st, piece, c->size), 0);
    c->written++;
    if (c->wait_every && c->written % c->wait_every == 0) {
        assert_int_equal(
            crest_timer_start(crest_req_loop(crest_stream_req(st)), 2, 0, resume, c, &c->timer), 0);
        return CREST_STREAM_WAIT;
    }
    return CREST_STREAM_MORE;
}

static void done(void *ud, int status)
{
    struct counter *c = ud;
    c->done_calls++;
    c->done_status = status;
}

static enum crest_handler_result stream_handler(struct crest_req *req, void *ud)
{
    assert_int_equal(crest_res_stream(req, "text/plain", produce, done, ud), 0);
    return CREST_DONE;
}

static enum crest_handler_result json(struct crest_req *req, void *ud)
{
    (void)ud;
    struct crest_json *j = crest_res_json(req, 200);
    crest_json_object_begin(j);
    crest_json_object_end(j);
    return CREST_DONE;
}

static struct crest_app *app_for(struct counter *c)
{
    struct crest_app *app = crest_app_new("t", "1");
    const struct crest_route routes[] = {
        {.method = "GET", .path = "/s", .handler = stream_handler, .ud = c},
        {.method = "GET", .path = "/j", .handler = json},
    };
    assert_non_null(app);
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(crest_app_add_route(app, &routes[i], NULL), 0);
    return app;
}

/* Decodes a chunked body at p (after the head); returns its length in out, or -1 when it does not
 * end with the last-chunk. */
static long dechunk(const char *p, const char *end, char *out, size_t cap, const char **after)
{
    size_t n = 0;
    for (;;) {
        char *eol;
        unsigned long size = strtoul(p, &eol, 16);
        if (eol + 2 > end || eol[0] != '\r' || eol[1] != '\n')
            return -1;
        p = eol + 2;
        if (size == 0) {
            if (p + 2 > end || p[0] != '\r' || p[1] != '\n')
                return -1;
            *after = p + 2;
            return (long)n;
        }
        if (p + size + 2 > end || n + size > cap)
            return -1;
        memcpy(out + n, p, size);
        n += size;
        p += size + 2;
    }
}

static void test_stream_http11_is_chunked_and_ends_with_the_last_chunk(void **state)
{
    struct counter c = {.pieces = 100, .size = 1000};
    struct crest_app *app = app_for(&c);
    struct crest_test_response res;
    static char body[200000];
    const char *after;
    (void)state;

    assert_int_equal(crest_test_request(app, "GET", "/s", NULL, &res), 0);
    assert_int_equal(res.status, 200);
    assert_int_equal(crest_test_header(&res, "Transfer-Encoding").len, 7);
    assert_null(crest_test_header(&res, "Content-Length").ptr);
    long n = dechunk(res.body.ptr, res.body.ptr + res.body.len, body, sizeof(body), &after);
    assert_int_equal(n, 100000);
    assert_ptr_equal(after, res.body.ptr + res.body.len);
    for (int i = 0; i < 100; i++)
        assert_int_equal(body[i * 1000], 'a' + i % 26);
    assert_int_equal(c.done_calls, 1);
    assert_int_equal(c.done_status, 0);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_stream_http10_ends_with_the_close(void **state)
{
    struct counter c = {.pieces = 3, .size = 10};
    struct crest_app *app = app_for(&c);
    struct crest_test_response res;
    (void)state;

    assert_int_equal(
        crest_test_raw(app, LIT("GET /s HTTP/1.0\r\n\r\nGET /j HTTP/1.0\r\n\r\n"), &res), 0);
    assert_int_equal(res.status, 200);
    assert_null(crest_test_header(&res, "Transfer-Encoding").ptr);
    assert_int_equal(crest_test_header(&res, "Connection").len, 5);
    assert_int_equal(res.body.len, 30); /* the raw bytes, and nothing after: the close ends it */
    assert_int_equal(c.done_status, 0);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_stream_head_sends_the_head_and_never_produces(void **state)
{
    struct counter c = {.pieces = 3, .size = 10};
    struct crest_app *app = app_for(&c);
    struct crest_test_response res;
    (void)state;

    assert_int_equal(crest_test_request(app, "HEAD", "/s", NULL, &res), 0);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.body.len, 0);
    assert_int_equal(c.produced, 0);
    assert_int_equal(c.done_calls, 1);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_stream_waits_and_is_resumed_by_a_timer(void **state)
{
    struct counter c = {.pieces = 6, .size = 5, .wait_every = 2};
    struct crest_app *app = app_for(&c);
    struct crest_test_response res;
    static char body[100];
    const char *after;
    (void)state;

    assert_int_equal(crest_test_request(app, "GET", "/s", NULL, &res), 0);
    long n = dechunk(res.body.ptr, res.body.ptr + res.body.len, body, sizeof(body), &after);
    assert_int_equal(n, 30);
    assert_int_equal(c.done_status, 0);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_stream_that_fails_is_cut_never_completed(void **state)
{
    struct counter c = {.pieces = 10, .size = 10, .fail_at = 4};
    struct crest_app *app = app_for(&c);
    struct crest_test_response res;
    static char body[200];
    const char *after;
    (void)state;

    assert_int_equal(crest_test_raw(app,
                                    LIT("GET /s HTTP/1.1\r\nHost: t\r\n\r\nGET /j HTTP/1.1\r\n"
                                        "Host: t\r\n\r\n"),
                                    &res),
                     0);
    assert_int_equal(res.status, 200);
    assert_int_equal(dechunk(res.body.ptr, res.body.ptr + res.body.len, body, sizeof(body), &after),
                     -1); /* no last-chunk: a client knows the body is incomplete */
    assert_null(memmem(res.body.ptr, res.body.len, "HTTP/1.1 200", 12)); /* /j never answered */
    assert_int_equal(c.done_calls, 1);
    assert_int_equal(c.done_status, -ECONNRESET);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_stream_then_a_pipelined_request_in_order(void **state)
{
    struct counter c = {.pieces = 2, .size = 3};
    struct crest_app *app = app_for(&c);
    struct crest_test_response res;
    (void)state;

    assert_int_equal(crest_test_raw(app,
                                    LIT("GET /s HTTP/1.1\r\nHost: t\r\n\r\nGET /j HTTP/1.1\r\n"
                                        "Host: t\r\n\r\n"),
                                    &res),
                     0);
    /* the stream's chunks and last chunk, then the next response */
    assert_non_null(
        memmem(res.raw, res.raw_len, LIT("3\r\naaa\r\n3\r\nbbb\r\n0\r\n\r\nHTTP/1.1 200")));
    assert_int_equal(res.status, 200);
    assert_non_null(memmem(res.raw, res.raw_len, LIT("\r\n\r\n{}")));
    crest_test_response_fini(&res);
    crest_app_free(app);
}

/* ---- a stream begun by a pending handler ---- */

static void later(struct crest_req *req, void *ud)
{
    assert_int_equal(crest_res_stream(req, NULL, produce, done, ud), 0);
    crest_req_finish(req);
}

static enum crest_handler_result pending_handler(struct crest_req *req, void *ud)
{
    assert_int_equal(crest_req_timer(req, 1, later, ud), 0);
    return CREST_PENDING;
}

static void test_stream_begun_by_a_pending_handler(void **state)
{
    struct counter c = {.pieces = 2, .size = 4};
    struct crest_app *app = crest_app_new("t", "1");
    const struct crest_route r = {
        .method = "GET", .path = "/p", .handler = pending_handler, .ud = &c};
    struct crest_test_response res;
    (void)state;

    assert_int_equal(crest_app_add_route(app, &r, NULL), 0);
    assert_int_equal(crest_test_request(app, "GET", "/p", NULL, &res), 0);
    assert_int_equal(res.status, 200);
    assert_int_equal(crest_test_header(&res, "Content-Type").len,
                     strlen("application/octet-stream"));
    assert_non_null(memmem(res.body.ptr, res.body.len, LIT("4\r\naaaa\r\n4\r\nbbbb\r\n0\r\n\r\n")));
    assert_int_equal(c.done_status, 0);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

/* ---- writes outside produce, bad arguments ---- */

static enum crest_stream_next end_at_once(struct crest_stream *st, void *ud)
{
    struct crest_stream **keep = ud;
    *keep = st;
    assert_true(crest_stream_room(st) > 0);
    return CREST_STREAM_END;
}

static enum crest_handler_result end_handler(struct crest_req *req, void *ud)
{
    assert_int_equal(crest_res_stream(req, "text/plain", NULL, NULL, NULL), -EINVAL);
    assert_int_equal(crest_res_stream(req, "text/plain", end_at_once, NULL, ud), 0);
    return CREST_DONE;
}

static void test_stream_write_outside_produce_is_refused(void **state)
{
    struct crest_stream *kept = NULL;
    struct crest_app *app = crest_app_new("t", "1");
    const struct crest_route r = {
        .method = "GET", .path = "/e", .handler = end_handler, .ud = &kept};
    struct crest_test_response res;
    (void)state;

    assert_int_equal(crest_app_add_route(app, &r, NULL), 0);
    assert_int_equal(crest_test_request(app, "GET", "/e", NULL, &res), 0);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.body.len, 5); /* "0\r\n\r\n": an empty body */
    crest_test_response_fini(&res);
    crest_app_free(app);
}

/* ---- memory: the window, whatever the body's size ---- */

static void test_stream_of_16_mib_keeps_the_output_within_its_window(void **state)
{
    struct counter c = {.pieces = 4096, .size = 4096};
    struct crest_app *app = app_for(&c);
    struct crest_test_response res;
    (void)state;

    assert_int_equal(crest_test_request(app, "GET", "/s", NULL, &res), 0);
    assert_int_equal(res.status, 200);
    assert_true(res.body.len > 16u << 20);
    /* the output buffer: a 64 KiB window plus the last piece and its chunk line, rounded up */
    if (c.max_out > 160 * 1024)
        fail_msg("MEM_OUT reached %lld bytes during a 16 MiB stream", (long long)c.max_out);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

/* ---- a producer that fills the window in one call, as crest_stream_room() invites ---- */

struct filler {
    uint64_t left;
    int64_t max_out;
    int shrank; /* writes after which room was smaller than before */
};

static enum crest_stream_next fill(struct crest_stream *st, void *ud)
{
    struct filler *f = ud;
    char line[64];
    memset(line, 'x', sizeof(line));
    while (f->left && crest_stream_room(st) >= sizeof(line)) {
        size_t before = crest_stream_room(st);
        assert_int_equal(crest_stream_write(st, line, sizeof(line)), 0);
        f->shrank += crest_stream_room(st) < before;
        f->left -= sizeof(line) < f->left ? sizeof(line) : f->left;
    }
    struct mem_tag_stats out;
    mem_stats(MEM_OUT, &out);
    if (out.live_bytes > f->max_out)
        f->max_out = out.live_bytes;
    return f->left ? CREST_STREAM_MORE : CREST_STREAM_END;
}

static enum crest_handler_result fill_handler(struct crest_req *req, void *ud)
{
    assert_int_equal(crest_res_stream(req, "text/plain", fill, NULL, ud), 0);
    return CREST_DONE;
}

static void test_stream_room_shrinks_so_a_filling_producer_stays_in_its_window(void **state)
{
    struct filler f = {.left = 16u << 20};
    struct crest_app *app = crest_app_new("t", "1");
    const struct crest_route r = {.method = "GET", .path = "/f", .handler = fill_handler, .ud = &f};
    struct crest_test_response res;
    (void)state;

    assert_int_equal(crest_app_add_route(app, &r, NULL), 0);
    assert_int_equal(crest_test_request(app, "GET", "/f", NULL, &res), 0);
    assert_int_equal(res.status, 200);
    assert_true(f.shrank > 1000);
    if (f.max_out > 160 * 1024)
        fail_msg("MEM_OUT reached %lld bytes", (long long)f.max_out);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_http11_is_chunked_and_ends_with_the_last_chunk),
        cmocka_unit_test(test_stream_http10_ends_with_the_close),
        cmocka_unit_test(test_stream_head_sends_the_head_and_never_produces),
        cmocka_unit_test(test_stream_waits_and_is_resumed_by_a_timer),
        cmocka_unit_test(test_stream_that_fails_is_cut_never_completed),
        cmocka_unit_test(test_stream_then_a_pipelined_request_in_order),
        cmocka_unit_test(test_stream_begun_by_a_pending_handler),
        cmocka_unit_test(test_stream_write_outside_produce_is_refused),
        cmocka_unit_test(test_stream_of_16_mib_keeps_the_output_within_its_window),
        cmocka_unit_test(test_stream_room_shrinks_so_a_filling_producer_stays_in_its_window),
    };
    return cmocka_run_group_tests_name("http_stream", tests, NULL, NULL);
}
