/* app/docs.h: GET /openapi.json, /docs (Swagger UI), /redoc (ReDoc) and their assets: the state
 * an app keeps for them. */
#ifndef CREST_APP_DOCS_H
#define CREST_APP_DOCS_H

#include "crest.h"
#include "mem/buf.h"

struct app_docs {
    struct crest_app *app;
    struct mem_buf openapi; /* MEM_APP: the rendered document; empty until app_docs_prepare */
    char *assets_dir;       /* MEM_APP; NULL: /docs and /redoc are not served */
};

/* Renders the OpenAPI document if the app serves one and it is not rendered yet: crest_serve
 * calls it before the workers start, so that they only ever read it. 0, or -ENOMEM with a
 * sentence in err (when err is not NULL). */
int app_docs_prepare(struct crest_app *app, char *err);

void app_docs_free(struct app_docs *docs);

#endif
