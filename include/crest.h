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
#include <stdio.h>

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
     * its share is answered 503 {"detail":"Server over memory budget"} with Retry-After: 1.
     * Work the database has done is not refused: a committed write's rows and its callback's
     * answer are allocated past the share (counted all the same), never answered 503. */
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

/* The command line, as uvicorn's: crest_config_args reads the engine's flags (--host, --port,
 * --workers, --backlog, --timeout-keep-alive, --timeout-header, --timeout-body,
 * --timeout-graceful-shutdown, --max-head-bytes, --max-headers, --max-body-bytes, --quiet,
 * --memory-limit, --log-memory, --access-log, --log-format; `--help` lists them) and the
 * application's own flags, each as "--name value" or "--name=value", over the environment
 * variables HOST, PORT, CREST_WORKERS, CREST_MEMORY_LIMIT and each crest_arg's env (flags win). */
enum crest_arg_kind {
    CREST_ARG_STRING,  /* const char *, pointing into argv or the environment; not empty */
    CREST_ARG_SWITCH,  /* bool, set true by the flag alone (env: 1/true on, 0/false/empty off) */
    CREST_ARG_COUNT,   /* uint32_t, 1..4294967295 */
    CREST_ARG_BYTES,   /* uint64_t: 1024, 16K, 1M, 1G (binary) */
    CREST_ARG_SECONDS, /* uint32_t milliseconds from decimal seconds, "0.5" or "10s" (<= 1 day) */
};
struct crest_arg {
    const char *name; /* "--db" */
    enum crest_arg_kind kind;
    void *value;      /* where the value goes, of the kind's type; left as is when not given */
    const char *env;  /* read when the flag is absent; NULL: none */
    const char *help; /* one line for --help */
};
/* cfg holds the defaults (crest_config_defaults, then the application's own). 0; 1 after
 * printing the usage to stdout for --help or -h (exit 0), the engine's flags with cfg's values
 * as their defaults (an application's own help text says its own); -EINVAL with one line in err
 * naming the unknown flag, the missing or bad value, or the environment variable (exit 2). */
CREST_API CREST_MUST_CHECK int crest_config_args(struct crest_config *cfg, int argc, char **argv,
                                                 const struct crest_arg *args, size_t n_args,
                                                 char err[CREST_ERR_LEN]);
/* The option table of --help: the engine's flags, then args. */
CREST_API void crest_config_usage(FILE *out, const struct crest_arg *args, size_t n_args);

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
 *     static const struct crest_schema item = {.name = "Item", .fields = item_fields,
 *                                              .n_fields = 2};
 * (Designated initializers: crest_schema has grown members since {"Item", fields, 2}, and gcc's
 * -Wextra warns about the members a positional initializer leaves out.) */

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
struct crest_json_value;
struct crest_db_result;

/* The string formats a field may require (pydantic's EmailStr, UUID, date, datetime, AnyUrl,
 * IPv4Address, IPv6Address), with pydantic's error types: email "value_error" ("value is not a
 * valid email address: ..."), uuid "uuid_parsing", date "date_parsing", date-time
 * "datetime_parsing", uri "url_parsing", ipv4 "ip_v4_address", ipv6 "ip_v6_address". The value
 * stays the text sent. */
enum crest_format {
    CREST_FORMAT_NONE = 0,
    CREST_FORMAT_EMAIL,     /* local@domain.tld: no spaces, one @, a dot in the domain */
    CREST_FORMAT_UUID,      /* 8-4-4-4-12 hex digits (or 32 without hyphens, or urn:uuid:...) */
    CREST_FORMAT_DATE,      /* YYYY-MM-DD, a real day */
    CREST_FORMAT_DATE_TIME, /* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac][Z|+HH:MM] (T, t or space) */
    CREST_FORMAT_URI,       /* an absolute URL: scheme "://" host ... (RFC 3986) */
    CREST_FORMAT_IPV4,      /* dotted quad, no leading zeros */
    CREST_FORMAT_IPV6,      /* RFC 4291 text, :: and an embedded IPv4 tail allowed */
};

/* An application validator of one field (pydantic's @field_validator), run after crest's own
 * rules passed for the value: NULL when it is valid, else a sentence that becomes a 422 problem
 * {"type": "value_error", "msg": "Value error, <sentence>", "ctx": {"error": "<sentence>"}} at
 * the field's loc, beside every other problem. The sentence must outlive the request (a string
 * literal, or crest_req_alloc'd). v is the validated value (strings already stripped). */
typedef const char *(*crest_field_check_fn)(const struct crest_json_value *v, void *ud);
/* An application validator of a whole object (@model_validator(mode="after")), run only when
 * every field of it was valid: obj is the validated object, model the struct it was bound to
 * (NULL for a schema that binds none). Its problem's loc is the object's. */
typedef const char *(*crest_model_check_fn)(const struct crest_json_value *obj, const void *model,
                                            void *ud);

/* Models: a schema whose fields name the members of a C struct, so that a validated body (or
 * query, or form) lands in that struct in one step (crest_req_model, crest_req_query_model),
 * and a struct, an array of them or database rows are written back as JSON by the same
 * declaration that documents them (crest_res_model, crest_res_models, crest_res_rows):
 *
 *     struct note { int64_t id; struct crest_str title; bool done; struct crest_fields set; };
 *     static const struct crest_field note_fields[] = {
 *         {.name = "id", .type = CREST_TYPE_INTEGER, CREST_AT(struct note, id)},
 *         {.name = "title", .type = CREST_TYPE_STRING, .required = true, CREST_AT(struct note,
 * title)},
 *         {.name = "done", .type = CREST_TYPE_BOOLEAN, .default_json = "false",
 *          CREST_AT(struct note, done)},
 *     };
 *     static const struct crest_schema note = {.name = "Note", .fields = note_fields,
 *         .n_fields = 3, CREST_MODEL(struct note), CREST_FIELDS_AT(struct note, set)};
 *
 * CREST_AT picks the member's C type from its declaration (_Generic): int64_t, int32_t (values
 * outside its range are refused with the bounds' problems), double, bool, struct crest_str and
 * const char * (NUL-terminated text in the request's arena, or borrowed from a database result;
 * ptr NULL / NULL for null), struct crest_array (an array: items of the items field's C type, in
 * the arena), or any other struct: the nested object's model, inline. Binding allocates nothing
 * outside the request's arena. */
enum crest_ctype {
    CREST_C_NONE = 0, /* the field is validated and documented, not bound */
    CREST_C_INT64,
    CREST_C_INT32,
    CREST_C_DOUBLE,
    CREST_C_BOOL,
    CREST_C_STR,    /* struct crest_str */
    CREST_C_CSTR,   /* const char * */
    CREST_C_ARRAY,  /* struct crest_array */
    CREST_C_STRUCT, /* the nested model's struct (object's size) */
};
/* An array member: n items of the item field's C type (int64_t, struct crest_str, a nested
 * model's struct...), contiguous. The item field names no member, so its C type comes from its
 * type (or its .ctype, if set):
 *     static const struct crest_field tag_item = {.type = CREST_TYPE_OBJECT, .object = &tag};
 *     CREST_ARRAY(struct post, tags, &tag_item)   (tags.items: struct tag[]) */
struct crest_array {
    const void *items;
    size_t n;
};
/* Which fields of a bound object were sent (bit i: fields[i] was in the input, not defaulted:
 * pydantic's model_fields_set, what a PATCH applies) and which were null (bit i: fields[i] is
 * JSON null). A model of up to 64 fields may carry one (CREST_FIELDS_AT). */
struct crest_fields {
    uint64_t set;
    uint64_t null;
};
#define CREST_CTYPE_OF(T, m) \
    _Generic(((T *)0)->m,                                                                          \
        int64_t: CREST_C_INT64,                                                                    \
        int32_t: CREST_C_INT32,                                                                    \
        double: CREST_C_DOUBLE,                                                                    \
        bool: CREST_C_BOOL,                                                                        \
        struct crest_str: CREST_C_STR,                                                             \
        const char *: CREST_C_CSTR,                                                                \
        char *: CREST_C_CSTR,                                                                      \
        struct crest_array: CREST_C_ARRAY,                                                         \
        default: CREST_C_STRUCT)
/* In a crest_field's initializer: the member of struct type T this field binds to. */
#define CREST_AT(T, m) .ctype = CREST_CTYPE_OF(T, m), .at = offsetof(T, m)
/* In a crest_schema's initializer: the struct the model binds to, and where its crest_fields
 * member is (stored plus one, so that 0 means none). */
#define CREST_MODEL(T) .size = sizeof(T)
#define CREST_FIELDS_AT(T, m) .fields_at = offsetof(T, m) + 1

/* Shorthands, one line per field as a pydantic model reads: the JSON name is the member's.
 *     static const struct crest_field note_fields[] = {
 *         CREST_STRING(struct note, title, .required = true, .max_length = CREST_LIMIT(200)),
 *         CREST_BOOLEAN(struct note, done, .default_json = "false"),
 *     };
 *     static const struct crest_schema note = CREST_SCHEMA("Note", note_fields,
 *                                                          CREST_MODEL(struct note));
 * CREST_FIELD declares a field that binds nothing (a response schema for database rows, say);
 * CREST_SCHEMA counts the fields of an array; the trailing arguments are more designators. */
#define CREST_FIELD(NAME, TYPE, ...)            \
    {                                           \
        .name = NAME, .type = TYPE, __VA_ARGS__ \
    }
#define CREST_STRING(T, m, ...)                                            \
    {                                                                      \
        .name = #m, .type = CREST_TYPE_STRING, CREST_AT(T, m), __VA_ARGS__ \
    }
#define CREST_INTEGER(T, m, ...)                                            \
    {                                                                       \
        .name = #m, .type = CREST_TYPE_INTEGER, CREST_AT(T, m), __VA_ARGS__ \
    }
#define CREST_NUMBER(T, m, ...)                                            \
    {                                                                      \
        .name = #m, .type = CREST_TYPE_NUMBER, CREST_AT(T, m), __VA_ARGS__ \
    }
#define CREST_BOOLEAN(T, m, ...)                                            \
    {                                                                       \
        .name = #m, .type = CREST_TYPE_BOOLEAN, CREST_AT(T, m), __VA_ARGS__ \
    }
#define CREST_ARRAY(T, m, ITEMS, ...)                                                     \
    {                                                                                     \
        .name = #m, .type = CREST_TYPE_ARRAY, .items = ITEMS, CREST_AT(T, m), __VA_ARGS__ \
    }
#define CREST_OBJECT(T, m, MODEL, ...)                                                      \
    {                                                                                       \
        .name = #m, .type = CREST_TYPE_OBJECT, .object = MODEL, CREST_AT(T, m), __VA_ARGS__ \
    }
#define CREST_SCHEMA(NAME, FIELDS, ...)                                                   \
    {                                                                                     \
        .name = NAME, .fields = FIELDS, .n_fields = sizeof(FIELDS) / sizeof((FIELDS)[0]), \
        __VA_ARGS__                                                                       \
    }

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
    /* More of pydantic's rules, each with its error type, checked in this order after the type:
     * strip (str_strip_whitespace: leading and trailing whitespace removed before every other
     * rule), lengths, pattern ("string_pattern_mismatch"), format (enum crest_format), literals
     * ("literal_error"), bounds, multiple_of ("multiple_of"), unique_items, then check. */
    bool strip;
    /* Strings: a regular expression the value must match somewhere (pydantic's search; anchor
     * it with ^...$ for the whole value). Matched in time linear in the value's length (a
     * Thompson NFA, never backtracking): the syntax is pydantic's without backreferences or
     * look-around: . [] [^] \d \w \s \D \W \S \b-less escapes, ^ $, | () (?:), * + ? {n} {n,} {n,m}
     * and their lazy forms (which match the same). Checked when the route is added. */
    const char *pattern;
    uint8_t format; /* strings: enum crest_format */
    /* Strings and integers: the values allowed (typing.Literal), as text: "draft", "done"; "1",
     * "2". "literal_error", msg "Input should be 'draft' or 'done'" (1 or 2 for integers). */
    const char *const *literals;
    size_t n_literals;
    struct crest_bound multiple_of; /* integers and numbers: "Input should be a multiple of 5" */
    /* Arrays: no two items equal (JSON Schema's uniqueItems; pydantic v2 has a set instead):
     * "value_error" at the second item, "Value error, List should have unique items". */
    bool unique_items;
    crest_field_check_fn check; /* the application's validator, or NULL */
    void *check_ud;
    /* Binding (models): set with CREST_AT(struct, member). */
    uint8_t ctype; /* enum crest_ctype */
    size_t at;     /* offsetof(struct, member) */
};

struct crest_schema {
    const char *name; /* component name in OpenAPI ("Item") */
    const struct crest_field *fields;
    size_t n_fields;
    size_t size;      /* sizeof the struct the fields bind to (CREST_MODEL); 0: not a model */
    size_t fields_at; /* 1 + offsetof its struct crest_fields (CREST_FIELDS_AT); 0: none */
    /* extra="forbid": a member the schema does not declare is a problem ("extra_forbidden",
     * "Extra inputs are not permitted", at its loc); by default it is ignored. */
    bool forbid_extra;
    /* Writing a model (crest_res_model...): fields not sent are left out
     * (response_model_exclude_unset), for a model with CREST_FIELDS_AT. */
    bool exclude_unset;
    crest_model_check_fn check; /* the application's validator of the object, or NULL */
    void *check_ud;
};

enum crest_param_in {
    CREST_IN_QUERY = 1,
    CREST_IN_PATH,
    /* A header parameter: name is the header's name, matched without regard to case ("X-Token");
     * the first field of that name is the value. 422 loc ["header", name], in: header. */
    CREST_IN_HEADER,
    /* A cookie of the Cookie header (name=value; ...); the first of that name is the value, its
     * double quotes removed. 422 loc ["cookie", name], in: cookie. */
    CREST_IN_COOKIE,
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

struct crest_hook;
struct crest_doc_response;

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
    /* The media type of a success body, for the OpenAPI document ("text/plain", "text/html",
     * "application/octet-stream": a string schema, binary unless the type is text); NULL:
     * application/json with the response schema. What the handler sends is its own choice. */
    const char *response_type;
    /* Other answers the route may give, for the OpenAPI document (FastAPI's responses=): 401,
     * 403, 404, 409 ... each with its schema, {"detail": "..."} by default. */
    const struct crest_doc_response *responses;
    size_t n_responses;
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
    /* A query model: the query parameters as one schema (FastAPI's Annotated[Model, Query()]):
     * each field is a parameter of its name (integers, numbers and booleans parsed from the text
     * with the *_parsing errors, arrays from the repeated parameter: ?tag=a&tag=b), checked with
     * every rule of the schema (forbid_extra included), at loc ["query", name], and bound to its
     * struct when the schema is a model (crest_req_query_model). Beside params, not instead. */
    const struct crest_schema *query;
    /* The body schema is read from an application/x-www-form-urlencoded body (FastAPI's Form()),
     * its fields as the query model's are; any other Content-Type is a 422 like a missing body. */
    bool body_form;
};

/* A route on one line or a few, as a FastAPI decorator reads: the trailing arguments are more
 * designators.  CREST_ROUTE("GET", "/notes", list_notes, .query = &page, .response = &note) */
#define CREST_ROUTE(METHOD, PATH, HANDLER, ...)                         \
    {                                                                   \
        .method = METHOD, .path = PATH, .handler = HANDLER, __VA_ARGS__ \
    }

/* One more documented answer of a route. */
struct crest_doc_response {
    int status;                        /* 400..599 */
    const char *description;           /* NULL: the status's reason phrase ("Conflict") */
    const struct crest_schema *schema; /* NULL: {"detail": string} (the HTTPError component) */
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
 * this costs anything. No hook runs for what crest refuses before a request is whole and handed to
 * the app: 400 (a malformed head), 408, 413 (refused from its Content-Length before a body byte is
 * buffered), 414 and 431 (the head was never read whole, so there are no headers to look at), and
 * the 503 of a connection shed for memory: those answers carry no CORS or other hook header. */
enum crest_hook_result {
    CREST_HOOK_NEXT,    /* go on along the chain */
    CREST_HOOK_DONE,    /* the hook answered: the chain stops (after hooks still run) */
    CREST_HOOK_PENDING, /* the hook will call crest_req_next() (or answer and crest_req_finish()) */
};
typedef enum crest_hook_result (*crest_before_fn)(struct crest_req *req, void *ud);
typedef void (*crest_after_fn)(struct crest_req *req, void *ud);
struct crest_security;
struct crest_hook {
    crest_before_fn before; /* NULL: none */
    crest_after_fn after;   /* NULL: none */
    void *ud;
    /* App hooks only: the routes under prefix, in whole segments ("/items" covers "/items" and
     * "/items/{id}", not "/itemsx"), or whose tag is tag; both NULL: every request, before
     * routing. Borrowed: they must outlive the app. */
    const char *prefix;
    const char *tag;
    /* A security hook (CREST_SECURITY_HOOK): the scheme it checks, which the OpenAPI document
     * lists in components.securitySchemes and in the security of each operation the hook
     * covers. NULL for other hooks. Borrowed: it must outlive the app. */
    const struct crest_security *security;
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

/* Response compression (Starlette's GZipMiddleware, nginx's gzip), as an after hook: a response
 * body of at least min_size_bytes whose Content-Type is text/\*, JSON, XML, JavaScript or SVG is
 * sent gzip-encoded (or deflate, the zlib format, when allow_deflate and the client prefers it)
 * when the request's Accept-Encoding accepts it (RFC 9110 12.5.3: weights, q=0 refuses, "*"),
 * with Content-Encoding and Vary: Accept-Encoding. Left as they are: streamed and file responses
 * (crest_res_stream, crest_res_file: ranges and validators describe the bytes on disk), bodies
 * that already have a Content-Encoding, 1xx/204/206/304, and bodies compression would not
 * shrink. A strong ETag the handler set becomes weak (W/) on a compressed answer (RFC 9110 8.8.3).
 * A request that refuses identity (identity;q=0, or *;q=0) and accepts no coding crest has
 * gets 406. Compression is one-shot (libdeflate): no state per connection; each worker keeps one
 * compressor and an output buffer (memory tag "gzip", inside the budget; without memory the body
 * goes uncompressed). */
struct crest_gzip {
    uint32_t min_size_bytes; /* smaller bodies go as they are; 0: 500 (Starlette's default) */
    int level;               /* 1 (fastest) .. 12 (smallest); 0: 1 (bench/results/gzip_libs.md) */
    bool allow_deflate;
};
/* 0, -EINVAL (level out of range, or called twice), -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_app_add_gzip(struct crest_app *app,
                                                  const struct crest_gzip *gzip);

/* Rate limiting, as a hook before routing: one token bucket per key (the client's address,
 * crest_req_client, or what key returns, e.g. the credential a request presents), refilled at
 * rate_per_s up to burst. A request that finds its bucket empty is answered 429
 * {"detail":"Too Many Requests"} with Retry-After (seconds until a token is back) and never
 * reaches routing; every answer carries RateLimit-Policy and RateLimit
 * (draft-ietf-httpapi-ratelimit-headers-11: "default";q=burst;w=seconds to fill, and
 * "default";r=remaining;t=seconds until full). The table holds max_keys buckets, allocated once
 * (memory tag "ratelimit") and shared by the workers, so a client gets the rate whichever worker
 * its connections land on; a new key evicts the fullest bucket of its set (one that has waited
 * longest loses nothing), so the table never grows, and a flood of new keys at worst gives old
 * ones a fresh bucket. Add crest_app_trust_proxies before serving so that the address is the
 * client's, not the proxy's. */
typedef struct crest_str (*crest_rate_key_fn)(struct crest_req *req, void *ud);
struct crest_rate_limit {
    double rate_per_s; /* tokens per second, > 0 */
    uint32_t burst;    /* bucket capacity; 0: rate_per_s rounded up */
    uint32_t max_keys; /* buckets; 0: 65536 (1.5 MiB) */
    /* The key of a request, borrowed for the call (request or arena storage); NULL, or a
     * {NULL, 0} answer: the client's address. */
    crest_rate_key_fn key;
    void *key_ud;
};
/* 0, -EINVAL (rate not > 0), -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_app_add_rate_limit(struct crest_app *app,
                                                        const struct crest_rate_limit *limit);

/* Trusted proxies (uvicorn's --proxy-headers with --forwarded-allow-ips): when a request comes
 * from one of the addresses in list ("127.0.0.1, 10.0.0.0/8, ::1": exact IPv4 and IPv6 addresses
 * and CIDRs, comma-separated; "*": any peer), its client is the one the proxies name in Forwarded
 * (RFC 7239 for=) or else X-Forwarded-For: the nearest address from the right that is not itself
 * a trusted proxy. Headers from any other peer are ignored, as are malformed ones (an unparsable
 * or obfuscated node, a header repeated, more than 32 hops): the peer is the client then. What
 * crest_req_client answers, so the rate limit, the access log and the loopback rule of
 * crest_app_add_debug_routes all see the client behind the proxy. Runs before every other hook.
 * The list is copied. 0, -EINVAL (a bad entry, or more than 64), -EEXIST (called twice),
 * -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_app_trust_proxies(struct crest_app *app, const char *list);

/* Request IDs: a hook that gives every request an ID, echoed in the response's X-Request-ID (on
 * crest's own errors too) and written to the access log: the client's X-Request-ID when it is 1
 * to 128 characters of letters, digits and - _ . : + / = @, else a new random UUID (an invalid
 * one is replaced, never copied). crest_req_id reads it. 0, -EEXIST (called twice), -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_app_add_request_id(struct crest_app *app);

/* Security schemes (FastAPI's fastapi.security): a hook that finds the credential where the scheme
 * says, checks it with the application's callback (or a list of keys), and answers for it, as a
 * dependency of the routes it covers. It runs before validation, so an unauthenticated request
 * with a bad body gets 401, not 422. Answers, as FastAPI answers since it moved from 403 to 401
 * for missing credentials (fastapi PR #13786):
 *   - no credential (no header, an empty key, "Bearer" with no token): 401
 *     {"detail":"Not authenticated"} with WWW-Authenticate: Bearer, Basic realm="...", or APIKey;
 *   - a malformed one (another scheme, bad base64, no colon in Basic, bytes outside RFC 6750's
 *     token68, a credential over CREST_SECURITY_MAX_BYTES): 401
 *     {"detail":"Invalid authentication credentials"}, same challenge, the callback not called;
 *   - two Authorization fields: 400 {"detail":"Repeated Authorization header"};
 *   - what the callback says otherwise (DENY: 401 as a malformed one; FORBID: 403
 *     {"detail":"Not enough permissions"}).
 * Nothing from the credential is ever copied into a response. */
enum crest_security_kind {
    CREST_SECURITY_API_KEY = 1, /* a key in a header, query parameter or cookie (APIKeyHeader...) */
    CREST_SECURITY_HTTP_BEARER, /* Authorization: Bearer <token> (HTTPBearer) */
    CREST_SECURITY_HTTP_BASIC,  /* Authorization: Basic base64(user:password) (HTTPBasic) */
};
enum { CREST_SECURITY_MAX_BYTES = 4096 }; /* the longest credential taken */

/* The credential, borrowed from the request (valid while the request is). */
struct crest_credentials {
    uint8_t kind;              /* enum crest_security_kind */
    struct crest_str token;    /* the API key or bearer token; Basic: {NULL, 0} */
    struct crest_str username; /* Basic only: decoded, without the colon */
    struct crest_str password;
};

enum crest_security_result {
    CREST_SECURITY_ALLOW,  /* go on along the chain: the route's other hooks, validation, handler */
    CREST_SECURITY_DENY,   /* 401 Invalid authentication credentials, with the challenge */
    CREST_SECURITY_FORBID, /* 403 Not enough permissions: known, but not for this */
    CREST_SECURITY_PENDING, /* the check will call crest_security_done (a database lookup) */
};
/* Checks a credential; it may attach what it learnt for the handler (crest_req_set). */
typedef enum crest_security_result (*crest_security_check_fn)(struct crest_req *req,
                                                              const struct crest_credentials *c,
                                                              void *ud);

struct crest_security {
    uint8_t kind; /* enum crest_security_kind */
    /* API key: where it is (CREST_IN_HEADER, CREST_IN_QUERY or CREST_IN_COOKIE) and its name
     * ("X-API-Key", "api_key"). */
    uint8_t in;
    const char *param_name;
    /* The scheme's name in components.securitySchemes; NULL: FastAPI's class name (APIKeyHeader,
     * APIKeyQuery, APIKeyCookie, HTTPBearer, HTTPBasic). Schemes of one name must be the same. */
    const char *scheme_name;
    const char *description;   /* for the document, or NULL */
    const char *realm;         /* Basic: WWW-Authenticate: Basic realm="<realm>"; NULL: Basic */
    const char *bearer_format; /* Bearer: a hint for the document ("JWT"), or NULL */
    /* The check: check(req, credentials, ud), or when check is NULL the built-in one: the token
     * (Basic: "user:password") is allowed when equal to one of keys, compared in time that does
     * not depend on where a key differs. */
    crest_security_check_fn check;
    void *ud;
    const char *const *keys;
    size_t n_keys;
};

/* The before hook of every scheme (ud: the struct crest_security). Use it through the macro, which
 * also marks the hook for the OpenAPI document:
 *     static const struct crest_security bearer = {.kind = CREST_SECURITY_HTTP_BEARER,
 *                                                  .check = check_token};
 *     static const struct crest_hook auth[] = {CREST_SECURITY_HOOK(&bearer)};
 *     route.hooks = auth, route.n_hooks = 1;     (or crest_app_add_hook with a prefix or tag)
 * The scheme is borrowed: it must outlive the app. */
CREST_API enum crest_hook_result crest_security_before(struct crest_req *req, void *ud);
#define CREST_SECURITY_HOOK(scheme)                                                   \
    {                                                                                 \
        .before = crest_security_before, .ud = (void *)(scheme), .security = (scheme) \
    }
/* Completes a check that returned CREST_SECURITY_PENDING, once, from the worker running req:
 * ALLOW resumes the chain, DENY and FORBID answer 401 or 403 and finish the request. */
CREST_API void crest_security_done(struct crest_req *req, enum crest_security_result result);

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
/* The client's address as text ("192.0.2.7", "2001:db8::1"): the peer's, or behind trusted
 * proxies (crest_app_trust_proxies) the client they name. Read from the socket at the first call
 * and kept for the request; {"", 0} when it cannot be known (never NULL). */
CREST_API struct crest_str crest_req_client(struct crest_req *req);
/* The request's ID (crest_app_add_request_id), or {NULL, 0} without that hook. */
CREST_API struct crest_str crest_req_id(const struct crest_req *req);

/* The value of the cookie named name in the request's Cookie header (name=value; ...), without
 * surrounding double quotes; {NULL, 0} when absent. Names are compared exactly. */
CREST_API struct crest_str crest_req_cookie(const struct crest_req *req, const char *name);
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
/* The validated body bound to the route's body model (a schema with CREST_MODEL): a struct of
 * that model in the request's arena, valid until the response is finished; NULL when the route
 * has no body model. Fields absent and without default are zero (NULL, {NULL, 0}, 0, false). */
CREST_API const void *crest_req_model(const struct crest_req *req);
/* The query parameters bound to the route's query model (crest_route.query), as above. */
CREST_API const void *crest_req_query_model(const struct crest_req *req);
/* Whether the field named name was sent in obj, a struct of model m (bit of its crest_fields;
 * what a PATCH applies), and whether it was null. false when m has no CREST_FIELDS_AT or no
 * such field. */
CREST_API bool crest_model_sent(const struct crest_schema *m, const void *obj, const char *name);
CREST_API bool crest_model_null(const struct crest_schema *m, const void *obj, const char *name);
/* Marks the field named name of obj as sent, and null or not (a struct the handler fills for a
 * response: a null number, say). -ENOENT when m has no such field or no CREST_FIELDS_AT. */
CREST_API int crest_model_set(const struct crest_schema *m, void *obj, const char *name, bool null);

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

/* Response models (FastAPI's response_model): the route's response schema, a model
 * (CREST_MODEL), writes what the handler hands over, so the body is always what the OpenAPI
 * document says. Every field is written in declaration order: null for a nullable field that is
 * null (its crest_fields null bit, a NULL string); with exclude_unset, fields whose set bit is
 * clear are left out. crest_res_model: one struct; crest_res_models: n of them (an array, whatever
 * response_is_array says). 0, -EINVAL (the route's response is not a model), -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_res_model(struct crest_req *req, int status, const void *obj);
CREST_API CREST_MUST_CHECK int crest_res_models(struct crest_req *req, int status, const void *objs,
                                                size_t n);
/* Rows of the database API as the route's response schema (which need not be a model): each
 * field takes the column of its name (crest_db_col), converted to the field's type (SQLite's 0/1
 * to booleans); a NULL column is null; a field no column names, or of an array or object type,
 * is left out. An array of every row when response_is_array, else the first row as an object.
 * 0, -ENOENT (no row, for an object: answer 404), -EINVAL (no response schema), -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_res_rows(struct crest_req *req, int status,
                                              const struct crest_db_result *r);
/* The writers behind them, for a body of the application's own shape (an envelope, a page):
 * one object of model m from obj; one row of r as an object of schema m; every row as an array. */
CREST_API void crest_json_model(struct crest_json *j, const struct crest_schema *m,
                                const void *obj);
CREST_API void crest_json_row(struct crest_json *j, const struct crest_schema *m,
                              const struct crest_db_result *r, size_t row);
CREST_API void crest_json_rows(struct crest_json *j, const struct crest_schema *m,
                               const struct crest_db_result *r);
/* Rows into structs: r's n_rows rows as an array of model m's structs in req's arena (text
 * borrowed from r, which lives as long), each field from the column of its name as above
 * (nested objects and arrays left zero). 0 with *out (NULL when there is no row), -EINVAL (m is
 * not a model), -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_model_rows(struct crest_req *req, const struct crest_schema *m,
                                                const struct crest_db_result *r, void **out);

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

/* ------------------------------------------------------------------------------------------------
 * WebSockets (RFC 6455). A route is a WebSocket route when its handler (a GET route) calls
 * crest_ws_accept: the handshake is checked (GET, HTTP/1.1, Upgrade: websocket, Connection:
 * upgrade, Sec-WebSocket-Key the base64 of 16 bytes: else 400; Sec-WebSocket-Version 13: else 426
 * with Sec-WebSocket-Version: 13), the 101 goes out when the handler returns, and from then on the
 * connection is the WebSocket's: it holds no buffer while idle (only its state, under 256 bytes
 * with the connection's own), a partial frame or a fragmented message at most max_message_bytes,
 * and an output queue of at most max_queue_bytes. crest answers pings, checks every frame (client
 * frames unmasked, reserved bits or opcodes, control frames fragmented or over 125 bytes: close
 * 1002; text that is not UTF-8, also across fragments: 1007; a message over max_message_bytes:
 * 1009) and runs the close handshake. Everything runs on the worker that accepted it. */
struct crest_ws;
struct crest_ws_config {
    /* The connection is accepted (inside crest_ws_accept, so req is still the handshake's: its
     * path, query and headers can be read; send and join a hub from here). May be NULL. */
    void (*on_open)(struct crest_ws *ws, struct crest_req *req, void *ud);
    /* A whole message: text (valid UTF-8) or binary; data lives until the call returns. */
    void (*on_message)(struct crest_ws *ws, bool binary, const void *data, size_t len, void *ud);
    /* Once, when the connection is gone: code is the peer's close code, 1005 (a close without a
     * code), 1006 (the connection ended without a close), or the code crest closed with (1002,
     * 1007, 1009, 1001 for an idle timeout or a shutdown, 1011 for a ping left unanswered).
     * ws is freed when it returns. May be NULL. */
    void (*on_close)(struct crest_ws *ws, int code, void *ud);
    void *ud;
    /* Subprotocols the route speaks, in preference order: the first one the client offers is
     * chosen (crest_ws_subprotocol); none: the handshake picks none. Borrowed. */
    const char *const *subprotocols;
    size_t n_subprotocols;
    size_t max_message_bytes; /* 0: 1 MiB */
    size_t max_queue_bytes;   /* output not yet written past which the reader is closed; 0: 1 MiB */
    uint32_t
        idle_timeout_ms; /* close (1001) after this long without a byte from the client; 0: never */
    uint32_t ping_interval_ms; /* ping after this long without a byte; close (1011) when no pong
                                  came within as long again; 0: no pings */
};
/* From a handler: answers the handshake and makes the connection a WebSocket once the handler
 * returns (CREST_DONE). cfg is borrowed and must outlive the connection (a static one does).
 * 0: accepted (on_open ran); on failure the response is set and the handler just returns:
 * -EINVAL (a bad handshake: 400, or 426), -EBUSY (the server is shutting down: 503), -ENOMEM
 * (memory, or the budget, refused the connection's state: 503). */
CREST_API CREST_MUST_CHECK int crest_ws_accept(struct crest_req *req,
                                               const struct crest_ws_config *cfg);
/* Queues a message (copied into one frame) and writes what the socket takes. 0; -EINVAL (text
 * that is not UTF-8); -EPIPE (the connection is closing); -ENOBUFS (the queue would pass
 * max_queue_bytes: the reader is too slow and the connection is closed, on_close to follow);
 * -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_ws_send(struct crest_ws *ws, bool binary, const void *data,
                                             size_t len);
/* Starts the close handshake with code (1000, 3000-4999...) and a reason (NULL: none; at most 123
 * bytes of UTF-8); the connection ends when the client answers, or a second later. 0, -EINVAL
 * (a code that may not be sent, a reason too long), -EPIPE (already closing), -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_ws_close(struct crest_ws *ws, int code, const char *reason);
/* The subprotocol chosen at the handshake, or NULL. */
CREST_API const char *crest_ws_subprotocol(const struct crest_ws *ws);
/* The application's pointer for this connection (NULL until set). */
CREST_API void crest_ws_set_data(struct crest_ws *ws, void *data);
CREST_API void *crest_ws_data(const struct crest_ws *ws);

/* A message encoded once (one frame) and shared by the queues it is sent to, never copied per
 * recipient: what a broadcast is made of. Reference-counted: any thread may release it. */
struct crest_ws_msg;
/* NULL when out of memory. The caller holds one reference. */
CREST_API struct crest_ws_msg *crest_ws_msg_new(bool binary, const void *data, size_t len);
/* Queues msg to ws (a reference is taken): crest_ws_send's results. */
CREST_API CREST_MUST_CHECK int crest_ws_send_msg(struct crest_ws *ws, struct crest_ws_msg *msg);
CREST_API void crest_ws_msg_release(struct crest_ws_msg *msg);

/* A group of WebSockets across all workers (a chat room): a message published from any thread is
 * encoded once and reaches every member on every worker (each worker's loop is woken once, and
 * hands the same frame to its members' queues). Members leave when they close. */
struct crest_ws_hub;
/* Before crest_serve; NULL when out of memory. */
CREST_API struct crest_ws_hub *crest_ws_hub_new(void);
/* After crest_serve returned (no worker may use it any more). */
CREST_API void crest_ws_hub_free(struct crest_ws_hub *hub);
/* From on_open or later, on ws's worker. A connection is in one hub at most. 0, -EALREADY,
 * -ENOMEM, or a negative errno of eventfd(2) (the worker's first member). */
CREST_API CREST_MUST_CHECK int crest_ws_hub_join(struct crest_ws_hub *hub, struct crest_ws *ws);
/* Any thread. 0; -ENOBUFS (a worker has 1 MiB of published messages not yet handed to its
 * members: a publisher that fast is refused there, not buffered for) or -ENOMEM (the message,
 * or a worker's share of it): some members miss it. */
CREST_API CREST_MUST_CHECK int crest_ws_hub_publish(struct crest_ws_hub *hub, bool binary,
                                                    const void *data, size_t len);

/* ------------------------------------------------------------------------------------------------
 * Server-Sent Events (the WHATWG HTML standard's text/event-stream). crest_sse_start makes a
 * handler's response an event stream: 200, Content-Type: text/event-stream, Cache-Control:
 * no-store, chunked for HTTP/1.1 (close-delimited for HTTP/1.0, HEAD gets the head only). Once the
 * handler returns the connection is the stream's, which holds no buffer while idle (its state is
 * under 256 bytes with the connection's), a heartbeat comment after heartbeat_ms without an event
 * (so proxies keep it open), and an output queue of at most max_queue_bytes (a reader that slow is
 * dropped). Each event is encoded once, also when published to many (crest_sse_hub). */
struct crest_sse;
struct crest_sse_event {
    const char *event; /* the event type; NULL: none ("message"). No CR, LF or NUL. */
    const char *id;    /* NULL: none. No CR, LF or NUL (a client would not keep it). */
    const char *data;  /* NULL: no data field; split into one data: line per line (CRLF, CR, LF) */
    size_t data_len;   /* 0 with data: up to its NUL */
    uint32_t retry_ms; /* 0: no retry field */
};
struct crest_sse_config {
    uint32_t heartbeat_ms;  /* 0: 15000 */
    uint32_t retry_ms;      /* sent first when not 0: the client's reconnection delay */
    size_t max_queue_bytes; /* 0: 256 KiB */
    /* Once, when the stream is over (the client went away, it was ended, the server stopped);
     * the handle is freed when it returns. May be NULL. */
    void (*on_close)(struct crest_sse *sse, void *ud);
};
/* From a handler (which then returns CREST_DONE): the response becomes the stream; events sent
 * before the handler returns follow the head. cfg is borrowed (must outlive the stream). 0 with
 * *out set; -EBUSY (the server is shutting down: 503), -ENOMEM (503); on failure the response is
 * set, *out is NULL and on_close is not called. */
CREST_API CREST_MUST_CHECK int crest_sse_start(struct crest_req *req,
                                               const struct crest_sse_config *cfg, void *ud,
                                               struct crest_sse **out);
/* The Last-Event-ID a reconnecting client sent, or {NULL, 0} (also when it holds a NUL or CR, which
 * no id crest sent can). */
CREST_API struct crest_str crest_sse_last_event_id(const struct crest_req *req);
/* Queues one event (encoded once) and writes what the socket takes. 0; -EINVAL (event or id with
 * CR, LF or NUL: nothing is sent); -EPIPE (the stream is over); -ENOBUFS (the reader is too slow:
 * dropped); -ENOMEM. From the stream's worker. */
CREST_API CREST_MUST_CHECK int crest_sse_send(struct crest_sse *sse,
                                              const struct crest_sse_event *ev);
/* Ends the stream (the last chunk) once what is queued is written. */
CREST_API void crest_sse_end(struct crest_sse *sse);

/* Event streams across all workers: crest_ws_hub's twin (the event is encoded once). */
struct crest_sse_hub;
CREST_API struct crest_sse_hub *crest_sse_hub_new(void);
CREST_API void crest_sse_hub_free(struct crest_sse_hub *hub);
/* From the handler that started sse, or later on its worker. 0, -EALREADY, -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_sse_hub_join(struct crest_sse_hub *hub, struct crest_sse *sse);
/* Any thread. 0, -EINVAL (see crest_sse_send), -ENOBUFS or -ENOMEM (see crest_ws_hub_publish). */
CREST_API CREST_MUST_CHECK int crest_sse_hub_publish(struct crest_sse_hub *hub,
                                                     const struct crest_sse_event *ev);

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

/* ------------------------------------------------------------------------------------------------
 * Databases: SQLite and PostgreSQL from handlers, without blocking the worker. An application
 * adds its databases during setup; a handler runs statements and returns CREST_PENDING, and a
 * callback on the same worker gets the rows (in the request's arena) or a classified error, then
 * finishes the response.
 * - SQLite (a path, or ":memory:" for one private database per worker): WAL; each worker reads
 *   through a connection of its own, on its own thread (a read never waits for a writer); writes
 *   go to the database's one writer thread, which commits everything queued while the previous
 *   commit ran in one transaction (one fsync for many requests, synchronous=FULL), each request's
 *   statements inside a savepoint of their own. A write lock another process holds stalls only
 *   the writer thread: the worker goes on serving; the write completes when the lock is freed, or
 *   CREST_DB_TIMEOUT after timeout_ms.
 * - PostgreSQL (postgresql:// or postgres://): a pool of connections per worker whose sockets are
 *   in the worker's epoll loop; statements prepared once per connection; pipeline mode, the
 *   statements of one event-loop turn sent in one write and closed by one Sync.
 * Statements use $1, $2, … on both. A callback runs once the work is durable: after COMMIT
 * (SQLite) or the segment's Sync (PostgreSQL). The password of a URL never appears in logs,
 * errors or metrics. Memory is under the "db" and "sqlite" tags and inside the budget. */

struct crest_db;

struct crest_db_config {
    const char *name; /* in logs and metrics; default "db" */
    const char *url;  /* a SQLite path, ":memory:", or postgresql://… (also postgres://) */
    unsigned pool;    /* PostgreSQL: connections per worker, default 2, at most 64 */
    /* A statement unanswered after this is answered CREST_DB_TIMEOUT (PostgreSQL: and cancelled);
     * a SQLite write waits this long for another process's write lock. Default 5000. */
    uint32_t timeout_ms;
    bool no_pipeline; /* PostgreSQL: one statement at a time per connection */
    /* Migrations: migrations[i] takes the schema to version i + 1. Applied once, in order, each in
     * a transaction, under a lock (SQLite BEGIN IMMEDIATE, PostgreSQL an advisory lock), so that
     * instances starting together apply each exactly once; versions are recorded in the table
     * crest_migrations with each script's checksum. Append only: a database at version v gets
     * migrations[v..] applied, and one whose applied versions were applied from other texts (a
     * script edited after it ran, another application's migrations) is refused, as a newer
     * schema is: SQLite at crest_app_add_db (-EPROTO), PostgreSQL with /healthz degraded and the
     * reason in the log. */
    const char *const *migrations;
    size_t n_migrations;
};

/* Adds a database to app: SQLite is opened and migrated now (the error in err); PostgreSQL's URL
 * is checked now, and each worker's pool connects in the background when the server starts (a
 * server that is down is retried; its first connection migrates). *out is the handle handlers
 * use, owned by app. 0, -EINVAL (bad config or URL), -EIO (SQLite cannot open or migrate),
 * -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_app_add_db(struct crest_app *app,
                                                const struct crest_db_config *cfg,
                                                struct crest_db **out, char *err);

enum crest_db_type {
    CREST_DB_NULL,
    CREST_DB_INT,
    CREST_DB_DOUBLE,
    CREST_DB_TEXT,
    CREST_DB_BLOB,
    CREST_DB_BOOL,
};

/* A parameter or a column value. Text and blobs are borrowed (a parameter's until crest_db_run
 * returns; a result's until the response is finished). */
struct crest_db_value {
    uint8_t type; /* enum crest_db_type */
    union {
        int64_t i;
        double d;
        bool b;
        struct crest_str s; /* text (not NUL-terminated in parameters; NUL-terminated in rows) */
    };
};

static inline struct crest_db_value crest_db_int(int64_t v)
{
    return (struct crest_db_value){.type = CREST_DB_INT, .i = v};
}
static inline struct crest_db_value crest_db_double(double v)
{
    return (struct crest_db_value){.type = CREST_DB_DOUBLE, .d = v};
}
static inline struct crest_db_value crest_db_bool(bool v)
{
    return (struct crest_db_value){.type = CREST_DB_BOOL, .b = v};
}
static inline struct crest_db_value crest_db_text(const char *ptr, size_t len)
{
    return (struct crest_db_value){.type = CREST_DB_TEXT, .s = {ptr, len}};
}
/* A slice of the request (a model's string, a path parameter) as a text parameter. */
static inline struct crest_db_value crest_db_str(struct crest_str s)
{
    return crest_db_text(s.ptr, s.len);
}
static inline struct crest_db_value crest_db_blob(const void *ptr, size_t len)
{
    return (struct crest_db_value){.type = CREST_DB_BLOB, .s = {(const char *)ptr, len}};
}
static inline struct crest_db_value crest_db_null(void)
{
    return (struct crest_db_value){.type = CREST_DB_NULL};
}

enum crest_db_flag {
    /* The statement must return or change at least one row, else the call fails with
     * CREST_DB_NOT_FOUND (and, in a transaction, everything is rolled back). */
    CREST_DB_ONE = 1 << 0,
};

/* Reads by key of one event-loop turn in one statement (PostgreSQL, pipeline mode), an explicit
 * choice: a call of one statement with one integer parameter (its key) and a batch joins the other
 * such calls with the same batch made in the same turn; they go out as one statement, batch->sql,
 * whose $1 is the array of their keys ("SELECT ... FROM items WHERE id = ANY($1)"), and each call
 * gets the rows whose key_column equals its key, as if it had run alone (CREST_DB_ONE included):
 * one executor run and one index scan for many requests. SQLite runs such calls alone. */
struct crest_db_batch {
    const char *sql;
    const char *key_column;
};

struct crest_db_stmt {
    const char *sql;
    const struct crest_db_value *params; /* $1 is params[0] */
    size_t n_params;
    unsigned flags;                     /* enum crest_db_flag */
    const struct crest_db_batch *batch; /* NULL, or how reads of one turn share a statement */
};

/* What a call comes back with. The answer a handler gives for each is crest_db_http_status. */
enum crest_db_status {
    CREST_DB_OK = 0,
    CREST_DB_NOT_FOUND,   /* a CREST_DB_ONE statement found no row: 404 */
    CREST_DB_UNIQUE,      /* unique or primary key violation: 409 */
    CREST_DB_FOREIGN_KEY, /* foreign key violation: 409 */
    CREST_DB_CHECK,       /* check or not-null constraint violation: 422 */
    CREST_DB_TIMEOUT,     /* no answer within timeout_ms, or a lock held past it: 503 */
    CREST_DB_UNAVAILABLE, /* the database is down or unreachable, or out of memory: 503 */
    CREST_DB_INVALID,     /* the statement is wrong (syntax, unknown table or column): 500 */
};

/* One statement's result, in the request's arena. values holds n_rows × n_cols values, row by
 * row; text is NUL-terminated. */
struct crest_db_result {
    size_t n_rows;
    size_t n_cols;
    const struct crest_str *names; /* column names */
    const struct crest_db_value *values;
    int64_t changes; /* rows inserted, updated or deleted */
};

/* results: one per statement of the call, in order (NULL unless status is CREST_DB_OK). */
typedef void (*crest_db_fn)(struct crest_req *req, enum crest_db_status status,
                            const struct crest_db_result *results, size_t n, void *ud);

/* Runs n statements for req: with n > 1, in one transaction that commits or rolls back as a
 * whole. done runs exactly once, on req's worker, maybe before this returns (a SQLite read is
 * answered at once); the handler returns CREST_PENDING and finishes the response in done. A call
 * that returns an error never calls done. 0; -EINVAL (n is 0, a NULL sql or done, a parameter
 * of no enum crest_db_type); -ENOMEM. */
CREST_API CREST_MUST_CHECK int crest_db_run(struct crest_req *req, struct crest_db *db,
                                            const struct crest_db_stmt *stmts, size_t n,
                                            crest_db_fn done, void *ud);
/* One statement: crest_db_run with {sql, params, n_params, flags}. */
CREST_API CREST_MUST_CHECK int crest_db_query(struct crest_req *req, struct crest_db *db,
                                              const char *sql, const struct crest_db_value *params,
                                              size_t n_params, unsigned flags, crest_db_fn done,
                                              void *ud);

/* The column named name (exactly), or -1. */
CREST_API int crest_db_col(const struct crest_db_result *r, const char *name);
/* The value at (row, col); a NULL value of type CREST_DB_NULL when out of range. */
CREST_API const struct crest_db_value *crest_db_get(const struct crest_db_result *r, size_t row,
                                                    int col);
/* Typed reads, converting between integers, doubles and booleans (text is parsed): a NULL or
 * out-of-range value reads as 0, 0.0, false, or an empty string with ptr NULL. */
CREST_API int64_t crest_db_get_int(const struct crest_db_result *r, size_t row, int col);
CREST_API double crest_db_get_double(const struct crest_db_result *r, size_t row, int col);
CREST_API bool crest_db_get_bool(const struct crest_db_result *r, size_t row, int col);
CREST_API struct crest_str crest_db_get_text(const struct crest_db_result *r, size_t row, int col);
CREST_API bool crest_db_is_null(const struct crest_db_result *r, size_t row, int col);

/* The HTTP status and the detail a handler answers a failed call with (crest_res_error), so that
 * every application says the same thing: 404 "Not Found", 409 "Conflict", 422, 503 "Database
 * unavailable" (add Retry-After), 500. */
CREST_API int crest_db_http_status(enum crest_db_status status);
CREST_API const char *crest_db_status_text(enum crest_db_status status);
/* A handler's whole answer from one statement, as a FastAPI handler returns its rows and lets a
 * failure become the error: runs sql, then answers with the route's status (crest_route.status,
 * 200 when 0) and the rows through the route's response schema (crest_res_rows: an array when
 * response_is_array, else the first row; a 204 route: no body). A failed call, or an object
 * route's empty result, answers crest_db_http_status with errors->detail[status] when the
 * application named one, else crest_db_status_text (a 503 with Retry-After: 1). Returns
 * CREST_PENDING; or CREST_DONE with the answer given at once: 503 out of memory, 500 an invalid
 * call (crest_db_query's -EINVAL). errors may be NULL and must outlive the call (static). */
#define CREST_DB_N_STATUS (CREST_DB_INVALID + 1)
struct crest_db_errors {
    const char *detail[CREST_DB_N_STATUS]; /* {[CREST_DB_NOT_FOUND] = "Note not found"} */
};
CREST_API enum crest_handler_result crest_db_answer(struct crest_req *req, struct crest_db *db,
                                                    const char *sql,
                                                    const struct crest_db_value *params,
                                                    size_t n_params, unsigned flags,
                                                    const struct crest_db_errors *errors);
/* Whether every worker can reach db now (for a health check): SQLite always; PostgreSQL when the
 * calling worker's pool has a connection up (outside a worker: any worker's). */
CREST_API bool crest_db_up(struct crest_db *db, const struct crest_req *req);

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
