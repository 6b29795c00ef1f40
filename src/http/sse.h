/* http/sse.h: the text/event-stream encoder (WHATWG HTML 9.2.5), pure so that tests need no
 * socket; http/sse.c runs event streams on a tunnel. */
#ifndef CREST_HTTP_SSE_H
#define CREST_HTTP_SSE_H

#include "crest.h"

#include <stddef.h>

/* Encodes ev into out (when not NULL) and returns its length; with chunked, as one chunk
 * (RFC 9112 7.1), *front and *back then say how many framing bytes surround the event.
 * -EINVAL when event or id hold CR, LF or NUL (nothing is written). Call with out NULL for the
 * length, then with a buffer that large. */
long http_sse_encode(const struct crest_sse_event *ev, char *out, bool chunked, size_t *front,
                     size_t *back);

#endif
