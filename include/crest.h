/* crest.h: the one public header of libcrest, a REST API framework and server in which memory is a
 * measured, bounded resource. An application declares routes (method + path template + handler),
 * handlers read the request and build a response, and crest_serve() runs the HTTP/1.1 engine:
 * one epoll loop per worker thread, nothing shared on the request path.
 *
 * The header is in three parts, each written against the ones before it only:
 * 1. The engine: crest_serve(), its configuration (struct crest_config: what the server reads and
 *    nothing else), the worker hooks and the worker's loop, process memory figures. It knows
 *    sockets, workers, timeouts and the memory budget; the app it serves is opaque to it.
 * 2. The framework: applications and routes, schemas, requests, responses, JSON: what an
 *    application is written with.
 * 3. The test client: runs requests through the framework without a socket.
 * Lua splits the same way across two headers (lua.h, the core; lauxlib.h, helpers written only
 * against it) because lauxlib is optional. Here one header stays: the engine offers no handler
 * interface below the app (crest_serve serves a struct crest_app), so no application uses one part
 * without the other, and a second header would cost each one more include and buy nothing. The
 * parts give the reader the same map, and part 1 (with the definitions above it) could become a
 * header of its own unchanged.
 *
 * Conventions (as in the rest of crest):
 * - Functions that can fail return int: 0, or a negative errno (-ENOMEM, -EINVAL, -ENOENT).
 * - A struct crest_str is borrowed: it points into the request's buffers or arena and is valid
 * until the handler's response is finished. Copy what must outlive the request.
 * - Everything a handler allocates with crest_req_alloc() is freed when the response is written. */
#ifndef CREST_H
#define CREST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CREST_API __attribute__((visibility("default")))
#define CREST_MUST_CHECK __attribute__((warn_unused_result))

#define CREST_VERSION "0.1.0"
#define CREST_ERR_LEN 256 /* size of the char err[] buffers startup calls fill */

/* A borrowed byte slice; ptr is NULL when the thing it names is absent. */
struct crest_str {
    const char *ptr;
    size_t len;
};

/* ==============================================================================================
 * Part 1. The engine: crest_serve() runs an app over HTTP/1.1, one epoll loop per worker thread,
 * under a configuration and a memory budget. struct crest_app is opaque here: part 2 builds it.
 * ============================================================================================== */

struct crest_app;

/* ------------------------------------------------------------------------------------------------
 * Configuration: what crest_serve reads, and nothing else. An application's own settings (its
 * database, a debug token, a docs directory) are the application's: it hands them to the calls
 * that use them (crest_app_add_debug_routes, crest_app_add_docs_routes, its own setup). */

struct crest_config {
    const char *host;              /* listen address, default "0.0.0.0" */
    uint16_t port;                 /* default 8080 */
    unsigned workers;              /* worker threads, default: online CPUs */
    int backlog;                   /* listen(2) backlog, default 2048 (uvicorn's) */
    uint32_t keepalive_timeout_ms; /* idle keep-alive connection closed after, default 5000 */
    uint32_t header_timeout_ms;    /* request line + headers must arrive within, default 10000 */
    uint32_t body_timeout_ms;      /* max gap between body reads / response writes, default 30000 */
    uint32_t shutdown_timeout_ms;  /* graceful drain bound on SIGTERM/SIGINT, default 10000 */
    uint32_t max_head_bytes;       /* request line + headers, default 16384 (414/431 past it) */
    uint32_t max_headers;          /* default 100 (431 past it) */
    uint32_t max_body_bytes;       /* default 1 MiB (413 past it); a route may set its own */
    bool quiet;                    /* no startup report */
    /* Memory budget (0: none). What crest holds once the worker start hooks ran is the baseline;
     * each worker may allocate an equal share of the rest, and a request that would take it past
     * its share is answered 503 {"detail":"Server over memory budget"} with Retry-After: 1. */
    uint64_t memory_limit_bytes;
    uint32_t log_memory_ms; /* a "[memory] …" line on stdout this often; 0: never */
    bool access_log;        /* one line per response on stdout */
    uint8_t log_format;     /* enum crest_log_format, of the access log */
    /* The pool for blocking calls (crest_work_queue): threads, started at its first job, default
     * 4 (at most 64); jobs waiting for a thread before the next is refused, default 256. */
    unsigned work_threads;
    uint32_t work_queue_max;
};

enum crest_log_format {
    CREST_LOG_TEXT = 0, /* [access] GET /items/1 200 0.420ms 27B */
    CREST_LOG_JSON,     /* one JSON object per line */
};

/* Fills cfg with the defaults listed above. */
CREST_API void crest_config_defaults(struct crest_config *cfg);

/* ------------------------------------------------------------------------------------------------
 * Workers: per-worker state, built before a worker serves and torn down after it stopped */

/* A worker's event loop, opaque: the application's own sockets, timers and wake-ups join it
 * through the loop API below, as crest's PostgreSQL store does. */
struct crest_loop;

/* Per-worker state (a database connection, say): start runs once for each worker before it
 * serves, in the thread that starts the workers, with the worker's loop (which the worker thread
 * runs once started; NULL in the test client, which has none that lasts); stop runs after the
 * worker stopped. A handler finds its worker's data with crest_req_worker_data(). The test client
 * runs one worker, started at its first request and stopped by crest_app_free. start returns 0
 * or a negative errno (with a sentence in err), which makes crest_serve fail. */
typedef int (*crest_worker_start_fn)(void *ud, unsigned worker, struct crest_loop *loop,
                                     void **data, char err[CREST_ERR_LEN]);
typedef void (*crest_worker_stop_fn)(void *ud, unsigned worker, void *data);
CREST_API void crest_app_on_worker(struct crest_app *app, crest_worker_start_fn start,
                                   crest_worker_stop_fn stop, void *ud);

/* ------------------------------------------------------------------------------------------------
 * The worker's loop, for the application's own I/O (libuv's shape, on crest's epoll loop): watch a
 * socket of any client library, run timers, and be woken from another thread. Every call is made
 * on the loop's thread (a handler, a callback of the loop, a worker start hook), except
 * crest_async_send. Handles are allocated by their start call (memory tag "loop", inside the
 * budget) and freed by their stop call, which a callback may make for its own handle; no callback
 * runs after stop. Handles still started when the worker's loop ends are freed without a call.
 * A handler finds its loop with crest_req_loop(), a worker start hook is handed it. */

enum crest_io_event {
    CREST_READABLE = 1u << 0,
    CREST_WRITABLE = 1u << 1,
};

struct crest_watch;
/* events says what fd is ready for (crest_io_event bits; a hang-up or error reports readable, so
 * the next read sees it). Level-triggered: called again while the condition holds. */
typedef void (*crest_watch_fn)(struct crest_watch *w, int fd, unsigned events, void *ud);
/* Watches fd, which stays the caller's (crest never closes it), for events. 0, -EINVAL, -EEXIST
 * (fd is already in this loop), -ENOMEM, or another negative errno from epoll_ctl. */
CREST_API CREST_MUST_CHECK int crest_watch_start(struct crest_loop *loop, int fd, unsigned events,
                                                 crest_watch_fn cb, void *ud,
                                                 struct crest_watch **out);
/* Changes the events watched (0: none for now). 0, -EINVAL, or a negative errno. */
CREST_API CREST_MUST_CHECK int crest_watch_change(struct crest_watch *w, unsigned events);
/* Stops watching and frees w; call it before closing the fd. */
CREST_API void crest_watch_stop(struct crest_watch *w);

struct crest_timer;
typedef void (*crest_timer_fn)(struct crest_timer *t, void *ud);
/* Calls cb after delay_ms, then every repeat_ms if repeat_ms > 0. The handle lives until
 * crest_timer_stop, a one-shot timer's too. 0, -EINVAL, -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_timer_start(struct crest_loop *loop, uint32_t delay_ms,
                                                 uint32_t repeat_ms, crest_timer_fn cb, void *ud,
                                                 struct crest_timer **out);
CREST_API void crest_timer_stop(struct crest_timer *t);

struct crest_async;
typedef void (*crest_async_fn)(struct crest_async *a, void *ud);
/* A wake-up of loop that any thread may send (uv_async_send): cb runs on the loop's thread after a
 * send, and sends that arrive before it runs make one call. How a thread of the application's
 * hands a result back to a pending handler. 0, -EINVAL, -ENOMEM, -EMFILE. */
CREST_API CREST_MUST_CHECK int crest_async_start(struct crest_loop *loop, crest_async_fn cb,
                                                 void *ud, struct crest_async **out);
/* Any thread, any time between start and stop; async-signal-safe. */
CREST_API void crest_async_send(struct crest_async *a);
/* On the loop's thread, once no other thread will send. */
CREST_API void crest_async_stop(struct crest_async *a);

/* Runs work(ud) on a thread of the process's pool for blocking calls (uv_queue_work), then
 * done(ud, status) on loop's thread: status 0, or -ECANCELED when the loop ended before work ran
 * (done still runs then, so that it frees what ud holds). The pool's queue is bounded: -EBUSY
 * when it is full, which a handler answers 503 rather than queueing without limit; -EINVAL,
 * -ENOMEM, or a negative errno when no pool thread could start. work must not call crest_
 * functions other than crest_async_send. */
typedef void (*crest_work_fn)(void *ud);
typedef void (*crest_work_done_fn)(void *ud, int status);
CREST_API CREST_MUST_CHECK int crest_work_queue(struct crest_loop *loop, crest_work_fn work,
                                                crest_work_done_fn done, void *ud);

/* ------------------------------------------------------------------------------------------------
 * Serving */

/* Serves the app until SIGTERM or SIGINT, then drains gracefully (stop accepting, finish requests
 * in flight, close idle connections) within cfg->shutdown_timeout_ms. Returns 0 after a graceful
 * stop, or a negative errno when start-up fails (bind, epoll, threads; -ENOMEM when
 * cfg->memory_limit_bytes is below what crest already holds), with a sentence in err. */
CREST_API CREST_MUST_CHECK int crest_serve(struct crest_app *app, const struct crest_config *cfg,
                                           char err[CREST_ERR_LEN]);

/* Prints "[startup] Memory RSS = 1.21 MB (<phase>)" from /proc/self, like the psutil line people
 * add to FastAPI apps. crest_serve() prints the "listening" one itself. */
CREST_API void crest_report_startup_memory(const char *phase);

/* Resident set size of this process in bytes, exact (VmRSS of /proc/self/status); 0 if
 * unreadable. */
CREST_API uint64_t crest_rss_bytes(void);

/* ==============================================================================================
 * Part 2. The framework: applications and routes, the schemas that validate requests, the request
 * a handler reads, the response it builds, and JSON.
 * ============================================================================================== */

/* ------------------------------------------------------------------------------------------------
 * Schemas: declarative validation of JSON bodies and of path and query parameters, with
 * pydantic v2's rules and error vocabulary. Declared as static data with designated initializers:
 *
 *     static const struct crest_field item_fields[] = {
 *         {.name = "name", .type = CREST_TYPE_STRING, .required = true,
 *          .min_length = CREST_LIMIT(1), .max_length = CREST_LIMIT(100)},
 *         {.name = "price", .type = CREST_TYPE_NUMBER, .required = true, .gt = CREST_BOUND(0)},
 *     };
 *     static const struct crest_schema item = {"Item", item_fields, 2};
 */

enum crest_type {
    CREST_TYPE_STRING = 1, /* a JSON string */
    CREST_TYPE_INTEGER,    /* a JSON number with an integral value (5 and 5.0; not 5.5) */
    CREST_TYPE_NUMBER,     /* any JSON number */
    CREST_TYPE_BOOLEAN,
    CREST_TYPE_ARRAY,
    CREST_TYPE_OBJECT,
};

/* An optional numeric bound / length limit: .on says whether it applies. */
struct crest_bound {
    bool on;
    double value;
};
struct crest_limit {
    bool on;
    uint32_t value;
};
#define CREST_BOUND(x) ((struct crest_bound){true, (double)(x)})
#define CREST_LIMIT(n) ((struct crest_limit){true, (uint32_t)(n)})

struct crest_schema;

struct crest_field {
    const char *name;
    uint8_t type;  /* enum crest_type */
    bool required; /* absent → "missing" */
    bool nullable; /* JSON null accepted (and written back as null) */
    /* Value used when the field is absent and not required, as JSON text ("null", "[]", "0.5");
     * NULL: the field stays absent (what PATCH bodies want). Checked when the route is added. */
    const char *default_json;
    struct crest_limit min_length, max_length; /* strings: code points; arrays: items */
    struct crest_bound gt, ge, lt, le;         /* integers and numbers */
    const struct crest_field *items;           /* arrays: the rule for each item (name unused) */
    const struct crest_schema *object;         /* objects: their schema */
    const char *description;
};

struct crest_schema {
    const char *name; /* component name in OpenAPI ("Item") */
    const struct crest_field *fields;
    size_t n_fields;
};

enum crest_param_in {
    CREST_IN_QUERY = 1,
    CREST_IN_PATH,
};

struct crest_param {
    const char *name;
    uint8_t in;   /* enum crest_param_in */
    uint8_t type; /* CREST_TYPE_STRING, _INTEGER, _NUMBER or _BOOLEAN */
    bool required;
    const char *default_text; /* used when absent and not required, as query text ("100") */
    struct crest_limit min_length, max_length;
    struct crest_bound gt, ge, lt, le;
    const char *description;
};

/* ------------------------------------------------------------------------------------------------
 * Applications and routes */

struct crest_req;

/* What a handler returns: the response is complete (CREST_DONE), or the handler will complete it
 * later from another event of the same worker (CREST_PENDING) by calling crest_req_finish(). */
enum crest_handler_result {
    CREST_DONE = 0,
    CREST_PENDING = 1,
};

typedef enum crest_handler_result (*crest_handler_fn)(struct crest_req *req, void *ud);

/* A route declaration. The path template is made of static segments and parameters:
 * "{name}" (a string segment) or "{name:int}" (an integer, checked before the handler runs:
 * a non-integer answers 422 with loc ["path", name], as FastAPI does), or, as the last segment,
 * "{name:path}" (the rest of the path, one or more segments, each percent-decoded, joined by
 * '/'). Static routes win over parameterized ones. Strings are borrowed and must outlive the app
 * (string literals do). summary, description, tag, params, body, status and response also make the
 * route's entry in the OpenAPI document (crest_app_add_docs_routes). */
struct crest_route {
    const char *method; /* "GET", "POST", ... ; GET routes answer HEAD too */
    const char *path;   /* "/items/{item_id:int}" */
    crest_handler_fn handler;
    void *ud; /* passed to the handler */
    const char *summary;
    const char *description;
    const char *tag;
    /* Validation, done before the handler runs; every violation is answered at once with 422 in
     * FastAPI's shape. params: query parameters, and path parameters' bounds (their type comes
     * from the template). body: a JSON object body, validated against the schema. */
    const struct crest_param *params;
    size_t n_params;
    const struct crest_schema *body;
    int status; /* the success status, for the OpenAPI document (default 200) */
    /* What a success returns, for the OpenAPI document only (never checked): an object of this
     * schema, or an array of them when response_is_array. NULL: not described. */
    const struct crest_schema *response;
    bool response_is_array;
    bool hidden; /* left out of the OpenAPI document (FastAPI's include_in_schema=False) */
    /* The route's own hooks (its dependencies), after the app's that apply to it. */
    const struct crest_hook *hooks;
    size_t n_hooks;
    /* Request bodies. body_stream: the handler takes the body in pieces as they arrive
     * (crest_req_body_read) instead of whole (crest_req_body), so an upload of any size costs the
     * connection its read buffer only; hooks and validation of path and query run before the first
     * byte of it is read, and 100 Continue goes out only when the handler starts reading. Not with
     * body (a JSON schema needs the whole body). max_body_bytes: this route's limit on the body's
     * total (0: crest_config.max_body_bytes), which may be larger than the server's: past it, 413
     * {"detail":"Request body too large"} and the connection is closed without reading the rest (a
     * Content-Length past it is refused before any byte is read). A buffered route's body is held
     * whole in memory (inside the budget), so keep its limit small. */
    bool body_stream;
    uint64_t max_body_bytes;
    /* For the OpenAPI document only: a multipart/form-data body of these fields (files are
     * documented as strings of format binary). A streamed route without form is documented as
     * application/octet-stream. */
    const struct crest_form_field *form;
    size_t n_form;
};

/* A field of a multipart/form-data body, as the OpenAPI document describes it. */
struct crest_form_field {
    const char *name;
    bool file; /* a file upload (format: binary), else a text field */
    bool required;
    const char *description;
};

/* Hooks: behaviour written once around handlers (FastAPI's dependencies and middleware). A hook's
 * before runs on the way in and may answer (401, 403, 429) and stop the chain, attach data for the
 * handler (crest_req_set), or wait (a key looked up in a database) and resume it with
 * crest_req_next(). Its after runs on the way out, on every response the chain produced, crest's
 * own 404/405/422/503 included: it may add headers or replace the response. Order:
 *   1. app hooks without prefix or tag (middleware), before routing, so they see every request;
 *   2. routing (404, 405), then app hooks whose prefix or tag the route has, in declaration order,
 *      then the route's own hooks;
 *   3. validation (422) and the handler.
 * After hooks run in the reverse order, for the hooks the request reached. With no hook, none of
 * this costs anything. */
enum crest_hook_result {
    CREST_HOOK_NEXT,    /* go on along the chain */
    CREST_HOOK_DONE,    /* the hook answered: the chain stops (after hooks still run) */
    CREST_HOOK_PENDING, /* the hook will call crest_req_next() (or answer and crest_req_finish()) */
};
typedef enum crest_hook_result (*crest_before_fn)(struct crest_req *req, void *ud);
typedef void (*crest_after_fn)(struct crest_req *req, void *ud);
struct crest_hook {
    crest_before_fn before; /* NULL: none */
    crest_after_fn after;   /* NULL: none */
    void *ud;
    /* App hooks only: the routes under prefix, in whole segments ("/items" covers "/items" and
     * "/items/{id}", not "/itemsx"), or whose tag is tag; both NULL: every request, before
     * routing. Borrowed: they must outlive the app. */
    const char *prefix;
    const char *tag;
};
/* Adds an app hook (copied). 0, -EINVAL (neither before nor after), -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_app_add_hook(struct crest_app *app,
                                                  const struct crest_hook *hook);

/* CORS (Starlette's CORSMiddleware), as a hook before routing: a preflight from an allowed origin
 * is answered 200 with Access-Control-Allow-Methods, -Max-Age and -Allow-Headers (the requested
 * headers, once each was found allowed) (400 "Disallowed CORS origin|method|headers" otherwise)
 * and never reaches a handler; every other response to an allowed Origin, crest's own errors
 * included, gets Access-Control-Allow-Origin, -Allow-Credentials and -Expose-Headers. The
 * Allow-Origin is "*" when "*" is configured (unless credentials are allowed and the request
 * has a cookie), else the request's origin with Vary: Origin. Origins are exact strings
 * ("https://app.example.com"; "null" only if listed);
 * "*" allows any. Strings are borrowed: they must outlive the app. */
struct crest_cors {
    const char *const *allow_origins;
    size_t n_allow_origins;
    const char *allow_methods;  /* "GET, POST", or "*"; NULL: "GET" */
    const char *allow_headers;  /* "Authorization, X-Key", or "*"; NULL: the safelisted ones */
    const char *expose_headers; /* what the page may read besides the safelisted; NULL: none */
    bool allow_credentials;     /* cookies and Authorization may go with the request */
    unsigned max_age_seconds;   /* how long a preflight is cached; 0: 600 */
};
/* 0, -EINVAL, -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_app_add_cors(struct crest_app *app,
                                                  const struct crest_cors *cors);

/* Creates an application with no routes; title and version describe it (OpenAPI, --version).
 * Returns NULL when out of memory. */
CREST_API struct crest_app *crest_app_new(const char *title, const char *version);
CREST_API void crest_app_free(struct crest_app *app);

/* Sets the description of the OpenAPI document's info (Markdown); borrowed, it must outlive the
 * app. Set it before serving: the document is rendered once. */
CREST_API void crest_app_set_description(struct crest_app *app, const char *description);

/* Adds a route. -EINVAL: bad method or template (the reason goes to err when err is not NULL);
 * -EEXIST: the same method and template is already declared; -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_app_add_route(struct crest_app *app,
                                                   const struct crest_route *route,
                                                   char err[CREST_ERR_LEN]);

/* What GET /healthz asks before it answers: NULL when the worker can serve, else the name of the
 * dependency that is down ("store"), which turns the answer into 503
 * {"status":"degraded","store":"down"} (load balancers and readiness probes take the instance out
 * until it is back). Called in the worker, with its data. */
typedef const char *(*crest_health_fn)(void *worker_data);
CREST_API void crest_app_on_health(struct crest_app *app, crest_health_fn fn);

/* Adds the built-in routes: GET /json → {"message":"Hello, World!"} and GET /healthz →
 * {"status":"ok"} (or 503 when the health hook names a dependency that is down). */
CREST_API CREST_MUST_CHECK int crest_app_add_builtin_routes(struct crest_app *app);

/* Serves the files below dir at GET {prefix}/{path} (Starlette's StaticFiles), each with
 * crest_res_file: validators, 304/412, ranges, sendfile, a Content-Type from its extension. ".."
 * and symbolic links that lead out of dir are refused by the kernel (openat2 RESOLVE_BENEATH),
 * hidden names (a segment starting with '.') by crest, directories are not listed: all answer
 * 404. The mount is not in the OpenAPI document. 0, -EINVAL (prefix not "/..."), a negative errno
 * from opening dir, -EEXIST, -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_app_add_static(struct crest_app *app, const char *prefix,
                                                    const char *dir);

/* Adds GET /openapi.json: the app's OpenAPI 3.1.0 document, rendered from the route table once
 * (by crest_serve before the workers start, or at the test client's first request) and served
 * from memory. With assets_dir (a directory holding swagger-ui.css, swagger-ui-bundle.js and
 * redoc.standalone.js, as the build installs them from npm into build/docs-assets/dist and
 * `make install` into crest_docs_installed_dir()), also GET /docs (Swagger UI),
 * GET /redoc (ReDoc) and GET /docs/{file} (the assets, read from assets_dir per request).
 * Routes added after this call are in the document too; the docs routes themselves are not.
 * 0; -ENOENT: assets_dir lacks the assets, so only /openapi.json was added; -EEXIST (called
 * twice, or a route of the same method and path exists); -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_app_add_docs_routes(struct crest_app *app,
                                                         const char *assets_dir);

/* The default assets_dir of an installed libcrest: PREFIX/share/crest/docs, where `make install`
 * puts Swagger UI and ReDoc, PREFIX being the install prefix libcrest was built for
 * (`make install PREFIX=...`, or cmake -DCMAKE_INSTALL_PREFIX=...; /usr/local by default). A tree
 * installed elsewhere than it was built for (cmake --install --prefix, a copied prefix) has them
 * in `pkg-config --variable=docsdir crest`. A static string; the directory may not exist (a build
 * without npm installs no assets, and crest_app_add_docs_routes then says -ENOENT). */
CREST_API const char *crest_docs_installed_dir(void);

/* Adds the memory debugging routes:
 * GET /debug/memory: RSS, peak RSS, malloc's heap, the bytes crest tracks, their ratio
 *   ("coverage") and each allocation tag's live, peak and total bytes, largest first (tracemalloc's
 *   top statistics); with ?diff=1, each tag's change since the snapshot (409 without one).
 * POST /debug/memory/snapshot: keeps the figures of this moment as the process's snapshot (201).
 * With token NULL they answer loopback clients only; with a token, any client presenting
 * "Authorization: Bearer <token>", from any address, and no one else. Everyone else gets 404, as
 * if they did not exist. token is borrowed: it must outlive the app. 0, -EEXIST, -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_app_add_debug_routes(struct crest_app *app, const char *token);

/* ------------------------------------------------------------------------------------------------
 * Requests (valid inside a handler, and until crest_req_finish() for pending ones) */

enum crest_method {
    CREST_METHOD_UNKNOWN = 0,
    CREST_METHOD_GET,
    CREST_METHOD_HEAD,
    CREST_METHOD_POST,
    CREST_METHOD_PUT,
    CREST_METHOD_DELETE,
    CREST_METHOD_PATCH,
    CREST_METHOD_OPTIONS,
    CREST_METHOD_TRACE,
    CREST_METHOD_CONNECT,
};

CREST_API enum crest_method crest_req_method(const struct crest_req *req);
/* The path as sent, still percent-encoded, without the query. */
CREST_API struct crest_str crest_req_path(const struct crest_req *req);
/* The raw query string after '?', or {NULL, 0}. */
CREST_API struct crest_str crest_req_query_string(const struct crest_req *req);
/* The route template that matched ("/items/{item_id:int}"), for logs and metrics. */
CREST_API struct crest_str crest_req_route(const struct crest_req *req);
/* The value of the first header named name (case-insensitive), without surrounding whitespace;
 * {NULL, 0} when absent. */
CREST_API struct crest_str crest_req_header(const struct crest_req *req, const char *name);
/* The request body (de-chunked), or {NULL, 0} when there is none. */
CREST_API struct crest_str crest_req_body(const struct crest_req *req);

/* Request bodies as streams (routes declared with body_stream). A handler asks for the body with
 * crest_req_body_read and returns CREST_PENDING; crest then reads the body (Content-Length or
 * chunked, de-chunked here) through the connection's read buffer and hands each piece to data as
 * it arrives, so nothing holds more of it than one read. When data returns:
 *   CREST_BODY_MORE   go on;
 *   CREST_BODY_PAUSE  read nothing more from the socket until crest_req_body_resume (a slow file
 *                     write or hash, a reply awaited from the loop): the client is held back by
 *                     TCP's own flow control, and no timeout runs while paused;
 *   CREST_BODY_STOP   the application wants no more: it answers (crest_res_*) and calls
 *                     crest_req_finish, now or later; the connection closes after the response
 *                     without reading the rest.
 * end runs exactly once: status 0 when the whole body was handed over (then answer, and call
 * crest_req_finish, inside end or later); otherwise the request is over and crest answers or has
 * closed, so release what ud holds and touch req no more: -EFBIG (past the route's limit: 413),
 * -EBADMSG (malformed chunked framing: 400), -ECONNRESET (the client went away, or the server
 * stopped), -ETIMEDOUT (the body stalled past the body timeout: 408), -ECANCELED (the response
 * was finished before the body ended). data and end run on the worker's thread, with req valid;
 * crest_req_finish inside them takes effect when they return. */
enum crest_body_next {
    CREST_BODY_MORE,
    CREST_BODY_PAUSE,
    CREST_BODY_STOP,
};
typedef enum crest_body_next (*crest_body_data_fn)(struct crest_req *req, const void *data,
                                                   size_t len, void *ud);
typedef void (*crest_body_end_fn)(struct crest_req *req, int status, void *ud);
/* Starts reading req's body into data and end (see above); once per request, from its handler or
 * a hook's continuation. 0, -EINVAL (the route is not body_stream, no end, or called twice),
 * -ENOMEM; on failure nothing is called. */
CREST_API CREST_MUST_CHECK int crest_req_body_read(struct crest_req *req, crest_body_data_fn data,
                                                   crest_body_end_fn end, void *ud);
/* Reading goes on after data returned CREST_BODY_PAUSE (from the worker's thread: a timer, a
 * watch, an async or work callback); inside data, the PAUSE it returns is ignored. end may run
 * inside this call (the client went away meanwhile). */
CREST_API void crest_req_body_resume(struct crest_req *req);
/* Body bytes handed to data so far. */
CREST_API uint64_t crest_req_body_received(const struct crest_req *req);

/* multipart/form-data (RFC 7578), parsed incrementally: feed it the pieces data receives and it
 * calls back per part, each part's bytes as they come (a file goes to disk or a hash without ever
 * being whole in memory). Memory: the parser and one part-header buffer (max_header_bytes), in
 * the request's arena. */
struct crest_multipart;
/* A part: name and filename from its Content-Disposition (filename {NULL, 0} for a text field),
 * content_type from its Content-Type ({NULL, 0} when absent); valid until its end callback. */
struct crest_part {
    struct crest_str name;
    struct crest_str filename;
    struct crest_str content_type;
    uint32_t index; /* 0 for the first part */
};
/* Callbacks return 0, or a negative errno that stops the parser (crest_multipart_feed returns it).
 */
struct crest_multipart_config {
    int (*part_begin)(void *ud, const struct crest_part *part);
    int (*part_data)(void *ud, const struct crest_part *part, const void *data, size_t len);
    int (*part_end)(void *ud, const struct crest_part *part);
    void *ud;
    uint32_t max_parts;        /* 0: 100 */
    uint32_t max_header_bytes; /* one part's header section; 0: 4096 */
    uint64_t max_field_bytes;  /* a part without filename; 0: 1 MiB */
    uint64_t max_file_bytes;   /* a part with a filename; 0: no limit but the route's */
};
/* A parser for req's body (in its arena, freed with the request), the boundary taken from req's
 * Content-Type; cfg is copied. 0, -EINVAL (the Content-Type is not multipart/form-data with a
 * valid boundary (RFC 2046 5.1.1): answer 400), -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_multipart_new(struct crest_req *req,
                                                   const struct crest_multipart_config *cfg,
                                                   struct crest_multipart **out);
/* Parses the next len bytes. 0; -EBADMSG (malformed: answer 400), -EMSGSIZE (a limit: 413), or a
 * callback's error; the first error is sticky. */
CREST_API CREST_MUST_CHECK int crest_multipart_feed(struct crest_multipart *mp, const void *data,
                                                    size_t len);
/* The body ended: 0 when the closing delimiter was seen, else -EBADMSG (truncated), or the sticky
 * error. */
CREST_API CREST_MUST_CHECK int crest_multipart_finish(struct crest_multipart *mp);
/* A sentence saying what went wrong (for the 400/413 detail), or NULL when nothing did. */
CREST_API const char *crest_multipart_error(const struct crest_multipart *mp);

/* The request body validated against the route's schema, with defaults filled in for absent
 * fields that have one; NULL when the route declares no body schema. */
CREST_API const struct crest_json_value *crest_req_json(const struct crest_req *req);

/* Validated parameters declared in the route's params (defaults applied). The value is
 * meaningful only when the parameter was declared with that type and is present or defaulted;
 * crest_param_has tells whether it is. */
CREST_API bool crest_param_has(const struct crest_req *req, const char *name);
CREST_API int64_t crest_param_int(const struct crest_req *req, const char *name);
CREST_API double crest_param_number(const struct crest_req *req, const char *name);
CREST_API bool crest_param_bool(const struct crest_req *req, const char *name);
CREST_API struct crest_str crest_param_str(const struct crest_req *req, const char *name);

/* Path parameters, percent-decoded. 0, or -ENOENT when the template has no such parameter. */
CREST_API CREST_MUST_CHECK int crest_path_str(const struct crest_req *req, const char *name,
                                              struct crest_str *out);
/* 0, -ENOENT (no such parameter), -EINVAL (not an integer), -ERANGE (outside int64). */
CREST_API CREST_MUST_CHECK int crest_path_int(const struct crest_req *req, const char *name,
                                              int64_t *out);

/* Query parameters (application/x-www-form-urlencoded: '+' is a space, %XX decoded). The first
 * occurrence of name wins. 0, -ENOENT (absent), -EINVAL (malformed encoding or value), -ERANGE
 * (out of range), -ENOMEM. Like luaL_checkinteger / luaL_optinteger, a caller that has a default
 * treats -ENOENT as "use the default". */
CREST_API CREST_MUST_CHECK int crest_query_str(struct crest_req *req, const char *name,
                                               struct crest_str *out);
CREST_API CREST_MUST_CHECK int crest_query_int(struct crest_req *req, const char *name,
                                               int64_t *out);
CREST_API CREST_MUST_CHECK int crest_query_double(struct crest_req *req, const char *name,
                                                  double *out);
/* Accepts true/false, 1/0, yes/no, on/off (case-insensitive), like FastAPI's bool. */
CREST_API CREST_MUST_CHECK int crest_query_bool(struct crest_req *req, const char *name, bool *out);

/* The data the app's worker start hook made for the worker running this request. */
CREST_API void *crest_req_worker_data(const struct crest_req *req);

/* Resumes the chain after a hook returned CREST_HOOK_PENDING: the next hook, then validation and
 * the handler, as if the hook had returned CREST_HOOK_NEXT. From the worker that runs req. */
CREST_API void crest_req_next(struct crest_req *req);
/* Data a hook attaches for the hooks and the handler after it (the user a token names, say):
 * value under key (compared as a string; set again replaces it), for the request's life. 0,
 * -ENOMEM. crest_req_get returns it, or NULL. */
CREST_API CREST_MUST_CHECK int crest_req_set(struct crest_req *req, const char *key, void *value);
CREST_API void *crest_req_get(const struct crest_req *req, const char *key);

/* The loop of the worker running req (part 1: watches, timers, wake-ups, the blocking pool). */
CREST_API struct crest_loop *crest_req_loop(const struct crest_req *req);

/* Allocates n bytes that live until the response is written (the request's arena); NULL when out
 * of memory. */
CREST_API void *crest_req_alloc(struct crest_req *req, size_t n);

/* ------------------------------------------------------------------------------------------------
 * Responses. A handler sets a status (default 200), optional headers and a body. Server, Date,
 * Content-Length and Connection are crest's. */

CREST_API void crest_res_status(struct crest_req *req, int status);
/* Adds a header. -EINVAL when the name is not a token or the value holds CR, LF or NUL (so client
 * bytes echoed into a header can never split the response); -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_res_header(struct crest_req *req, const char *name,
                                                const char *value);
/* Sets the body (copied) and its Content-Type. -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_res_body(struct crest_req *req, const char *content_type,
                                              const void *body, size_t len);
/* Answers {"detail": detail} with the given status. */
CREST_API CREST_MUST_CHECK int crest_res_error(struct crest_req *req, int status,
                                               const char *detail);

struct crest_json;
/* Sets the status, Content-Type application/json, and returns the writer of the body. */
CREST_API struct crest_json *crest_res_json(struct crest_req *req, int status);

/* A file as the body, sent with sendfile once the head is written (none of it is read into
 * memory), as a static resource should be (RFC 9110): ETag and Last-Modified; If-Match and
 * If-Unmodified-Since answered 412, If-None-Match and If-Modified-Since 304; a single Range 206
 * with Content-Range (416 when it cannot be satisfied; several ranges are answered whole);
 * Accept-Ranges: bytes. content_type NULL: guessed from the name (crest_file_type).
 * 0 (the response is set: 200, 206, 304, 412 or 416), or a negative errno from open(2)
 * (-ENOENT...), -EISDIR, -EINVAL (not a regular file), -ENOMEM; on failure the response is
 * untouched. */
CREST_API CREST_MUST_CHECK int crest_res_file(struct crest_req *req, const char *path,
                                              const char *content_type);
/* The same with an open file descriptor, which it takes: closed when sent, or on failure. */
CREST_API CREST_MUST_CHECK int crest_res_file_take(struct crest_req *req, int fd,
                                                   const char *content_type);
/* The Content-Type of a file name's extension (html, css, js, json, png, svg, woff2, wasm...),
 * application/octet-stream when unknown. */
CREST_API const char *crest_file_type(const char *path);

/* Streamed responses: a body produced in pieces, of any length, in bounded memory. The producer
 * is pulled: crest calls it only when the connection's output has room (a window of 64 KiB), so
 * a slow reader holds it back instead of growing a buffer. HTTP/1.1 clients get chunked
 * transfer-coding, HTTP/1.0 clients a body that the connection's close ends; HEAD gets the head
 * only, and pipelined requests are answered after the stream ends. */
struct crest_stream;
enum crest_stream_next {
    CREST_STREAM_MORE, /* wrote something: call again when the connection has room */
    CREST_STREAM_WAIT, /* nothing to send now: call again after crest_stream_resume() */
    CREST_STREAM_END,  /* the body is complete */
    CREST_STREAM_FAIL, /* give up: the connection is closed with the body cut, never completed */
};
/* Writes with crest_stream_write, each write one chunk: crest_stream_room() says how much more the
 * window holds, and shrinks as you write; write while your next piece fits and return MORE (more is
 * taken, but then the memory is the application's doing). A MORE that wrote nothing is called again
 * once the output drained, or, when nothing was waiting to be written, taken as WAIT. */
typedef enum crest_stream_next (*crest_stream_fn)(struct crest_stream *st, void *ud);
/* Called once when the stream is over: status 0 (the producer said END and the last chunk is
 * queued to the connection; not a proof that the client read it), or -ECONNRESET (cut: the
 * client went away or stopped reading past the body timeout, the producer failed, or the server
 * stopped), so that the application releases what ud holds. */
typedef void (*crest_stream_done_fn)(void *ud, int status);
/* Makes req's response a stream: the status and headers set so far go out once the handler
 * returns CREST_DONE (or its crest_req_finish runs), then produce is pulled until it says END or
 * FAIL. 0, -EINVAL (no produce), -ENOMEM; on failure nothing is called. */
CREST_API CREST_MUST_CHECK int crest_res_stream(struct crest_req *req, const char *content_type,
                                                crest_stream_fn produce, crest_stream_done_fn done,
                                                void *ud);
/* From inside produce only. 0, -EINVAL (outside produce), -ENOMEM (the stream will be cut). */
CREST_API CREST_MUST_CHECK int crest_stream_write(struct crest_stream *st, const void *data,
                                                  size_t len);
/* Bytes the window still takes, inside produce (0 outside). */
CREST_API size_t crest_stream_room(const struct crest_stream *st);
/* Wakes a stream whose producer said WAIT (from the worker's thread: a timer, a watch, an async
 * callback); calling it inside produce makes a WAIT return call produce again at once. */
CREST_API void crest_stream_resume(struct crest_stream *st);
/* The request the stream answers (its arena and data live until done). */
CREST_API struct crest_req *crest_stream_req(struct crest_stream *st);

/* Completes a response whose handler returned CREST_PENDING. Call it once, from the worker that
 * ran the handler; the request and everything borrowed from it are gone afterwards. */
CREST_API void crest_req_finish(struct crest_req *req);

/* Calls cb(req, ud) once, after delay_ms, on the worker running the request: how a pending handler
 * waits for time. -ENOMEM. */
typedef void (*crest_req_timer_fn)(struct crest_req *req, void *ud);
CREST_API CREST_MUST_CHECK int crest_req_timer(struct crest_req *req, uint32_t delay_ms,
                                               crest_req_timer_fn cb, void *ud);

/* ------------------------------------------------------------------------------------------------
 * JSON writer (RFC 8259): commas and nesting are tracked for you; strings are escaped and always
 * valid UTF-8 (invalid input bytes become U+FFFD); doubles are the shortest text that reads back
 * to the same value; NaN and infinities, which JSON cannot represent, become null. Out of memory
 * is sticky: writes after it do nothing and crest_json_error() returns -ENOMEM. */

/* A standalone writer (for tests and tools); crest_res_json() gives one bound to a response. */
CREST_API struct crest_json *crest_json_new(void);
CREST_API void crest_json_free(struct crest_json *j);
/* The text written so far; valid until the next write or free. */
CREST_API struct crest_str crest_json_text(const struct crest_json *j);
CREST_API int crest_json_error(const struct crest_json *j);

CREST_API void crest_json_object_begin(struct crest_json *j);
CREST_API void crest_json_object_end(struct crest_json *j);
CREST_API void crest_json_array_begin(struct crest_json *j);
CREST_API void crest_json_array_end(struct crest_json *j);
/* Writes an object key; the next value written is its value. */
CREST_API void crest_json_key(struct crest_json *j, const char *key);
CREST_API void crest_json_key_len(struct crest_json *j, const char *key, size_t len);
CREST_API void crest_json_string(struct crest_json *j, const char *s);
CREST_API void crest_json_string_len(struct crest_json *j, const char *s, size_t len);
CREST_API void crest_json_int(struct crest_json *j, int64_t v);
CREST_API void crest_json_double(struct crest_json *j, double v);
CREST_API void crest_json_bool(struct crest_json *j, bool v);
CREST_API void crest_json_null(struct crest_json *j);

/* ------------------------------------------------------------------------------------------------
 * JSON values (RFC 8259), as parsed from a request body into the request's arena. Strings are
 * decoded UTF-8 (escapes resolved, always NUL-terminated; len counts bytes and may include U+0000).
 * Duplicate object keys are all kept in order; lookups take the last one, as Python's json does. */

enum crest_json_type {
    CREST_JSON_NULL,
    CREST_JSON_FALSE,
    CREST_JSON_TRUE,
    CREST_JSON_NUMBER,
    CREST_JSON_STRING,
    CREST_JSON_ARRAY,
    CREST_JSON_OBJECT,
};

struct crest_json_member;

struct crest_json_value {
    uint8_t type;    /* enum crest_json_type */
    bool is_integer; /* a number written without fraction or exponent that fits int64 */
    uint32_t len;    /* string: bytes; array: items; object: members */
    uint32_t offset; /* byte offset of the value in the source text */
    union {
        struct {
            double number;
            int64_t integer; /* valid when is_integer */
        };
        const char *string;
        struct crest_json_value *items;
        struct crest_json_member *members;
    };
};

struct crest_json_member {
    struct crest_str key;
    struct crest_json_value value;
};

/* The last member named key (bytes compared exactly), or NULL; NULL for non-objects too. */
CREST_API const struct crest_json_value *crest_json_get(const struct crest_json_value *object,
                                                        const char *key);

/* Writes v (any JSON value) through the writer, e.g. to echo a validation error's input. */
CREST_API void crest_json_write_value(struct crest_json *j, const struct crest_json_value *v);

/* ==============================================================================================
 * Part 3. The test client, like FastAPI's TestClient: runs requests through the parser, router and
 * handlers in process, without a socket (pending handlers and their timers included), and returns
 * the responses.
 * ============================================================================================== */

struct crest_test_response {
    int status;
    char *raw; /* every byte answered, as it would go on the wire (owned) */
    size_t raw_len;
    size_t raw_cap;
    struct crest_str head; /* the final response's status line and headers, inside raw */
    struct crest_str body; /* from the end of head to the end of raw (one response: its body) */
};

/* method and target as on a request line ("GET", "/items/1?x=2"); body may be NULL. A body is
 * sent with Content-Type: application/json. 0, -EINVAL (the request could not be formed), -ENOMEM.
 */
CREST_API CREST_MUST_CHECK int crest_test_request(struct crest_app *app, const char *method,
                                                  const char *target, const char *body,
                                                  struct crest_test_response *out);
/* A request with headers (FastAPI's client.get(url, headers=..., cookies=...)): headers are
 * "Name: value" lines ("Authorization: Bearer k", "Cookie: session=abc"); Host: testserver is
 * added unless one is given. body (body_len bytes, or up to its NUL when body_len is 0) goes with
 * content_type, application/json when NULL. */
struct crest_test_req {
    const char *method;
    const char *target;
    const char *const *headers;
    size_t n_headers;
    const char *body;
    size_t body_len;
    const char *content_type;
};
/* 0; -EINVAL when a header is not "token: value" or any part holds CR or LF (the request could
 * not be formed as given); -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_test_send(struct crest_app *app,
                                               const struct crest_test_req *r,
                                               struct crest_test_response *out);
/* Sends raw bytes (one or more pipelined requests) and collects everything answered. */
CREST_API CREST_MUST_CHECK int crest_test_raw(struct crest_app *app, const char *bytes, size_t len,
                                              struct crest_test_response *out);
/* A response header's value (case-insensitive name), or {NULL, 0}. */
CREST_API struct crest_str crest_test_header(const struct crest_test_response *res,
                                             const char *name);
CREST_API void crest_test_response_fini(struct crest_test_response *res);

#ifdef __cplusplus
}
#endif

#endif /* CREST_H */
