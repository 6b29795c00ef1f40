/* examples/notes/notes.h: the notes API as an application builds it, so that main.c serves it and
 * test_notes.c drives it through the test client. */
#ifndef NOTES_H
#define NOTES_H

#include <crest.h>

/* The app on the SQLite database at db_url (a path or ":memory:"), with /docs and /redoc when
 * docs_dir holds Swagger UI and ReDoc (else /openapi.json only): NULL with a sentence in err. */
struct crest_app *notes_app_new(const char *db_url, const char *docs_dir, char err[CREST_ERR_LEN]);

#endif
