/* tests/fuzz/fuzz_security.c: the security schemes (mw/security.c) through the test client. Byte
 * 0 picks the scheme (Bearer, Basic, an API key in a header or a cookie) and whether a second
 * Authorization field goes along; the rest is the header's value (CR, LF and NUL, which cannot be
 * in a field, become spaces). Invariants: the answer is 200, 400 or 401; a 401 carries the
 * scheme's challenge; the check sees only what the scheme allows (a Bearer token of token68
 * bytes, no longer than CREST_SECURITY_MAX_BYTES; a Basic user without a colon and without
 * control bytes, which base64-encodes back to the value sent); every byte crest tracks comes
 * back. */
#include "fuzz.h"

#include <string.h>

#include "crest.h"
#include "mem/mem.h"

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
        out[o++] = i + 1 < n ? B64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? B64[v & 63] : '=';
    }
    out[o] = '\0';
}

static const char *sent; /* the value sent, for the check to compare */

static enum crest_security_result check(struct crest_req *req, const struct crest_credentials *c,
                                        void *ud)
{
    (void)req, (void)ud;
    if (c->kind == CREST_SECURITY_HTTP_BEARER) {
        FUZZ_CHECK(c->token.len > 0 && c->token.len <= CREST_SECURITY_MAX_BYTES);
        FUZZ_CHECK(c->token.ptr[0] != '=');
        for (size_t i = 0; i < c->token.len; i++)
            FUZZ_CHECK(c->token.ptr[i] > 0x20 && c->token.ptr[i] < 0x7f);
    } else if (c->kind == CREST_SECURITY_HTTP_BASIC) {
        size_t n = c->username.len + 1 + c->password.len;
        unsigned char *joined = malloc(n + 1);
        char *again = malloc(n / 3 * 4 + 8);
        FUZZ_CHECK(joined && again && !memchr(c->username.ptr, ':', c->username.len));
        memcpy(joined, c->username.ptr, c->username.len);
        joined[c->username.len] = ':';
        memcpy(joined + c->username.len + 1, c->password.ptr, c->password.len);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(joined[i] >= 0x20 && joined[i] != 0x7f);
        b64(joined, n, again); /* strict base64 decodes one way only: it must encode back */
        FUZZ_CHECK(strstr(sent, again) != NULL);
        free(joined);
        free(again);
    }
    return c->token.len == 4 && memcmp(c->token.ptr, "good", 4) == 0 ? CREST_SECURITY_ALLOW
                                                                     : CREST_SECURITY_DENY;
}

static enum crest_handler_result ok(struct crest_req *req, void *ud)
{
    (void)ud;
    FUZZ_CHECK(crest_res_body(req, "text/plain", "in", 2) == 0);
    return CREST_DONE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct crest_security schemes[] = {
        {.kind = CREST_SECURITY_HTTP_BEARER, .check = check},
        {.kind = CREST_SECURITY_HTTP_BASIC, .realm = "r", .check = check},
        {.kind = CREST_SECURITY_API_KEY,
         .in = CREST_IN_HEADER,
         .param_name = "Authorization",
         .check = check},
        {.kind = CREST_SECURITY_API_KEY, .in = CREST_IN_COOKIE, .param_name = "k", .check = check},
    };
    static const char *const challenges[] = {"Bearer", "Basic realm=\"r\"", "APIKey", "APIKey"};
    int64_t before = mem_tracked_bytes();
    if (size < 1)
        return 0;
    unsigned pick = data[0] & 3;
    bool twice = data[0] & 4;
    struct crest_hook hooks[] = {CREST_SECURITY_HOOK(&schemes[pick])};
    const struct crest_route route = {
        .method = "GET", .path = "/x", .handler = ok, .hooks = hooks, .n_hooks = 1};
    char *line = malloc(size + 32);
    FUZZ_CHECK(line != NULL);
    int n = snprintf(line, 32, pick == 3 ? "Cookie: " : "Authorization: ");
    for (size_t i = 1; i < size; i++)
        line[n++] = data[i] == '\r' || data[i] == '\n' || data[i] == 0 ? ' ' : (char)data[i];
    line[n] = '\0';
    sent = line;
    const char *const headers[] = {line, "Authorization: Bearer good"};
    const struct crest_test_req r = {
        .method = "GET", .target = "/x", .headers = headers, .n_headers = twice ? 2 : 1};
    struct crest_app *app = crest_app_new("fuzz", "1");
    struct crest_test_response res;
    FUZZ_CHECK(app && crest_app_add_route(app, &route, NULL) == 0);
    int rc = crest_test_send(app, &r, &res);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(res.status == 200 || res.status == 400 || res.status == 401 || res.status == 431);
    if (res.status == 401) {
        struct crest_str ch = crest_test_header(&res, "WWW-Authenticate");
        FUZZ_CHECK(ch.len == strlen(challenges[pick]) && !memcmp(ch.ptr, challenges[pick], ch.len));
    }
    crest_test_response_fini(&res);
    crest_app_free(app);
    free(line);
    FUZZ_CHECK(mem_tracked_bytes() == before);
    return 0;
}
