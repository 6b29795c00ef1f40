/* app/request.c: what a handler reads from a request and how it builds the response: the
 * crest_req_* and crest_res_* functions of crest.h. Everything lands in the request's arena or in
 * the session's reusable response buffers, so a handler allocates nothing from the heap. */
#include "app/app.h"
#include "app/json_write.h"
#include "app/scalar.h"
#include "http/parse.h"
#include "mem/mem.h"
#include "net/worker.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

CREST_API enum crest_method crest_req_method(const struct crest_req *req)
{
    return (enum crest_method)req->http.method;
}

CREST_API struct crest_str crest_req_path(const struct crest_req *req)
{
    return req->http.path;
}

CREST_API struct crest_str crest_req_query_string(const struct crest_req *req)
{
    return req->http.query;
}

CREST_API struct crest_str crest_req_route(const struct crest_req *req)
{
    const struct app_route *r = req->match.route;
    return r ? (struct crest_str){r->def.path, strlen(r->def.path)} : (struct crest_str){NULL, 0};
}

CREST_API struct crest_str crest_req_header(const struct crest_req *req, const char *name)
{
    const struct http_parser *p = req->http.parser;
    size_t len = strlen(name);
    for (uint32_t i = 0; i < p->n_headers; i++) {
        const struct http_header *h = &p->headers[i];
        if (h->name_len == len && strncasecmp(req->http.buf + h->name_off, name, len) == 0)
            return (struct crest_str){req->http.buf + h->value_off, h->value_len};
    }
    return (struct crest_str){NULL, 0};
}

CREST_API struct crest_str crest_req_body(const struct crest_req *req)
{
    return req->http.body;
}

static const struct app_param *find_param(const struct crest_req *req, const char *name)
{
    size_t len = strlen(name);
    for (uint8_t i = 0; i < req->match.n_params; i++) {
        const struct app_param *p = &req->match.params[i];
        if (p->segment->len == len && memcmp(p->segment->text, name, len) == 0)
            return p;
    }
    return NULL;
}

CREST_API int crest_path_str(const struct crest_req *req, const char *name, struct crest_str *out)
{
    const struct app_param *p = find_param(req, name);
    if (!p)
        return -ENOENT;
    *out = p->value;
    return 0;
}

CREST_API int crest_path_int(const struct crest_req *req, const char *name, int64_t *out)
{
    const struct app_param *p = find_param(req, name);
    if (!p)
        return -ENOENT;
    return app_parse_int64(p->value.ptr, p->value.len, out);
}

CREST_API void *crest_req_worker_data(const struct crest_req *req)
{
    return req->http.worker->app_data;
}

CREST_API void *crest_req_alloc(struct crest_req *req, size_t n)
{
    return mem_arena_alloc(req->http.arena, n);
}

CREST_API void crest_res_status(struct crest_req *req, int status)
{
    if (status >= 100 && status <= 999)
        req->http.status = (uint16_t)status;
}

/* RFC 9110 5.5: a field value never holds CR, LF or NUL; refusing them here is what keeps an
 * echoed client string from splitting the response. */
CREST_API int crest_res_header(struct crest_req *req, const char *name, const char *value)
{
    struct mem_buf *h = req->http.res_headers;
    size_t nlen = strlen(name), vlen = strlen(value);
    int err = 0;

    if (nlen == 0)
        return -EINVAL;
    for (size_t i = 0; i < nlen; i++)
        if (!http_is_tchar((unsigned char)name[i]))
            return -EINVAL;
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return -EINVAL;
    }
    err |= mem_buf_append(h, MEM_OUT, name, nlen);
    err |= mem_buf_append(h, MEM_OUT, ": ", 2);
    err |= mem_buf_append(h, MEM_OUT, value, vlen);
    err |= mem_buf_append(h, MEM_OUT, "\r\n", 2);
    return err ? -ENOMEM : 0;
}

static int set_content_type(struct crest_req *req, const char *content_type)
{
    size_t n = strlen(content_type);
    char *copy = mem_arena_alloc(req->http.arena, n + 1);
    if (!copy)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)content_type[i] < 0x20)
            return -EINVAL;
    memcpy(copy, content_type, n + 1);
    req->http.content_type = copy;
    return 0;
}

CREST_API int crest_res_body(struct crest_req *req, const char *content_type, const void *body,
                             size_t len)
{
    int err = set_content_type(req, content_type);
    if (err)
        return err;
    req->json = NULL;
    req->http.res_body->len = 0;
    return mem_buf_append(req->http.res_body, MEM_OUT, body, len);
}

CREST_API struct crest_json *crest_res_json(struct crest_req *req, int status)
{
    crest_res_status(req, status);
    req->http.content_type = "application/json";
    req->http.res_body->len = 0;
    if (!req->json) {
        req->json = mem_arena_alloc(req->http.arena, sizeof(*req->json));
        if (!req->json)
            return NULL;
    }
    app_json_bind(req->json, req->http.res_body, MEM_OUT);
    return req->json;
}

CREST_API int crest_res_error(struct crest_req *req, int status, const char *detail)
{
    struct crest_json *j = crest_res_json(req, status);
    if (!j)
        return -ENOMEM;
    crest_json_object_begin(j);
    crest_json_key(j, "detail");
    crest_json_string(j, detail);
    crest_json_object_end(j);
    return crest_json_error(j);
}

CREST_API void crest_req_finish(struct crest_req *req)
{
    app_check_body(req);
    http_request_finish(&req->http);
}

static void on_req_timer(struct net_timer *t)
{
    struct http_timer *ht = (struct http_timer *)t;
    ht->cb((struct crest_req *)ht->req, ht->ud);
}

CREST_API int crest_req_timer(struct crest_req *req, uint32_t delay_ms, crest_req_timer_fn cb,
                              void *ud)
{
    struct http_timer *ht = mem_arena_alloc(req->http.arena, sizeof(*ht));
    if (!ht)
        return -ENOMEM;
    memset(ht, 0, sizeof(*ht));
    ht->timer.cb = on_req_timer;
    ht->req = &req->http;
    ht->cb = cb;
    ht->ud = ud;
    int err = net_timer_start(&req->http.worker->loop, &ht->timer, delay_ms);
    if (err)
        return err;
    ht->next = req->http.timers;
    req->http.timers = ht;
    return 0;
}
