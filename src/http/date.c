/* http/date.c: HTTP-date (RFC 9110 5.6.7) both ways: rendered once a second for the Date header
 * (and for Last-Modified), parsed from conditional requests in all three formats a recipient must
 * accept. */
#include "http/date.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void http_date_update(struct http_date *d, time_t now)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    char *t = d->text;

    if (now == d->second && t[0])
        return;
    d->second = now;
    gmtime_r(&now, &tm);
    /* by hand: strftime's %a/%b follow the locale, the RFC wants English */
    memcpy(t, days[tm.tm_wday], 3);
    t[3] = ',';
    t[4] = ' ';
    t[5] = (char)('0' + tm.tm_mday / 10);
    t[6] = (char)('0' + tm.tm_mday % 10);
    t[7] = ' ';
    memcpy(t + 8, months[tm.tm_mon], 3);
    t[11] = ' ';
    int year = tm.tm_year + 1900;
    t[12] = (char)('0' + year / 1000 % 10);
    t[13] = (char)('0' + year / 100 % 10);
    t[14] = (char)('0' + year / 10 % 10);
    t[15] = (char)('0' + year % 10);
    t[16] = ' ';
    t[17] = (char)('0' + tm.tm_hour / 10);
    t[18] = (char)('0' + tm.tm_hour % 10);
    t[19] = ':';
    t[20] = (char)('0' + tm.tm_min / 10);
    t[21] = (char)('0' + tm.tm_min % 10);
    t[22] = ':';
    t[23] = (char)('0' + tm.tm_sec / 10);
    t[24] = (char)('0' + tm.tm_sec % 10);
    memcpy(t + 25, " GMT", 5);
}

static int month_of(const char *m)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (memcmp(months + 3 * i, m, 3) == 0)
            return i;
    return -1;
}

int http_date_parse(const char *text, size_t len, time_t *out)
{
    char buf[64], wday[16], mon[4] = {0};
    int day, year, h, m, s, n = 0;
    struct tm tm = {0};

    if (len == 0 || len >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, text, len);
    buf[len] = '\0';
    /* IMF-fixdate, then obsolete RFC 850, then asctime (RFC 9110 5.6.7) */
    if (sscanf(buf, "%3s, %2d %3s %4d %2d:%2d:%2d GMT%n", wday, &day, mon, &year, &h, &m, &s, &n) ==
            7 &&
        (size_t)n == len) {
    } else if (sscanf(buf, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d GMT%n", wday, &day, mon, &year, &h,
                      &m, &s, &n) == 7 &&
               (size_t)n == len) {
        year += year < 70 ? 2000 : 1900; /* RFC 9110: two digits 50 years ahead are the past */
    } else if (sscanf(buf, "%3s %3s %2d %2d:%2d:%2d %4d%n", wday, mon, &day, &h, &m, &s, &year,
                      &n) == 7 &&
               (size_t)n == len) {
    } else {
        return -EINVAL;
    }
    tm.tm_mon = month_of(mon);
    if (tm.tm_mon < 0 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60 || year < 1900)
        return -EINVAL;
    tm.tm_mday = day;
    tm.tm_year = year - 1900;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = s;
    *out = timegm(&tm);
    return 0;
}
