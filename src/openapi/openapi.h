/* openapi/openapi.h: an app's OpenAPI 3.1.0 document (openapi/openapi.c) and the routes that
 * serve it with Swagger UI and ReDoc (openapi/docs.c). */
#ifndef CREST_OPENAPI_OPENAPI_H
#define CREST_OPENAPI_OPENAPI_H

/* openapi/openapi.c: renders an app's OpenAPI 3.1.0 document from its route table and schemas. */

#include "crest.h"
#include "mem/buf.h"

/* Appends the document (one JSON text) to out, whose storage is accounted under tag. Routes
 * declared hidden (the docs' own, the debug ones) are left out. 0, or -ENOMEM (out then holds a
 * truncated text the caller discards). */
int openapi_render(const struct crest_app *app, struct mem_buf *out, enum mem_tag tag);

enum { OPENAPI_ID_MAX = 256 };

/* Writes the operationId FastAPI would give, "<summary, or the method>_<path>_<method>" with
 * letters lowered and every other byte outside [a-z0-9_] made '_'
 * ("read_an_item_items__item_id__get"), NUL-terminated and cut to fit out. openapi_path is the
 * route's path as in the document ("/items/{item_id}"). */
void openapi_operation_id(const char *summary, const char *method, const char *openapi_path,
                          char out[OPENAPI_ID_MAX]);

/* openapi/docs.c: GET /openapi.json, /docs (Swagger UI), /redoc (ReDoc) and their assets are
 * crest_app_add_docs_routes (crest.h); the app keeps their state as a part (app/app.h). */

#endif
