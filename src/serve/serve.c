/* serve/serve.c: crest_serve wires the layers together (net ← http ← app) and prints the startup
 * report once every worker listens. */
#include "app/app.h"
#include "http/server.h"
#include "mem/mem.h"
#include "net/loop.h"
#include "net/server.h"
#include "obs/proc.h"
#include "openapi/openapi.h"
#include "ops/ops.h"
#include "req/req.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

CREST_API void crest_config_defaults(struct crest_config *cfg)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "0.0.0.0";
    cfg->port = 8080;
    cfg->workers = cpus > 0 ? (unsigned)cpus : 1;
    cfg->backlog = 2048;
    cfg->keepalive_timeout_ms = 5000;
    cfg->header_timeout_ms = 10000;
    cfg->body_timeout_ms = 30000;
    cfg->shutdown_timeout_ms = 10000;
    cfg->max_head_bytes = 16384;
    cfg->max_headers = 100;
    cfg->max_body_bytes = 1 << 20;
    cfg->work_threads = NET_WORK_DEFAULT_THREADS;
    cfg->work_queue_max = NET_WORK_DEFAULT_QUEUE;
}

/* Builds the HTTP server description of an app; shared with the test client. */
void serve_http_server(struct http_server *srv, struct crest_app *app,
                       const struct crest_config *cfg);
void serve_http_server(struct http_server *srv, struct crest_app *app,
                       const struct crest_config *cfg)
{
    memset(srv, 0, sizeof(*srv));
    srv->net.host = cfg->host;
    srv->net.port = cfg->port;
    srv->net.backlog = cfg->backlog;
    srv->net.workers = cfg->workers;
    srv->net.keepalive_timeout_ms = cfg->keepalive_timeout_ms;
    srv->net.header_timeout_ms = cfg->header_timeout_ms;
    srv->net.body_timeout_ms = cfg->body_timeout_ms;
    srv->net.shutdown_timeout_ms = cfg->shutdown_timeout_ms;
    srv->net.io_cache = 16;
    srv->max_head_bytes = cfg->max_head_bytes;
    srv->max_headers = cfg->max_headers;
    srv->max_body_bytes = cfg->max_body_bytes;
    srv->request_size = sizeof(struct crest_req);
    srv->handle = app_dispatch;
    srv->plan = app_dispatch_plan;
    srv->respond = app_dispatch_respond;
    srv->complete = ops_record;
    srv->app = app;
    http_server_init(srv);
}

struct serve_ctx {
    struct crest_app *app;
    const struct crest_config *cfg;
    void *data[NET_MAX_WORKERS];
};

struct hooks_task {
    struct serve_ctx *sc;
    unsigned n;
    struct crest_loop **loops;
    char *err;
};

static int run_start_hooks(void *ud)
{
    struct hooks_task *t = ud;
    return app_workers_start(t->sc->app, t->n, t->loops, t->sc->data, t->err);
}

/* Every worker's loop exists, no worker runs: the worker start hooks (which may put database
 * sockets in those loops), then the budget, over what they hold. The hooks run on a thread of
 * their own (mem_run_transient), so what glibc caches of the blocks that opening a database
 * frees goes back to the heap, instead of staying with the main thread for good. */
static int prepare_workers(void *ud, struct net_worker *ws, unsigned n, char *err)
{
    struct serve_ctx *sc = ud;
    struct crest_loop *loops[NET_MAX_WORKERS] = {0};
    for (unsigned i = 0; i < n; i++)
        loops[i] = net_loop_public(&ws[i].loop);
    struct hooks_task task = {.sc = sc, .n = n, .loops = loops, .err = err};
    int rc = mem_run_transient(run_start_hooks, &task);
    if (rc)
        return rc;
    for (unsigned i = 0; i < n; i++)
        ws[i].app_data = sc->data[i];
    if ((sc->app->worker_start || app_parts_per_worker(sc->app)) && !sc->cfg->quiet)
        crest_report_startup_memory("storage ready");
    rc = ops_observe_start(sc->cfg, n, err);
    if (rc)
        app_workers_stop(sc->app, n, sc->data);
    return rc;
}

static void finish_workers(void *ud, struct net_worker *ws, unsigned n)
{
    struct serve_ctx *sc = ud;
    (void)ws;
    ops_observe_stop();
    app_workers_stop(sc->app, n, sc->data);
}

static void on_listening(void *ud, const struct net_config *net)
{
    const struct serve_ctx *sc = ud;
    if (sc->cfg->quiet)
        return;
    char workers[96];
    ops_observe_describe(sc->cfg, net->workers, workers, sizeof(workers));
    char line[256];
    crest_report_startup_memory("listening");
    snprintf(line, sizeof(line), "crest running on http://%s:%u%s\n", net->host, net->port,
             workers);
    obs_write_line(line);
    obs_write_line("Application startup complete.\n");
}

CREST_API int crest_serve(struct crest_app *app, const struct crest_config *cfg,
                          char err[CREST_ERR_LEN])
{
    struct http_server srv;
    struct serve_ctx sc = {.app = app, .cfg = cfg};
    struct net_server_hooks hooks = {
        .prepare = prepare_workers, .listening = on_listening, .finish = finish_workers, .ud = &sc};

    /* A fixed mmap threshold: glibc's default raises it after the first large block is freed,
     * after which multi-megabyte response and body buffers come from (and stay in) the heap
     * arenas, and RSS stays at its high-water mark long after load is gone. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    /* One glibc arena per worker, counting the main one: the main thread only waits for signals
     * once the workers run, so the last worker to allocate takes the main arena over instead of
     * glibc making one more (2.2 KiB of arena header in the heap, and a 64 MiB reservation). */
    mallopt(M_ARENA_MAX, (int)(cfg->workers ? cfg->workers : 1));
    serve_http_server(&srv, app, cfg);
    net_work_setup(cfg->work_threads, cfg->work_queue_max);
    int rc = app_parts_prepare(app, err); /* before the workers: they only read what it made */
    if (rc)
        return rc;
    rc = net_server_run(&srv.net, &srv.ops, &srv, &hooks, err);
    net_work_shutdown(); /* after the workers' loops ended, which took back every job */
    return rc;
}
