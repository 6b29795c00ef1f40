/* mw/proxy.c: trusted proxies (crest_app_trust_proxies), uvicorn's ProxyHeadersMiddleware. A
 * request whose peer is a configured proxy has its client taken from Forwarded (RFC 7239) or
 * X-Forwarded-For, walking the chain from the right (the hop nearest to us, written by the proxy
 * we trust) past the other trusted proxies: a client can prepend anything it likes, so only what
 * trusted hops appended is believed. The address found is parsed and written back canonically
 * (inet_ntop), so nothing from the header itself reaches a log or a response. The hook runs first
 * of all, so rate limits and logs see the client it sets (struct crest_req's client). */
#include "app/app.h"
#include "mw/mw.h"

#include "mem/mem.h"
#include "net/peer.h"
#include "req/req.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* An address as text (no port, no brackets) into 4 or 16 bytes; 0 when it is none. */
static int parse_addr(const char *p, size_t n, uint8_t addr[16])
{
    char text[MW_PROXY_ADDR_LEN];

    if (n == 0 || n >= sizeof(text))
        return 0;
    memcpy(text, p, n);
    text[n] = '\0';
    if (inet_pton(AF_INET, text, addr) == 1)
        return 4;
    if (inet_pton(AF_INET6, text, addr) == 1) {
        static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
        if (memcmp(addr, mapped, 12) == 0) { /* ::ffff:a.b.c.d is the IPv4 client a.b.c.d */
            memmove(addr, addr + 12, 4);
            return 4;
        }
        return 16;
    }
    return 0;
}

static int parse_net(const char *p, size_t n, struct mw_proxy_net *net)
{
    const char *slash = memchr(p, '/', n);
    size_t alen = slash ? (size_t)(slash - p) : n;
    int len = parse_addr(p, alen, net->addr);

    if (!len)
        return -EINVAL;
    net->len = (uint8_t)len;
    net->prefix = (uint8_t)(len * 8);
    if (slash) {
        size_t digits = n - alen - 1;
        unsigned bits = 0;
        if (digits == 0 || digits > 3)
            return -EINVAL;
        for (size_t i = 0; i < digits; i++) {
            char c = slash[1 + i];
            if (c < '0' || c > '9')
                return -EINVAL;
            bits = bits * 10 + (unsigned)(c - '0');
        }
        if (bits > (unsigned)len * 8)
            return -EINVAL;
        net->prefix = (uint8_t)bits;
    }
    return 0;
}

int mw_proxy_parse_list(const char *text, struct mw_proxy_list *out)
{
    const char *p = text;

    memset(out, 0, sizeof(*out));
    if (!text)
        return -EINVAL;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        size_t n = strcspn(p, ", \t");
        if (n == 0)
            break;
        if (n == 1 && *p == '*') {
            out->any = true;
        } else {
            if (out->n == MW_PROXY_MAX_NETS || parse_net(p, n, &out->nets[out->n]) != 0)
                return -EINVAL;
            out->n++;
        }
        p += n;
    }
    return out->any || out->n ? 0 : -EINVAL;
}

static bool in_net(const struct mw_proxy_net *net, const uint8_t *addr, int len)
{
    unsigned whole = net->prefix / 8, rest = net->prefix % 8;

    if (net->len != len || memcmp(net->addr, addr, whole) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (net->addr[whole] & mask) == (addr[whole] & mask);
}

static bool trusted_bytes(const struct mw_proxy_list *l, const uint8_t *addr, int len)
{
    if (l->any)
        return true;
    for (uint16_t i = 0; i < l->n; i++)
        if (in_net(&l->nets[i], addr, len))
            return true;
    return false;
}

bool mw_proxy_trusted(const struct mw_proxy_list *l, const char *addr, size_t len)
{
    uint8_t bytes[16];
    int n = parse_addr(addr, len, bytes);
    return n && trusted_bytes(l, bytes, n);
}

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

/* A node (RFC 7239 6: an IP, "[IPv6]", either with ":port"; X-Forwarded-For's bare IPv6 too),
 * quotes removed, into bytes; 0 for "unknown", an obfuscated node or anything malformed. */
static int parse_node(const char *p, size_t n, uint8_t addr[16])
{
    trim(&p, &n);
    if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
        p++;
        n -= 2;
        if (memchr(p, '\\', n) || memchr(p, '"', n))
            return 0; /* escapes have no place in an address: refuse rather than unescape */
    }
    if (n && p[0] == '[') {
        const char *end = memchr(p, ']', n);
        if (!end || (end + 1 < p + n && end[1] != ':'))
            return 0;
        int len = parse_addr(p + 1, (size_t)(end - p - 1), addr);
        return len == 16 ? len : 0;
    }
    const char *colon = memchr(p, ':', n);
    if (colon && !memchr(colon + 1, ':', (size_t)(p + n - colon - 1)))
        n = (size_t)(colon - p); /* a.b.c.d:port */
    return parse_addr(p, n, addr);
}

/* The for= value of a Forwarded element ("for=1.2.3.4;proto=https"), or {NULL, 0}. */
static struct crest_str forwarded_for(const char *p, size_t n)
{
    while (n) {
        const char *semi = memchr(p, ';', n);
        size_t len = semi ? (size_t)(semi - p) : n;
        const char *pair = p;
        size_t plen = len;
        trim(&pair, &plen);
        if (plen > 4 && strncasecmp(pair, "for=", 4) == 0)
            return (struct crest_str){pair + 4, plen - 4};
        if (!semi)
            break;
        p = semi + 1;
        n -= len + 1;
    }
    return (struct crest_str){NULL, 0};
}

size_t mw_proxy_client(const struct mw_proxy_list *l, struct crest_str forwarded,
                       struct crest_str xff, char out[MW_PROXY_ADDR_LEN])
{
    bool rfc7239 = forwarded.ptr != NULL;
    struct crest_str h = rfc7239 ? forwarded : xff;
    uint8_t addr[16];
    int len = 0;

    out[0] = '\0';
    if (!h.ptr || !h.len)
        return 0;
    /* from the right: each member is a hop that the one after it appended */
    size_t end = h.len;
    for (unsigned hops = 0;; hops++) {
        if (hops == MW_PROXY_MAX_HOPS)
            return 0;
        size_t start = end;
        while (start && h.ptr[start - 1] != ',')
            start--;
        struct crest_str node = {h.ptr + start, end - start};
        if (rfc7239)
            node = forwarded_for(node.ptr, node.len);
        len = node.ptr ? parse_node(node.ptr, node.len, addr) : 0;
        if (!len)
            return 0; /* malformed: believe none of it */
        if (!trusted_bytes(l, addr, len) || start == 0)
            break;
        end = start - 1;
    }
    if (!inet_ntop(len == 4 ? AF_INET : AF_INET6, addr, out, MW_PROXY_ADDR_LEN))
        return 0;
    return strlen(out);
}

/* ---- the hook ---- */

struct proxy {
    struct app_part part; /* first: the app frees it */
    struct mw_proxy_list list;
};

static void proxy_free(struct app_part *part)
{
    mem_free(MEM_APP, part, sizeof(struct proxy));
}

static const struct app_part_ops proxy_ops = {.free = proxy_free};

/* The value of the header named name when it appears once; {NULL, 0} when absent, and *twice
 * set when repeated (a second field line could be the client's own: believe neither). */
static struct crest_str header_once(const struct crest_req *req, const char *name, bool *twice)
{
    const struct http_parser *p = req->http.parser;
    size_t len = strlen(name);
    struct crest_str v = {NULL, 0};
    for (uint32_t i = 0; i < p->n_headers; i++) {
        const struct http_header *h = &p->headers[i];
        if (h->name_len != len || strncasecmp(req->http.buf + h->name_off, name, len) != 0)
            continue;
        if (v.ptr)
            *twice = true;
        v = (struct crest_str){req->http.buf + h->value_off, h->value_len};
    }
    return v;
}

static enum crest_hook_result resolve(struct crest_req *req, void *ud)
{
    const struct proxy *px = ud;
    struct crest_str peer = crest_req_client(req); /* the socket's, read once */
    char name[MW_PROXY_ADDR_LEN];
    bool twice = false;

    if (!peer.len || !mw_proxy_trusted(&px->list, peer.ptr, peer.len))
        return CREST_HOOK_NEXT; /* not a proxy of ours: its headers mean nothing */
    struct crest_str fwd = header_once(req, "Forwarded", &twice);
    struct crest_str xff = header_once(req, "X-Forwarded-For", &twice);
    size_t n = twice ? 0 : mw_proxy_client(&px->list, fwd, xff, name);
    char *copy = n ? crest_req_alloc(req, n + 1) : NULL;
    if (copy) {
        memcpy(copy, name, n + 1);
        req->client = (struct crest_str){copy, n};
    }
    return CREST_HOOK_NEXT;
}

CREST_API int crest_app_trust_proxies(struct crest_app *app, const char *list)
{
    struct proxy *px;
    int err;

    if (app_part_find(app, &proxy_ops))
        return -EEXIST;
    px = mem_calloc(MEM_APP, 1, sizeof(*px));
    if (!px)
        return -ENOMEM;
    err = mw_proxy_parse_list(list, &px->list);
    if (err) {
        mem_free(MEM_APP, px, sizeof(*px));
        return err;
    }
    px->part.ops = &proxy_ops;
    app_part_add(app, &px->part);
    const struct crest_hook hook = {.before = resolve, .ud = px};
    return app_hook_add_first(app, &hook);
}
