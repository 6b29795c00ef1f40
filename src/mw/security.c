/* mw/security.c: security schemes as hooks (crest_security_before, crest_security_done), FastAPI's
 * fastapi.security: an API key in a header, query parameter or cookie; HTTP Bearer; HTTP Basic.
 * The hook finds the credential where its scheme says, refuses what is missing or malformed itself
 * (so the application's check sees only well-formed credentials), and hands the rest to the check,
 * which may answer later. It runs before validation (app/dispatch.c), so 401 comes before 422.
 * What the OpenAPI document says of a scheme is openapi/'s; the hook only carries it. No byte of
 * a credential is ever written into a response: the challenge comes from the configuration. */
#include "app/app.h"

#include "http/parse.h"
#include "req/req.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char STATE_KEY[] = "crest.security"; /* the scheme of a pending check */

enum problem {
    MISSING,  /* 401 Not authenticated */
    INVALID,  /* 401 Invalid authentication credentials */
    REPEATED, /* 400: two Authorization fields */
};

/* ---- answers ---- */

/* The WWW-Authenticate challenge of the scheme (RFC 9110 11.6.1: a 401 must carry one). */
static void challenge(const struct crest_security *s, char *out, size_t size)
{
    if (s->kind == CREST_SECURITY_HTTP_BASIC && s->realm)
        snprintf(out, size, "Basic realm=\"%s\"", s->realm);
    else
        snprintf(out, size, "%s",
                 s->kind == CREST_SECURITY_HTTP_BASIC    ? "Basic"
                 : s->kind == CREST_SECURITY_HTTP_BEARER ? "Bearer"
                                                         : "APIKey");
}

static void answer(struct crest_req *req, const struct crest_security *s, int status,
                   const char *detail)
{
    char text[160];
    int err = 0;

    if (status == 401) {
        challenge(s, text, sizeof(text));
        err = crest_res_header(req, "WWW-Authenticate", text);
    }
    if (!err)
        err = crest_res_error(req, status, detail);
    if (err) /* no memory for the answer: a 503 rather than half of a 401 */
        req_response_oom(req);
}

static void refuse(struct crest_req *req, const struct crest_security *s, enum problem why)
{
    if (why == REPEATED)
        answer(req, s, 400, "Repeated Authorization header");
    else
        answer(req, s, 401,
               why == MISSING ? "Not authenticated" : "Invalid authentication credentials");
}

static void answer_result(struct crest_req *req, const struct crest_security *s,
                          enum crest_security_result r)
{
    if (r == CREST_SECURITY_FORBID)
        answer(req, s, 403, "Not enough permissions");
    else
        refuse(req, s, INVALID);
}

/* ---- extraction ---- */

/* The Authorization field, once: 0, -ENOENT, or -EEXIST when there are two (RFC 9110 5.3: it is
 * not a list, so two fields cannot be combined, and picking one would let a proxy and crest
 * disagree on who is asking). */
static int authorization(const struct crest_req *req, struct crest_str *out)
{
    const struct http_parser *p = req->http.parser;
    static const char name[] = "Authorization";
    *out = (struct crest_str){NULL, 0};
    for (uint32_t i = 0; i < p->n_headers; i++) {
        const struct http_header *h = &p->headers[i];
        if (h->name_len != sizeof(name) - 1 ||
            strncasecmp(req->http.buf + h->name_off, name, sizeof(name) - 1) != 0)
            continue;
        if (out->ptr)
            return -EEXIST;
        *out = (struct crest_str){req->http.buf + h->value_off, h->value_len};
    }
    return out->ptr ? 0 : -ENOENT;
}

/* RFC 7235 2.1's token68: what a Bearer token (RFC 6750 2.1) and Basic's base64 are made of. */
static bool is_token68(struct crest_str t)
{
    size_t i = 0;
    for (; i < t.len; i++) {
        unsigned char c = (unsigned char)t.ptr[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
        if (!ok)
            break;
    }
    while (i < t.len && t.ptr[i] == '=')
        i++;
    return i == t.len && t.len > 0 && t.ptr[0] != '=';
}

/* "<scheme> <credentials>": the credentials of the expected scheme (case-insensitive, RFC 9110
 * 11.1), or why not. */
static int scheme_param(struct crest_str v, const char *scheme, struct crest_str *out,
                        enum problem *why)
{
    size_t n = strlen(scheme), i = n;
    if (v.len < n || strncasecmp(v.ptr, scheme, n) != 0 || (v.len > n && v.ptr[n] != ' ')) {
        *why = INVALID;
        return -EINVAL;
    }
    while (i < v.len && v.ptr[i] == ' ')
        i++;
    *out = (struct crest_str){v.ptr + i, v.len - i};
    if (!out->len) {
        *why = MISSING; /* "Bearer" alone: as FastAPI, no credentials at all */
        return -EINVAL;
    }
    if (out->len > CREST_SECURITY_MAX_BYTES || !is_token68(*out)) {
        *why = INVALID;
        return -EINVAL;
    }
    return 0;
}

static int base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* RFC 4648 4 base64 with its padding, strictly (as Python's b64decode(validate=True)): the
 * length a multiple of 4, '=' only at the end, unused bits zero. Decoded length, or -EINVAL. */
static long base64_decode(struct crest_str in, unsigned char *out)
{
    size_t pad = 0, n = 0;
    uint32_t acc = 0;

    if (in.len % 4)
        return -EINVAL;
    while (pad < 2 && pad < in.len && in.ptr[in.len - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < in.len - pad; i++) {
        int v = base64_value((unsigned char)in.ptr[i]);
        if (v < 0)
            return -EINVAL;
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            out[n++] = (unsigned char)(acc >> 16);
            out[n++] = (unsigned char)(acc >> 8);
            out[n++] = (unsigned char)acc;
        }
    }
    if (pad == 2) { /* 2 characters left: 12 bits, one byte, 4 bits unused */
        if (acc & 0xf)
            return -EINVAL;
        out[n++] = (unsigned char)(acc >> 4);
    } else if (pad == 1) { /* 3 characters: 18 bits, two bytes, 2 unused */
        if (acc & 0x3)
            return -EINVAL;
        out[n++] = (unsigned char)(acc >> 10);
        out[n++] = (unsigned char)(acc >> 2);
    }
    return (long)n;
}

/* Basic: base64 of "user-id:password" (RFC 7617 2: the user-id has no colon, neither holds a
 * control character), decoded into the request's arena. */
static int basic_credentials(struct crest_req *req, struct crest_str b64,
                             struct crest_credentials *c, enum problem *why)
{
    unsigned char *text = crest_req_alloc(req, b64.len / 4 * 3 + 1);
    *why = INVALID;
    if (!text)
        return -ENOMEM;
    long n = base64_decode(b64, text);
    if (n < 0)
        return -EINVAL;
    for (long i = 0; i < n; i++)
        if (text[i] < 0x20 || text[i] == 0x7f)
            return -EINVAL;
    text[n] = '\0';
    const char *colon = memchr(text, ':', (size_t)n);
    if (!colon)
        return -EINVAL;
    c->username = (struct crest_str){(const char *)text, (size_t)(colon - (const char *)text)};
    c->password = (struct crest_str){colon + 1, (size_t)n - c->username.len - 1};
    return 0;
}

/* The key where the scheme says: 0 (ptr NULL when absent), or -ENOMEM (decoding the query). */
static int api_key(struct crest_req *req, const struct crest_security *s, struct crest_str *v)
{
    int rc = 0;
    switch (s->in) {
    case CREST_IN_QUERY:
        rc = req_query_param(req, s->param_name, v);
        if (rc == -ENOENT) {
            *v = (struct crest_str){NULL, 0};
            rc = 0;
        }
        return rc;
    case CREST_IN_COOKIE:
        *v = crest_req_cookie(req, s->param_name);
        return 0;
    default:
        *v = crest_req_header(req, s->param_name);
        return 0;
    }
}

/* Fills c from the request: 0, or -EINVAL with why, -ENOMEM. */
static int extract(struct crest_req *req, const struct crest_security *s,
                   struct crest_credentials *c, enum problem *why)
{
    struct crest_str v;
    c->kind = s->kind;
    if (s->kind == CREST_SECURITY_API_KEY) {
        int rc = api_key(req, s, &c->token);
        if (rc)
            return rc;
        *why = c->token.len ? INVALID : MISSING; /* FastAPI: an empty key is no key */
        return c->token.len && c->token.len <= CREST_SECURITY_MAX_BYTES ? 0 : -EINVAL;
    }
    int rc = authorization(req, &v);
    if (rc || !v.len) { /* an empty field is no credential, as FastAPI reads it */
        *why = rc == -EEXIST ? REPEATED : MISSING;
        return -EINVAL;
    }
    if (s->kind == CREST_SECURITY_HTTP_BEARER)
        return scheme_param(v, "Bearer", &c->token, why);
    rc = scheme_param(v, "Basic", &v, why);
    return rc ? rc : basic_credentials(req, v, c, why);
}

/* ---- the built-in check ---- */

/* a == b in time that depends on a's length only, not on where they differ: every byte of a is
 * compared, with b's when the lengths agree, else with itself (the length already said no) */
static bool same_bytes(const char *a, size_t a_len, const char *b, size_t b_len)
{
    const char *other = a_len == b_len ? b : a;
    unsigned char diff = a_len != b_len;
    for (size_t i = 0; i < a_len; i++)
        diff |= (unsigned char)(a[i] ^ other[i]);
    return diff == 0;
}

/* Every key is compared, so the time does not say which one matched either. */
static enum crest_security_result check_keys(const struct crest_security *s,
                                             const struct crest_credentials *c)
{
    char joined[CREST_SECURITY_MAX_BYTES + 2];
    struct crest_str given = c->token;
    bool found = false;

    if (c->kind == CREST_SECURITY_HTTP_BASIC) { /* compared as "user:password" */
        size_t n = c->username.len + 1 + c->password.len;
        if (n > CREST_SECURITY_MAX_BYTES)
            return CREST_SECURITY_DENY;
        memcpy(joined, c->username.ptr, c->username.len);
        joined[c->username.len] = ':';
        memcpy(joined + c->username.len + 1, c->password.ptr, c->password.len);
        given = (struct crest_str){joined, n};
    }
    for (size_t i = 0; i < s->n_keys; i++)
        found |= same_bytes(given.ptr, given.len, s->keys[i], strlen(s->keys[i]));
    return found ? CREST_SECURITY_ALLOW : CREST_SECURITY_DENY;
}

/* ---- the hook ---- */

CREST_API enum crest_hook_result crest_security_before(struct crest_req *req, void *ud)
{
    const struct crest_security *s = ud;
    struct crest_credentials c = {0};
    enum problem why = INVALID;
    enum crest_security_result r;

    int rc = extract(req, s, &c, &why);
    if (rc == -ENOMEM) {
        req_response_oom(req);
        return CREST_HOOK_DONE;
    }
    if (rc) {
        refuse(req, s, why);
        return CREST_HOOK_DONE;
    }
    if (!s->check) {
        r = check_keys(s, &c);
    } else {
        /* kept for crest_security_done, which knows the request only */
        if (crest_req_set(req, STATE_KEY, (void *)s) != 0) {
            req_response_oom(req);
            return CREST_HOOK_DONE;
        }
        r = s->check(req, &c, s->ud);
    }
    if (r == CREST_SECURITY_ALLOW)
        return CREST_HOOK_NEXT;
    if (r == CREST_SECURITY_PENDING)
        return CREST_HOOK_PENDING;
    answer_result(req, s, r);
    return CREST_HOOK_DONE;
}

CREST_API void crest_security_done(struct crest_req *req, enum crest_security_result result)
{
    const struct crest_security *s = crest_req_get(req, STATE_KEY);
    if (result == CREST_SECURITY_ALLOW && s) {
        crest_req_next(req);
        return;
    }
    if (s)
        answer_result(req, s, result);
    else if (crest_res_error(req, 500, "Internal Server Error") != 0) /* no check was pending */
        req_response_oom(req);
    crest_req_finish(req);
}
