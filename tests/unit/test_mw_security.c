/* tests/unit/test_mw_security.c: security schemes (mw/security.c, issue 16) through the test
 * client: HTTP Bearer, HTTP Basic and API keys in a header, a query parameter and a cookie, each
 * allowed, missing (401 Not authenticated with its WWW-Authenticate) and malformed (401 Invalid
 * authentication credentials, the check never called): a wrong scheme, "Bearer" alone, bytes
 * outside token68, an oversized token, bad base64, no colon, a control byte; two Authorization
 * fields (400); the built-in key list; a check that answers later (crest_security_done: allow,
 * deny, forbid); authentication before validation (401, not 422); credentials never echoed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crest.h"

static int handler_calls, check_calls;
static char seen_user[64], seen_password[64], seen_token[64];

static enum crest_handler_result hello(struct crest_req *req, void *ud)
{
    (void)ud;
    handler_calls++;
    struct crest_json *j = crest_res_json(req, 200);
    const char *who = crest_req_get(req, "user");
    crest_json_object_begin(j);
    crest_json_key(j, "user");
    crest_json_string(j, who ? who : "");
    crest_json_object_end(j);
    return CREST_DONE;
}

static void copy(char *out, struct crest_str s)
{
    snprintf(out, 64, "%.*s", (int)s.len, s.ptr ? s.ptr : "");
}

/* Allows "good" (and Basic alice:secret), forbids "guest", denies the rest. */
static enum crest_security_result check(struct crest_req *req, const struct crest_credentials *c,
                                        void *ud)
{
    (void)ud;
    check_calls++;
    copy(seen_token, c->token);
    copy(seen_user, c->username);
    copy(seen_password, c->password);
    if (c->kind == CREST_SECURITY_HTTP_BASIC)
        return strcmp(seen_user, "alice") == 0 && strcmp(seen_password, "sec:ret") == 0
                   ? CREST_SECURITY_ALLOW
                   : CREST_SECURITY_DENY;
    if (strcmp(seen_token, "guest") == 0)
        return CREST_SECURITY_FORBID;
    if (strcmp(seen_token, "good") != 0)
        return CREST_SECURITY_DENY;
    assert_int_equal(crest_req_set(req, "user", "the good one"), 0);
    return CREST_SECURITY_ALLOW;
}

/* The same answer, given after 5 ms (a key looked up in a database). */
static void later(struct crest_req *req, void *ud)
{
    crest_security_done(req, (enum crest_security_result)(intptr_t)ud);
}

static enum crest_security_result check_later(struct crest_req *req,
                                              const struct crest_credentials *c, void *ud)
{
    enum crest_security_result r = check(req, c, ud);
    assert_int_equal(crest_req_timer(req, 5, later, (void *)(intptr_t)r), 0);
    return CREST_SECURITY_PENDING;
}

static const struct crest_security bearer = {.kind = CREST_SECURITY_HTTP_BEARER, .check = check};
static const struct crest_security bearer_later = {.kind = CREST_SECURITY_HTTP_BEARER,
                                                   .check = check_later};
static const struct crest_security basic = {
    .kind = CREST_SECURITY_HTTP_BASIC, .realm = "notes", .check = check};
static const struct crest_security key_header = {.kind = CREST_SECURITY_API_KEY,
                                                 .in = CREST_IN_HEADER,
                                                 .param_name = "X-API-Key",
                                                 .check = check};
static const struct crest_security key_query = {
    .kind = CREST_SECURITY_API_KEY, .in = CREST_IN_QUERY, .param_name = "api_key", .check = check};
static const struct crest_security key_cookie = {
    .kind = CREST_SECURITY_API_KEY, .in = CREST_IN_COOKIE, .param_name = "session", .check = check};
static const char *const keys[] = {"k-one", "k-two-longer", "alice:wonder"};
static const struct crest_security listed = {
    .kind = CREST_SECURITY_HTTP_BEARER, .keys = keys, .n_keys = 3};
static const struct crest_security listed_basic = {
    .kind = CREST_SECURITY_HTTP_BASIC, .keys = keys, .n_keys = 3};

static const struct crest_field fields[] = {
    {.name = "name", .type = CREST_TYPE_STRING, .required = true}};
static const struct crest_schema schema = {.name = "N", .fields = fields, .n_fields = 1};

static struct crest_app *app_with(const struct crest_security *s)
{
    static struct crest_hook hooks[1];
    struct crest_app *app = crest_app_new("security", "1");
    hooks[0] = (struct crest_hook)CREST_SECURITY_HOOK(s);
    const struct crest_route get = {
        .method = "GET", .path = "/x", .handler = hello, .hooks = hooks, .n_hooks = 1};
    const struct crest_route post = {.method = "POST",
                                     .path = "/x",
                                     .handler = hello,
                                     .body = &schema,
                                     .hooks = hooks,
                                     .n_hooks = 1};
    const struct crest_route open = {.method = "GET", .path = "/open", .handler = hello};
    assert_non_null(app);
    assert_int_equal(crest_app_add_route(app, &get, NULL), 0);
    assert_int_equal(crest_app_add_route(app, &post, NULL), 0);
    assert_int_equal(crest_app_add_route(app, &open, NULL), 0);
    handler_calls = check_calls = 0;
    return app;
}

static int send(struct crest_app *app, const char *method, const char *target,
                const char *const *headers, size_t n, const char *body,
                struct crest_test_response *res)
{
    const struct crest_test_req r = {
        .method = method, .target = target, .headers = headers, .n_headers = n, .body = body};
    assert_int_equal(crest_test_send(app, &r, res), 0);
    return res->status;
}

static void assert_header(const struct crest_test_response *res, const char *name, const char *want)
{
    struct crest_str v = crest_test_header(res, name);
    if (!want) {
        if (v.ptr)
            fail_msg("%s: want none, got \"%.*s\"", name, (int)v.len, v.ptr);
        return;
    }
    if (!v.ptr || v.len != strlen(want) || memcmp(v.ptr, want, v.len) != 0)
        fail_msg("%s: want \"%s\", got \"%.*s\"", name, want, (int)v.len, v.ptr ? v.ptr : "");
}

static void assert_body(const struct crest_test_response *res, const char *want)
{
    if (res->body.len != strlen(want) || memcmp(res->body.ptr, want, res->body.len) != 0)
        fail_msg("body: want %s, got %.*s", want, (int)res->body.len, res->body.ptr);
}

/* One request with one header line (or none), its status, challenge and body checked. */
static void expect(const struct crest_security *s, const char *target, const char *header,
                   int status, const char *challenge, const char *body)
{
    struct crest_app *app = app_with(s);
    struct crest_test_response res = {0};
    const char *const h[] = {header};
    send(app, "GET", target, h, header ? 1 : 0, NULL, &res);
    if (res.status != status)
        fail_msg("%s %s: want %d, got %d: %.*s", target, header ? header : "(none)", status,
                 res.status, (int)res.body.len, res.body.ptr);
    assert_header(&res, "WWW-Authenticate", challenge);
    assert_body(&res, body);
    assert_int_equal(handler_calls, status == 200);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static const char NOT_AUTHENTICATED[] = "{\"detail\":\"Not authenticated\"}";
static const char INVALID[] = "{\"detail\":\"Invalid authentication credentials\"}";
static const char ALLOWED[] = "{\"user\":\"the good one\"}";

/* ---- Bearer ---- */

static void test_bearer_token_reaches_the_check_and_the_handler(void **state)
{
    (void)state;
    expect(&bearer, "/x", "Authorization: Bearer good", 200, NULL, ALLOWED);
    assert_string_equal(seen_token, "good");
    expect(&bearer, "/x", "authorization: bearer    good", 200, NULL, ALLOWED);
    assert_int_equal(check_calls, 1);
}

static void test_bearer_missing_is_401_not_authenticated_with_challenge(void **state)
{
    (void)state;
    expect(&bearer, "/x", NULL, 401, "Bearer", NOT_AUTHENTICATED);
    expect(&bearer, "/x", "Authorization: Bearer", 401, "Bearer", NOT_AUTHENTICATED);
    expect(&bearer, "/x", "Authorization: Bearer   ", 401, "Bearer", NOT_AUTHENTICATED);
    expect(&bearer, "/x", "Authorization:", 401, "Bearer", NOT_AUTHENTICATED);
    assert_int_equal(check_calls, 0);
}

static void test_bearer_malformed_is_401_invalid_without_calling_the_check(void **state)
{
    (void)state;
    expect(&bearer, "/x", "Authorization: Basic Z29vZA==", 401, "Bearer", INVALID);
    expect(&bearer, "/x", "Authorization: Bearergood", 401, "Bearer", INVALID);
    expect(&bearer, "/x", "Authorization: Bearer go od", 401, "Bearer", INVALID);
    expect(&bearer, "/x", "Authorization: Bearer go\"od", 401, "Bearer", INVALID);
    expect(&bearer, "/x", "Authorization: Bearer =good", 401, "Bearer", INVALID);
    expect(&bearer, "/x", "Authorization: Bearer go=od", 401, "Bearer", INVALID);
    expect(&bearer, "/x", "Authorization: Bearer g\xc3\xa9", 401, "Bearer", INVALID);
    assert_int_equal(check_calls, 0);
}

static void test_bearer_oversized_token_is_refused_before_the_check(void **state)
{
    (void)state;
    char *line = malloc(CREST_SECURITY_MAX_BYTES + 64);
    int n = snprintf(line, 64, "Authorization: Bearer ");
    memset(line + n, 'a', CREST_SECURITY_MAX_BYTES + 1);
    line[n + CREST_SECURITY_MAX_BYTES + 1] = '\0';
    expect(&bearer, "/x", line, 401, "Bearer", INVALID);
    assert_int_equal(check_calls, 0);
    line[n + CREST_SECURITY_MAX_BYTES] = '\0'; /* the longest taken */
    expect(&bearer, "/x", line, 401, "Bearer", INVALID);
    assert_int_equal(check_calls, 1); /* reached the check, which denied it */
    free(line);
}

static void test_bearer_repeated_authorization_is_400(void **state)
{
    (void)state;
    struct crest_app *app = app_with(&bearer);
    struct crest_test_response res = {0};
    const char *const h[] = {"Authorization: Bearer good", "Authorization: Bearer evil"};
    assert_int_equal(send(app, "GET", "/x", h, 2, NULL, &res), 400);
    assert_body(&res, "{\"detail\":\"Repeated Authorization header\"}");
    assert_int_equal(check_calls + handler_calls, 0);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

static void test_check_deny_is_401_and_forbid_is_403(void **state)
{
    (void)state;
    expect(&bearer, "/x", "Authorization: Bearer bad", 401, "Bearer", INVALID);
    expect(&bearer, "/x", "Authorization: Bearer guest", 403, NULL,
           "{\"detail\":\"Not enough permissions\"}");
}

static void test_routes_without_the_hook_stay_open(void **state)
{
    (void)state;
    struct crest_app *app = app_with(&bearer);
    struct crest_test_response res = {0};
    assert_int_equal(send(app, "GET", "/open", NULL, 0, NULL, &res), 200);
    assert_int_equal(check_calls, 0);
    crest_test_response_fini(&res);
    crest_app_free(app);
}

/* ---- Basic ---- */

static void test_basic_decodes_user_and_password_at_the_first_colon(void **state)
{
    (void)state;
    /* base64("alice:sec:ret") */
    expect(&basic, "/x", "Authorization: Basic YWxpY2U6c2VjOnJldA==", 200, NULL, "{\"user\":\"\"}");
    assert_string_equal(seen_user, "alice");
    assert_string_equal(seen_password, "sec:ret");
    assert_string_equal(seen_token, "");
}

static void test_basic_missing_and_wrong_have_the_realm_challenge(void **state)
{
    (void)state;
    expect(&basic, "/x", NULL, 401, "Basic realm=\"notes\"", NOT_AUTHENTICATED);
    /* base64("alice:nope") */
    expect(&basic, "/x", "Authorization: Basic YWxpY2U6bm9wZQ==", 401, "Basic realm=\"notes\"",
           INVALID);
    const struct crest_security no_realm = {.kind = CREST_SECURITY_HTTP_BASIC, .check = check};
    expect(&no_realm, "/x", NULL, 401, "Basic", NOT_AUTHENTICATED);
}

static void test_basic_malformed_is_401_invalid_without_calling_the_check(void **state)
{
    (void)state;
    const char *const bad[] = {
        "Authorization: Basic YWxpY2U",      /* length not a multiple of 4 */
        "Authorization: Basic YWxp!2U6eA==", /* a byte outside base64 */
        "Authorization: Basic YWxpY2U=",     /* "alice": no colon (and bad length) */
        "Authorization: Basic YWxpY2Vh",     /* "alicea": no colon */
        "Authorization: Basic YQ==YQ==",     /* padding inside */
        "Authorization: Basic YR==",         /* unused bits set */
        "Authorization: Basic YTpiAGM=",     /* "a:b\0c": a control byte */
        "Authorization: Bearer YWxpY2U6eA==", "Authorization: Basic ====",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect(&basic, "/x", bad[i], 401, "Basic realm=\"notes\"", INVALID);
    assert_int_equal(check_calls, 0);
}

static void test_basic_with_the_key_list_compares_user_colon_password(void **state)
{
    (void)state;
    /* base64("alice:wonder"), base64("alice:wonde") */
    expect(&listed_basic, "/x", "Authorization: Basic YWxpY2U6d29uZGVy", 200, NULL,
           "{\"user\":\"\"}");
    expect(&listed_basic, "/x", "Authorization: Basic YWxpY2U6d29uZGU=", 401, "Basic", INVALID);
}

/* ---- API keys ---- */

static void test_api_key_in_header_query_and_cookie(void **state)
{
    (void)state;
    expect(&key_header, "/x", "X-API-Key: good", 200, NULL, ALLOWED);
    expect(&key_header, "/x", "x-api-key: bad", 401, "APIKey", INVALID);
    expect(&key_header, "/x", NULL, 401, "APIKey", NOT_AUTHENTICATED);
    expect(&key_header, "/x", "X-API-Key:", 401, "APIKey", NOT_AUTHENTICATED);
    expect(&key_query, "/x?api_key=good", NULL, 200, NULL, ALLOWED);
    expect(&key_query, "/x?api_key=go%6Fd", NULL, 200, NULL, ALLOWED);
    expect(&key_query, "/x?api_key=", NULL, 401, "APIKey", NOT_AUTHENTICATED);
    expect(&key_query, "/x?other=good", NULL, 401, "APIKey", NOT_AUTHENTICATED);
    expect(&key_cookie, "/x", "Cookie: a=1; session=good; b=2", 200, NULL, ALLOWED);
    expect(&key_cookie, "/x", "Cookie: session=\"good\"", 200, NULL, ALLOWED);
    expect(&key_cookie, "/x", "Cookie: sessionx=good", 401, "APIKey", NOT_AUTHENTICATED);
    expect(&key_cookie, "/x", "Cookie: session=guest", 403, NULL,
           "{\"detail\":\"Not enough permissions\"}");
}

/* ---- the built-in key list ---- */

static void test_key_list_allows_exactly_its_keys(void **state)
{
    (void)state;
    expect(&listed, "/x", "Authorization: Bearer k-one", 200, NULL, "{\"user\":\"\"}");
    expect(&listed, "/x", "Authorization: Bearer k-two-longer", 200, NULL, "{\"user\":\"\"}");
    expect(&listed, "/x", "Authorization: Bearer k-on", 401, "Bearer", INVALID);
    expect(&listed, "/x", "Authorization: Bearer k-one1", 401, "Bearer", INVALID);
    expect(&listed, "/x", "Authorization: Bearer K-ONE", 401, "Bearer", INVALID);
    expect(&listed, "/x", "Authorization: Bearer k-two-longeR", 401, "Bearer", INVALID);
}

/* ---- a check that answers later ---- */

static void test_pending_check_allows_denies_and_forbids_later(void **state)
{
    (void)state;
    expect(&bearer_later, "/x", "Authorization: Bearer good", 200, NULL, ALLOWED);
    expect(&bearer_later, "/x", "Authorization: Bearer bad", 401, "Bearer", INVALID);
    expect(&bearer_later, "/x", "Authorization: Bearer guest", 403, NULL,
           "{\"detail\":\"Not enough permissions\"}");
}

/* ---- before validation ---- */

static void test_unauthenticated_bad_body_is_401_not_422(void **state)
{
    (void)state;
    const struct crest_security *const schemes[] = {&bearer, &bearer_later};
    for (size_t i = 0; i < 2; i++) {
        struct crest_app *app = app_with(schemes[i]);
        struct crest_test_response res = {0};
        const char *const bad[] = {"Authorization: Bearer bad"};
        const char *const good[] = {"Authorization: Bearer good"};
        assert_int_equal(send(app, "POST", "/x", NULL, 0, "{\"name\": 5", &res), 401);
        crest_test_response_fini(&res);
        assert_int_equal(send(app, "POST", "/x", bad, 1, "{}", &res), 401);
        crest_test_response_fini(&res);
        assert_int_equal(send(app, "POST", "/x", good, 1, "{}", &res), 422);
        crest_test_response_fini(&res);
        assert_int_equal(send(app, "POST", "/x", good, 1, "{\"name\":\"n\"}", &res), 200);
        assert_int_equal(handler_calls, 1);
        crest_test_response_fini(&res);
        crest_app_free(app);
    }
}

/* ---- nothing echoed ---- */

static void test_credentials_are_never_echoed(void **state)
{
    (void)state;
    const char *const lines[] = {
        "Authorization: Bearer SECRET<script>",
        "Authorization: Basic U0VDUkVUOng=", "Authorization: Bearer SECRET"};
    const struct crest_security *const schemes[] = {&bearer, &basic, &listed};
    for (size_t i = 0; i < 3; i++) {
        struct crest_app *app = app_with(schemes[i]);
        struct crest_test_response res = {0};
        send(app, "GET", "/x", &lines[i], 1, NULL, &res);
        assert_int_equal(res.status, 401);
        assert_null(memmem(res.raw, res.raw_len, "SECRET", 6));
        crest_test_response_fini(&res);
        crest_app_free(app);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bearer_token_reaches_the_check_and_the_handler),
        cmocka_unit_test(test_bearer_missing_is_401_not_authenticated_with_challenge),
        cmocka_unit_test(test_bearer_malformed_is_401_invalid_without_calling_the_check),
        cmocka_unit_test(test_bearer_oversized_token_is_refused_before_the_check),
        cmocka_unit_test(test_bearer_repeated_authorization_is_400),
        cmocka_unit_test(test_check_deny_is_401_and_forbid_is_403),
        cmocka_unit_test(test_routes_without_the_hook_stay_open),
        cmocka_unit_test(test_basic_decodes_user_and_password_at_the_first_colon),
        cmocka_unit_test(test_basic_missing_and_wrong_have_the_realm_challenge),
        cmocka_unit_test(test_basic_malformed_is_401_invalid_without_calling_the_check),
        cmocka_unit_test(test_basic_with_the_key_list_compares_user_colon_password),
        cmocka_unit_test(test_api_key_in_header_query_and_cookie),
        cmocka_unit_test(test_key_list_allows_exactly_its_keys),
        cmocka_unit_test(test_pending_check_allows_denies_and_forbids_later),
        cmocka_unit_test(test_unauthenticated_bad_body_is_401_not_422),
        cmocka_unit_test(test_credentials_are_never_echoed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
