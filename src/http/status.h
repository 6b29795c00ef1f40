/* http/status.h: the status codes crest sends and their reason phrases, as one X-macro table. */
#ifndef CREST_HTTP_STATUS_H
#define CREST_HTTP_STATUS_H

#include <stdint.h>

#define HTTP_STATUS_MAP(X)                    \
    X(100, "Continue")                        \
    X(101, "Switching Protocols")             \
    X(200, "OK")                              \
    X(201, "Created")                         \
    X(202, "Accepted")                        \
    X(204, "No Content")                      \
    X(206, "Partial Content")                 \
    X(301, "Moved Permanently")               \
    X(302, "Found")                           \
    X(304, "Not Modified")                    \
    X(307, "Temporary Redirect")              \
    X(308, "Permanent Redirect")              \
    X(400, "Bad Request")                     \
    X(401, "Unauthorized")                    \
    X(403, "Forbidden")                       \
    X(404, "Not Found")                       \
    X(405, "Method Not Allowed")              \
    X(408, "Request Timeout")                 \
    X(409, "Conflict")                        \
    X(412, "Precondition Failed")             \
    X(411, "Length Required")                 \
    X(413, "Content Too Large")               \
    X(414, "URI Too Long")                    \
    X(415, "Unsupported Media Type")          \
    X(416, "Range Not Satisfiable")           \
    X(417, "Expectation Failed")              \
    X(422, "Unprocessable Content")           \
    X(429, "Too Many Requests")               \
    X(431, "Request Header Fields Too Large") \
    X(500, "Internal Server Error")           \
    X(501, "Not Implemented")                 \
    X(502, "Bad Gateway")                     \
    X(503, "Service Unavailable")             \
    X(504, "Gateway Timeout")                 \
    X(505, "HTTP Version Not Supported")

/* "Not Found" for 404; a generic phrase by class for codes outside the table ("Client Error"). */
const char *http_status_reason(unsigned status);

/* The whole status line, "HTTP/1.1 404 Not Found\r\n", into out (64 bytes); returns its length. */
uint32_t http_status_line(unsigned status, char *out);

/* Whether a response with this status carries no body (1xx, 204, 304: RFC 9110 6.4.1). */
static inline int http_status_has_no_body(unsigned status)
{
    return status < 200 || status == 204 || status == 304;
}

#endif
