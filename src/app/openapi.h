/* app/openapi.h: renders an app's OpenAPI 3.1.0 document from its route table and schemas. */
#ifndef CREST_APP_OPENAPI_H
#define CREST_APP_OPENAPI_H

#include "crest.h"
#include "mem/buf.h"

/* Appends the document (one JSON text) to out, whose storage is accounted under tag. Routes
 * declared hidden (the docs' own, the debug ones) are left out. 0, or -ENOMEM (out then holds a
 * truncated text the caller discards). */
int app_openapi_render(const struct crest_app *app, struct mem_buf *out, enum mem_tag tag);

enum { APP_OPENAPI_ID_MAX = 256 };

/* Writes the operationId FastAPI would give, "<summary, or the method>_<path>_<method>" with
 * letters lowered and every other byte outside [a-z0-9_] made '_'
 * ("read_an_item_items__item_id__get"), NUL-terminated and cut to fit out. openapi_path is the
 * route's path as in the document ("/items/{item_id}"). */
void app_openapi_operation_id(const char *summary, const char *method, const char *openapi_path,
                              char out[APP_OPENAPI_ID_MAX]);

#endif
