/*
 * migrate.c: the schema, as an ordered list of migrations.
 *
 * Both dialects get the same tables, columns, constraints and indexes; the
 * DDL differs only where it must (a generated key is `INTEGER PRIMARY KEY` on
 * SQLite, which makes it the rowid, and `BIGSERIAL PRIMARY KEY` on
 * PostgreSQL). Types are limited to what both accept: INTEGER, BIGINT, TEXT.
 */
#include "store/migrate.h"
#include "base/clock.h"
#include "base/status.h"
#include "base/str.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    int version;
    const char *name;
    const char *sql_sqlite;
    const char *sql_pg;
} migration_t;

/*
 * Migration 1: the job queue and users.
 *
 * jobs: state is queued | running | done | failed. A worker claims the best
 * runnable job (highest priority, then earliest run_at, then lowest id) that
 * is queued with run_at_ms <= now, or running with an expired lease; the two
 * partial indexes serve those two halves of the claim. lease_token proves the
 * claim in every later update. Times are UTC epoch ms.
 *
 * users: e-mail addresses are unique ignoring ASCII case (users only accepts
 * ASCII addresses, so lower() means the same on both databases).
 */
#define MIGRATION_1(ID_DDL)                                                                    \
    "CREATE TABLE jobs ("                                                                      \
    " id " ID_DDL ","                                                                          \
    " kind TEXT NOT NULL,"                                                                     \
    " payload TEXT NOT NULL DEFAULT '{}',"                                                     \
    " state TEXT NOT NULL DEFAULT 'queued'"                                                    \
    "  CHECK (state IN ('queued', 'running', 'done', 'failed')),"                              \
    " priority INTEGER NOT NULL DEFAULT 0,"                                                    \
    " attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),"                              \
    " max_attempts INTEGER NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),"                      \
    " run_at_ms BIGINT NOT NULL,"                                                              \
    " lease_until_ms BIGINT,"                                                                  \
    " lease_token TEXT,"                                                                       \
    " worker TEXT,"                                                                            \
    " progress_permille INTEGER NOT NULL DEFAULT 0"                                            \
    "  CHECK (progress_permille BETWEEN 0 AND 1000),"                                          \
    " progress_msg TEXT,"                                                                      \
    " error TEXT,"                                                                             \
    " created_at_ms BIGINT NOT NULL,"                                                          \
    " updated_at_ms BIGINT NOT NULL,"                                                          \
    " finished_at_ms BIGINT"                                                                   \
    ");"                                                                                       \
    "CREATE INDEX jobs_queued_idx ON jobs (priority DESC, run_at_ms, id)"                      \
    " WHERE state = 'queued';"                                                                 \
    "CREATE INDEX jobs_lease_idx ON jobs (lease_until_ms) WHERE state = 'running';"            \
    "CREATE INDEX jobs_state_id_idx ON jobs (state, id);"                                      \
    "CREATE TABLE users ("                                                                     \
    " id " ID_DDL ","                                                                          \
    " email TEXT NOT NULL,"                                                                    \
    " password_hash TEXT NOT NULL,"                                                            \
    " role TEXT NOT NULL DEFAULT 'viewer'"                                                     \
    "  CHECK (role IN ('viewer', 'creator', 'reviewer', 'admin')),"                            \
    " created_at_ms BIGINT NOT NULL,"                                                          \
    " disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))"                          \
    ");"                                                                                       \
    "CREATE UNIQUE INDEX users_email_lower_idx ON users (lower(email));"

/* Version 2: media assets. An asset is one uploaded or ingested source and
 * everything made from it; its state follows the ingest job. */
#define MIGRATION_2(ID_DDL)                                                                    \
    "CREATE TABLE assets ("                                                                    \
    " id " ID_DDL ","                                                                          \
    " title TEXT NOT NULL,"                                                                    \
    " state TEXT NOT NULL DEFAULT 'queued'"                                                    \
    "  CHECK (state IN ('queued', 'probing', 'probed', 'transcoding', 'packaging',"            \
    "   'ready', 'failed')),"                                                                  \
    " source_name TEXT NOT NULL,"                                                              \
    " source_path TEXT NOT NULL,"                                                              \
    " source_size BIGINT NOT NULL DEFAULT 0,"                                                  \
    " options TEXT NOT NULL DEFAULT '{}',"                                                     \
    " probe TEXT,"                                                                             \
    " duration_ms BIGINT,"                                                                     \
    " error TEXT,"                                                                             \
    " job_id BIGINT,"                                                                          \
    " created_at_ms BIGINT NOT NULL,"                                                          \
    " updated_at_ms BIGINT NOT NULL"                                                           \
    ");"                                                                                       \
    "CREATE INDEX assets_state_idx ON assets (state, id);"

/* Version 3: the ladder planned for an asset (JSON), once its source is probed. */
#define MIGRATION_3 "ALTER TABLE assets ADD COLUMN plan TEXT;"

/* Version 4: what packaging made of an asset (JSON: renditions, speed, notes). */
#define MIGRATION_4 "ALTER TABLE assets ADD COLUMN result TEXT;"

/* Ordered by version; append only. */
static const migration_t migrate_list[] = {
    {1, "jobs and users", MIGRATION_1("INTEGER PRIMARY KEY"),
     MIGRATION_1("BIGSERIAL PRIMARY KEY")},
    {2, "assets", MIGRATION_2("INTEGER PRIMARY KEY"), MIGRATION_2("BIGSERIAL PRIMARY KEY")},
    {3, "asset ladder plans", MIGRATION_3, MIGRATION_3},
    {4, "asset packaging results", MIGRATION_4, MIGRATION_4},
};

#define MIGRATE_COUNT (sizeof(migrate_list) / sizeof(migrate_list[0]))

static const char migrate_sql_create_table[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                               " version INTEGER PRIMARY KEY,"
                                               " name TEXT NOT NULL,"
                                               " applied_at_ms BIGINT NOT NULL)";

/* Serialises concurrent migrators on PostgreSQL, whose BEGIN takes no lock
 * (BEGIN IMMEDIATE already does that on SQLite). The key is arbitrary and fixed. */
static const char migrate_sql_lock_pg[] = "SELECT pg_advisory_xact_lock(7305271001)";

static const char migrate_sql_table_exists_sqlite[] =
    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'";
static const char migrate_sql_table_exists_pg[] =
    "SELECT COUNT(*) FROM information_schema.tables"
    " WHERE table_schema = current_schema() AND table_name = 'schema_migrations'";

int
migrate_latest_version(void)
{
    return migrate_list[MIGRATE_COUNT - 1].version;
}

size_t
migrate_known_count(void)
{
    return MIGRATE_COUNT;
}

/* Runs a query whose one row holds one integer. */
static int
migrate_query_i64(db_t *db, const char *sql, int64_t arg, bool bind_arg, int64_t *out)
{
    db_stmt_t *st = NULL;
    int rc;

    rc = db_prepare(db, sql, &st);
    if (rc != SV_OK)
        goto out;
    if (bind_arg)
        db_bind_i64(st, 1, arg);
    rc = db_step(st);
    if (rc == DB_ROW) {
        *out = db_column_i64(st, 0);
        rc = SV_OK;
    } else if (rc == SV_OK) {
        rc = SV_NOT_FOUND;
    }
out:
    db_finalize(st);
    return rc;
}

/* Applies one migration in its own transaction; *applied tells whether it
 * was pending. */
static int
migrate_apply_one(db_t *db, const migration_t *m, bool *applied)
{
    db_stmt_t *st = NULL;
    int64_t n = 0;
    int rc;

    *applied = false;
    rc = db_tx_begin(db);
    if (rc != SV_OK)
        goto out;
    if (db_dialect(db) == DB_POSTGRES) {
        rc = db_prepare(db, migrate_sql_lock_pg, &st);
        if (rc != SV_OK)
            goto out;
        while ((rc = db_step(st)) == DB_ROW)
            ; /* the lock is the effect; the row is void */
        db_finalize(st);
        st = NULL;
        if (rc != SV_OK)
            goto out;
    }
    /* Re-checked inside the transaction: another process may have just applied it. */
    rc = migrate_query_i64(db, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?",
                           m->version, true, &n);
    if (rc != SV_OK)
        goto out;
    if (n > 0) {
        rc = db_tx_rollback(db);
        goto out;
    }
    rc = db_exec(db, db_sql_for(db, m->sql_sqlite, m->sql_pg));
    if (rc != SV_OK)
        goto out;
    rc = db_prepare(db,
                    "INSERT INTO schema_migrations (version, name, applied_at_ms)"
                    " VALUES (?, ?, ?)",
                    &st);
    if (rc != SV_OK)
        goto out;
    db_bind_i64(st, 1, m->version);
    db_bind_cstr(st, 2, m->name);
    db_bind_i64(st, 3, clock_wall_ms());
    rc = db_step(st);
    if (rc != SV_OK)
        goto out;
    rc = db_tx_commit(db);
    if (rc != SV_OK)
        goto out;
    *applied = true;
out:
    db_finalize(st);
    if (rc != SV_OK)
        db_tx_rollback(db);
    return rc;
}

int
migrate_apply(db_t *db, int *applied_count, char *err, size_t errlen)
{
    int64_t newest = 0;
    int rc, count = 0;
    size_t i;

    if (err && errlen > 0)
        err[0] = '\0';
    rc = db_exec(db, migrate_sql_create_table);
    if (rc != SV_OK) {
        snprintf(err, errlen, "creating schema_migrations: %s", db_last_error(db));
        goto out;
    }
    rc = migrate_query_i64(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", 0,
                           false, &newest);
    if (rc != SV_OK) {
        snprintf(err, errlen, "reading schema_migrations: %s", db_last_error(db));
        goto out;
    }
    if (newest > migrate_latest_version()) {
        snprintf(err, errlen,
                 "the database is at schema version %lld, newer than this StreamVerse "
                 "knows (%d): upgrade StreamVerse",
                 (long long)newest, migrate_latest_version());
        rc = SV_CONFLICT;
        goto out;
    }
    for (i = 0; i < MIGRATE_COUNT; i++) {
        const migration_t *m = &migrate_list[i];
        bool applied;

        if (i > 0 && m->version <= migrate_list[i - 1].version) {
            snprintf(err, errlen, "migration list out of order at version %d", m->version);
            rc = SV_ERROR;
            goto out;
        }
        rc = migrate_apply_one(db, m, &applied);
        if (rc != SV_OK) {
            snprintf(err, errlen, "migration %d (%s): %s", m->version, m->name,
                     db_last_error(db));
            goto out;
        }
        if (applied)
            count++;
    }
    *applied_count = count;
    rc = SV_OK;
out:
    return rc;
}

/* Inserts e into out[0..*n) keeping version order; SV_TOO_BIG when full. */
static int
migrate_entry_insert(migrate_entry_t *out, size_t cap, size_t *n, const migrate_entry_t *e)
{
    size_t i;

    if (*n >= cap)
        return SV_TOO_BIG;
    i = *n;
    while (i > 0 && out[i - 1].version > e->version) {
        out[i] = out[i - 1];
        i--;
    }
    out[i] = *e;
    (*n)++;
    return SV_OK;
}

int
migrate_status(db_t *db, migrate_entry_t *out, size_t cap, size_t *count, char *err,
               size_t errlen)
{
    db_stmt_t *st = NULL;
    int64_t exists = 0;
    size_t n = 0, i;
    int rc;

    if (err && errlen > 0)
        err[0] = '\0';
    for (i = 0; i < MIGRATE_COUNT; i++) {
        migrate_entry_t e = {.version = migrate_list[i].version, .known = true};
        str_copy_cstr(e.name, sizeof(e.name), str_from_cstr(migrate_list[i].name));
        rc = migrate_entry_insert(out, cap, &n, &e);
        if (rc != SV_OK) {
            snprintf(err, errlen, "more than %zu migrations", cap);
            goto out;
        }
    }
    rc = migrate_query_i64(
        db, db_sql_for(db, migrate_sql_table_exists_sqlite, migrate_sql_table_exists_pg), 0,
        false, &exists);
    if (rc != SV_OK) {
        snprintf(err, errlen, "looking for schema_migrations: %s", db_last_error(db));
        goto out;
    }
    if (exists == 0)
        goto done;
    rc = db_prepare(
        db, "SELECT version, name, applied_at_ms FROM schema_migrations ORDER BY version", &st);
    if (rc != SV_OK) {
        snprintf(err, errlen, "reading schema_migrations: %s", db_last_error(db));
        goto out;
    }
    while ((rc = db_step(st)) == DB_ROW) {
        int64_t version = db_column_i64(st, 0);
        bool found = false;

        for (i = 0; i < n; i++) {
            if (out[i].known && out[i].version == version) {
                out[i].applied = true;
                out[i].applied_at_ms = db_column_i64(st, 2);
                found = true;
                break;
            }
        }
        if (!found) {
            migrate_entry_t e = {.version = (int)version,
                                 .applied = true,
                                 .known = false,
                                 .applied_at_ms = db_column_i64(st, 2)};
            str_copy_cstr(e.name, sizeof(e.name), db_column_text(st, 1));
            rc = migrate_entry_insert(out, cap, &n, &e);
            if (rc != SV_OK) {
                snprintf(err, errlen, "more than %zu migrations", cap);
                goto out;
            }
        }
    }
    if (rc != SV_OK) {
        snprintf(err, errlen, "reading schema_migrations: %s", db_last_error(db));
        goto out;
    }
done:
    *count = n;
    rc = SV_OK;
out:
    db_finalize(st);
    return rc;
}
