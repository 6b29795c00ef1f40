/* ops/record.c: counts every response for /metrics under its route template (never the raw path,
 * so label values stay bounded), method and status, and logs it when --access-log is on. */
#include "app/app.h"
#include "net/worker.h"
#include "obs/stats.h"
#include "ops/ops.h"
#include "req/req.h"

void ops_record(void *ctx, const struct http_request *hreq, uint64_t duration_us)
{
    const struct crest_app *app = ctx;
    const struct crest_req *req = (const struct crest_req *)hreq;
    unsigned route =
        req->match.route ? (unsigned)(req->match.route - app->router.routes) : ROUTE_NONE;
    obs_http_record(hreq->worker->stats, route, hreq->method, hreq->status, duration_us);
    if (ops_access_log_mode != OPS_ACCESS_LOG_OFF)
        ops_access_log_write(hreq, duration_us);
}
