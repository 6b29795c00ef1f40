/* examples/tfb.c: the TechEmpower Framework Benchmarks test types (json, plaintext, db, queries,
 * fortunes, updates), written only against crest.h, on PostgreSQL or SQLite:
 *   tfb --host 127.0.0.1 --port 8080 --db postgresql://user:pw@host/db   (or DATABASE_URL)
 *       [--workers N] [--pool N]   (and the engine's other flags: --help lists them)
 * It follows the rules of each test type: one SELECT per row (a request's statements go out in
 * one call, pipelined, never merged into one statement, never shared between requests), queries
 * clamped to 1..500 (not a number: 1), fortunes with the added row, sorted and HTML-escaped,
 * updates written back. The tables are the TechEmpower setup's (World with 10,000 rows, Fortune
 * with the benchmark's 12), created by migration 1 when missing and used as they are otherwise. */
#include <crest.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WORLD_ROWS = 10000, MAX_QUERIES = 500 };

static struct crest_db *db;

#define FORTUNES                                                                                  \
    "INSERT INTO Fortune (id, message) VALUES "                                                   \
    "(1, 'fortune: No such file or directory'), "                                                 \
    "(2, 'A computer scientist is someone who fixes things that aren''t broken.'), "              \
    "(3, 'After enough decimal places, nobody gives a damn.'), "                                  \
    "(4, 'A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1'), "                    \
    "(5, 'A computer program does what you tell it to do, not what you want it to do.'), "        \
    "(6, 'Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen'), "          \
    "(7, 'Any program that runs right is obsolete.'), "                                           \
    "(8, 'A list is only as strong as its weakest link. — Donald Knuth'), "                     \
    "(9, 'Feature: A bug with seniority.'), "                                                     \
    "(10, 'Computers make very fast, very accurate mistakes.'), "                                 \
    "(11, '<script>alert(\"This should not be displayed in a browser alert box.\");</script>'), " \
    "(12, 'フレームワークのベンチマーク') ON CONFLICT DO NOTHING"

#define TABLES                                                                                  \
    "CREATE TABLE IF NOT EXISTS World (id integer NOT NULL, randomNumber integer NOT NULL "     \
    "default 0, PRIMARY KEY (id));"                                                             \
    "CREATE TABLE IF NOT EXISTS Fortune (id integer NOT NULL, message varchar(2048) NOT NULL, " \
    "PRIMARY KEY (id));" FORTUNES ";"

static const char *const pg_migrations[] = {
    TABLES "INSERT INTO World (id, randomNumber) SELECT x, floor(random() * 10000 + 1) "
           "FROM generate_series(1, 10000) AS x ON CONFLICT DO NOTHING",
};
static const char *const sqlite_migrations[] = {
    TABLES "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 10000) "
           "INSERT INTO World (id, randomNumber) SELECT x, abs(random()) % 10000 + 1 FROM s "
           "WHERE true ON CONFLICT DO NOTHING",
};

static const char SELECT_WORLD[] = "SELECT id, randomNumber FROM World WHERE id = $1";
static const char UPDATE_WORLD[] = "UPDATE World SET randomNumber = $1 WHERE id = $2";
static const char SELECT_FORTUNES[] = "SELECT id, message FROM Fortune";

/* xorshift64*, one state per thread: random ids need no lock */
static _Thread_local uint64_t rng_state;

static int random_row(void)
{
    if (!rng_state)
        rng_state = (uint64_t)(uintptr_t)&rng_state * 2654435761u | 1;
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (int)((rng_state * 2685821657736338717ull >> 33) % WORLD_ROWS) + 1;
}

/* Answers a failed call, or an error starting one, and finishes the request. */
static void fail(struct crest_req *req, int status, const char *detail)
{
    if (crest_res_error(req, status, detail) != 0 ||
        (status == 503 && crest_res_header(req, "Retry-After", "1") != 0))
        crest_res_status(req, 500);
    crest_req_finish(req);
}

static void fail_db(struct crest_req *req, enum crest_db_status status)
{
    fail(req, crest_db_http_status(status), crest_db_status_text(status));
}

static enum crest_handler_result started(struct crest_req *req, int rc)
{
    if (rc == 0)
        return CREST_PENDING;
    fail(req, rc == -ENOMEM ? 503 : 500, rc == -ENOMEM ? "Server over memory budget" : "db");
    return CREST_PENDING;
}

static void write_world(struct crest_json *j, int64_t id, int64_t number)
{
    crest_json_object_begin(j);
    crest_json_key(j, "id");
    crest_json_int(j, id);
    crest_json_key(j, "randomNumber");
    crest_json_int(j, number);
    crest_json_object_end(j);
}

/* ---- db: one random row ---- */

static void db_done(struct crest_req *req, enum crest_db_status status,
                    const struct crest_db_result *r, size_t n, void *ud)
{
    (void)n;
    (void)ud;
    if (status != CREST_DB_OK)
        return fail_db(req, status);
    write_world(crest_res_json(req, 200), crest_db_get_int(r, 0, 0), crest_db_get_int(r, 0, 1));
    crest_req_finish(req);
}

static enum crest_handler_result single(struct crest_req *req, void *ud)
{
    (void)ud;
    const struct crest_db_value id = crest_db_int(random_row());
    return started(req, crest_db_query(req, db, SELECT_WORLD, &id, 1, CREST_DB_ONE, db_done, NULL));
}

/* ---- queries and updates: N rows, one SELECT each ---- */

/* The queries parameter as the rules read it: an integer clamped to 1..500 (however many digits
 * it has: 99999999999 is 500), anything else (missing, empty, "foo", "5x") 1. */
static size_t query_count(struct crest_req *req)
{
    struct crest_str text;
    if (crest_query_str(req, "queries", &text) != 0 || !text.ptr || !text.len)
        return 1;
    size_t i = text.ptr[0] == '-' || text.ptr[0] == '+', n = 0;
    if (i == text.len)
        return 1;
    for (; i < text.len; i++) {
        if (text.ptr[i] < '0' || text.ptr[i] > '9')
            return 1;
        n = n * 10 + (size_t)(text.ptr[i] - '0');
        if (n > MAX_QUERIES)
            n = MAX_QUERIES + 1; /* saturates: no overflow, whatever the length */
    }
    if (text.ptr[0] == '-' || n < 1)
        return 1;
    return n > MAX_QUERIES ? MAX_QUERIES : n;
}

/* n statements with one parameter each, in the request's arena: ids (SELECT) or pairs (UPDATE). */
static struct crest_db_stmt *stmts_new(struct crest_req *req, size_t n, size_t n_params)
{
    struct crest_db_stmt *stmts = crest_req_alloc(req, n * sizeof(*stmts));
    struct crest_db_value *params = crest_req_alloc(req, n * n_params * sizeof(*params));
    if (!stmts || !params)
        return NULL;
    for (size_t i = 0; i < n; i++)
        stmts[i] = (struct crest_db_stmt){.params = params + i * n_params, .n_params = n_params};
    return stmts;
}

static int select_rows(struct crest_req *req, size_t n, crest_db_fn done)
{
    struct crest_db_stmt *stmts = stmts_new(req, n, 1);
    if (!stmts)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        stmts[i].sql = SELECT_WORLD;
        stmts[i].flags = CREST_DB_ONE;
        *(struct crest_db_value *)stmts[i].params = crest_db_int(random_row());
    }
    return crest_db_run(req, db, stmts, n, done, NULL);
}

static void queries_done(struct crest_req *req, enum crest_db_status status,
                         const struct crest_db_result *r, size_t n, void *ud)
{
    (void)ud;
    if (status != CREST_DB_OK)
        return fail_db(req, status);
    struct crest_json *j = crest_res_json(req, 200);
    crest_json_array_begin(j);
    for (size_t i = 0; i < n; i++)
        write_world(j, crest_db_get_int(&r[i], 0, 0), crest_db_get_int(&r[i], 0, 1));
    crest_json_array_end(j);
    crest_req_finish(req);
}

static enum crest_handler_result queries(struct crest_req *req, void *ud)
{
    (void)ud;
    return started(req, select_rows(req, query_count(req), queries_done));
}

struct world {
    int64_t id, number;
};

static int by_id(const void *a, const void *b)
{
    const struct world *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static void updated(struct crest_req *req, enum crest_db_status status,
                    const struct crest_db_result *r, size_t n, void *ud)
{
    struct world *rows = ud;
    (void)r;
    if (status != CREST_DB_OK)
        return fail_db(req, status);
    struct crest_json *j = crest_res_json(req, 200);
    crest_json_array_begin(j);
    for (size_t i = 0; i < n; i++)
        write_world(j, rows[i].id, rows[i].number);
    crest_json_array_end(j);
    crest_req_finish(req);
}

/* The rows read, each given a new random number, written back in one transaction, in id order
 * (two requests updating the same rows in different orders would deadlock on PostgreSQL). */
static void update_read(struct crest_req *req, enum crest_db_status status,
                        const struct crest_db_result *r, size_t n, void *ud)
{
    (void)ud;
    if (status != CREST_DB_OK)
        return fail_db(req, status);
    struct world *rows = crest_req_alloc(req, n * sizeof(*rows));
    struct crest_db_stmt *stmts = stmts_new(req, n, 2);
    if (!rows || !stmts)
        return fail(req, 503, "Server over memory budget");
    for (size_t i = 0; i < n; i++)
        rows[i] = (struct world){crest_db_get_int(&r[i], 0, 0), random_row()};
    qsort(rows, n, sizeof(*rows), by_id);
    for (size_t i = 0; i < n; i++) {
        struct crest_db_value *p = (struct crest_db_value *)stmts[i].params;
        stmts[i].sql = UPDATE_WORLD;
        p[0] = crest_db_int(rows[i].number);
        p[1] = crest_db_int(rows[i].id);
    }
    int rc = crest_db_run(req, db, stmts, n, updated, rows);
    if (rc)
        fail(req, rc == -ENOMEM ? 503 : 500, "db");
}

static enum crest_handler_result updates(struct crest_req *req, void *ud)
{
    (void)ud;
    return started(req, select_rows(req, query_count(req), update_read));
}

/* ---- fortunes ---- */

struct fortune {
    int64_t id;
    struct crest_str message;
};

static int by_message(const void *a, const void *b)
{
    const struct fortune *x = a, *y = b;
    size_t n = x->message.len < y->message.len ? x->message.len : y->message.len;
    int c = memcmp(x->message.ptr, y->message.ptr, n);
    return c ? c : (x->message.len > y->message.len) - (x->message.len < y->message.len);
}

/* Appends text HTML-escaped (the five characters OWASP names) to out, which has room: the runs
 * between them copied whole. */
static size_t escape(char *out, struct crest_str text)
{
    size_t n = 0, run = 0;
    for (size_t i = 0; i < text.len; i++) {
        const char *rep;
        size_t len;
        switch (text.ptr[i]) {
        case '&':
            rep = "&amp;", len = 5;
            break;
        case '<':
            rep = "&lt;", len = 4;
            break;
        case '>':
            rep = "&gt;", len = 4;
            break;
        case '"':
            rep = "&quot;", len = 6;
            break;
        case '\'':
            rep = "&#x27;", len = 6;
            break;
        default:
            continue;
        }
        memcpy(out + n, text.ptr + run, i - run);
        n += i - run;
        memcpy(out + n, rep, len);
        n += len;
        run = i + 1;
    }
    memcpy(out + n, text.ptr + run, text.len - run);
    return n + text.len - run;
}

/* Appends v in decimal (ids are small and not negative; printf's machinery costs more than the
 * row). */
static size_t decimal(char *out, int64_t v)
{
    char digits[24];
    size_t n = 0, len = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do
        digits[n++] = (char)('0' + u % 10);
    while ((u /= 10));
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = digits[--n];
    return len;
}

static void fortunes_done(struct crest_req *req, enum crest_db_status status,
                          const struct crest_db_result *r, size_t n_results, void *ud)
{
    static const char head[] = "<!DOCTYPE html><html><head><title>Fortunes</title></head><body>"
                               "<table><tr><th>id</th><th>message</th></tr>";
    static const char tail[] = "</table></body></html>";
    (void)n_results;
    (void)ud;
    if (status != CREST_DB_OK)
        return fail_db(req, status);
    size_t n = r->n_rows + 1, cap = sizeof(head) + sizeof(tail);
    struct fortune *rows = crest_req_alloc(req, n * sizeof(*rows));
    if (!rows)
        return fail(req, 503, "Server over memory budget");
    for (size_t i = 0; i < r->n_rows; i++)
        rows[i] = (struct fortune){crest_db_get_int(r, i, 0), crest_db_get_text(r, i, 1)};
    rows[n - 1] = (struct fortune){0, {"Additional fortune added at request time.", 41}};
    qsort(rows, n, sizeof(*rows), by_message);
    for (size_t i = 0; i < n; i++)
        cap += 48 + rows[i].message.len * 6; /* "&#x27;" is the longest escape */
    char *html = crest_req_alloc(req, cap);
    if (!html)
        return fail(req, 503, "Server over memory budget");
    size_t len = 0;
    memcpy(html, head, sizeof(head) - 1);
    len += sizeof(head) - 1;
    for (size_t i = 0; i < n; i++) {
        memcpy(html + len, "<tr><td>", 8);
        len += 8;
        len += decimal(html + len, rows[i].id);
        memcpy(html + len, "</td><td>", 9);
        len += 9;
        len += escape(html + len, rows[i].message);
        memcpy(html + len, "</td></tr>", 10);
        len += 10;
    }
    memcpy(html + len, tail, sizeof(tail) - 1);
    len += sizeof(tail) - 1;
    if (crest_res_body(req, "text/html; charset=utf-8", html, len) != 0)
        return fail(req, 503, "Server over memory budget");
    crest_req_finish(req);
}

static enum crest_handler_result fortunes(struct crest_req *req, void *ud)
{
    (void)ud;
    return started(req, crest_db_query(req, db, SELECT_FORTUNES, NULL, 0, 0, fortunes_done, NULL));
}

static enum crest_handler_result plaintext(struct crest_req *req, void *ud)
{
    (void)ud;
    if (crest_res_body(req, "text/plain", "Hello, World!", 13) != 0)
        crest_res_status(req, 503);
    return CREST_DONE;
}

/* ---- setup ---- */

int main(int argc, char **argv)
{
    struct crest_config cfg;
    char err[CREST_ERR_LEN];
    struct crest_db_config dbc = {.name = "tfb", .url = "tfb.db"};
    const struct crest_arg args[] = {
        {"--db", CREST_ARG_STRING, &dbc.url, "DATABASE_URL",
         "a SQLite path or a postgresql:// URL (default tfb.db)"},
        {"--pool", CREST_ARG_COUNT, &dbc.pool, NULL, "PostgreSQL connections per worker (2)"},
    };
    crest_config_defaults(&cfg);
    int rc = crest_config_args(&cfg, argc, argv, args, 2, err);
    if (rc != 0) /* 1: --help printed the flags */
        return rc > 0 ? 0 : (fprintf(stderr, "tfb: %s\n", err), 2);
    bool pg = strncmp(dbc.url, "postgres", 8) == 0;
    dbc.migrations = pg ? pg_migrations : sqlite_migrations;
    dbc.n_migrations = 1;
    const struct crest_route routes[] = {
        {.method = "GET", .path = "/plaintext", .handler = plaintext, .summary = "Plaintext"},
        {.method = "GET", .path = "/db", .handler = single, .summary = "Single query"},
        {.method = "GET", .path = "/queries", .handler = queries, .summary = "Multiple queries"},
        {.method = "GET", .path = "/fortunes", .handler = fortunes, .summary = "Fortunes"},
        {.method = "GET", .path = "/updates", .handler = updates, .summary = "Updates"},
    };
    struct crest_app *app = crest_app_new("tfb", "1.0");
    if (!app || crest_app_add_builtin_routes(app) != 0)
        return fprintf(stderr, "tfb: out of memory\n"), 1;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (crest_app_add_route(app, &routes[i], err) != 0)
            return fprintf(stderr, "tfb: %s\n", err), 1;
    rc = crest_app_add_db(app, &dbc, &db, err);
    if (rc == 0)
        rc = crest_serve(app, &cfg, err);
    if (rc != 0)
        fprintf(stderr, "tfb: %s\n", err);
    crest_app_free(app);
    return rc ? 1 : 0;
}
