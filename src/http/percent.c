/* app/percent.c */
#include "http/percent.h"

#include <string.h>

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool http_percent_needed(const char *in, size_t n, bool plus_is_space)
{
    return memchr(in, '%', n) || (plus_is_space && memchr(in, '+', n));
}

static long decode(const char *in, size_t n, bool plus_is_space, bool lenient, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            int hi = i + 2 < n ? hex_value((unsigned char)in[i + 1]) : -1;
            int lo = i + 2 < n ? hex_value((unsigned char)in[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                if (!lenient)
                    return -1;
                out[o++] = c;
                continue;
            }
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = plus_is_space && c == '+' ? ' ' : c;
        }
    }
    return (long)o;
}

long http_percent_decode(const char *in, size_t n, bool plus_is_space, char *out)
{
    return decode(in, n, plus_is_space, false, out);
}

long http_percent_decode_lenient(const char *in, size_t n, bool plus_is_space, char *out)
{
    return decode(in, n, plus_is_space, true, out);
}
