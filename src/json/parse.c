/* json/parse.c: a strict RFC 8259 parser that builds struct crest_json_value trees in a
 * request's arena, in one pass over the text, with a recursive descent that switches on each
 * value's first byte. Every node, array, member array and decoded string is arena memory, so the
 * tree needs no free and dies with the request. Items of a container are stored contiguously:
 * while a container is open its finished items wait on a scratch stack (one for values, one for
 * members, in arena segments that never move and that later containers refill), and when it
 * closes they are copied into an array of exactly their number. Errors carry the byte offset and
 * message Python's json module would give, which FastAPI puts in a json_invalid problem. Accessors
 * and writing a parsed value back out are json_value.c's job. */
#include "json/json.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
    NUMBER_BUF = 64,   /* number texts up to this long are converted from a stack copy */
    SEG_FIRST = 16,    /* entries in a scratch stack's first segment */
    SEG_DOUBLINGS = 6, /* each next one doubles, this many times: up to 1024 entries */
    SEG_INLINE = 8,    /* segments described in the parser itself (3056 entries) */
};

/* A stack of fixed-size entries in segments that never move: growing adds a segment instead of
 * copying into a bigger block, so nothing is abandoned and the stack takes little more than its
 * deepest use. Segments stay allocated once made and are refilled by later containers. */
struct seg {
    char *data;
    size_t start; /* index of its first entry */
    size_t cap;   /* entries */
};

struct stack {
    struct seg *segs; /* in index order: first_segs, then arena copies doubling in size */
    size_t n_segs, cap_segs;
    size_t cur;  /* the segment holding entry n, or entry n - 1 when n is its end */
    size_t n;    /* entries */
    size_t size; /* bytes per entry */
    struct seg first_segs[SEG_INLINE];
};

struct parser {
    const unsigned char *start; /* the text: offsets are relative to it */
    const unsigned char *cur;
    const unsigned char *end;
    struct mem_arena *arena;
    /* finished items of the open containers, innermost last */
    struct stack vals; /* of struct crest_json_value */
    struct stack mems; /* of struct crest_json_member */
    /* the failure, if any */
    const unsigned char *err_at;
    const char *err_msg;
};

static enum json_parse_status parse_value(struct parser *p, struct crest_json_value *v,
                                          unsigned depth);

static enum json_parse_status fail(struct parser *p, const unsigned char *at, const char *msg)
{
    p->err_at = at;
    p->err_msg = msg;
    return JSON_PARSE_SYNTAX;
}

static enum json_parse_status no_memory(struct parser *p)
{
    p->err_at = p->cur;
    p->err_msg = "Out of memory";
    return JSON_PARSE_NOMEM;
}

static uint32_t offset_of(const struct parser *p, const unsigned char *at)
{
    return (uint32_t)(at - p->start);
}

/* RFC 8259 section 2: ws = *( %x20 / %x09 / %x0A / %x0D ). Most values follow their separator
 * directly, so the first test is the byte that cannot be whitespace. */
static void skip_ws(struct parser *p)
{
    const unsigned char *s = p->cur;
    while (s < p->end && *s <= ' ' && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t'))
        s++;
    p->cur = s;
}

/* ------------------------------------------------------------------------------------------------
 * Scratch stacks. A container's items are the entries from the stack's size when it opened to
 * the top; when it closes they are copied into one array of their own and popped. */

/* Appends segment number st->n_segs, which starts at entry st->n. 0, -ENOMEM. */
static int stack_add_segment(struct parser *p, struct stack *st)
{
    if (st->n_segs == st->cap_segs) {
        struct seg *segs = mem_arena_alloc(p->arena, 2 * st->cap_segs * sizeof(*segs));
        if (!segs)
            return -ENOMEM;
        memcpy(segs, st->segs, st->n_segs * sizeof(*segs));
        st->segs = segs;
        st->cap_segs *= 2;
    }
    size_t shift = st->n_segs < SEG_DOUBLINGS ? st->n_segs : SEG_DOUBLINGS;
    struct seg next = {.start = st->n, .cap = (size_t)SEG_FIRST << shift};
    if (!(next.data = mem_arena_alloc(p->arena, next.cap * st->size)))
        return -ENOMEM;
    st->segs[st->n_segs++] = next;
    return 0;
}

/* A slot for one more entry, or NULL when the arena is out of memory. */
static void *stack_push(struct parser *p, struct stack *st)
{
    if (st->n_segs == 0 || st->n == st->segs[st->cur].start + st->segs[st->cur].cap) {
        if (st->n_segs > 0 && st->cur + 1 < st->n_segs)
            st->cur++; /* a segment an earlier container filled */
        else if (stack_add_segment(p, st) == 0)
            st->cur = st->n_segs - 1;
        else
            return NULL;
    }
    const struct seg *s = &st->segs[st->cur];
    return s->data + (st->n++ - s->start) * st->size;
}

/* Moves entries [base, n) into an array of their own (*out; NULL when there are none) and pops
 * them. 0, or -ENOMEM when the array could not be had (the entries are popped all the same). */
static int stack_pop_to(struct parser *p, struct stack *st, size_t base, void **out)
{
    size_t k = st->cur, i = base;
    char *a, *o;

    *out = NULL;
    if (st->n == base)
        return 0;
    while (st->segs[k].start > base)
        k--;
    o = a = mem_arena_alloc(p->arena, (st->n - base) * st->size);
    for (size_t j = k; a && i < st->n; j++) {
        const struct seg *s = &st->segs[j];
        size_t upto = st->n < s->start + s->cap ? st->n : s->start + s->cap;
        memcpy(o, s->data + (i - s->start) * st->size, (upto - i) * st->size);
        o += (upto - i) * st->size;
        i = upto;
    }
    st->n = base;
    st->cur = k;
    *out = a;
    return a ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------------------------------------------
 * Strings (RFC 8259 section 7, and RFC 3629 for the raw bytes). */

/* What a raw byte inside a string asks for: 0 copies as is (a '"' that is not escaped ends the
 * string before the loop sees it). */
enum { CH_PLAIN = 0, CH_CONTROL, CH_ESCAPE, CH_UTF8 };

static const unsigned char char_class[256] = {
    [0x00 ... 0x1f] = CH_CONTROL,
    ['\\'] = CH_ESCAPE,
    [0x80 ... 0xff] = CH_UTF8,
};

/* A hex digit's value plus one; 0 for bytes that are not hex digits. */
static const unsigned char hex_digit1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* The first '"' at or after s that ends the string: one preceded by an even run of backslashes,
 * since inside a valid string a backslash run pairs up from its first byte ("\\\\" is two
 * backslashes, "\\\"" a backslash and a quote). end when there is none. memchr skips plain text
 * far faster than the decoding loop, and the end it finds bounds the decoded length. */
static const unsigned char *find_close(const unsigned char *s, const unsigned char *end)
{
    const unsigned char *from = s;
    for (;;) {
        const unsigned char *q = memchr(from, '"', (size_t)(end - from));
        if (!q)
            return end;
        const unsigned char *b = q;
        while (b > s && b[-1] == '\\')
            b--;
        if (((q - b) & 1) == 0)
            return q;
        from = q + 1;
    }
}

/* Length of the well-formed UTF-8 sequence at s, or 0 when ill-formed. Unicode 15 table 3-7: the
 * narrowed second-byte ranges reject overlongs (E0, F0), encoded surrogates (ED A0..BF) and code
 * points past U+10FFFF (F4 90.., F5..FF); C0 and C1 only ever start overlongs. */
static int utf8_len(const unsigned char *s, const unsigned char *end)
{
    unsigned char lo = 0x80, hi = 0xbf;
    int need;

    if (s[0] < 0xc2) {
        return 0; /* a stray continuation byte, or C0/C1 */
    } else if (s[0] < 0xe0) {
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
        return 0;
    }
    if (end - s < need || s[1] < lo || s[1] > hi)
        return 0;
    for (int i = 2; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    }
    return need;
}

static char *put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | cp >> 12);
        *o++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | cp >> 18);
        *o++ = (char)(0x80 | (cp >> 12 & 0x3f));
        *o++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/* The four hex digits at s (bounded by end), or -1. */
static int32_t hex4(const unsigned char *s, const unsigned char *end)
{
    if (end - s < 4)
        return -1;
    int a = hex_digit1[s[0]], b = hex_digit1[s[1]], c = hex_digit1[s[2]], d = hex_digit1[s[3]];
    if (!a || !b || !c || !d)
        return -1;
    return (a - 1) << 12 | (b - 1) << 8 | (c - 1) << 4 | (d - 1);
}

/* \uXXXX at s (s[0] is the backslash), bounded by end; writes the code point's UTF-8 at *o and
 * returns the bytes of text used, or 0 after fail(). A UTF-16 surrogate pair makes one code point;
 * a lone surrogate (a low one first, or a high one not followed by a low one) is refused, since
 * no UTF-8 can carry it and we will not invent bytes for it. Offsets point at the 'u' of the
 * offending escape, as Python's do. */
static int unicode_escape(struct parser *p, const unsigned char *s, const unsigned char *end,
                          char **o)
{
    int32_t cp = hex4(s + 2, end), lo;

    if (cp < 0xd800 || cp > 0xdfff) {
        if (cp < 0)
            goto invalid;
        *o = put_utf8(*o, (uint32_t)cp);
        return 6;
    }
    if (cp >= 0xdc00 || end - s < 8 || s[6] != '\\' || s[7] != 'u')
        goto invalid;
    lo = hex4(s + 8, end);
    if (lo < 0) {
        fail(p, s + 7, "Invalid \\uXXXX escape");
        return 0;
    }
    if (lo < 0xdc00 || lo > 0xdfff)
        goto invalid;
    *o = put_utf8(*o, 0x10000 + ((uint32_t)(cp - 0xd800) << 10) + (uint32_t)(lo - 0xdc00));
    return 12;

invalid:
    fail(p, s + 1, "Invalid \\uXXXX escape");
    return 0;
}

/* An escape at s (the backslash); returns the bytes of text used, or 0 after fail(). */
static int escape(struct parser *p, const unsigned char *s, const unsigned char *close,
                  const unsigned char *open, char **o)
{
    char c;

    if (close - s < 2) {
        /* only when the text ends inside the string, and Python says so then */
        fail(p, open, "Unterminated string starting at");
        return 0;
    }
    switch (s[1]) {
    case '"':
    case '\\':
    case '/':
        c = (char)s[1];
        break;
    case 'b':
        c = '\b';
        break;
    case 'f':
        c = '\f';
        break;
    case 'n':
        c = '\n';
        break;
    case 'r':
        c = '\r';
        break;
    case 't':
        c = '\t';
        break;
    case 'u':
        return unicode_escape(p, s, close, o);
    default:
        fail(p, s, "Invalid \\escape");
        return 0;
    }
    *(*o)++ = c;
    return 2;
}

/* The string whose opening quote is at p->cur, decoded into the arena: NUL-terminated, *len bytes
 * (U+0000 included). Escapes only ever shrink text, so the raw length up to the closing quote
 * bounds the decoded one and a single allocation suffices; runs of bytes that decode to
 * themselves go across in one memcpy. Errors come in text order, as a sequential reader finds
 * them: a bad byte before the end wins over a missing closing quote. */
static enum json_parse_status parse_string(struct parser *p, const char **out, uint32_t *len)
{
    const unsigned char *open = p->cur;
    const unsigned char *s = open + 1;
    const unsigned char *close = find_close(s, p->end);
    const unsigned char *run = s; /* start of the bytes not yet copied */
    char *dst = mem_arena_alloc(p->arena, (size_t)(close - s) + 1);
    char *o = dst;
    int n;

    if (!dst)
        return no_memory(p);
    for (;;) {
        while (s < close && char_class[*s] == CH_PLAIN)
            s++;
        if (s == close)
            break;
        switch (char_class[*s]) {
        case CH_CONTROL:
            return fail(p, s, "Invalid control character at");
        case CH_UTF8:
            n = utf8_len(s, close);
            if (!n)
                return fail(p, s, "Invalid UTF-8");
            s += n;
            break;
        default: /* CH_ESCAPE */
            memcpy(o, run, (size_t)(s - run));
            o += s - run;
            n = escape(p, s, close, open, &o);
            if (!n)
                return JSON_PARSE_SYNTAX;
            s += n;
            run = s;
            break;
        }
    }
    if (close == p->end)
        return fail(p, open, "Unterminated string starting at");
    memcpy(o, run, (size_t)(s - run));
    o += s - run;
    *o = '\0';
    *out = dst;
    *len = (uint32_t)(o - dst);
    p->cur = close + 1;
    return JSON_PARSE_OK;
}

/* ------------------------------------------------------------------------------------------------
 * Numbers (RFC 8259 section 6): number = [ "-" ] int [ frac ] [ exp ], int = "0" / [1-9] *DIGIT.
 * Like Python, the longest valid prefix is the number and what follows is left to the caller:
 * "01" is 0 then "Extra data", "[1.]" is 1 then "Expecting ',' delimiter". */

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* strtod needs a NUL-terminated copy; the text is already known to be a JSON number, which
 * strtod reads whole, and overflows to +-inf as JSONTestSuite's i_ cases allow. The C library
 * rounds correctly, which is why it, and not our own loop, makes the double. */
static enum json_parse_status to_double(struct parser *p, const unsigned char *text, size_t n,
                                        double *out)
{
    char stack[NUMBER_BUF];
    char *buf = stack;

    if (n >= sizeof(stack) && !(buf = mem_arena_alloc(p->arena, n + 1)))
        return no_memory(p);
    memcpy(buf, text, n);
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    return JSON_PARSE_OK;
}

static enum json_parse_status parse_number(struct parser *p, struct crest_json_value *v)
{
    const unsigned char *start = p->cur, *s = start, *end = p->end;
    bool negative = false, integral = true, overflow = false;
    uint64_t mag = 0;

    if (*s == '-') {
        negative = true;
        s++;
    }
    if (s == end || !is_digit(*s))
        return fail(p, start, "Expecting value");
    if (*s == '0') {
        s++;
    } else {
        for (; s < end && is_digit(*s); s++) {
            unsigned d = *s - '0';
            if (mag > (UINT64_MAX - d) / 10)
                overflow = true;
            else if (!overflow)
                mag = mag * 10 + d;
        }
    }
    if (end - s >= 2 && s[0] == '.' && is_digit(s[1])) {
        integral = false;
        for (s += 2; s < end && is_digit(*s); s++)
            ;
    }
    if (s < end && (*s == 'e' || *s == 'E')) {
        const unsigned char *t = s + 1;
        if (t < end && (*t == '+' || *t == '-'))
            t++;
        if (t < end && is_digit(*t)) {
            integral = false;
            for (s = t + 1; s < end && is_digit(*s); s++)
                ;
        }
    }
    p->cur = s;
    v->type = CREST_JSON_NUMBER;
    v->offset = offset_of(p, start);
    v->integer = 0;
    if (integral && !overflow && mag <= (uint64_t)INT64_MAX + negative) {
        v->is_integer = true;
        if (!negative)
            v->integer = (int64_t)mag;
        else if (mag > (uint64_t)INT64_MAX)
            v->integer = INT64_MIN; /* -(2^63): no int64_t holds the magnitude to negate */
        else
            v->integer = -(int64_t)mag;
        /* up to 2^53 every integer is a double exactly, so strtod would give the same value
         * (and -0 keeps its sign) */
        if (mag <= UINT64_C(1) << 53) {
            v->number = negative ? -(double)mag : (double)mag;
            return JSON_PARSE_OK;
        }
    }
    return to_double(p, start, (size_t)(s - start), &v->number);
}

/* ------------------------------------------------------------------------------------------------
 * Literals and containers */

static enum json_parse_status parse_literal(struct parser *p, struct crest_json_value *v,
                                            const char *word, size_t n, uint8_t type)
{
    if ((size_t)(p->end - p->cur) < n || memcmp(p->cur, word, n) != 0)
        return fail(p, p->cur, "Expecting value");
    v->type = type;
    v->offset = offset_of(p, p->cur);
    v->number = 0;
    v->integer = 0;
    p->cur += n;
    return JSON_PARSE_OK;
}

/* p->cur is at the '['. */
static enum json_parse_status parse_array(struct parser *p, struct crest_json_value *v,
                                          unsigned depth)
{
    size_t base = p->vals.n;
    enum json_parse_status st;

    v->type = CREST_JSON_ARRAY;
    v->offset = offset_of(p, p->cur);
    p->cur++;
    skip_ws(p);
    if (p->cur < p->end && *p->cur == ']') {
        p->cur++;
        v->items = NULL;
        return JSON_PARSE_OK;
    }
    for (;;) {
        struct crest_json_value item, *slot;
        if ((st = parse_value(p, &item, depth + 1)))
            return st;
        if (!(slot = stack_push(p, &p->vals)))
            return no_memory(p);
        *slot = item;
        skip_ws(p);
        if (p->cur < p->end && *p->cur == ',') {
            p->cur++;
            skip_ws(p);
            continue;
        }
        if (p->cur < p->end && *p->cur == ']')
            break;
        return fail(p, p->cur, "Expecting ',' delimiter");
    }
    p->cur++;
    v->len = (uint32_t)(p->vals.n - base);
    void *items;
    int err = stack_pop_to(p, &p->vals, base, &items);
    v->items = items;
    return err ? no_memory(p) : JSON_PARSE_OK;
}

/* p->cur is at the '{'. */
static enum json_parse_status parse_object(struct parser *p, struct crest_json_value *v,
                                           unsigned depth)
{
    size_t base = p->mems.n;
    enum json_parse_status st;

    v->type = CREST_JSON_OBJECT;
    v->offset = offset_of(p, p->cur);
    p->cur++;
    skip_ws(p);
    if (p->cur < p->end && *p->cur == '}') {
        p->cur++;
        v->members = NULL;
        return JSON_PARSE_OK;
    }
    for (;;) {
        struct crest_json_member m, *slot;
        uint32_t key_len;
        if (p->cur == p->end || *p->cur != '"')
            return fail(p, p->cur, "Expecting property name enclosed in double quotes");
        if ((st = parse_string(p, &m.key.ptr, &key_len)))
            return st;
        m.key.len = key_len;
        skip_ws(p);
        if (p->cur == p->end || *p->cur != ':')
            return fail(p, p->cur, "Expecting ':' delimiter");
        p->cur++;
        skip_ws(p);
        if ((st = parse_value(p, &m.value, depth + 1)))
            return st;
        if (!(slot = stack_push(p, &p->mems)))
            return no_memory(p);
        *slot = m;
        skip_ws(p);
        if (p->cur < p->end && *p->cur == ',') {
            p->cur++;
            skip_ws(p);
            continue;
        }
        if (p->cur < p->end && *p->cur == '}')
            break;
        return fail(p, p->cur, "Expecting ',' delimiter");
    }
    p->cur++;
    v->len = (uint32_t)(p->mems.n - base);
    void *members;
    int err = stack_pop_to(p, &p->mems, base, &members);
    v->members = members;
    return err ? no_memory(p) : JSON_PARSE_OK;
}

/* The value at p->cur (whitespace already skipped), inside depth containers. */
static enum json_parse_status parse_value(struct parser *p, struct crest_json_value *v,
                                          unsigned depth)
{
    enum json_parse_status st;
    uint32_t len;

    v->is_integer = false;
    v->len = 0;
    if (p->cur == p->end)
        return fail(p, p->cur, "Expecting value");
    switch (*p->cur) {
    case '{':
    case '[':
        if (depth >= JSON_PARSE_MAX_DEPTH) {
            fail(p, p->cur, "Maximum nesting depth exceeded");
            return JSON_PARSE_DEPTH;
        }
        return *p->cur == '{' ? parse_object(p, v, depth) : parse_array(p, v, depth);
    case '"':
        v->type = CREST_JSON_STRING;
        v->offset = offset_of(p, p->cur);
        if ((st = parse_string(p, &v->string, &len)))
            return st;
        v->len = len;
        return JSON_PARSE_OK;
    case '-':
    case '0' ... '9':
        return parse_number(p, v);
    case 't':
        return parse_literal(p, v, "true", 4, CREST_JSON_TRUE);
    case 'f':
        return parse_literal(p, v, "false", 5, CREST_JSON_FALSE);
    case 'n':
        return parse_literal(p, v, "null", 4, CREST_JSON_NULL);
    default:
        return fail(p, p->cur, "Expecting value");
    }
}

enum json_parse_status json_parse(const char *text, size_t len, struct mem_arena *arena,
                                  struct crest_json_value **out, size_t *err_offset,
                                  const char **err_msg)
{
    struct parser p = {
        .arena = arena,
        .vals = {.size = sizeof(struct crest_json_value), .cap_segs = SEG_INLINE},
        .mems = {.size = sizeof(struct crest_json_member), .cap_segs = SEG_INLINE},
    };
    struct crest_json_value root, *v;
    enum json_parse_status st;

    if (len > UINT32_MAX) { /* value offsets and lengths are 32-bit */
        if (err_offset)
            *err_offset = 0;
        if (err_msg)
            *err_msg = "Document too large";
        return JSON_PARSE_NOMEM;
    }
    p.vals.segs = p.vals.first_segs;
    p.mems.segs = p.mems.first_segs;
    p.start = p.cur = (const unsigned char *)(text ? text : "");
    p.end = p.start + len;
    skip_ws(&p);
    st = parse_value(&p, &root, 0);
    if (!st) {
        skip_ws(&p);
        if (p.cur != p.end)
            st = fail(&p, p.cur, "Extra data");
    }
    if (!st) {
        if ((v = mem_arena_alloc(arena, sizeof(*v)))) {
            *v = root;
            *out = v;
            return JSON_PARSE_OK;
        }
        st = no_memory(&p);
    }
    if (err_offset)
        *err_offset = (size_t)(p.err_at - p.start);
    if (err_msg)
        *err_msg = p.err_msg;
    return st;
}
