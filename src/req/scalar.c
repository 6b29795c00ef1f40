/* app/scalar.c */
#include "req/req.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int req_scalar_int64(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    uint64_t v = 0, limit;

    if (len && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == len)
        return -EINVAL;
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (limit - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int req_scalar_double(const char *s, size_t len, double *out)
{
    char tmp[64];
    char *end;

    if (len == 0 || len >= sizeof(tmp))
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        /* decimal notation only: strtod would also take hex, "inf" and "nan" */
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
            return -EINVAL;
    }
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    errno = 0;
    double v = strtod(tmp, &end);
    if (end != tmp + len)
        return -EINVAL;
    if (errno == ERANGE && isinf(v))
        return -ERANGE;
    *out = v;
    return 0;
}

int req_scalar_bool(const char *s, size_t len, bool *out)
{
    static const char *const yes[] = {"1", "true", "t", "yes", "y", "on"};
    static const char *const no[] = {"0", "false", "f", "no", "n", "off"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strlen(yes[i]) == len && strncasecmp(s, yes[i], len) == 0) {
            *out = true;
            return 0;
        }
        if (strlen(no[i]) == len && strncasecmp(s, no[i], len) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}
