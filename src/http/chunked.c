/* http/chunked.c: the chunked transfer-coding decoder (RFC 9112 7.1). One byte loop over named
 * states, saved in the caller's struct when the input runs out, so a body split at any byte decodes
 * the same. Chunk data is moved to the front of the buffer a run at a time; everything else is
 * validated byte by byte and dropped. It is strict on purpose: a decoder that reads a body
 * differently from a proxy in front of us is how requests get smuggled, so anything the grammar
 * does not allow is an error, never a guess. Body size limits are the caller's job. */
#include "http/chunked.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

/* RFC 9112 7.1 sets no limit on line length; these bound the bytes a client can make us scan
 * for nothing. Each counts the line or section whole, CRLFs included. */
static const uint32_t LINE_MAX_BYTES = 8192;
static const uint32_t TRAILER_MAX_BYTES = 8192;
/* 16 hex digits fill a uint64_t; a 17th could overflow it. Leading zeros count too. */
static const uint8_t SIZE_DIGITS_MAX = 16;

enum chunked_state {
    /* chunk-size [ chunk-ext ] CRLF; the last-chunk's line is read by the same states */
    S_SIZE_START, /* 0: a zeroed struct expects a chunk size */
    S_SIZE,
    S_EXT_SEMI,       /* BWS after the size or a value: only ';' may follow */
    S_EXT_NAME_START, /* BWS after ';' */
    S_EXT_NAME,
    S_EXT_EQ,        /* BWS after a name: '=' or ';' may follow */
    S_EXT_VAL_START, /* BWS after '=' */
    S_EXT_TOKEN,
    S_EXT_QUOTED,
    S_EXT_QUOTED_PAIR,
    S_EXT_VAL_END, /* after the closing DQUOTE */
    S_SIZE_LF,
    /* chunk-data CRLF */
    S_DATA,
    S_DATA_CR,
    S_DATA_LF,
    /* trailer-section CRLF (RFC 9112 7.1.2) */
    S_TRAILER_START,
    S_FIELD_NAME,
    S_FIELD_VALUE,
    S_FIELD_LF,
    S_END_LF,
    /* terminal: further calls return the same answer */
    S_DONE,
    S_ERROR,
};

static_assert(S_SIZE_START == 0, "chunked.h promises that a zeroed struct expects a chunk size");
static_assert(S_ERROR <= UINT8_MAX, "the state is saved in a uint8_t");

static bool is_ws(unsigned char ch)
{
    return ch == ' ' || ch == '\t';
}

/* tchar (RFC 9110 5.6.2) */
static bool is_tchar(unsigned char ch)
{
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
        return true;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* field-vchar / SP / HTAB (RFC 9110 5.5): VCHAR or obs-text, never a control character or DEL.
 * The same set may follow a backslash in a quoted-pair (RFC 9110 5.6.4). */
static bool is_field_char(unsigned char ch)
{
    return is_ws(ch) || (ch >= 0x21 && ch != 0x7f);
}

/* qdtext (RFC 9110 5.6.4): a field character other than DQUOTE and backslash. */
static bool is_qdtext(unsigned char ch)
{
    return is_field_char(ch) && ch != '"' && ch != '\\';
}

static bool is_hexdig(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f');
}

/* chunk-size = 1*HEXDIG (RFC 9112 7.1); ch is a HEXDIG */
static enum chunked_state size_digit(struct http_chunked *c, unsigned char ch)
{
    unsigned value = ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10;

    if (++c->size_digits > SIZE_DIGITS_MAX)
        return S_ERROR;
    c->remaining = c->remaining << 4 | value;
    return S_SIZE;
}

/* After the size, a name or a value (RFC 9112 7.1.1): chunk-ext = *( BWS ";" BWS chunk-ext-name
 * [ BWS "=" BWS chunk-ext-val ] ). Whitespace is BWS only before a ';'; none may end the line. */
static enum chunked_state after_ext_item(unsigned char ch)
{
    if (ch == ';')
        return S_EXT_NAME_START;
    if (is_ws(ch))
        return S_EXT_SEMI;
    if (ch == '\r')
        return S_SIZE_LF;
    return S_ERROR;
}

/* The end of a size line: a chunk's data follows, or after the last chunk (size 0), trailers. */
static enum chunked_state size_line_end(struct http_chunked *c)
{
    c->trailer_bytes = 0;
    return c->remaining ? S_DATA : S_TRAILER_START;
}

/* The next state after byte ch in state s, for every state but S_DATA (copied by runs). */
static enum chunked_state step(struct http_chunked *c, enum chunked_state s, unsigned char ch)
{
    switch (s) {
    case S_SIZE_START:
        /* 1*HEXDIG: no sign, no "0x", no leading whitespace, not empty */
        return is_hexdig(ch) ? size_digit(c, ch) : S_ERROR;
    case S_SIZE:
        return is_hexdig(ch) ? size_digit(c, ch) : after_ext_item(ch);
    case S_EXT_SEMI:
        return is_ws(ch) ? S_EXT_SEMI : ch == ';' ? S_EXT_NAME_START : S_ERROR;
    case S_EXT_NAME_START:
        /* chunk-ext-name = token: not empty */
        return is_ws(ch) ? S_EXT_NAME_START : is_tchar(ch) ? S_EXT_NAME : S_ERROR;
    case S_EXT_NAME:
        if (is_tchar(ch))
            return S_EXT_NAME;
        return is_ws(ch) ? S_EXT_EQ : ch == '=' ? S_EXT_VAL_START : after_ext_item(ch);
    case S_EXT_EQ:
        if (is_ws(ch))
            return S_EXT_EQ;
        return ch == '=' ? S_EXT_VAL_START : ch == ';' ? S_EXT_NAME_START : S_ERROR;
    case S_EXT_VAL_START:
        /* chunk-ext-val = token / quoted-string: not empty */
        if (is_ws(ch))
            return S_EXT_VAL_START;
        return ch == '"' ? S_EXT_QUOTED : is_tchar(ch) ? S_EXT_TOKEN : S_ERROR;
    case S_EXT_TOKEN:
        return is_tchar(ch) ? S_EXT_TOKEN : after_ext_item(ch);
    case S_EXT_QUOTED:
        if (ch == '"')
            return S_EXT_VAL_END;
        return ch == '\\' ? S_EXT_QUOTED_PAIR : is_qdtext(ch) ? S_EXT_QUOTED : S_ERROR;
    case S_EXT_QUOTED_PAIR:
        return is_field_char(ch) ? S_EXT_QUOTED : S_ERROR;
    case S_EXT_VAL_END:
        return after_ext_item(ch);
    case S_SIZE_LF:
        /* RFC 9112 2.2 lets a recipient accept a bare LF; we don't: a proxy that reads it
         * differently would see another body */
        return ch == '\n' ? size_line_end(c) : S_ERROR;
    case S_DATA_CR:
        /* exactly CRLF after chunk-data: a longer chunk than its size said is an error */
        return ch == '\r' ? S_DATA_LF : S_ERROR;
    case S_DATA_LF:
        if (ch != '\n')
            return S_ERROR;
        c->line_bytes = 0;
        c->size_digits = 0;
        return S_SIZE_START;
    case S_TRAILER_START:
        /* a field-name is a token (RFC 9112 5.1); a line starting with SP or HTAB would be
         * obs-fold, which a message must not contain here (RFC 9112 5.2) */
        return ch == '\r' ? S_END_LF : is_tchar(ch) ? S_FIELD_NAME : S_ERROR;
    case S_FIELD_NAME:
        /* no whitespace between the field name and the colon (RFC 9112 5.1) */
        return is_tchar(ch) ? S_FIELD_NAME : ch == ':' ? S_FIELD_VALUE : S_ERROR;
    case S_FIELD_VALUE:
        return is_field_char(ch) ? S_FIELD_VALUE : ch == '\r' ? S_FIELD_LF : S_ERROR;
    case S_FIELD_LF:
        return ch == '\n' ? S_TRAILER_START : S_ERROR;
    case S_END_LF:
        return ch == '\n' ? S_DONE : S_ERROR;
    case S_DATA:
    case S_DONE:
    case S_ERROR:
        break;
    }
    assert(!"step() called in a state it does not handle");
    return S_ERROR;
}

/* Counts one more byte against the limit of the line or section state s belongs to. */
static bool over_limit(struct http_chunked *c, enum chunked_state s)
{
    if (s <= S_SIZE_LF)
        return ++c->line_bytes > LINE_MAX_BYTES;
    if (s >= S_TRAILER_START)
        return ++c->trailer_bytes > TRAILER_MAX_BYTES;
    return false;
}

enum http_chunked_status http_chunked_decode(struct http_chunked *c, char *buf, uint32_t *len,
                                             uint32_t *consumed)
{
    enum chunked_state s = c->state;
    uint32_t n = *len;
    uint32_t i = 0;   /* next input byte */
    uint32_t out = 0; /* end of the data moved so far; out <= i, so it never overwrites input */

    while (i < n && s < S_DONE) {
        if (s == S_DATA) {
            /* one memmove per run: data may be as long as the buffer */
            uint32_t run = c->remaining < n - i ? (uint32_t)c->remaining : n - i;
            memmove(buf + out, buf + i, run);
            out += run;
            i += run;
            c->remaining -= run;
            s = c->remaining ? S_DATA : S_DATA_CR;
            continue;
        }
        s = over_limit(c, s) ? S_ERROR : step(c, s, (unsigned char)buf[i]);
        i++;
    }
    c->state = (uint8_t)s;
    *len = out;
    *consumed = i;
    if (s == S_ERROR)
        return HTTP_CHUNKED_ERROR;
    return s == S_DONE ? HTTP_CHUNKED_DONE : HTTP_CHUNKED_AGAIN;
}
