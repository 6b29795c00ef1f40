/* valid/loc.c: where a value sits in the request ("body", "name", 0, ...), pushed and popped as
 * validation walks into objects and arrays: the "loc" of a 422 problem. Fixed depth, no
 * allocation; past VALID_LOC_MAX levels the deepest ones are left out. */
#include "valid/valid.h"

#include <string.h>

void valid_loc_push_key(struct valid_loc *loc, const char *key, size_t len)
{
    if (loc->depth < VALID_LOC_MAX) {
        loc->seg[loc->depth].key = key;
        loc->seg[loc->depth].key_len = len;
    }
    loc->depth++;
}

void valid_loc_push_index(struct valid_loc *loc, int64_t index)
{
    if (loc->depth < VALID_LOC_MAX) {
        loc->seg[loc->depth].key = NULL;
        loc->seg[loc->depth].index = index;
    }
    loc->depth++;
}

void valid_loc_pop(struct valid_loc *loc)
{
    loc->depth--;
}
