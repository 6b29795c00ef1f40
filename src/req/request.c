/* req/request.c: what a handler reads from a request (the crest_req_*, crest_path_* and
 * crest_param_* functions of crest.h), and its life: arena, timers, finish. Everything lands in
 * the request's arena, so a handler allocates nothing from the heap. */
#include "req/req.h"

#include "http/parse.h"
#include "mem/mem.h"
#include "net/peer.h"
#include "net/worker.h"

#include <arpa/inet.h>

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
    const struct route *r = req->match.route;
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

CREST_API struct crest_str crest_req_client(struct crest_req *req)
{
    if (!req->client.ptr) /* the session keeps the peer's address for its life: no copy */
        req->client = http_request_peer(&req->http);
    return req->client;
}

bool req_request_from_loopback(struct crest_req *req)
{
    char text[NET_PEER_NAME_LEN];
    unsigned char a[16];

    if (!req->client.ptr) /* no proxy named another client: ask the socket, no copy */
        return net_conn_from_loopback(req->http.worker, req->http.conn);
    if (req->client.len >= sizeof(text))
        return false;
    memcpy(text, req->client.ptr, req->client.len);
    text[req->client.len] = '\0';
    if (inet_pton(AF_INET, text, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, text, a) != 1)
        return false;
    static const unsigned char loop6[16] = {[15] = 1};
    static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
    return memcmp(a, loop6, 16) == 0 || (memcmp(a, mapped, 12) == 0 && a[12] == 127);
}

CREST_API struct crest_str crest_req_id(const struct crest_req *req)
{
    return req->request_id;
}

CREST_API struct crest_str crest_req_body(const struct crest_req *req)
{
    return req->http.body;
}

CREST_API int crest_req_set(struct crest_req *req, const char *key, void *value)
{
    for (struct req_state *st = req->state; st; st = st->next) {
        if (strcmp(st->key, key) == 0) {
            st->value = value;
            return 0;
        }
    }
    struct req_state *st = mem_arena_alloc(req->http.arena, sizeof(*st));
    if (!st)
        return -ENOMEM;
    *st = (struct req_state){.key = key, .value = value, .next = req->state};
    req->state = st;
    return 0;
}

CREST_API void *crest_req_get(const struct crest_req *req, const char *key)
{
    for (const struct req_state *st = req->state; st; st = st->next)
        if (strcmp(st->key, key) == 0)
            return st->value;
    return NULL;
}

CREST_API const struct crest_json_value *crest_req_json(const struct crest_req *req)
{
    return req->body_json;
}

CREST_API struct crest_loop *crest_req_loop(const struct crest_req *req)
{
    return net_loop_public(&req->http.worker->loop);
}

unsigned req_request_worker_id(const struct crest_req *req)
{
    return req->http.worker->id;
}

CREST_API void *crest_req_worker_data(const struct crest_req *req)
{
    return req->http.worker->app_data;
}

CREST_API void *crest_req_alloc(struct crest_req *req, size_t n)
{
    return mem_arena_alloc(req->http.arena, n);
}

CREST_API void crest_req_finish(struct crest_req *req)
{
    req_response_check_body(req);
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
