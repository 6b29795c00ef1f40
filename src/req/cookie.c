/* req/cookie.c: a cookie's value from the request's Cookie header (RFC 6265 5.4: pairs joined by
 * "; "), read as Starlette's cookie_parser reads it: pairs split at ';', each at its first '=',
 * whitespace around both trimmed, a value's surrounding double quotes removed; a pair without '='
 * is a value with an empty name. Nothing is copied: the value points into the header. */
#include "req/req.h"

#include <string.h>

static struct crest_str trim(const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return (struct crest_str){p, n};
}

struct crest_str req_cookie_find(struct crest_str header, const char *name, size_t name_len)
{
    size_t i = 0;
    while (header.ptr && i < header.len) {
        const char *pair = header.ptr + i;
        const char *end = memchr(pair, ';', header.len - i);
        size_t n = end ? (size_t)(end - pair) : header.len - i;
        const char *eq = memchr(pair, '=', n);
        struct crest_str key = eq ? trim(pair, (size_t)(eq - pair)) : (struct crest_str){pair, 0};
        struct crest_str value = eq ? trim(eq + 1, n - (size_t)(eq + 1 - pair)) : trim(pair, n);
        if (key.len == name_len && memcmp(key.ptr, name, name_len) == 0) {
            if (value.len >= 2 && value.ptr[0] == '"' && value.ptr[value.len - 1] == '"')
                value = (struct crest_str){value.ptr + 1, value.len - 2};
            return value;
        }
        i += n + 1;
    }
    return (struct crest_str){NULL, 0};
}

CREST_API struct crest_str crest_req_cookie(const struct crest_req *req, const char *name)
{
    return req_cookie_find(crest_req_header(req, "Cookie"), name, strlen(name));
}
