/* req/query.c: query parameters, looked up by name in the raw query string on each call. A REST
 * handler asks for two or three of them, so scanning beats building a table per request; only the
 * value asked for is decoded, into the request arena. */
#include "http/percent.h"
#include "req/req.h"

#include <errno.h>
#include <string.h>

/* Whether the form-encoded key k[0..n) decodes to name. */
static int key_is(const char *k, size_t n, const char *name, size_t name_len, char *scratch)
{
    if (!http_percent_needed(k, n, true))
        return n == name_len && memcmp(k, name, n) == 0;
    long d = http_percent_decode(k, n, true, scratch);
    return d >= 0 && (size_t)d == name_len && memcmp(scratch, name, name_len) == 0;
}

/* The raw (still encoded) value of the first pair whose key decodes to name. */
static int find_raw(const struct crest_req *req, const char *name, struct crest_str *raw)
{
    struct crest_str q = req->http.query;
    size_t name_len = strlen(name), i = 0;
    char scratch[256];

    while (q.ptr && i < q.len) {
        const char *pair = q.ptr + i;
        const char *amp = memchr(pair, '&', q.len - i);
        size_t pair_len = amp ? (size_t)(amp - pair) : q.len - i;
        const char *eq = memchr(pair, '=', pair_len);
        size_t key_len = eq ? (size_t)(eq - pair) : pair_len;
        i += pair_len + 1;
        /* only a key that needs decoding goes through scratch; a plain one of any length may
         * still be the name asked for */
        if ((key_len > sizeof(scratch) && http_percent_needed(pair, key_len, true)) ||
            !key_is(pair, key_len, name, name_len, scratch))
            continue;
        *raw = eq ? (struct crest_str){eq + 1, pair_len - key_len - 1}
                  : (struct crest_str){pair + pair_len, 0};
        return 0;
    }
    return -ENOENT;
}

static int decode_value(struct crest_req *req, struct crest_str raw, bool lenient,
                        struct crest_str *out)
{
    if (!http_percent_needed(raw.ptr, raw.len, true)) {
        *out = raw;
        return 0;
    }
    char *dec = crest_req_alloc(req, raw.len + 1);
    if (!dec)
        return -ENOMEM;
    long n = lenient ? http_percent_decode_lenient(raw.ptr, raw.len, true, dec)
                     : http_percent_decode(raw.ptr, raw.len, true, dec);
    if (n < 0)
        return -EINVAL;
    dec[n] = '\0';
    *out = (struct crest_str){dec, (size_t)n};
    return 0;
}

CREST_API int crest_query_str(struct crest_req *req, const char *name, struct crest_str *out)
{
    struct crest_str raw;
    int err = find_raw(req, name, &raw);
    return err ? err : decode_value(req, raw, false, out);
}

/* As FastAPI (Starlette's unquote) reads a query value: a malformed escape stays as sent. */
int req_query_param(struct crest_req *req, const char *name, struct crest_str *out)
{
    struct crest_str raw;
    int err = find_raw(req, name, &raw);
    return err ? err : decode_value(req, raw, true, out);
}

CREST_API int crest_query_int(struct crest_req *req, const char *name, int64_t *out)
{
    struct crest_str s;
    int err = crest_query_str(req, name, &s);
    return err ? err : req_scalar_int64(s.ptr, s.len, out);
}

CREST_API int crest_query_double(struct crest_req *req, const char *name, double *out)
{
    struct crest_str s;
    int err = crest_query_str(req, name, &s);
    return err ? err : req_scalar_double(s.ptr, s.len, out);
}

CREST_API int crest_query_bool(struct crest_req *req, const char *name, bool *out)
{
    struct crest_str s;
    int err = crest_query_str(req, name, &s);
    return err ? err : req_scalar_bool(s.ptr, s.len, out);
}
