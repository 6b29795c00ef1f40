/* app/app.h: an application (its routes, hooks and parts) and the dispatcher http calls: from a
 * parsed request to routing, validation and the handler (app/dispatch.c). The top of the
 * framework: it calls down into route/, req/ and valid/, and nothing there calls it. */
#ifndef CREST_APP_APP_H
#define CREST_APP_APP_H

#include "crest.h"
#include "http/request.h"
#include "route/route.h"

struct crest_app {
    char *title;
    char *version;
    const char *description; /* borrowed (crest_app_set_description), or NULL */
    struct app_part *parts;  /* the docs' document, the test client's worker */
    bool parts_prepared;
    struct route_table router;
    crest_worker_start_fn worker_start;
    crest_worker_stop_fn worker_stop;
    void *worker_ud;
    crest_health_fn health;
    struct crest_hook *hooks; /* MEM_APP, in declaration order */
    uint16_t n_hooks, cap_hooks;
    uint16_t n_global; /* hooks without prefix or tag: they run before routing */
    uint16_t n_after;  /* app hooks with an after: none, and the way out walks nothing */
};

/* A part of an app with state of its own (the docs keep the rendered OpenAPI document, the test
 * client its worker's data from the start hooks, which its free hands to the stop hooks): the app
 * knows parts only through this table. prepare (may be NULL) runs once before the first request
 * is served (crest_serve before the workers start, so they only read; the test client before its
 * first request), when every route is declared; free runs in crest_app_free. */
struct app_part;
struct app_part_ops {
    int (*prepare)(struct app_part *part, struct crest_app *app, char *err);
    void (*free)(struct app_part *part);
    /* Per worker (may be NULL): start runs for workers 0..n-1 before the app's worker start hook
     * (loop NULL: the test client's worker), stop after the app's stop hook. */
    int (*worker_start)(struct app_part *part, unsigned n, unsigned id, struct crest_loop *loop,
                        char *err);
    void (*worker_stop)(struct app_part *part, unsigned id);
    /* Health (may be NULL): the name of what is down for worker id, or NULL. */
    const char *(*down)(struct app_part *part, unsigned id);
};
struct app_part {
    const struct app_part_ops *ops;
    struct app_part *next;
};

/* The app owns part from now on (crest_app_free frees it). */
void app_part_add(struct crest_app *app, struct app_part *part);
/* The part added with ops, or NULL. */
struct app_part *app_part_find(const struct crest_app *app, const struct app_part_ops *ops);
/* Prepares every part, once. 0, or the first part's negative errno with a sentence in err. */
int app_parts_prepare(struct crest_app *app, char *err);

/* Whether some part has per-worker state (worker_start). */
bool app_parts_per_worker(const struct crest_app *app);
/* The name of the first part that is down for worker id, or NULL. */
const char *app_parts_down(const struct crest_app *app, unsigned id);

/* Runs the worker start hooks (the parts', then the app's) for workers 0..n-1 into data[], with
 * their loops (loops NULL: the test client's worker, which has none); on failure stops those
 * started. */
int app_workers_start(struct crest_app *app, unsigned n, struct crest_loop *const *loops,
                      void **data, char *err);
void app_workers_stop(struct crest_app *app, unsigned n, void **data);

/* crest_app_add_hook for a hook without prefix or tag that must run before every other (the
 * trusted proxies' hook: whoever limits or logs by client must see the client it names). 0,
 * -EINVAL, -ENOMEM. */
int app_hook_add_first(struct crest_app *app, const struct crest_hook *hook);

struct route;
/* The hook at position pos of a request's chain: the global hooks, then (route not NULL) the app
 * hooks whose prefix or tag the route has, then the route's own; NULL past the end. */
const struct crest_hook *app_hook_at(const struct crest_app *app, const struct route *route,
                                     uint16_t pos);

/* http_respond_fn: the after hooks of the hooks a request reached, in reverse order. */
void app_dispatch_respond(void *app, struct http_request *req);

/* http_plan_fn: looks the route up as soon as the head is parsed (dispatch then uses this match),
 * so that its body is read as the route says: streamed (body_stream), up to its limit. */
struct http_body_plan;
void app_dispatch_plan(void *app, struct http_request *req, struct http_body_plan *plan);

/* http_handle_fn: routes a complete request and runs its handler (or answers 404/405/422/501). */
void app_dispatch(void *app, struct http_request *req);

#endif
