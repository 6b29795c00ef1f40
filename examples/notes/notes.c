/* examples/notes/notes.c: a notes API written only against crest.h, the C twin of
 * bench/peers/notes_fastapi.py (issue 17). Users sign up with a validated email and get an API
 * key; the key, sent as a bearer token, is looked up in the database by the security dependency;
 * each user creates, lists (paginated), reads, patches and deletes their own notes, which live in
 * SQLite through the database API. Models carry every body, query and response: a body lands in a
 * struct, rows go out through the response schema by column name, and the same declarations make
 * /openapi.json (with Authorize in /docs). CORS lets a page on http://localhost:3000 call it. */
#include "notes.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>

static struct crest_db *db;

static const char *const migrations[] = {
    "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
    " api_key TEXT NOT NULL UNIQUE);"
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL REFERENCES users(id),"
    " title TEXT NOT NULL, body TEXT NOT NULL, done INTEGER NOT NULL)"};

/* ---- models ---- */

struct user_in {
    struct crest_str email, name;
};
static const struct crest_field user_in_fields[] = {
    CREST_STRING(struct user_in, email, .required = true, .format = CREST_FORMAT_EMAIL),
    CREST_STRING(struct user_in, name, .required = true, .strip = true,
                 .min_length = CREST_LIMIT(1), .max_length = CREST_LIMIT(50)),
};
static const struct crest_schema user_in =
    CREST_SCHEMA("UserIn", user_in_fields, CREST_MODEL(struct user_in));

/* Responses come from rows (crest_res_rows): their schemas bind no struct. */
#define REQUIRED(NAME, TYPE) CREST_FIELD(NAME, TYPE, .required = true)
static const struct crest_field new_user_fields[] = {
    REQUIRED("id", CREST_TYPE_INTEGER), REQUIRED("email", CREST_TYPE_STRING),
    REQUIRED("name", CREST_TYPE_STRING), REQUIRED("api_key", CREST_TYPE_STRING)};
static const struct crest_schema user = {.name = "User", .fields = new_user_fields, .n_fields = 3};
static const struct crest_schema new_user = CREST_SCHEMA("NewUser", new_user_fields);

struct note_in {
    struct crest_str title, body;
    bool done;
    struct crest_fields set;
};
#define NOTE_IN_FIELDS(REQ, BODY_DEFAULT, DONE_DEFAULT)                         \
    CREST_STRING(struct note_in, title, .required = REQ, .strip = true,         \
                 .min_length = CREST_LIMIT(1), .max_length = CREST_LIMIT(200)), \
        CREST_STRING(struct note_in, body, .default_json = BODY_DEFAULT,        \
                     .max_length = CREST_LIMIT(10000)),                         \
        CREST_BOOLEAN(struct note_in, done, .default_json = DONE_DEFAULT)
static const struct crest_field note_in_fields[] = {NOTE_IN_FIELDS(true, "\"\"", "false")};
static const struct crest_schema note_in =
    CREST_SCHEMA("NoteIn", note_in_fields, CREST_MODEL(struct note_in), .forbid_extra = true);
static const struct crest_field note_patch_fields[] = {NOTE_IN_FIELDS(false, NULL, NULL)};
static const struct crest_schema note_patch =
    CREST_SCHEMA("NotePatch", note_patch_fields, CREST_MODEL(struct note_in),
                 CREST_FIELDS_AT(struct note_in, set), .forbid_extra = true);

static const struct crest_field note_fields[] = {
    REQUIRED("id", CREST_TYPE_INTEGER), REQUIRED("owner_id", CREST_TYPE_INTEGER),
    REQUIRED("title", CREST_TYPE_STRING), REQUIRED("body", CREST_TYPE_STRING),
    REQUIRED("done", CREST_TYPE_BOOLEAN)};
static const struct crest_schema note = CREST_SCHEMA("Note", note_fields);

struct page {
    int64_t offset, limit;
};
static const struct crest_field page_fields[] = {
    CREST_INTEGER(struct page, offset, .default_json = "0", .ge = CREST_BOUND(0)),
    CREST_INTEGER(struct page, limit, .default_json = "20", .ge = CREST_BOUND(1),
                  .le = CREST_BOUND(100)),
};
static const struct crest_schema page = CREST_SCHEMA("Page", page_fields, CREST_MODEL(struct page));

/* ---- statements ---- */

#define NOTE_COLUMNS "id, owner_id, title, body, done"

/* Rows answer through the route's response schema; a failure in crest's words, except these. */
static const struct crest_db_errors errors = {
    .detail = {
        [CREST_DB_NOT_FOUND] = "Note not found", [CREST_DB_UNIQUE] = "Email already registered"}};
#define ANSWER(SQL, P, FLAGS) \
    crest_db_answer(req, db, SQL, P, sizeof(P) / sizeof(P[0]), FLAGS, &errors)

/* The signed-in user's id (set by the bearer check) and the note the path names. */
static struct crest_db_value owner(struct crest_req *req)
{
    return crest_db_int(*(const int64_t *)crest_req_get(req, "user"));
}
static struct crest_db_value note_id(struct crest_req *req)
{
    return crest_db_int(crest_param_int(req, "note_id"));
}

/* ---- the bearer check: the key is looked up in the users table ---- */

static void key_found(struct crest_req *req, enum crest_db_status st,
                      const struct crest_db_result *r, size_t n, void *ud)
{
    (void)n, (void)ud;
    int64_t *id = st == CREST_DB_OK ? crest_req_alloc(req, sizeof(*id)) : NULL;
    if (id)
        *id = crest_db_get_int(r, 0, 0);
    crest_security_done(req, id && crest_req_set(req, "user", id) == 0 ? CREST_SECURITY_ALLOW
                                                                       : CREST_SECURITY_DENY);
}

static enum crest_security_result check_key(struct crest_req *req,
                                            const struct crest_credentials *c, void *ud)
{
    (void)ud;
    const struct crest_db_value key = crest_db_str(c->token);
    return crest_db_query(req, db, "SELECT id FROM users WHERE api_key = $1", &key, 1, CREST_DB_ONE,
                          key_found, NULL) == 0
               ? CREST_SECURITY_PENDING
               : CREST_SECURITY_DENY;
}

static const struct crest_security bearer = {.kind = CREST_SECURITY_HTTP_BEARER,
                                             .description = "The api_key POST /users gave",
                                             .check = check_key};
static const struct crest_hook auth[] = {CREST_SECURITY_HOOK(&bearer)};

/* ---- handlers ---- */

static enum crest_handler_result create_user(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct user_in *in = crest_req_model(req);
    unsigned char raw[16];
    char key[33];
    if (getrandom(raw, sizeof(raw), 0) != sizeof(raw)) { /* never a guessable key */
        crest_res_status(req, 503);
        return CREST_DONE;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(key + 2 * i, 3, "%02x", raw[i]);
    const struct crest_db_value p[] = {crest_db_str(in->email), crest_db_str(in->name),
                                       crest_db_text(key, 32)};
    return ANSWER("INSERT INTO users (email, name, api_key) VALUES ($1, $2, $3)"
                  " RETURNING id, email, name, api_key",
                  p, 0);
}

static enum crest_handler_result me(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct crest_db_value p[] = {owner(req)};
    return ANSWER("SELECT id, email, name FROM users WHERE id = $1", p, CREST_DB_ONE);
}

static enum crest_handler_result create_note(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct note_in *in = crest_req_model(req);
    const struct crest_db_value p[] = {owner(req), crest_db_str(in->title), crest_db_str(in->body),
                                       crest_db_bool(in->done)};
    return ANSWER("INSERT INTO notes (owner_id, title, body, done) VALUES ($1, $2, $3, $4)"
                  " RETURNING " NOTE_COLUMNS,
                  p, 0);
}

static enum crest_handler_result list_notes(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct page *pg = crest_req_query_model(req);
    const struct crest_db_value p[] = {owner(req), crest_db_int(pg->limit),
                                       crest_db_int(pg->offset)};
    return ANSWER("SELECT " NOTE_COLUMNS " FROM notes WHERE owner_id = $1 ORDER BY id"
                  " LIMIT $2 OFFSET $3",
                  p, 0);
}

static enum crest_handler_result get_note(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct crest_db_value p[] = {note_id(req), owner(req)};
    return ANSWER("SELECT " NOTE_COLUMNS " FROM notes WHERE id = $1 AND owner_id = $2", p,
                  CREST_DB_ONE);
}

/* PATCH: a field not sent keeps its value (a NULL parameter leaves the column as it is). */
static enum crest_handler_result patch_note(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct note_in *in = crest_req_model(req);
#define SENT(F, V) (crest_model_sent(&note_patch, in, #F) ? (V) : crest_db_null())
    const struct crest_db_value p[] = {
        note_id(req), owner(req), SENT(title, crest_db_str(in->title)),
        SENT(body, crest_db_str(in->body)), SENT(done, crest_db_bool(in->done))};
    return ANSWER("UPDATE notes SET title = COALESCE($3, title), body = COALESCE($4, body),"
                  " done = COALESCE($5, done) WHERE id = $1 AND owner_id = $2"
                  " RETURNING " NOTE_COLUMNS,
                  p, CREST_DB_ONE);
}

static enum crest_handler_result delete_note(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct crest_db_value p[] = {note_id(req), owner(req)};
    return ANSWER("DELETE FROM notes WHERE id = $1 AND owner_id = $2", p, CREST_DB_ONE);
}

/* ---- routes ---- */

#define AUTH(TAG) .tag = TAG, .hooks = auth, .n_hooks = 1
static const struct crest_route routes[] = {
    CREST_ROUTE("POST", "/users", create_user, .summary = "Sign up", .tag = "users",
                .body = &user_in, .status = 201, .response = &new_user),
    CREST_ROUTE("GET", "/users/me", me, .summary = "Who am I", .response = &user, AUTH("users")),
    CREST_ROUTE("POST", "/notes", create_note, .summary = "Create a note", .body = &note_in,
                .status = 201, .response = &note, AUTH("notes")),
    CREST_ROUTE("POST", "/notes/form", create_note, .summary = "Create a note from a form",
                .body = &note_in, .body_form = true, .status = 201, .response = &note,
                AUTH("notes")),
    CREST_ROUTE("GET", "/notes", list_notes, .summary = "List my notes", .query = &page,
                .response = &note, .response_is_array = true, AUTH("notes")),
    CREST_ROUTE("GET", "/notes/{note_id:int}", get_note, .summary = "Read a note",
                .response = &note, AUTH("notes")),
    CREST_ROUTE("PATCH", "/notes/{note_id:int}", patch_note, .summary = "Change a note",
                .body = &note_patch, .response = &note, AUTH("notes")),
    CREST_ROUTE("DELETE", "/notes/{note_id:int}", delete_note, .summary = "Delete a note",
                .status = 204, AUTH("notes")),
};

static const char *const origins[] = {"http://localhost:3000"};
static const struct crest_cors cors = {.allow_origins = origins,
                                       .n_allow_origins = 1,
                                       .allow_methods = "GET, POST, PATCH, DELETE",
                                       .allow_headers = "Authorization, Content-Type"};

struct crest_app *notes_app_new(const char *db_url, const char *docs_dir, char err[CREST_ERR_LEN])
{
    struct crest_db_config dbc = {
        .name = "notes", .url = db_url, .migrations = migrations, .n_migrations = 1};
    struct crest_app *app = crest_app_new("Notes", "1.0");
    int rc = app ? crest_app_add_db(app, &dbc, &db, err) : -1;
    for (size_t i = 0; rc == 0 && i < sizeof(routes) / sizeof(routes[0]); i++)
        rc = crest_app_add_route(app, &routes[i], err);
    if (rc == 0 && (crest_app_add_cors(app, &cors) || crest_app_add_builtin_routes(app) ||
                    crest_app_add_docs_routes(app, docs_dir) == -ENOMEM))
        rc = snprintf(err, CREST_ERR_LEN, "out of memory");
    if (rc == 0)
        return app;
    crest_app_free(app);
    return NULL;
}
