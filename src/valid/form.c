/* valid/form.c: query and form models. application/x-www-form-urlencoded text (a query string, or
 * a form body) is turned into the JSON object its schema describes, each value typed as its
 * field says (text to integer, number or boolean with pydantic's *_parsing problems; an array
 * field takes every occurrence of its key), so that the object is then checked and bound by the
 * same walk as a JSON body (valid/schema.c) with every rule of the schema. The text is scanned
 * once per field, never copied whole: a form of any size costs the decoded values only. */
#include "valid/valid.h"

#include "http/percent.h"
#include "mem/arena.h"
#include "req/req.h"

#include <errno.h>
#include <string.h>

struct form_pair {
    struct crest_str key, value; /* raw, still encoded */
};

/* The pair at *i of text, moving *i past it; false at the end. */
static bool next_pair(struct crest_str text, size_t *i, struct form_pair *out)
{
    while (text.ptr && *i < text.len) {
        const char *pair = text.ptr + *i;
        const char *amp = memchr(pair, '&', text.len - *i);
        size_t len = amp ? (size_t)(amp - pair) : text.len - *i;
        *i += len + 1;
        if (len == 0)
            continue; /* "a=1&&b=2": an empty pair, as Python's parse_qsl skips it */
        const char *eq = memchr(pair, '=', len);
        size_t klen = eq ? (size_t)(eq - pair) : len;
        out->key = (struct crest_str){pair, klen};
        out->value = eq ? (struct crest_str){eq + 1, len - klen - 1} : (struct crest_str){"", 0};
        return true;
    }
    return false;
}

/* Decodes raw into the arena, NUL-terminated (Starlette's unquote: malformed escapes kept). */
static bool decode(struct mem_arena *a, struct crest_str raw, struct crest_str *out)
{
    char *d = mem_arena_alloc(a, raw.len + 1);
    if (!d)
        return false;
    long n = http_percent_decode_lenient(raw.ptr, raw.len, true, d);
    d[n] = '\0';
    *out = (struct crest_str){d, (size_t)n};
    return true;
}

static bool key_is(struct mem_arena *a, struct crest_str key, const char *name, bool *oom)
{
    size_t n = strlen(name);
    if (!http_percent_needed(key.ptr, key.len, true))
        return key.len == n && memcmp(key.ptr, name, n) == 0;
    struct crest_str d;
    if (!decode(a, key, &d)) {
        *oom = true;
        return false;
    }
    return d.len == n && memcmp(d.ptr, name, n) == 0;
}

static const char *const parsing[][2] = {
    [CREST_TYPE_INTEGER] =
        {"int_parsing", "Input should be a valid integer, unable to parse string as an integer"},
    [CREST_TYPE_NUMBER] = {"float_parsing",
                           "Input should be a valid number, unable to parse string as a number"},
    [CREST_TYPE_BOOLEAN] = {"bool_parsing",
                            "Input should be a valid boolean, unable to interpret input"},
};

/* One value's text as f's type says; false with the *_parsing problem at c's loc. */
static bool typed(struct valid_check *c, const struct crest_field *f, struct crest_str text,
                  struct crest_json_value *out)
{
    int err = 0;
    memset(out, 0, sizeof(*out));
    switch (f->type) {
    case CREST_TYPE_INTEGER:
        err = req_scalar_int64(text.ptr, text.len, &out->integer);
        out->type = CREST_JSON_NUMBER;
        out->is_integer = true;
        out->number = (double)out->integer;
        break;
    case CREST_TYPE_NUMBER:
        err = req_scalar_double(text.ptr, text.len, &out->number);
        out->type = CREST_JSON_NUMBER;
        break;
    case CREST_TYPE_BOOLEAN: {
        bool b = false;
        err = req_scalar_bool(text.ptr, text.len, &b);
        out->type = b ? CREST_JSON_TRUE : CREST_JSON_FALSE;
        break;
    }
    default: /* strings, and anything else, as the text: the walk refuses what it must */
        out->type = CREST_JSON_STRING;
        out->string = text.ptr;
        out->len = (uint32_t)text.len;
        return true;
    }
    if (err) {
        valid_problems_add(c->problems, &c->loc, parsing[f->type][0], parsing[f->type][1],
                           (struct valid_input){.text = &text}, NULL, 0);
        return false;
    }
    return true;
}

/* Every occurrence of f's name: one value, or for an array each item. 1 found, 0 absent, -1 a
 * problem was recorded (or memory refused). */
static int field_value(struct valid_check *c, const struct crest_field *f, struct crest_str text,
                       struct crest_json_value *out)
{
    bool array = f->type == CREST_TYPE_ARRAY, oom = false, ok = true;
    const struct crest_field *item = array && f->items ? f->items : f;
    struct form_pair pr;
    size_t i = 0, n = 0;
    struct crest_json_value *items = NULL;
    while (next_pair(text, &i, &pr)) {
        if (!key_is(c->arena, pr.key, f->name, &oom))
            continue;
        n++;
        if (!array)
            break;
    }
    if (oom || n == 0)
        return oom ? -1 : 0;
    if (array && !(items = mem_arena_alloc(c->arena, n * sizeof(*items)))) {
        c->problems->err = -ENOMEM;
        return -1;
    }
    for (i = 0, n = 0; next_pair(text, &i, &pr);) {
        struct crest_str v;
        if (!key_is(c->arena, pr.key, f->name, &oom))
            continue;
        if (!decode(c->arena, pr.value, &v)) {
            c->problems->err = -ENOMEM;
            return -1;
        }
        if (array)
            valid_loc_push_index(&c->loc, (int64_t)n);
        ok &= typed(c, item, v, array ? &items[n] : out);
        if (array)
            valid_loc_pop(&c->loc);
        n++;
        if (!array)
            break;
    }
    if (array)
        *out =
            (struct crest_json_value){.type = CREST_JSON_ARRAY, .len = (uint32_t)n, .items = items};
    return ok ? 1 : -1;
}

/* Keys of the text no field declares, as members (for forbid_extra), each with its value. */
static int extras(struct valid_check *c, const struct crest_schema *schema, struct crest_str text,
                  struct crest_json_member *members, uint32_t *n, uint32_t cap)
{
    struct form_pair pr;
    size_t i = 0;
    while (next_pair(text, &i, &pr) && *n < cap) {
        struct crest_str k, v;
        if (!decode(c->arena, pr.key, &k) || !decode(c->arena, pr.value, &v))
            return -ENOMEM;
        bool known = false;
        for (size_t f = 0; f < schema->n_fields && !known; f++)
            known = strcmp(schema->fields[f].name, k.ptr) == 0;
        if (known)
            continue;
        members[*n].key = k;
        members[*n].value = (struct crest_json_value){
            .type = CREST_JSON_STRING, .len = (uint32_t)v.len, .string = v.ptr};
        (*n)++;
    }
    return 0;
}

static size_t count_pairs(struct crest_str text)
{
    struct form_pair pr;
    size_t i = 0, n = 0;
    while (next_pair(text, &i, &pr))
        n++;
    return n;
}

bool valid_form_object(struct valid_check *c, const struct crest_schema *schema,
                       struct crest_str text, struct crest_json_value *out, uint64_t *skip)
{
    size_t cap = schema->n_fields + (schema->forbid_extra ? count_pairs(text) : 0);
    struct crest_json_member *members =
        mem_arena_alloc(c->arena, (cap ? cap : 1) * sizeof(*members));
    uint32_t n = 0;
    *skip = 0;
    if (!members) {
        c->problems->err = -ENOMEM;
        return false;
    }
    for (size_t i = 0; i < schema->n_fields; i++) {
        const struct crest_field *f = &schema->fields[i];
        valid_loc_push_key(&c->loc, f->name, strlen(f->name));
        int found = field_value(c, f, text, &members[n].value);
        valid_loc_pop(&c->loc);
        if (found < 0 && i < 64)
            *skip |= UINT64_C(1) << i; /* its problem is told: the walk says nothing more */
        if (found <= 0)
            continue;
        members[n].key = (struct crest_str){f->name, strlen(f->name)};
        n++;
    }
    if (schema->forbid_extra && extras(c, schema, text, members, &n, (uint32_t)cap) != 0) {
        c->problems->err = -ENOMEM;
        return false;
    }
    *out = (struct crest_json_value){.type = CREST_JSON_OBJECT, .len = n, .members = members};
    return !c->problems->err;
}
