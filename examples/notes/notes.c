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
#include <string.h>
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
    {.name = "email",
     .type = CREST_TYPE_STRING,
     .required = true,
     .format = CREST_FORMAT_EMAIL,
     CREST_AT(struct user_in, email)},
    {.name = "name",
     .type = CREST_TYPE_STRING,
     .required = true,
     .strip = true,
     .min_length = CREST_LIMIT(1),
     .max_length = CREST_LIMIT(50),
     CREST_AT(struct user_in, name)},
};
static const struct crest_schema user_in = {
    .name = "UserIn", .fields = user_in_fields, .n_fields = 2, CREST_MODEL(struct user_in)};

#define USER_FIELDS                                                     \
    {.name = "id", .type = CREST_TYPE_INTEGER, .required = true},       \
        {.name = "email", .type = CREST_TYPE_STRING, .required = true}, \
    {                                                                   \
        .name = "name", .type = CREST_TYPE_STRING, .required = true     \
    }
static const struct crest_field user_fields[] = {USER_FIELDS};
static const struct crest_schema user = {.name = "User", .fields = user_fields, .n_fields = 3};
static const struct crest_field new_user_fields[] = {
    USER_FIELDS, {.name = "api_key", .type = CREST_TYPE_STRING, .required = true}};
static const struct crest_schema new_user = {
    .name = "NewUser", .fields = new_user_fields, .n_fields = 4};

struct note_in {
    struct crest_str title, body;
    bool done;
    struct crest_fields set;
};
#define NOTE_IN_FIELDS(REQ, BODY_DEFAULT, DONE_DEFAULT)                           \
    {.name = "title",                                                             \
     .type = CREST_TYPE_STRING,                                                   \
     .required = REQ,                                                             \
     .strip = true,                                                               \
     .min_length = CREST_LIMIT(1),                                                \
     .max_length = CREST_LIMIT(200),                                              \
     CREST_AT(struct note_in, title)},                                            \
        {.name = "body",                                                          \
         .type = CREST_TYPE_STRING,                                               \
         .default_json = BODY_DEFAULT,                                            \
         .max_length = CREST_LIMIT(10000),                                        \
         CREST_AT(struct note_in, body)},                                         \
    {                                                                             \
        .name = "done", .type = CREST_TYPE_BOOLEAN, .default_json = DONE_DEFAULT, \
        CREST_AT(struct note_in, done)                                            \
    }
static const struct crest_field note_in_fields[] = {NOTE_IN_FIELDS(true, "\"\"", "false")};
static const struct crest_schema note_in = {.name = "NoteIn",
                                            .fields = note_in_fields,
                                            .n_fields = 3,
                                            CREST_MODEL(struct note_in),
                                            .forbid_extra = true};
static const struct crest_field note_patch_fields[] = {NOTE_IN_FIELDS(false, NULL, NULL)};
static const struct crest_schema note_patch = {.name = "NotePatch",
                                               .fields = note_patch_fields,
                                               .n_fields = 3,
                                               CREST_MODEL(struct note_in),
                                               CREST_FIELDS_AT(struct note_in, set),
                                               .forbid_extra = true};

static const struct crest_field note_fields[] = {
    {.name = "id", .type = CREST_TYPE_INTEGER, .required = true},
    {.name = "owner_id", .type = CREST_TYPE_INTEGER, .required = true},
    {.name = "title", .type = CREST_TYPE_STRING, .required = true},
    {.name = "body", .type = CREST_TYPE_STRING, .required = true},
    {.name = "done", .type = CREST_TYPE_BOOLEAN, .required = true},
};
static const struct crest_schema note = {.name = "Note", .fields = note_fields, .n_fields = 5};

struct page {
    int64_t offset, limit;
};
static const struct crest_field page_fields[] = {
    {.name = "offset",
     .type = CREST_TYPE_INTEGER,
     .default_json = "0",
     .ge = CREST_BOUND(0),
     CREST_AT(struct page, offset)},
    {.name = "limit",
     .type = CREST_TYPE_INTEGER,
     .default_json = "20",
     .ge = CREST_BOUND(1),
     .le = CREST_BOUND(100),
     CREST_AT(struct page, limit)},
};
static const struct crest_schema page = {
    .name = "Page", .fields = page_fields, .n_fields = 2, CREST_MODEL(struct page)};

/* ---- answers from the database ---- */

#define NOTE_COLUMNS "id, owner_id, title, body, done"

/* What a failed call says: crest's words, except what the API names itself. */
static const char *detail_of(enum crest_db_status st)
{
    if (st == CREST_DB_NOT_FOUND)
        return "Note not found";
    return st == CREST_DB_UNIQUE ? "Email already registered" : crest_db_status_text(st);
}

/* ud: the success status. The last statement's rows are the answer, through the route's
 * response schema. */
static void answer(struct crest_req *req, enum crest_db_status st, const struct crest_db_result *r,
                   size_t n, void *ud)
{
    int status = (int)(intptr_t)ud, rc;
    if (st != CREST_DB_OK)
        rc = crest_res_error(req, crest_db_http_status(st), detail_of(st));
    else if (status == 204)
        crest_res_status(req, 204), rc = 0;
    else
        rc = crest_res_rows(req, status, &r[n - 1]);
    (void)rc; /* a body that could not be written is answered 503 by crest */
    crest_req_finish(req);
}

static enum crest_handler_result unavailable(struct crest_req *req)
{
    if (crest_res_error(req, 503, "Service unavailable") != 0)
        crest_res_status(req, 503);
    return CREST_DONE;
}

/* One statement; its rows (or error) answer. A statement that must find a row (all but the
 * inserts and the list) is CREST_DB_ONE: none is a 404. */
static enum crest_handler_result run(struct crest_req *req, const char *sql,
                                     const struct crest_db_value *params, size_t n, int status,
                                     unsigned flags)
{
    if (crest_db_query(req, db, sql, params, n, flags, answer, (void *)(intptr_t)status) == 0)
        return CREST_PENDING;
    return unavailable(req);
}

static struct crest_db_value str(struct crest_str s)
{
    return crest_db_text(s.ptr, s.len);
}

/* The signed-in user's id (set by the bearer check). */
static struct crest_db_value owner(struct crest_req *req)
{
    return crest_db_int(*(const int64_t *)crest_req_get(req, "user"));
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
    const struct crest_db_value key = str(c->token);
    if (crest_db_query(req, db, "SELECT id FROM users WHERE api_key = $1", &key, 1, CREST_DB_ONE,
                       key_found, NULL) != 0)
        return CREST_SECURITY_DENY;
    return CREST_SECURITY_PENDING;
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
    if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
        return unavailable(req);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(key + 2 * i, 3, "%02x", raw[i]);
    const struct crest_db_value p[] = {str(in->email), str(in->name), crest_db_text(key, 32)};
    return run(req,
               "INSERT INTO users (email, name, api_key) VALUES ($1, $2, $3)"
               " RETURNING id, email, name, api_key",
               p, 3, 201, 0);
}

static enum crest_handler_result me(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct crest_db_value p[] = {owner(req)};
    return run(req, "SELECT id, email, name FROM users WHERE id = $1", p, 1, 200, CREST_DB_ONE);
}

static enum crest_handler_result create_note(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct note_in *in = crest_req_model(req);
    const struct crest_db_value p[] = {owner(req), str(in->title), str(in->body),
                                       crest_db_bool(in->done)};
    return run(req,
               "INSERT INTO notes (owner_id, title, body, done) VALUES ($1, $2, $3, $4)"
               " RETURNING " NOTE_COLUMNS,
               p, 4, 201, 0);
}

static enum crest_handler_result list_notes(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct page *pg = crest_req_query_model(req);
    const struct crest_db_value p[] = {owner(req), crest_db_int(pg->limit),
                                       crest_db_int(pg->offset)};
    return run(req,
               "SELECT " NOTE_COLUMNS " FROM notes WHERE owner_id = $1 ORDER BY id"
               " LIMIT $2 OFFSET $3",
               p, 3, 200, 0);
}

static enum crest_handler_result get_note(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct crest_db_value p[] = {crest_db_int(crest_param_int(req, "note_id")), owner(req)};
    return run(req, "SELECT " NOTE_COLUMNS " FROM notes WHERE id = $1 AND owner_id = $2", p, 2, 200,
               CREST_DB_ONE);
}

/* PATCH: a field not sent keeps its value (NULL parameters leave the column as it is). */
static enum crest_handler_result patch_note(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct note_in *in = crest_req_model(req);
    bool title = crest_model_sent(&note_patch, in, "title");
    bool body = crest_model_sent(&note_patch, in, "body");
    bool done = crest_model_sent(&note_patch, in, "done");
    const struct crest_db_value p[] = {crest_db_int(crest_param_int(req, "note_id")), owner(req),
                                       title ? str(in->title) : crest_db_null(),
                                       body ? str(in->body) : crest_db_null(),
                                       done ? crest_db_bool(in->done) : crest_db_null()};
    return run(req,
               "UPDATE notes SET title = COALESCE($3, title), body = COALESCE($4, body),"
               " done = COALESCE($5, done) WHERE id = $1 AND owner_id = $2 RETURNING " NOTE_COLUMNS,
               p, 5, 200, CREST_DB_ONE);
}

static enum crest_handler_result delete_note(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct crest_db_value p[] = {crest_db_int(crest_param_int(req, "note_id")), owner(req)};
    return run(req, "DELETE FROM notes WHERE id = $1 AND owner_id = $2", p, 2, 204, CREST_DB_ONE);
}

/* ---- routes ---- */

static const struct crest_param note_id[] = {
    {.name = "note_id", .in = CREST_IN_PATH, .type = CREST_TYPE_INTEGER, .ge = CREST_BOUND(1)}};
static const struct crest_doc_response conflict[] = {{.status = 409}};
static const struct crest_doc_response not_found[] = {{.status = 401}, {.status = 404}};
static const struct crest_doc_response unauthorized[] = {{.status = 401}};

#define NOTE_ROUTE(M, H, SUMMARY)                                                                  \
    .method = M, .path = "/notes/{note_id:int}", .handler = H, .summary = SUMMARY, .tag = "notes", \
    .params = note_id, .n_params = 1, .hooks = auth, .n_hooks = 1, .responses = not_found,         \
    .n_responses = 2

static const struct crest_route routes[] = {
    {.method = "POST",
     .path = "/users",
     .handler = create_user,
     .summary = "Sign up",
     .tag = "users",
     .body = &user_in,
     .status = 201,
     .response = &new_user,
     .responses = conflict,
     .n_responses = 1},
    {.method = "GET",
     .path = "/users/me",
     .handler = me,
     .summary = "Who am I",
     .tag = "users",
     .response = &user,
     .hooks = auth,
     .n_hooks = 1,
     .responses = unauthorized,
     .n_responses = 1},
    {.method = "POST",
     .path = "/notes",
     .handler = create_note,
     .summary = "Create a note",
     .tag = "notes",
     .body = &note_in,
     .status = 201,
     .response = &note,
     .hooks = auth,
     .n_hooks = 1,
     .responses = unauthorized,
     .n_responses = 1},
    {.method = "GET",
     .path = "/notes",
     .handler = list_notes,
     .summary = "List my notes",
     .tag = "notes",
     .query = &page,
     .response = &note,
     .response_is_array = true,
     .hooks = auth,
     .n_hooks = 1,
     .responses = unauthorized,
     .n_responses = 1},
    {NOTE_ROUTE("GET", get_note, "Read a note"), .response = &note},
    {NOTE_ROUTE("PATCH", patch_note, "Change a note"), .body = &note_patch, .response = &note},
    {NOTE_ROUTE("DELETE", delete_note, "Delete a note"), .status = 204},
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
