/*
 * test_migrate.c: applying migrations (idempotent, all or nothing per
 * version, also under injected faults), status listing, refusing a database
 * newer than the binary, and the constraints migration 1 creates.
 */
#include "store/migrate.h"

#include "base/status.h"
#include "test.h"
#include "tmpdir.h"

#include <string.h>

static const char *dir;
static char err[512];

/* A connection to the SQLite file <dir>/<name>. */
static db_t *
open_named(const char *name)
{
    char spec[512];
    db_t *db = NULL;

    snprintf(spec, sizeof(spec), "sqlite:%s/%s", dir, name);
    if (db_open(spec, NULL, &db, err, sizeof(err)) != SV_OK) {
        printf("# db_open: %s\n", err);
        return NULL;
    }
    return db;
}

static int64_t
query_i64(db_t *db, const char *sql)
{
    db_stmt_t *st = NULL;
    int64_t v = -1;
    if (db_prepare(db, sql, &st) == SV_OK && db_step(st) == DB_ROW)
        v = db_column_i64(st, 0);
    db_finalize(st);
    return v;
}

static int64_t
table_count(db_t *db, const char *name)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'", name);
    return query_i64(db, sql);
}

static int
exec_step(db_t *db, const char *sql)
{
    db_stmt_t *st = NULL;
    int rc = db_prepare(db, sql, &st);
    if (rc == SV_OK)
        rc = db_step(st);
    if (rc == DB_ROW)
        rc = SV_OK;
    db_finalize(st);
    return rc;
}

TEST(status_of_a_fresh_database_is_all_pending_and_read_only)
{
    migrate_entry_t e[16];
    size_t n = 0;
    db_t *db = open_named("fresh.db");

    if (!db)
        return;
    CHECK_INT(migrate_status(db, e, 16, &n, err, sizeof(err)), SV_OK);
    CHECK_INT(n, migrate_known_count());
    CHECK_INT(e[0].version, 1);
    CHECK(e[0].known && !e[0].applied && e[0].applied_at_ms == 0);
    CHECK(e[0].name[0] != '\0');
    CHECK_INT(table_count(db, "schema_migrations"), 0);
    CHECK_INT(migrate_status(db, e, 0, &n, err, sizeof(err)), SV_TOO_BIG);
    db_close(db);
}

TEST(apply_is_idempotent)
{
    migrate_entry_t e[16];
    size_t n = 0;
    int applied = -1;
    db_t *db = open_named("main.db");

    if (!db)
        return;
    CHECK_INT(migrate_apply(db, &applied, err, sizeof(err)), SV_OK);
    CHECK_INT(applied, (int)migrate_known_count());
    CHECK_INT(migrate_apply(db, &applied, err, sizeof(err)), SV_OK);
    CHECK_INT(applied, 0);
    CHECK_INT(query_i64(db, "SELECT MAX(version) FROM schema_migrations"),
              migrate_latest_version());
    CHECK_INT(migrate_status(db, e, 16, &n, err, sizeof(err)), SV_OK);
    CHECK_INT(n, migrate_known_count());
    for (size_t i = 0; i < n; i++)
        CHECK(e[i].known && e[i].applied && e[i].applied_at_ms > 0);
    CHECK_INT(table_count(db, "jobs"), 1);
    CHECK_INT(table_count(db, "users"), 1);
    db_close(db);
}

TEST(migration_1_constraints)
{
    db_t *db = open_named("main.db");

    if (!db)
        return;
    CHECK_INT(exec_step(db, "INSERT INTO users (email, password_hash, role, created_at_ms)"
                            " VALUES ('Ann@Example.com', 'h', 'admin', 1)"),
              SV_OK);
    CHECK_INT(exec_step(db, "INSERT INTO users (email, password_hash, role, created_at_ms)"
                            " VALUES ('ann@example.COM', 'h', 'viewer', 1)"),
              SV_EXISTS);
    CHECK_INT(exec_step(db, "INSERT INTO users (email, password_hash, role, created_at_ms)"
                            " VALUES ('bob@example.com', 'h', 'root', 1)"),
              SV_DB);
    CHECK_INT(exec_step(db, "INSERT INTO users (email, password_hash, role, created_at_ms,"
                            " disabled) VALUES ('cy@example.com', 'h', 'viewer', 1, 2)"),
              SV_DB);
    CHECK_INT(exec_step(db, "INSERT INTO jobs (kind, state, run_at_ms, created_at_ms,"
                            " updated_at_ms) VALUES ('k', 'queued', 0, 0, 0)"),
              SV_OK);
    CHECK_INT(exec_step(db, "INSERT INTO jobs (kind, state, run_at_ms, created_at_ms,"
                            " updated_at_ms) VALUES ('k', 'sleeping', 0, 0, 0)"),
              SV_DB);
    CHECK_INT(exec_step(db, "INSERT INTO jobs (kind, run_at_ms, created_at_ms, updated_at_ms,"
                            " progress_permille) VALUES ('k', 0, 0, 0, 1001)"),
              SV_DB);
    CHECK_INT(query_i64(db, "SELECT max_attempts FROM jobs WHERE kind = 'k'"), 5);
    CHECK_INT(query_i64(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index'"
                            " AND name IN ('jobs_queued_idx', 'jobs_lease_idx',"
                            " 'jobs_state_id_idx', 'users_email_lower_idx')"),
              4);
    db_close(db);
}

/* Every counted call of a migration run, failed in turn: each time the
 * database is at a whole version, and a later run finishes the job. */
TEST(apply_under_every_fault_is_all_or_nothing)
{
    db_t *db = open_named("faults.db");
    int n, failures = 0, applied = 0;

    if (!db)
        return;
    for (n = 0; n < 100; n++) {
        db_fault_inject(n, SV_DB);
        int rc = migrate_apply(db, &applied, err, sizeof(err));
        bool fired = !db_fault_pending();
        db_fault_inject(-1, SV_DB);
        if (rc != SV_OK) {
            CHECK(fired);
            CHECK(strstr(err, "injected fault") != NULL);
            failures++;
        }
        CHECK(!db_in_tx(db));
        int64_t has_jobs = table_count(db, "jobs");
        int64_t v1 = table_count(db, "schema_migrations") == 1
                         ? query_i64(db, "SELECT COUNT(*) FROM schema_migrations"
                                         " WHERE version = 1")
                         : 0;
        CHECK_INT(has_jobs, v1); /* the tables exist exactly when version 1 is recorded */
        CHECK_INT(table_count(db, "users"), v1);
        if (!fired)
            break;
        /* Start from scratch for the next fault position: drop every table
         * (whatever later migrations add). */
        char names[32][64];
        int nt = 0;
        db_stmt_t *st = NULL;
        if (db_prepare(db, "SELECT name FROM sqlite_master WHERE type = 'table'"
                           " AND name NOT LIKE 'sqlite_%'", &st) == SV_OK) {
            while (nt < 32 && db_step(st) == DB_ROW)
                str_copy_cstr(names[nt++], sizeof(names[0]), db_column_text(st, 0));
        }
        db_finalize(st);
        for (int t = 0; t < nt; t++) {
            char sql[128];
            snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %.63s", names[t]);
            CHECK_INT(db_exec(db, sql), SV_OK);
        }
    }
    CHECK(failures >= 5);
    CHECK_INT(migrate_apply(db, &applied, err, sizeof(err)), SV_OK);
    CHECK_INT(table_count(db, "jobs"), 1);
    db_close(db);
}

TEST(a_newer_database_is_refused)
{
    migrate_entry_t e[16];
    size_t n = 0;
    int applied = -1;
    db_t *db = open_named("newer.db");

    if (!db)
        return;
    CHECK_INT(migrate_apply(db, &applied, err, sizeof(err)), SV_OK);
    CHECK_INT(exec_step(db, "INSERT INTO schema_migrations (version, name, applied_at_ms)"
                            " VALUES (999, 'from the future', 5)"),
              SV_OK);
    applied = -1;
    CHECK_INT(migrate_apply(db, &applied, err, sizeof(err)), SV_CONFLICT);
    CHECK(strstr(err, "newer") != NULL);
    CHECK_INT(applied, -1);
    CHECK_INT(migrate_status(db, e, 16, &n, err, sizeof(err)), SV_OK);
    CHECK_INT(n, migrate_known_count() + 1);
    CHECK_INT(e[n - 1].version, 999);
    CHECK(!e[n - 1].known && e[n - 1].applied);
    CHECK_STR(e[n - 1].name, "from the future");
    CHECK_INT(e[n - 1].applied_at_ms, 5);
    db_close(db);
}

int
main(void)
{
    dir = tmpdir_make("migrate");
    if (dir == NULL) {
        printf("not ok 1 - mkdtemp\n1..1\n");
        return 1;
    }
    RUN(status_of_a_fresh_database_is_all_pending_and_read_only);
    RUN(apply_is_idempotent);
    RUN(migration_1_constraints);
    RUN(apply_under_every_fault_is_all_or_nothing);
    RUN(a_newer_database_is_refused);
    tmpdir_remove();
    return test_done();
}
