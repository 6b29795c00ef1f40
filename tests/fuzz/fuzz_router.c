/* tests/fuzz/fuzz_router.c: route matching (app/router.c) of arbitrary paths against a router
 * with static, {name} and {id:int} routes, some sharing a path under different methods. Byte 0
 * picks the method, the rest is the path. The answer is checked against a plain re-reading of
 * the path: split at '/', each segment strictly percent-decoded (a bad escape or %00 is 400, more
 * than ROUTE_MAX_SEGMENTS segments 404), then the routes tried in the router's order. A match must
 * be the first route of that method whose segments all agree; its parameters must be non-empty,
 * no longer than the path, free of NUL and exactly the decoded segments; a 405 must list the
 * methods that would have matched. The router and arena are built per input and must give back
 * every MEM_ROUTER and MEM_ARENA byte. */
#include "fuzz.h"

#include <stdbool.h>
#include <string.h>

#include "crest.h"
#include "mem/arena.h"
#include "mem/mem.h"
#include "route/route.h"

/* route_compile then route_table_take, as crest_app_add_route does (less the validation) */
static int table_add(struct route_table *r, const struct crest_route *def, char *err)
{
    struct route route;
    int rc = route_compile(&route, def, err);
    return rc ? rc : route_table_take(r, &route, err);
}

static enum crest_handler_result handler(struct crest_req *req, void *ud)
{
    (void)req;
    (void)ud;
    return CREST_DONE;
}

static const struct {
    const char *method, *path;
} ROUTES[] = {
    {"GET", "/"},
    {"GET", "/items"},
    {"POST", "/items"},
    {"GET", "/items/latest"},
    {"GET", "/items/{id:int}"},
    {"PUT", "/items/{id:int}"},
    {"DELETE", "/items/{id:int}"},
    {"GET", "/items/{id:int}/tags/{tag}"},
    {"GET", "/users/{name}"},
    {"PATCH", "/users/me"},
    {"GET", "/users/{name}/items/{id:int}"},
    {"GET", "/a%20b/{x}"},
    {"GET", "/p/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}"},
    {"GET", "/s/2/3/4/5/6/7/8/9/10/11/12/13/14/15/{last}"},
};

static int64_t live_bytes(enum mem_tag tag)
{
    struct mem_tag_stats st;

    mem_stats(tag, &st);
    return st.live_bytes;
}

static int hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Strict percent-decoding into out (room for n); -1 for a bad escape or a decoded NUL. */
static long ref_decode(const char *in, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (in[i] != '%') {
            out[o++] = in[i];
            continue;
        }
        if (i + 2 >= n) /* two hex digits must follow */
            return -1;
        int h = hex((unsigned char)in[i + 1]), l = hex((unsigned char)in[i + 2]);
        if (h < 0 || l < 0 || (h == 0 && l == 0))
            return -1;
        out[o++] = (char)(h * 16 + l);
        i += 2;
    }
    return (long)o;
}

struct ref_path {
    uint16_t status; /* 0: split and decoded; else 400 or 404 */
    uint8_t n;
    struct crest_str seg[ROUTE_MAX_SEGMENTS];
    char *dec; /* room for the whole path */
};

/* Segments are what lies between slashes after the leading one; "/" has none, and a trailing
 * slash ends an empty last segment. */
static void ref_split(const char *path, size_t len, struct ref_path *rp)
{
    size_t used = 0;

    rp->n = 0;
    rp->status = 404;
    if (len == 0 || path[0] != '/')
        return;
    for (size_t i = 1; i < len || (i == len && i > 1 && path[i - 1] == '/');) {
        const char *slash = memchr(path + i, '/', len - i);
        size_t end = slash ? (size_t)(slash - path) : len;
        if (rp->n == ROUTE_MAX_SEGMENTS)
            return;
        long d = ref_decode(path + i, end - i, rp->dec + used);
        if (d < 0) {
            rp->status = 400;
            return;
        }
        rp->seg[rp->n++] = (struct crest_str){rp->dec + used, (size_t)d};
        used += (size_t)d;
        i = end + 1;
    }
    rp->status = 0;
}

static bool ref_route_matches(const struct route *route, const struct ref_path *rp)
{
    if (route->n_segments != rp->n)
        return false;
    for (uint8_t k = 0; k < rp->n; k++) {
        const struct route_segment *t = &route->segments[k];
        if (t->kind == ROUTE_SEG_STATIC) {
            if (t->len != rp->seg[k].len || memcmp(t->text, rp->seg[k].ptr, t->len) != 0)
                return false;
        } else if (rp->seg[k].len == 0) {
            return false;
        }
    }
    return true;
}

static void check_match(const struct route_table *r, uint8_t method, const char *path, size_t len,
                        const struct route_match *m, struct ref_path *rp)
{
    const struct route *want = NULL;
    uint16_t allow = 0;

    ref_split(path, len, rp);
    FUZZ_CHECK(m->n_params <= ROUTE_MAX_PARAMS);
    if (rp->status) {
        FUZZ_CHECK(m->status == rp->status && m->route == NULL);
        return;
    }
    for (uint32_t i = 0; i < r->n_routes && !want; i++) {
        if (!ref_route_matches(&r->routes[i], rp))
            continue;
        if (r->routes[i].method == method)
            want = &r->routes[i];
        else
            allow |= (uint16_t)(1u << r->routes[i].method);
    }
    if (!want) {
        FUZZ_CHECK(m->route == NULL && m->status == (allow ? 405 : 404));
        FUZZ_CHECK(m->allow == allow && !(allow & (1u << method)));
        return;
    }
    FUZZ_CHECK(m->route == want && m->status == 0 && m->n_params == want->n_params);
    for (uint8_t k = 0; k < m->n_params; k++) {
        const struct route_param *prm = &m->params[k];
        ptrdiff_t at = prm->segment - want->segments;
        FUZZ_CHECK(at >= 0 && at < want->n_segments && prm->segment->kind != ROUTE_SEG_STATIC);
        FUZZ_CHECK(prm->value.len >= 1 && prm->value.len <= len);
        /* %00 is refused; a raw NUL (which http/parse.c never lets into a target) is kept */
        FUZZ_CHECK(!memchr(prm->value.ptr, '\0', prm->value.len) || memchr(path, '\0', len));
        FUZZ_CHECK(prm->value.len == rp->seg[at].len &&
                   memcmp(prm->value.ptr, rp->seg[at].ptr, prm->value.len) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct route_table r = {0};
    struct route_match *m = malloc(sizeof(*m));
    struct ref_path rp = {.dec = malloc(size + 1)};
    _Alignas(16) char first[256];
    struct mem_arena arena;
    char err[CREST_ERR_LEN];
    uint8_t method = size ? (uint8_t)(data[0] % (CREST_METHOD_CONNECT + 1)) : 0;
    const char *path = size ? (const char *)data + 1 : "";
    size_t len = size ? size - 1 : 0;

    FUZZ_CHECK(m && rp.dec);
    for (size_t i = 0; i < sizeof(ROUTES) / sizeof(ROUTES[0]); i++) {
        struct crest_route def = {
            .method = ROUTES[i].method, .path = ROUTES[i].path, .handler = handler};
        FUZZ_CHECK(table_add(&r, &def, err) == 0);
    }
    mem_arena_init(&arena, first, sizeof(first));
    route_table_match(&r, method, (struct crest_str){path, len}, &arena, m);
    check_match(&r, method, path, len, m, &rp);
    mem_arena_reset(&arena);
    route_table_fini(&r);
    FUZZ_CHECK(live_bytes(MEM_ARENA) == 0 && live_bytes(MEM_ROUTER) == 0);
    free(rp.dec);
    free(m);
    return 0;
}
