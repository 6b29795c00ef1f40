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
    static const char *const flags[] = {"--host", "--port", "--db", "--docs-dir", "--workers"};
    const char *v[] = {"127.0.0.1", "8000", "notes.db", crest_docs_installed_dir(), "0"};
    char err[CREST_ERR_LEN] = "";
    struct crest_config cfg;

    for (int i = 1, k = 0; i + 1 < argc; i += 2, k = 0) {
        while (k < 5 && strcmp(argv[i], flags[k]) != 0)
            k++;
        if (k == 5)
            return fprintf(stderr, "notes: unknown option %s\n", argv[i]), 2;
        v[k] = argv[i + 1];
    }
    crest_config_defaults(&cfg);
    cfg.host = v[0], cfg.port = (uint16_t)atoi(v[1]);
    if (atoi(v[4]) > 0)
        cfg.workers = (unsigned)atoi(v[4]);
    struct crest_app *app = notes_app_new(v[2], v[3], err);
    int rc = app ? crest_serve(app, &cfg, err) : -1;
    if (rc != 0)
        fprintf(stderr, "notes: %s\n", err[0] ? err : "out of memory");
    crest_app_free(app);
    return rc ? 1 : 0;
}
