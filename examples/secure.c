/* examples/secure.c: a small notes API behind each of FastAPI's security schemes, written only
 * against crest.h (issue 16):
 *   GET  /notes                 open; a header parameter (X-Client) and a cookie one (theme)
 *   POST /notes                 an API key in X-API-Key, checked by a lookup that answers later
 *                               (a database, here a 2 ms timer): writer-key may write, reader-key
 *                               gets 403; a duplicate text is 409 (both documented)
 *   GET  /notes/{id}/text       HTTP Bearer against a key list; answers text/plain
 *   GET  /me                    HTTP Basic (realm "notes"): alice / wonderland
 *   GET  /admin/export          an API key in the query (?api_key=), on every route under /admin
 *                               (an app hook with a prefix); answers application/octet-stream
 *   GET  /session               an API key in a cookie (session=...)
 * /docs shows them all with Swagger UI's Authorize. Build against an installed libcrest:
 *
 *     cc secure.c $(pkg-config --cflags --libs crest) -o secure && ./secure --port 8000
 *     curl -X POST -H 'X-API-Key: writer-key' -d '{"text":"hi"}' http://127.0.0.1:8000/notes
 *     curl -u alice:wonderland http://127.0.0.1:8000/me
 *
 * The notes live in a fixed array of one worker's (the example serves with one worker). */
#include <crest.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_NOTES = 64, MAX_TEXT = 200 };
static char notes[MAX_NOTES][MAX_TEXT + 1];
static int n_notes;

/* ---- the schemes ---- */

/* The "database" of API keys: who each key is and whether it may write. */
static const struct {
    const char *key, *user;
    bool writer;
} key_table[] = {{"writer-key", "wanda", true}, {"reader-key", "rita", false}};

static void key_found(struct crest_req *req, void *ud)
{
    const char *key = ud;
    for (size_t i = 0; i < sizeof(key_table) / sizeof(key_table[0]); i++) {
        if (strcmp(key_table[i].key, key) != 0)
            continue;
        if (!key_table[i].writer) {
            crest_security_done(req, CREST_SECURITY_FORBID);
            return;
        }
        if (crest_req_set(req, "user", (void *)key_table[i].user) != 0) {
            crest_security_done(req, CREST_SECURITY_DENY); /* no memory: refuse rather than guess */
            return;
        }
        crest_security_done(req, CREST_SECURITY_ALLOW);
        return;
    }
    crest_security_done(req, CREST_SECURITY_DENY);
}

/* Looks the key up "later": a real service would query its database here and call
 * crest_security_done from the query's callback. */
static enum crest_security_result lookup_key(struct crest_req *req,
                                             const struct crest_credentials *c, void *ud)
{
    (void)ud;
    char *key = crest_req_alloc(req, c->token.len + 1); /* lives as long as the request */
    if (!key)
        return CREST_SECURITY_DENY;
    memcpy(key, c->token.ptr, c->token.len);
    key[c->token.len] = '\0';
    if (crest_req_timer(req, 2, key_found, key) != 0)
        return CREST_SECURITY_DENY;
    return CREST_SECURITY_PENDING;
}

static enum crest_security_result check_basic(struct crest_req *req,
                                              const struct crest_credentials *c, void *ud)
{
    static const char user[] = "alice", password[] = "wonderland";
    (void)ud;
    /* a real service compares a password hash; the lengths come first so memcmp stays in bounds */
    bool ok = c->username.len == sizeof(user) - 1 && c->password.len == sizeof(password) - 1 &&
              memcmp(c->username.ptr, user, sizeof(user) - 1) == 0 &&
              memcmp(c->password.ptr, password, sizeof(password) - 1) == 0;
    if (ok && crest_req_set(req, "user", (void *)"alice") != 0)
        return CREST_SECURITY_DENY;
    return ok ? CREST_SECURITY_ALLOW : CREST_SECURITY_DENY;
}

static const char *const bearer_keys[] = {"bearer-secret"};
static const char *const admin_keys[] = {"admin-key"};
static const char *const session_keys[] = {"s3ss10n"};

static const struct crest_security writer_key = {.kind = CREST_SECURITY_API_KEY,
                                                 .in = CREST_IN_HEADER,
                                                 .param_name = "X-API-Key",
                                                 .description = "writer-key writes",
                                                 .check = lookup_key};
static const struct crest_security bearer = {
    .kind = CREST_SECURITY_HTTP_BEARER, .keys = bearer_keys, .n_keys = 1};
static const struct crest_security basic = {
    .kind = CREST_SECURITY_HTTP_BASIC, .realm = "notes", .check = check_basic};
static const struct crest_security admin_key = {.kind = CREST_SECURITY_API_KEY,
                                                .in = CREST_IN_QUERY,
                                                .param_name = "api_key",
                                                .keys = admin_keys,
                                                .n_keys = 1};
static const struct crest_security session_cookie = {.kind = CREST_SECURITY_API_KEY,
                                                     .in = CREST_IN_COOKIE,
                                                     .param_name = "session",
                                                     .keys = session_keys,
                                                     .n_keys = 1};

static const struct crest_hook writer_hooks[] = {CREST_SECURITY_HOOK(&writer_key)};
static const struct crest_hook bearer_hooks[] = {CREST_SECURITY_HOOK(&bearer)};
static const struct crest_hook basic_hooks[] = {CREST_SECURITY_HOOK(&basic)};
static const struct crest_hook session_hooks[] = {CREST_SECURITY_HOOK(&session_cookie)};

/* ---- handlers ---- */

static enum crest_handler_result list_notes(struct crest_req *req, void *ud)
{
    (void)ud;
    struct crest_str client = crest_param_str(req, "X-Client");
    struct crest_str theme = crest_param_str(req, "theme");
    struct crest_json *j = crest_res_json(req, 200);
    crest_json_object_begin(j);
    crest_json_key(j, "client");
    if (client.ptr)
        crest_json_string_len(j, client.ptr, client.len);
    else
        crest_json_null(j);
    crest_json_key(j, "theme");
    crest_json_string_len(j, theme.ptr, theme.len);
    crest_json_key(j, "notes");
    crest_json_array_begin(j);
    for (int i = 0; i < n_notes; i++)
        crest_json_string(j, notes[i]);
    crest_json_array_end(j);
    crest_json_object_end(j);
    return CREST_DONE;
}

static enum crest_handler_result add_note(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct crest_json_value *text = crest_json_get(crest_req_json(req), "text");
    int err = 0;
    bool duplicate = false;
    for (int i = 0; i < n_notes; i++)
        duplicate |= strcmp(notes[i], text->string) == 0;
    if (duplicate) {
        err = crest_res_error(req, 409, "A note with this text exists");
    } else if (n_notes == MAX_NOTES) {
        err = crest_res_error(req, 507, "No room for another note");
    } else {
        snprintf(notes[n_notes], sizeof(notes[0]), "%s", text->string);
        struct crest_json *j = crest_res_json(req, 201);
        crest_json_object_begin(j);
        crest_json_key(j, "id");
        crest_json_int(j, n_notes++);
        crest_json_key(j, "by");
        crest_json_string(j, crest_req_get(req, "user")); /* the key lookup's answer */
        crest_json_object_end(j);
    }
    (void)err; /* an error body that could not be written: the status line still tells */
    return CREST_DONE;
}

static enum crest_handler_result note_text(struct crest_req *req, void *ud)
{
    int64_t id = crest_param_int(req, "id");
    (void)ud;
    if (id < 0 || id >= n_notes) {
        int err = crest_res_error(req, 404, "Note not found");
        (void)err;
        return CREST_DONE;
    }
    int err = crest_res_body(req, "text/plain; charset=utf-8", notes[id], strlen(notes[id]));
    (void)err;
    return CREST_DONE;
}

static enum crest_handler_result me(struct crest_req *req, void *ud)
{
    (void)ud;
    struct crest_json *j = crest_res_json(req, 200);
    crest_json_object_begin(j);
    crest_json_key(j, "user");
    crest_json_string(j, crest_req_get(req, "user"));
    crest_json_object_end(j);
    return CREST_DONE;
}

static enum crest_handler_result export_notes(struct crest_req *req, void *ud)
{
    char out[MAX_NOTES * (MAX_TEXT + 1)];
    size_t n = 0;
    (void)ud;
    for (int i = 0; i < n_notes; i++) {
        size_t len = strlen(notes[i]);
        memcpy(out + n, notes[i], len);
        out[n + len] = '\0'; /* NUL-separated: bytes, not text */
        n += len + 1;
    }
    int err = crest_res_body(req, "application/octet-stream", out, n);
    (void)err;
    return CREST_DONE;
}

static enum crest_handler_result session(struct crest_req *req, void *ud)
{
    (void)ud;
    struct crest_json *j = crest_res_json(req, 200);
    crest_json_object_begin(j);
    crest_json_key(j, "session");
    crest_json_string(j, "valid");
    crest_json_object_end(j);
    return CREST_DONE;
}

/* ---- the app ---- */

static const struct crest_field note_fields[] = {{.name = "text",
                                                  .type = CREST_TYPE_STRING,
                                                  .required = true,
                                                  .min_length = CREST_LIMIT(1),
                                                  .max_length = CREST_LIMIT(MAX_TEXT)}};
static const struct crest_schema note_in = {.name = "NoteIn", .fields = note_fields, .n_fields = 1};
static const struct crest_param list_params[] = {
    {.name = "X-Client",
     .in = CREST_IN_HEADER,
     .type = CREST_TYPE_STRING,
     .max_length = CREST_LIMIT(20),
     .description = "Who is asking"},
    {.name = "theme", .in = CREST_IN_COOKIE, .type = CREST_TYPE_STRING, .default_text = "light"},
};
static const struct crest_param text_params[] = {
    {.name = "id", .in = CREST_IN_PATH, .type = CREST_TYPE_INTEGER, .ge = CREST_BOUND(0)}};
static const struct crest_doc_response add_responses[] = {
    {.status = 403, .description = "The key may only read"},
    {.status = 409, .description = "A note with this text exists"}};
static const struct crest_doc_response text_responses[] = {{.status = 404}};

static const struct crest_route routes[] = {
    {.method = "GET",
     .path = "/notes",
     .handler = list_notes,
     .params = list_params,
     .n_params = 2,
     .summary = "List notes"},
    {.method = "POST",
     .path = "/notes",
     .handler = add_note,
     .body = &note_in,
     .status = 201,
     .hooks = writer_hooks,
     .n_hooks = 1,
     .responses = add_responses,
     .n_responses = 2,
     .summary = "Add a note"},
    {.method = "GET",
     .path = "/notes/{id:int}/text",
     .handler = note_text,
     .params = text_params,
     .n_params = 1,
     .hooks = bearer_hooks,
     .n_hooks = 1,
     .response_type = "text/plain",
     .responses = text_responses,
     .n_responses = 1,
     .summary = "A note as text"},
    {.method = "GET",
     .path = "/me",
     .handler = me,
     .hooks = basic_hooks,
     .n_hooks = 1,
     .summary = "Who am I"},
    {.method = "GET",
     .path = "/admin/export",
     .handler = export_notes,
     .response_type = "application/octet-stream",
     .summary = "Every note, NUL-separated"},
    {.method = "GET",
     .path = "/session",
     .handler = session,
     .hooks = session_hooks,
     .n_hooks = 1,
     .summary = "Check the session cookie"},
};

static int build(struct crest_app *app, char err[CREST_ERR_LEN])
{
    const struct crest_hook admin = CREST_SECURITY_HOOK(&admin_key);
    struct crest_hook admin_prefix = admin;
    admin_prefix.prefix = "/admin"; /* every route under /admin, present and future */
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (crest_app_add_route(app, &routes[i], err) != 0)
            return -1;
    if (crest_app_add_hook(app, &admin_prefix) != 0 || crest_app_add_builtin_routes(app) != 0 ||
        crest_app_add_docs_routes(app, NULL) != 0) {
        snprintf(err, CREST_ERR_LEN, "out of memory");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct crest_config cfg;
    char err[CREST_ERR_LEN] = "";

    crest_config_defaults(&cfg);
    cfg.workers = 1; /* the notes are one worker's */
    int rc = crest_config_args(&cfg, argc, argv, NULL, 0, err);
    if (rc == 0 && cfg.workers != 1)
        rc = -EINVAL, snprintf(err, CREST_ERR_LEN, "--workers: the notes are one worker's");
    if (rc != 0) /* 1: --help printed the flags */
        return rc > 0 ? 0 : (fprintf(stderr, "secure: %s\n", err), 2);
    struct crest_app *app = crest_app_new("secure notes", "1.0");
    if (!app || build(app, err) != 0) {
        fprintf(stderr, "secure: %s\n", err[0] ? err : "out of memory");
        crest_app_free(app);
        return 1;
    }
    rc = crest_serve(app, &cfg, err);
    if (rc != 0)
        fprintf(stderr, "secure: %s\n", err);
    crest_app_free(app);
    return rc ? 1 : 0;
}
