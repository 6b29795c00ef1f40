/* items/items.h: the reference items service: CRUD on /items with FastAPI-shaped validation, on
 * the SQLite store. */
#ifndef CREST_ITEMS_H
#define CREST_ITEMS_H

#include "crest.h"

/* Declares the /items routes on app and a store per worker at db_path (a file, or ":memory:").
 * db_path must outlive the app. 0, or a negative errno with the reason in err. */
int items_install(struct crest_app *app, const char *db_path, char err[CREST_ERR_LEN]);

#endif
