/* http/ws.h: WebSockets (RFC 6455) on a tunnel. The pure parts (frame header parser and encoder,
 * UTF-8 validator, close codes, the handshake's accept key) take bytes and nothing else, so the
 * unit tests and the fuzzer need no socket; http/ws.c runs them on a connection. */
#ifndef CREST_HTTP_WS_H
#define CREST_HTTP_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_ws_opcode {
    HTTP_WS_CONT = 0x0,
    HTTP_WS_TEXT = 0x1,
    HTTP_WS_BINARY = 0x2,
    HTTP_WS_CLOSE = 0x8,
    HTTP_WS_PING = 0x9,
    HTTP_WS_PONG = 0xA,
};

/* RFC 6455 7.4.1 close codes crest sends. */
enum http_ws_close {
    HTTP_WS_NORMAL = 1000,
    HTTP_WS_GOING_AWAY = 1001,
    HTTP_WS_PROTOCOL_ERROR = 1002,
    HTTP_WS_NO_STATUS = 1005, /* reported, never sent: the close frame had no code */
    HTTP_WS_ABNORMAL = 1006,  /* reported, never sent: the connection ended without a close */
    HTTP_WS_INVALID_DATA = 1007,
    HTTP_WS_TOO_BIG = 1009,
    HTTP_WS_INTERNAL = 1011,
};

struct http_ws_frame {
    bool fin;
    uint8_t opcode;
    uint8_t mask[4];
    uint32_t head_len; /* bytes before the payload */
    uint64_t len;      /* payload bytes */
};

/* Parses the frame header at buf (a client's frame: masked). > 0: the header length, and the
 * whole payload is in buf too; 0: more bytes are needed (once the header is whole, its checks are
 * done: a frame too large is refused before its payload arrives); < 0: -close code: -1002 (RSV
 * bits, reserved opcode, unmasked, a control frame fragmented or over 125 bytes, a length with
 * its top bit set), -1009 (payload over max_payload). */
int http_ws_frame_parse(const uint8_t *buf, size_t n, uint64_t max_payload,
                        struct http_ws_frame *f);
/* XORs p with the mask, from offset `at` of the payload. */
void http_ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t at);
/* Writes a server frame's header (unmasked) to out: its length, 2 to 10. */
size_t http_ws_frame_head(uint8_t out[10], bool fin, uint8_t opcode, uint64_t len);

/* UTF-8 validation across pieces (RFC 3629: no overlong forms, surrogates or values past
 * U+10FFFF). state starts at 0; 0 after a piece means it ended on a character boundary. Returns
 * 0, or -1 at the first invalid byte (the state is then meaningless). */
int http_ws_utf8(uint32_t *state, const uint8_t *p, size_t n);

/* Whether code may be sent in a close frame (RFC 6455 7.4: 1000-1003, 1007-1014, 3000-4999). */
bool http_ws_close_code_valid(unsigned code);

/* Sec-WebSocket-Accept for a key (RFC 6455 4.2.2): base64(SHA-1(key + GUID)), 28 chars + NUL.
 * -1 when key is not the base64 of 16 bytes. */
int http_ws_accept_key(const char *key, size_t len, char out[29]);

/* SHA-1 (FIPS 180-4) of p: only the handshake uses it, where its weakness does not matter. */
void http_ws_sha1(const void *p, size_t n, uint8_t out[20]);

#endif
