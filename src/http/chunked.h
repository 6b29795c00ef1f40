/* http/chunked.h: the chunked transfer-coding decoder (RFC 9112 7.1): chunk sizes in hex,
 * extensions (validated, ignored), data, the last chunk and trailer fields (validated, discarded).
 * It decodes in place and keeps its state in a small struct the caller zeroes, so a body split at
 * any byte decodes the same, and needs no allocation (h2o's phr_decode_chunked contract). */
#ifndef CREST_HTTP_CHUNKED_H
#define CREST_HTTP_CHUNKED_H

#include <stdint.h>

enum http_chunked_status {
    HTTP_CHUNKED_DONE,  /* the message body ended (last chunk and trailers read) */
    HTTP_CHUNKED_AGAIN, /* all input consumed; more is needed */
    HTTP_CHUNKED_ERROR, /* malformed: answer 400 and close */
};

struct http_chunked {
    uint8_t state; /* private; zero means "expecting a chunk size" */
    uint8_t size_digits;
    uint64_t remaining;  /* data bytes left in the current chunk */
    uint32_t line_bytes; /* bytes of the current size/extension/trailer line */
    uint32_t trailer_bytes;
};

/* Decodes buf[0..*len). The data bytes found are moved to the front of buf and their count is
 * stored in *len; *consumed is how many input bytes were used (all of them on AGAIN; up to and
 * including the final CRLF on DONE, so buf + *consumed is the next pipelined request). A size line
 * with more than 16 hex digits, a bad digit, a bare CR or LF, a control character in an extension
 * or trailer, or a line or trailer section over 8 KiB is an error. */
enum http_chunked_status http_chunked_decode(struct http_chunked *c, char *buf, uint32_t *len,
                                             uint32_t *consumed);

#endif
