/* tests/fuzz/fuzz_req_multipart.c: the multipart/form-data parser (req/multipart.c) on arbitrary
 * bytes, parsed whole and arriving in pieces cut where the input's first bytes say (fuzz.h), each
 * piece in a fresh heap buffer of its exact size. Both must end alike (status, error text) and
 * report the same parts and data; callbacks come in order (begin, data of at least one byte, end),
 * never more parts than the limit, never more field bytes than its limit. The flags choose small
 * limits, so each is reached. */
#include "fuzz.h"

#include <errno.h>
#include <string.h>

#include "req/req.h"

struct transcript {
    char *text; /* each callback appends its record */
    size_t len, cap;
    bool open; /* between begin and end */
    uint32_t parts;
    uint64_t field_bytes;
    const struct crest_multipart_config *cfg;
};

static void note(struct transcript *t, const void *p, size_t n)
{
    if (t->len + n > t->cap) {
        t->cap = (t->len + n) * 2;
        t->text = realloc(t->text, t->cap);
        FUZZ_CHECK(t->text != NULL);
    }
    memcpy(t->text + t->len, p, n);
    t->len += n;
}

static int on_begin(void *ud, const struct crest_part *part)
{
    struct transcript *t = ud;
    FUZZ_CHECK(!t->open && part->index == t->parts && part->name.ptr);
    t->open = true;
    t->parts++;
    FUZZ_CHECK(t->parts <= t->cfg->max_parts);
    t->field_bytes = 0;
    note(t, "B", 1);
    note(t, part->name.ptr, part->name.len);
    if (part->filename.ptr) {
        note(t, "F", 1);
        note(t, part->filename.ptr, part->filename.len);
    }
    return 0;
}

static int on_data(void *ud, const struct crest_part *part, const void *data, size_t len)
{
    struct transcript *t = ud;
    FUZZ_CHECK(t->open && len > 0);
    t->field_bytes += len;
    if (!part->filename.ptr)
        FUZZ_CHECK(t->field_bytes <= t->cfg->max_field_bytes);
    note(t, data, len);
    return 0;
}

static int on_end(void *ud, const struct crest_part *part)
{
    struct transcript *t = ud;
    (void)part;
    FUZZ_CHECK(t->open);
    t->open = false;
    note(t, "E", 1);
    return 0;
}

static int parse(const char *stream, const struct fuzz_cuts *cuts, uint8_t flags,
                 struct transcript *t, const char **error)
{
    struct crest_multipart_config cfg = {.part_begin = on_begin,
                                         .part_data = on_data,
                                         .part_end = on_end,
                                         .ud = t,
                                         .max_parts = flags & 1 ? 2 : 0,
                                         .max_header_bytes = flags & 2 ? 64 : 0,
                                         .max_field_bytes = flags & 4 ? 8 : 0};
    static const char boundary[] = "b0";
    struct crest_multipart mp;
    char *hbuf = malloc(req_multipart_header_bytes(&cfg));
    uint32_t from = 0;
    int err = 0;

    FUZZ_CHECK(hbuf != NULL);
    req_multipart_init(&mp, (struct crest_str){boundary, 2}, &cfg, hbuf);
    t->cfg = &mp.cfg;
    for (uint32_t k = 0; k <= cuts->n && !err; k++) {
        uint32_t n = cuts->at[k] - from;
        char *piece = malloc(n ? n : 1);
        FUZZ_CHECK(piece != NULL);
        memcpy(piece, stream + from, n);
        err = req_multipart_feed(&mp, piece, n);
        free(piece);
        from = cuts->at[k];
    }
    int end = req_multipart_finish(&mp);
    FUZZ_CHECK(!err || end == err); /* sticky */
    FUZZ_CHECK(end == 0 || end == -EBADMSG || end == -EMSGSIZE);
    FUZZ_CHECK(end != 0 || !t->open); /* a whole body ends every part */
    *error = mp.error;
    free(hbuf);
    return end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_cuts cuts, whole;
    size_t off = fuzz_read_cuts(data, size, &cuts);
    const char *stream = (const char *)data + off;
    struct transcript a = {0}, b = {0};
    const char *error_a, *error_b;

    whole = (struct fuzz_cuts){.n = 0, .at = {cuts.at[cuts.n]}};
    int ra = parse(stream, &whole, cuts.flags, &a, &error_a);
    int rb = parse(stream, &cuts, cuts.flags, &b, &error_b);
    FUZZ_CHECK(ra == rb);
    FUZZ_CHECK((error_a == NULL) == (error_b == NULL));
    FUZZ_CHECK(!error_a || strcmp(error_a, error_b) == 0);
    if (ra == 0) /* on an error the pieces may have reached it after more callbacks */
        FUZZ_CHECK(a.len == b.len && (a.len == 0 || memcmp(a.text, b.text, a.len) == 0));
    free(a.text);
    free(b.text);
    return 0;
}
