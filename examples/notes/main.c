/* examples/notes/main.c: serves the notes API (notes.c) with uvicorn's flags (crest_config_args):
 *
 *     build/examples/notes --host 127.0.0.1 --port 8000 --db notes.db
 *     curl -X POST -d '{"email":"ann@example.com","name":"Ann"}' http://127.0.0.1:8000/users
 *     curl -H 'Authorization: Bearer <api_key>' -d '{"title":"hi"}' http://127.0.0.1:8000/notes
 *
 * The database is a SQLite path (created and migrated at start). */
#include "notes.h"

int main(int argc, char **argv)
{
    const char *db = "notes.db", *docs = crest_docs_installed_dir();
    const struct crest_arg args[] = {
        {"--db", CREST_ARG_STRING, &db, "DATABASE_URL", "SQLite path (default notes.db)"},
        {"--docs-dir", CREST_ARG_STRING, &docs, NULL, "Swagger UI and ReDoc for /docs, /redoc"}};
    char err[CREST_ERR_LEN] = "";
    struct crest_config cfg;
    crest_config_defaults(&cfg);
    cfg.host = "127.0.0.1", cfg.port = 8000;
    int rc = crest_config_args(&cfg, argc, argv, args, 2, err);
    if (rc != 0) /* 1: --help printed the flags; a bad command line exits 2, as uvicorn's */
        return rc > 0 ? 0 : (fprintf(stderr, "notes: %s\n", err), 2);
    struct crest_app *app = notes_app_new(db, docs, err);
    rc = app ? crest_serve(app, &cfg, err) : -1;
    if (rc < 0)
        fprintf(stderr, "notes: %s\n", err[0] ? err : "out of memory");
    crest_app_free(app);
    return rc < 0 ? 1 : 0;
}
