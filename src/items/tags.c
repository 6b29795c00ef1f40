/* items/tags.c: an item's tags are one text column, a JSON array of strings, on both databases:
 * the crest_json writer encodes them (so what is stored is always valid UTF-8 and valid JSON,
 * readable by any tool); a reader of exactly that shape decodes them straight into the request's
 * arena. crest.h offers no parser of arbitrary text (crest_req_json reads the body), and a tree
 * would be copied out of anyway; this reader knows arrays of strings only, which is all the
 * column ever holds. */
#include "items.h"

#include <errno.h>
#include <string.h>

int items_tags_encode(const struct crest_str *tags, uint32_t n_tags, struct crest_json **out)
{
    struct crest_json *j = crest_json_new();

    *out = j;
    if (!j)
        return -ENOMEM;
    crest_json_array_begin(j);
    for (uint32_t i = 0; i < n_tags; i++) /* a NULL tag would become null: store "" instead */
        crest_json_string_len(j, tags[i].ptr ? tags[i].ptr : "", tags[i].ptr ? tags[i].len : 0);
    crest_json_array_end(j);
    return crest_json_error(j) ? -ENOMEM : 0;
}

/* Where a scan is: the text, the read position, and where decoded bytes go (NULL: count only). */
struct scan {
    const char *text;
    size_t len;
    size_t pos;
    char *dst;
};

static void skip_space(struct scan *s)
{
    for (; s->pos < s->len; s->pos++) {
        char c = s->text[s->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
    }
}

static int hex4(struct scan *s, unsigned *cp)
{
    *cp = 0;
    if (s->len - s->pos < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = s->text[s->pos++];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d == 16)
            return -1;
        *cp = *cp << 4 | d;
    }
    return 0;
}

/* Reads the code point of a \u escape (s->pos just past the 'u'), joining a surrogate pair. */
static int read_code_point(struct scan *s, unsigned *cp)
{
    unsigned lo;

    if (hex4(s, cp))
        return -1;
    if (*cp >= 0xdc00 && *cp <= 0xdfff)
        return -1; /* a low surrogate alone */
    if (*cp < 0xd800 || *cp > 0xdbff)
        return 0;
    if (s->len - s->pos < 2 || s->text[s->pos] != '\\' || s->text[s->pos + 1] != 'u')
        return -1;
    s->pos += 2;
    if (hex4(s, &lo) || lo < 0xdc00 || lo > 0xdfff)
        return -1;
    *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
    return 0;
}

/* Appends cp as UTF-8; returns its length. */
static size_t put_utf8(char *dst, unsigned cp)
{
    char b[4];
    size_t n;

    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | cp >> 6);
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | cp >> 12);
        b[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | cp >> 18);
        b[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        b[2] = (char)(0x80 | (cp >> 6 & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    if (dst)
        memcpy(dst, b, n);
    return n;
}

/* The byte a short escape stands for (RFC 8259 section 7), or 0 when c starts none. */
static char short_escape(char c)
{
    switch (c) {
    case '"':
    case '\\':
    case '/':
        return c;
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return 0;
    }
}

/* Decodes one string, s->pos just past its opening quote, to s->dst (when set); *n is its decoded
 * length. Decoding never lengthens: an escape is longer than the bytes it stands for. */
static int read_string(struct scan *s, size_t *n)
{
    *n = 0;
    while (s->pos < s->len) {
        char c = s->text[s->pos++];
        unsigned cp;
        if (c == '"')
            return 0;
        if ((unsigned char)c < 0x20)
            return -1; /* raw control characters are never written */
        if (c != '\\') {
            if (s->dst)
                s->dst[*n] = c;
            (*n)++;
            continue;
        }
        if (s->pos == s->len)
            return -1;
        c = s->text[s->pos++];
        if (c == 'u') {
            if (read_code_point(s, &cp))
                return -1;
            *n += put_utf8(s->dst ? s->dst + *n : NULL, cp);
        } else if ((c = short_escape(c)) != 0) {
            if (s->dst)
                s->dst[*n] = c;
            (*n)++;
        } else {
            return -1;
        }
    }
    return -1; /* unterminated */
}

/* Walks the array once: counts the tags and the bytes their copies need (each NUL-terminated) and,
 * when tags is set, fills them. 0, or -1 when the text is not an array of strings. */
static int scan_array(struct scan *s, struct crest_str *tags, uint32_t *n_tags, size_t *n_bytes)
{
    *n_tags = 0;
    *n_bytes = 0;
    skip_space(s);
    if (s->pos == s->len || s->text[s->pos++] != '[')
        return -1;
    skip_space(s);
    if (s->pos < s->len && s->text[s->pos] == ']') {
        s->pos++;
    } else {
        for (;;) {
            size_t n;
            if (s->pos == s->len || s->text[s->pos++] != '"' || read_string(s, &n))
                return -1;
            if (tags) {
                tags[*n_tags] = (struct crest_str){s->dst, n};
                s->dst[n] = '\0';
                s->dst += n + 1;
            }
            if (*n_tags == UINT32_MAX)
                return -1;
            (*n_tags)++;
            *n_bytes += n + 1;
            skip_space(s);
            if (s->pos == s->len)
                return -1;
            char c = s->text[s->pos++];
            if (c == ']')
                break;
            if (c != ',')
                return -1;
            skip_space(s);
        }
    }
    skip_space(s);
    return s->pos == s->len ? 0 : -1;
}

int items_tags_decode(struct crest_req *req, const char *text, size_t len, struct crest_str **tags,
                      uint32_t *n_tags)
{
    struct scan s = {.text = text, .len = len};
    size_t n_bytes;
    uint32_t n;

    *tags = NULL;
    *n_tags = 0;
    if (!text || scan_array(&s, NULL, &n, &n_bytes))
        return -EIO;
    if (n == 0)
        return 0;
    struct crest_str *t = crest_req_alloc(req, (size_t)n * sizeof(*t));
    char *bytes = crest_req_alloc(req, n_bytes);
    if (!t || !bytes)
        return -ENOMEM;
    s = (struct scan){.text = text, .len = len, .dst = bytes};
    if (scan_array(&s, t, &n, &n_bytes))
        return -EIO; /* cannot happen: the first pass read the same bytes */
    *tags = t;
    *n_tags = n;
    return 0;
}
