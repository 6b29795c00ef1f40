/* tests/unit/test_http_upload.c: request bodies as streams (http/upload.c, crest_req_body_read,
 * issue 18) through the test client: Content-Length and chunked bodies arrive whole in pieces, a
 * hook answers before any body byte is handed over (and the connection closes unread), a pending
 * hook's continuation starts the read, a consumer pauses and is resumed by a timer, STOP answers
 * early and closes, the route's limit answers 413, 100 Continue only once the handler reads, and
 * the OpenAPI document describes streamed and multipart bodies. Each test builds its own app. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>

#include "crest.h"

#define LIT(s) s, sizeof(s) - 1

struct sink {
    char data[1 << 16];
    size_t len;
    int pieces, ends, end_status;
    int pause_every; /* >0: PAUSE after every this many pieces, resumed by a timer */
    int stop_at;     /* >0: answer 201 and STOP at this piece */
    struct crest_req *req;
};

static struct sink sink;

static void wake(struct crest_timer *t, void *ud)
{
    crest_timer_stop(t);
    crest_req_body_resume(ud);
}

static enum crest_body_next on_data(struct crest_req *req, const void *data, size_t len, void *ud)
{
    struct sink *s = ud;
    struct crest_timer *t;
    assert_true(len > 0 && s->len + len <= sizeof(s->data));
    memcpy(s->data + s->len, data, len);
    s->len += len;
    s->pieces++;
    if (s->stop_at && s->pieces == s->stop_at) {
        assert_int_equal(crest_res_error(req, 201, "enough"), 0);
        crest_req_finish(req);
        return CREST_BODY_STOP;
    }
    if (s->pause_every && s->pieces % s->pause_every == 0) {
        assert_int_equal(crest_timer_start(crest_req_loop(req), 1, 0, wake, req, &t), 0);
        return CREST_BODY_PAUSE;
    }
    return CREST_BODY_MORE;
}

static void on_end(struct crest_req *req, int status, void *ud)
{
    struct sink *s = ud;
    s->ends++;
    s->end_status = status;
    if (status != 0)
        return;
    char text[64];
    snprintf(text, sizeof(text), "%zu", (size_t)crest_req_body_received(req));
    assert_int_equal(crest_res_body(req, "text/plain", text, strlen(text)), 0);
    crest_req_finish(req);
}

static enum crest_handler_result take(struct crest_req *req, void *ud)
{
    (void)ud;
    assert_int_equal(crest_req_body(req).len, 0); /* nothing is buffered */
    assert_int_equal(crest_req_body_read(req, on_data, on_end, &sink), 0);
    assert_int_equal(crest_req_body_read(req, on_data, on_end, &sink), -EINVAL);
    return CREST_PENDING;
}

static enum crest_hook_result deny(struct crest_req *req, void *ud)
{
    (void)ud;
    if (crest_req_header(req, "Authorization").ptr)
        return CREST_HOOK_NEXT;
    assert_int_equal(crest_res_error(req, 401, "Not authenticated"), 0);
    return CREST_HOOK_DONE;
}

static void later(struct crest_timer *t, void *ud)
{
    crest_timer_stop(t);
    crest_req_next(ud);
}

static enum crest_hook_result wait_a_bit(struct crest_req *req, void *ud)
{
    struct crest_timer *t;
    (void)ud;
    assert_int_equal(crest_timer_start(crest_req_loop(req), 1, 0, later, req, &t), 0);
    return CREST_HOOK_PENDING;
}

static const struct crest_hook hooks[] = {{.before = deny}, {.before = wait_a_bit}};
static const struct crest_form_field form[] = {{.name = "file", .file = true, .required = true},
                                               {.name = "note"}};

static struct crest_app *app_new(void)
{
    struct crest_app *app = crest_app_new("t", "1");
    const struct crest_route routes[] = {
        {.method = "POST", .path = "/up", .handler = take, .body_stream = true},
        {.method = "POST",
         .path = "/small",
         .handler = take,
         .body_stream = true,
         .max_body_bytes = 100},
        {.method = "POST",
         .path = "/auth",
         .handler = take,
         .body_stream = true,
         .hooks = hooks,
         .n_hooks = 2},
        {.method = "POST",
         .path = "/form",
         .handler = take,
         .body_stream = true,
         .form = form,
         .n_form = 2},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        assert_int_equal(crest_app_add_route(app, &routes[i], NULL), 0);
    memset(&sink, 0, sizeof(sink));
    return app;
}

/* Whether the bytes answered hold text (the raw answer is not NUL-terminated). */
static bool has(const struct crest_test_response *res, const char *text)
{
    return memmem(res->raw, res->raw_len, text, strlen(text)) != NULL;
}

static int send_raw(struct crest_app *app, const char *raw, size_t len,
                    struct crest_test_response *res)
{
    return crest_test_raw(app, raw, len, res);
}

static char big[40000];

static void fill_big(void)
{
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
}

static void test_upload_content_length_arrives_whole_in_pieces(void **state)
{
    struct crest_app *app = app_new();
    struct crest_test_response res;
    char raw[sizeof(big) + 256];
    (void)state;
    fill_big();
    int n = snprintf(raw, sizeof(raw),
                     "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", sizeof(big));
    memcpy(raw + n, big, sizeof(big));
    memcpy(raw + n + sizeof(big), LIT("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert_int_equal(send_raw(app, raw, (size_t)n + sizeof(big) + 32, &res), 0);
    assert_int_equal(res.status, 200);
    assert_true(sink.pieces > 1); /* the read buffer is smaller than the body */
    assert_int_equal(sink.len, sizeof(big));
    assert_memory_equal(sink.data, big, sizeof(big));
    assert_int_equal(sink.ends, 1);
    assert_true(has(&res, "\r\n\r\n40000HTTP/1.1 404")); /* the next request follows */
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_upload_chunked_with_pauses_arrives_whole(void **state)
{
    struct crest_app *app = app_new();
    struct crest_test_response res;
    static const char raw[] = "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "5\r\nhello\r\n1\r\n \r\n5;ext=1\r\nworld\r\n0\r\nTrailer: x\r\n\r\n";
    (void)state;
    sink.pause_every = 1;
    assert_int_equal(send_raw(app, LIT(raw), &res), 0);
    assert_int_equal(res.status, 200);
    assert_int_equal(sink.len, 11);
    assert_memory_equal(sink.data, "hello world", 11);
    assert_int_equal(sink.ends, 1);
    assert_int_equal(sink.end_status, 0);
    assert_memory_equal(res.body.ptr, "11", 2);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_upload_a_hook_answers_before_any_body_byte(void **state)
{
    struct crest_app *app = app_new();
    struct crest_test_response res;
    static const char raw[] = "POST /auth HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                              "Content-Length: 5\r\n\r\nhello";
    (void)state;
    assert_int_equal(send_raw(app, LIT(raw), &res), 0);
    assert_int_equal(res.status, 401);
    assert_false(has(&res, "100 Continue")); /* the client never has to send it */
    assert_memory_equal(crest_test_header(&res, "Connection").ptr, "close", 5);
    assert_int_equal(sink.pieces, 0);
    assert_int_equal(sink.ends, 0);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_upload_after_a_pending_hook_and_100_continue(void **state)
{
    struct crest_app *app = app_new();
    struct crest_test_response res;
    static const char head[] = "POST /auth HTTP/1.1\r\nHost: x\r\nAuthorization: k\r\n"
                               "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    (void)state;
    assert_int_equal(send_raw(app, LIT(head), &res), 0);
    assert_true(has(&res, "HTTP/1.1 100 Continue\r\n\r\n")); /* then it waits */
    crest_test_response_fini(&res);
    assert_int_equal(sink.ends, 1); /* the exchange ended with the body missing */
    assert_int_equal(sink.end_status, -ECONNRESET);
    memset(&sink, 0, sizeof(sink));
    static const char raw[] = "POST /auth HTTP/1.1\r\nHost: x\r\nAuthorization: k\r\n"
                              "Content-Length: 5\r\n\r\nhello";
    assert_int_equal(send_raw(app, LIT(raw), &res), 0);
    assert_int_equal(res.status, 200);
    assert_memory_equal(sink.data, "hello", 5);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_upload_stop_answers_early_and_closes(void **state)
{
    struct crest_app *app = app_new();
    struct crest_test_response res;
    char raw[sizeof(big) + 256];
    (void)state;
    fill_big();
    int n = snprintf(raw, sizeof(raw),
                     "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", sizeof(big));
    memcpy(raw + n, big, sizeof(big));
    sink.stop_at = 1;
    assert_int_equal(send_raw(app, raw, (size_t)n + sizeof(big), &res), 0);
    assert_int_equal(res.status, 201);
    assert_memory_equal(crest_test_header(&res, "Connection").ptr, "close", 5);
    assert_int_equal(sink.pieces, 1);
    assert_int_equal(sink.ends, 1);
    assert_int_equal(sink.end_status, -ECANCELED);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_upload_past_the_route_limit_is_413(void **state)
{
    struct crest_app *app = app_new();
    struct crest_test_response res;
    (void)state;
    assert_int_equal(
        send_raw(app, LIT("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n"), &res),
        0);
    assert_int_equal(res.status, 413);
    assert_int_equal(sink.ends, 0); /* refused before the handler ran */
    crest_test_response_fini(&res);
    char raw[512];
    int n = snprintf(raw, sizeof(raw),
                     "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3c\r\n%060d\r\n3c\r\n%060d\r\n0\r\n\r\n",
                     0, 0);
    assert_int_equal(send_raw(app, raw, (size_t)n, &res), 0);
    assert_int_equal(res.status, 413);
    assert_memory_equal(res.body.ptr, "{\"detail\":\"Request body too large\"}", 35);
    assert_int_equal(sink.len, 0); /* the piece that crosses the limit is never handed over */
    assert_int_equal(sink.end_status, -EFBIG);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_upload_routes_in_the_openapi_document(void **state)
{
    struct crest_app *app = app_new();
    struct crest_test_response res;
    char err[CREST_ERR_LEN];
    (void)state;
    assert_int_equal(crest_app_add_docs_routes(app, NULL), 0);
    assert_int_equal(crest_test_request(app, "GET", "/openapi.json", NULL, &res), 0);
    assert_int_equal(res.status, 200);
    assert_true(has(&res, "\"application/octet-stream\":{\"schema\":{\"type\":"
                          "\"string\",\"format\":\"binary\"}}"));
    assert_true(has(&res, "\"multipart/form-data\":{\"schema\":{\"type\":\"object\",\"properties\""
                          ":{\"file\":{\"type\":\"string\",\"format\":\"binary\"},\"note\":{"
                          "\"type\":\"string\"}},\"required\":[\"file\"]}}"));
    assert_true(has(&res, "\"413\""));
    crest_test_response_fini(&res);
    static const struct crest_schema schema = {.name = "S"};
    const struct crest_route bad = {
        .method = "POST", .path = "/bad", .handler = take, .body_stream = true, .body = &schema};
    assert_int_equal(crest_app_add_route(app, &bad, err), -EINVAL);
    crest_app_free(app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_content_length_arrives_whole_in_pieces),
        cmocka_unit_test(test_upload_chunked_with_pauses_arrives_whole),
        cmocka_unit_test(test_upload_a_hook_answers_before_any_body_byte),
        cmocka_unit_test(test_upload_after_a_pending_hook_and_100_continue),
        cmocka_unit_test(test_upload_stop_answers_early_and_closes),
        cmocka_unit_test(test_upload_past_the_route_limit_is_413),
        cmocka_unit_test(test_upload_routes_in_the_openapi_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
