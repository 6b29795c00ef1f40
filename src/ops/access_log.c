/* ops/access_log.c: the access log. Each line is built in a stack buffer and written with one
 * write(2) to stdout: no lock, no stdio buffer, no allocation, and lines from different workers
 * never interleave (a pipe takes a write of up to PIPE_BUF bytes whole). Logged are the responses
 * the application answered (ops_record calls us); errors the HTTP layer answers itself before
 * routing (400, 408, 413, 503 for memory) are counted in /metrics, not logged here. */
#include "ops/ops.h"

#include "net/worker.h"
#include "req/req.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum {
    LINE_BYTES = 1800, /* fits the longest line the bounds below allow (< PIPE_BUF) */
    PATH_SHOWN = 256,  /* longer paths are cut, with "..." */
    METHOD_SHOWN = 24, /* the method token as sent (unknown methods too) */
    CLIENT_SHOWN = 46, /* an address as inet_ntop writes it */
    ID_SHOWN = 128,    /* mw/request_id.c's longest */
};

uint8_t ops_access_log_mode;

void ops_access_log_set(enum ops_access_log_mode mode)
{
    ops_access_log_mode = (uint8_t)mode;
}

/* Copies s, percent-encoding what is not printable ASCII or would need escaping in JSON, so the
 * same text is safe in both formats and a line can never be split. Returns bytes written. */
static size_t put_escaped(char *out, size_t cap, const char *s, size_t len, bool cut)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < len && n + 3 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c > 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out[n++] = (char)c;
            continue;
        }
        out[n++] = '%';
        out[n++] = hex[c >> 4];
        out[n++] = hex[c & 15];
    }
    if (cut && n + 3 < cap) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return n;
}

/* The client (behind trusted proxies, the one they name: mw/proxy.c) and the request's ID, both
 * already checked text (an address crest printed, an ID mw/request_id.c validated), escaped all
 * the same. */
static void client_and_id(const struct http_request *hreq, char *client, size_t client_cap,
                          char *id, size_t id_cap)
{
    struct crest_req *req = (struct crest_req *)hreq; /* the app's request embeds it first */
    struct crest_str c = crest_req_client(req);
    struct crest_str rid = req->request_id;
    size_t id_len = rid.len < ID_SHOWN ? rid.len : ID_SHOWN;

    put_escaped(client, client_cap, c.len ? c.ptr : "-", c.len ? c.len : 1, false);
    put_escaped(id, id_cap, rid.ptr ? rid.ptr : "", rid.ptr ? id_len : 0, false);
}

static size_t format_line(char *line, const struct http_request *req, uint64_t duration_us)
{
    char method[METHOD_SHOWN * 3 + 4], path[PATH_SHOWN * 3 + 4];
    char client[CLIENT_SHOWN * 3 + 4], id[ID_SHOWN * 3 + 4];
    const struct http_parser *p = req->parser;
    size_t method_len = p->method_len < METHOD_SHOWN ? p->method_len : METHOD_SHOWN;
    size_t path_len = req->path.len < PATH_SHOWN ? req->path.len : PATH_SHOWN;
    size_t bytes = req->head_only || !req->res_body ? 0 : req->res_body->len;
    double ms = (double)duration_us / 1000.0;
    int n;

    put_escaped(method, sizeof(method), req->buf + p->skip, method_len, false);
    put_escaped(path, sizeof(path), req->path.ptr, path_len, req->path.len > PATH_SHOWN);
    client_and_id(req, client, sizeof(client), id, sizeof(id));
    if (ops_access_log_mode == OPS_ACCESS_LOG_JSON)
        n = snprintf(line, LINE_BYTES,
                     "{\"ts\":%lld,\"client\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
                     "\"status\":%u,\"duration_ms\":%.3f,\"bytes\":%zu%s%s%s}\n",
                     (long long)req->worker->loop.now_sec, client, method, path, req->status, ms,
                     bytes, *id ? ",\"request_id\":\"" : "", id, *id ? "\"" : "");
    else
        n = snprintf(line, LINE_BYTES, "[access] %s %s %s %u %.3fms %zuB%s%s\n", client, method,
                     path, req->status, ms, bytes, *id ? " id=" : "", id);
    if (n < 0)
        return 0;
    if (n >= LINE_BYTES) { /* cannot happen with the bounds above; keep the line a line */
        line[LINE_BYTES - 2] = '\n';
        return LINE_BYTES - 1;
    }
    return (size_t)n;
}

void ops_access_log_write(const struct http_request *req, uint64_t duration_us)
{
    char line[LINE_BYTES];
    size_t len = format_line(line, req, duration_us);
    ssize_t n = write(STDOUT_FILENO, line, len);
    (void)n; /* a lost log line is not worth a retry loop on the request path */
}
