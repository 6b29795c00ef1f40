/* mw/cors.c: Cross-Origin Resource Sharing as a built-in hook (crest_app_add_cors), with
 * Starlette's CORSMiddleware semantics. A preflight (OPTIONS with Origin and
 * Access-Control-Request-Method) is answered by the hook before routing, so it never reaches a
 * handler: 200 with the allowed methods and headers, or 400 naming what is disallowed. Any other
 * request from an allowed origin gets Access-Control-Allow-Origin (and credentials, exposed
 * headers) on the way out, whatever answered it: a handler, or crest's own 404/405/422/503, so a
 * browser can read the error. Nothing from the request is copied into a response unless it was
 * matched against the configuration first. */
#include "app/app.h"

#include "mem/mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct cors {
    struct app_part part; /* first: the app frees it */
    struct crest_cors cfg;
    bool any_origin;  /* "*" among the origins */
    bool any_method;  /* allow_methods "*" */
    bool any_header;  /* allow_headers "*" */
    char methods[96]; /* Access-Control-Allow-Methods of a preflight */
};

static void cors_free(struct app_part *part)
{
    mem_free(MEM_APP, part, sizeof(struct cors));
}

static const struct app_part_ops cors_ops = {.free = cors_free};

/* Whether the comma-separated list holds item (case-insensitive, OWS trimmed). */
static bool list_has(const char *list, const char *item, size_t len)
{
    const char *p = list;
    while (p && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && p[n - 1] == ' ')
            n--;
        if (n == len && strncasecmp(p, item, len) == 0)
            return true;
        p = end;
    }
    return false;
}

static bool origin_allowed(const struct cors *c, struct crest_str origin)
{
    if (c->any_origin)
        return true;
    for (size_t i = 0; i < c->cfg.n_allow_origins; i++) {
        const char *o = c->cfg.allow_origins[i];
        if (strlen(o) == origin.len && memcmp(o, origin.ptr, origin.len) == 0)
            return true;
    }
    return false;
}

/* Every header named in Access-Control-Request-Headers is allowed. */
static bool headers_allowed(const struct cors *c, struct crest_str requested)
{
    static const char *const safelisted = "accept, accept-language, content-language, content-type";
    size_t i = 0;
    if (c->any_header)
        return true;
    while (i < requested.len) {
        while (i < requested.len && (requested.ptr[i] == ' ' || requested.ptr[i] == ','))
            i++;
        size_t start = i;
        while (i < requested.len && requested.ptr[i] != ',')
            i++;
        size_t n = i - start;
        while (n && requested.ptr[start + n - 1] == ' ')
            n--;
        if (n && !list_has(safelisted, requested.ptr + start, n) &&
            !(c->cfg.allow_headers && list_has(c->cfg.allow_headers, requested.ptr + start, n)))
            return false;
    }
    return true;
}

/* A copy of a request header's value that is safe to echo: it was matched against the
 * configuration by the caller, and crest_res_header refuses CR, LF and NUL besides. */
static char *dup_value(struct crest_req *req, struct crest_str v)
{
    char *s = crest_req_alloc(req, v.len + 1);
    if (s) {
        memcpy(s, v.ptr, v.len);
        s[v.len] = '\0';
    }
    return s;
}

static int allow_origin(struct crest_req *req, const struct cors *c, struct crest_str origin)
{
    bool cookies = crest_req_header(req, "Cookie").ptr != NULL;
    int err = 0;
    /* "*" cannot carry credentials: echo the origin then (Starlette does) */
    if (c->any_origin && !(c->cfg.allow_credentials && cookies)) {
        err |= crest_res_header(req, "Access-Control-Allow-Origin", "*");
    } else {
        char *o = dup_value(req, origin);
        err |= o ? crest_res_header(req, "Access-Control-Allow-Origin", o) : -ENOMEM;
        err |= crest_res_header(req, "Vary", "Origin");
    }
    if (c->cfg.allow_credentials)
        err |= crest_res_header(req, "Access-Control-Allow-Credentials", "true");
    return err;
}

static enum crest_hook_result preflight(struct crest_req *req, void *ud)
{
    const struct cors *c = ud;
    char max_age[24];
    int err = 0;

    if (crest_req_method(req) != CREST_METHOD_OPTIONS)
        return CREST_HOOK_NEXT; /* the common case: no header is even looked up */
    struct crest_str origin = crest_req_header(req, "Origin");
    struct crest_str method = crest_req_header(req, "Access-Control-Request-Method");
    struct crest_str headers = crest_req_header(req, "Access-Control-Request-Headers");
    if (!origin.ptr || !method.ptr)
        return CREST_HOOK_NEXT; /* not a preflight: the after hook has its say */
    const char *why = !origin_allowed(c, origin)                                        ? "origin"
                      : !c->any_method && !list_has(c->methods, method.ptr, method.len) ? "method"
                      : headers.ptr && !headers_allowed(c, headers)                     ? "headers"
                                                                                        : NULL;
    if (why) {
        char text[40];
        snprintf(text, sizeof(text), "Disallowed CORS %s", why);
        err = crest_res_body(req, "text/plain; charset=utf-8", text, strlen(text));
        crest_res_status(req, err ? 503 : 400);
        return CREST_HOOK_DONE;
    }
    err |= allow_origin(req, c, origin);
    err |= crest_res_header(req, "Access-Control-Allow-Methods", c->methods);
    if (headers.ptr && headers.len) { /* every one of them was checked above */
        char *h = dup_value(req, headers);
        err |= h ? crest_res_header(req, "Access-Control-Allow-Headers", h) : -ENOMEM;
    }
    snprintf(max_age, sizeof(max_age), "%u", c->cfg.max_age_seconds);
    err |= crest_res_header(req, "Access-Control-Max-Age", max_age);
    err |= crest_res_body(req, "text/plain; charset=utf-8", "OK", 2);
    crest_res_status(req, err ? 503 : 200);
    return CREST_HOOK_DONE;
}

static void simple(struct crest_req *req, void *ud)
{
    const struct cors *c = ud;
    struct crest_str origin = crest_req_header(req, "Origin");
    int err = 0;

    if (!origin.ptr || !origin_allowed(c, origin))
        return; /* no CORS headers: the browser keeps the response from the page */
    if (crest_req_method(req) == CREST_METHOD_OPTIONS &&
        crest_req_header(req, "Access-Control-Request-Method").ptr)
        return; /* a preflight: answered with its headers already */
    err |= allow_origin(req, c, origin);
    if (c->cfg.expose_headers)
        err |= crest_res_header(req, "Access-Control-Expose-Headers", c->cfg.expose_headers);
    (void)err; /* no memory for a header: the browser reads the response as not shared */
}

CREST_API int crest_app_add_cors(struct crest_app *app, const struct crest_cors *cfg)
{
    struct cors *c;

    if (!cfg || (cfg->n_allow_origins && !cfg->allow_origins))
        return -EINVAL;
    c = mem_calloc(MEM_APP, 1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->cfg = *cfg;
    if (!c->cfg.max_age_seconds)
        c->cfg.max_age_seconds = 600;
    for (size_t i = 0; i < cfg->n_allow_origins; i++)
        c->any_origin |= strcmp(cfg->allow_origins[i], "*") == 0;
    c->any_method = cfg->allow_methods && strcmp(cfg->allow_methods, "*") == 0;
    c->any_header = cfg->allow_headers && strcmp(cfg->allow_headers, "*") == 0;
    snprintf(c->methods, sizeof(c->methods), "%s",
             c->any_method        ? "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
             : cfg->allow_methods ? cfg->allow_methods
                                  : "GET");
    c->part.ops = &cors_ops;
    app_part_add(app, &c->part);
    const struct crest_hook hook = {.before = preflight, .after = simple, .ud = c};
    return crest_app_add_hook(app, &hook);
}
