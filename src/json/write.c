/* json/write.c: the JSON writer behind crest_json_* (RFC 8259). It owns the grammar (commas,
 * colons and nesting, tracked in two bitmasks, one bit per open level), string escaping with UTF-8
 * repair, and number text (integers by hand, doubles as the shortest round-trip decimal). It
 * appends to a mem_buf it is bound to and never owns that buffer, except for writers made by
 * crest_json_new(). Errors are sticky: the first one (-ENOMEM or -EINVAL) stops all later writes,
 * so a handler can write a whole document and check once. */
#include "json/json.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static_assert(JSON_WRITE_MAX_DEPTH % 64 == 0, "one bit per level in uint64_t words");

void json_write_bind(struct crest_json *j, struct mem_buf *out, enum mem_tag tag)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
    j->tag = tag;
}

CREST_API struct crest_json *crest_json_new(void)
{
    struct crest_json *j = mem_alloc(MEM_JSON, sizeof(*j));
    if (j)
        json_write_bind(j, &j->own, MEM_JSON);
    return j;
}

CREST_API void crest_json_free(struct crest_json *j)
{
    if (!j)
        return;
    mem_buf_fini(&j->own, MEM_JSON);
    mem_free(MEM_JSON, j, sizeof(*j));
}

/* A NULL writer is what a failed crest_json_new() gives: it reads as out of memory, so callers
 * may write first and check once. */
CREST_API struct crest_str crest_json_text(const struct crest_json *j)
{
    struct crest_str s = {NULL, 0};
    if (j) {
        s.ptr = j->out->ptr ? j->out->ptr : "";
        s.len = j->out->len;
    }
    return s;
}

CREST_API int crest_json_error(const struct crest_json *j)
{
    return j ? j->err : -ENOMEM;
}

/* ------------------------------------------------------------------------------------------------
 * Output: every append goes through put(), which makes the first failure sticky. */

static void put(struct crest_json *j, const void *p, size_t n)
{
    if (j->err)
        return;
    j->err = mem_buf_append(j->out, j->tag, p, n);
}

static void put_byte(struct crest_json *j, char c)
{
    put(j, &c, 1);
}

/* Misuse is the caller's bug; stopping keeps the text a prefix of valid JSON instead of garbage. */
static bool misuse(struct crest_json *j)
{
    if (!j->err)
        j->err = -EINVAL;
    return false;
}

/* ------------------------------------------------------------------------------------------------
 * Grammar. Level d (1..depth) is described by bit d-1 of in_object and has_items; depth 0 is the
 * top level, which holds exactly one value. */

static bool level_test(const uint64_t *mask, const struct crest_json *j)
{
    uint32_t d = j->depth - 1;
    return (mask[d / 64] >> (d % 64)) & 1;
}

static void level_set(uint64_t *mask, const struct crest_json *j, bool on)
{
    uint32_t d = j->depth - 1;
    if (on)
        mask[d / 64] |= UINT64_C(1) << (d % 64);
    else
        mask[d / 64] &= ~(UINT64_C(1) << (d % 64));
}

/* Called before every value: checks that a value may come here and writes the comma it calls for
 * (an object's colon was written with its key). False when nothing may be written. */
static bool value_begin(struct crest_json *j)
{
    if (!j || j->err)
        return false;
    if (j->depth == 0)
        return j->done ? misuse(j) : true;
    if (level_test(j->in_object, j)) {
        if (!j->after_key)
            return misuse(j);
        j->after_key = false;
        return true;
    }
    if (level_test(j->has_items, j))
        put_byte(j, ',');
    level_set(j->has_items, j, true);
    return !j->err;
}

/* After a scalar, or after a container closes: a finished top-level value ends the text. */
static void value_end(struct crest_json *j)
{
    if (j->depth == 0)
        j->done = true;
}

static void container_begin(struct crest_json *j, bool object)
{
    /* the depth check comes first, so a refused level leaves no comma behind */
    if (j && !j->err && j->depth == JSON_WRITE_MAX_DEPTH) {
        misuse(j);
        return;
    }
    if (!value_begin(j))
        return;
    j->depth++;
    level_set(j->in_object, j, object);
    level_set(j->has_items, j, false);
    put_byte(j, object ? '{' : '[');
}

static void container_end(struct crest_json *j, bool object)
{
    if (!j || j->err)
        return;
    /* end without begin, a mismatched bracket, or a key still waiting for its value */
    if (j->depth == 0 || level_test(j->in_object, j) != object || j->after_key) {
        misuse(j);
        return;
    }
    put_byte(j, object ? '}' : ']');
    j->depth--;
    value_end(j);
}

CREST_API void crest_json_object_begin(struct crest_json *j)
{
    container_begin(j, true);
}

CREST_API void crest_json_object_end(struct crest_json *j)
{
    container_end(j, true);
}

CREST_API void crest_json_array_begin(struct crest_json *j)
{
    container_begin(j, false);
}

CREST_API void crest_json_array_end(struct crest_json *j)
{
    container_end(j, false);
}

/* ------------------------------------------------------------------------------------------------
 * Strings */

/* What each byte needs inside a JSON string: 0 copies as is, 'u' is \u00XX, 'U' starts a multibyte
 * sequence to validate, anything else is the letter of a short escape (RFC 8259 section 7). */
static const char escapes[256] = {
    [0x00 ... 0x07] = 'u', ['\b'] = 'b',  ['\t'] = 't',          ['\n'] = 'n',
    [0x0b] = 'u',          ['\f'] = 'f',  ['\r'] = 'r',          [0x0e ... 0x1f] = 'u',
    ['"'] = '"',           ['\\'] = '\\', [0x80 ... 0xff] = 'U',
};

/* Length of the well-formed UTF-8 sequence at s (Unicode 15, table 3-7), or minus the length of
 * its maximal subpart when ill-formed: the bytes that one U+FFFD replaces, as the Unicode
 * "substitution of maximal subparts" practice (section 3.9) says. The table's narrowed second-byte
 * ranges are what reject overlongs (E0, F0), surrogates (ED) and code points past U+10FFFF (F4). */
static int utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    int need;

    if (s[0] < 0x80)
        return 1;
    if (s[0] < 0xc2)
        return -1; /* a continuation byte, or C0/C1: always overlong */
    if (s[0] < 0xe0) {
        need = 2;
    } else if (s[0] < 0xf0) {
        need = 3;
        lo = s[0] == 0xe0 ? 0xa0 : 0x80;
        hi = s[0] == 0xed ? 0x9f : 0xbf;
    } else if (s[0] < 0xf5) {
        need = 4;
        lo = s[0] == 0xf0 ? 0x90 : 0x80;
        hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    } else {
        return -1;
    }
    for (int i = 1; i < need; i++) {
        if ((size_t)i >= n || s[i] < lo || s[i] > hi)
            return -i;
        lo = 0x80;
        hi = 0xbf;
    }
    return need;
}

static void put_escape(struct crest_json *j, unsigned char c, char kind)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\', kind, '0', '0', hex[c >> 4], hex[c & 15]};
    put(j, e, kind == 'u' ? 6 : 2);
}

/* Bytes that need no change (plain ASCII and well-formed multibyte sequences) are not copied one
 * by one: each run between two changes goes out in one memcpy. */
static void put_string(struct crest_json *j, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0; /* start of the bytes seen but not yet copied */
    size_t i = 0;

    put_byte(j, '"');
    while (i < n && !j->err) {
        char kind = escapes[p[i]];
        int len = 1;
        if (kind == 0 || (kind == 'U' && (len = utf8_seq(p + i, n - i)) > 0)) {
            i += (size_t)len;
            continue;
        }
        put(j, s + run, i - run);
        if (kind == 'U')
            put(j, "\xef\xbf\xbd", 3); /* U+FFFD REPLACEMENT CHARACTER */
        else
            put_escape(j, p[i], kind);
        i += (size_t)(len < 0 ? -len : len);
        run = i;
    }
    put(j, s + run, i - run);
    put_byte(j, '"');
}

CREST_API void crest_json_key_len(struct crest_json *j, const char *key, size_t len)
{
    if (!j || j->err)
        return;
    if (!key || j->depth == 0 || !level_test(j->in_object, j) || j->after_key) {
        misuse(j);
        return;
    }
    if (level_test(j->has_items, j))
        put_byte(j, ',');
    level_set(j->has_items, j, true);
    put_string(j, key, len);
    put_byte(j, ':');
    j->after_key = true;
}

void json_write_plain_key(struct crest_json *j, const char *key, size_t len)
{
    char buf[128];
    if (len > sizeof(buf) - 4 || !j || j->err || j->depth == 0 || !level_test(j->in_object, j) ||
        j->after_key) {
        crest_json_key_len(j, key, len); /* the general path, misuse included */
        return;
    }
    size_t n = 0;
    if (level_test(j->has_items, j))
        buf[n++] = ',';
    level_set(j->has_items, j, true);
    buf[n++] = '"';
    memcpy(buf + n, key, len);
    n += len;
    buf[n++] = '"';
    buf[n++] = ':';
    put(j, buf, n);
    j->after_key = true;
}

CREST_API void crest_json_key(struct crest_json *j, const char *key)
{
    crest_json_key_len(j, key, key ? strlen(key) : 0);
}

/* A NULL string is written as null: the natural JSON for an absent optional text. */
CREST_API void crest_json_string_len(struct crest_json *j, const char *s, size_t len)
{
    if (!s) {
        crest_json_null(j);
        return;
    }
    if (!value_begin(j))
        return;
    put_string(j, s, len);
    value_end(j);
}

CREST_API void crest_json_string(struct crest_json *j, const char *s)
{
    crest_json_string_len(j, s, s ? strlen(s) : 0);
}

/* ------------------------------------------------------------------------------------------------
 * Scalars */

/* Literal text that is a whole value (true, false, null, numbers). */
static void put_value(struct crest_json *j, const char *text, size_t n)
{
    if (!value_begin(j))
        return;
    put(j, text, n);
    value_end(j);
}

CREST_API void crest_json_bool(struct crest_json *j, bool v)
{
    if (v)
        put_value(j, "true", 4);
    else
        put_value(j, "false", 5);
}

CREST_API void crest_json_null(struct crest_json *j)
{
    put_value(j, "null", 4);
}

/* By hand rather than snprintf: no format parsing, no locale, and this runs for every id. */
CREST_API void crest_json_int(struct crest_json *j, int64_t v)
{
    char tmp[20]; /* "-9223372036854775808" */
    size_t i = sizeof(tmp);
    /* unsigned negation is defined for INT64_MIN, whose magnitude no int64_t holds */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    put_value(j, tmp + i, sizeof(tmp) - i);
}

CREST_API void crest_json_double(struct crest_json *j, double v)
{
    char text[32];

    if (!isfinite(v)) {
        crest_json_null(j); /* RFC 8259 section 6: NaN and Infinity are not permitted */
        return;
    }
    put_value(j, text, (size_t)json_write_format_double(v, text));
}

/* ------------------------------------------------------------------------------------------------
 * Doubles. The shortest decimal that reads back to v is found with the C library's correctly
 * rounded conversions, then laid out by hand the way Python's repr() does, so that JSON readers
 * in any language see a number and integral values keep their ".0". */

/* Whether the text snprintf wrote reads back as v, bit for bit (so -0.0 is not 0.0). */
static bool reads_back(const char *text, double v)
{
    double r = strtod(text, NULL);
    return memcmp(&r, &v, sizeof(v)) == 0;
}

/* Fills digits with the shortest significant digits of v (no trailing zeros; "0" for zero) and
 * returns their count; *exp10 is the power of ten of the first digit. Why 15, then 16, then 17
 * instead of every precision from 1: any decimal of at most DBL_DIG (15) digits survives a trip
 * through a normal double and back to 15 digits, so if some p <= 15 digits read back as v, the
 * 15-digit text is those p digits padded with zeros; stripping them gives the same answer as
 * trying 1..15 one by one, in one try. Subnormals hold fewer bits, so the promise does not cover
 * them (5e-324 would come out as 4.94065645841247e-324): they, and zero, try every precision.
 * 17 digits always read back. */
static int shortest_digits(double v, char digits[18], int *exp10)
{
    char text[32]; /* "-d.dddddddddddddddde-308" */
    int n = 0;

    for (int prec = fabs(v) < DBL_MIN ? 1 : DBL_DIG; prec <= 17; prec++) {
        snprintf(text, sizeof(text), "%.*e", prec - 1, v);
        if (prec == 17 || reads_back(text, v))
            break;
    }
    /* Mantissa digits, skipping the sign and the decimal point (a comma in some locales). */
    const char *e = strchr(text, 'e');
    for (const char *c = text; c < e; c++) {
        if (*c >= '0' && *c <= '9')
            digits[n++] = *c;
    }
    while (n > 1 && digits[n - 1] == '0')
        n--;
    *exp10 = atoi(e + 1);
    return n;
}

/* "e+XX": sign always, at least two digits, as C's %e and Python's repr() write it. */
static char *put_exponent(char *o, int exp10)
{
    int a = exp10 < 0 ? -exp10 : exp10;

    *o++ = 'e';
    *o++ = exp10 < 0 ? '-' : '+';
    if (a >= 100)
        *o++ = (char)('0' + a / 100);
    *o++ = (char)('0' + a / 10 % 10);
    *o++ = (char)('0' + a % 10);
    return o;
}

/* Lays out digits d1 d2 ... dn times 10^exp10 as Python's repr() does: plain notation for
 * 1e-4 <= |v| < 1e16 (always with a fraction, "1.0"), else "d.ddde+XX" with at least two exponent
 * digits. Both are JSON numbers (RFC 8259 section 6). */
static int layout(char *buf, bool negative, const char *digits, int n, int exp10)
{
    char *o = buf;

    if (negative)
        *o++ = '-';
    if (exp10 < -4 || exp10 >= 16) {
        *o++ = digits[0];
        if (n > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)n - 1);
            o += n - 1;
        }
        return (int)(put_exponent(o, exp10) - buf);
    }
    if (exp10 < 0) {
        memcpy(o, "0.0000", (size_t)(1 - exp10)); /* "0." and -exp10 - 1 zeros */
        o += 1 - exp10;
        memcpy(o, digits, (size_t)n);
        return (int)(o + n - buf);
    }
    for (int i = 0; i <= exp10; i++)
        *o++ = i < n ? digits[i] : '0';
    *o++ = '.';
    if (n > exp10 + 1) {
        memcpy(o, digits + exp10 + 1, (size_t)(n - exp10 - 1));
        o += n - exp10 - 1;
    } else {
        *o++ = '0';
    }
    return (int)(o - buf);
}

int json_write_format_double(double v, char *buf)
{
    char digits[18];
    int exp10;
    int n = shortest_digits(v, digits, &exp10);
    int len = layout(buf, signbit(v) != 0, digits, n, exp10);

    buf[len] = '\0';
    return len;
}
