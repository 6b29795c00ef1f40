/* app/percent.c */
#include "app/percent.h"

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

bool app_percent_needed(const char *in, size_t n, bool plus_is_space)
{
    return memchr(in, '%', n) || (plus_is_space && memchr(in, '+', n));
}

long app_percent_decode(const char *in, size_t n, bool plus_is_space, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hex_value((unsigned char)in[i + 1]), lo = hex_value((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = plus_is_space && c == '+' ? ' ' : c;
        }
    }
    return (long)o;
}
