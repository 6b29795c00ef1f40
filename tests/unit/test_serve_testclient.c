/* tests/unit/test_serve_testclient.c: the in-process test client (serve/testclient.c) and, through
 * it, the handler API of crest.h: bodies and headers of 200/404/405/422/501 answers, HEAD and
 * OPTIONS, request bodies (plain and chunked), response-header validation, pending handlers
 * finished from a timer, and pipelined requests answered in order; the test client as a transport
 * of its own (issue 14): its peer is local, its worker's hooks run once per app. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <time.h>

#include "crest.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define LIT(s) s, sizeof(s) - 1

static const char HELLO[] = "{\"message\":\"Hello, World!\"}";

/* ---- handlers ---- */

static enum crest_handler_result get_item(struct crest_req *req, void *ud)
{
    int64_t id = 0;
    int rc = crest_path_int(req, "item_id", &id);
    struct crest_json *j = crest_res_json(req, 200);

    (void)ud;
    crest_json_object_begin(j);
    crest_json_key(j, "rc");
    crest_json_int(j, rc);
    crest_json_key(j, "item_id");
    crest_json_int(j, id);
    crest_json_object_end(j);
    return CREST_DONE;
}

static enum crest_handler_result delete_item(struct crest_req *req, void *ud)
{
    (void)ud;
    crest_res_status(req, 204);
    return CREST_DONE;
}

/* Answers the request body as it arrived, with its length in a header. */
static enum crest_handler_result echo(struct crest_req *req, void *ud)
{
    struct crest_str body = crest_req_body(req);
    char len[32];

    (void)ud;
    snprintf(len, sizeof(len), "%zu", body.len);
    if (crest_res_header(req, "X-Body-Len", len) != 0 ||
        crest_res_body(req, "application/octet-stream", body.ptr ? body.ptr : "", body.len) != 0)
        crest_res_status(req, 500);
    return CREST_DONE;
}

/* Answers the Authorization, Cookie and Host headers it was sent, and the body's type. */
static enum crest_handler_result whoami(struct crest_req *req, void *ud)
{
    static const char *const names[] = {"Authorization", "Cookie", "Host", "Content-Type"};
    struct crest_json *j = crest_res_json(req, 200);
    (void)ud;
    crest_json_object_begin(j);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct crest_str v = crest_req_header(req, names[i]);
        crest_json_key(j, names[i]);
        if (v.ptr)
            crest_json_string_len(j, v.ptr, v.len);
        else
            crest_json_null(j);
    }
    crest_json_object_end(j);
    return CREST_DONE;
}

/* Tries response headers that must be refused, then sets good ones; reports each return code. */
static enum crest_handler_result headers(struct crest_req *req, void *ud)
{
    static const struct {
        const char *name;
        const char *value;
    } attempts[] = {
        {"X-Split", "a\r\nSet-Cookie: evil=1"},
        {"X-Lf", "a\nb"},
        {"X-Cr", "a\rb"},
        {"X-Ctl", "a\x01"},
        {"X-Del", "a\x7f"},
        {"X Bad", "v"},
        {"X:Bad", "v"},
        {"", "v"},
        {"X-Good", "ok\tfine"},
        {"X-Utf8", "caf\xc3\xa9"},
    };
    struct crest_json *j;
    int rcs[ARRAY_LEN(attempts)];

    (void)ud;
    for (size_t k = 0; k < ARRAY_LEN(attempts); k++)
        rcs[k] = crest_res_header(req, attempts[k].name, attempts[k].value);
    j = crest_res_json(req, 200);
    crest_json_array_begin(j);
    for (size_t k = 0; k < ARRAY_LEN(attempts); k++)
        crest_json_int(j, rcs[k]);
    crest_json_array_end(j);
    return CREST_DONE;
}

/* What the handler sees of the request. */
static enum crest_handler_result info(struct crest_req *req, void *ud)
{
    struct crest_str path = crest_req_path(req), query = crest_req_query_string(req);
    struct crest_str route = crest_req_route(req), test = crest_req_header(req, "x-test");
    struct crest_str missing = crest_req_header(req, "X-Missing");
    struct crest_json *j = crest_res_json(req, 200);

    (void)ud;
    crest_json_object_begin(j);
    crest_json_key(j, "method");
    crest_json_int(j, crest_req_method(req));
    crest_json_key(j, "path");
    crest_json_string_len(j, path.ptr, path.len);
    crest_json_key(j, "query");
    if (query.ptr)
        crest_json_string_len(j, query.ptr, query.len);
    else
        crest_json_null(j);
    crest_json_key(j, "route");
    crest_json_string_len(j, route.ptr, route.len);
    crest_json_key(j, "x_test");
    if (test.ptr)
        crest_json_string_len(j, test.ptr, test.len);
    else
        crest_json_null(j);
    crest_json_key(j, "missing");
    crest_json_bool(j, missing.ptr == NULL);
    crest_json_object_end(j);
    return CREST_DONE;
}

struct slow_state {
    int timer_calls;
    struct timespec started;
    struct timespec fired;
};

static void slow_done(struct crest_req *req, void *ud)
{
    struct slow_state *st = ud;
    struct crest_json *j = crest_res_json(req, 202);

    if (st) {
        st->timer_calls++;
        clock_gettime(CLOCK_MONOTONIC, &st->fired);
    }
    crest_json_object_begin(j);
    crest_json_key(j, "slow");
    crest_json_bool(j, true);
    crest_json_object_end(j);
    crest_req_finish(req);
}

static enum crest_handler_result slow(struct crest_req *req, void *ud)
{
    struct slow_state *st = ud;

    if (st)
        clock_gettime(CLOCK_MONOTONIC, &st->started);
    if (crest_req_timer(req, 20, slow_done, st) != 0) {
        crest_res_status(req, 500);
        return CREST_DONE;
    }
    return CREST_PENDING;
}

/* Finishes before it returns CREST_PENDING: the response goes out at once. */
static enum crest_handler_result early(struct crest_req *req, void *ud)
{
    (void)ud;
    if (crest_res_body(req, "text/plain", LIT("early")) != 0)
        crest_res_status(req, 500);
    crest_req_finish(req);
    return CREST_PENDING;
}

/* Pending with nothing that could ever finish it. */
static enum crest_handler_result stuck(struct crest_req *req, void *ud)
{
    (void)req;
    (void)ud;
    return CREST_PENDING;
}

enum { BIG_BYTES = 40000 };

/* A body large enough that two of them pass the session's output high-water mark. */
static enum crest_handler_result big(struct crest_req *req, void *ud)
{
    char *body = crest_req_alloc(req, BIG_BYTES);

    (void)ud;
    if (!body || crest_res_body(req, "text/plain", memset(body, 'b', BIG_BYTES), BIG_BYTES) != 0)
        crest_res_status(req, 500);
    return CREST_DONE;
}

static struct slow_state slow_state;

/* The worker hooks' calls; the data a started worker gets is the counts themselves. */
struct hook_counts {
    int starts;
    int stops;
    int starts_to_refuse;
    void *stopped_data;
};

static int count_start(void *ud, unsigned worker, struct crest_loop *loop, void **data,
                       char err[CREST_ERR_LEN])
{
    struct hook_counts *h = ud;

    h->starts++;
    assert_int_equal(worker, 0);
    assert_null(loop); /* the test client's worker has no loop that lasts */
    if (h->starts_to_refuse > 0) {
        h->starts_to_refuse--;
        snprintf(err, CREST_ERR_LEN, "refused");
        return -EIO;
    }
    *data = h;
    return 0;
}

static void count_stop(void *ud, unsigned worker, void *data)
{
    struct hook_counts *h = ud;

    assert_int_equal(worker, 0);
    h->stops++;
    h->stopped_data = data;
}

/* Answers whether the handler sees the data its worker's start hook made. */
static enum crest_handler_result worker_data(struct crest_req *req, void *ud)
{
    const char *answer = crest_req_worker_data(req) == ud ? "started" : "other";

    if (crest_res_body(req, "text/plain", answer, strlen(answer)) != 0)
        crest_res_status(req, 500);
    return CREST_DONE;
}

static struct crest_app *hooked_app(struct hook_counts *h)
{
    const struct crest_route route = {
        .method = "GET", .path = "/data", .handler = worker_data, .ud = h};
    struct crest_app *app = crest_app_new("hooks", "1");

    assert_non_null(app);
    assert_int_equal(crest_app_add_route(app, &route, NULL), 0);
    crest_app_on_worker(app, count_start, count_stop, h);
    return app;
}

static int setup(void **state)
{
    static const struct crest_route routes[] = {
        {.method = "GET", .path = "/items/{item_id:int}", .handler = get_item},
        {.method = "DELETE", .path = "/items/{item_id:int}", .handler = delete_item},
        {.method = "POST", .path = "/echo", .handler = echo},
        {.method = "GET", .path = "/headers", .handler = headers},
        {.method = "GET", .path = "/info/{rest}", .handler = info},
        {.method = "GET", .path = "/slow", .handler = slow, .ud = &slow_state},
        {.method = "GET", .path = "/early", .handler = early},
        {.method = "GET", .path = "/stuck", .handler = stuck},
        {.method = "GET", .path = "/big", .handler = big},
        {.method = "GET", .path = "/whoami", .handler = whoami},
        {.method = "POST", .path = "/whoami", .handler = whoami},
    };
    struct crest_app *app = crest_app_new("testclient-test", "1.0");

    if (!app)
        return -1;
    if (crest_app_add_builtin_routes(app) != 0)
        goto fail;
    for (size_t k = 0; k < ARRAY_LEN(routes); k++)
        if (crest_app_add_route(app, &routes[k], NULL) != 0)
            goto fail;
    memset(&slow_state, 0, sizeof(slow_state));
    *state = app;
    return 0;
fail:
    crest_app_free(app);
    return -1;
}

static int teardown(void **state)
{
    crest_app_free(*state);
    return 0;
}

/* ---- helpers ---- */

static void assert_str_is(struct crest_str s, const char *want)
{
    if (!s.ptr)
        fail_msg("absent, wanted \"%s\"", want);
    if (s.len != strlen(want) || memcmp(s.ptr, want, s.len) != 0)
        fail_msg("got \"%.*s\", wanted \"%s\"", (int)s.len, s.ptr, want);
}

static void assert_header(const struct crest_test_response *res, const char *name, const char *want)
{
    struct crest_str v = crest_test_header(res, name);
    if (!v.ptr)
        fail_msg("no %s header in:\n%.*s", name, (int)res->head.len, res->head.ptr);
    assert_str_is(v, want);
}

static void assert_no_header(const struct crest_test_response *res, const char *name)
{
    struct crest_str v = crest_test_header(res, name);
    if (v.ptr)
        fail_msg("unexpected %s: %.*s", name, (int)v.len, v.ptr);
}

static void get(struct crest_app *app, const char *method, const char *target, const char *body,
                struct crest_test_response *res)
{
    assert_int_equal(crest_test_request(app, method, target, body, res), 0);
}

static void raw(struct crest_app *app, const char *bytes, size_t len,
                struct crest_test_response *res)
{
    assert_int_equal(crest_test_raw(app, bytes, len, res), 0);
}

/* One response cut out of a raw stream of several. */
struct one_response {
    int status;
    struct crest_str head;
    struct crest_str body;
};

/* Splits res->raw into responses using their Content-Length; returns how many. */
static size_t split_responses(const struct crest_test_response *res, struct one_response *out,
                              size_t max)
{
    const char *p = res->raw, *end = res->raw + res->raw_len;
    size_t n = 0;

    while (p < end && n < max) {
        const char *head_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        struct crest_test_response one = {0};
        size_t body_len = 0;

        assert_non_null(head_end);
        assert_memory_equal(p, "HTTP/1.1 ", 9);
        one.head = (struct crest_str){p, (size_t)(head_end + 2 - p)};
        struct crest_str cl = crest_test_header(&one, "Content-Length");
        if (cl.ptr)
            body_len = strtoul(cl.ptr, NULL, 10);
        assert_true(head_end + 4 + body_len <= end);
        out[n].status = atoi(p + 9);
        out[n].head = one.head;
        out[n].body = (struct crest_str){head_end + 4, body_len};
        n++;
        p = head_end + 4 + body_len;
    }
    assert_true(p == end);
    return n;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* ---- tests ---- */

static void test_testclient_get_json_answers_200_with_exact_body(void **state)
{
    struct crest_test_response res;

    get(*state, "GET", "/json", NULL, &res);
    assert_int_equal(res.status, 200);
    assert_str_is(res.body, HELLO);
    assert_header(&res, "Content-Type", "application/json");
    assert_header(&res, "content-length", "27");
    assert_header(&res, "Server", "crest");
    assert_non_null(crest_test_header(&res, "Date").ptr);
    assert_no_header(&res, "Connection");
    assert_memory_equal(res.raw, "HTTP/1.1 200 OK\r\n", 17);
    crest_test_response_fini(&res);
    assert_null(res.raw);
}

static void test_testclient_answers_404_with_detail(void **state)
{
    struct crest_test_response res;

    get(*state, "GET", "/nope", NULL, &res);
    assert_int_equal(res.status, 404);
    assert_str_is(res.body, "{\"detail\":\"Not Found\"}");
    assert_header(&res, "Content-Type", "application/json");
    assert_header(&res, "Content-Length", "22");
    crest_test_response_fini(&res);
}

static void test_testclient_answers_405_with_detail_and_allow(void **state)
{
    struct crest_test_response res;

    get(*state, "POST", "/json", "{}", &res);
    assert_int_equal(res.status, 405);
    assert_str_is(res.body, "{\"detail\":\"Method Not Allowed\"}");
    assert_header(&res, "Allow", "GET, HEAD, OPTIONS");
    crest_test_response_fini(&res);

    get(*state, "PUT", "/items/3", NULL, &res);
    assert_int_equal(res.status, 405);
    assert_header(&res, "Allow", "GET, HEAD, DELETE, OPTIONS");
    crest_test_response_fini(&res);
}

static void test_testclient_head_answers_headers_without_body(void **state)
{
    struct crest_test_response res;

    get(*state, "HEAD", "/json", NULL, &res);
    assert_int_equal(res.status, 200);
    assert_header(&res, "Content-Length", "27");
    assert_header(&res, "Content-Type", "application/json");
    assert_int_equal(res.body.len, 0);
    /* the head is all there is */
    assert_int_equal(res.raw_len, res.head.len + 2);
    crest_test_response_fini(&res);
}

static void test_testclient_answers_422_to_non_integer_path_parameter(void **state)
{
    static const char want[] =
        "{\"detail\":[{\"type\":\"int_parsing\",\"loc\":[\"path\",\"item_id\"],"
        "\"msg\":\"Input should be a valid integer, unable to parse string as an integer\","
        "\"input\":\"abc\"}]}";
    struct crest_test_response res;

    get(*state, "GET", "/items/abc", NULL, &res);
    assert_int_equal(res.status, 422);
    assert_str_is(res.body, want);
    assert_header(&res, "Content-Type", "application/json");
    crest_test_response_fini(&res);
}

/* The 422 input is the decoded parameter, JSON-escaped. */
static void test_testclient_answers_422_with_decoded_input(void **state)
{
    static const char want[] =
        "{\"detail\":[{\"type\":\"int_parsing\",\"loc\":[\"path\",\"item_id\"],"
        "\"msg\":\"Input should be a valid integer, unable to parse string as an integer\","
        "\"input\":\"1 \\\"x\\\"\"}]}";
    struct crest_test_response res;

    get(*state, "GET", "/items/1%20%22x%22", NULL, &res);
    assert_int_equal(res.status, 422);
    assert_str_is(res.body, want);
    crest_test_response_fini(&res);

    get(*state, "GET", "/items/99999999999999999999", NULL, &res);
    assert_int_equal(res.status, 422);
    crest_test_response_fini(&res);
}

static void test_testclient_passes_integer_path_parameter(void **state)
{
    struct crest_test_response res;

    get(*state, "GET", "/items/-42", NULL, &res);
    assert_int_equal(res.status, 200);
    assert_str_is(res.body, "{\"rc\":0,\"item_id\":-42}");
    crest_test_response_fini(&res);
}

static void test_testclient_post_body_reaches_handler(void **state)
{
    static const char body[] = "{\"name\":\"widget\",\"price\":9.5}";
    struct crest_test_response res;

    get(*state, "POST", "/echo", body, &res);
    assert_int_equal(res.status, 200);
    assert_str_is(res.body, body);
    assert_header(&res, "X-Body-Len", "29");
    assert_header(&res, "Content-Type", "application/octet-stream");
    crest_test_response_fini(&res);
}

static void test_testclient_post_without_body_gives_empty_body(void **state)
{
    struct crest_test_response res;

    raw(*state, LIT("POST /echo HTTP/1.1\r\nHost: t\r\n\r\n"), &res);
    assert_int_equal(res.status, 200);
    assert_header(&res, "X-Body-Len", "0");
    assert_int_equal(res.body.len, 0);
    crest_test_response_fini(&res);
}

static void test_testclient_chunked_body_reaches_handler_dechunked(void **state)
{
    static const char req[] = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
    struct crest_test_response res;

    raw(*state, LIT(req), &res);
    assert_int_equal(res.status, 200);
    assert_str_is(res.body, "hello world");
    assert_header(&res, "X-Body-Len", "11");
    crest_test_response_fini(&res);
}

/* A chunked request followed by a pipelined one: the second is answered after the first. */
static void test_testclient_answers_request_pipelined_after_chunked_body(void **state)
{
    static const char req[] = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "3\r\nabc\r\n0\r\n\r\n"
                              "GET /json HTTP/1.1\r\nHost: t\r\n\r\n";
    struct crest_test_response res;
    struct one_response r[3];

    raw(*state, LIT(req), &res);
    assert_int_equal(split_responses(&res, r, 3), 2);
    assert_int_equal(r[0].status, 200);
    assert_str_is(r[0].body, "abc");
    assert_int_equal(r[1].status, 200);
    assert_str_is(r[1].body, HELLO);
    crest_test_response_fini(&res);
}

static void test_testclient_res_header_refuses_crlf_and_bad_names(void **state)
{
    struct crest_test_response res;
    char want[128], cl[32];

    snprintf(want, sizeof(want), "[%d,%d,%d,%d,%d,%d,%d,%d,0,0]", -EINVAL, -EINVAL, -EINVAL,
             -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL);
    get(*state, "GET", "/headers", NULL, &res);
    assert_int_equal(res.status, 200);
    assert_str_is(res.body, want);
    /* nothing of the refused headers went out, and the response is intact */
    assert_null(memmem(res.raw, res.raw_len, "evil", 4));
    assert_no_header(&res, "Set-Cookie");
    assert_no_header(&res, "X-Split");
    assert_no_header(&res, "X-Lf");
    assert_no_header(&res, "X-Cr");
    assert_header(&res, "X-Good", "ok\tfine");
    assert_header(&res, "X-Utf8", "caf\xc3\xa9");
    snprintf(cl, sizeof(cl), "%zu", strlen(want));
    assert_header(&res, "Content-Length", cl);
    crest_test_response_fini(&res);
}

static void test_testclient_handler_sees_path_query_route_and_headers(void **state)
{
    static const char req[] = "GET /info/a%20b?x=1&y=%20 HTTP/1.1\r\nHost: t\r\n"
                              "X-Test:  hello there \r\n\r\n";
    char want[256];
    struct crest_test_response res;

    snprintf(want, sizeof(want),
             "{\"method\":%d,\"path\":\"/info/a%%20b\",\"query\":\"x=1&y=%%20\","
             "\"route\":\"/info/{rest}\",\"x_test\":\"hello there\",\"missing\":true}",
             CREST_METHOD_GET);
    raw(*state, LIT(req), &res);
    assert_int_equal(res.status, 200);
    assert_str_is(res.body, want);
    crest_test_response_fini(&res);
}

static void test_testclient_strips_absolute_form_target_to_path(void **state)
{
    static const char req[] = "GET http://t/info/z?q HTTP/1.1\r\nHost: t\r\n\r\n";
    struct crest_test_response res;

    raw(*state, LIT(req), &res);
    assert_int_equal(res.status, 200);
    assert_non_null(memmem(res.body.ptr, res.body.len, "\"path\":\"/info/z\",\"query\":\"q\"", 28));
    crest_test_response_fini(&res);
}

static void test_testclient_pending_handler_finishes_from_timer(void **state)
{
    struct crest_test_response res;

    get(*state, "GET", "/slow", NULL, &res);
    assert_int_equal(res.status, 202);
    assert_str_is(res.body, "{\"slow\":true}");
    assert_header(&res, "Content-Length", "13");
    assert_int_equal(slow_state.timer_calls, 1);
    /* the answer waited for the timer: never before it was due (1 ms of clock granularity) */
    assert_true(ms_between(&slow_state.started, &slow_state.fired) >= 19.0);
    crest_test_response_fini(&res);
}

static void test_testclient_pending_handler_then_pipelined_request_answered_in_order(void **state)
{
    static const char req[] = "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /json HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /items/7 HTTP/1.1\r\nHost: t\r\n\r\n";
    struct crest_test_response res;
    struct one_response r[4];

    raw(*state, LIT(req), &res);
    assert_int_equal(split_responses(&res, r, 4), 3);
    assert_int_equal(r[0].status, 202);
    assert_str_is(r[0].body, "{\"slow\":true}");
    assert_int_equal(r[1].status, 200);
    assert_str_is(r[1].body, HELLO);
    assert_int_equal(r[2].status, 200);
    assert_str_is(r[2].body, "{\"rc\":0,\"item_id\":7}");
    assert_int_equal(slow_state.timer_calls, 1);
    crest_test_response_fini(&res);
}

static void test_testclient_two_pending_requests_pipelined_answered_in_order(void **state)
{
    static const char req[] = "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n";
    struct crest_test_response res;
    struct one_response r[3];

    raw(*state, LIT(req), &res);
    assert_int_equal(split_responses(&res, r, 3), 2);
    assert_int_equal(r[0].status, 202);
    assert_int_equal(r[1].status, 202);
    assert_int_equal(slow_state.timer_calls, 2);
    crest_test_response_fini(&res);
}

/* Responses past the output high-water mark are held back until the output is written; the test
 * client writes it (into the response) and must then let the session go on. */
static void test_testclient_answers_every_pipelined_request_past_output_high_water(void **state)
{
    static const char req[] = "GET /big HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /big HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /big HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /json HTTP/1.1\r\nHost: t\r\n\r\n";
    struct crest_test_response res;
    struct one_response r[5];

    raw(*state, LIT(req), &res);
    assert_int_equal(split_responses(&res, r, 5), 4);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(r[k].status, 200);
        assert_int_equal(r[k].body.len, BIG_BYTES);
    }
    assert_int_equal(r[3].status, 200);
    assert_str_is(r[3].body, HELLO);
    crest_test_response_fini(&res);
}

static void test_testclient_handler_finishing_before_returning_pending_answers(void **state)
{
    struct crest_test_response res;

    get(*state, "GET", "/early", NULL, &res);
    assert_int_equal(res.status, 200);
    assert_str_is(res.body, "early");
    assert_header(&res, "Content-Type", "text/plain");
    crest_test_response_fini(&res);
}

static void test_testclient_reports_deadlock_for_pending_handler_without_timer(void **state)
{
    struct crest_test_response res;

    assert_int_equal(crest_test_request(*state, "GET", "/stuck", NULL, &res), -EDEADLK);
    assert_null(res.raw);
}

/* The memory transport answers the loopback question for the test client's connection: /debug
 * answers it, also after the driver waited on its loop for a pending handler (issue 14). */
static void test_testclient_debug_route_after_pending_handler_sees_a_local_peer(void **state)
{
    static const char req[] = "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /debug/memory HTTP/1.1\r\nHost: t\r\n\r\n";
    struct crest_test_response res;
    struct one_response r[3];

    /* no debug token: loopback clients only */
    assert_int_equal(crest_app_add_debug_routes(*state, NULL), 0);
    raw(*state, LIT(req), &res);
    assert_int_equal(split_responses(&res, r, 3), 2);
    assert_int_equal(r[0].status, 202);
    assert_int_equal(slow_state.timer_calls, 1);
    assert_int_equal(r[1].status, 200);
    assert_non_null(memmem(r[1].body.ptr, r[1].body.len, "\"tracked_bytes\":", 16));
    crest_test_response_fini(&res);
}

/* The test client's one worker is started at the first request, serves every request after with
 * the same data, and is stopped by crest_app_free (issue 14: state of an app part). */
static void test_testclient_starts_its_worker_once_and_stops_it_at_app_free(void **state)
{
    struct hook_counts h = {0};
    struct crest_app *app = hooked_app(&h);
    struct crest_test_response res;

    (void)state;
    for (int k = 0; k < 3; k++) {
        get(app, "GET", "/data", NULL, &res);
        assert_int_equal(res.status, 200);
        assert_str_is(res.body, "started");
        crest_test_response_fini(&res);
    }
    assert_int_equal(h.starts, 1);
    assert_int_equal(h.stops, 0);
    crest_app_free(app);
    assert_int_equal(h.stops, 1);
    assert_ptr_equal(h.stopped_data, &h);
}

/* A worker start hook that fails fails the request with its errno, stops nothing, and is tried
 * again by the next request. */
static void test_testclient_failed_worker_start_fails_request_and_is_retried(void **state)
{
    struct hook_counts h = {.starts_to_refuse = 1};
    struct crest_app *app = hooked_app(&h);
    struct crest_test_response res;

    (void)state;
    assert_int_equal(crest_test_request(app, "GET", "/data", NULL, &res), -EIO);
    assert_null(res.raw);
    assert_int_equal(h.stops, 0);
    get(app, "GET", "/data", NULL, &res);
    assert_int_equal(res.status, 200);
    assert_str_is(res.body, "started");
    crest_test_response_fini(&res);
    assert_int_equal(h.starts, 2);
    crest_app_free(app);
    assert_int_equal(h.stops, 1);
}

static void test_testclient_answers_501_to_unknown_method(void **state)
{
    static const char *const methods[] = {"PURGE", "get", "CONNECT"};
    struct crest_test_response res;

    for (size_t k = 0; k < ARRAY_LEN(methods); k++) {
        const char *target = strcmp(methods[k], "CONNECT") == 0 ? "t:443" : "/json";
        get(*state, methods[k], target, NULL, &res);
        assert_int_equal(res.status, 501);
        assert_str_is(res.body, "{\"detail\":\"Not Implemented\"}");
        crest_test_response_fini(&res);
    }
}

/* CONNECT is refused (crest is not a proxy) even when its bytes fill the whole read buffer, whose
 * authority-form target holds no "://" to stop a scan for one. */
static void test_testclient_answers_501_to_connect_filling_read_buffer(void **state)
{
    static const char head[] = "CONNECT t:443 HTTP/1.1\r\nHost: t\r\nContent-Length: 40000\r\n\r\n";
    size_t len = sizeof(head) - 1 + 40000;
    char *req = malloc(len);
    struct crest_test_response res;

    assert_non_null(req);
    memcpy(req, head, sizeof(head) - 1);
    memset(req + sizeof(head) - 1, 'a', 40000);
    raw(*state, req, len, &res);
    assert_int_equal(res.status, 501);
    assert_str_is(res.body, "{\"detail\":\"Not Implemented\"}");
    crest_test_response_fini(&res);
    free(req);
}

static void test_testclient_options_answers_204_with_allow(void **state)
{
    struct crest_test_response res;

    get(*state, "OPTIONS", "/json", NULL, &res);
    assert_int_equal(res.status, 204);
    assert_header(&res, "Allow", "GET, HEAD, OPTIONS");
    assert_no_header(&res, "Content-Length");
    assert_int_equal(res.body.len, 0);
    crest_test_response_fini(&res);

    get(*state, "OPTIONS", "/items/1", NULL, &res);
    assert_int_equal(res.status, 204);
    assert_header(&res, "Allow", "GET, HEAD, DELETE, OPTIONS");
    crest_test_response_fini(&res);

    get(*state, "OPTIONS", "/nope", NULL, &res);
    assert_int_equal(res.status, 404);
    crest_test_response_fini(&res);
}

static void test_testclient_options_asterisk_lists_every_method(void **state)
{
    struct crest_test_response res;

    get(*state, "OPTIONS", "*", NULL, &res);
    assert_int_equal(res.status, 204);
    assert_header(&res, "Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS");
    crest_test_response_fini(&res);
}

static void test_testclient_handler_status_204_has_no_body(void **state)
{
    struct crest_test_response res;

    get(*state, "DELETE", "/items/5", NULL, &res);
    assert_int_equal(res.status, 204);
    assert_no_header(&res, "Content-Length");
    assert_int_equal(res.body.len, 0);
    crest_test_response_fini(&res);
}

static void test_testclient_answers_400_to_bad_percent_encoding_in_path(void **state)
{
    struct crest_test_response res;

    get(*state, "GET", "/items/%zz", NULL, &res);
    assert_int_equal(res.status, 400);
    assert_str_is(res.body, "{\"detail\":\"Invalid percent-encoding in path\"}");
    crest_test_response_fini(&res);
}

static void test_testclient_answers_parse_error_and_closes(void **state)
{
    struct crest_test_response res;

    raw(*state, LIT("GET /json HTTP/2.0\r\nHost: t\r\n\r\nGET /json HTTP/1.1\r\nHost: t\r\n\r\n"),
        &res);
    assert_int_equal(res.status, 505);
    assert_header(&res, "Connection", "close");
    assert_str_is(res.body, "{\"detail\":\"HTTP version not supported\"}");
    crest_test_response_fini(&res);
}

static void test_testclient_answers_413_to_content_length_over_limit(void **state)
{
    struct crest_test_response res;

    raw(*state, LIT("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n"), &res);
    assert_int_equal(res.status, 413);
    assert_header(&res, "Connection", "close");
    crest_test_response_fini(&res);
}

static void test_testclient_connection_close_ends_after_first_response(void **state)
{
    static const char req[] = "GET /json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                              "GET /json HTTP/1.1\r\nHost: t\r\n\r\n";
    struct crest_test_response res;
    struct one_response r[3];

    raw(*state, LIT(req), &res);
    assert_int_equal(split_responses(&res, r, 3), 1);
    assert_header(&res, "Connection", "close");
    crest_test_response_fini(&res);
}

static void test_testclient_http10_keep_alive_is_confirmed(void **state)
{
    struct crest_test_response res;
    struct one_response r[3];

    raw(*state,
        LIT("GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /json HTTP/1.0\r\n\r\n"),
        &res);
    assert_int_equal(split_responses(&res, r, 3), 2);
    assert_non_null(memmem(r[0].head.ptr, r[0].head.len, "Connection: keep-alive\r\n", 24));
    assert_non_null(memmem(r[1].head.ptr, r[1].head.len, "Connection: close\r\n", 19));
    crest_test_response_fini(&res);
}

/* The body arrived with the head: no interim 100 is needed, and the final answer is parsed. */
static void test_testclient_expect_continue_with_body_present_gets_final_answer(void **state)
{
    static const char req[] = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                              "Expect: 100-continue\r\n\r\nhello";
    struct crest_test_response res;

    raw(*state, LIT(req), &res);
    assert_int_equal(res.status, 200);
    assert_str_is(res.body, "hello");
    crest_test_response_fini(&res);
}

static void test_testclient_request_refuses_targets_that_cannot_form_a_request(void **state)
{
    struct crest_test_response res;

    assert_int_equal(crest_test_request(*state, "GET", "/a b", NULL, &res), -EINVAL);
    assert_int_equal(crest_test_request(*state, "GET", "/a\r\nX: y", NULL, &res), -EINVAL);
    assert_int_equal(crest_test_request(*state, "G T", "/", NULL, &res), -EINVAL);
    assert_int_equal(crest_test_request(*state, NULL, "/", NULL, &res), -EINVAL);
}

static void test_testclient_header_lookup_is_case_insensitive_and_exact(void **state)
{
    struct crest_test_response res;

    get(*state, "GET", "/json", NULL, &res);
    assert_str_is(crest_test_header(&res, "CONTENT-TYPE"), "application/json");
    assert_null(crest_test_header(&res, "Content").ptr);
    assert_null(crest_test_header(&res, "Content-Type-X").ptr);
    crest_test_response_fini(&res);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* issue 16: headers and cookies, so authenticated routes are testable in process */
static void test_testclient_sends_headers_and_cookies(void **state)
{
    static const char *const headers[] = {"Authorization: Bearer k1", "Cookie: session=abc; x=1"};
    const struct crest_test_req r = {
        .method = "GET", .target = "/whoami", .headers = headers, .n_headers = 2};
    struct crest_test_response res;

    assert_int_equal(crest_test_send(*state, &r, &res), 0);
    assert_int_equal(res.status, 200);
    assert_str_is(res.body, "{\"Authorization\":\"Bearer k1\",\"Cookie\":\"session=abc; x=1\","
                            "\"Host\":\"testserver\",\"Content-Type\":null}");
    crest_test_response_fini(&res);
}

static void test_testclient_sends_a_body_of_any_type_and_its_own_host(void **state)
{
    static const char *const headers[] = {"host: example.com"};
    const struct crest_test_req r = {.method = "POST",
                                     .target = "/whoami",
                                     .headers = headers,
                                     .n_headers = 1,
                                     .body = "a=1\0b",
                                     .body_len = 5,
                                     .content_type = "application/x-www-form-urlencoded"};
    struct crest_test_response res;

    assert_int_equal(crest_test_send(*state, &r, &res), 0);
    assert_int_equal(res.status, 200);
    assert_str_is(res.body, "{\"Authorization\":null,\"Cookie\":null,\"Host\":\"example.com\","
                            "\"Content-Type\":\"application/x-www-form-urlencoded\"}");
    crest_test_response_fini(&res);
}

static void test_testclient_refuses_header_lines_that_would_split_the_request(void **state)
{
    static const char *const bad[][1] = {
        {"X-A: 1\r\nX-Evil: 2"}, {"X-A 1"}, {": v"}, {"X A: 1"}, {"X-A: 1\n"}};
    struct crest_test_response res;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const struct crest_test_req r = {
            .method = "GET", .target = "/whoami", .headers = bad[i], .n_headers = 1};
        assert_int_equal(crest_test_send(*state, &r, &res), -EINVAL);
    }
    const struct crest_test_req ct = {
        .method = "POST", .target = "/whoami", .body = "x", .content_type = "a\r\nb: c"};
    assert_int_equal(crest_test_send(*state, &ct, &res), -EINVAL);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        T(test_testclient_get_json_answers_200_with_exact_body),
        T(test_testclient_sends_headers_and_cookies),
        T(test_testclient_sends_a_body_of_any_type_and_its_own_host),
        T(test_testclient_refuses_header_lines_that_would_split_the_request),
        T(test_testclient_answers_404_with_detail),
        T(test_testclient_answers_405_with_detail_and_allow),
        T(test_testclient_head_answers_headers_without_body),
        T(test_testclient_answers_422_to_non_integer_path_parameter),
        T(test_testclient_answers_422_with_decoded_input),
        T(test_testclient_passes_integer_path_parameter),
        T(test_testclient_post_body_reaches_handler),
        T(test_testclient_post_without_body_gives_empty_body),
        T(test_testclient_chunked_body_reaches_handler_dechunked),
        T(test_testclient_answers_request_pipelined_after_chunked_body),
        T(test_testclient_res_header_refuses_crlf_and_bad_names),
        T(test_testclient_handler_sees_path_query_route_and_headers),
        T(test_testclient_strips_absolute_form_target_to_path),
        T(test_testclient_pending_handler_finishes_from_timer),
        T(test_testclient_pending_handler_then_pipelined_request_answered_in_order),
        T(test_testclient_two_pending_requests_pipelined_answered_in_order),
        T(test_testclient_answers_every_pipelined_request_past_output_high_water),
        T(test_testclient_handler_finishing_before_returning_pending_answers),
        T(test_testclient_reports_deadlock_for_pending_handler_without_timer),
        T(test_testclient_debug_route_after_pending_handler_sees_a_local_peer),
        cmocka_unit_test(test_testclient_starts_its_worker_once_and_stops_it_at_app_free),
        cmocka_unit_test(test_testclient_failed_worker_start_fails_request_and_is_retried),
        T(test_testclient_answers_501_to_unknown_method),
        T(test_testclient_answers_501_to_connect_filling_read_buffer),
        T(test_testclient_options_answers_204_with_allow),
        T(test_testclient_options_asterisk_lists_every_method),
        T(test_testclient_handler_status_204_has_no_body),
        T(test_testclient_answers_400_to_bad_percent_encoding_in_path),
        T(test_testclient_answers_parse_error_and_closes),
        T(test_testclient_answers_413_to_content_length_over_limit),
        T(test_testclient_connection_close_ends_after_first_response),
        T(test_testclient_http10_keep_alive_is_confirmed),
        T(test_testclient_expect_continue_with_body_present_gets_final_answer),
        T(test_testclient_request_refuses_targets_that_cannot_form_a_request),
        T(test_testclient_header_lookup_is_case_insensitive_and_exact),
    };
    return cmocka_run_group_tests_name("app_testclient", tests, NULL, NULL);
}
