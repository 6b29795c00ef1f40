/* http/date.c */
#include "http/date.h"

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
