/* cli/main.c: the crest binary: parse the command line, build the app from the public API only,
 * report memory at each startup phase, serve. */
#include "cli/mem.h"
#include "crest.h"
#include "flags.h"
#include "items/items.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CREST_DOCS_DIR
#define CREST_DOCS_DIR "docs-assets/dist" /* CMake sets the build's; --docs-dir overrides it */
#endif

/* Without --docs-dir: the build's assets while they are there (crest run from its build tree),
 * else those `make install` put beside an installed crest. */
static const char *default_docs_dir(void)
{
    if (access(CREST_DOCS_DIR "/swagger-ui-bundle.js", R_OK) == 0)
        return CREST_DOCS_DIR;
    return crest_docs_installed_dir();
}

/* --cors-allow-origins: the list split at its commas (the strings live as long as the process) */
static int add_cors(struct crest_app *app, const struct cli_options *opts)
{
    enum { MAX_ORIGINS = 32 };
    static char list[4096];
    static const char *origins[MAX_ORIGINS];
    size_t n = 0;

    if (snprintf(list, sizeof(list), "%s", opts->cors_origins) >= (int)sizeof(list))
        return -EINVAL;
    for (char *save = NULL, *o = strtok_r(list, ", ", &save); o; o = strtok_r(NULL, ", ", &save))
        if (n < MAX_ORIGINS)
            origins[n++] = o;
    const struct crest_cors cors = {.allow_origins = origins,
                                    .n_allow_origins = n,
                                    .allow_methods = "*",
                                    .allow_headers = "*",
                                    .allow_credentials = opts->cors_credentials};
    return crest_app_add_cors(app, &cors);
}

/* The built-in middleware the flags ask for (issue 16), in the order their hooks must see a
 * request: the proxies' client (crest_app_trust_proxies runs first whatever the order), the
 * request ID, the rate limit (before routing), compression on the way out. */
static int add_middleware(struct crest_app *app, const struct cli_options *opts, char *err)
{
    int rc = 0;
    const char *what = NULL;

    if (opts->proxy_headers || opts->forwarded_allow_ips) {
        const char *ips = opts->forwarded_allow_ips ? opts->forwarded_allow_ips : "127.0.0.1";
        if ((rc = crest_app_trust_proxies(app, ips)) != 0)
            what = "--forwarded-allow-ips";
    }
    if (!rc && opts->request_id && (rc = crest_app_add_request_id(app)) != 0)
        what = "--request-id";
    if (!rc && opts->rate_limit > 0) {
        const struct crest_rate_limit limit = {.rate_per_s = opts->rate_limit};
        if ((rc = crest_app_add_rate_limit(app, &limit)) != 0)
            what = "--rate-limit";
    }
    if (!rc && opts->gzip_min_size) {
        const struct crest_gzip gzip = {.min_size_bytes = opts->gzip_min_size};
        if ((rc = crest_app_add_gzip(app, &gzip)) != 0)
            what = "--gzip-min-size";
    }
    if (rc)
        snprintf(err, CREST_ERR_LEN, "crest: %s: %s", what, strerror(-rc));
    return rc;
}

/* --api-key-file: one key per line (blank lines skipped, a trailing CR dropped), each a Bearer
 * token (RFC 6750 2.1's characters, since no other could ever match), read once at start into
 * static storage that lives as long as the process. A missing, unreadable or empty file, or a
 * line that is no token, fails start-up with a sentence naming it. */
static int load_api_keys(struct cli_options *opts, char *err)
{
    enum { MAX_KEYS = 256, MAX_FILE_BYTES = 64 * 1024 };
    static char text[MAX_FILE_BYTES + 1];
    static const char *keys[MAX_KEYS];
    const char *path = opts->api_key_file;
    size_t n_keys = 0, len;
    unsigned line = 0;
    FILE *f = fopen(path, "r");

    if (!f) {
        int e = errno;
        snprintf(err, CREST_ERR_LEN, "--api-key-file %s: %s", path, strerror(e));
        return -e;
    }
    len = fread(text, 1, MAX_FILE_BYTES + 1, f);
    fclose(f);
    if (len > MAX_FILE_BYTES) {
        snprintf(err, CREST_ERR_LEN, "--api-key-file %s: larger than 64 KiB", path);
        return -EFBIG;
    }
    text[len] = '\0';
    for (char *save = NULL, *k = strtok_r(text, "\n", &save); k; k = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(k);
        line++;
        while (n && (k[n - 1] == '\r' || k[n - 1] == ' ' || k[n - 1] == '\t'))
            k[--n] = '\0';
        if (!n)
            continue;
        if (strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=") !=
                n ||
            n > CREST_SECURITY_MAX_BYTES || n_keys == MAX_KEYS) {
            snprintf(err, CREST_ERR_LEN,
                     "--api-key-file %s: line %u is not a bearer token (letters, digits, "
                     "-._~+/= only, at most 4096 bytes; at most 256 keys)",
                     path, line);
            return -EINVAL;
        }
        keys[n_keys++] = k;
    }
    if (!n_keys) {
        snprintf(err, CREST_ERR_LEN, "--api-key-file %s: no key in the file", path);
        return -EINVAL;
    }
    opts->items.api_keys = keys;
    opts->items.n_api_keys = n_keys;
    return 0;
}

static struct crest_app *build_app(struct cli_options *opts, char *err)
{
    int rc;
    struct crest_app *app = crest_app_new("crest items API", CREST_VERSION);
    if (!app) {
        snprintf(err, CREST_ERR_LEN, "out of memory");
        return NULL;
    }
    if (crest_app_add_builtin_routes(app) != 0) {
        snprintf(err, CREST_ERR_LEN, "cannot declare the built-in routes");
        crest_app_free(app);
        return NULL;
    }
    if (crest_app_add_debug_routes(app, opts->debug_token) != 0) {
        snprintf(err, CREST_ERR_LEN, "cannot declare the /debug routes");
        crest_app_free(app);
        return NULL;
    }
    if (opts->api_key_file && load_api_keys(opts, err) != 0) {
        crest_app_free(app);
        return NULL;
    }
    if (items_install(app, &opts->items, err) != 0) {
        crest_app_free(app);
        return NULL;
    }
    if (opts->cors_origins && (rc = add_cors(app, opts)) != 0) {
        snprintf(err, CREST_ERR_LEN, "crest: --cors-allow-origins: %s", strerror(-rc));
        crest_app_free(app);
        return NULL;
    }
    if (add_middleware(app, opts, err) != 0) {
        crest_app_free(app);
        return NULL;
    }
    if (opts->static_dir && (rc = crest_app_add_static(app, "/static", opts->static_dir)) != 0) {
        snprintf(err, CREST_ERR_LEN, "crest: --static %s: %s", opts->static_dir, strerror(-rc));
        crest_app_free(app);
        return NULL;
    }
    crest_app_set_description(app, "The reference items service of crest: CRUD on `/items` with "
                                   "FastAPI's validation and error shapes.");
    const char *docs = opts->no_docs ? NULL : opts->docs_dir ? opts->docs_dir : default_docs_dir();
    rc = crest_app_add_docs_routes(app, docs);
    if (rc == -ENOENT) { /* serve the API anyway: /openapi.json needs no assets */
        fprintf(stderr, "crest: no Swagger UI / ReDoc assets in %s: /docs and /redoc are off\n",
                docs);
    } else if (rc != 0) {
        snprintf(err, CREST_ERR_LEN, "cannot declare the docs routes");
        crest_app_free(app);
        return NULL;
    }
    return app;
}

int main(int argc, char **argv)
{
    struct cli_options opts;
    enum cli_command cmd;
    char err[CREST_ERR_LEN] = "";

    if (cli_parse(argc, argv, &opts, &cmd, err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (cmd == CLI_HELP) {
        cli_usage(stdout);
        return 0;
    }
    if (cmd == CLI_MEM)
        return cli_mem_main(argc - 2, argv + 2);
    if (cmd == CLI_VERSION) {
        printf("crest %s\n", CREST_VERSION);
        return 0;
    }
    if (!opts.server.quiet)
        crest_report_startup_memory("process start");
    struct crest_app *app = build_app(&opts, err);
    if (!app) {
        fprintf(stderr, "crest: %s\n", err);
        return 1;
    }
    if (!opts.server.quiet)
        crest_report_startup_memory("configuration ready");
    int rc = crest_serve(app, &opts.server, err);
    crest_app_free(app);
    if (rc != 0) {
        fprintf(stderr, "crest: %s\n", err);
        return 1;
    }
    return 0;
}
