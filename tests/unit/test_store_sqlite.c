/* tests/unit/test_store_sqlite.c: the SQLite items store (store/sqlite.c) through its ops table:
 * CRUD on :memory: and on a file, id assignment, paging, patch field by field, -ENOENT, tags and
 * nulls round-trip, schema versioning, two connections (and two threads) on one file, read-only
 * and corrupt databases, invalid arguments, the caller's allocator failing, the tags codec, and
 * SQLite's memory showing up under the sqlite tag. Each test builds its own stores, in its own
 * temporary directory when it needs a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crest.h"
#include "mem/mem.h"
#include "store/sqlite_int.h"
#include "store/store.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define STR(lit) ((struct crest_str){lit, sizeof(lit) - 1})

enum {
    BUMP_BYTES = 1 << 20,
    LIST_ITEMS = 25,
    THREAD_WRITES = 200,
    OPENERS = 8,
};

static const struct store_ops *ops(void)
{
    return crest_store_sqlite();
}

static int open_at(const char *url, struct store **out, char *err)
{
    struct store_config cfg = {.url = url};
    return ops()->open(&cfg, out, err);
}

/* ---- the caller's allocator: a bump arena that can be told to fail ---- */

struct bump {
    char *buf;
    size_t used;
    bool fail; /* every allocation returns NULL */
};

static void *bump_alloc(void *ctx, size_t n)
{
    struct bump *b = ctx;
    size_t at = (b->used + 15) & ~(size_t)15;
    if (b->fail || at + n > BUMP_BYTES)
        return NULL;
    b->used = at + n;
    return b->buf + at;
}

static struct bump bump_new(void)
{
    struct bump b = {.buf = malloc(BUMP_BYTES)};
    assert_non_null(b.buf);
    return b;
}

/* ---- calls that assert they started and called back exactly once ---- */

struct result {
    int calls;
    int status;
    const struct store_item *items;
    size_t n;
};

static void on_done(void *ud, int status, const struct store_item *items, size_t n)
{
    struct result *r = ud;
    r->calls++;
    r->status = status;
    r->items = items;
    r->n = n;
}

#define CHECK_CALL(call)              \
    do {                              \
        assert_int_equal((call), 0);  \
        assert_int_equal(r.calls, 1); \
        if (r.status)                 \
            assert_int_equal(r.n, 0); \
    } while (0)

static struct result do_create(struct store *s, struct bump *b, const struct store_item *in)
{
    struct result r = {0};
    struct store_alloc out = {bump_alloc, b};
    CHECK_CALL(ops()->create(s, in, &out, on_done, &r));
    return r;
}

static struct result do_get(struct store *s, struct bump *b, int64_t id)
{
    struct result r = {0};
    struct store_alloc out = {bump_alloc, b};
    CHECK_CALL(ops()->get(s, id, &out, on_done, &r));
    return r;
}

static struct result do_list(struct store *s, struct bump *b, int64_t offset, int64_t limit)
{
    struct result r = {0};
    struct store_alloc out = {bump_alloc, b};
    CHECK_CALL(ops()->list(s, offset, limit, &out, on_done, &r));
    return r;
}

static struct result do_replace(struct store *s, struct bump *b, const struct store_item *in)
{
    struct result r = {0};
    struct store_alloc out = {bump_alloc, b};
    CHECK_CALL(ops()->replace(s, in, &out, on_done, &r));
    return r;
}

static struct result do_patch(struct store *s, struct bump *b, const struct store_item *in,
                              unsigned fields)
{
    struct result r = {0};
    struct store_alloc out = {bump_alloc, b};
    CHECK_CALL(ops()->patch(s, in, fields, &out, on_done, &r));
    return r;
}

static struct result do_remove(struct store *s, int64_t id)
{
    struct result r = {0};
    CHECK_CALL(ops()->remove(s, id, on_done, &r));
    assert_int_equal(r.n, 0);
    return r;
}

static int64_t create_ok(struct store *s, struct bump *b, const struct store_item *in)
{
    struct result r = do_create(s, b, in);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n, 1);
    return r.items[0].id;
}

/* ---- items and their comparison ---- */

static const struct crest_str two_tags[] = {{"a", 1}, {"b", 1}};

static struct store_item plain_item(const char *name, double price)
{
    return (struct store_item){.name = {name, strlen(name)}, .price = price};
}

static struct store_item full_item(void)
{
    return (struct store_item){.name = STR("Foo"),
                               .description = STR("A very nice Item"),
                               .price = 35.4,
                               .has_tax = true,
                               .tax = 3.2,
                               .n_tags = 2,
                               .tags = (struct crest_str *)two_tags};
}

static void assert_str_eq(struct crest_str got, struct crest_str want)
{
    if (!want.ptr) {
        assert_null(got.ptr);
        return;
    }
    assert_non_null(got.ptr);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.ptr, want.ptr, want.len);
    assert_int_equal(got.ptr[got.len], '\0'); /* copies are NUL-terminated */
}

/* Compares every field but the id; doubles must read back bit for bit. */
static void assert_item_eq(const struct store_item *got, const struct store_item *want)
{
    assert_str_eq(got->name, want->name);
    assert_str_eq(got->description, want->description);
    assert_memory_equal(&got->price, &want->price, sizeof(double));
    assert_int_equal(got->has_tax, want->has_tax);
    if (want->has_tax)
        assert_memory_equal(&got->tax, &want->tax, sizeof(double));
    assert_int_equal(got->n_tags, want->n_tags);
    for (uint32_t i = 0; i < want->n_tags; i++)
        assert_str_eq(got->tags[i], want->tags[i]);
}

/* ---- stores, files and directories ---- */

static struct store *open_store(const char *url)
{
    char err[CREST_ERR_LEN] = "";
    struct store *s = NULL;
    int rc = open_at(url, &s, err);
    if (rc)
        fail_msg("open %s: %d %s", url, rc, err);
    return s;
}

struct tmp {
    char dir[64];
    char db[128];
};

static struct tmp tmp_make(void)
{
    struct tmp t = {.dir = "/tmp/crest-store-XXXXXX"};
    assert_non_null(mkdtemp(t.dir));
    snprintf(t.db, sizeof(t.db), "%s/items.db", t.dir);
    return t;
}

/* Removes the directory and whatever SQLite left in it (-wal, -shm). */
static void tmp_remove(struct tmp *t)
{
    char path[400];
    DIR *d = opendir(t->dir);
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", t->dir, e->d_name);
        assert_int_equal(unlink(path), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(t->dir), 0);
}

/* A second connection of our own, beside the store's, to look at the file directly. */
static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(store_sqlite_mem_setup(), 0); /* before SQLite's first use in this process */
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void write_file(const char *path, const void *bytes, size_t n, off_t at)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, at), (ssize_t)n);
    close(fd);
}

/* ------------------------------------------------------------------------------------------------
 * CRUD */

static void crud_round(struct store *s)
{
    struct bump b = bump_new();
    struct store_item in = full_item();
    struct result r = do_create(s, &b, &in);

    assert_int_equal(r.status, 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.items[0].id, 1);
    assert_item_eq(&r.items[0], &in);

    r = do_get(s, &b, 1);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.items[0].id, 1);
    assert_item_eq(&r.items[0], &in);

    struct store_item repl = plain_item("Bar", 62);
    repl.id = 1;
    r = do_replace(s, &b, &repl);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.items[0].id, 1);
    assert_item_eq(&r.items[0], &repl); /* description, tax and tags gone */
    r = do_get(s, &b, 1);
    assert_item_eq(&r.items[0], &repl);

    r = do_remove(s, 1);
    assert_int_equal(r.status, 0);
    assert_int_equal(do_get(s, &b, 1).status, -ENOENT);
    free(b.buf);
}

static void test_crud_in_memory(void **state)
{
    (void)state;
    struct store *s = open_store(":memory:");
    crud_round(s);
    ops()->close(s);
}

static void test_crud_on_file_persists_across_reopen(void **state)
{
    struct bump b = bump_new();
    struct store_item in = full_item();
    (void)state;

    struct tmp t = tmp_make();
    struct store *s = open_store(t.db);
    crud_round(s);
    assert_int_equal(create_ok(s, &b, &in), 2);
    ops()->close(s);

    s = open_store(t.db);
    struct result r = do_get(s, &b, 2);
    assert_int_equal(r.status, 0);
    assert_item_eq(&r.items[0], &in);
    assert_int_equal(do_get(s, &b, 1).status, -ENOENT);
    ops()->close(s);
    tmp_remove(&t);
    free(b.buf);
}

static void test_ids_count_from_one_and_are_never_reused(void **state)
{
    struct bump b = bump_new();
    struct store_item in = plain_item("x", 1);
    (void)state;

    struct tmp t = tmp_make();
    struct store *s = open_store(t.db);
    for (int64_t id = 1; id <= 3; id++)
        assert_int_equal(create_ok(s, &b, &in), id);
    assert_int_equal(do_remove(s, 3).status, 0); /* the largest: plain rowids would reuse it */
    assert_int_equal(create_ok(s, &b, &in), 4);
    for (int64_t id = 1; id <= 4; id++)
        assert_int_equal(do_remove(s, id).status, id == 3 ? -ENOENT : 0);
    ops()->close(s);

    s = open_store(t.db); /* the high-water mark is stored, not remembered */
    assert_int_equal(create_ok(s, &b, &in), 5);
    ops()->close(s);
    tmp_remove(&t);
    free(b.buf);
}

static void test_list_pages_in_id_order(void **state)
{
    struct bump b = bump_new();
    struct store *s = open_store(":memory:");
    struct result r;
    char name[16];
    (void)state;

    for (int i = 1; i <= LIST_ITEMS; i++) {
        snprintf(name, sizeof(name), "item %d", i);
        struct store_item in = plain_item(name, i);
        assert_int_equal(create_ok(s, &b, &in), i);
    }
    for (int64_t offset = 0; offset < 30; offset += 10) {
        r = do_list(s, &b, offset, 10);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.n, offset < 20 ? 10 : 5);
        for (size_t i = 0; i < r.n; i++) {
            snprintf(name, sizeof(name), "item %d", (int)(offset + (int64_t)i + 1));
            assert_int_equal(r.items[i].id, offset + (int64_t)i + 1);
            assert_str_eq(r.items[i].name, (struct crest_str){name, strlen(name)});
        }
    }
    r = do_list(s, &b, 30, 10);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n, 0);
    r = do_list(s, &b, 0, 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n, 0);

    /* more rows than the first array holds, and gaps left by deletes */
    assert_int_equal(do_remove(s, 2).status, 0);
    assert_int_equal(do_remove(s, 17).status, 0);
    r = do_list(s, &b, 0, 1000);
    assert_int_equal(r.n, LIST_ITEMS - 2);
    for (size_t i = 1; i < r.n; i++)
        assert_true(r.items[i - 1].id < r.items[i].id);
    assert_int_equal(r.items[1].id, 3);
    ops()->close(s);
    free(b.buf);
}

static void test_patch_changes_only_the_flagged_field(void **state)
{
    static const struct crest_str new_tags[] = {{"z", 1}};
    const struct store_item other = {.name = STR("New"),
                                     .description = STR("new description"),
                                     .price = 99.5,
                                     .has_tax = true,
                                     .tax = 7.25,
                                     .n_tags = 1,
                                     .tags = (struct crest_str *)new_tags};
    const unsigned fields[] = {STORE_NAME, STORE_DESCRIPTION, STORE_PRICE, STORE_TAX, STORE_TAGS};
    struct bump b = bump_new();
    struct store *s = open_store(":memory:");
    (void)state;

    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        struct store_item base = full_item();
        struct store_item patch = other; /* every field differs: only one may land */
        struct store_item want = base;
        patch.id = create_ok(s, &b, &base);
        switch (fields[i]) {
        case STORE_NAME:
            want.name = other.name;
            break;
        case STORE_DESCRIPTION:
            want.description = other.description;
            break;
        case STORE_PRICE:
            want.price = other.price;
            break;
        case STORE_TAX:
            want.tax = other.tax;
            break;
        default:
            want.n_tags = other.n_tags;
            want.tags = other.tags;
        }
        struct result r = do_patch(s, &b, &patch, fields[i]);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.items[0].id, patch.id);
        assert_item_eq(&r.items[0], &want);
        r = do_get(s, &b, patch.id);
        assert_item_eq(&r.items[0], &want);
    }
    ops()->close(s);
    free(b.buf);
}

static void test_patch_sets_description_and_tax_to_null(void **state)
{
    struct bump b = bump_new();
    struct store *s = open_store(":memory:");
    struct store_item in = full_item();
    struct store_item patch = {.id = create_ok(s, &b, &in)}; /* description NULL, no tax */
    struct store_item want = in;
    (void)state;

    want.description = (struct crest_str){NULL, 0};
    want.has_tax = false;
    struct result r = do_patch(s, &b, &patch, STORE_DESCRIPTION | STORE_TAX);
    assert_int_equal(r.status, 0);
    assert_item_eq(&r.items[0], &want);
    r = do_patch(s, &b, &patch, 0); /* no field: the stored row, unchanged */
    assert_int_equal(r.status, 0);
    assert_item_eq(&r.items[0], &want);
    ops()->close(s);
    free(b.buf);
}

static void test_missing_id_gives_enoent(void **state)
{
    struct bump b = bump_new();
    struct store *s = open_store(":memory:");
    struct store_item in = plain_item("x", 1);
    (void)state;

    in.id = 42;
    assert_int_equal(do_get(s, &b, 42).status, -ENOENT);
    assert_int_equal(do_replace(s, &b, &in).status, -ENOENT);
    assert_int_equal(do_patch(s, &b, &in, STORE_PRICE).status, -ENOENT);
    assert_int_equal(do_remove(s, 42).status, -ENOENT);
    assert_int_equal(do_get(s, &b, 0).status, -ENOENT);
    assert_int_equal(do_get(s, &b, -1).status, -ENOENT);
    assert_int_equal(do_list(s, &b, 0, 10).n, 0); /* the failed replace created nothing */
    ops()->close(s);
    free(b.buf);
}

static void test_tags_with_escapes_and_unicode_round_trip(void **state)
{
    static const struct crest_str tags[] = {
        STR("say \"hi\""), STR("back\\slash"),  STR("\\\""), STR("tab\tnew\nline\r"),
        STR("\x01\x1f"),   STR("nul\0byte"),    STR(""),     STR("caf\xc3\xa9"),
        STR("日本語"),     STR("😀 emoji"),      STR("a,b]"), STR("/solidus/"),
        STR("[\"x\"]"),    STR("\xe2\x80\xa8"), STR("   "),
    };
    struct bump b = bump_new();
    struct store *s = open_store(":memory:");
    struct store_item in = plain_item("ünïcödé \"name\"", 0.1);
    (void)state;

    in.n_tags = ARRAY_LEN(tags);
    in.tags = (struct crest_str *)tags;
    int64_t id = create_ok(s, &b, &in);
    struct result r = do_get(s, &b, id);
    assert_int_equal(r.status, 0);
    assert_item_eq(&r.items[0], &in);

    in.n_tags = 0; /* an empty array reads back as no tags */
    in.tags = NULL;
    id = create_ok(s, &b, &in);
    r = do_get(s, &b, id);
    assert_int_equal(r.items[0].n_tags, 0);
    assert_null(r.items[0].tags);
    ops()->close(s);
    free(b.buf);
}

static void test_description_and_tax_null_empty_zero_and_set(void **state)
{
    struct bump b = bump_new();
    struct store *s = open_store(":memory:");
    struct store_item cases[] = {plain_item("null both", 1), plain_item("empty and zero", 2),
                                 plain_item("set", 3)};
    (void)state;

    cases[1].description = (struct crest_str){"", 0};
    cases[1].has_tax = true;
    cases[1].tax = 0.0;
    cases[2].description = STR("desc");
    cases[2].has_tax = true;
    cases[2].tax = -1.5e-300;
    cases[2].price = 1e300;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        int64_t id = create_ok(s, &b, &cases[i]);
        struct result r = do_get(s, &b, id);
        assert_item_eq(&r.items[0], &cases[i]);
    }
    ops()->close(s);
    free(b.buf);
}

/* ------------------------------------------------------------------------------------------------
 * Files: schema, settings, sharing, read-only, corruption */

static void test_reopen_keeps_data_and_schema_version(void **state)
{
    struct bump b = bump_new();
    struct store_item in = full_item();
    (void)state;

    struct tmp t = tmp_make();
    struct store *s = open_store(t.db);
    create_ok(s, &b, &in);
    ops()->close(s);
    for (int round = 0; round < 2; round++) {
        s = open_store(t.db);
        struct result r = do_get(s, &b, 1);
        assert_int_equal(r.status, 0);
        assert_item_eq(&r.items[0], &in);
        ops()->close(s);
    }
    sqlite3 *db = raw_open(t.db);
    assert_int_equal(query_int(db, "PRAGMA user_version"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'items'"), 1);
    sqlite3_close(db);
    tmp_remove(&t);
    free(b.buf);
}

static void test_file_uses_wal_full_sync_and_a_small_cache(void **state)
{
    (void)state;

    struct tmp t = tmp_make();
    struct store *s = open_store(t.db);
    sqlite3 *db = store_sqlite_db(s);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(query_int(db, "PRAGMA synchronous"), 2); /* FULL */
    assert_int_equal(query_int(db, "PRAGMA cache_size"), -256);
    assert_int_equal(query_int(db, "PRAGMA busy_timeout"), 5000);
    ops()->close(s);
    tmp_remove(&t);
}

static void test_empty_existing_file_is_migrated(void **state)
{
    struct bump b = bump_new();
    struct store_item in = plain_item("x", 1);
    (void)state;

    struct tmp t = tmp_make();
    sqlite3 *db = raw_open(":memory:"); /* a SQLite file of someone else's, at version 0 */
    sqlite3_close(db);
    assert_int_equal(sqlite3_open_v2(t.db, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE other(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    struct store *s = open_store(t.db);
    assert_int_equal(create_ok(s, &b, &in), 1);
    ops()->close(s);
    db = raw_open(t.db);
    assert_int_equal(query_int(db, "PRAGMA user_version"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM other"), 0); /* left alone */
    sqlite3_close(db);
    tmp_remove(&t);
    free(b.buf);
}

static void test_newer_schema_version_refuses_to_open(void **state)
{
    char err[CREST_ERR_LEN] = "";
    struct store *s = NULL;
    (void)state;

    struct tmp t = tmp_make();
    sqlite3 *db = raw_open(":memory:");
    sqlite3_close(db);
    assert_int_equal(sqlite3_open_v2(t.db, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(open_at(t.db, &s, err), -EPROTO);
    assert_null(s);
    assert_non_null(strstr(err, "schema version 99"));
    tmp_remove(&t);
}

/* Two workers: one connection each on the same file, writes interleaved. */
static void test_two_stores_on_one_file_interleave_writes(void **state)
{
    struct bump b = bump_new();
    (void)state;

    struct tmp t = tmp_make();
    struct store *s1 = open_store(t.db);
    struct store *s2 = open_store(t.db);
    for (int64_t i = 1; i <= 20; i++) {
        struct store_item in = plain_item(i % 2 ? "one" : "two", (double)i);
        assert_int_equal(create_ok(i % 2 ? s1 : s2, &b, &in), i);
        struct result r = do_get(i % 2 ? s2 : s1, &b, i); /* the other one sees it at once */
        assert_int_equal(r.status, 0);
        assert_item_eq(&r.items[0], &in);
    }
    struct store_item patch = {.id = 1, .price = 100};
    assert_int_equal(do_patch(s2, &b, &patch, STORE_PRICE).status, 0);
    assert_int_equal(do_remove(s1, 2).status, 0);
    assert_int_equal(do_get(s2, &b, 2).status, -ENOENT);
    struct result r = do_list(s1, &b, 0, 100);
    assert_int_equal(r.n, 19);
    assert_true(r.items[0].price == 100);
    ops()->close(s1);
    ops()->close(s2);
    tmp_remove(&t);
    free(b.buf);
}

struct writer {
    const char *path;
    unsigned slot; /* memory counters of its own, as a worker has */
    int failures;
    int64_t last_id;
};

static void *write_many(void *arg)
{
    struct writer *w = arg;
    struct bump b = {.buf = malloc(BUMP_BYTES)};
    struct store *s = NULL;
    char err[CREST_ERR_LEN];

    mem_thread_slot(w->slot);
    if (!b.buf || open_at(w->path, &s, err) != 0) {
        w->failures = -1;
        free(b.buf);
        return NULL;
    }
    for (int i = 0; i < THREAD_WRITES; i++) {
        struct store_item in = plain_item("concurrent", i);
        struct result r = {0};
        struct store_alloc out = {bump_alloc, &b};
        b.used = 0;
        if (ops()->create(s, &in, &out, on_done, &r) != 0 || r.calls != 1 || r.status != 0)
            w->failures++;
        else if (r.items[0].id <= w->last_id) /* ids grow, whoever writes */
            w->failures++;
        else
            w->last_id = r.items[0].id;
    }
    ops()->close(s);
    free(b.buf);
    return NULL;
}

/* Two worker threads writing at full speed: BEGIN IMMEDIATE and busy_timeout must keep every
 * SQLITE_BUSY away from the callers. */
static void test_two_threads_writing_never_see_busy(void **state)
{
    struct writer w[2];
    pthread_t th[2];
    (void)state;

    struct tmp t = tmp_make();
    ops()->close(open_store(t.db)); /* create and migrate first, so both race only on writes */
    for (int i = 0; i < 2; i++) {
        w[i] = (struct writer){.path = t.db, .slot = 1 + (unsigned)i};
        assert_int_equal(pthread_create(&th[i], NULL, write_many, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    sqlite3 *db = raw_open(t.db);
    assert_int_equal(query_int(db, "SELECT count(*) FROM items"), 2 * THREAD_WRITES);
    assert_int_equal(query_int(db, "SELECT max(id) FROM items"), 2 * THREAD_WRITES);
    sqlite3_close(db);
    tmp_remove(&t);
}

struct opener {
    const char *path;
    unsigned slot;
    int rc;
    char err[CREST_ERR_LEN];
};

static void *open_close(void *arg)
{
    struct opener *o = arg;
    struct store *s = NULL;

    mem_thread_slot(o->slot);
    o->rc = open_at(o->path, &s, o->err);
    if (o->rc == 0)
        ops()->close(s);
    return NULL;
}

/* Workers opening a brand-new file at once: one switches it to WAL and migrates, the others wait
 * their turn (journal_mode=WAL answers SQLITE_BUSY without waiting) and find it done. */
static void test_concurrent_first_opens_migrate_once(void **state)
{
    struct opener o[OPENERS];
    pthread_t th[OPENERS];
    (void)state;

    struct tmp t = tmp_make();
    for (int i = 0; i < OPENERS; i++) {
        o[i] = (struct opener){.path = t.db, .slot = 1 + (unsigned)i};
        assert_int_equal(pthread_create(&th[i], NULL, open_close, &o[i]), 0);
    }
    for (int i = 0; i < OPENERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        if (o[i].rc)
            fail_msg("open %d: %d %s", i, o[i].rc, o[i].err);
    }
    sqlite3 *db = raw_open(t.db);
    assert_int_equal(query_int(db, "PRAGMA user_version"), 1);
    sqlite3_close(db);
    tmp_remove(&t);
}

static void check_writes_fail_reads_work(struct store *s, struct bump *b, int64_t id)
{
    struct store_item in = plain_item("nope", 1);
    struct result r = do_create(s, b, &in);
    assert_true(r.status == -EROFS || r.status == -EIO);
    in.id = id;
    r = do_replace(s, b, &in);
    assert_true(r.status == -EROFS || r.status == -EIO);
    r = do_patch(s, b, &in, STORE_PRICE);
    assert_true(r.status == -EROFS || r.status == -EIO);
    r = do_remove(s, id);
    assert_true(r.status == -EROFS || r.status == -EIO);
    r = do_get(s, b, id);
    assert_int_equal(r.status, 0);
    assert_str_eq(r.items[0].name, STR("Foo"));
    r = do_list(s, b, 0, 10);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n, 1);
}

/* PRAGMA query_only makes every write fail as on a read-only file (SQLITE_READONLY), and works
 * as root, for whom chmod is no obstacle. A failed write must leave the store usable. */
static void test_query_only_connection_refuses_writes_but_reads(void **state)
{
    struct bump b = bump_new();
    struct store *s = open_store(":memory:");
    struct store_item in = full_item();
    (void)state;

    int64_t id = create_ok(s, &b, &in);
    assert_int_equal(sqlite3_exec(store_sqlite_db(s), "PRAGMA query_only=1", NULL, NULL, NULL),
                     SQLITE_OK);
    check_writes_fail_reads_work(s, &b, id);
    assert_int_equal(sqlite3_exec(store_sqlite_db(s), "PRAGMA query_only=0", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(create_ok(s, &b, &in), id + 1); /* no transaction was left open */
    ops()->close(s);
    free(b.buf);
}

/* A file the process may not write. Root ignores permissions, so this one skips as root and
 * test_query_only_connection_refuses_writes_but_reads covers the store's side. */
static void test_read_only_file_refuses_writes_but_reads(void **state)
{
    struct bump b = bump_new();
    struct store_item in = full_item();
    (void)state;

    if (geteuid() == 0) {
        free(b.buf);
        skip();
    }
    struct tmp t = tmp_make();
    struct store *s = open_store(t.db);
    int64_t id = create_ok(s, &b, &in);
    ops()->close(s);
    assert_int_equal(chmod(t.db, 0444), 0);
    s = open_store(t.db);
    check_writes_fail_reads_work(s, &b, id);
    ops()->close(s);
    tmp_remove(&t);
    free(b.buf);
}

/* --db takes a path: "file:...?mode=memory" is a file of that name, not an in-memory URI
 * (Debian's SQLite treats such names as URIs unless told not to). */
static void test_file_colon_name_is_a_path_not_a_uri(void **state)
{
    struct bump b = bump_new();
    struct store_item in = plain_item("x", 1);
    char cwd[512];
    char path[256];
    (void)state;

    struct tmp t = tmp_make();
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(t.dir), 0);
    struct store *s = open_store("file:items.db?mode=memory");
    assert_int_equal(create_ok(s, &b, &in), 1);
    ops()->close(s);
    assert_int_equal(chdir(cwd), 0);
    snprintf(path, sizeof(path), "%s/file:items.db?mode=memory", t.dir);
    assert_int_equal(access(path, F_OK), 0);
    tmp_remove(&t);
    free(b.buf);
}

static void test_garbage_file_fails_to_open_with_a_reason(void **state)
{
    char err[CREST_ERR_LEN] = "";
    char garbage[8192];
    struct store *s = NULL;
    (void)state;

    struct tmp t = tmp_make();
    for (size_t i = 0; i < sizeof(garbage); i++)
        garbage[i] = (char)(i * 7 + 3);
    write_file(t.db, garbage, sizeof(garbage), 0);
    assert_int_equal(open_at(t.db, &s, err), -EIO);
    assert_null(s);
    assert_non_null(strstr(err, t.db));
    assert_non_null(strstr(err, "not a database"));
    tmp_remove(&t);
}

/* A sound header over a ruined table: the file opens, reading the table gives -EIO, and the
 * store answers again once the damage is out of the way (nothing stays half-done). */
static void test_corrupt_table_gives_eio(void **state)
{
    struct bump b = bump_new();
    struct store_item in = full_item();
    char garbage[4096];
    (void)state;

    struct tmp t = tmp_make();
    struct store *s = open_store(t.db);
    for (int i = 0; i < 3; i++)
        create_ok(s, &b, &in);
    ops()->close(s); /* the last connection checkpoints: everything is in the main file */

    sqlite3 *db = raw_open(t.db);
    int64_t root = query_int(db, "SELECT rootpage FROM sqlite_schema WHERE name = 'items'");
    int64_t page_size = query_int(db, "PRAGMA page_size");
    sqlite3_close(db);
    memset(garbage, 0xa5, sizeof(garbage));
    assert_true(page_size <= (int64_t)sizeof(garbage));
    write_file(t.db, garbage, (size_t)page_size, (off_t)((root - 1) * page_size));

    s = open_store(t.db);
    assert_int_equal(do_get(s, &b, 1).status, -EIO);
    assert_int_equal(do_list(s, &b, 0, 10).status, -EIO);
    assert_int_equal(do_create(s, &b, &in).status, -EIO);
    ops()->close(s);
    tmp_remove(&t);
    free(b.buf);
}

/* ------------------------------------------------------------------------------------------------
 * Contracts: arguments, the caller's allocator, memory accounting */

static void never_called(void *ud, int status, const struct store_item *items, size_t n)
{
    (void)ud;
    (void)status;
    (void)items;
    (void)n;
    fail_msg("a call that returned an error called back");
}

static void test_invalid_arguments_fail_without_callback(void **state)
{
    struct bump b = bump_new();
    struct store_alloc out = {bump_alloc, &b};
    struct store_alloc no_alloc = {NULL, NULL};
    struct store *s = open_store(":memory:");
    struct store_item ok = plain_item("x", 1);
    struct store_item no_name = {.price = 1};
    struct store_item nan_price = plain_item("x", NAN);
    struct store_item nan_tax = plain_item("x", 1);
    struct store_item lost_tags = plain_item("x", 1);
    (void)state;

    nan_tax.has_tax = true;
    nan_tax.tax = NAN;
    lost_tags.n_tags = 2;
    assert_int_equal(ops()->create(s, &no_name, &out, never_called, NULL), -EINVAL);
    assert_int_equal(ops()->create(s, &nan_price, &out, never_called, NULL), -EINVAL);
    assert_int_equal(ops()->create(s, &nan_tax, &out, never_called, NULL), -EINVAL);
    assert_int_equal(ops()->create(s, &lost_tags, &out, never_called, NULL), -EINVAL);
    assert_int_equal(ops()->create(s, NULL, &out, never_called, NULL), -EINVAL);
    assert_int_equal(ops()->create(s, &ok, &no_alloc, never_called, NULL), -EINVAL);
    assert_int_equal(ops()->create(s, &ok, &out, NULL, NULL), -EINVAL);
    assert_int_equal(ops()->create(NULL, &ok, &out, never_called, NULL), -EINVAL);
    assert_int_equal(ops()->replace(s, &no_name, &out, never_called, NULL), -EINVAL);
    assert_int_equal(ops()->patch(s, &no_name, STORE_NAME, &out, never_called, NULL), -EINVAL);
    assert_int_equal(ops()->patch(s, &ok, 1u << 5, &out, never_called, NULL), -EINVAL);
    assert_int_equal(ops()->list(s, -1, 10, &out, never_called, NULL), -EINVAL);
    assert_int_equal(ops()->list(s, 0, -1, &out, never_called, NULL), -EINVAL);
    assert_int_equal(ops()->get(s, 1, NULL, never_called, NULL), -EINVAL);
    assert_int_equal(ops()->remove(NULL, 1, never_called, NULL), -EINVAL);
    assert_int_equal(open_at(NULL, &s, NULL), -EINVAL);
    /* a patch of fields not flagged may leave them invalid: they are not read */
    struct store_item price_only = {.id = 1, .price = 2};
    assert_int_equal(create_ok(s, &b, &ok), 1);
    assert_int_equal(do_patch(s, &b, &price_only, STORE_PRICE).status, 0);
    ops()->close(s);
    free(b.buf);
}

/* The row is copied out before COMMIT, so when the caller's memory runs out the write is rolled
 * back and the client's 503 is the truth: nothing was stored. */
static void test_caller_out_of_memory_rolls_back_the_write(void **state)
{
    struct bump b = bump_new();
    struct store *s = open_store(":memory:");
    struct store_item in = full_item();
    (void)state;

    b.fail = true;
    assert_int_equal(do_create(s, &b, &in).status, -ENOMEM);
    b.fail = false;
    assert_int_equal(do_list(s, &b, 0, 10).n, 0);
    int64_t id = create_ok(s, &b, &in);
    assert_int_equal(id, 1); /* the rolled-back insert did not consume an id either */

    struct store_item patch = {.id = id, .price = 1};
    b.fail = true;
    assert_int_equal(do_patch(s, &b, &patch, STORE_PRICE).status, -ENOMEM);
    assert_int_equal(do_get(s, &b, id).status, -ENOMEM);
    assert_int_equal(do_list(s, &b, 0, 10).status, -ENOMEM);
    b.fail = false;
    struct result r = do_get(s, &b, id);
    assert_item_eq(&r.items[0], &in); /* the patch did not land */
    ops()->close(s);
    free(b.buf);
}

static void test_sqlite_memory_is_counted_under_its_tag(void **state)
{
    struct mem_tag_stats before, open, after, closed;
    (void)state;

    assert_int_equal(store_sqlite_mem_setup(), 0);
    mem_stats(MEM_SQLITE, &before);
    struct store *s = open_store(":memory:");
    mem_stats(MEM_SQLITE, &open);
    /* a connection, its schema and eight prepared statements: well past our struct alone */
    assert_true(open.live_bytes - before.live_bytes > 16 * 1024);
    print_message("one :memory: store holds %lld bytes under the sqlite tag\n",
                  (long long)(open.live_bytes - before.live_bytes));

    void *p = sqlite3_malloc(1000);
    assert_non_null(p);
    mem_stats(MEM_SQLITE, &after);
    assert_true(after.live_bytes - open.live_bytes >= 1000);
    assert_int_equal(after.live_blocks - open.live_blocks, 1);
    assert_true(sqlite3_msize(p) >= 1000);
    sqlite3_free(p);

    ops()->close(s);
    mem_stats(MEM_SQLITE, &closed);
    assert_int_equal(closed.live_bytes, before.live_bytes);
    assert_int_equal(closed.live_blocks, before.live_blocks);
}

/* ------------------------------------------------------------------------------------------------
 * The tags column codec */

static void test_tags_decoder_reads_json_arrays_of_strings(void **state)
{
    struct bump b = bump_new();
    struct store_alloc out = {bump_alloc, &b};
    struct crest_str *tags;
    uint32_t n;
    const char *text = " [ \"a\\u00e9\" , \"\\ud83d\\ude00\", \"\\/\\b\\f\"\n] ";
    (void)state;

    assert_int_equal(store_tags_decode(text, strlen(text), &out, &tags, &n), 0);
    assert_int_equal(n, 3);
    assert_str_eq(tags[0], STR("a\xc3\xa9"));
    assert_str_eq(tags[1], STR("\xf0\x9f\x98\x80"));
    assert_str_eq(tags[2], STR("/\b\f"));
    assert_int_equal(store_tags_decode("[]", 2, &out, &tags, &n), 0);
    assert_int_equal(n, 0);
    assert_null(tags);
    free(b.buf);
}

static void test_tags_decoder_rejects_what_was_never_written(void **state)
{
    static const char *const bad[] = {
        "",
        "[",
        "]",
        "[\"a\"",
        "[\"a\",]",
        "[,]",
        "[1]",
        "[null]",
        "{}",
        "[\"a\"] x",
        "[\"a\" \"b\"]",
        "[\"\\x\"]",
        "[\"\\u12\"]",
        "[\"\\ud83d\"]",
        "[\"\\ude00\"]",
        "[\"\\ud83dx\"]",
        "[\"a\nb\"]",
        "\"a\"",
    };
    struct bump b = bump_new();
    struct store_alloc out = {bump_alloc, &b};
    struct crest_str *tags;
    uint32_t n;
    (void)state;

    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        int rc = store_tags_decode(bad[i], strlen(bad[i]), &out, &tags, &n);
        if (rc != -EIO)
            fail_msg("accepted %s", bad[i]);
    }
    free(b.buf);
}

/* ---- group commit ---- */

/* Writes in a group are acknowledged only by flush, all together, after one COMMIT; a write that
 * changes nothing (-ENOENT) is answered at once. */
static void test_group_commit_acknowledges_writes_only_at_flush(void **state)
{
    struct tmp t = tmp_make();
    struct store *s = open_store(t.db);
    struct bump b = bump_new();
    struct store_alloc out = {bump_alloc, &b};
    struct store_item a = plain_item("a", 1), c = plain_item("c", 2);
    struct result ra = {0}, rc = {0}, rmiss = {0};
    (void)state;

    ops()->set_group_commit(s, true);
    assert_false(ops()->pending(s));
    assert_int_equal(ops()->create(s, &a, &out, on_done, &ra), 0);
    assert_int_equal(ops()->create(s, &c, &out, on_done, &rc), 0);
    assert_int_equal(ra.calls + rc.calls, 0); /* not committed: not acknowledged */
    assert_true(ops()->pending(s));
    assert_int_equal(ops()->remove(s, 999, on_done, &rmiss), 0);
    assert_int_equal(rmiss.calls, 1);
    assert_int_equal(rmiss.status, -ENOENT);

    sqlite3 *other = raw_open(t.db); /* another connection sees nothing before the COMMIT */
    assert_int_equal(query_int(other, "SELECT count(*) FROM items"), 0);
    ops()->flush(s);
    assert_int_equal(ra.calls, 1);
    assert_int_equal(rc.calls, 1);
    assert_int_equal(ra.status, 0);
    assert_int_equal(ra.items[0].id, 1);
    assert_int_equal(rc.items[0].id, 2);
    assert_false(ops()->pending(s));
    assert_int_equal(query_int(other, "SELECT count(*) FROM items"), 2);
    sqlite3_close(other);
    ops()->close(s);
    free(b.buf);
    tmp_remove(&t);
}

/* A read commits the open group first, so it never sees an unacknowledged write. */
static void test_group_commit_read_flushes_first(void **state)
{
    struct store *s = open_store(":memory:");
    struct bump b = bump_new();
    struct store_alloc out = {bump_alloc, &b};
    struct store_item a = plain_item("a", 1);
    struct result ra = {0};
    (void)state;

    ops()->set_group_commit(s, true);
    assert_int_equal(ops()->create(s, &a, &out, on_done, &ra), 0);
    assert_int_equal(ra.calls, 0);
    struct result got = do_get(s, &b, 1);
    assert_int_equal(ra.calls, 1); /* acknowledged before the read answered */
    assert_int_equal(got.status, 0);
    assert_int_equal(got.items[0].id, 1);
    ops()->close(s);
    free(b.buf);
}

/* A write that fails inside the group rolls the whole group back: nobody is acknowledged. */
static void test_group_commit_failure_answers_everyone_with_the_error(void **state)
{
    struct store *s = open_store(":memory:");
    struct bump b = bump_new();
    struct store_alloc out = {bump_alloc, &b};
    struct store_item a = plain_item("a", 1), c = plain_item("c", 2);
    struct result ra = {0}, rc = {0};
    (void)state;

    ops()->set_group_commit(s, true);
    assert_int_equal(ops()->create(s, &a, &out, on_done, &ra), 0);
    b.fail = true; /* the caller's memory runs out while copying c's stored row */
    assert_int_equal(ops()->create(s, &c, &out, on_done, &rc), 0);
    b.fail = false;
    assert_int_equal(ra.calls, 1);
    assert_int_equal(rc.calls, 1);
    assert_int_equal(ra.status, -ENOMEM);
    assert_int_equal(rc.status, -ENOMEM);
    assert_int_equal(do_list(s, &b, 0, 10).n, 0); /* rolled back: nothing stored */
    ops()->close(s);
    free(b.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* first: it measures SQLite's first allocations in this process too */
        cmocka_unit_test(test_sqlite_memory_is_counted_under_its_tag),
        cmocka_unit_test(test_crud_in_memory),
        cmocka_unit_test(test_crud_on_file_persists_across_reopen),
        cmocka_unit_test(test_ids_count_from_one_and_are_never_reused),
        cmocka_unit_test(test_list_pages_in_id_order),
        cmocka_unit_test(test_patch_changes_only_the_flagged_field),
        cmocka_unit_test(test_patch_sets_description_and_tax_to_null),
        cmocka_unit_test(test_missing_id_gives_enoent),
        cmocka_unit_test(test_group_commit_acknowledges_writes_only_at_flush),
        cmocka_unit_test(test_group_commit_read_flushes_first),
        cmocka_unit_test(test_group_commit_failure_answers_everyone_with_the_error),
        cmocka_unit_test(test_tags_with_escapes_and_unicode_round_trip),
        cmocka_unit_test(test_description_and_tax_null_empty_zero_and_set),
        cmocka_unit_test(test_reopen_keeps_data_and_schema_version),
        cmocka_unit_test(test_file_uses_wal_full_sync_and_a_small_cache),
        cmocka_unit_test(test_empty_existing_file_is_migrated),
        cmocka_unit_test(test_newer_schema_version_refuses_to_open),
        cmocka_unit_test(test_two_stores_on_one_file_interleave_writes),
        cmocka_unit_test(test_two_threads_writing_never_see_busy),
        cmocka_unit_test(test_concurrent_first_opens_migrate_once),
        cmocka_unit_test(test_query_only_connection_refuses_writes_but_reads),
        cmocka_unit_test(test_read_only_file_refuses_writes_but_reads),
        cmocka_unit_test(test_file_colon_name_is_a_path_not_a_uri),
        cmocka_unit_test(test_garbage_file_fails_to_open_with_a_reason),
        cmocka_unit_test(test_corrupt_table_gives_eio),
        cmocka_unit_test(test_invalid_arguments_fail_without_callback),
        cmocka_unit_test(test_caller_out_of_memory_rolls_back_the_write),
        cmocka_unit_test(test_tags_decoder_reads_json_arrays_of_strings),
        cmocka_unit_test(test_tags_decoder_rejects_what_was_never_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
