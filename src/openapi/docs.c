/* openapi/docs.c: the API's documentation routes. GET /openapi.json serves the document
 * openapi/openapi.c renders once and this file keeps (MEM_APP); GET /docs (Swagger UI) and GET
 * /redoc (ReDoc) are small pages that load the openapi.json and the scripts served by GET
 * /docs/{file} from the assets directory, where the build installs npm's swagger-ui-dist and redoc
 * (docs-assets/). Assets are read from disk at each request and never kept: their 2.5 MB would
 * otherwise sit in the RSS of every crest for pages that few people open, so browsers are told to
 * cache them. */
#include "openapi/openapi.h"

#include "app/app.h"
#include "mem/mem.h"
#include "req/req.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef CREST_INSTALL_DOCS_DIR /* CMake sets CMAKE_INSTALL_PREFIX/share/crest/docs */
#define CREST_INSTALL_DOCS_DIR "/usr/local/share/crest/docs"
#endif

struct docs {
    struct app_part part;   /* first: the app keeps its docs as a part (app/app.h) */
    struct crest_app *app;  /* the title of the pages */
    struct mem_buf openapi; /* MEM_APP: the rendered document, from the part's prepare */
    char *assets_dir;       /* MEM_APP; NULL: /docs and /redoc are not served */
};

enum {
    ASSET_NAME_MAX = 128,
    ASSET_MAX_BYTES =
        64 << 20, /* the largest bundle is under 2 MB; anything this big is not ours */
};

static const char cache_assets[] = "public, max-age=86400";
static const char cache_pages[] = "no-cache"; /* the pages name the app: revalidate them */
/* The pages load everything from crest: the browser refuses what the bundles would fetch
 * elsewhere (ReDoc's footer logo comes from a CDN), so the docs work offline and tell no one. */
static const char page_policy[] = "default-src 'self'; img-src 'self' data:; "
                                  "style-src 'self' 'unsafe-inline'; "
                                  "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:";

/* ---- pages ---- */

static const char swagger_before_title[] =
    "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<link type=\"text/css\" rel=\"stylesheet\" href=\"/docs/swagger-ui.css\">\n"
    "<link rel=\"icon\" type=\"image/png\" href=\"/docs/favicon-32x32.png\">\n<title>";
static const char swagger_after_title[] =
    " - Swagger UI</title>\n</head>\n<body>\n<div id=\"swagger-ui\"></div>\n"
    "<script src=\"/docs/swagger-ui-bundle.js\"></script>\n<script>\n"
    "window.ui = SwaggerUIBundle({\n"
    "  url: '/openapi.json',\n"
    "  dom_id: '#swagger-ui',\n"
    "  layout: 'BaseLayout',\n"
    "  deepLinking: true,\n"
    "  showExtensions: true,\n"
    "  showCommonExtensions: true,\n"
    "  validatorUrl: null,\n" /* else the page asks validator.swagger.io about the document */
    "  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],\n"
    "});\n</script>\n</body>\n</html>\n";

static const char redoc_before_title[] =
    "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<link rel=\"icon\" type=\"image/png\" href=\"/docs/favicon-32x32.png\">\n"
    "<style>body { margin: 0; padding: 0; }</style>\n<title>";
static const char redoc_after_title[] =
    " - ReDoc</title>\n</head>\n<body>\n"
    "<noscript>ReDoc needs JavaScript to show this documentation.</noscript>\n"
    "<redoc spec-url=\"/openapi.json\"></redoc>\n"
    "<script src=\"/docs/redoc.standalone.js\"></script>\n</body>\n</html>\n";

static int append_str(struct mem_buf *b, const char *s)
{
    return mem_buf_append(b, MEM_OUT, s, strlen(s));
}

/* The app's title is the only text of ours that is not a constant: escape it for HTML. */
static int append_html_text(struct mem_buf *b, const char *s)
{
    int err = 0;
    for (const char *run = s;; s++) {
        const char *esc = *s == '&'    ? "&amp;"
                          : *s == '<'  ? "&lt;"
                          : *s == '>'  ? "&gt;"
                          : *s == '"'  ? "&quot;"
                          : *s == '\'' ? "&#39;"
                                       : NULL;
        if (!esc && *s)
            continue;
        err |= mem_buf_append(b, MEM_OUT, run, (size_t)(s - run));
        if (!*s)
            return err;
        err |= append_str(b, esc);
        run = s + 1;
    }
}

static enum crest_handler_result page(struct crest_req *req, const struct docs *d,
                                      const char *before_title, const char *after_title)
{
    struct mem_buf *b = req->http.res_body;
    int err = 0;

    b->len = 0;
    req->json = NULL;
    req->http.content_type = "text/html; charset=utf-8";
    err |= append_str(b, before_title);
    err |= append_html_text(b, d->app->title);
    err |= append_str(b, after_title);
    err |= crest_res_header(req, "Cache-Control", cache_pages);
    err |= crest_res_header(req, "Content-Security-Policy", page_policy);
    if (err)
        req_response_oom(req);
    return CREST_DONE;
}

static enum crest_handler_result swagger_ui(struct crest_req *req, void *ud)
{
    return page(req, ud, swagger_before_title, swagger_after_title);
}

static enum crest_handler_result redoc(struct crest_req *req, void *ud)
{
    return page(req, ud, redoc_before_title, redoc_after_title);
}

static int docs_prepare(struct app_part *part, struct crest_app *app, char *err);
static void docs_free(struct app_part *part);
static const struct app_part_ops docs_ops = {.prepare = docs_prepare, .free = docs_free};

/* ---- the document ---- */

static enum crest_handler_result openapi_json(struct crest_req *req, void *ud)
{
    struct docs *d = ud; /* rendered by prepare, before the first request */
    if (crest_res_body(req, "application/json", d->openapi.ptr, d->openapi.len) != 0)
        req_response_oom(req);
    return CREST_DONE;
}

/* ---- assets ---- */

/* The Content-Type of an asset name, or NULL for names never served: only plain file names
 * ([A-Za-z0-9._-], starting with a letter or digit) with a known extension, so "..", hidden
 * files and anything with a '/' (percent-encoded or not) are 404 before the disk is touched. */
static const char *asset_type(struct crest_str name)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        {".js", "application/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".png", "image/png"},
        {".map", "application/json"},
    };
    if (name.len == 0 || name.len > ASSET_NAME_MAX)
        return NULL;
    for (size_t i = 0; i < name.len; i++) {
        char c = name.ptr[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '-' && c != '_')))
            return NULL;
        if (c == '.' && name.ptr[i - 1] == '.')
            return NULL;
    }
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t n = strlen(types[i].ext);
        if (name.len > n && memcmp(name.ptr + name.len - n, types[i].ext, n) == 0)
            return types[i].type;
    }
    return NULL;
}

static enum crest_handler_result not_found(struct crest_req *req)
{
    if (crest_res_error(req, 404, "Not Found") != 0)
        req_response_oom(req);
    return CREST_DONE;
}

/* Reads the whole file into the response body. 0, -ENOMEM, -EIO (a read error, or the file
 * shrank while we read it). */
static int read_body(struct crest_req *req, int fd, size_t size)
{
    struct mem_buf *b = req->http.res_body;
    b->len = 0;
    req->json = NULL;
    if (mem_buf_reserve(b, MEM_OUT, size) != 0)
        return -ENOMEM;
    while (b->len < size) {
        ssize_t n = read(fd, b->ptr + b->len, size - b->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -EIO;
        b->len += (uint32_t)n;
    }
    return 0;
}

/* If-None-Match holds our tag (or "*"): the browser's copy is current. */
static bool not_modified(const struct crest_req *req, const char *etag)
{
    struct crest_str inm = crest_req_header(req, "If-None-Match");
    if (!inm.ptr)
        return false;
    return (inm.len == 1 && inm.ptr[0] == '*') || memmem(inm.ptr, inm.len, etag, strlen(etag));
}

/* Serves an open asset: 304 when the browser has it, else the bytes; closes fd. */
static enum crest_handler_result send_asset(struct crest_req *req, int fd, const struct stat *st,
                                            const char *type)
{
    char etag[64];
    int err;

    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st->st_size,
             (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st->st_mtim.tv_nsec);
    if (not_modified(req, etag)) {
        close(fd);
        crest_res_status(req, 304);
        req->http.res_body->len = 0;
    } else {
        err = read_body(req, fd, (size_t)st->st_size);
        close(fd);
        if (err == -ENOMEM) {
            req_response_oom(req);
            return CREST_DONE;
        }
        if (err) {
            if (crest_res_error(req, 500, "Internal Server Error") != 0)
                req_response_oom(req);
            return CREST_DONE;
        }
        req->http.content_type = type;
    }
    err = crest_res_header(req, "Cache-Control", cache_assets);
    if (!err)
        err = crest_res_header(req, "ETag", etag);
    if (err)
        req_response_oom(req);
    return CREST_DONE;
}

/* A blocking read on the worker's loop: the files are a few, in the page cache after the first
 * request, and browsers keep them a day. */
static enum crest_handler_result asset(struct crest_req *req, void *ud)
{
    const struct docs *d = ud;
    struct crest_str name;
    const char *type;
    char path[PATH_MAX];
    struct stat st;

    if (crest_path_str(req, "file", &name) != 0 || !(type = asset_type(name)))
        return not_found(req);
    int n = snprintf(path, sizeof(path), "%s/%.*s", d->assets_dir, (int)name.len, name.ptr);
    if (n < 0 || (size_t)n >= sizeof(path))
        return not_found(req);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return not_found(req);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > ASSET_MAX_BYTES) {
        close(fd);
        return not_found(req);
    }
    return send_asset(req, fd, &st, type);
}

/* ---- declarations ---- */

/* The files the pages load; the favicons are optional. */
static bool has_assets(const char *dir)
{
    static const char *const needed[] = {"swagger-ui.css", "swagger-ui-bundle.js",
                                         "redoc.standalone.js"};
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        int n = snprintf(path, sizeof(path), "%s/%s", dir, needed[i]);
        if (n < 0 || (size_t)n >= sizeof(path) || access(path, R_OK) != 0)
            return false;
    }
    return true;
}

CREST_API int crest_app_add_docs_routes(struct crest_app *app, const char *assets_dir)
{
    struct docs *d;
    int err;

    if (app_part_find(app, &docs_ops))
        return -EEXIST;
    d = mem_calloc(MEM_APP, 1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->part.ops = &docs_ops;
    d->app = app;
    app_part_add(app, &d->part); /* crest_app_free releases it, whatever happens below */

    struct crest_route route = {.method = "GET", .handler = openapi_json, .ud = d, .hidden = true};
    route.path = "/openapi.json";
    err = crest_app_add_route(app, &route, NULL);
    if (err || !assets_dir)
        return err;
    if (!has_assets(assets_dir))
        return -ENOENT;
    d->assets_dir = mem_strdup(MEM_APP, assets_dir);
    if (!d->assets_dir)
        return -ENOMEM;
    static const struct {
        const char *path;
        crest_handler_fn handler;
    } pages[] = {{"/docs", swagger_ui}, {"/redoc", redoc}, {"/docs/{file}", asset}};
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]) && !err; i++) {
        route.path = pages[i].path;
        route.handler = pages[i].handler;
        err = crest_app_add_route(app, &route, NULL);
    }
    return err;
}

CREST_API const char *crest_docs_installed_dir(void)
{
    return CREST_INSTALL_DOCS_DIR;
}

static int docs_prepare(struct app_part *part, struct crest_app *app, char *err)
{
    struct docs *d = (struct docs *)part;
    int rc = openapi_render(app, &d->openapi, MEM_APP);
    if (rc) {
        mem_buf_fini(&d->openapi, MEM_APP);
        snprintf(err, CREST_ERR_LEN, "cannot render the OpenAPI document: %s",
                 rc == -ENOMEM ? "out of memory" : "invalid declarations");
        return rc;
    }
    /* kept for the process's life: give back the slack of the buffer's doublings */
    char *fit = mem_realloc(MEM_APP, d->openapi.ptr, d->openapi.cap, d->openapi.len);
    if (fit) {
        d->openapi.ptr = fit;
        d->openapi.cap = d->openapi.len;
    }
    return 0;
}

static void docs_free(struct app_part *part)
{
    struct docs *d = (struct docs *)part;
    mem_buf_fini(&d->openapi, MEM_APP);
    mem_strfree(MEM_APP, d->assets_dir);
    mem_free(MEM_APP, d, sizeof(*d));
}
