/* http/percent.h: percent-decoding (RFC 3986 2.1) of path segments and form-encoded query text. */
#ifndef CREST_HTTP_PERCENT_H
#define CREST_HTTP_PERCENT_H

#include <stdbool.h>
#include <stddef.h>

/* Decodes in[0..n) into out (room for n bytes). plus_is_space: application/x-www-form-urlencoded.
 * Returns the decoded length, or -1 for a malformed escape or a decoded NUL (which no C string
 * consumer downstream could hold faithfully). */
long http_percent_decode(const char *in, size_t n, bool plus_is_space, char *out);

/* Like http_percent_decode, but a malformed escape (or %00) is copied as it was sent, the way
 * Python's urllib unquote reads it. Never fails. */
long http_percent_decode_lenient(const char *in, size_t n, bool plus_is_space, char *out);

/* Whether in[0..n) needs decoding at all (holds '%', or '+' when plus_is_space). */
bool http_percent_needed(const char *in, size_t n, bool plus_is_space);

#endif
