/* ops/builtin.c: the routes every crest service has: /json (the TechEmpower JSON test the
 * benchmarks use), /healthz (for load balancers and Kubernetes probes) and /metrics (for
 * Prometheus, in app/metrics.c). */
#include "app/app.h"
#include "crest.h"
#include "ops/ops.h"
#include "req/req.h"

static enum crest_handler_result hello_json(struct crest_req *req, void *ud)
{
    struct crest_json *j = crest_res_json(req, 200);
    (void)ud;
    crest_json_object_begin(j);
    crest_json_key(j, "message");
    crest_json_string(j, "Hello, World!");
    crest_json_object_end(j);
    return CREST_DONE;
}

/* Kubernetes and nginx read the status code; the body says which dependency is down. */
static enum crest_handler_result healthz(struct crest_req *req, void *ud)
{
    const struct crest_app *app = ud;
    const char *down = app_parts_down(app, req_request_worker_id(req)); /* the app's databases */
    if (!down && app->health)
        down = app->health(crest_req_worker_data(req));
    struct crest_json *j = crest_res_json(req, down ? 503 : 200);
    crest_json_object_begin(j);
    crest_json_key(j, "status");
    crest_json_string(j, down ? "degraded" : "ok");
    if (down) {
        crest_json_key(j, down);
        crest_json_string(j, "down");
    }
    crest_json_object_end(j);
    return CREST_DONE;
}

CREST_API int crest_app_add_builtin_routes(struct crest_app *app)
{
    const struct crest_route routes[] = {
        {.method = "GET",
         .path = "/json",
         .handler = hello_json,
         .summary = "Hello, World! as JSON (the TechEmpower JSON test)",
         .tag = "builtin"},
        {.method = "GET",
         .path = "/healthz",
         .handler = healthz,
         .ud = app,
         .summary = "Liveness and readiness",
         .tag = "builtin"},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int err = crest_app_add_route(app, &routes[i], NULL);
        if (err)
            return err;
    }
    return ops_metrics_add_route(app);
}
