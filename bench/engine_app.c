/* bench/engine_app.c: the HTTP engine alone, as an application built on libcrest sees it: the
 * built-in routes (/json, /healthz, /metrics) and nothing else, linked with --gc-sections as
 * crest.pc asks. bench/engine.py measures it with `--crest bench/build/engine_app` to give the
 * engine's own RSS, apart from the items service and its SQLite store.
 *
 *     engine_app serve --host 127.0.0.1 --port 8080 --workers 2
 */
#include <crest.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    struct crest_config cfg;
    char err[CREST_ERR_LEN];

    crest_config_defaults(&cfg);
    if (argc > 1 && strcmp(argv[1], "serve") == 0) /* started as the crest binary is */
        argv[1] = argv[0], argv++, argc--;
    int rc = crest_config_args(&cfg, argc, argv, NULL, 0, err);
    if (rc != 0) /* 1: --help printed the flags */
        return rc > 0 ? 0 : (fprintf(stderr, "engine_app: %s\n", err), 2);
    struct crest_app *app = crest_app_new("crest engine", CREST_VERSION);
    if (!app || crest_app_add_builtin_routes(app) != 0) {
        fprintf(stderr, "engine_app: cannot declare the routes\n");
        return 1;
    }
    rc = crest_serve(app, &cfg, err);
    if (rc)
        fprintf(stderr, "engine_app: %s\n", err);
    crest_app_free(app);
    return rc ? 1 : 0;
}
