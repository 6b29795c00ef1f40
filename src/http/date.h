/* http/date.h: the Date header (RFC 9110 6.6.1, IMF-fixdate), rendered at most once a second per
 * worker rather than once per response. */
#ifndef CREST_HTTP_DATE_H
#define CREST_HTTP_DATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum { HTTP_DATE_LEN = 29 }; /* "Sun, 06 Nov 1994 08:49:37 GMT" */

struct http_date {
    time_t second; /* the second `text` renders */
    char text[HTTP_DATE_LEN + 1];
};

/* Re-renders when the wall-clock second changed. */
void http_date_update(struct http_date *d, time_t now);

/* Parses an HTTP-date in any of its three formats (IMF-fixdate, RFC 850, asctime), the whole of
 * text[0..len). 0, or -EINVAL (a recipient then ignores the field). */
int http_date_parse(const char *text, size_t len, time_t *out);

#endif
