/* items/items.h: the reference items service: CRUD on /items with FastAPI-shaped validation, on
 * the SQLite store or the PostgreSQL one. Its settings are its own (struct items_config): the
 * engine's configuration (struct crest_config) knows nothing of a database. */
#ifndef CREST_ITEMS_H
#define CREST_ITEMS_H

#include "crest.h"

/* Where the items live and how the service talks to its store. */
struct items_config {
    /* A SQLite path (or ":memory:"), default "./crest.db", or a PostgreSQL URL
     * (postgresql://user:password@host:port/dbname); picks the store (crest_store_for_url). */
    const char *url;
    unsigned pool;       /* PostgreSQL connections per worker, default 2 */
    uint32_t timeout_ms; /* a PostgreSQL query is cancelled and answered 503 after, default 5000 */
    bool no_pipeline;    /* PostgreSQL: no pipeline mode (one query in flight per connection) */
    /* With keys (n_api_keys > 0), item writes (POST, PUT, PATCH, DELETE under /items) need
     * Authorization: Bearer <one of them>, and the document says so; reads stay open. Borrowed. */
    const char *const *api_keys;
    size_t n_api_keys;
    /* items_install's own: the write routes' scheme and hook, here since they must outlive the
     * app as the config does */
    struct crest_security auth;
    struct crest_hook auth_hooks[1];
};

/* Fills cfg with the defaults listed above. */
void items_config_defaults(struct items_config *cfg);

/* Declares the /items routes on app (the writes behind a Bearer key when cfg has keys), a store per
 * worker as cfg says, and the /healthz check of that store. cfg is borrowed: it must outlive the
 * app. 0, or a negative errno with the reason in
 * err. */
int items_install(struct crest_app *app, struct items_config *cfg, char err[CREST_ERR_LEN]);

#endif
