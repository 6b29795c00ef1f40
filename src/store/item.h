/* store/item.h: what both backends share about an item: its tags as one text column, a JSON array
 * of strings (SQLite TEXT, PostgreSQL text), readable by any tool; and the check of the fields
 * they are given. */
#ifndef CREST_STORE_ITEM_H
#define CREST_STORE_ITEM_H

#include "crest.h"
#include "store/store.h"

/* Encodes tags as a JSON array of strings with the crest_json writer. The caller frees *out with
 * crest_json_free(), also on error. 0, -ENOMEM. */
int store_tags_encode(const struct crest_str *tags, uint32_t n_tags, struct crest_json **out);

/* Decodes text, a JSON array of strings as store_tags_encode writes it, into memory from `out`:
 * *tags (NULL when empty) and the bytes they point to (each string NUL-terminated).
 * 0, -ENOMEM, -EIO (not such an array: the stored row is corrupt). */
int store_tags_decode(const char *text, size_t len, const struct store_alloc *out,
                      struct crest_str **tags, uint32_t *n_tags);

/* Whether the fields of `in` named in `fields` are ones a backend can store (store.h's -EINVAL
 * rule): only enum store_field bits, a name, a price and a tax that are not NaN, tags when
 * n_tags > 0. */
bool store_item_ok(const struct store_item *in, unsigned fields);

#endif
