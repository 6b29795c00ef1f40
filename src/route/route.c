/* route/route.c: route templates, their priority order, and matching. Route tables are small (a
 * REST API has tens of routes) and built before the workers start, so a priority-ordered array
 * scanned once per request beats a trie in both code and cache footprint. */
#include "route/route.h"

#include "http/percent.h"
#include "mem/mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const method_names[] = {
    [CREST_METHOD_UNKNOWN] = "",    [CREST_METHOD_GET] = "GET",
    [CREST_METHOD_HEAD] = "HEAD",   [CREST_METHOD_POST] = "POST",
    [CREST_METHOD_PUT] = "PUT",     [CREST_METHOD_DELETE] = "DELETE",
    [CREST_METHOD_PATCH] = "PATCH", [CREST_METHOD_OPTIONS] = "OPTIONS",
    [CREST_METHOD_TRACE] = "TRACE", [CREST_METHOD_CONNECT] = "CONNECT",
};

uint8_t route_method_from_name(const char *name)
{
    for (uint8_t m = CREST_METHOD_GET; m <= CREST_METHOD_CONNECT; m++)
        if (strcmp(name, method_names[m]) == 0)
            return m;
    return CREST_METHOD_UNKNOWN;
}

const char *route_method_name(uint8_t method)
{
    return method <= CREST_METHOD_CONNECT ? method_names[method] : "";
}

static int bad(char *err, const char *why, const char *path)
{
    if (err)
        snprintf(err, CREST_ERR_LEN, "route '%s': %s", path ? path : "(null)", why);
    return -EINVAL;
}

/* "{name}" or "{name:int}" / "{name:str}": the whole segment is the parameter; "{name:path}"
 * (Starlette's path convertor), the last segment, takes the rest of the path. */
static int parse_param(struct route_segment *seg, char *text, size_t len)
{
    char *colon = memchr(text, ':', len);
    size_t name_len = colon ? (size_t)(colon - text) : len;

    seg->kind = ROUTE_SEG_STR;
    if (colon) {
        size_t type_len = len - name_len - 1;
        if (type_len == 3 && memcmp(colon + 1, "int", 3) == 0)
            seg->kind = ROUTE_SEG_INT;
        else if (type_len == 4 && memcmp(colon + 1, "path", 4) == 0)
            seg->kind = ROUTE_SEG_PATH;
        else if (!(type_len == 3 && memcmp(colon + 1, "str", 3) == 0))
            return -1;
    }
    if (name_len == 0)
        return -1;
    for (size_t i = 0; i < name_len; i++) {
        char c = text[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && c >= '0' && c <= '9')))
            return -1;
    }
    seg->text = text;
    seg->len = (uint16_t)name_len;
    return 0;
}

static int compile(struct route *route, char *err)
{
    const char *path = route->def.path;
    char *t = route->template_copy;
    size_t i = 1, n = strlen(t);

    route->n_segments = route->n_params = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && t[end] != '/')
            end++;
        if (end == i)
            return bad(err, "empty segment", path);
        if (route->n_segments == ROUTE_MAX_SEGMENTS)
            return bad(err, "too many segments", path);
        struct route_segment *seg = &route->segments[route->n_segments++];
        if (t[i] == '{') {
            if (t[end - 1] != '}' || parse_param(seg, t + i + 1, end - i - 2) != 0)
                return bad(err, "parameters are {name}, {name:int}, {name:str} or {name:path}",
                           path);
            if (++route->n_params > ROUTE_MAX_PARAMS)
                return bad(err, "too many parameters", path);
            for (uint8_t k = 0; k + 1 < route->n_segments; k++) {
                const struct route_segment *o = &route->segments[k];
                if (o->kind != ROUTE_SEG_STATIC && o->len == seg->len &&
                    memcmp(o->text, seg->text, seg->len) == 0)
                    return bad(err, "duplicate parameter name", path);
            }
        } else {
            if (memchr(t + i, '{', end - i) || memchr(t + i, '}', end - i))
                return bad(err, "a parameter must be a whole segment", path);
            seg->kind = ROUTE_SEG_STATIC;
            seg->text = t + i;
            seg->len = (uint16_t)(end - i);
        }
        i = end + 1;
        if (end + 1 == n)
            return bad(err, "trailing slash", path);
        if (seg->kind == ROUTE_SEG_PATH && i < n)
            return bad(err, "{name:path} must be the last segment", path);
    }
    return 0;
}

/* <0: a before b. Static beats parameter at the first differing segment. */
static int priority(const struct route *a, const struct route *b)
{
    uint8_t n = a->n_segments < b->n_segments ? a->n_segments : b->n_segments;
    for (uint8_t i = 0; i < n; i++) {
        bool sa = a->segments[i].kind == ROUTE_SEG_STATIC,
             sb = b->segments[i].kind == ROUTE_SEG_STATIC;
        if (sa != sb)
            return sa ? -1 : 1;
    }
    return 0;
}

static bool same_shape(const struct route *a, const struct route *b)
{
    if (a->method != b->method || a->n_segments != b->n_segments)
        return false;
    for (uint8_t i = 0; i < a->n_segments; i++) {
        const struct route_segment *x = &a->segments[i], *y = &b->segments[i];
        if ((x->kind == ROUTE_SEG_STATIC) != (y->kind == ROUTE_SEG_STATIC))
            return false;
        if (x->kind == ROUTE_SEG_STATIC && (x->len != y->len || memcmp(x->text, y->text, x->len)))
            return false;
    }
    return true;
}

static int grow(struct route_table *r)
{
    if (r->n_routes < r->cap_routes)
        return 0;
    uint32_t cap = r->cap_routes ? r->cap_routes * 2 : 8;
    struct route *routes =
        mem_realloc(MEM_ROUTER, r->routes, r->cap_routes * sizeof(*routes), cap * sizeof(*routes));
    if (!routes)
        return -ENOMEM;
    r->routes = routes;
    r->cap_routes = cap;
    return 0;
}

int route_compile(struct route *route, const struct crest_route *def, char *err)
{
    int rc;

    memset(route, 0, sizeof(*route));
    route->def = *def;
    if (!def->method || !def->path || !def->handler)
        return bad(err, "method, path and handler are required", def->path);
    route->method = route_method_from_name(def->method);
    if (route->method == CREST_METHOD_UNKNOWN || route->method == CREST_METHOD_HEAD)
        return bad(err, "unsupported method (HEAD is served by GET routes)", def->path);
    if (def->path[0] != '/')
        return bad(err, "must start with '/'", def->path);
    route->template_copy = mem_strdup(MEM_ROUTER, def->path);
    if (!route->template_copy)
        return -ENOMEM;
    rc = compile(route, err);
    if (rc)
        route_fini(route);
    return rc;
}

void route_fini(struct route *route)
{
    mem_strfree(MEM_ROUTER, route->template_copy);
    route->template_copy = NULL;
}

int route_table_take(struct route_table *r, struct route *route, char *err)
{
    int rc = 0;

    for (uint32_t i = 0; rc == 0 && i < r->n_routes; i++) {
        if (same_shape(&r->routes[i], route)) {
            bad(err, "declared twice", route->def.path);
            rc = -EEXIST;
        }
    }
    if (rc == 0)
        rc = grow(r);
    if (rc) {
        route_fini(route);
        return rc;
    }
    uint32_t at = r->n_routes;
    while (at > 0 && priority(route, &r->routes[at - 1]) < 0)
        at--; /* stable: equal priority keeps declaration order */
    memmove(&r->routes[at + 1], &r->routes[at], (r->n_routes - at) * sizeof(*r->routes));
    r->routes[at] = *route;
    r->n_routes++;
    return 0;
}

void route_table_fini(struct route_table *r)
{
    for (uint32_t i = 0; i < r->n_routes; i++)
        route_fini(&r->routes[i]);
    mem_free(MEM_ROUTER, r->routes, r->cap_routes * sizeof(*r->routes));
    r->routes = NULL;
    r->n_routes = r->cap_routes = 0;
}

/* Splits "/a/b%20c" into decoded segments. Returns the answer when there can be no match, as
 * lwan's parser returns its status: 0 (split), 404 (more segments than any route has), 400
 * (malformed percent-encoding, RFC 3986 2.1), 503 (no memory to decode). */
static uint16_t split_path(struct crest_str path, struct mem_arena *arena, struct crest_str *segs,
                           uint8_t *n_segs)
{
    size_t i = 1;
    *n_segs = 0;
    if (path.len == 0 || path.ptr[0] != '/')
        return 404;
    while (i < path.len || (i == path.len && path.ptr[i - 1] == '/' && i > 1)) {
        size_t end = i;
        while (end < path.len && path.ptr[end] != '/')
            end++;
        if (*n_segs == ROUTE_MAX_SEGMENTS)
            return 404;
        struct crest_str *s = &segs[(*n_segs)++];
        s->ptr = path.ptr + i;
        s->len = end - i;
        if (http_percent_needed(s->ptr, s->len, false)) {
            char *out = mem_arena_alloc(arena, s->len + 1);
            if (!out)
                return 503;
            long n = http_percent_decode(s->ptr, s->len, false, out);
            if (n < 0)
                return 400;
            out[n] = '\0';
            s->ptr = out;
            s->len = (size_t)n;
        }
        i = end + 1;
    }
    return 0;
}

static bool route_matches(const struct route *route, const struct crest_str *segs, uint8_t n)
{
    uint8_t want = route->n_segments;
    bool rest = want && route->segments[want - 1].kind == ROUTE_SEG_PATH;
    if (rest ? n < want : n != want)
        return false;
    for (uint8_t i = 0; i < want; i++) {
        const struct route_segment *t = &route->segments[i];
        if (t->kind == ROUTE_SEG_STATIC) {
            if (t->len != segs[i].len || memcmp(t->text, segs[i].ptr, t->len) != 0)
                return false;
        } else if (segs[i].len == 0) {
            return false; /* a parameter is never empty */
        }
    }
    return true;
}

/* The rest of the path from segment k, its decoded segments joined by '/', in arena. */
static int join_rest(const struct crest_str *segs, uint8_t k, uint8_t n, struct mem_arena *arena,
                     struct crest_str *out)
{
    size_t len = 0;
    for (uint8_t i = k; i < n; i++)
        len += segs[i].len + (i > k);
    char *p = mem_arena_alloc(arena, len + 1), *o = p;
    if (!p)
        return -ENOMEM;
    for (uint8_t i = k; i < n; i++) {
        if (i > k)
            *o++ = '/';
        memcpy(o, segs[i].ptr, segs[i].len);
        o += segs[i].len;
    }
    *o = '\0';
    *out = (struct crest_str){p, len};
    return 0;
}

void route_table_match(const struct route_table *r, uint8_t method, struct crest_str path,
                       struct mem_arena *arena, struct route_match *out)
{
    struct crest_str segs[ROUTE_MAX_SEGMENTS];
    uint8_t n_segs;

    memset(out, 0, sizeof(*out));
    out->status = split_path(path, arena, segs, &n_segs);
    if (out->status)
        return;
    out->status = 404; /* until a route matches */
    for (uint32_t i = 0; i < r->n_routes; i++) {
        const struct route *route = &r->routes[i];
        if (!route_matches(route, segs, n_segs))
            continue;
        if (route->method != method) {
            out->allow |= (uint16_t)(1u << route->method);
            out->status = 405;
            continue;
        }
        out->route = route;
        out->status = 0;
        for (uint8_t k = 0; k < route->n_segments; k++) {
            const struct route_segment *seg = &route->segments[k];
            struct crest_str value = segs[k];
            if (seg->kind == ROUTE_SEG_STATIC)
                continue;
            if (seg->kind == ROUTE_SEG_PATH && join_rest(segs, k, n_segs, arena, &value) != 0) {
                out->route = NULL;
                out->status = 503;
                return;
            }
            out->params[out->n_params].segment = seg;
            out->params[out->n_params++].value = value;
        }
        return;
    }
}
