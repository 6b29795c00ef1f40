/* app/app.c: an application's life: creation, route declarations, parts, worker hooks,
 * release. */
#include "app/app.h"

#include "mem/mem.h"
#include "valid/valid.h"

#include <errno.h>
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
    while (app->parts) {
        struct app_part *part = app->parts;
        app->parts = part->next;
        part->ops->free(part);
    }
    route_table_fini(&app->router);
    mem_free(MEM_APP, app->hooks, app->cap_hooks * sizeof(*app->hooks));
    mem_strfree(MEM_APP, app->title);
    mem_strfree(MEM_APP, app->version);
    mem_free(MEM_APP, app, sizeof(*app));
}

CREST_API void crest_app_set_description(struct crest_app *app, const char *description)
{
    app->description = description;
}

CREST_API int crest_app_add_route(struct crest_app *app, const struct crest_route *route,
                                  char err[CREST_ERR_LEN])
{
    struct route compiled;
    int rc = route_compile(&compiled, route, err);
    if (rc)
        return rc;
    rc = valid_route(&compiled, err); /* parameters and defaults, before the route can match */
    if (rc) {
        route_fini(&compiled);
        return rc;
    }
    return route_table_take(&app->router, &compiled, err);
}

CREST_API void crest_app_on_worker(struct crest_app *app, crest_worker_start_fn start,
                                   crest_worker_stop_fn stop, void *ud)
{
    app->worker_start = start;
    app->worker_stop = stop;
    app->worker_ud = ud;
}

CREST_API void crest_app_on_health(struct crest_app *app, crest_health_fn fn)
{
    app->health = fn;
}

static void parts_stop(struct crest_app *app, unsigned id)
{
    for (struct app_part *part = app->parts; part; part = part->next)
        if (part->ops->worker_stop)
            part->ops->worker_stop(part, id);
}

static int parts_start(struct crest_app *app, unsigned n, unsigned id, struct crest_loop *loop,
                       char *err)
{
    for (struct app_part *part = app->parts; part; part = part->next) {
        int rc = part->ops->worker_start ? part->ops->worker_start(part, n, id, loop, err) : 0;
        if (rc) {
            for (struct app_part *p = app->parts; p != part; p = p->next)
                if (p->ops->worker_stop)
                    p->ops->worker_stop(p, id);
            return rc;
        }
    }
    return 0;
}

bool app_parts_per_worker(const struct crest_app *app)
{
    for (const struct app_part *part = app->parts; part; part = part->next)
        if (part->ops->worker_start)
            return true;
    return false;
}

const char *app_parts_down(const struct crest_app *app, unsigned id)
{
    for (struct app_part *part = app->parts; part; part = part->next) {
        const char *down = part->ops->down ? part->ops->down(part, id) : NULL;
        if (down)
            return down;
    }
    return NULL;
}

int app_workers_start(struct crest_app *app, unsigned n, struct crest_loop *const *loops,
                      void **data, char *err)
{
    for (unsigned i = 0; i < n; i++) {
        data[i] = NULL;
        int rc = parts_start(app, n, i, loops ? loops[i] : NULL, err);
        if (rc == 0 && app->worker_start) {
            rc = app->worker_start(app->worker_ud, i, loops ? loops[i] : NULL, &data[i], err);
            if (rc)
                parts_stop(app, i);
        }
        if (rc) {
            app_workers_stop(app, i, data);
            return rc;
        }
    }
    return 0;
}

void app_workers_stop(struct crest_app *app, unsigned n, void **data)
{
    for (unsigned i = 0; i < n; i++) {
        if (app->worker_stop)
            app->worker_stop(app->worker_ud, i, data[i]);
        parts_stop(app, i);
    }
}

void app_part_add(struct crest_app *app, struct app_part *part)
{
    part->next = app->parts;
    app->parts = part;
}

struct app_part *app_part_find(const struct crest_app *app, const struct app_part_ops *ops)
{
    for (struct app_part *part = app->parts; part; part = part->next)
        if (part->ops == ops)
            return part;
    return NULL;
}

int app_parts_prepare(struct crest_app *app, char *err)
{
    if (app->parts_prepared)
        return 0;
    for (struct app_part *part = app->parts; part; part = part->next) {
        int rc = part->ops->prepare ? part->ops->prepare(part, app, err) : 0;
        if (rc)
            return rc;
    }
    app->parts_prepared = true;
    return 0;
}

/* Inserts hook at the chain's position first (global hooks) or after the others. */
static int add_hook(struct crest_app *app, const struct crest_hook *hook, bool first)
{
    if (!hook || (!hook->before && !hook->after))
        return -EINVAL;
    if (app->n_hooks == app->cap_hooks) {
        uint16_t cap = app->cap_hooks ? (uint16_t)(app->cap_hooks * 2) : 4;
        struct crest_hook *hooks =
            mem_realloc(MEM_APP, app->hooks, app->cap_hooks * sizeof(*hooks), cap * sizeof(*hooks));
        if (!hooks)
            return -ENOMEM;
        app->hooks = hooks;
        app->cap_hooks = cap;
    }
    bool global = !hook->prefix && !hook->tag;
    if (global) { /* kept first, in their order: position k of the chain is the k-th of them */
        uint16_t at = first ? 0 : app->n_global;
        memmove(&app->hooks[at + 1], &app->hooks[at], (app->n_hooks - at) * sizeof(*app->hooks));
        app->hooks[at] = *hook;
        app->n_global++;
    } else {
        app->hooks[app->n_hooks] = *hook;
    }
    app->n_hooks++;
    app->n_after = (uint16_t)(app->n_after + (hook->after != NULL));
    return 0;
}

CREST_API int crest_app_add_hook(struct crest_app *app, const struct crest_hook *hook)
{
    return add_hook(app, hook, false);
}

int app_hook_add_first(struct crest_app *app, const struct crest_hook *hook)
{
    return add_hook(app, hook, true);
}

static bool applies(const struct crest_hook *h, const struct route *route)
{
    if (h->prefix) { /* whole segments: "/notes" covers "/notes/{id}", not "/notesx" */
        size_t n = strlen(h->prefix);
        const char *p = route->def.path;
        if (strncmp(p, h->prefix, n) != 0 || (p[n] != '\0' && p[n] != '/' && p[n - 1] != '/'))
            return false;
    }
    return !h->tag || (route->def.tag && strcmp(route->def.tag, h->tag) == 0);
}

const struct crest_hook *app_hook_at(const struct crest_app *app, const struct route *route,
                                     uint16_t pos)
{
    if (pos < app->n_global)
        return &app->hooks[pos];
    if (!route)
        return NULL;
    pos = (uint16_t)(pos - app->n_global);
    for (uint16_t i = app->n_global; i < app->n_hooks; i++)
        if (applies(&app->hooks[i], route) && pos-- == 0)
            return &app->hooks[i];
    return pos < route->def.n_hooks ? &route->def.hooks[pos] : NULL;
}
