/* tests/fuzz/fuzz_http_parse.c: the request-head parser (http/parse.c) on arbitrary bytes, read
 * as a stream of pipelined requests. The stream is parsed twice: whole, and arriving in pieces
 * cut where the input's first bytes say (fuzz.h). Each request's head is parsed from where the
 * previous one's body ends (Content-Length; a chunked body ends the run), as the session does,
 * every call on a fresh heap copy of exactly the bytes seen so far, so a read past them is an ASan
 * report. Both runs must report the same sequence of heads (status, lengths, every offset), and
 * every completed head must hold together: offsets inside the head, the grammar's bytes where
 * the offsets say, the limits kept. Byte 0's upper 5 bits f, when not 0, set small limits
 * (1 + f % 8 fields, 8 * f bytes), so 414 and 431 are reached, and cut around, by short inputs. */
#include "fuzz.h"

#include <stdbool.h>
#include <string.h>

#include "crest.h"
#include "http/parse.h"

enum { MAX_HEADERS = 100, MAX_REQUESTS = 8 };

/* What one parse of one head reported, copied out so two runs can be compared. */
struct head {
    enum http_parse_status r;
    uint16_t status;
    uint8_t method;
    uint8_t version_minor;
    uint32_t method_len;
    uint32_t skip;
    uint32_t target_off;
    uint32_t target_len;
    uint32_t head_len;
    uint32_t n_headers;
    int32_t host;
    bool has_content_length;
    uint64_t content_length;
    bool chunked;
    bool keep_alive;
    bool expect_continue;
    struct http_header headers[MAX_HEADERS];
};

struct run {
    uint32_t n;
    struct head heads[MAX_REQUESTS];
};

struct limits {
    uint32_t max_headers;
    uint32_t max_head_bytes;
};

static bool is_status(uint16_t s)
{
    return s == 400 || s == 414 || s == 417 || s == 431 || s == 501 || s == 505;
}

static void check_span(const char *buf, uint32_t off, uint32_t len, uint32_t head_len,
                       bool (*ok)(unsigned char))
{
    FUZZ_CHECK(off <= head_len && len <= head_len - off);
    for (uint32_t i = 0; i < len; i++)
        FUZZ_CHECK(ok((unsigned char)buf[off + i]));
}

static bool target_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

static bool value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* A completed head, against the bytes it was parsed from. */
static void check_done(const struct http_parser *p, const char *buf, uint32_t n,
                       const struct limits *lim)
{
    FUZZ_CHECK(p->head_len >= 1 && p->head_len <= n && buf[p->head_len - 1] == '\n');
    FUZZ_CHECK(p->skip <= p->head_len && p->head_len - p->skip <= lim->max_head_bytes);
    FUZZ_CHECK(p->method_len >= 1);
    check_span(buf, p->skip, p->method_len, p->head_len, http_is_tchar);
    FUZZ_CHECK(buf[p->skip + p->method_len] == ' ');
    FUZZ_CHECK(p->target_off == p->skip + p->method_len + 1 && p->target_len >= 1);
    check_span(buf, p->target_off, p->target_len, p->head_len, target_char);
    FUZZ_CHECK(p->version_minor <= 1);
    FUZZ_CHECK(p->n_headers <= lim->max_headers);
    for (uint32_t k = 0; k < p->n_headers; k++) {
        const struct http_header *h = &p->headers[k];
        FUZZ_CHECK(h->name_len >= 1);
        check_span(buf, h->name_off, h->name_len, p->head_len, http_is_tchar);
        FUZZ_CHECK(h->name_off + h->name_len < p->head_len &&
                   buf[h->name_off + h->name_len] == ':');
        check_span(buf, h->value_off, h->value_len, p->head_len, value_char);
        if (h->value_len) { /* trimmed */
            FUZZ_CHECK(buf[h->value_off] != ' ' && buf[h->value_off] != '\t');
            FUZZ_CHECK(buf[h->value_off + h->value_len - 1] != ' ' &&
                       buf[h->value_off + h->value_len - 1] != '\t');
        }
    }
    FUZZ_CHECK(p->host >= -1 && p->host < (int32_t)p->n_headers);
    if (p->host >= 0)
        FUZZ_CHECK(
            http_name_is(buf + p->headers[p->host].name_off, p->headers[p->host].name_len, "host"));
    FUZZ_CHECK(!(p->chunked && p->has_content_length));
}

static void capture(const struct http_parser *p, enum http_parse_status r, struct head *o)
{
    memset(o, 0, sizeof(*o));
    o->r = r;
    if (r == HTTP_PARSE_ERROR) {
        o->status = p->status;
        return;
    }
    if (r != HTTP_PARSE_DONE)
        return;
    o->method = p->method;
    o->version_minor = p->version_minor;
    o->method_len = p->method_len;
    o->skip = p->skip;
    o->target_off = p->target_off;
    o->target_len = p->target_len;
    o->head_len = p->head_len;
    o->n_headers = p->n_headers;
    o->host = p->host;
    o->has_content_length = p->has_content_length;
    o->content_length = p->content_length;
    o->chunked = p->chunked;
    o->keep_alive = p->keep_alive;
    o->expect_continue = p->expect_continue;
    memcpy(o->headers, p->headers, p->n_headers * sizeof(p->headers[0]));
}

/* One call of the parser on a fresh heap copy of src[0..n), checked before the copy goes. */
static enum http_parse_status parse_copy(struct http_parser *p, const char *src, uint32_t n,
                                         const struct limits *lim)
{
    char *buf = malloc(n ? n : 1);
    enum http_parse_status r;

    FUZZ_CHECK(buf != NULL);
    memcpy(buf, src, n);
    r = http_parse_head(p, buf, n);
    if (r == HTTP_PARSE_DONE)
        check_done(p, buf, n, lim);
    else if (r == HTTP_PARSE_ERROR)
        FUZZ_CHECK(is_status(p->status) && p->error != NULL);
    else
        FUZZ_CHECK(r == HTTP_PARSE_AGAIN);
    free(buf);
    return r;
}

/* Parses the pipelined heads of stream[0..cuts->at[n]) as its bytes arrive at each cut. */
static void run_stream(const char *stream, const struct fuzz_cuts *cuts, const struct limits *lim,
                       struct run *out)
{
    struct http_header headers[MAX_HEADERS];
    struct http_parser p;
    uint32_t len = cuts->at[cuts->n], k = 0, at = 0; /* at: start of the current request */

    out->n = 0;
    http_parser_init(&p, headers, lim->max_headers, lim->max_head_bytes);
    while (out->n < MAX_REQUESTS) {
        uint32_t avail = cuts->at[k];
        enum http_parse_status r = parse_copy(&p, stream + at, avail > at ? avail - at : 0, lim);
        if (r == HTTP_PARSE_AGAIN && k < cuts->n) {
            k++;
            continue;
        }
        capture(&p, r, &out->heads[out->n++]);
        if (r != HTTP_PARSE_DONE || p.chunked || p.content_length > len - at - p.head_len)
            return;
        at += p.head_len + (uint32_t)p.content_length;
        http_parser_reset(&p);
    }
}

static void check_same(const struct run *a, const struct run *b)
{
    FUZZ_CHECK(a->n == b->n);
    for (uint32_t i = 0; i < a->n; i++) {
        const struct head *x = &a->heads[i], *y = &b->heads[i];
        FUZZ_CHECK(x->r == y->r && x->status == y->status);
        FUZZ_CHECK(x->method == y->method && x->version_minor == y->version_minor);
        FUZZ_CHECK(x->method_len == y->method_len && x->skip == y->skip);
        FUZZ_CHECK(x->target_off == y->target_off && x->target_len == y->target_len);
        FUZZ_CHECK(x->head_len == y->head_len && x->n_headers == y->n_headers);
        FUZZ_CHECK(x->host == y->host);
        FUZZ_CHECK(x->has_content_length == y->has_content_length &&
                   x->content_length == y->content_length);
        FUZZ_CHECK(x->chunked == y->chunked && x->keep_alive == y->keep_alive &&
                   x->expect_continue == y->expect_continue);
        FUZZ_CHECK(memcmp(x->headers, y->headers, x->n_headers * sizeof(x->headers[0])) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_cuts cuts, whole;
    size_t off = fuzz_read_cuts(data, size, &cuts);
    const char *stream = (const char *)data + off;
    struct limits lim = {100, 16384};
    struct run *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));

    FUZZ_CHECK(a && b);
    if (cuts.flags) /* limits a short input can reach, and be cut around */
        lim = (struct limits){1 + (cuts.flags & 7u), 8u * cuts.flags};
    whole = (struct fuzz_cuts){.n = 0, .at = {cuts.at[cuts.n]}};
    run_stream(stream, &whole, &lim, a);
    run_stream(stream, &cuts, &lim, b);
    check_same(a, b);
    free(a);
    free(b);
    return 0;
}
