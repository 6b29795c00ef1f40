/* tests/fuzz/fuzz_http_chunked.c: the chunked decoder (http/chunked.c) on arbitrary bytes, decoded
 * whole and arriving in pieces cut where the input's first bytes say (fuzz.h), each piece in a
 * fresh heap buffer of its exact size. Both must give the same status, the same data and the same
 * count of bytes consumed; every call must consume all it was given unless it finished, keep its
 * data within what it consumed, and a finished decoder must answer the same again. */
#include "fuzz.h"

#include <string.h>

#include "http/chunked.h"

struct outcome {
    enum http_chunked_status status;
    uint32_t consumed; /* of the whole stream */
    uint32_t data_len;
    char *data; /* the decoded bytes, room for the whole stream */
};

/* Decodes one piece; appends its data to o and checks the call's contract. */
static enum http_chunked_status feed(struct http_chunked *c, const char *src, uint32_t n,
                                     struct outcome *o)
{
    char *buf = malloc(n ? n : 1);
    uint32_t len = n, consumed = 0;
    enum http_chunked_status r;

    FUZZ_CHECK(buf != NULL);
    memcpy(buf, src, n);
    r = http_chunked_decode(c, buf, &len, &consumed);
    FUZZ_CHECK(r == HTTP_CHUNKED_DONE || r == HTTP_CHUNKED_AGAIN || r == HTTP_CHUNKED_ERROR);
    FUZZ_CHECK(consumed <= n && len <= consumed);
    if (r == HTTP_CHUNKED_AGAIN)
        FUZZ_CHECK(consumed == n);
    if (r == HTTP_CHUNKED_DONE) /* the body ends with the CRLF after the trailers */
        FUZZ_CHECK(consumed >= 1 && buf[consumed - 1] == '\n');
    memcpy(o->data + o->data_len, buf, len);
    o->data_len += len;
    o->consumed += consumed;
    free(buf);
    return r;
}

static void decode(const char *stream, const struct fuzz_cuts *cuts, struct outcome *o)
{
    struct http_chunked c;
    uint32_t from = 0;
    enum http_chunked_status r = HTTP_CHUNKED_AGAIN;

    memset(&c, 0, sizeof(c));
    for (uint32_t k = 0; k <= cuts->n && r == HTTP_CHUNKED_AGAIN; k++) {
        r = feed(&c, stream + from, cuts->at[k] - from, o);
        from = cuts->at[k];
    }
    o->status = r;
    if (r != HTTP_CHUNKED_AGAIN) { /* terminal: the same answer, nothing consumed */
        char more[2] = {'0', '\r'};
        uint32_t len = sizeof(more), consumed = 0;
        FUZZ_CHECK(http_chunked_decode(&c, more, &len, &consumed) == r);
        FUZZ_CHECK(len == 0 && consumed == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_cuts cuts, whole;
    size_t off = fuzz_read_cuts(data, size, &cuts);
    const char *stream = (const char *)data + off;
    uint32_t len = cuts.at[cuts.n];
    struct outcome a = {.data = malloc(len + 1)}, b = {.data = malloc(len + 1)};

    FUZZ_CHECK(a.data && b.data);
    whole = (struct fuzz_cuts){.n = 0, .at = {len}};
    decode(stream, &whole, &a);
    decode(stream, &cuts, &b);
    FUZZ_CHECK(a.status == b.status);
    FUZZ_CHECK(a.consumed == b.consumed);
    FUZZ_CHECK(a.data_len == b.data_len && memcmp(a.data, b.data, a.data_len) == 0);
    free(a.data);
    free(b.data);
    return 0;
}
