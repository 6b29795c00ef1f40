/* app/json_write.h: the JSON writer behind crest_json_* (declared in crest.h). A writer appends to
 * a mem_buf it is bound to: the response body of a request, or a buffer of its own. */
#ifndef CREST_APP_JSON_WRITE_H
#define CREST_APP_JSON_WRITE_H

#include "crest.h"
#include "mem/buf.h"

/* Deeper than the parser accepts (256), so any parsed input can be echoed back inside the three
 * levels a 422 wraps it in ({"detail":[{"input": ...}]}); a multiple of 64 for the bit words. */
enum { APP_JSON_MAX_DEPTH = 320 };

struct crest_json {
    struct mem_buf *out; /* where text goes (borrowed) */
    struct mem_buf own;  /* storage for standalone writers (crest_json_new) */
    enum mem_tag tag;    /* tag of out's storage */
    int err;             /* sticky: 0, -ENOMEM, or -EINVAL on misuse (depth, key outside object) */
    uint32_t depth;
    uint64_t in_object[APP_JSON_MAX_DEPTH / 64]; /* bit d: level d is an object, else array */
    uint64_t has_items[APP_JSON_MAX_DEPTH / 64]; /* bit d: level d holds a value (comma due) */
    bool after_key;                              /* a key was written, its value is next */
    bool done; /* the top-level value is complete: a JSON text holds just one */
};

/* Binds j to out (appending from out->len on); j itself is the caller's storage. */
void app_json_bind(struct crest_json *j, struct mem_buf *out, enum mem_tag tag);

/* Writes the shortest decimal text that strtod() reads back as v (at most 17 significant digits);
 * v must be finite. Returns the length written into buf (buf holds at least 32 bytes). */
int app_json_format_double(double v, char *buf);

#endif
