/* app/json_parse.h: a strict RFC 8259 parser into an arena (no malloc per value). */
#ifndef CREST_APP_JSON_PARSE_H
#define CREST_APP_JSON_PARSE_H

#include "crest.h"
#include "mem/arena.h"

enum { APP_JSON_MAX_DEPTH_PARSE = 256 };

enum app_json_parse_status {
    APP_JSON_OK = 0,
    APP_JSON_SYNTAX = -1, /* invalid JSON: *err_offset is where it went wrong */
    APP_JSON_NOMEM = -2,  /* the arena could not grow */
    APP_JSON_DEPTH = -3,  /* nested deeper than APP_JSON_MAX_DEPTH_PARSE */
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
 * "Invalid UTF-8" (first byte of the sequence). APP_JSON_DEPTH, "Maximum nesting depth exceeded",
 * points at the bracket that opens level APP_JSON_MAX_DEPTH_PARSE + 1. APP_JSON_NOMEM,
 * "Out of memory", also answers texts past UINT32_MAX bytes (offsets are 32-bit).
 * err_offset and err_msg may be NULL; they are written on failure only. Arena use is linear in
 * len (at worst about 32 bytes per byte of text, for "[0,0,...]": 32 per value, and as much again
 * for the scratch stack while the array is open); what a failed parse allocated stays in the
 * arena until its reset. */
enum app_json_parse_status app_json_parse(const char *text, size_t len, struct mem_arena *arena,
                                          struct crest_json_value **out, size_t *err_offset,
                                          const char **err_msg);

#endif
