/* mw/gzip.c: response compression (crest_app_add_gzip) as an after hook, with libdeflate. Whole
 * bodies are what crest has when the after hooks run, and libdeflate compresses a whole buffer in
 * one call with no stream state, so nothing is kept per connection: each worker owns one
 * compressor (its match-finder tables) and one output buffer, reused by every response it
 * compresses; the compressed bytes are copied back over the body, which they are shorter than.
 * libdeflate's allocations go through crest's allocator under the "gzip" tag (inside the
 * budget); when memory is refused the body goes uncompressed, which is always a valid answer.
 * Accept-Encoding is read by RFC 9110 12.5.3 in one bounded pass. */
#include "app/app.h"
#include "mw/mw.h"

#include "mem/buf.h"
#include "mem/mem.h"
#include "net/worker.h"
#include "req/req.h"

#include <errno.h>
#include <libdeflate.h>
#include <string.h>
#include <strings.h>

/* A weight in thousandths (RFC 9110 12.4.2: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]), or -1. */
static int parse_qvalue(const char *p, size_t n)
{
    int q;

    if (n == 0 || n > 5 || (p[0] != '0' && p[0] != '1'))
        return -1;
    q = (p[0] - '0') * 1000;
    if (n == 1)
        return q;
    if (p[1] != '.')
        return -1;
    int scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (p[i] < '0' || p[i] > '9' || (q == 1000 && p[i] != '0'))
            return -1;
        q += (p[i] - '0') * scale;
    }
    return q;
}

/* One member "coding *( OWS ; OWS q=weight )": its weight, or -1 when malformed. */
static int member_weight(const char *p, size_t n, size_t *coding_len)
{
    const char *semi = memchr(p, ';', n);
    size_t len = semi ? (size_t)(semi - p) : n;
    int q = 1000;

    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    *coding_len = len;
    if (!semi)
        return len ? q : -1;
    const char *param = semi + 1, *end = p + n;
    while (param < end && (*param == ' ' || *param == '\t'))
        param++;
    size_t plen = (size_t)(end - param);
    while (plen && (param[plen - 1] == ' ' || param[plen - 1] == '\t'))
        plen--;
    if (plen < 2 || (param[0] != 'q' && param[0] != 'Q') || param[1] != '=')
        return -1; /* only a weight is defined for content codings */
    q = parse_qvalue(param + 2, plen - 2);
    return len ? q : -1;
}

static bool is(const char *p, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

enum mw_gzip_coding mw_gzip_choose(struct crest_str ae, bool allow_deflate)
{
    int gzip = -1, deflate = -1, identity = -1, star = -1; /* -1: not listed */
    size_t i = 0;

    if (!ae.ptr)
        return MW_GZIP_IDENTITY;
    for (unsigned members = 0; i < ae.len && members < MW_GZIP_MAX_CODINGS; members++) {
        while (i < ae.len && (ae.ptr[i] == ' ' || ae.ptr[i] == '\t' || ae.ptr[i] == ','))
            i++;
        size_t start = i, len;
        while (i < ae.len && ae.ptr[i] != ',')
            i++;
        if (i == start)
            break;
        int q = member_weight(ae.ptr + start, i - start, &len);
        const char *c = ae.ptr + start;
        if (q < 0)
            continue; /* a malformed member says nothing */
        if (is(c, len, "gzip") || is(c, len, "x-gzip"))
            gzip = q > gzip ? q : gzip;
        else if (is(c, len, "deflate"))
            deflate = q > deflate ? q : deflate;
        else if (is(c, len, "identity"))
            identity = q;
        else if (is(c, len, "*"))
            star = q;
    }
    if (gzip < 0)
        gzip = star < 0 ? 0 : star;
    if (deflate < 0)
        deflate = star < 0 ? 0 : star;
    if (!allow_deflate)
        deflate = 0;
    bool identity_ok = identity > 0 || (identity < 0 && star != 0);
    int best = gzip >= deflate ? gzip : deflate;
    if (best > 0 && best >= identity) /* identity unlisted (-1) comes last */
        return gzip >= deflate ? MW_GZIP_GZIP : MW_GZIP_DEFLATE;
    return identity_ok ? MW_GZIP_IDENTITY : MW_GZIP_UNACCEPTABLE;
}

/* ---- the hook ---- */

enum { MAX_WORKERS = 256, KEEP_OUT_BYTES = 256 << 10 };

struct worker_gzip {
    struct libdeflate_compressor *c;
    struct mem_buf out; /* MEM_GZIP: the compressed body before it is copied back */
};

struct gzip {
    struct app_part part; /* first: the app frees it */
    struct crest_gzip cfg;
    struct worker_gzip workers[MAX_WORKERS]; /* by worker id: each touches its own only */
};

static void gzip_free(struct app_part *part)
{
    struct gzip *g = (struct gzip *)part;
    for (unsigned i = 0; i < MAX_WORKERS; i++) {
        if (g->workers[i].c)
            libdeflate_free_compressor(g->workers[i].c);
        mem_buf_fini(&g->workers[i].out, MEM_GZIP);
    }
    mem_free(MEM_APP, g, sizeof(*g));
}

static const struct app_part_ops gzip_ops = {.free = gzip_free};

static void *gzip_malloc(size_t n)
{
    return mem_alloc_unsized(MEM_GZIP, n);
}

static void gzip_release(void *p)
{
    mem_free_unsized(MEM_GZIP, p);
}

/* What compresses well: text, JSON, XML, JavaScript, SVG (nginx's gzip_types, widened). */
static bool compressible(const char *type)
{
    static const char *const prefixes[] = {"text/", "application/json", "application/javascript",
                                           "application/xml", "image/svg+xml"};
    if (!type || strncasecmp(type, "text/event-stream", 17) == 0)
        return false;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncasecmp(type, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    const char *semi = strchr(type, ';');
    size_t n = semi ? (size_t)(semi - type) : strlen(type);
    return (n > 5 && strncasecmp(type + n - 5, "+json", 5) == 0) ||
           (n > 4 && strncasecmp(type + n - 4, "+xml", 4) == 0);
}

/* Whether the response headers the handler set hold a Content-Encoding line. */
static bool has_encoding(const struct mem_buf *h)
{
    static const char name[] = "Content-Encoding:";
    for (uint32_t at = 0; at + sizeof(name) - 1 <= h->len;) {
        if (strncasecmp(h->ptr + at, name, sizeof(name) - 1) == 0)
            return true;
        const char *nl = memchr(h->ptr + at, '\n', h->len - at);
        if (!nl)
            break;
        at = (uint32_t)(nl - h->ptr) + 1;
    }
    return false;
}

/* RFC 9110 8.8.3: a strong validator names exact bytes, and the compressed ones differ from those
 * the handler tagged: a strong ETag the handler set becomes weak (nginx's gzip does the same), so
 * a range or If-Match never pairs it with the other coding's bytes. 0, -ENOMEM. */
static int weaken_etag(struct mem_buf *h)
{
    static const char name[] = "ETag:";
    for (uint32_t at = 0; at + sizeof(name) - 1 <= h->len;) {
        const char *nl = memchr(h->ptr + at, '\n', h->len - at);
        uint32_t end = nl ? (uint32_t)(nl - h->ptr) + 1 : h->len;
        if (strncasecmp(h->ptr + at, name, sizeof(name) - 1) == 0) {
            uint32_t v = at + (uint32_t)sizeof(name) - 1;
            while (v < end && h->ptr[v] == ' ')
                v++;
            if (v == end || h->ptr[v] != '"')
                return 0; /* weak already (W/"...") or not a validator */
            if (mem_buf_reserve(h, MEM_OUT, 2) != 0)
                return -ENOMEM;
            memmove(h->ptr + v + 2, h->ptr + v, h->len - v);
            memcpy(h->ptr + v, "W/", 2);
            h->len += 2;
            return 0;
        }
        at = end;
    }
    return 0;
}

static bool eligible(const struct crest_req *req, const struct gzip *g)
{
    const struct http_request *h = &req->http;
    unsigned s = h->status;

    if (h->stream || h->has_file || s < 200 || s == 204 || s == 206 || s == 304)
        return false;
    if (h->res_body->len < g->cfg.min_size_bytes || !compressible(h->content_type))
        return false;
    return !has_encoding(h->res_headers);
}

/* Compresses the body in place; false (the body untouched) when it did not pay or no memory. */
static bool compress_body(struct gzip *g, struct crest_req *req, enum mw_gzip_coding coding)
{
    struct worker_gzip *w = &g->workers[req->http.worker->id % MAX_WORKERS];
    struct mem_buf *body = req->http.res_body;

    if (!w->c && !(w->c = libdeflate_alloc_compressor(g->cfg.level)))
        return false;
    size_t bound = coding == MW_GZIP_GZIP ? libdeflate_gzip_compress_bound(w->c, body->len)
                                          : libdeflate_zlib_compress_bound(w->c, body->len);
    w->out.len = 0;
    if (mem_buf_reserve(&w->out, MEM_GZIP, bound) != 0)
        return false;
    size_t n = coding == MW_GZIP_GZIP
                   ? libdeflate_gzip_compress(w->c, body->ptr, body->len, w->out.ptr, bound)
                   : libdeflate_zlib_compress(w->c, body->ptr, body->len, w->out.ptr, bound);
    bool smaller = n > 0 && n < body->len;
    if (smaller) {
        memcpy(body->ptr, w->out.ptr, n);
        body->len = (uint32_t)n;
    }
    if (w->out.cap > KEEP_OUT_BYTES) /* one large body must not pin its buffer for good */
        mem_buf_fini(&w->out, MEM_GZIP);
    return smaller;
}

static void compress(struct crest_req *req, void *ud)
{
    struct gzip *g = ud;
    int err = 0;

    if (!eligible(req, g))
        return;
    enum mw_gzip_coding coding =
        mw_gzip_choose(crest_req_header(req, "Accept-Encoding"), g->cfg.allow_deflate);
    if (coding == MW_GZIP_UNACCEPTABLE) {
        req->http.res_headers->len = 0;
        if (crest_res_error(req, 406, "Not Acceptable") != 0)
            req_response_oom(req);
        return;
    }
    err |= crest_res_header(req, "Vary", "Accept-Encoding");
    if (coding != MW_GZIP_IDENTITY && compress_body(g, req, coding)) {
        err |=
            crest_res_header(req, "Content-Encoding", coding == MW_GZIP_GZIP ? "gzip" : "deflate");
        err |= weaken_etag(req->http.res_headers);
    }
    if (err) /* a compressed body without its Content-Encoding would be garbage to the client */
        req_response_oom(req);
}

CREST_API int crest_app_add_gzip(struct crest_app *app, const struct crest_gzip *cfg)
{
    struct gzip *g;

    if (!cfg || cfg->level < 0 || cfg->level > 12 || app_part_find(app, &gzip_ops))
        return -EINVAL;
    g = mem_calloc(MEM_APP, 1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    g->cfg = *cfg;
    if (!g->cfg.min_size_bytes)
        g->cfg.min_size_bytes = 500;
    if (!g->cfg.level) /* libdeflate's 1 compresses as small as zlib's 6, at half its time */
        g->cfg.level = 1;
    /* process-wide, and the same every time: libdeflate's memory is crest's, tagged */
    libdeflate_set_memory_allocator(gzip_malloc, gzip_release);
    g->part.ops = &gzip_ops;
    app_part_add(app, &g->part);
    const struct crest_hook hook = {.after = compress, .ud = g};
    return crest_app_add_hook(app, &hook);
}
