/* http/date.h: the Date header (RFC 9110 6.6.1, IMF-fixdate), rendered at most once a second per
 * worker rather than once per response. */
#ifndef CREST_HTTP_DATE_H
#define CREST_HTTP_DATE_H

#include <stdint.h>
#include <time.h>

enum { HTTP_DATE_LEN = 29 }; /* "Sun, 06 Nov 1994 08:49:37 GMT" */

struct http_date {
    time_t second; /* the second `text` renders */
    char text[HTTP_DATE_LEN + 1];
};

/* Re-renders when the wall-clock second changed. */
void http_date_update(struct http_date *d, time_t now);

#endif
