/* req/file.c: a file as the response body (crest_res_file), the way RFC 9110 wants a static
 * resource served: validators (ETag from the file's mtime and size, Last-Modified), conditional
 * requests in the order of 13.2.2 (If-Match, If-Unmodified-Since: 412; If-None-Match,
 * If-Modified-Since: 304), and one byte range (14: 206 with Content-Range, 416 when it cannot be
 * satisfied; several ranges are answered whole, as a server may). The bytes themselves go out
 * with sendfile from the session (net_io_take_file): none of the file is ever in memory. */
#include "req/req.h"

#include "http/date.h"
#include "mem/arena.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct validators {
    char etag[48]; /* "<mtime ns hex>-<size hex>", quotes included */
    struct http_date modified;
    time_t mtime;
    uint64_t size;
};

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Whether the entity-tag list of an If-Match or If-None-Match holds ours ("*" holds any). weak:
 * the weak comparison (W/ ignored on both sides), else the strong one (a weak tag never
 * matches). Ours is always strong. */
static bool list_has(struct crest_str list, const char *etag, bool weak)
{
    size_t i = 0, n = strlen(etag);
    while (i < list.len) {
        while (i < list.len && (is_ows(list.ptr[i]) || list.ptr[i] == ','))
            i++;
        size_t start = i;
        while (i < list.len && list.ptr[i] != ',')
            i++;
        size_t end = i;
        while (end > start && is_ows(list.ptr[end - 1]))
            end--;
        const char *t = list.ptr + start;
        size_t len = end - start;
        if (len == 1 && t[0] == '*')
            return true;
        bool is_weak = len > 2 && t[0] == 'W' && t[1] == '/';
        if (is_weak) {
            if (!weak)
                continue;
            t += 2;
            len -= 2;
        }
        if (len == n && memcmp(t, etag, n) == 0)
            return true;
    }
    return false;
}

static bool header_date(struct crest_req *req, const char *name, time_t *out)
{
    struct crest_str v = crest_req_header(req, name);
    return v.ptr && http_date_parse(v.ptr, v.len, out) == 0;
}

/* RFC 9110 13.2.2: the preconditions' answer, or 0 to go on. */
static int preconditions(struct crest_req *req, const struct validators *v)
{
    bool get = req->http.method == CREST_METHOD_GET || req->http.method == CREST_METHOD_HEAD;
    struct crest_str if_match = crest_req_header(req, "If-Match");
    struct crest_str if_none = crest_req_header(req, "If-None-Match");
    time_t when;

    if (if_match.ptr) {
        if (!list_has(if_match, v->etag, false))
            return 412;
    } else if (header_date(req, "If-Unmodified-Since", &when) && v->mtime > when) {
        return 412;
    }
    if (if_none.ptr) {
        if (list_has(if_none, v->etag, true))
            return get ? 304 : 412;
    } else if (get && header_date(req, "If-Modified-Since", &when) && v->mtime <= when) {
        return 304;
    }
    return 0;
}

/* One range of Range: bytes=... (RFC 9110 14.1.2). 0 with [*first, *last]; 416 when it cannot be
 * satisfied; -EINVAL when the field is to be ignored (malformed, another unit, several
 * ranges). */
static int parse_range(struct crest_str r, uint64_t size, uint64_t *first, uint64_t *last)
{
    char buf[64], *end;
    if (r.len < 7 || r.len >= sizeof(buf) || memcmp(r.ptr, "bytes=", 6) != 0)
        return -EINVAL;
    memcpy(buf, r.ptr + 6, r.len - 6);
    buf[r.len - 6] = '\0';
    if (strchr(buf, ','))
        return -EINVAL;  /* several ranges: answered whole */
    if (buf[0] == '-') { /* the last n bytes */
        if (buf[1] < '0' || buf[1] > '9')
            return -EINVAL;
        uint64_t n = strtoull(buf + 1, &end, 10);
        if (*end)
            return -EINVAL;
        if (n == 0 || size == 0)
            return 416;
        *first = n >= size ? 0 : size - n;
        *last = size - 1;
        return 0;
    }
    if (buf[0] < '0' || buf[0] > '9')
        return -EINVAL;
    *first = strtoull(buf, &end, 10);
    if (*end != '-')
        return -EINVAL;
    if (end[1] == '\0') {
        *last = size ? size - 1 : 0;
    } else {
        if (end[1] < '0' || end[1] > '9')
            return -EINVAL;
        *last = strtoull(end + 1, &end, 10);
        if (*end || *last < *first)
            return -EINVAL;
        if (*last >= size)
            *last = size - 1;
    }
    return *first >= size ? 416 : 0;
}

/* If-Range (RFC 9110 13.1.5): whether the range applies to this representation. */
static bool range_applies(struct crest_req *req, const struct validators *v)
{
    struct crest_str ir = crest_req_header(req, "If-Range");
    if (!ir.ptr)
        return true;
    if (ir.len && ir.ptr[0] == '"')
        return ir.len == strlen(v->etag) && memcmp(ir.ptr, v->etag, ir.len) == 0;
    return ir.len == HTTP_DATE_LEN && memcmp(ir.ptr, v->modified.text, HTTP_DATE_LEN) == 0;
}

/* Content-Range: "bytes first-last/size", or "bytes *\/size" when unsatisfiable. */
static int content_range(struct crest_req *req, bool satisfiable, uint64_t first, uint64_t last,
                         uint64_t size)
{
    char value[96];
    if (satisfiable)
        snprintf(value, sizeof(value), "bytes %llu-%llu/%llu", (unsigned long long)first,
                 (unsigned long long)last, (unsigned long long)size);
    else
        snprintf(value, sizeof(value), "bytes */%llu", (unsigned long long)size);
    return crest_res_header(req, "Content-Range", value);
}

CREST_API int crest_res_file_take(struct crest_req *req, int fd, const char *content_type)
{
    struct validators v = {.modified = {.second = -1}};
    struct stat st;
    uint64_t first = 0, last = 0;
    int status, err = 0;

    if (fstat(fd, &st) != 0)
        err = -errno;
    else if (!S_ISREG(st.st_mode))
        err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    if (err) {
        close(fd);
        return err; /* st is not read when fstat failed */
    }
    v.size = (uint64_t)st.st_size;
    v.mtime = st.st_mtim.tv_sec;
    snprintf(v.etag, sizeof(v.etag), "\"%llx-%llx\"",
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st.st_mtim.tv_nsec,
             (unsigned long long)v.size);
    http_date_update(&v.modified, v.mtime);
    err |= crest_res_header(req, "ETag", v.etag);
    err |= crest_res_header(req, "Last-Modified", v.modified.text);
    err |= crest_res_header(req, "Accept-Ranges", "bytes");
    status = preconditions(req, &v);
    if (!status && req->http.method == CREST_METHOD_GET && range_applies(req, &v)) {
        struct crest_str range = crest_req_header(req, "Range");
        int r = range.ptr ? parse_range(range, v.size, &first, &last) : -EINVAL;
        if (r == 416) {
            err |= content_range(req, false, 0, 0, v.size);
            status = 416;
        } else if (r == 0) {
            err |= content_range(req, true, first, last, v.size);
            status = 206;
        }
    }
    if (err) {
        close(fd);
        return -ENOMEM;
    }
    if (status == 304 || status == 412 || status == 416) {
        close(fd);
        if (status == 304) {
            crest_res_status(req, 304);
            return 0;
        }
        return crest_res_error(req, status,
                               status == 412 ? "Precondition Failed" : "Range Not Satisfiable");
    }
    err = crest_res_body(req, content_type ? content_type : "application/octet-stream", "", 0);
    if (err) {
        close(fd);
        return err;
    }
    crest_res_status(req, status ? status : 200);
    req->http.has_file = true;
    req->http.file_fd = fd;
    req->http.file_off = status == 206 ? (int64_t)first : 0;
    req->http.file_len = status == 206 ? last - first + 1 : v.size;
    return 0;
}

CREST_API int crest_res_file(struct crest_req *req, const char *path, const char *content_type)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    return crest_res_file_take(req, fd, content_type ? content_type : crest_file_type(path));
}

CREST_API const char *crest_file_type(const char *path)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"json", "application/json"},
        {"txt", "text/plain; charset=utf-8"},
        {"md", "text/markdown; charset=utf-8"},
        {"csv", "text/csv; charset=utf-8"},
        {"xml", "application/xml"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"ico", "image/vnd.microsoft.icon"},
        {"avif", "image/avif"},
        {"woff", "font/woff"},
        {"woff2", "font/woff2"},
        {"ttf", "font/ttf"},
        {"otf", "font/otf"},
        {"wasm", "application/wasm"},
        {"pdf", "application/pdf"},
        {"zip", "application/zip"},
        {"gz", "application/gzip"},
        {"mp4", "video/mp4"},
        {"webm", "video/webm"},
        {"mp3", "audio/mpeg"},
        {"ogg", "audio/ogg"},
        {"wav", "audio/wav"},
    };
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash)) {
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    }
    return "application/octet-stream";
}
