/* app/app.c: an application's life: creation, route declarations, release. */
#include "app/app.h"

#include "mem/mem.h"

#include <string.h>

CREST_API struct crest_app *crest_app_new(const char *title, const char *version)
{
    struct crest_app *app = mem_calloc(MEM_APP, 1, sizeof(*app));
    if (!app)
        return NULL;
    app->title = mem_strdup(MEM_APP, title ? title : "crest");
    app->version = mem_strdup(MEM_APP, version ? version : CREST_VERSION);
    if (!app->title || !app->version) {
        crest_app_free(app);
        return NULL;
    }
    return app;
}

CREST_API void crest_app_free(struct crest_app *app)
{
    if (!app)
        return;
    app_router_fini(&app->router);
    mem_strfree(MEM_APP, app->title);
    mem_strfree(MEM_APP, app->version);
    mem_free(MEM_APP, app, sizeof(*app));
}

CREST_API int crest_app_add_route(struct crest_app *app, const struct crest_route *route,
                                  char err[CREST_ERR_LEN])
{
    return app_router_add(&app->router, route, err);
}
