/* app/scalar.h: text → typed value for path and query parameters, with FastAPI's leniency where
 * it has one (booleans) and strictness elsewhere (no whitespace, no trailing bytes). */
#ifndef CREST_APP_SCALAR_H
#define CREST_APP_SCALAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Optional sign and decimal digits. 0, -EINVAL, -ERANGE (outside int64). */
int app_parse_int64(const char *s, size_t len, int64_t *out);
/* A decimal or exponent number as strtod reads it, whole. 0, -EINVAL, -ERANGE (overflow). */
int app_parse_double(const char *s, size_t len, double *out);
/* pydantic's words: 1/0, true/false, t/f, yes/no, y/n, on/off, any case. 0, -EINVAL. */
int app_parse_bool(const char *s, size_t len, bool *out);

#endif
