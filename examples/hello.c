/* examples/hello.c: a complete crest application: one route with a typed path parameter and a
 * JSON answer. Build against an installed libcrest:
 *
 *     cc hello.c $(pkg-config --cflags --libs crest) -o hello && ./hello --port 8000
 *     curl http://127.0.0.1:8000/hello/42      → {"id":42,"message":"Hello, 42!"}
 *     curl http://127.0.0.1:8000/hello/abc     → 422, FastAPI's int_parsing error
 */
#include <crest.h>

#include <errno.h>
#include <stdio.h>

static enum crest_handler_result hello(struct crest_req *req, void *ud)
{
    int64_t id;
    char message[64];
    (void)ud;

    if (crest_path_int(req, "id", &id) != 0) /* checked by the router already; be explicit */
    {
        int err = crest_res_error(req, 422, "id must be an integer");
        (void)err; /* nothing more to say if even the error could not be written */
        return CREST_DONE;
    }
    snprintf(message, sizeof(message), "Hello, %lld!", (long long)id);

    struct crest_json *j = crest_res_json(req, 200);
    crest_json_object_begin(j);
    crest_json_key(j, "id");
    crest_json_int(j, id);
    crest_json_key(j, "message");
    crest_json_string(j, message);
    crest_json_object_end(j);
    return CREST_DONE;
}

int main(int argc, char **argv)
{
    struct crest_config cfg;
    char err[CREST_ERR_LEN];
    const struct crest_route route = {.method = "GET", .path = "/hello/{id:int}", .handler = hello};

    crest_config_defaults(&cfg);
    cfg.host = "127.0.0.1", cfg.port = 8000, cfg.workers = 1;
    int rc = crest_config_args(&cfg, argc, argv, NULL, 0, err); /* --port, --workers, ... */
    if (rc != 0)                                                /* 1: --help printed the flags */
        return rc > 0 ? 0 : (fprintf(stderr, "hello: %s\n", err), 2);
    struct crest_app *app = crest_app_new("hello", "1.0");
    rc = app ? crest_app_add_route(app, &route, err) : -ENOMEM;
    if (rc == 0)
        rc = crest_serve(app, &cfg, err);
    if (rc != 0)
        fprintf(stderr, "hello: %s\n", app ? err : "out of memory");
    crest_app_free(app);
    return rc ? 1 : 0;
}
