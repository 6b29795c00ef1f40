/* tests/e2e/install_app.c: an application of tests/e2e/test_install.py, built against an installed
 * libcrest and the system's SQLite: cc install_app.c $(pkg-config --cflags --libs crest) -lsqlite3.
 * It reports what its own SQLite calls reach (version, threading mode, the JSON functions crest's
 * private SQLite is built without) on one stdout line, then serves crest's docs routes from the
 * installed assets (crest_docs_installed_dir) on 127.0.0.1:PORT until SIGTERM. */
#include <crest.h>
#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SELECT json('{"a":1}') on an in-memory database: the JSON text, or SQLite's error message. */
static void report_sqlite(void)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char json[64] = "";
    int rc = sqlite3_open(":memory:", &db);

    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "SELECT json('{\"a\": 1}')", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        snprintf(json, sizeof(json), "%s", (const char *)sqlite3_column_text(st, 0));
    else
        snprintf(json, sizeof(json), "error: %s", db ? sqlite3_errmsg(db) : "cannot open");
    printf("sqlite %s threadsafe=%d json=%s\n", sqlite3_libversion(), sqlite3_threadsafe(), json);
    fflush(stdout);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

int main(int argc, char **argv)
{
    struct crest_config cfg;
    char err[CREST_ERR_LEN];

    report_sqlite();
    struct crest_app *app = crest_app_new("install test", "1.0");
    if (!app)
        return 1;
    int rc = crest_app_add_docs_routes(app, crest_docs_installed_dir());
    printf("docs %s: %s\n", crest_docs_installed_dir(), rc == 0 ? "ok" : strerror(-rc));
    fflush(stdout);
    crest_config_defaults(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = argc > 1 ? (uint16_t)atoi(argv[1]) : 8000;
    cfg.workers = 1;
    rc = crest_serve(app, &cfg, err);
    if (rc != 0)
        fprintf(stderr, "install_app: %s\n", err);
    crest_app_free(app);
    return rc ? 1 : 0;
}
