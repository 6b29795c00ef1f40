/* req/multipart.c: multipart/form-data (RFC 7578 on RFC 2046 5.1) parsed incrementally, for file
 * uploads taken as a stream: bytes in any pieces, parts out through callbacks, each part's data as
 * it arrives. The parser holds the delimiter, its state and one part's header section (up to
 * max_header_bytes); a part's data is never held, so a file of any size costs nothing more. A
 * byte loop over named states, like http/parse.c; what a part means to the application is its
 * callbacks' business. */
#include "req/req.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

enum mp_state {
    MP_PREAMBLE, /* before the first delimiter: ignored (RFC 2046 5.1.1) */
    MP_AFTER,    /* a delimiter matched: "--" closes, else padding then CRLF */
    MP_CLOSE,    /* one '-' of the close delimiter seen */
    MP_PADDING,  /* transport padding (spaces, tabs) before the CRLF */
    MP_LF,       /* the CR after a delimiter seen */
    MP_HEADERS,  /* a part's header section, gathered into hbuf until its empty line */
    MP_DATA,     /* a part's data, handed over as it comes, up to the next delimiter */
    MP_EPILOGUE, /* after the close delimiter: ignored */
};

enum {
    MP_DEFAULT_PARTS = 100,
    MP_DEFAULT_HEADER_BYTES = 4096,
    MP_DEFAULT_FIELD_BYTES = 1 << 20,
};

static int fail(struct crest_multipart *mp, int err, const char *why)
{
    if (!mp->err) {
        mp->err = err;
        mp->error = why;
    }
    return mp->err;
}

/* RFC 2046 5.1.1: bcharsnospace and space, 1 to 70 of them, not ending with a space. */
static bool boundary_ok(const char *b, size_t len)
{
    if (len < 1 || len > 70 || b[len - 1] == ' ')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)b[i];
        if (!((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
              strchr("'()+_,-./:=? ", c)))
            return false;
    }
    return true;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* The next "; name=value" parameter from p (value a token or a quoted-string, whose escapes are
 * resolved in place when unquote is set, else kept). Returns where it ended, or NULL when
 * malformed. */
static char *next_param(char *p, char *end, struct crest_str *name, struct crest_str *value,
                        bool unquote)
{
    p = (char *)skip_ws(p, end);
    if (p == end || *p != ';')
        return NULL;
    p = (char *)skip_ws(p + 1, end);
    char *n = p;
    while (p < end && *p != '=' && *p != ';' && *p != ' ' && *p != '\t')
        p++;
    *name = (struct crest_str){n, (size_t)(p - n)};
    p = (char *)skip_ws(p, end);
    if (p == end || *p != '=' || name->len == 0)
        return NULL;
    p = (char *)skip_ws(p + 1, end);
    if (p < end && *p == '"') {
        char *out = ++p, *v = p;
        for (; p < end && *p != '"'; p++) {
            if (*p == '\\' && p + 1 < end)
                p++; /* quoted-pair */
            if (unquote)
                *out++ = *p;
        }
        if (p == end)
            return NULL; /* unterminated quoted-string */
        *value = (struct crest_str){v, (size_t)((unquote ? out : p) - v)};
        return p + 1;
    }
    char *v = p;
    while (p < end && *p != ';' && *p != ' ' && *p != '\t')
        p++;
    *value = (struct crest_str){v, (size_t)(p - v)};
    return value->len ? p : NULL;
}

int req_multipart_boundary(struct crest_str content_type, char *copy, size_t cap,
                           struct crest_str *out)
{
    static const char type[] = "multipart/form-data";
    size_t n = sizeof(type) - 1;

    if (!content_type.ptr || content_type.len < n || content_type.len >= cap ||
        strncasecmp(content_type.ptr, type, n) != 0)
        return -EINVAL;
    memcpy(copy, content_type.ptr, content_type.len);
    char *p = copy + n, *end = copy + content_type.len;
    while (skip_ws(p, end) < end) {
        struct crest_str name, value;
        p = next_param(p, end, &name, &value, true);
        if (!p)
            return -EINVAL;
        if (name.len == 8 && strncasecmp(name.ptr, "boundary", 8) == 0) {
            if (!boundary_ok(value.ptr, value.len))
                return -EINVAL;
            *out = value;
            return 0;
        }
    }
    return -EINVAL;
}

void req_multipart_init(struct crest_multipart *mp, struct crest_str boundary,
                        const struct crest_multipart_config *cfg, char *hbuf)
{
    memset(mp, 0, sizeof(*mp));
    mp->cfg = *cfg;
    if (!mp->cfg.max_parts)
        mp->cfg.max_parts = MP_DEFAULT_PARTS;
    if (!mp->cfg.max_header_bytes)
        mp->cfg.max_header_bytes = MP_DEFAULT_HEADER_BYTES;
    if (!mp->cfg.max_field_bytes)
        mp->cfg.max_field_bytes = MP_DEFAULT_FIELD_BYTES;
    memcpy(mp->delim, "\r\n--", 4);
    memcpy(mp->delim + 4, boundary.ptr, boundary.len);
    mp->delim_len = (uint8_t)(4 + boundary.len);
    mp->hbuf = hbuf;
    mp->state = MP_PREAMBLE;
    mp->matched = 2; /* the body may start with the delimiter, without the CRLF before it */
}

uint32_t req_multipart_header_bytes(const struct crest_multipart_config *cfg)
{
    return cfg->max_header_bytes ? cfg->max_header_bytes : MP_DEFAULT_HEADER_BYTES;
}

/* ---- a part's header section ---- */

/* Content-Disposition: form-data; name="..."; filename="..." (RFC 7578 4.2). */
static int disposition(struct crest_multipart *mp, char *v, char *end)
{
    static const char fd[] = "form-data";
    struct crest_str name, value;

    if ((size_t)(end - v) < sizeof(fd) - 1 || strncasecmp(v, fd, sizeof(fd) - 1) != 0)
        return fail(mp, -EBADMSG, "A part's Content-Disposition is not form-data");
    for (char *p = v + sizeof(fd) - 1; skip_ws(p, end) < end;) {
        p = next_param(p, end, &name, &value, true);
        if (!p)
            return fail(mp, -EBADMSG, "Malformed Content-Disposition in a part");
        if (name.len == 4 && strncasecmp(name.ptr, "name", 4) == 0)
            mp->part.name = value;
        else if (name.len == 8 && strncasecmp(name.ptr, "filename", 8) == 0)
            mp->part.filename = value;
    }
    return 0;
}

/* One "Name: value" line (CRLF excluded); fields other than these two are allowed and ignored. */
static int header_line(struct crest_multipart *mp, char *line, char *end, bool *seen)
{
    char *colon = memchr(line, ':', (size_t)(end - line));
    if (!colon || colon == line || *line == ' ' || *line == '\t')
        return fail(mp, -EBADMSG, "Malformed header in a part"); /* obs-fold is refused too */
    char *v = (char *)skip_ws(colon + 1, end), *vend = end;
    while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
        vend--;
    size_t n = (size_t)(colon - line);
    if (n == 19 && strncasecmp(line, "content-disposition", 19) == 0) {
        *seen = true;
        return disposition(mp, v, vend);
    }
    if (n == 12 && strncasecmp(line, "content-type", 12) == 0)
        mp->part.content_type = (struct crest_str){v, (size_t)(vend - v)};
    return 0;
}

/* The header section is whole in hbuf (ending with the empty line): the part begins. */
static int part_begin(struct crest_multipart *mp)
{
    char *p = mp->hbuf, *end = mp->hbuf + mp->hlen - 2; /* the empty line's CRLF */
    bool seen = false;

    mp->part = (struct crest_part){.index = mp->n_parts};
    while (p < end) {
        char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol)
            return fail(mp, -EBADMSG, "Malformed header in a part");
        if (header_line(mp, p, eol, &seen) != 0)
            return mp->err;
        p = eol + 2;
    }
    if (!seen || !mp->part.name.ptr)
        return fail(mp, -EBADMSG, "A part has no form-data name");
    if (++mp->n_parts > mp->cfg.max_parts)
        return fail(mp, -EMSGSIZE, "Too many parts in the form");
    mp->part_bytes = 0;
    mp->in_part = true;
    int err = mp->cfg.part_begin ? mp->cfg.part_begin(mp->cfg.ud, &mp->part) : 0;
    return err ? fail(mp, err, "The form's part was refused") : 0;
}

static int header_byte(struct crest_multipart *mp, char c)
{
    if (mp->hlen == mp->cfg.max_header_bytes)
        return fail(mp, -EMSGSIZE, "A part's headers are too large");
    mp->hbuf[mp->hlen++] = c;
    if (c != '\n' || mp->hlen < 2 || mp->hbuf[mp->hlen - 2] != '\r')
        return 0;
    if (mp->hlen == 2 || (mp->hlen >= 4 && memcmp(mp->hbuf + mp->hlen - 4, "\r\n\r\n", 4) == 0)) {
        mp->state = MP_DATA;
        mp->matched = 0;
        return part_begin(mp);
    }
    return 0;
}

/* ---- data and delimiters ---- */

static int emit(struct crest_multipart *mp, const char *data, size_t len)
{
    if (!len || mp->state != MP_DATA)
        return 0; /* the preamble is dropped */
    mp->part_bytes += len;
    if (!mp->part.filename.ptr && mp->part_bytes > mp->cfg.max_field_bytes)
        return fail(mp, -EMSGSIZE, "A form field is too large");
    if (mp->part.filename.ptr && mp->cfg.max_file_bytes && mp->part_bytes > mp->cfg.max_file_bytes)
        return fail(mp, -EMSGSIZE, "A file in the form is too large");
    int err = mp->cfg.part_data ? mp->cfg.part_data(mp->cfg.ud, &mp->part, data, len) : 0;
    return err ? fail(mp, err, "The form's part was refused") : 0;
}

static int delimiter_seen(struct crest_multipart *mp)
{
    bool had = mp->state == MP_DATA;

    mp->state = MP_AFTER;
    mp->matched = 0;
    if (!had)
        return 0;
    mp->in_part = false;
    int err = mp->cfg.part_end ? mp->cfg.part_end(mp->cfg.ud, &mp->part) : 0;
    return err ? fail(mp, err, "The form's part was refused") : 0;
}

/* Preamble or data from buf[*i]: what is not a delimiter is handed on, in runs. Only the
 * delimiter's first byte is a CR (a boundary holds none), so when a partial match fails, the bytes
 * matched so far are data and only the failing byte can start a new match. */
static int scan(struct crest_multipart *mp, const char *buf, size_t len, size_t *i)
{
    while (*i < len) {
        if (mp->matched == 0) {
            const char *cr = memchr(buf + *i, '\r', len - *i);
            size_t run = cr ? (size_t)(cr - (buf + *i)) : len - *i;
            if (emit(mp, buf + *i, run) != 0)
                return mp->err;
            *i += run;
            if (!cr)
                return 0;
            mp->matched = 1;
            (*i)++;
            continue;
        }
        if (buf[*i] == mp->delim[mp->matched]) {
            (*i)++;
            if (++mp->matched == mp->delim_len)
                return delimiter_seen(mp);
            continue;
        }
        uint8_t held = mp->matched;
        mp->matched = 0;
        if (mp->state == MP_DATA && emit(mp, mp->delim, held) != 0)
            return mp->err;
    }
    return 0;
}

/* One byte of what follows a delimiter (RFC 2046: transport-padding CRLF, or "--"). */
static int after_byte(struct crest_multipart *mp, char c)
{
    switch (mp->state) {
    case MP_AFTER:
        if (c == '-') {
            mp->state = MP_CLOSE;
            return 0;
        }
        mp->state = MP_PADDING;
        __attribute__((fallthrough));
    case MP_PADDING:
        if (c == ' ' || c == '\t')
            return 0;
        if (c != '\r')
            return fail(mp, -EBADMSG, "Malformed multipart delimiter");
        mp->state = MP_LF;
        return 0;
    case MP_CLOSE:
        if (c != '-')
            return fail(mp, -EBADMSG, "Malformed multipart delimiter");
        mp->state = MP_EPILOGUE;
        return 0;
    default: /* MP_LF */
        if (c != '\n')
            return fail(mp, -EBADMSG, "Malformed multipart delimiter");
        mp->state = MP_HEADERS;
        mp->hlen = 0;
        return 0;
    }
}

int req_multipart_feed(struct crest_multipart *mp, const char *buf, size_t len)
{
    size_t i = 0;

    while (i < len && !mp->err) {
        switch (mp->state) {
        case MP_PREAMBLE:
        case MP_DATA:
            if (scan(mp, buf, len, &i) != 0)
                return mp->err;
            break;
        case MP_HEADERS:
            if (header_byte(mp, buf[i++]) != 0)
                return mp->err;
            break;
        case MP_EPILOGUE:
            return 0; /* ignored, however long */
        default:
            if (after_byte(mp, buf[i++]) != 0)
                return mp->err;
            break;
        }
    }
    return mp->err;
}

int req_multipart_finish(struct crest_multipart *mp)
{
    if (mp->err)
        return mp->err;
    if (mp->state != MP_EPILOGUE)
        return fail(mp, -EBADMSG, "Multipart body truncated");
    return 0;
}

/* ---- crest.h ---- */

CREST_API int crest_multipart_new(struct crest_req *req, const struct crest_multipart_config *cfg,
                                  struct crest_multipart **out)
{
    char copy[256];
    struct crest_str boundary;

    *out = NULL;
    if (req_multipart_boundary(crest_req_header(req, "Content-Type"), copy, sizeof(copy),
                               &boundary) != 0)
        return -EINVAL;
    struct crest_multipart *mp = crest_req_alloc(req, sizeof(*mp));
    char *hbuf = crest_req_alloc(req, req_multipart_header_bytes(cfg));
    if (!mp || !hbuf)
        return -ENOMEM;
    req_multipart_init(mp, boundary, cfg, hbuf);
    *out = mp;
    return 0;
}

CREST_API int crest_multipart_feed(struct crest_multipart *mp, const void *data, size_t len)
{
    return req_multipart_feed(mp, data, len);
}

CREST_API int crest_multipart_finish(struct crest_multipart *mp)
{
    return req_multipart_finish(mp);
}

CREST_API const char *crest_multipart_error(const struct crest_multipart *mp)
{
    return mp->err ? mp->error : NULL;
}
