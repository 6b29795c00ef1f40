/* tests/fuzz/fuzz_http_ws.c: the WebSocket frame parser and UTF-8 validator (http/ws_frame.c) on
 * arbitrary bytes. The input is walked frame by frame as the connection does; for each prefix
 * of it the parser must answer "incomplete" until the frame is whole and then the same header,
 * never read past what it was given (each call gets a heap buffer of its exact size), refuse with
 * a valid close code only, and bound a frame by the limit. The validator must give the same
 * answer on a payload whole and cut in two anywhere. */
#include "fuzz.h"

#include <string.h>

#include "http/ws.h"

enum { LIMIT = 4096 };

static int parse_exact(const uint8_t *src, size_t n, struct http_ws_frame *f)
{
    uint8_t *buf = malloc(n ? n : 1);
    FUZZ_CHECK(buf != NULL);
    memcpy(buf, src, n);
    int r = http_ws_frame_parse(buf, n, LIMIT, f);
    free(buf);
    return r;
}

static void check_utf8(const uint8_t *p, size_t n)
{
    uint32_t whole = 0, cut = 0;
    int a = http_ws_utf8(&whole, p, n);
    size_t at = n ? p[0] % (n + 1) : 0;
    int b = http_ws_utf8(&cut, p, at);
    if (b == 0)
        b = http_ws_utf8(&cut, p + at, n - at);
    FUZZ_CHECK(a == b);
    if (a == 0)
        FUZZ_CHECK(whole == cut);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    while (off < size) {
        struct http_ws_frame f, g;
        int r = parse_exact(data + off, size - off, &f);
        if (r < 0) {
            FUZZ_CHECK(r == -HTTP_WS_PROTOCOL_ERROR || r == -HTTP_WS_TOO_BIG);
            return 0;
        }
        if (r == 0)
            return 0;
        FUZZ_CHECK(f.len <= LIMIT && (size_t)r == f.head_len && f.head_len + f.len <= size - off);
        if (f.opcode >= 8)
            FUZZ_CHECK(f.fin && f.len <= 125);
        /* every shorter prefix of the frame is incomplete, never an error */
        for (size_t k = 0; k < f.head_len + f.len; k += 1 + k / 8)
            FUZZ_CHECK(parse_exact(data + off, k, &g) == 0);
        uint8_t *payload = malloc(f.len ? f.len : 1);
        FUZZ_CHECK(payload != NULL);
        memcpy(payload, data + off + f.head_len, f.len);
        http_ws_unmask(payload, f.len, f.mask, 0);
        check_utf8(payload, f.len);
        free(payload);
        off += f.head_len + f.len;
    }
    return 0;
}
