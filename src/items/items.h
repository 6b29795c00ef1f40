/* items/items.h: the reference items service: CRUD on /items with FastAPI-shaped validation, on
 * the SQLite store or the PostgreSQL one. */
#ifndef CREST_ITEMS_H
#define CREST_ITEMS_H

#include "crest.h"

/* Declares the /items routes on app, a store per worker as cfg's db_* fields say (db_path: a
 * SQLite file, ":memory:", or a postgresql:// URL), and the /healthz check of that store. cfg
 * must outlive the app. 0, or a negative errno with the reason in err. */
int items_install(struct crest_app *app, const struct crest_config *cfg, char err[CREST_ERR_LEN]);

#endif
