/* http/ws_frame.c: the byte-level parts of RFC 6455: frame headers in and out, UTF-8 validation
 * of text (across fragments), close codes, and the handshake's accept key (SHA-1 and base64,
 * written here: 80 lines against a library for one hash of 60 bytes per connection). */
#include "http/ws.h"

#include <string.h>

int http_ws_frame_parse(const uint8_t *buf, size_t n, uint64_t max_payload, struct http_ws_frame *f)
{
    uint32_t head = 2;
    uint64_t len;

    if (n < 2)
        return 0;
    f->fin = buf[0] & 0x80;
    f->opcode = buf[0] & 0x0F;
    if (buf[0] & 0x70)
        return -HTTP_WS_PROTOCOL_ERROR; /* 5.2: RSV1-3 without an extension that defines them */
    if ((f->opcode > 2 && f->opcode < 8) || f->opcode > 10)
        return -HTTP_WS_PROTOCOL_ERROR; /* 5.2: reserved opcodes */
    if (!(buf[1] & 0x80))
        return -HTTP_WS_PROTOCOL_ERROR; /* 5.1: a client masks every frame */
    len = buf[1] & 0x7F;
    if (f->opcode >= 8 && (!f->fin || len > 125))
        return -HTTP_WS_PROTOCOL_ERROR; /* 5.5: control frames are whole and short */
    if (len == 126) {
        if (n < 4)
            return 0;
        len = (uint64_t)buf[2] << 8 | buf[3];
        head = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 2; i < 10; i++)
            len = len << 8 | buf[i];
        if (len >> 63)
            return -HTTP_WS_PROTOCOL_ERROR; /* 5.2: the most significant bit must be 0 */
        head = 10;
    }
    if (len > max_payload)
        return -HTTP_WS_TOO_BIG; /* 7.4.1: refused before a byte of it is held */
    if (n < head + 4)
        return 0;
    memcpy(f->mask, buf + head, 4);
    head += 4;
    f->head_len = head;
    f->len = len;
    return n - head >= len ? (int)head : 0;
}

void http_ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t at)
{
    for (size_t i = 0; i < n; i++)
        p[i] ^= mask[(at + i) & 3];
}

size_t http_ws_frame_head(uint8_t out[10], bool fin, uint8_t opcode, uint64_t len)
{
    out[0] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

/* The state packs what the next byte may be: (continuation bytes still needed << 16) | (lowest
 * allowed << 8) | highest allowed; 0 on a character boundary. */
static uint32_t after_lead(uint8_t c)
{
    if (c >= 0xC2 && c <= 0xDF)
        return 1u << 16 | 0x80 << 8 | 0xBF;
    if (c == 0xE0)
        return 2u << 16 | 0xA0 << 8 | 0xBF; /* no overlong three-byte forms */
    if (c == 0xED)
        return 2u << 16 | 0x80 << 8 | 0x9F; /* no surrogates */
    if (c >= 0xE1 && c <= 0xEF)
        return 2u << 16 | 0x80 << 8 | 0xBF;
    if (c == 0xF0)
        return 3u << 16 | 0x90 << 8 | 0xBF; /* no overlong four-byte forms */
    if (c >= 0xF1 && c <= 0xF3)
        return 3u << 16 | 0x80 << 8 | 0xBF;
    if (c == 0xF4)
        return 3u << 16 | 0x80 << 8 | 0x8F; /* nothing past U+10FFFF */
    return UINT32_MAX;
}

int http_ws_utf8(uint32_t *state, const uint8_t *p, size_t n)
{
    uint32_t s = *state;

    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (s == 0) {
            if (c < 0x80)
                continue;
            s = after_lead(c);
            if (s == UINT32_MAX)
                return -1;
            continue;
        }
        if (c < ((s >> 8) & 0xFF) || c > (s & 0xFF))
            return -1;
        uint32_t need = (s >> 16) - 1;
        s = need ? need << 16 | 0x80 << 8 | 0xBF : 0;
    }
    *state = s;
    return 0;
}

bool http_ws_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* ---- SHA-1 (FIPS 180-4 6.1) ---- */

static uint32_t rol(uint32_t x, int n)
{
    return x << n | x >> (32 - n);
}

static void sha1_block(uint32_t h[5], const uint8_t b[64])
{
    uint32_t w[80], a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4];

    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
               (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (bb & c) | (~bb & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = bb ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (bb & c) | (bb & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = bb ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(bb, 30);
        bb = a;
        a = t;
    }
    h[0] += a;
    h[1] += bb;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void http_ws_sha1(const void *p, size_t n, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    const uint8_t *in = p;
    uint8_t last[128] = {0};
    size_t full = n / 64 * 64, rest = n - full;

    for (size_t i = 0; i < full; i += 64)
        sha1_block(h, in + i);
    memcpy(last, in + full, rest);
    last[rest] = 0x80;
    size_t total = rest + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++)
        last[total - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha1_block(h, last);
    if (total == 128)
        sha1_block(h, last + 64);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

/* ---- base64 (RFC 4648 4) ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(const uint8_t *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v =
            (uint32_t)p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = '\0';
}

/* Whether key is the canonical base64 of 16 bytes (RFC 6455 4.1 item 7): 22 symbols, the last
 * holding only 2 bits of data, then "==". */
static bool key_is_16_bytes(const char *key, size_t len)
{
    if (len != 24 || key[22] != '=' || key[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++) {
        const char *at = memchr(b64, key[i], 64);
        if (!at || !key[i])
            return false;
        if (i == 21 && ((at - b64) & 15))
            return false;
    }
    return true;
}

int http_ws_accept_key(const char *key, size_t len, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char text[24 + sizeof(guid)];
    uint8_t digest[20];

    if (!key_is_16_bytes(key, len))
        return -1;
    memcpy(text, key, 24);
    memcpy(text + 24, guid, sizeof(guid) - 1);
    http_ws_sha1(text, 24 + sizeof(guid) - 1, digest);
    base64(digest, 20, out);
    return 0;
}
