/* http/status.c */
#include "http/status.h"

#include <stdio.h>

const char *http_status_reason(unsigned status)
{
    switch (status) {
#define HTTP_STATUS_CASE(code, reason) \
    case code:                         \
        return reason;
        HTTP_STATUS_MAP(HTTP_STATUS_CASE)
#undef HTTP_STATUS_CASE
    default:
        break;
    }
    static const char *const by_class[] = {"Unknown",     "Informational", "Success",
                                           "Redirection", "Client Error",  "Server Error"};
    return status >= 100 && status < 600 ? by_class[status / 100] : by_class[0];
}

uint32_t http_status_line(unsigned status, char *out)
{
    int n = snprintf(out, 64, "HTTP/1.1 %03u %s\r\n", status % 1000, http_status_reason(status));
    return n < 0 ? 0 : (uint32_t)(n < 64 ? n : 63);
}
