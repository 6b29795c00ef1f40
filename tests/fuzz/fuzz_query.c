/* tests/fuzz/fuzz_query.c: query parameters (app/query.c, app/percent.c, app/scalar.c) through
 * the test client. The input becomes the query of GET /q (bytes a request-target cannot hold are
 * percent-encoded, so every input whose head fits the 16 KiB limit reaches the handler; '%', '+',
 * '&' and '=' stay as sent). The
 * handler reads several names, plain and needing decoding, with crest_query_str, _int, _double
 * and _bool and the lenient reading FastAPI's parameters use, and checks each against a plain
 * re-reading of the raw query (the first pair whose key decodes to the name; the value strictly
 * form-decoded) and the getters against each other: the same presence, an integer's double is
 * the same number, a bool one of pydantic's words. The app is made and freed per input, and
 * every byte crest tracks must come back. */
#include "fuzz.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "app/app.h"
#include "crest.h"
#include "mem/mem.h"
#include "req/req.h"

static const char *const NAMES[] = {"q", "n", "x", "b", "a b", "\xc3\xa9", "", "limit"};

static int hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* application/x-www-form-urlencoded, strict: -1 for a bad escape or a decoded NUL. */
static long ref_decode(const char *in, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (in[i] == '+') {
            out[o++] = ' ';
            continue;
        }
        if (in[i] != '%') {
            out[o++] = in[i];
            continue;
        }
        if (i + 2 >= n)
            return -1;
        int h = hex((unsigned char)in[i + 1]), l = hex((unsigned char)in[i + 2]);
        if (h < 0 || l < 0 || (h == 0 && l == 0))
            return -1;
        out[o++] = (char)(h * 16 + l);
        i += 2;
    }
    return (long)o;
}

/* crest_query_str's answer, re-derived: 0 with the decoded value in out, -ENOENT or -EINVAL. */
static int ref_lookup(struct crest_str q, const char *name, char *scratch, struct crest_str *out)
{
    size_t name_len = strlen(name);

    for (size_t i = 0; q.ptr && i < q.len;) {
        const char *pair = q.ptr + i, *amp = memchr(pair, '&', q.len - i);
        size_t pair_len = amp ? (size_t)(amp - pair) : q.len - i;
        const char *eq = memchr(pair, '=', pair_len);
        size_t key_len = eq ? (size_t)(eq - pair) : pair_len;
        long k = ref_decode(pair, key_len, scratch);
        i += pair_len + 1;
        if (k < 0 || (size_t)k != name_len || memcmp(scratch, name, name_len) != 0)
            continue;
        if (!eq) {
            *out = (struct crest_str){scratch, 0};
            return 0;
        }
        long v = ref_decode(eq + 1, pair_len - key_len - 1, scratch);
        if (v < 0)
            return -EINVAL;
        *out = (struct crest_str){scratch, (size_t)v};
        return 0;
    }
    return -ENOENT;
}

static bool is_bool_word(struct crest_str s, bool v)
{
    static const char *const yes[] = {"1", "true", "t", "yes", "y", "on"};
    static const char *const no[] = {"0", "false", "f", "no", "n", "off"};
    const char *const *words = v ? yes : no;

    for (size_t i = 0; i < 6; i++)
        if (strlen(words[i]) == s.len && strncasecmp(s.ptr, words[i], s.len) == 0)
            return true;
    return false;
}

static void check_name(struct crest_req *req, const char *name, char *scratch)
{
    struct crest_str q = crest_req_query_string(req), s = {NULL, 0}, lenient = {NULL, 0}, want;
    int64_t i = 0;
    double d = 0;
    bool b = false;
    int rs = crest_query_str(req, name, &s), ri = crest_query_int(req, name, &i);
    int rd = crest_query_double(req, name, &d), rb = crest_query_bool(req, name, &b);
    int rl = req_query_param(req, name, &lenient), rref = ref_lookup(q, name, scratch, &want);

    FUZZ_CHECK(rs == rref);
    FUZZ_CHECK(rl == (rs == -ENOENT ? -ENOENT : 0));
    if (rs != 0) {
        FUZZ_CHECK(ri == rs && rd == rs && rb == rs);
        return;
    }
    FUZZ_CHECK(s.len == want.len && memcmp(s.ptr, want.ptr, s.len) == 0);
    FUZZ_CHECK(s.len <= q.len && memchr(s.ptr, '\0', s.len) == NULL);
    FUZZ_CHECK(lenient.len == s.len && memcmp(lenient.ptr, s.ptr, s.len) == 0);
    FUZZ_CHECK(ri == 0 || ri == -EINVAL || ri == -ERANGE);
    FUZZ_CHECK(rd == 0 || rd == -EINVAL || rd == -ERANGE);
    FUZZ_CHECK(rb == 0 || rb == -EINVAL);
    if (ri == 0 && s.len < 64)
        FUZZ_CHECK(rd == 0 && d == (double)i);
    if (rd == 0)
        FUZZ_CHECK(isfinite(d));
    if (rb == 0)
        FUZZ_CHECK(is_bool_word(s, b));
}

static enum crest_handler_result handler(struct crest_req *req, void *ud)
{
    struct crest_str q = crest_req_query_string(req);
    char *scratch = malloc(q.len + 1);

    FUZZ_CHECK(scratch != NULL);
    (*(int *)ud)++;
    for (size_t k = 0; k < sizeof(NAMES) / sizeof(NAMES[0]); k++)
        check_name(req, NAMES[k], scratch);
    free(scratch);
    FUZZ_CHECK(crest_res_body(req, "text/plain", "ok", 2) == 0);
    return CREST_DONE;
}

/* "/q?" and the input, with what a request-target cannot hold percent-encoded. */
static char *target_of(const uint8_t *data, size_t size)
{
    static const char digits[] = "0123456789ABCDEF";
    char *t = malloc(3 + 3 * size + 1), *o = t;

    FUZZ_CHECK(t != NULL);
    memcpy(o, "/q?", 3);
    o += 3;
    for (size_t i = 0; i < size; i++) {
        if (data[i] > 0x20 && data[i] < 0x7f) {
            *o++ = (char)data[i];
            continue;
        }
        *o++ = '%';
        *o++ = digits[data[i] >> 4];
        *o++ = digits[data[i] & 15];
    }
    *o = '\0';
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t before = mem_tracked_bytes();
    int calls = 0;
    const struct crest_route route = {
        .method = "GET", .path = "/q", .handler = handler, .ud = &calls};
    struct crest_app *app = crest_app_new("fuzz", "1");
    char *target = target_of(data, size);
    struct crest_test_response res;
    struct crest_config cfg; /* what the test client serves with */

    crest_config_defaults(&cfg);
    FUZZ_CHECK(app != NULL);
    FUZZ_CHECK(crest_app_add_route(app, &route, NULL) == 0);
    FUZZ_CHECK(crest_test_request(app, "GET", target, NULL, &res) == 0);
    FUZZ_CHECK(calls == (res.status == 200));
    if (strlen(target) + 64 <= cfg.max_head_bytes) /* the head fits: it must be served */
        FUZZ_CHECK(res.status == 200);
    else
        FUZZ_CHECK(res.status == 200 || res.status == 414 || res.status == 431);
    crest_test_response_fini(&res);
    crest_app_free(app);
    free(target);
    FUZZ_CHECK(mem_tracked_bytes() == before);
    return 0;
}
