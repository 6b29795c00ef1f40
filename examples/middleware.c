/* examples/middleware.c: the built-in middleware of issue 16, written only against crest.h: an API
 * behind a proxy, limited per API key (or per client address without one), with request IDs,
 * CORS and compressed JSON.
 *
 *   GET /whoami      {"client": crest_req_client, "request_id": crest_req_id}: the client behind
 *                    trusted proxies, the ID echoed in X-Request-ID.
 *   GET /catalog     a JSON array of about 10 KB, gzip-encoded for clients that accept it.
 *   GET /json        crest's built-in routes.
 *   GET /debug/memory  loopback clients only: behind trusted proxies, the client they name must
 *                    be local too (bench/hooks.py reads the "gzip" tag here).
 *
 * Every middleware is a flag, so that bench/hooks.py can measure each on the same binary:
 *
 *     middleware [serve] --host 127.0.0.1 --port 8000 [--workers N] [--trust-proxies LIST]
 *                [--request-id] [--rate-limit N] [--cors ORIGIN] [--gzip MIN_BYTES]
 *                [--bearer KEY] [--noop-hook]      (and the engine's flags: --help lists them)
 *
 * --rate-limit N allows N requests per second per X-Api-Key (the credential a client presents;
 * where bearer authentication goes, this key would be the authenticated user), or per client
 * address. --bearer KEY puts every route behind HTTP Bearer authentication with that one key (a
 * security scheme as an app hook). --noop-hook adds one hook whose before does nothing (what an
 * empty hook costs).
 */
#include <crest.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static enum crest_handler_result whoami(struct crest_req *req, void *ud)
{
    struct crest_str client = crest_req_client(req), id = crest_req_id(req);
    struct crest_json *j = crest_res_json(req, 200);
    (void)ud;
    crest_json_object_begin(j);
    crest_json_key(j, "client");
    crest_json_string_len(j, client.ptr, client.len);
    crest_json_key(j, "request_id");
    if (id.ptr)
        crest_json_string_len(j, id.ptr, id.len);
    else
        crest_json_null(j);
    crest_json_object_end(j);
    return CREST_DONE;
}

/* About 10 KB of JSON, as an API's list endpoint answers: what compression is for. Rendered once
 * at start (a cached answer), so that compression is what a request costs. */
static struct crest_str catalog_text;

static struct crest_json *render_catalog(void)
{
    static const char *const colours[] = {"red", "green", "blue", "black", "white"};
    struct crest_json *j = crest_json_new();
    char name[32];
    if (!j)
        return NULL;
    crest_json_array_begin(j);
    for (int i = 0; i < 172; i++) {
        snprintf(name, sizeof(name), "Widget %d", i);
        crest_json_object_begin(j);
        crest_json_key(j, "id");
        crest_json_int(j, i);
        crest_json_key(j, "name");
        crest_json_string(j, name);
        crest_json_key(j, "colour");
        crest_json_string(j, colours[i % 5]);
        crest_json_key(j, "price");
        crest_json_double(j, 9.5 + i);
        crest_json_object_end(j);
    }
    crest_json_array_end(j);
    catalog_text = crest_json_text(j);
    return j;
}

static enum crest_handler_result catalog(struct crest_req *req, void *ud)
{
    (void)ud;
    int err = crest_res_body(req, "application/json", catalog_text.ptr, catalog_text.len);
    if (err) { /* out of memory: say so; if even that fails, the client sees the connection end */
        err = crest_res_error(req, 503, "Service Unavailable");
        (void)err;
    }
    return CREST_DONE;
}

/* The rate limit's key: the API key a client presents, or {NULL, 0} for its address. */
static struct crest_str api_key(struct crest_req *req, void *ud)
{
    (void)ud;
    return crest_req_header(req, "X-Api-Key");
}

static enum crest_hook_result noop(struct crest_req *req, void *ud)
{
    (void)req;
    (void)ud;
    return CREST_HOOK_NEXT;
}

/* The example's own flags: each turns one middleware on (0 or NULL: off). */
static const char *proxies, *origins[1], *keys[1];
static bool request_id, noop_hook;
static uint32_t rate_limit, gzip_min;

/* The hooks in the order they should see a request: the client behind the proxies first, then its
 * request ID, CORS (so that it labels the refusals of the hooks after it), authentication, the
 * rate limit, compression. */
static int add_middleware(struct crest_app *app)
{
    static struct crest_security bearer = {
        .kind = CREST_SECURITY_HTTP_BEARER, .keys = keys, .n_keys = 1};
    const struct crest_cors cors = {.allow_origins = origins, .n_allow_origins = 1};
    const struct crest_rate_limit limit = {.rate_per_s = rate_limit, .key = api_key};
    const struct crest_gzip gzip = {.min_size_bytes = gzip_min};
    const struct crest_hook auth = CREST_SECURITY_HOOK(&bearer), hook = {.before = noop};
    int rc = proxies ? crest_app_trust_proxies(app, proxies) : 0;

    if (rc == 0 && request_id)
        rc = crest_app_add_request_id(app);
    if (rc == 0 && origins[0])
        rc = crest_app_add_cors(app, &cors);
    if (rc == 0 && keys[0])
        rc = crest_app_add_hook(app, &auth);
    if (rc == 0 && rate_limit)
        rc = crest_app_add_rate_limit(app, &limit);
    if (rc == 0 && gzip_min)
        rc = crest_app_add_gzip(app, &gzip);
    if (rc == 0 && noop_hook)
        rc = crest_app_add_hook(app, &hook);
    return rc;
}

int main(int argc, char **argv)
{
    const struct crest_arg args[] = {
        {"--trust-proxies", CREST_ARG_STRING, &proxies, NULL, "proxies to believe (LIST)"},
        {"--request-id", CREST_ARG_SWITCH, &request_id, NULL, "echo or make an X-Request-ID"},
        {"--rate-limit", CREST_ARG_COUNT, &rate_limit, NULL, "N requests/s per key or client"},
        {"--cors", CREST_ARG_STRING, &origins[0], NULL, "the one origin CORS allows"},
        {"--gzip", CREST_ARG_COUNT, &gzip_min, NULL, "gzip bodies of at least MIN_BYTES"},
        {"--bearer", CREST_ARG_STRING, &keys[0], NULL, "every route needs this bearer key"},
        {"--noop-hook", CREST_ARG_SWITCH, &noop_hook, NULL, "one hook that does nothing"},
    };
    struct crest_config cfg;
    char err[CREST_ERR_LEN] = "";

    crest_config_defaults(&cfg);
    cfg.quiet = true;
    if (argc > 1 && strcmp(argv[1], "serve") == 0) /* started as the crest binary is */
        argv[1] = argv[0], argv++, argc--;
    int rc = crest_config_args(&cfg, argc, argv, args, sizeof(args) / sizeof(args[0]), err);
    if (rc != 0) /* 1: --help printed the flags */
        return rc > 0 ? 0 : (fprintf(stderr, "middleware: %s\n", err), 2);
    struct crest_json *text = render_catalog();
    struct crest_app *app = text ? crest_app_new("middleware example", CREST_VERSION) : NULL;
    const struct crest_route routes[] = {
        {.method = "GET", .path = "/whoami", .handler = whoami},
        {.method = "GET", .path = "/catalog", .handler = catalog},
    };
    rc = app ? crest_app_add_builtin_routes(app) : -ENOMEM;
    if (rc == 0)
        rc = crest_app_add_debug_routes(app, NULL);
    for (size_t i = 0; i < 2 && rc == 0; i++)
        rc = crest_app_add_route(app, &routes[i], err);
    if (rc == 0)
        rc = add_middleware(app);
    if (rc == 0)
        rc = crest_serve(app, &cfg, err);
    if (rc != 0)
        fprintf(stderr, "middleware: %s\n", err[0] ? err : strerror(-rc));
    crest_app_free(app);
    crest_json_free(text);
    return rc ? 1 : 0;
}
