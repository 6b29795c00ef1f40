/* app/app.h: the application layer's types: an app (its routes), the request handlers see
 * (struct crest_req: the HTTP request plus what routing found), and the dispatcher http calls. */
#ifndef CREST_APP_APP_H
#define CREST_APP_APP_H

#include "app/router.h"
#include "crest.h"
#include "http/request.h"

struct crest_app {
    char *title;
    char *version;
    const char *description; /* borrowed (crest_app_set_description), or NULL */
    struct app_docs *docs;   /* /openapi.json and the docs pages (app/docs.c), or NULL */
    struct app_router router;
    crest_worker_start_fn worker_start;
    crest_worker_stop_fn worker_stop;
    void *worker_ud;
    crest_health_fn health;
    bool test_worker_started; /* the test client's one worker */
    void *test_worker_data;
};

/* Runs the worker start hooks for workers 0..n-1 into data[], with their loops (loops NULL: the
 * test client's worker, which has none); on failure stops those started. */
int app_workers_start(struct crest_app *app, unsigned n, struct crest_loop *const *loops,
                      void **data, char *err);
void app_workers_stop(struct crest_app *app, unsigned n, void **data);

enum { APP_MAX_VALUES = 16 };

/* A validated path or query parameter. */
struct app_value {
    const char *name;
    uint8_t type; /* enum crest_type */
    bool has;     /* present or defaulted */
    bool b;
    int64_t i;
    double d; /* also set for integers, so crest_param_number reads either */
    struct crest_str s;
};

struct crest_req {
    struct http_request http; /* first: http hands us a struct http_request * */
    struct app_match match;
    struct crest_json *json;                  /* the body writer, once crest_res_json was called */
    const struct crest_json_value *body_json; /* validated body, when the route has a schema */
    uint8_t n_values;
    struct app_value values[APP_MAX_VALUES];
};

/* A query parameter's value decoded as FastAPI reads it (malformed escapes kept as sent).
 * 0, -ENOENT, -ENOMEM. */
int app_query_param(struct crest_req *req, const char *name, struct crest_str *out);

/* Answers 503 for memory refused (the budget or malloc), with Retry-After and a close. */
void app_answer_oom(struct crest_req *req);

/* Replaces a response whose JSON body failed to write (out of memory, writer misuse) with a
 * 503 or 500, so a truncated body is never sent. */
void app_check_body(struct crest_req *req);

/* Validates path and query parameters and the body of a matched request. Returns true when it
 * answered (422 with every problem, or 503 when memory ran out): the handler must not run. */
bool app_validate(struct crest_req *req);

/* Checks a route's declarations when it is added: parameters exist and parse, defaults are valid
 * JSON. 0 or -EINVAL with the reason in err. */
int app_validate_route(const struct app_route *route, char *err);

/* The route index /metrics uses for requests no route matched (404, 405, 501). */
enum { APP_ROUTE_NONE = 0xfffe };

/* http_complete_fn: counts the response in this worker's /metrics figures. */
void app_record(void *app, const struct http_request *req, uint64_t duration_us);

/* http_handle_fn: routes a complete request and runs its handler (or answers 404/405/422/501). */
void app_dispatch(void *app, struct http_request *req);

#endif
