/* http/parse.h: the HTTP/1.1 request-head parser (RFC 9112). Incremental and zero-copy: it takes
 * (state, bytes) and nothing else, records offsets into the caller's buffer, and resumes where the
 * last call stopped, so a request split at any byte parses the same. The caller owns all memory,
 * the header array included (picohttpparser's contract). Offsets are relative to the first byte of
 * the request, so the caller may move the bytes between calls. */
#ifndef CREST_HTTP_PARSE_H
#define CREST_HTTP_PARSE_H

#include <stdbool.h>
#include <stdint.h>

enum http_parse_status {
    HTTP_PARSE_DONE,  /* the head is complete: see head_len and the results below */
    HTTP_PARSE_AGAIN, /* need more bytes; call again with the same buffer, grown */
    HTTP_PARSE_ERROR, /* answer `status` and close the connection */
};

struct http_header {
    uint32_t name_off;
    uint32_t name_len;
    uint32_t value_off; /* leading and trailing whitespace already trimmed */
    uint32_t value_len;
};

struct http_parser {
    /* limits, set by http_parser_init */
    struct http_header *headers;
    uint32_t max_headers;
    uint32_t max_head_bytes;

    /* resumable state: private */
    uint8_t state;
    uint32_t pos;  /* next byte to examine */
    uint32_t mark; /* start of the token being read */
    uint8_t flags; /* framing facts gathered from the fields */

    /* results, valid on HTTP_PARSE_DONE (status and error also on HTTP_PARSE_ERROR) */
    uint16_t status;       /* on error: 400, 414, 431, 501 or 505 */
    const char *error;     /* on error: a short reason, for the response detail and tests */
    uint8_t method;        /* enum crest_method; CREST_METHOD_UNKNOWN for other tokens (→ 501) */
    uint8_t version_minor; /* HTTP/1.<minor>: 0 or 1 */
    uint32_t method_len;   /* the method token starts at offset skip */
    uint32_t skip;         /* empty lines before the request line (RFC 9112 2.2 allows them) */
    uint32_t target_off;
    uint32_t target_len;
    uint32_t head_len; /* bytes of the head, final CRLF included */
    uint32_t n_headers;
    int32_t host;            /* index of the Host header, -1 when absent */
    uint64_t content_length; /* valid when has_content_length */
    bool has_content_length;
    bool chunked;    /* Transfer-Encoding: chunked */
    bool keep_alive; /* by version and the Connection header */
    bool expect_continue;
};

/* headers: an array of max_headers entries that lives as long as the parser. */
void http_parser_init(struct http_parser *p, struct http_header *headers, uint32_t max_headers,
                      uint32_t max_head_bytes);
/* Forgets the current request; limits and the header array stay. */
void http_parser_reset(struct http_parser *p);

/* Parses the head of the request that starts at buf[0]; len is every byte available so far. */
enum http_parse_status http_parse_head(struct http_parser *p, const char *buf, uint32_t len);

/* Case-insensitive equality of a header name with a lower-case literal. */
bool http_name_is(const char *name, uint32_t len, const char *lower);
/* Whether c is a tchar (RFC 9110 5.6.2). */
bool http_is_tchar(unsigned char c);

#endif
