/* bench/engine_app.c: the HTTP engine alone, as an application built on libcrest sees it: the
 * built-in routes (/json, /healthz, /metrics) and nothing else, linked with --gc-sections as
 * crest.pc asks. bench/engine.py measures it with `--crest bench/build/engine_app` to give the
 * engine's own RSS, apart from the items service and its SQLite store.
 *
 *     engine_app serve --host 127.0.0.1 --port 8080 --workers 2
 */
#include <crest.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    struct crest_config cfg;
    char err[CREST_ERR_LEN];

    crest_config_defaults(&cfg);
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--host") == 0)
            cfg.host = argv[i + 1];
        else if (strcmp(argv[i], "--port") == 0)
            cfg.port = (uint16_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--workers") == 0)
            cfg.workers = (unsigned)atoi(argv[i + 1]);
    }
    struct crest_app *app = crest_app_new("crest engine", CREST_VERSION);
    if (!app || crest_app_add_builtin_routes(app) != 0) {
        fprintf(stderr, "engine_app: cannot declare the routes\n");
        return 1;
    }
    int rc = crest_serve(app, &cfg, err);
    if (rc)
        fprintf(stderr, "engine_app: %s\n", err);
    crest_app_free(app);
    return rc ? 1 : 0;
}
