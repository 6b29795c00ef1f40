/* app/access_log.h: --access-log: one line per response on stdout, as text or JSON. */
#ifndef CREST_APP_ACCESS_LOG_H
#define CREST_APP_ACCESS_LOG_H

#include "http/request.h"

#include <stdint.h>

enum app_access_log_mode {
    APP_ACCESS_LOG_OFF,
    APP_ACCESS_LOG_TEXT, /* [access] GET /items/1 200 0.42ms 27B */
    APP_ACCESS_LOG_JSON, /* {"ts":…,"method":"GET","path":"/items/1","status":200,…} */
};

/* Set by crest_serve before the workers start and read-only while they run (reset when it
 * returns), so the check on the request path is one load of a flag nobody writes. */
extern uint8_t app_access_log_mode;

void app_access_log_set(enum app_access_log_mode mode);

/* Writes the line of a completed response (status and body as built) with one write(2). */
void app_access_log_write(const struct http_request *req, uint64_t duration_us);

#endif
