/* tests/unit/test_mem_steady.c: nothing leaks per request (STYLE.md 4). After a warm-up, 10,000
 * requests of every kind a service sees (JSON, path parameters, 404/405/422, bodies plain and
 * chunked, query parameters, arena overflow, large responses, pending handlers with timers, parse
 * errors) go through crest_test_request / crest_test_raw, and the live bytes and blocks of every
 * memory tag must come back to exactly what they were before the run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crest.h"
#include "mem/mem.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define LIT(s) s, sizeof(s) - 1

enum {
    WARMUP_REQUESTS = 100,
    STEADY_REQUESTS = 10000,
    ARENA_OVERFLOW_BYTES = 8192,
    REQUESTS_PER_ROUND = 12, /* in pipelined() */
};

static enum crest_handler_result get_item(struct crest_req *req, void *ud)
{
    int64_t id = 0, limit = 10;
    struct crest_str q;
    struct crest_json *j;
    int rc;

    (void)ud;
    if (crest_path_int(req, "item_id", &id) != 0)
        return CREST_DONE;
    rc = crest_query_int(req, "limit", &limit); /* -ENOENT: the default stays */
    j = crest_res_json(req, 200);
    crest_json_object_begin(j);
    crest_json_key(j, "item_id");
    crest_json_int(j, id);
    crest_json_key(j, "limit");
    crest_json_int(j, rc == 0 ? limit : 10);
    crest_json_key(j, "q");
    if (crest_query_str(req, "q", &q) == 0)
        crest_json_string_len(j, q.ptr, q.len);
    else
        crest_json_null(j);
    crest_json_object_end(j);
    return CREST_DONE;
}

static enum crest_handler_result echo(struct crest_req *req, void *ud)
{
    struct crest_str body = crest_req_body(req);

    (void)ud;
    if (crest_res_header(req, "X-Echo", "1") != 0 ||
        crest_res_body(req, "application/json", body.ptr ? body.ptr : "", body.len) != 0)
        crest_res_status(req, 500);
    return CREST_DONE;
}

/* Outgrows the arena's first chunk, so heap chunks are taken and must be given back. */
static enum crest_handler_result arena_heavy(struct crest_req *req, void *ud)
{
    char *scratch = crest_req_alloc(req, ARENA_OVERFLOW_BYTES);

    (void)ud;
    if (!scratch || crest_res_body(req, "text/plain", memset(scratch, 'x', ARENA_OVERFLOW_BYTES),
                                   ARENA_OVERFLOW_BYTES) != 0)
        crest_res_status(req, 500);
    return CREST_DONE;
}

/* A response larger than the buffers a session keeps (64 KiB). */
static enum crest_handler_result big(struct crest_req *req, void *ud)
{
    static char body[100 << 10];

    (void)ud;
    memset(body, 'b', sizeof(body));
    if (crest_res_body(req, "text/plain", body, sizeof(body)) != 0)
        crest_res_status(req, 500);
    return CREST_DONE;
}

static void later_done(struct crest_req *req, void *ud)
{
    struct crest_json *j = crest_res_json(req, 200);

    (void)ud;
    crest_json_object_begin(j);
    crest_json_key(j, "later");
    crest_json_bool(j, true);
    crest_json_object_end(j);
    crest_req_finish(req);
}

static enum crest_handler_result later(struct crest_req *req, void *ud)
{
    (void)ud;
    if (crest_req_timer(req, 0, later_done, NULL) != 0) {
        crest_res_status(req, 500);
        return CREST_DONE;
    }
    return CREST_PENDING;
}

struct sample {
    const char *method;
    const char *target;
    const char *body; /* for crest_test_request */
    const char *raw;  /* when set: sent as is with crest_test_raw */
    size_t raw_len;
    int status;
};

static const struct sample samples[] = {
    {"GET", "/json", NULL, NULL, 0, 200},
    {"GET", "/healthz", NULL, NULL, 0, 200},
    {"GET", "/items/42?limit=5&q=caf%C3%A9+au+lait", NULL, NULL, 0, 200},
    {"GET", "/items/abc", NULL, NULL, 0, 422},
    {"GET", "/nope/%7Ex", NULL, NULL, 0, 404},
    {"DELETE", "/json", NULL, NULL, 0, 405},
    {"HEAD", "/json", NULL, NULL, 0, 200},
    {"OPTIONS", "/items/1", NULL, NULL, 0, 204},
    {"PURGE", "/json", NULL, NULL, 0, 501},
    {"POST", "/echo", "{\"name\":\"widget\",\"price\":9.5}", NULL, 0, 200},
    {"GET", "/arena", NULL, NULL, 0, 200},
    {"GET", "/big", NULL, NULL, 0, 200},
    {"GET", "/later", NULL, NULL, 0, 200},
    {NULL, NULL, NULL,
     LIT("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
         "4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n"),
     200},
    {NULL, NULL, NULL,
     LIT("GET /later HTTP/1.1\r\nHost: t\r\n\r\nGET /json HTTP/1.1\r\nHost: t\r\n\r\n"
         "GET /items/1 HTTP/1.1\r\nHost: t\r\n\r\n"),
     200},
    {NULL, NULL, NULL, LIT("GET / HTTP/1.1\r\nHost: t\r\nX-Bad : 1\r\n\r\n"), 400},
};

static void run_one(struct crest_app *app, const struct sample *s)
{
    struct crest_test_response res;
    int rc = s->raw ? crest_test_raw(app, s->raw, s->raw_len, &res)
                    : crest_test_request(app, s->method, s->target, s->body, &res);

    assert_int_equal(rc, 0);
    if (res.status != s->status)
        fail_msg("%s %s: status %d, wanted %d", s->method ? s->method : "raw",
                 s->target ? s->target : "", res.status, s->status);
    crest_test_response_fini(&res);
}

static void run_many(struct crest_app *app, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        run_one(app, &samples[k % ARRAY_LEN(samples)]);
}

static struct crest_app *new_app(void)
{
    static const struct crest_route routes[] = {
        {.method = "GET", .path = "/items/{item_id:int}", .handler = get_item},
        {.method = "POST", .path = "/echo", .handler = echo},
        {.method = "GET", .path = "/arena", .handler = arena_heavy},
        {.method = "GET", .path = "/big", .handler = big},
        {.method = "GET", .path = "/later", .handler = later},
    };
    struct crest_app *app = crest_app_new("mem-steady", "1.0");

    assert_non_null(app);
    assert_int_equal(crest_app_add_builtin_routes(app), 0);
    for (size_t k = 0; k < ARRAY_LEN(routes); k++)
        assert_int_equal(crest_app_add_route(app, &routes[k], NULL), 0);
    return app;
}

static void snapshot(struct mem_tag_stats *out)
{
    for (int tag = 0; tag < MEM_TAG_COUNT; tag++)
        mem_stats((enum mem_tag)tag, &out[tag]);
}

static void test_mem_steady_live_bytes_return_after_10000_requests(void **state)
{
    struct mem_tag_stats before[MEM_TAG_COUNT], after[MEM_TAG_COUNT];
    struct crest_app *app = new_app();

    (void)state;
    run_many(app, WARMUP_REQUESTS);
    snapshot(before);
    run_many(app, STEADY_REQUESTS);
    snapshot(after);
    for (int tag = 0; tag < MEM_TAG_COUNT; tag++) {
        if (after[tag].live_bytes != before[tag].live_bytes ||
            after[tag].live_blocks != before[tag].live_blocks)
            fail_msg("tag %s: %lld bytes in %lld blocks before, %lld in %lld after",
                     mem_tag_name((enum mem_tag)tag), (long long)before[tag].live_bytes,
                     (long long)before[tag].live_blocks, (long long)after[tag].live_bytes,
                     (long long)after[tag].live_blocks);
    }
    /* the run did allocate: the counters were live, not stuck */
    assert_true(after[MEM_TEST].total_blocks > before[MEM_TEST].total_blocks);
    crest_app_free(app);
}

/* Everything the app and the requests took is given back once the app is freed. */
static void test_mem_steady_app_free_returns_every_byte(void **state)
{
    struct mem_tag_stats before[MEM_TAG_COUNT], after[MEM_TAG_COUNT];
    struct crest_app *app;

    (void)state;
    snapshot(before);
    app = new_app();
    run_many(app, ARRAY_LEN(samples) * 3);
    crest_app_free(app);
    snapshot(after);
    for (int tag = 0; tag < MEM_TAG_COUNT; tag++) {
        if (after[tag].live_bytes != before[tag].live_bytes ||
            after[tag].live_blocks != before[tag].live_blocks)
            fail_msg("tag %s: %lld bytes in %lld blocks before, %lld in %lld after",
                     mem_tag_name((enum mem_tag)tag), (long long)before[tag].live_bytes,
                     (long long)before[tag].live_blocks, (long long)after[tag].live_bytes,
                     (long long)after[tag].live_blocks);
    }
}

/* One connection's worth of keep-alive requests of every kind, `rounds` times over. */
static char *pipelined(unsigned rounds, size_t *len)
{
    static const char round[] =
        "GET /json HTTP/1.1\r\nHost: t\r\n\r\n"
        "GET /items/42?limit=5&q=caf%C3%A9+au+lait HTTP/1.1\r\nHost: t\r\n\r\n"
        "GET /items/abc HTTP/1.1\r\nHost: t\r\n\r\n"
        "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
        "DELETE /json HTTP/1.1\r\nHost: t\r\n\r\n"
        "HEAD /json HTTP/1.1\r\nHost: t\r\n\r\n"
        "OPTIONS /items/1 HTTP/1.1\r\nHost: t\r\n\r\n"
        "PURGE /json HTTP/1.1\r\nHost: t\r\n\r\n"
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n"
        "GET /later HTTP/1.1\r\nHost: t\r\n\r\n"
        "GET /arena HTTP/1.1\r\nHost: t\r\n\r\n";
    char *s = malloc(rounds * (sizeof(round) - 1));

    assert_non_null(s);
    for (unsigned k = 0; k < rounds; k++)
        memcpy(s + k * (sizeof(round) - 1), round, sizeof(round) - 1);
    *len = rounds * (sizeof(round) - 1);
    return s;
}

static size_t count_responses(const struct crest_test_response *res)
{
    const char *p = res->raw, *end = res->raw + res->raw_len;
    size_t n = 0;

    while ((p = memmem(p, (size_t)(end - p), "HTTP/1.1 ", 9)) != NULL) {
        n++;
        p += 9;
    }
    return n;
}

/* Blocks each tag allocated while one connection served `rounds` rounds of requests. */
static void blocks_for_rounds(struct crest_app *app, unsigned rounds, uint64_t *blocks)
{
    struct mem_tag_stats before[MEM_TAG_COUNT], after[MEM_TAG_COUNT];
    struct crest_test_response res;
    size_t len;
    char *req = pipelined(rounds, &len);

    snapshot(before);
    assert_int_equal(crest_test_raw(app, req, len, &res), 0);
    snapshot(after);
    assert_int_equal(res.status, 200);
    assert_int_equal(count_responses(&res), rounds * REQUESTS_PER_ROUND);
    crest_test_response_fini(&res);
    free(req);
    for (int tag = 0; tag < MEM_TAG_COUNT; tag++)
        blocks[tag] = after[tag].total_blocks - before[tag].total_blocks;
}

/* On one connection, a steady stream of requests takes heap blocks only for arena chunks beyond
 * the embedded first one: sessions, buffers and timers are set up once and reused. */
static void test_mem_steady_connection_allocates_only_arena_chunks_per_request(void **state)
{
    uint64_t few[MEM_TAG_COUNT], many[MEM_TAG_COUNT];
    struct crest_app *app = new_app();

    (void)state;
    blocks_for_rounds(app, 20, few);
    blocks_for_rounds(app, 200, many);
    for (int tag = 0; tag < MEM_TAG_COUNT; tag++) {
        if (tag == MEM_ARENA)
            continue;
        if (many[tag] != few[tag])
            fail_msg("tag %s: %llu blocks for 20 rounds, %llu for 200",
                     mem_tag_name((enum mem_tag)tag), (unsigned long long)few[tag],
                     (unsigned long long)many[tag]);
    }
    /* the /arena handler outgrows the first chunk once per round */
    assert_true(many[MEM_ARENA] >= 200);
    crest_app_free(app);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mem_steady_live_bytes_return_after_10000_requests),
        cmocka_unit_test(test_mem_steady_app_free_returns_every_byte),
        cmocka_unit_test(test_mem_steady_connection_allocates_only_arena_chunks_per_request),
    };
    return cmocka_run_group_tests_name("mem_steady", tests, NULL, NULL);
}
