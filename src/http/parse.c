/* http/parse.c: the request-head parser. One byte loop over a switch of named states (nginx's
 * ngx_http_parse_request_line shape): the state and position are saved when bytes run out, so
 * nothing is scanned twice. Every rejection names the RFC 9112 / 9110 rule behind it. Framing
 * headers (Host, Content-Length, Transfer-Encoding, Connection, Expect) are interpreted as each
 * line ends; the rest are recorded as offsets for the application to look up. */
#include "http/parse.h"

#include "http/host.h"

#include "crest.h"

#include <string.h>

enum parse_state {
    S_START,    /* before the request line: empty lines may precede it */
    S_START_LF, /* CR of an empty leading line seen */
    S_METHOD,
    S_TARGET,
    S_VERSION, /* "HTTP/x.y" */
    S_LINE_LF, /* CR ending the request line seen */
    S_FIELD_START,
    S_NAME,
    S_VALUE_LEAD, /* optional whitespace before the value */
    S_VALUE,
    S_VALUE_LF, /* CR ending a field line seen */
    S_END_LF,   /* CR of the empty line ending the head seen */
    S_DONE,
    S_ERROR,
};

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
 *       / DIGIT / ALPHA (RFC 9110 5.6.2) */
static const uint8_t tchar_table[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

bool http_is_tchar(unsigned char c)
{
    return tchar_table[c];
}

/* field-vchar = VCHAR / obs-text, plus SP and HTAB inside a value (RFC 9110 5.5). */
static inline bool is_value_char(unsigned char c)
{
    return c >= 0x20 ? c != 0x7f : c == '\t';
}

/* The request-target is visible ASCII (RFC 3986 characters); controls, spaces, DEL and raw
 * non-ASCII bytes are rejected. */
static inline bool is_target_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

bool http_name_is(const char *name, uint32_t len, const char *lower)
{
    for (uint32_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c >= 'A' && c <= 'Z')
            c |= 0x20;
        if (lower[i] == '\0' || c != (unsigned char)lower[i])
            return false;
    }
    return lower[len] == '\0';
}

void http_parser_init(struct http_parser *p, struct http_header *headers, uint32_t max_headers,
                      uint32_t max_head_bytes)
{
    p->headers = headers;
    p->max_headers = max_headers;
    p->max_head_bytes = max_head_bytes;
    http_parser_reset(p);
}

void http_parser_reset(struct http_parser *p)
{
    struct http_header *headers = p->headers;
    uint32_t max_headers = p->max_headers, max_head_bytes = p->max_head_bytes;

    memset(p, 0, sizeof(*p));
    p->headers = headers;
    p->max_headers = max_headers;
    p->max_head_bytes = max_head_bytes;
    p->host = -1;
}

/* Framing facts gathered while the fields are read, applied once the head is complete. */
enum {
    F_CONN_CLOSE = 1u << 0,
    F_CONN_KEEP = 1u << 1,
    F_TE_SEEN = 1u << 2,
    F_TE_OTHER = 1u << 3, /* a coding other than chunked was listed */
    F_TE_BAD = 1u << 4,   /* chunked not last, or listed twice */
    F_EXPECT_BAD = 1u << 5,
};

static enum http_parse_status fail(struct http_parser *p, uint16_t status, const char *why)
{
    p->state = S_ERROR;
    p->status = status;
    p->error = why;
    return HTTP_PARSE_ERROR;
}

static uint8_t method_of(const char *m, uint32_t len)
{
    static const struct {
        const char *name;
        uint8_t len;
        uint8_t method;
    } methods[] = {
        {"GET", 3, CREST_METHOD_GET},         {"POST", 4, CREST_METHOD_POST},
        {"PUT", 3, CREST_METHOD_PUT},         {"DELETE", 6, CREST_METHOD_DELETE},
        {"PATCH", 5, CREST_METHOD_PATCH},     {"HEAD", 4, CREST_METHOD_HEAD},
        {"OPTIONS", 7, CREST_METHOD_OPTIONS}, {"TRACE", 5, CREST_METHOD_TRACE},
        {"CONNECT", 7, CREST_METHOD_CONNECT},
    };
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (methods[i].len == len && memcmp(methods[i].name, m, len) == 0)
            return methods[i].method;
    return CREST_METHOD_UNKNOWN; /* methods are case-sensitive (RFC 9110 9.1) */
}

static bool is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* Calls fn for each non-empty comma-separated element of a list value, trimmed of OWS
 * (RFC 9110 5.6.1). Returns the first non-zero result of fn, else 0. */
static int each_list_item(const char *v, uint32_t len,
                          int (*fn)(struct http_parser *, const char *, uint32_t),
                          struct http_parser *p)
{
    uint32_t i = 0;
    while (i < len) {
        uint32_t start = i;
        while (i < len && v[i] != ',')
            i++;
        uint32_t end = i;
        while (start < end && is_ows((unsigned char)v[start]))
            start++;
        while (end > start && is_ows((unsigned char)v[end - 1]))
            end--;
        if (end > start) {
            int r = fn(p, v + start, end - start);
            if (r)
                return r;
        }
        i++; /* past the comma */
    }
    return 0;
}

static int connection_item(struct http_parser *p, const char *v, uint32_t len)
{
    if (http_name_is(v, len, "close"))
        p->flags |= F_CONN_CLOSE;
    else if (http_name_is(v, len, "keep-alive"))
        p->flags |= F_CONN_KEEP;
    return 0;
}

/* RFC 9112 6.1: chunked must be the final coding and applied only once. */
static int te_item(struct http_parser *p, const char *v, uint32_t len)
{
    if (p->chunked)
        p->flags |= F_TE_BAD; /* something after chunked, or chunked twice */
    if (http_name_is(v, len, "chunked"))
        p->chunked = true;
    else
        p->flags |= F_TE_OTHER;
    return 0;
}

/* RFC 9110 8.6: Content-Length = 1*DIGIT; a list of identical values may be taken as one, any
 * other list or a differing repeat is unrecoverable framing (RFC 9112 6.3 item 5). */
static int content_length_item(struct http_parser *p, const char *v, uint32_t len)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < '0' || c > '9')
            return -1;
        if (n > (UINT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (c - '0');
    }
    if (p->has_content_length && p->content_length != n)
        return -1;
    p->content_length = n;
    p->has_content_length = true;
    return 0;
}

static enum http_parse_status field_done(struct http_parser *p, const char *buf)
{
    struct http_header *h = &p->headers[p->n_headers - 1];
    const char *name = buf + h->name_off, *value = buf + h->value_off;

    switch (h->name_len) {
    case 4:
        if (http_name_is(name, 4, "host")) {
            if (p->host >= 0)
                return fail(p, 400, "duplicate Host header"); /* RFC 9112 3.2 */
            p->host = (int32_t)(p->n_headers - 1);
            if (!http_host_is_valid(value, h->value_len))
                return fail(p, 400, "invalid Host header"); /* RFC 9110 7.2, RFC 3986 3.2.2 */
        }
        break;
    case 6:
        if (http_name_is(name, 6, "expect")) {
            if (http_name_is(value, h->value_len, "100-continue"))
                p->expect_continue = true;
            else
                p->flags |= F_EXPECT_BAD;
        }
        break;
    case 10:
        if (http_name_is(name, 10, "connection"))
            each_list_item(value, h->value_len, connection_item, p);
        break;
    case 14:
        if (http_name_is(name, 14, "content-length")) {
            uint32_t before = h->value_len;
            if (before == 0 || each_list_item(value, before, content_length_item, p) != 0 ||
                !p->has_content_length)
                return fail(p, 400, "invalid Content-Length");
        }
        break;
    case 17:
        if (http_name_is(name, 17, "transfer-encoding")) {
            p->flags |= F_TE_SEEN;
            each_list_item(value, h->value_len, te_item, p);
        }
        break;
    default:
        break;
    }
    return HTTP_PARSE_AGAIN;
}

/* RFC 9112 3.2: origin-form, absolute-form, authority-form (CONNECT) or asterisk-form (OPTIONS). */
static bool target_form_ok(const struct http_parser *p, const char *buf)
{
    const char *t = buf + p->target_off;
    uint32_t n = p->target_len;

    if (t[0] == '/')
        return true;
    if (n == 1 && t[0] == '*')
        return p->method == CREST_METHOD_OPTIONS;
    if (p->method == CREST_METHOD_CONNECT)
        return memchr(t, ':', n) != NULL && memchr(t, '/', n) == NULL;
    /* absolute-form: scheme "://" */
    uint32_t i = 0;
    if (!((t[0] | 0x20) >= 'a' && (t[0] | 0x20) <= 'z'))
        return false;
    while (i < n && t[i] != ':') {
        char c = (char)(t[i] | 0x20);
        if (!((c >= 'a' && c <= 'z') || (t[i] >= '0' && t[i] <= '9') || t[i] == '+' ||
              t[i] == '-' || t[i] == '.'))
            return false;
        i++;
    }
    return i + 2 < n && t[i + 1] == '/' && t[i + 2] == '/';
}

/* The head is complete: apply the message-framing rules of RFC 9112 6 and the Host rule. */
static enum http_parse_status head_done(struct http_parser *p, const char *buf)
{
    uint32_t flags = p->flags;

    if (!target_form_ok(p, buf))
        return fail(p, 400, "invalid request-target");
    if (p->version_minor >= 1 && p->host < 0)
        return fail(p, 400, "missing Host header"); /* RFC 9112 3.2 */
    if (flags & F_TE_SEEN) {
        if (p->version_minor == 0)
            return fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request"); /* RFC 9112 6.1 */
        if (p->has_content_length)
            return fail(p, 400, "both Content-Length and Transfer-Encoding"); /* RFC 9112 6.1 */
        if (!p->chunked || (flags & F_TE_BAD))
            return fail(p, 400, "Transfer-Encoding must end with chunked"); /* RFC 9112 6.3 */
        if (flags & F_TE_OTHER)
            return fail(p, 501, "unsupported transfer coding"); /* RFC 9112 6.1 */
    }
    if (flags & F_EXPECT_BAD)
        return fail(p, 417, "unsupported expectation"); /* RFC 9110 10.1.1 */
    if (p->version_minor >= 1)
        p->keep_alive = !(flags & F_CONN_CLOSE);
    else
        p->keep_alive = (flags & F_CONN_KEEP) && !(flags & F_CONN_CLOSE);
    if (!p->has_content_length && !p->chunked)
        p->expect_continue = false; /* nothing to continue with */
    p->state = S_DONE;
    return HTTP_PARSE_DONE;
}

/* "HTTP/" DIGIT "." DIGIT, checked once the request line's CR is seen (RFC 9112 2.3). */
static enum http_parse_status version_done(struct http_parser *p, const char *v, uint32_t len)
{
    if (len != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9')
        return fail(p, 400, "malformed HTTP version");
    if (v[5] != '1')
        return fail(p, 505, "HTTP version not supported");
    p->version_minor = v[7] == '0' ? 0 : 1; /* 1.x, x > 1, is answered as 1.1 (RFC 9110 2.5) */
    return HTTP_PARSE_AGAIN;
}

static enum http_parse_status too_long(struct http_parser *p, uint8_t s)
{
    if (s <= S_VERSION)
        return fail(p, 414, "request line too long");
    return fail(p, 431, "request header fields too large");
}

enum http_parse_status http_parse_head(struct http_parser *p, const char *buf, uint32_t len)
{
    uint8_t s = p->state;
    uint32_t i = p->pos, avail = len;
    enum http_parse_status r;

    if (s == S_ERROR)
        return HTTP_PARSE_ERROR;
    if (s == S_DONE)
        return HTTP_PARSE_DONE;
    /* scan no further than the limit: a head not complete there, with bytes left, crossed it */
    if (avail > p->max_head_bytes + p->skip)
        len = p->max_head_bytes + p->skip;

    for (; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        switch (s) {
        case S_START:
            if (c == '\r') {
                s = S_START_LF;
            } else if (http_is_tchar(c)) {
                p->skip = i;
                p->mark = i;
                if (avail > p->max_head_bytes + i) /* the empty lines skipped do not count */
                    len = p->max_head_bytes + i;
                else
                    len = avail;
                s = S_METHOD;
            } else {
                return fail(p, 400, "invalid method");
            }
            break;
        case S_START_LF:
            if (c != '\n')
                return fail(p, 400, "bare CR"); /* RFC 9112 2.2 */
            s = S_START;
            break;
        case S_METHOD:
            if (c == ' ') {
                p->method_len = i - p->skip;
                p->method = method_of(buf + p->skip, p->method_len);
                p->target_off = i + 1;
                s = S_TARGET;
            } else if (!http_is_tchar(c)) {
                return fail(p, 400, "invalid method"); /* RFC 9112 3.1: method = token */
            }
            break;
        case S_TARGET:
            if (c == ' ') {
                p->target_len = i - p->target_off;
                if (p->target_len == 0)
                    return fail(p, 400, "empty request-target");
                p->mark = i + 1;
                s = S_VERSION;
            } else if (!is_target_char(c)) {
                return fail(p, 400, "invalid character in request-target");
            }
            break;
        case S_VERSION:
            if (c == '\r') {
                r = version_done(p, buf + p->mark, i - p->mark);
                if (r != HTTP_PARSE_AGAIN)
                    return r;
                s = S_LINE_LF;
            } else if (c < 0x21 || c > 0x7e || i - p->mark >= 8) {
                return fail(p, 400, "malformed HTTP version");
            }
            break;
        case S_LINE_LF:
            if (c != '\n')
                return fail(p, 400, "bare CR");
            s = S_FIELD_START;
            break;
        case S_FIELD_START:
            if (c == '\r') {
                s = S_END_LF;
            } else if (http_is_tchar(c)) {
                if (p->n_headers == p->max_headers)
                    return fail(p, 431, "too many header fields");
                p->headers[p->n_headers].name_off = i;
                p->headers[p->n_headers].value_len = 0;
                p->n_headers++;
                s = S_NAME;
            } else if (c == ' ' || c == '\t') {
                return fail(p, 400, "obsolete line folding"); /* RFC 9112 5.2 */
            } else {
                return fail(p, 400, "invalid header name");
            }
            break;
        case S_NAME:
            if (c == ':') {
                struct http_header *h = &p->headers[p->n_headers - 1];
                h->name_len = i - h->name_off;
                s = S_VALUE_LEAD;
            } else if (c == ' ' || c == '\t') {
                return fail(p, 400, "whitespace before colon"); /* RFC 9112 5.1 */
            } else if (!http_is_tchar(c)) {
                return fail(p, 400, "invalid header name");
            }
            break;
        case S_VALUE_LEAD:
            if (c == ' ' || c == '\t')
                break;
            p->headers[p->n_headers - 1].value_off = i;
            s = S_VALUE;
            /* fall through: c is the value's first byte (or its CR) */
            __attribute__((fallthrough));
        case S_VALUE: {
            struct http_header *h = &p->headers[p->n_headers - 1];
            while (i < len && is_value_char((unsigned char)buf[i])) {
                if (buf[i] != ' ' && buf[i] != '\t')
                    h->value_len = i + 1 - h->value_off; /* trailing OWS stays out */
                i++;
            }
            if (i == len)
                goto again;
            c = (unsigned char)buf[i];
            if (c != '\r')
                return fail(p, 400, c == '\n' ? "bare LF" : "control character in header");
            if (h->value_len == 0)
                h->value_off = i;
            s = S_VALUE_LF;
            break;
        }
        case S_VALUE_LF:
            if (c != '\n')
                return fail(p, 400, "bare CR");
            p->pos = i + 1;
            r = field_done(p, buf);
            if (r != HTTP_PARSE_AGAIN)
                return r;
            s = S_FIELD_START;
            break;
        case S_END_LF:
            if (c != '\n')
                return fail(p, 400, "bare CR");
            p->head_len = i + 1;
            p->pos = i + 1;
            return head_done(p, buf);
        default:
            return fail(p, 500, "parser state corrupt");
        }
    }
again:
    p->state = s;
    p->pos = i;
    if (i < avail)
        return too_long(p, s); /* stopped at the limit with bytes still to read */
    return HTTP_PARSE_AGAIN;
}
