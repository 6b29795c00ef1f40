/* db/migrate.c: what both backends share about migrations. Each applied script's checksum is
 * recorded beside its version in crest_migrations and checked at every start, as Flyway does:
 * an application whose migration 1 is not the text the database applied as version 1 (a script
 * edited after it ran, or another application's migrations in the same database) is refused
 * rather than served against a schema it did not make. A database migrated before checksums were
 * recorded adopts the running application's at its first start (the only record there is). */
#include "db/db.h"

#include "mem/mem.h"

#include <stdio.h>
#include <string.h>

void db_migration_checksum(const char *script, char out[DB_CHECKSUM_LEN])
{
    /* FNV-1a, 64 bits: it detects a changed text; nobody forges a migration against it */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)script; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    snprintf(out, DB_CHECKSUM_LEN, "%016llx", (unsigned long long)h);
}

bool db_migration_matches(const struct crest_db *db, int64_t version, const char *checksum)
{
    if (version < 1 || version > (int64_t)db->n_migrations || !checksum)
        return true; /* newer versions are refused apart; NULL is adopted first */
    char mine[DB_CHECKSUM_LEN];
    db_migration_checksum(db->migrations[version - 1], mine);
    return strcmp(mine, checksum) == 0;
}

void db_migration_mismatch(const struct crest_db *db, int64_t version, char *err)
{
    snprintf(err, CREST_ERR_LEN,
             "database %s: migration %lld is not the one applied to it (its text changed, or "
             "another application migrated this database): applied migrations never change, add a "
             "new one",
             db->name, (long long)version);
}

/* Sets the checksum of each applied version this application knows that has none (a table from
 * before checksums): "UPDATE crest_migrations SET checksum = CASE version WHEN 1 THEN '…' …". */
char *db_migrations_adopt_sql(const struct crest_db *db, size_t *size)
{
    static const char head[] = "UPDATE crest_migrations SET checksum = CASE version";
    static const char tail[] = " END WHERE checksum IS NULL";
    size_t each = sizeof(" WHEN  THEN ''") + 20 + DB_CHECKSUM_LEN;
    *size = sizeof(head) + db->n_migrations * each + sizeof(tail);
    char *sql = mem_alloc(MEM_DB, *size);
    if (!sql)
        return NULL;
    size_t len = (size_t)snprintf(sql, *size, "%s", head);
    for (size_t v = 1; v <= db->n_migrations; v++) {
        char sum[DB_CHECKSUM_LEN];
        db_migration_checksum(db->migrations[v - 1], sum);
        len += (size_t)snprintf(sql + len, *size - len, " WHEN %zu THEN '%s'", v, sum);
    }
    snprintf(sql + len, *size - len, "%s", tail);
    return sql;
}
