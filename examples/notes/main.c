/* examples/notes/main.c: serves the notes API (notes.c):
 *
 *     build/examples/notes --host 127.0.0.1 --port 8000 --db notes.db [--docs-dir DIR]
 *     curl -X POST -d '{"email":"ann@example.com","name":"Ann"}' http://127.0.0.1:8000/users
 *     curl -H 'Authorization: Bearer <api_key>' -d '{"title":"hi"}' http://127.0.0.1:8000/notes
 *
 * The database is a SQLite path (created and migrated at start). */
#include "notes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    struct crest_config cfg;
    const char *db_url = "notes.db", *docs_dir = crest_docs_installed_dir();
    char err[CREST_ERR_LEN] = "";

    crest_config_defaults(&cfg);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--host") == 0) {
            cfg.host = argv[i + 1];
        } else if (strcmp(argv[i], "--port") == 0) {
            cfg.port = (uint16_t)atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--db") == 0) {
            db_url = argv[i + 1];
        } else if (strcmp(argv[i], "--docs-dir") == 0) {
            docs_dir = argv[i + 1];
        } else if (strcmp(argv[i], "--workers") == 0) {
            cfg.workers = (unsigned)atoi(argv[i + 1]);
        } else {
            fprintf(stderr, "notes: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    struct crest_app *app = notes_app_new(db_url, docs_dir, err);
    if (!app) {
        fprintf(stderr, "notes: %s\n", err[0] ? err : "out of memory");
        return 1;
    }
    int rc = crest_serve(app, &cfg, err);
    if (rc != 0)
        fprintf(stderr, "notes: %s\n", err);
    crest_app_free(app);
    return rc ? 1 : 0;
}
