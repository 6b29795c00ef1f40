/* tests/fuzz/fuzz_json_parse.c: the JSON parser (app/json_parse.c) and the value writer
 * (app/json_value.c, app/json_write.c) on arbitrary bytes. A text that parses is written back
 * with crest_json_write_value; that output must parse again into the same tree (strings byte for
 * byte, numbers by value, non-finite numbers as null) and write back to the very same bytes. A
 * text that does not parse must say where and why. The arena's first chunk is a small stack
 * buffer, so large documents spill onto the heap; after mem_arena_reset no MEM_ARENA byte may
 * be live, and no MEM_JSON byte after the writers are freed. */
#include "fuzz.h"

#include <math.h>
#include <string.h>

#include "crest.h"
#include "mem/arena.h"
#include "mem/mem.h"
#include "json/json.h"

static int64_t live_bytes(enum mem_tag tag)
{
    struct mem_tag_stats st;

    mem_stats(tag, &st);
    return st.live_bytes;
}

static double number_of(const struct crest_json_value *v)
{
    return v->is_integer ? (double)v->integer : v->number;
}

/* a: the input's tree; b: the tree of what a was written as. */
static void check_same_tree(const struct crest_json_value *a, const struct crest_json_value *b)
{
    if (a->type == CREST_JSON_NUMBER && !isfinite(number_of(a))) {
        FUZZ_CHECK(b->type == CREST_JSON_NULL); /* JSON cannot say it: the writer says null */
        return;
    }
    FUZZ_CHECK(a->type == b->type);
    switch (a->type) {
    case CREST_JSON_NUMBER:
        FUZZ_CHECK(number_of(a) == number_of(b));
        if (a->is_integer && b->is_integer)
            FUZZ_CHECK(a->integer == b->integer);
        break;
    case CREST_JSON_STRING:
        FUZZ_CHECK(a->len == b->len && memcmp(a->string, b->string, a->len) == 0);
        FUZZ_CHECK(a->string[a->len] == '\0' && b->string[b->len] == '\0');
        break;
    case CREST_JSON_ARRAY:
        FUZZ_CHECK(a->len == b->len);
        for (uint32_t i = 0; i < a->len; i++)
            check_same_tree(&a->items[i], &b->items[i]);
        break;
    case CREST_JSON_OBJECT:
        FUZZ_CHECK(a->len == b->len);
        for (uint32_t i = 0; i < a->len; i++) {
            const struct crest_json_member *x = &a->members[i], *y = &b->members[i];
            FUZZ_CHECK(x->key.len == y->key.len && memcmp(x->key.ptr, y->key.ptr, x->key.len) == 0);
            check_same_tree(&x->value, &y->value);
        }
        break;
    default:
        FUZZ_CHECK(a->type <= CREST_JSON_TRUE);
        break;
    }
}

/* Parses text, checking what a failure reports; NULL when it does not parse. */
static struct crest_json_value *parse(const char *text, size_t len, struct mem_arena *arena)
{
    struct crest_json_value *root = NULL;
    size_t err_offset = (size_t)-1;
    const char *err_msg = NULL;
    enum json_parse_status rc = json_parse(text, len, arena, &root, &err_offset, &err_msg);

    if (rc == JSON_PARSE_OK) {
        FUZZ_CHECK(root != NULL);
        return root;
    }
    FUZZ_CHECK(rc == JSON_PARSE_SYNTAX || rc == JSON_PARSE_DEPTH);
    FUZZ_CHECK(err_offset <= len && err_msg != NULL && err_msg[0] != '\0');
    return NULL;
}

static struct crest_json *write_value(const struct crest_json_value *v)
{
    struct crest_json *j = crest_json_new();

    FUZZ_CHECK(j != NULL);
    crest_json_write_value(j, v);
    FUZZ_CHECK(crest_json_error(j) == 0);
    return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    _Alignas(16) char first[512];
    struct mem_arena arena;
    struct crest_json_value *root, *again;

    mem_arena_init(&arena, first, sizeof(first));
    root = parse((const char *)data, size, &arena);
    if (root) {
        struct crest_json *w1 = write_value(root);
        struct crest_str t1 = crest_json_text(w1);
        again = parse(t1.ptr, t1.len, &arena);
        FUZZ_CHECK(again != NULL);
        check_same_tree(root, again);
        struct crest_json *w2 = write_value(again);
        struct crest_str t2 = crest_json_text(w2);
        FUZZ_CHECK(t1.len == t2.len && memcmp(t1.ptr, t2.ptr, t1.len) == 0);
        crest_json_free(w2);
        crest_json_free(w1);
    }
    mem_arena_reset(&arena);
    FUZZ_CHECK(live_bytes(MEM_ARENA) == 0);
    FUZZ_CHECK(live_bytes(MEM_JSON) == 0);
    return 0;
}
