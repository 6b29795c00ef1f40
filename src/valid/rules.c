/* valid/rules.c: pydantic's rules beyond type, lengths and bounds, each failing with pydantic
 * v2's type, msg and ctx: strip (str_strip_whitespace), pattern (string_pattern_mismatch), format
 * (valid/format.c's), literals (literal_error), multiple_of, unique items, extra="forbid"
 * (extra_forbidden), and the application's validators of a field or a model (value_error). The
 * walk that calls them is valid/schema.c's. */
#include "valid/valid.h"

#include "mem/arena.h"
#include "req/req.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static bool is_space(unsigned char ch)
{
    /* Python's str.strip() strips Unicode whitespace; these are the ASCII ones and the
     * information separators 0x1c-0x1f, which str.isspace() also counts */
    return ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1c && ch <= 0x1f);
}

bool valid_rules_strip(struct valid_check *c, struct crest_json_value *out)
{
    const char *s = out->string;
    size_t b = 0, e = out->len;
    while (b < e && is_space((unsigned char)s[b]))
        b++;
    while (e > b && is_space((unsigned char)s[e - 1]))
        e--;
    if (e == out->len) { /* the end stays: the text after b still ends in its NUL */
        out->string = s + b;
        out->len = (uint32_t)(e - b);
        return true;
    }
    char *copy = mem_arena_alloc(c->arena, e - b + 1);
    if (!copy) {
        c->problems->err = -ENOMEM;
        return false;
    }
    memcpy(copy, s + b, e - b);
    copy[e - b] = '\0';
    out->string = copy;
    out->len = (uint32_t)(e - b);
    return true;
}

static void add(struct valid_check *c, const char *type, const char *msg,
                const struct crest_json_value *v, const struct valid_ctx *ctx, int n_ctx)
{
    valid_problems_add(c->problems, &c->loc, type, msg, (struct valid_input){.json = v}, ctx,
                       n_ctx);
}

static bool check_pattern(struct valid_check *c, const struct crest_field *f,
                          const struct crest_json_value *out, const struct crest_json_value *v)
{
    struct valid_regex *re;
    const char *why;
    /* compiled per request in the arena: a few hundred bytes for a pattern of tens of characters,
     * and no state shared between workers (the route check compiled it once already) */
    int rc = valid_regex_compile(f->pattern, c->arena, &re, &why);
    if (rc == 0)
        rc = valid_regex_search(re, out->string, out->len, c->arena);
    if (rc < 0) {
        c->problems->err = -ENOMEM;
        return false;
    }
    if (rc == 1)
        return true;
    char msg[300];
    snprintf(msg, sizeof(msg), "String should match pattern '%s'", f->pattern);
    struct valid_ctx ctx = {.key = "pattern", .str = f->pattern};
    add(c, "string_pattern_mismatch", msg, v, &ctx, 1);
    return false;
}

/* An address as pydantic hands it on (email-validator's normalized form): the domain in lower
 * case, the local part as sent (RFC 5321 lets it be case-sensitive). A copy in the arena only
 * when a letter changes. */
static bool lower_domain(struct valid_check *c, struct crest_json_value *out)
{
    const char *at = memrchr(out->string, '@', out->len);
    size_t from = at ? (size_t)(at - out->string) : out->len, i = from;
    while (i < out->len && !(out->string[i] >= 'A' && out->string[i] <= 'Z'))
        i++;
    if (i == out->len)
        return true;
    char *copy = mem_arena_alloc(c->arena, out->len + 1);
    if (!copy) {
        c->problems->err = -ENOMEM;
        return false;
    }
    memcpy(copy, out->string, out->len + 1);
    for (; i < out->len; i++)
        if (copy[i] >= 'A' && copy[i] <= 'Z')
            copy[i] = (char)(copy[i] | 0x20);
    out->string = copy;
    return true;
}

/* pydantic's words for each format: the error type, and the message before the detail (the
 * ctx key is "reason" for emails, "error" for the rest; IP addresses have no detail). */
static bool check_format(struct valid_check *c, uint8_t format, struct crest_json_value *out,
                         const struct crest_json_value *v)
{
    static const char *const lead[] = {
        [CREST_FORMAT_EMAIL] = "value is not a valid email address: ",
        [CREST_FORMAT_UUID] = "Input should be a valid UUID, ",
        [CREST_FORMAT_DATE] = "Input should be a valid date in the format YYYY-MM-DD, ",
        [CREST_FORMAT_DATE_TIME] = "Input should be a valid datetime, ",
        [CREST_FORMAT_URI] = "Input should be a valid URL, ",
        [CREST_FORMAT_IPV4] = "Input is not a valid IPv4 address",
        [CREST_FORMAT_IPV6] = "Input is not a valid IPv6 address",
    };
    const char *type, *detail;
    if (valid_format_check(format, out->string, out->len, &type, &detail))
        return format != CREST_FORMAT_EMAIL || lower_domain(c, out);
    if (format == CREST_FORMAT_IPV4 || format == CREST_FORMAT_IPV6) {
        add(c, type, lead[format], v, NULL, 0);
        return false;
    }
    char msg[200];
    snprintf(msg, sizeof(msg), "%s%s", lead[format], detail);
    struct valid_ctx ctx = {.key = format == CREST_FORMAT_EMAIL ? "reason" : "error",
                            .str = detail};
    add(c, type, msg, v, &ctx, 1);
    return false;
}

bool valid_rules_string(struct valid_check *c, const struct crest_field *f,
                        struct crest_json_value *out, const struct crest_json_value *v)
{
    if (f->pattern && !check_pattern(c, f, out, v))
        return false;
    if (f->format && !check_format(c, f->format, out, v))
        return false;
    return !f->literals || valid_rules_literal(c, f, out, v);
}

static bool literal_equal(const struct crest_field *f, const char *lit,
                          const struct crest_json_value *out)
{
    if (f->type == CREST_TYPE_STRING)
        return strlen(lit) == out->len && memcmp(lit, out->string, out->len) == 0;
    int64_t x;
    return req_scalar_int64(lit, strlen(lit), &x) == 0 && out->is_integer && out->integer == x;
}

/* pydantic's expected_repr: 'a', 'b' or 'c' (repr of each: quoted strings, bare integers). */
static char *expected_text(struct valid_check *c, const struct crest_field *f)
{
    size_t n = 1;
    for (size_t i = 0; i < f->n_literals; i++)
        n += strlen(f->literals[i]) + 6;
    char *out = mem_arena_alloc(c->arena, n);
    if (!out)
        return NULL;
    size_t at = 0;
    for (size_t i = 0; i < f->n_literals; i++) {
        const char *sep = i == 0 ? "" : i + 1 == f->n_literals ? " or " : ", ";
        const char *q = f->type == CREST_TYPE_STRING ? "'" : "";
        at += (size_t)snprintf(out + at, n - at, "%s%s%s%s", sep, q, f->literals[i], q);
    }
    return out;
}

bool valid_rules_literal(struct valid_check *c, const struct crest_field *f,
                         const struct crest_json_value *out, const struct crest_json_value *v)
{
    for (size_t i = 0; i < f->n_literals; i++)
        if (literal_equal(f, f->literals[i], out))
            return true;
    char *expected = expected_text(c, f);
    char *msg = expected ? mem_arena_alloc(c->arena, strlen(expected) + 20) : NULL;
    if (!msg) {
        c->problems->err = -ENOMEM;
        return false;
    }
    sprintf(msg, "Input should be %s", expected);
    struct valid_ctx ctx = {.key = "expected", .str = expected};
    add(c, "literal_error", msg, v, &ctx, 1);
    return false;
}

bool valid_rules_multiple_of(struct valid_check *c, const struct crest_field *f,
                             const struct crest_json_value *v)
{
    double m = f->multiple_of.value;
    bool ok;
    if (v->is_integer && m == floor(m) && fabs(m) < 9e18) {
        ok = v->integer % (int64_t)m == 0;
    } else {
        /* pydantic-core's float rule: a remainder within a billionth of the value is rounding */
        double rem = fmod(v->number, m), eps = fabs(v->number) / 1e9;
        ok = fabs(rem) <= eps || fabs(fabs(rem) - m) <= eps;
    }
    if (ok)
        return true;
    char bound[40], msg[80];
    valid_problems_format_bound(m, bound, sizeof(bound));
    snprintf(msg, sizeof(msg), "Input should be a multiple of %s", bound);
    struct valid_ctx ctx = {.key = "multiple_of", .num = m};
    add(c, "multiple_of", msg, v, &ctx, 1);
    return false;
}

/* ---- unique items: a hash of each item, equal hashes compared deeply ---- */

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL; /* FNV-1a */
    return h;
}

static uint64_t hash_value(const struct crest_json_value *v, uint64_t h)
{
    h = mix(h, &v->type, 1);
    switch (v->type) {
    case CREST_JSON_NUMBER: {
        double d = v->number == 0 ? 0 : v->number; /* -0 == 0 */
        return mix(h, &d, sizeof(d));
    }
    case CREST_JSON_STRING:
        return mix(h, v->string, v->len);
    case CREST_JSON_ARRAY:
        for (uint32_t i = 0; i < v->len; i++)
            h = hash_value(&v->items[i], h);
        return h;
    case CREST_JSON_OBJECT: {
        uint64_t sum = 0; /* members in any order: their hashes are added */
        for (uint32_t i = 0; i < v->len; i++)
            sum +=
                hash_value(&v->members[i].value, mix(0xcbf29ce484222325ULL, v->members[i].key.ptr,
                                                     v->members[i].key.len));
        return mix(h, &sum, sizeof(sum));
    }
    default:
        return h;
    }
}

static bool equal(const struct crest_json_value *a, const struct crest_json_value *b);

static bool members_equal(const struct crest_json_value *a, const struct crest_json_value *b)
{
    if (a->len != b->len)
        return false;
    for (uint32_t i = 0; i < a->len; i++) {
        const struct crest_json_member *m = &a->members[i];
        char key[256];
        if (m->key.len >= sizeof(key))
            return false; /* compared as different: at worst a duplicate goes unreported */
        memcpy(key, m->key.ptr, m->key.len);
        key[m->key.len] = '\0';
        const struct crest_json_value *other = crest_json_get(b, key);
        if (!other || !equal(&m->value, other))
            return false;
    }
    return true;
}

static bool equal(const struct crest_json_value *a, const struct crest_json_value *b)
{
    if (a->type != b->type || (a->type >= CREST_JSON_STRING && a->len != b->len))
        return false;
    switch (a->type) {
    case CREST_JSON_NUMBER:
        return a->number == b->number; /* 1 and 1.0 are one item, as in a Python set */
    case CREST_JSON_STRING:
        return memcmp(a->string, b->string, a->len) == 0;
    case CREST_JSON_ARRAY:
        for (uint32_t i = 0; i < a->len; i++)
            if (!equal(&a->items[i], &b->items[i]))
                return false;
        return true;
    case CREST_JSON_OBJECT:
        return members_equal(a, b);
    default:
        return true;
    }
}

bool valid_rules_unique(struct valid_check *c, const struct crest_json_value *array)
{
    size_t cap = 16;
    while (cap < 2 * (size_t)array->len)
        cap *= 2;
    /* an open-addressed table of item indexes + 1, so that hostile input costs linear time */
    uint32_t *slots = mem_arena_alloc(c->arena, cap * sizeof(*slots));
    if (!slots) {
        c->problems->err = -ENOMEM;
        return false;
    }
    memset(slots, 0, cap * sizeof(*slots));
    uint64_t seed = 0xcbf29ce484222325ULL ^ (uintptr_t)slots;
    for (uint32_t i = 0; i < array->len; i++) {
        const struct crest_json_value *v = &array->items[i];
        size_t at = hash_value(v, seed) & (cap - 1);
        for (; slots[at]; at = (at + 1) & (cap - 1)) {
            if (!equal(&array->items[slots[at] - 1], v))
                continue;
            struct valid_ctx ctx = {.key = "error", .str = "List should have unique items"};
            valid_loc_push_index(&c->loc, i);
            add(c, "value_error", "Value error, List should have unique items", v, &ctx, 1);
            valid_loc_pop(&c->loc);
            return false;
        }
        slots[at] = i + 1;
    }
    return true;
}

/* ---- the application's validators ---- */

static void value_error(struct valid_check *c, const char *sentence,
                        const struct crest_json_value *v)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "Value error, %s", sentence);
    struct valid_ctx ctx = {.key = "error", .str = sentence};
    add(c, "value_error", msg, v, &ctx, 1);
}

bool valid_rules_check(struct valid_check *c, const struct crest_field *f,
                       const struct crest_json_value *out, const struct crest_json_value *v)
{
    const char *why = f->check(out, f->check_ud);
    if (!why)
        return true;
    value_error(c, why, v); /* the input shown is what was sent, as pydantic shows it */
    return false;
}

bool valid_rules_model_check(struct valid_check *c, const struct crest_schema *schema,
                             const struct crest_json_value *obj, const void *model)
{
    const char *why = schema->check(obj, model, schema->check_ud);
    if (!why)
        return true;
    value_error(c, why, obj);
    return false;
}

static bool declared(const struct crest_schema *schema, struct crest_str key)
{
    for (size_t i = 0; i < schema->n_fields; i++) {
        const char *name = schema->fields[i].name;
        if (strlen(name) == key.len && memcmp(name, key.ptr, key.len) == 0)
            return true;
    }
    return false;
}

bool valid_rules_extra(struct valid_check *c, const struct crest_schema *schema,
                       const struct crest_json_value *v)
{
    bool ok = true;
    for (uint32_t i = 0; i < v->len; i++) {
        const struct crest_json_member *m = &v->members[i];
        if (declared(schema, m->key))
            continue;
        valid_loc_push_key(&c->loc, m->key.ptr, m->key.len);
        add(c, "extra_forbidden", "Extra inputs are not permitted", &m->value, NULL, 0);
        valid_loc_pop(&c->loc);
        ok = false;
    }
    return ok;
}
