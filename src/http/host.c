/* http/host.c: whether a Host value follows RFC 3986's authority grammar without userinfo
 * (RFC 9110 7.2). reg-name takes IPv4address as well (both are digits and dots), so only the
 * bracketed IP-literal needs a parser of its own. Zone identifiers (RFC 6874) are not part of the
 * grammar RFC 9110 cites and are refused. */
#include "http/host.h"

#include <string.h>

enum {
    C_REG = 1u << 0, /* unreserved / sub-delims: a reg-name byte besides pct-encoded */
    C_HEX = 1u << 1,
};

/* unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
 * sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "=" */
static const uint8_t host_class[256] = {
    ['-'] = C_REG,         ['.'] = C_REG,         ['_'] = C_REG,         ['~'] = C_REG,
    ['!'] = C_REG,         ['$'] = C_REG,         ['&'] = C_REG,         ['\''] = C_REG,
    ['('] = C_REG,         [')'] = C_REG,         ['*'] = C_REG,         ['+'] = C_REG,
    [','] = C_REG,         [';'] = C_REG,         ['='] = C_REG,         ['0'] = C_REG | C_HEX,
    ['1'] = C_REG | C_HEX, ['2'] = C_REG | C_HEX, ['3'] = C_REG | C_HEX, ['4'] = C_REG | C_HEX,
    ['5'] = C_REG | C_HEX, ['6'] = C_REG | C_HEX, ['7'] = C_REG | C_HEX, ['8'] = C_REG | C_HEX,
    ['9'] = C_REG | C_HEX, ['A'] = C_REG | C_HEX, ['B'] = C_REG | C_HEX, ['C'] = C_REG | C_HEX,
    ['D'] = C_REG | C_HEX, ['E'] = C_REG | C_HEX, ['F'] = C_REG | C_HEX, ['G'] = C_REG,
    ['H'] = C_REG,         ['I'] = C_REG,         ['J'] = C_REG,         ['K'] = C_REG,
    ['L'] = C_REG,         ['M'] = C_REG,         ['N'] = C_REG,         ['O'] = C_REG,
    ['P'] = C_REG,         ['Q'] = C_REG,         ['R'] = C_REG,         ['S'] = C_REG,
    ['T'] = C_REG,         ['U'] = C_REG,         ['V'] = C_REG,         ['W'] = C_REG,
    ['X'] = C_REG,         ['Y'] = C_REG,         ['Z'] = C_REG,         ['a'] = C_REG | C_HEX,
    ['b'] = C_REG | C_HEX, ['c'] = C_REG | C_HEX, ['d'] = C_REG | C_HEX, ['e'] = C_REG | C_HEX,
    ['f'] = C_REG | C_HEX, ['g'] = C_REG,         ['h'] = C_REG,         ['i'] = C_REG,
    ['j'] = C_REG,         ['k'] = C_REG,         ['l'] = C_REG,         ['m'] = C_REG,
    ['n'] = C_REG,         ['o'] = C_REG,         ['p'] = C_REG,         ['q'] = C_REG,
    ['r'] = C_REG,         ['s'] = C_REG,         ['t'] = C_REG,         ['u'] = C_REG,
    ['v'] = C_REG,         ['w'] = C_REG,         ['x'] = C_REG,         ['y'] = C_REG,
    ['z'] = C_REG,
};

static bool is_hex(unsigned char c)
{
    return host_class[c] & C_HEX;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* dec-octet: "0" to "255" without a leading zero (RFC 3986 3.2.2). Returns its length, or 0. */
static uint32_t dec_octet(const char *s, uint32_t len)
{
    uint32_t n = 0, v = 0;
    while (n < len && n < 3 && is_digit((unsigned char)s[n]))
        v = v * 10 + (uint32_t)(s[n++] - '0');
    if (n == 0 || v > 255 || (n > 1 && s[0] == '0'))
        return 0;
    return n;
}

/* IPv4address = dec-octet "." dec-octet "." dec-octet "." dec-octet, filling s[0..len) exactly. */
static bool ipv4_is_valid(const char *s, uint32_t len)
{
    uint32_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= len || s[i] != '.')
                return false;
            i++;
        }
        uint32_t n = dec_octet(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return i == len;
}

/* IPv6address (RFC 3986 3.2.2): eight 16-bit pieces of 1 to 4 hex digits, the last two of which
 * may be an IPv4address, with at most one "::" standing for one or more zero pieces. */
static bool ipv6_is_valid(const char *s, uint32_t len)
{
    uint32_t i = 0, pieces = 0;
    bool elided = false;

    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        elided = true;
        i = 2;
    } else if (len > 0 && s[0] == ':') {
        return false; /* a lone leading colon */
    }
    while (i < len) {
        uint32_t start = i;
        while (i < len && i - start < 5 && is_hex((unsigned char)s[i]))
            i++;
        if (i < len && s[i] == '.') { /* ls32 as an IPv4address: two pieces, and the end */
            if (!ipv4_is_valid(s + start, len - start))
                return false;
            pieces += 2;
            i = len;
            break;
        }
        if (i == start || i - start > 4)
            return false;
        pieces++;
        if (i == len)
            break;
        if (s[i] != ':' || i + 1 == len)
            return false; /* a trailing single colon */
        i++;
        if (s[i] == ':') {
            if (elided)
                return false; /* "::" twice */
            elided = true;
            i++;
        }
    }
    return elided ? pieces <= 7 : pieces == 8;
}

/* IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
static bool ipvfuture_is_valid(const char *s, uint32_t len)
{
    uint32_t i = 1;
    if (len < 4 || (s[0] | 0x20) != 'v')
        return false;
    while (i < len && is_hex((unsigned char)s[i]))
        i++;
    if (i == 1 || i + 1 >= len || s[i] != '.')
        return false;
    for (i++; i < len; i++)
        if (!(host_class[(unsigned char)s[i]] & C_REG) && s[i] != ':')
            return false;
    return true;
}

/* reg-name = *( unreserved / pct-encoded / sub-delims ); returns where it stops. */
static uint32_t reg_name_end(const char *v, uint32_t len)
{
    uint32_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)v[i];
        if (host_class[c] & C_REG) {
            i++;
        } else if (c == '%' && i + 2 < len && is_hex((unsigned char)v[i + 1]) &&
                   is_hex((unsigned char)v[i + 2])) {
            i += 3;
        } else {
            break;
        }
    }
    return i;
}

bool http_host_is_valid(const char *v, uint32_t len)
{
    uint32_t end;

    if (len > 0 && v[0] == '[') { /* IP-literal = "[" ( IPv6address / IPvFuture ) "]" */
        const char *close = memchr(v, ']', len);
        if (!close)
            return false;
        end = (uint32_t)(close - v);
        if (!ipv6_is_valid(v + 1, end - 1) && !ipvfuture_is_valid(v + 1, end - 1))
            return false;
        end++;
    } else {
        end = reg_name_end(v, len);
    }
    if (end == len)
        return true;
    if (v[end] != ':')
        return false;
    for (uint32_t i = end + 1; i < len; i++) /* port = *DIGIT */
        if (!is_digit((unsigned char)v[i]))
            return false;
    return true;
}
