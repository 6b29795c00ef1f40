/* json/value.c: what a handler does with a parsed struct crest_json_value (crest.h): look up
 * an object member and write a value back out through the JSON writer. Parsing is json_parse.c's
 * job, the text json_write.c's. */
#include "crest.h"

#include <string.h>

/* Members are scanned from the last, so a duplicate key answers with its final value, as Python's
 * json (a dict filled in order) does. The length comparison comes first: a key with an embedded
 * U+0000 is longer than any C string that matches its first bytes. */
CREST_API const struct crest_json_value *crest_json_get(const struct crest_json_value *object,
                                                        const char *key)
{
    if (!object || object->type != CREST_JSON_OBJECT || !key)
        return NULL;
    size_t n = strlen(key);
    for (uint32_t i = object->len; i-- > 0;) {
        const struct crest_json_member *m = &object->members[i];
        if (m->key.len == n && memcmp(m->key.ptr, key, n) == 0)
            return &m->value;
    }
    return NULL;
}

/* Recursion depth is the value's nesting, which the writer caps anyway (JSON_WRITE_MAX_DEPTH, past
 * which it records -EINVAL): once the writer has failed, nothing more is walked. A NULL value is
 * written as null. */
CREST_API void crest_json_write_value(struct crest_json *j, const struct crest_json_value *v)
{
    if (crest_json_error(j))
        return;
    if (!v) {
        crest_json_null(j);
        return;
    }
    switch (v->type) {
    case CREST_JSON_NULL:
        crest_json_null(j);
        break;
    case CREST_JSON_FALSE:
    case CREST_JSON_TRUE:
        crest_json_bool(j, v->type == CREST_JSON_TRUE);
        break;
    case CREST_JSON_NUMBER:
        if (v->is_integer)
            crest_json_int(j, v->integer);
        else
            crest_json_double(j, v->number);
        break;
    case CREST_JSON_STRING:
        crest_json_string_len(j, v->string, v->len);
        break;
    case CREST_JSON_ARRAY:
        crest_json_array_begin(j);
        for (uint32_t i = 0; i < v->len; i++)
            crest_json_write_value(j, &v->items[i]);
        crest_json_array_end(j);
        break;
    case CREST_JSON_OBJECT:
        crest_json_object_begin(j);
        for (uint32_t i = 0; i < v->len; i++) {
            crest_json_key_len(j, v->members[i].key.ptr, v->members[i].key.len);
            crest_json_write_value(j, &v->members[i].value);
        }
        crest_json_object_end(j);
        break;
    default:
        crest_json_null(j); /* not a type crest makes: write something valid */
        break;
    }
}
