/* items/items.h: the reference items service: CRUD on /items with FastAPI-shaped validation, on
 * SQLite or PostgreSQL through crest.h's database API, like any application. Its settings are its
 * own (struct items_config): the engine's configuration (struct crest_config) knows nothing of a
 * database. */
#ifndef CREST_ITEMS_H
#define CREST_ITEMS_H

#include "crest.h"

/* Where the items live and how the service talks to its database. */
struct items_config {
    /* A SQLite path (or ":memory:"), default "./crest.db", or a PostgreSQL URL
     * (postgresql://user:password@host:port/dbname). */
    const char *url;
    unsigned pool; /* PostgreSQL connections per worker, default 2 */
    /* a query unanswered after it is answered 503 (PostgreSQL: and cancelled; SQLite: a write
     * waiting for another process's lock), default 5000 */
    uint32_t timeout_ms;
    bool no_pipeline; /* PostgreSQL: no pipeline mode (one query in flight per connection) */
    /* With keys (n_api_keys > 0), item writes (POST, PUT, PATCH, DELETE under /items) need
     * Authorization: Bearer <one of them>, and the document says so; reads stay open. Borrowed. */
    const char *const *api_keys;
    size_t n_api_keys;
    /* items_install's own: the write routes' scheme and hook, here since they must outlive the
     * app as the config does */
    struct crest_security auth;
    struct crest_hook auth_hooks[1];
    struct crest_db *db;
};

/* Fills cfg with the defaults listed above. */
void items_config_defaults(struct items_config *cfg);

/* Declares the /items routes on app (the writes behind a Bearer key when cfg has keys) and adds
 * the database cfg names (crest_app_add_db, named "store": /healthz says {"store": "down"} while it
 * is). cfg is borrowed: it must outlive the app. 0, or a negative errno with the reason in err. */
int items_install(struct crest_app *app, struct items_config *cfg, char err[CREST_ERR_LEN]);

/* items/tags.c: tags as the JSON array of strings stored in their column. encode: the caller frees
 * *out with crest_json_free(), also on error; 0, -ENOMEM. decode: the strings (NUL-terminated) and
 * *tags (NULL when empty) in req's arena; 0, -ENOMEM, -EIO (not such an array: a corrupt row). */
int items_tags_encode(const struct crest_str *tags, uint32_t n_tags, struct crest_json **out);
int items_tags_decode(struct crest_req *req, const char *text, size_t len, struct crest_str **tags,
                      uint32_t *n_tags);

#endif
