/* valid/format.c: the string formats a field may require (enum crest_format), each answering
 * with the detail pydantic's own checker gives in its message: email-validator's reasons for
 * EmailStr, the uuid crate's for UUID, speedate's for date and datetime, the url crate's for
 * AnyUrl. The checks are the grammar's, not a resolver's (no DNS, no deliverability). A detail
 * that carries the input (a character, a length) is formatted into a per-thread buffer that lives
 * until the next call, which is how the caller uses it: once, at once. */
#include "valid/valid.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char detail_buf[160];

static bool fail(const char **type, const char *t, const char **detail, const char *d)
{
    *type = t;
    *detail = d;
    return false;
}

/* ---- email (RFC 5322's dot-atom, as email-validator takes it) ---- */

static bool atext(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           strchr("!#$%&'*+-/=?^_`{|}~.", ch) || ch >= 0x80;
}

static bool label_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch >= 0x80;
}

static bool email(const char *s, size_t len, const char **type, const char **detail)
{
    const char *at = NULL;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '@')
            at = s + i; /* the last @ splits, as email-validator does */
    if (!at)
        return fail(type, "value_error", detail, "An email address must have an @-sign.");
    size_t local = (size_t)(at - s), domain = len - local - 1;
    if (local == 0)
        return fail(type, "value_error", detail, "There must be something before the @-sign.");
    if (domain == 0)
        return fail(type, "value_error", detail, "There must be something after the @-sign.");
    for (size_t i = 0; i < local; i++)
        if (!atext((unsigned char)s[i]))
            return fail(type, "value_error", detail,
                        "The email address contains invalid characters before the @-sign.");
    if (s[0] == '.' || s[local - 1] == '.' || memmem(s, local, "..", 2))
        return fail(type, "value_error", detail,
                    "An email address cannot have a period immediately before the @-sign.");
    const char *d = at + 1;
    for (size_t i = 0; i < domain; i++)
        if (!label_char((unsigned char)d[i]))
            return fail(type, "value_error", detail,
                        "The part after the @-sign contains invalid characters.");
    if (!memchr(d, '.', domain) || d[0] == '.' || d[domain - 1] == '.' ||
        memmem(d, domain, "..", 2))
        return fail(type, "value_error", detail,
                    "The part after the @-sign is not valid. It should have a period.");
    return true;
}

/* ---- UUID (the uuid crate's parse_str) ---- */

static bool hex(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f');
}

static bool uuid(const char *s, size_t len, const char **type, const char **detail)
{
    static const size_t groups[5] = {8, 4, 4, 4, 12};
    *type = "uuid_parsing";
    if (len >= 9 && memcmp(s, "urn:uuid:", 9) == 0)
        s += 9, len -= 9;
    else if (len >= 2 && s[0] == '{' && s[len - 1] == '}')
        s++, len -= 2;
    for (size_t i = 0; i < len; i++) {
        if (!hex((unsigned char)s[i]) && s[i] != '-') {
            snprintf(detail_buf, sizeof(detail_buf),
                     "invalid character: expected an optional prefix of `urn:uuid:` followed by "
                     "[0-9a-fA-F-], found `%c` at %zu",
                     s[i], i + 1);
            return fail(type, "uuid_parsing", detail, detail_buf);
        }
    }
    if (!memchr(s, '-', len)) {
        if (len == 32)
            return true;
        snprintf(detail_buf, sizeof(detail_buf),
                 "invalid length: expected length 32 for simple format, found %zu", len);
        return fail(type, "uuid_parsing", detail, detail_buf);
    }
    size_t g = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '-')
            continue;
        if (g < 5 && i - start != groups[g]) {
            snprintf(detail_buf, sizeof(detail_buf),
                     "invalid group length in group %zu: expected %zu, found %zu", g, groups[g],
                     i - start);
            return fail(type, "uuid_parsing", detail, detail_buf);
        }
        g++;
        start = i + 1;
    }
    if (g == 5)
        return true;
    snprintf(detail_buf, sizeof(detail_buf), "invalid group count: expected 5, found %zu", g);
    return fail(type, "uuid_parsing", detail, detail_buf);
}

/* ---- date and date-time (speedate's errors) ---- */

static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int days_in(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return days[month - 1] + (month == 2 && leap);
}

/* YYYY-MM-DD at s (at least 10 bytes): NULL, or speedate's error. */
static const char *date_part(const char *s)
{
    int y = digits(s, 4), m, d;
    if (y < 0)
        return "invalid character in year";
    if (s[4] != '-' || s[7] != '-')
        return "invalid date separator, expected `-`";
    if ((m = digits(s + 5, 2)) < 0)
        return "invalid character in month";
    if ((d = digits(s + 8, 2)) < 0)
        return "invalid character in day";
    if (m < 1 || m > 12)
        return "month value is outside expected range of 1-12";
    if (d < 1 || d > days_in(y, m))
        return "day value is outside expected range";
    return NULL;
}

static bool date(const char *s, size_t len, const char **type, const char **detail)
{
    *type = "date_parsing";
    if (len < 10)
        return fail(type, "date_parsing", detail, "input is too short");
    const char *why = date_part(s);
    if (why)
        return fail(type, "date_parsing", detail, why);
    if (len > 10)
        return fail(type, "date_parsing", detail,
                    "unexpected extra characters at the end of the input");
    return true;
}

/* HH:MM:SS[.frac] then Z or ±HH:MM; NULL, or speedate's error. */
static const char *time_part(const char *s, size_t len)
{
    if (len < 8)
        return "input is too short";
    int h = digits(s, 2), mi = digits(s + 3, 2), se = digits(s + 6, 2);
    if (h < 0)
        return "invalid character in hour";
    if (s[2] != ':' || s[5] != ':')
        return "invalid time separator, expected `:`";
    if (mi < 0)
        return "invalid character in minute";
    if (se < 0)
        return "invalid character in second";
    if (h > 23)
        return "hour value is outside expected range of 0-23";
    if (mi > 59)
        return "minute value is outside expected range of 0-59";
    if (se > 59)
        return "second value is outside expected range of 0-59";
    size_t i = 8;
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return "invalid character in second fraction";
    }
    if (i == len)
        return NULL; /* a naive datetime, which pydantic's datetime takes */
    if (s[i] == 'Z' || s[i] == 'z')
        return i + 1 == len ? NULL : "unexpected extra characters at the end of the input";
    if (s[i] != '+' && s[i] != '-')
        return "invalid timezone sign";
    if (len - i != 6 || digits(s + i + 1, 2) < 0 || s[i + 3] != ':' || digits(s + i + 4, 2) < 0)
        return "invalid timezone hour or minute";
    return digits(s + i + 1, 2) > 23 || digits(s + i + 4, 2) > 59
               ? "timezone offset must be less than 24 hours"
               : NULL;
}

static bool date_time(const char *s, size_t len, const char **type, const char **detail)
{
    *type = "datetime_parsing";
    if (len < 10)
        return fail(type, "datetime_parsing", detail, "input is too short");
    const char *why = date_part(s);
    if (!why && len < 11)
        why = "input is too short";
    if (!why && s[10] != 'T' && s[10] != 't' && s[10] != ' ' && s[10] != '_')
        why = "invalid datetime separator, expected `T`, `t`, `_` or space";
    if (!why)
        why = time_part(s + 11, len - 11);
    return why ? fail(type, "datetime_parsing", detail, why) : true;
}

/* ---- URL (the url crate's errors, for an absolute URL with an authority) ---- */

static bool uri(const char *s, size_t len, const char **type, const char **detail)
{
    size_t i = 0;
    *type = "url_parsing";
    while (i < len && (((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') ||
                       (i > 0 && ((s[i] >= '0' && s[i] <= '9') || strchr("+-.", s[i])))))
        i++;
    if (i == 0 || i == len || s[i] != ':')
        return fail(type, "url_parsing", detail, "relative URL without a base");
    if (len - i < 3 || s[i + 1] != '/' || s[i + 2] != '/')
        return fail(type, "url_parsing", detail, "empty host");
    size_t h = i + 3, e = h;
    while (e < len && !strchr("/?#", s[e]))
        e++;
    const char *at = memchr(s + h, '@', e - h); /* userinfo@host */
    if (at)
        h = (size_t)(at - s) + 1;
    size_t colon = e;
    for (size_t k = h; k < e; k++) {
        if (s[k] == ':' && s[h] != '[')
            colon = k;
        if ((unsigned char)s[k] <= ' ' || strchr("<>\\^`{|}%\"", s[k]))
            return fail(type, "url_parsing", detail, "invalid domain character");
    }
    if (colon == h)
        return fail(type, "url_parsing", detail, "empty host");
    if (colon < e) {
        int port = (e - colon - 1 <= 5) ? digits(s + colon + 1, e - colon - 1) : -1;
        if (port < 0 || port > 65535)
            return fail(type, "url_parsing", detail, "invalid port number");
    }
    for (size_t k = e; k < len; k++)
        if ((unsigned char)s[k] <= ' ')
            return fail(type, "url_parsing", detail, "invalid character in the URL");
    return true;
}

/* ---- IP addresses: inet_pton's grammar, which refuses leading zeros as Python's does ---- */

static bool ip(int af, const char *s, size_t len)
{
    char copy[INET6_ADDRSTRLEN + 1];
    unsigned char addr[16];
    if (len >= sizeof(copy) || memchr(s, '\0', len))
        return false;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return inet_pton(af, copy, addr) == 1;
}

bool valid_format_check(uint8_t format, const char *s, size_t len, const char **type,
                        const char **detail)
{
    switch (format) {
    case CREST_FORMAT_EMAIL:
        return email(s, len, type, detail);
    case CREST_FORMAT_UUID:
        return uuid(s, len, type, detail);
    case CREST_FORMAT_DATE:
        return date(s, len, type, detail);
    case CREST_FORMAT_DATE_TIME:
        return date_time(s, len, type, detail);
    case CREST_FORMAT_URI:
        return uri(s, len, type, detail);
    case CREST_FORMAT_IPV4:
        *detail = NULL;
        return ip(AF_INET, s, len) || fail(type, "ip_v4_address", detail, NULL);
    case CREST_FORMAT_IPV6:
        *detail = NULL;
        return ip(AF_INET6, s, len) || fail(type, "ip_v6_address", detail, NULL);
    default:
        return true;
    }
}
