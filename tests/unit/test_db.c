/*
 * test_db.c: the database interface on SQLite: opening, binding and reading
 * every type, status mapping, transactions, lock waits, concurrent writers,
 * and fault injection (a failure inside a transaction changes nothing).
 */
#include "store/db.h"

#include "base/status.h"
#include "test.h"
#include "tmpdir.h"

#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

static const char *dir;
static char err[512];

/* A connection to <dir>/streamverse.db, which has the table kv. */
static db_t *
open_db(void)
{
    char open_err[256]; /* own buffer: threads call this */
    db_t *db = NULL;
    if (db_open("", dir, &db, open_err, sizeof(open_err)) != SV_OK) {
        printf("# db_open: %s\n", open_err);
        return NULL;
    }
    if (db_exec(db, "CREATE TABLE IF NOT EXISTS kv (k TEXT NOT NULL UNIQUE,"
                    " v INTEGER NOT NULL CHECK (v >= 0))") != SV_OK) {
        printf("# creating kv: %s\n", db_last_error(db));
        db_close(db);
        return NULL;
    }
    return db;
}

/* The single integer a query returns, or -1. */
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

/* The single text a query returns, copied into a static buffer, or "". */
static const char *
query_text(db_t *db, const char *sql)
{
    static char out[256];
    db_stmt_t *st = NULL;
    out[0] = '\0';
    if (db_prepare(db, sql, &st) == SV_OK && db_step(st) == DB_ROW)
        str_copy_cstr(out, sizeof(out), db_column_text(st, 0));
    db_finalize(st);
    return out;
}

/* Inserts one row into kv; returns db_step's status. */
static int
insert_kv(db_t *db, const char *k, int64_t v)
{
    db_stmt_t *st = NULL;
    int rc = db_prepare(db, "INSERT INTO kv (k, v) VALUES (?, ?)", &st);
    if (rc == SV_OK) {
        db_bind_cstr(st, 1, k);
        db_bind_i64(st, 2, v);
        rc = db_step(st);
    }
    db_finalize(st);
    return rc;
}

TEST(open_default_sqlite_file_with_pragmas)
{
    char path[512];
    struct stat sb;
    db_t *db = open_db();

    CHECK(db != NULL);
    if (!db)
        return;
    snprintf(path, sizeof(path), "%s/streamverse.db", dir);
    CHECK(stat(path, &sb) == 0);
    CHECK_INT(db_dialect(db), DB_SQLITE);
    CHECK_STR(db_dialect_name(db), "sqlite");
    CHECK_STR(query_text(db, "PRAGMA journal_mode"), "wal");
    CHECK_INT(query_i64(db, "PRAGMA foreign_keys"), 1);
    CHECK_INT(query_i64(db, "PRAGMA synchronous"), 1); /* NORMAL */
    CHECK_INT(query_i64(db, "PRAGMA busy_timeout"), DB_BUSY_TIMEOUT_MS);
    CHECK_STR(db_last_error(db), "");
    CHECK_STR(db_sql_for(db, "a", "b"), "a");
    db_close(db);
}

TEST(open_names)
{
    char path[512];
    db_t *db = NULL;

    snprintf(path, sizeof(path), "sqlite:%s/other.db", dir);
    CHECK_INT(db_open(path, NULL, &db, err, sizeof(err)), SV_OK);
    db_close(db);
    db = NULL;
    CHECK_INT(db_open("sqlite::memory:", NULL, &db, err, sizeof(err)), SV_OK);
    if (db)
        CHECK_INT(query_i64(db, "SELECT 40 + 2"), 42);
    db_close(db);
    db = NULL;

    CHECK_INT(db_open("postgres://u@h/db", dir, &db, err, sizeof(err)), SV_UNSUPPORTED);
    CHECK(strstr(err, "PostgreSQL") != NULL);
    CHECK_INT(db_open("postgresql://u@h/db", dir, &db, err, sizeof(err)), SV_UNSUPPORTED);
    CHECK_INT(db_open("mysql://h/db", dir, &db, err, sizeof(err)), SV_BAD_DATA);
    CHECK(strstr(err, "database:") == err);
    CHECK_INT(db_open("sqlite:", dir, &db, err, sizeof(err)), SV_BAD_DATA);
    CHECK_INT(db_open("", "", &db, err, sizeof(err)), SV_BAD_DATA);
    CHECK(strstr(err, "data_dir") != NULL);
    CHECK_INT(db_open("", "/nonexistent/sv/dir", &db, err, sizeof(err)), SV_DB);
    CHECK(strstr(err, "/nonexistent/sv/dir/streamverse.db") != NULL);
    CHECK(db == NULL);
    db_close(NULL);
}

TEST(bind_and_read_every_type)
{
    db_t *db = open_db();
    db_stmt_t *st = NULL;
    static const char nul_text[] = {'a', '\0', 'b'};
    str_t s;

    if (!db)
        return;
    CHECK_INT(db_exec(db, "CREATE TABLE types (id INTEGER PRIMARY KEY, n BIGINT, s TEXT,"
                          " b BLOB, z TEXT)"),
              SV_OK);
    CHECK_INT(
        db_prepare(db, "INSERT INTO types (n, s, b, z) VALUES (?, ?, ?, ?) RETURNING id", &st),
        SV_OK);
    CHECK_INT(db_bind_i64(st, 1, INT64_MIN), SV_OK);
    CHECK_INT(db_bind_text(st, 2, str_make(nul_text, sizeof(nul_text))), SV_OK);
    CHECK_INT(db_bind_blob(st, 3, "\x00\xff", 2), SV_OK);
    CHECK_INT(db_bind_null(st, 4), SV_OK);
    CHECK_INT(db_step(st), DB_ROW);
    CHECK_INT(db_column_i64(st, 0), 1);
    CHECK_INT(db_step(st), SV_OK);
    CHECK_INT(db_reset(st), SV_OK);
    db_bind_i64(st, 1, INT64_MAX);
    db_bind_text(st, 2, STR(""));
    db_bind_blob(st, 3, NULL, 0);
    db_bind_cstr(st, 4, NULL);
    CHECK_INT(db_step(st), DB_ROW);
    CHECK_INT(db_column_i64(st, 0), 2);
    db_finalize(st);
    st = NULL;

    CHECK_INT(db_prepare(db, "SELECT n, s, b, z FROM types ORDER BY id", &st), SV_OK);
    CHECK_INT(db_column_count(st), 4);
    CHECK_INT(db_step(st), DB_ROW);
    CHECK(db_column_i64(st, 0) == INT64_MIN);
    s = db_column_text(st, 1);
    CHECK_INT(s.len, 3);
    CHECK(s.p && memcmp(s.p, nul_text, 3) == 0 && s.p[3] == '\0');
    s = db_column_blob(st, 2);
    CHECK_INT(s.len, 2);
    CHECK(s.p && memcmp(s.p, "\x00\xff", 2) == 0);
    CHECK(db_column_is_null(st, 3));
    CHECK(db_column_text(st, 3).p == NULL);
    CHECK_INT(db_column_i64(st, 3), 0);
    CHECK_INT(db_step(st), DB_ROW);
    CHECK(db_column_i64(st, 0) == INT64_MAX);
    s = db_column_text(st, 1);
    CHECK(s.p != NULL && s.len == 0); /* '' is not NULL */
    CHECK(!db_column_is_null(st, 1));
    CHECK(!db_column_is_null(st, 2)); /* a zero-length blob is not NULL */
    CHECK_INT(db_column_blob(st, 2).len, 0);
    CHECK(db_column_is_null(st, 3));
    CHECK_INT(db_step(st), SV_OK);
    db_finalize(st);
    db_close(db);
}

TEST(statuses_and_messages)
{
    db_t *db = open_db();
    db_stmt_t *st = NULL;

    if (!db)
        return;
    CHECK_INT(insert_kv(db, "a", 1), SV_OK);
    CHECK_INT(db_changes(db), 1);
    CHECK_INT(insert_kv(db, "a", 2), SV_EXISTS);
    CHECK(strstr(db_last_error(db), "UNIQUE") != NULL);
    CHECK_INT(insert_kv(db, "b", -1), SV_DB); /* CHECK constraint */
    CHECK(strstr(db_last_error(db), "CHECK") != NULL);

    CHECK_INT(db_prepare(db, "SELEKT 1", &st), SV_DB);
    CHECK(st == NULL);
    CHECK(strstr(db_last_error(db), "syntax") != NULL);
    CHECK_INT(db_prepare(db, "SELECT 1; SELECT 2", &st), SV_DB);
    CHECK(st == NULL);
    CHECK_INT(db_prepare(db, "SELECT 1;  ", &st), SV_OK);
    db_finalize(st);
    st = NULL;
    CHECK_INT(db_exec(db, "NOT SQL"), SV_DB);

    /* A bad bind is reported by the step. */
    CHECK_INT(db_prepare(db, "SELECT ?", &st), SV_OK);
    CHECK(db_bind_i64(st, 5, 1) != SV_OK);
    CHECK_INT(db_bind_i64(st, 1, 1), SV_OK);
    CHECK_INT(db_step(st), SV_DB);
    CHECK_INT(db_reset(st), SV_OK); /* clears the remembered failure and the bindings */
    CHECK_INT(db_step(st), DB_ROW);
    CHECK(db_column_is_null(st, 0));
    db_finalize(st);
    db_close(db);
}

TEST(transactions)
{
    db_t *db = open_db();

    if (!db)
        return;
    CHECK(!db_in_tx(db));
    CHECK_INT(db_tx_rollback(db), SV_OK); /* harmless without a transaction */
    CHECK_INT(db_tx_commit(db), SV_CONFLICT);

    CHECK_INT(db_tx_begin(db), SV_OK);
    CHECK(db_in_tx(db));
    CHECK_INT(db_tx_begin(db), SV_CONFLICT);
    CHECK_INT(insert_kv(db, "tx-rolled-back", 1), SV_OK);
    CHECK_INT(db_tx_rollback(db), SV_OK);
    CHECK(!db_in_tx(db));
    CHECK_INT(query_i64(db, "SELECT COUNT(*) FROM kv WHERE k = 'tx-rolled-back'"), 0);

    CHECK_INT(db_tx_begin(db), SV_OK);
    CHECK_INT(insert_kv(db, "tx-committed", 1), SV_OK);
    CHECK_INT(db_tx_commit(db), SV_OK);
    CHECK_INT(query_i64(db, "SELECT COUNT(*) FROM kv WHERE k = 'tx-committed'"), 1);

    /* db_close rolls back what is left open. */
    CHECK_INT(db_tx_begin(db), SV_OK);
    CHECK_INT(insert_kv(db, "tx-left-open", 1), SV_OK);
    db_close(db);
    db = open_db();
    if (db)
        CHECK_INT(query_i64(db, "SELECT COUNT(*) FROM kv WHERE k = 'tx-left-open'"), 0);
    db_close(db);
}

TEST(lock_wait_ends_in_busy)
{
    db_t *a = open_db(), *b = open_db();

    if (!a || !b)
        goto out;
    CHECK_INT(db_set_busy_timeout(b, 50), SV_OK);
    CHECK_INT(db_tx_begin(a), SV_OK);
    CHECK_INT(db_tx_begin(b), SV_BUSY);
    CHECK(!db_in_tx(b));
    CHECK_INT(insert_kv(b, "busy", 1), SV_BUSY); /* an autocommit write waits too */
    /* Readers are not blocked by a writer in WAL mode. */
    CHECK(query_i64(b, "SELECT COUNT(*) FROM kv") >= 0);
    CHECK_INT(db_tx_commit(a), SV_OK);
    CHECK_INT(db_tx_begin(b), SV_OK);
    CHECK_INT(db_tx_commit(b), SV_OK);
out:
    db_close(a);
    db_close(b);
}

/* The fault-injection contract itself: countdown, rc, disarming. */
TEST(fault_injection_counts_calls)
{
    db_t *db = open_db();

    if (!db)
        return;
    CHECK(!db_fault_pending());
    db_fault_inject(2, SV_BUSY);
    CHECK(db_fault_pending());
    CHECK_INT(query_i64(db, "SELECT 7"), 7); /* prepare + step: 2 calls pass */
    CHECK(db_fault_pending());
    CHECK_INT(db_exec(db, "SELECT 1"), SV_BUSY); /* the third fails */
    CHECK(strstr(db_last_error(db), "injected fault in db_exec") != NULL);
    CHECK(!db_fault_pending());
    CHECK_INT(db_exec(db, "SELECT 1"), SV_OK); /* disarmed */
    db_fault_inject(0, SV_DB);
    db_fault_inject(-1, SV_DB); /* disarm before it fires */
    CHECK(!db_fault_pending());
    CHECK_INT(db_exec(db, "SELECT 1"), SV_OK);
    db_close(db);
}

TEST(failed_step_inside_transaction_leaves_database_unchanged)
{
    db_t *db = open_db();
    int64_t before;

    if (!db)
        return;
    before = query_i64(db, "SELECT COUNT(*) FROM kv");
    CHECK_INT(db_tx_begin(db), SV_OK);
    CHECK_INT(insert_kv(db, "fault-1", 1), SV_OK);
    db_fault_inject(1, SV_DB); /* the prepare of the next insert passes, its step fails */
    CHECK_INT(insert_kv(db, "fault-2", 2), SV_DB);
    CHECK_INT(db_tx_rollback(db), SV_OK);
    CHECK_INT(query_i64(db, "SELECT COUNT(*) FROM kv"), before);
    CHECK_INT(query_i64(db, "SELECT COUNT(*) FROM kv WHERE k LIKE 'fault-%'"), 0);

    /* A failed commit, rolled back as the contract says, changes nothing either. */
    CHECK_INT(db_tx_begin(db), SV_OK);
    CHECK_INT(insert_kv(db, "fault-3", 3), SV_OK);
    db_fault_inject(0, SV_BUSY);
    CHECK_INT(db_tx_commit(db), SV_BUSY);
    CHECK(db_in_tx(db));
    CHECK_INT(db_tx_rollback(db), SV_OK);
    CHECK_INT(query_i64(db, "SELECT COUNT(*) FROM kv"), before);
    db_close(db);
}

/* Moves amount from one account to the other in a transaction. */
static int
transfer(db_t *db, int64_t amount)
{
    static const char *const sql[] = {
        "UPDATE accounts SET balance = balance - ? WHERE name = 'alice'",
        "UPDATE accounts SET balance = balance + ? WHERE name = 'bob'",
    };
    db_stmt_t *st = NULL;
    int rc = db_tx_begin(db);

    for (size_t i = 0; rc == SV_OK && i < 2; i++) {
        rc = db_prepare(db, sql[i], &st);
        if (rc == SV_OK) {
            db_bind_i64(st, 1, amount);
            rc = db_step(st);
        }
        db_finalize(st);
        st = NULL;
    }
    if (rc == SV_OK)
        rc = db_tx_commit(db);
    if (rc != SV_OK)
        db_tx_rollback(db);
    return rc;
}

/* Every counted call of a transaction, failed in turn: all or nothing each time. */
TEST(transfer_is_atomic_under_every_fault)
{
    db_t *db = open_db();
    int n, failures = 0;

    if (!db)
        return;
    CHECK_INT(db_exec(db, "CREATE TABLE accounts (name TEXT PRIMARY KEY, balance BIGINT);"
                          "INSERT INTO accounts VALUES ('alice', 100), ('bob', 0)"),
              SV_OK);
    for (n = 0; n < 50; n++) {
        int64_t alice0 = query_i64(db, "SELECT balance FROM accounts WHERE name = 'alice'");
        db_fault_inject(n, SV_DB);
        int rc = transfer(db, 10);
        bool fired = !db_fault_pending();
        db_fault_inject(-1, SV_DB);
        int64_t alice = query_i64(db, "SELECT balance FROM accounts WHERE name = 'alice'");
        int64_t bob = query_i64(db, "SELECT balance FROM accounts WHERE name = 'bob'");
        CHECK_INT(alice + bob, 100);
        if (rc == SV_OK) {
            CHECK_INT(alice, alice0 - 10);
        } else {
            CHECK(fired);
            CHECK_INT(alice, alice0);
            failures++;
        }
        CHECK(!db_in_tx(db));
        if (!fired)
            break; /* the transaction has fewer calls than n: every one was tried */
    }
    CHECK_INT(failures, 6); /* begin, 2 x (prepare, step), commit */
    db_close(db);
}

#define WRITER_THREADS 4
#define WRITER_ROUNDS 50

static int writer_failures;
static pthread_mutex_t writer_mu = PTHREAD_MUTEX_INITIALIZER;

/* Read-modify-write in a write transaction: lost updates would show in the total. */
static void *
writer_main(void *arg)
{
    db_t *db = open_db();
    int bad = 0;

    (void)arg;
    for (int i = 0; db && i < WRITER_ROUNDS; i++) {
        db_stmt_t *st = NULL;
        int64_t v = -1;
        int rc = db_tx_begin(db);
        if (rc == SV_OK)
            rc = db_prepare(db, "SELECT v FROM counter WHERE id = 1", &st);
        if (rc == SV_OK && (rc = db_step(st)) == DB_ROW) {
            v = db_column_i64(st, 0);
            rc = SV_OK;
        }
        db_finalize(st);
        st = NULL;
        if (rc == SV_OK)
            rc = db_prepare(db, "UPDATE counter SET v = ? WHERE id = 1", &st);
        if (rc == SV_OK) {
            db_bind_i64(st, 1, v + 1);
            rc = db_step(st);
        }
        db_finalize(st);
        if (rc == SV_OK)
            rc = db_tx_commit(db);
        if (rc != SV_OK) {
            db_tx_rollback(db);
            bad++;
        }
    }
    if (!db)
        bad = WRITER_ROUNDS;
    db_close(db);
    pthread_mutex_lock(&writer_mu);
    writer_failures += bad;
    pthread_mutex_unlock(&writer_mu);
    return NULL;
}

TEST(concurrent_writers_serialise_without_busy)
{
    pthread_t t[WRITER_THREADS];
    db_t *db = open_db();

    if (!db)
        return;
    CHECK_INT(db_exec(db, "CREATE TABLE counter (id INTEGER PRIMARY KEY, v BIGINT);"
                          "INSERT INTO counter VALUES (1, 0)"),
              SV_OK);
    for (int i = 0; i < WRITER_THREADS; i++)
        pthread_create(&t[i], NULL, writer_main, NULL);
    for (int i = 0; i < WRITER_THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_INT(writer_failures, 0);
    CHECK_INT(query_i64(db, "SELECT v FROM counter WHERE id = 1"),
              WRITER_THREADS * WRITER_ROUNDS);
    db_close(db);
}

int
main(void)
{
    dir = tmpdir_make("db");
    if (dir == NULL) {
        printf("not ok 1 - mkdtemp\n1..1\n");
        return 1;
    }
    RUN(open_default_sqlite_file_with_pragmas);
    RUN(open_names);
    RUN(bind_and_read_every_type);
    RUN(statuses_and_messages);
    RUN(transactions);
    RUN(lock_wait_ends_in_busy);
    RUN(fault_injection_counts_calls);
    RUN(failed_step_inside_transaction_leaves_database_unchanged);
    RUN(transfer_is_atomic_under_every_fault);
    RUN(concurrent_writers_serialise_without_busy);
    tmpdir_remove();
    return test_done();
}
