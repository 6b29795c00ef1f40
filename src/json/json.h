/* json/json.h: JSON (RFC 8259) as text and as values: the strict parser into an arena
 * (json/parse.c), the writer behind crest_json_* (json/write.c) and value lookups
 * (json/value.c). Below both the framework and the store: it knows no request. */
#ifndef CREST_JSON_JSON_H
#define CREST_JSON_JSON_H

/* json/parse.c: a strict RFC 8259 parser into an arena (no malloc per value). */

#include "crest.h"
#include "mem/arena.h"

enum { JSON_PARSE_MAX_DEPTH = 256 };

enum json_parse_status {
    JSON_PARSE_OK = 0,
    JSON_PARSE_SYNTAX = -1, /* invalid JSON: *err_offset is where it went wrong */
    JSON_PARSE_NOMEM = -2,  /* the arena could not grow */
    JSON_PARSE_DEPTH = -3,  /* nested deeper than JSON_PARSE_MAX_DEPTH */
};

/* Parses exactly one JSON text (surrounding whitespace allowed) from text[0..len). On success
 * *out points to the root value, allocated in arena, like every string and array it holds.
 * On failure *err_offset is the byte offset of the first offending byte (len at unexpected end),
 * and *err_msg a short Python-json-like reason ("Expecting value", "Unterminated string", ...).
 *
 * Strict: only SP, HT, LF and CR are whitespace (so a BOM is refused); strings must be valid
 * UTF-8 and a \uXXXX surrogate must be half of a pair. Offsets and messages are those of
 * Python's json.loads on the same text, which FastAPI puts in a json_invalid problem:
 * "Expecting value", "Expecting property name enclosed in double quotes",
 * "Expecting ':' delimiter", "Expecting ',' delimiter", "Extra data",
 * "Unterminated string starting at" (offset of the opening quote),
 * "Invalid control character at", "Invalid \escape" (offset of the backslash),
 * "Invalid \uXXXX escape" (offset of the 'u'; lone surrogates too, which Python accepts) and
 * "Invalid UTF-8" (first byte of the sequence). JSON_PARSE_DEPTH, "Maximum nesting depth exceeded",
 * points at the bracket that opens level JSON_PARSE_MAX_DEPTH + 1. JSON_PARSE_NOMEM,
 * "Out of memory", also answers texts past UINT32_MAX bytes (offsets are 32-bit).
 * err_offset and err_msg may be NULL; they are written on failure only. Arena use is linear in
 * len (at worst about 32 bytes per byte of text, for "[0,0,...]": 32 per value, and as much again
 * for the scratch stack while the array is open); what a failed parse allocated stays in the
 * arena until its reset. */
enum json_parse_status json_parse(const char *text, size_t len, struct mem_arena *arena,
                                  struct crest_json_value **out, size_t *err_offset,
                                  const char **err_msg);

/* json/write.c: the JSON writer behind crest_json_* (declared in crest.h). A writer appends to
 * a mem_buf it is bound to: the response body of a request, or a buffer of its own. */

#include "mem/buf.h"

/* Deeper than the parser accepts (256), so any parsed input can be echoed back inside the three
 * levels a 422 wraps it in ({"detail":[{"input": ...}]}); a multiple of 64 for the bit words. */
enum { JSON_WRITE_MAX_DEPTH = 320 };

struct crest_json {
    struct mem_buf *out; /* where text goes (borrowed) */
    struct mem_buf own;  /* storage for standalone writers (crest_json_new) */
    enum mem_tag tag;    /* tag of out's storage */
    int err;             /* sticky: 0, -ENOMEM, or -EINVAL on misuse (depth, key outside object) */
    uint32_t depth;
    uint64_t in_object[JSON_WRITE_MAX_DEPTH / 64]; /* bit d: level d is an object, else array */
    uint64_t has_items[JSON_WRITE_MAX_DEPTH / 64]; /* bit d: level d holds a value (comma due) */
    bool after_key;                                /* a key was written, its value is next */
    bool done; /* the top-level value is complete: a JSON text holds just one */
};

/* Binds j to out (appending from out->len on); j itself is the caller's storage. */
void json_write_bind(struct crest_json *j, struct mem_buf *out, enum mem_tag tag);

/* Writes the shortest decimal text that strtod() reads back as v (at most 17 significant digits);
 * v must be finite. Returns the length written into buf (buf holds at least 32 bytes). */
int json_write_format_double(double v, char *buf);
/* An object key known to need no escaping (printable ASCII without '"' or '\\', as a model's
 * field names are checked to be), written with its comma, quotes and colon in one append: what
 * crest_json_key does in five. Longer keys than 120 bytes go through crest_json_key_len. */
void json_write_plain_key(struct crest_json *j, const char *key, size_t len);

#endif
