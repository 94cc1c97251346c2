/*
 * db.c: the database interface and its SQLite backend.
 *
 * Every public call dispatches through a db_backend_t, so a PostgreSQL
 * backend (libpq: PQprepare with $n placeholders rewritten from `?`,
 * PQexecPrepared, SQLSTATE 23505 -> SV_EXISTS, 40P01/55P03 -> SV_BUSY) slots
 * in as a second table without any caller changing. db_open picks the table
 * from the database name.
 */
#include "store/db.h"
#include "base/log.h"
#include "base/status.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_ERR_MAX 512

/* One backend: how a dialect does each operation. conn and handle are the
 * backend's own objects (sqlite3 * and sqlite3_stmt * here). */
typedef struct db_backend {
    db_dialect_t dialect;
    const char *name;
    int (*open)(db_t *db, const char *target, char *err, size_t errlen);
    void (*close)(db_t *db);
    int (*set_busy_timeout)(db_t *db, int ms);
    int (*exec)(db_t *db, const char *sql);
    int (*prepare)(db_t *db, const char *sql, db_stmt_t *st);
    int (*bind_i64)(db_stmt_t *st, int idx, int64_t v);
    int (*bind_text)(db_stmt_t *st, int idx, const char *p, size_t n);
    int (*bind_blob)(db_stmt_t *st, int idx, const void *p, size_t n);
    int (*bind_null)(db_stmt_t *st, int idx);
    int (*step)(db_stmt_t *st);
    int (*column_count)(db_stmt_t *st);
    int64_t (*column_i64)(db_stmt_t *st, int col);
    str_t (*column_text)(db_stmt_t *st, int col);
    str_t (*column_blob)(db_stmt_t *st, int col);
    bool (*column_is_null)(db_stmt_t *st, int col);
    int (*reset)(db_stmt_t *st);
    void (*finalize)(db_stmt_t *st);
    bool (*in_tx)(db_t *db);
    int64_t (*changes)(db_t *db);
    const char *sql_begin; /* write transaction */
} db_backend_t;

struct db {
    const db_backend_t *be;
    void *conn;
    int open_stmts; /* statements not finalized yet; must be 0 at db_close */
    char err[DB_ERR_MAX];
};

struct db_stmt {
    db_t *db;
    void *handle;
    int bind_rc; /* first failed bind, reported by the next db_step */
};

/* ---- fault injection ---------------------------------------------------- */

/* Counted calls left before the fault fires; -1 when disarmed. */
static _Atomic int db_fault_countdown = -1;
static _Atomic int db_fault_rc = SV_DB;

void
db_fault_inject(int after_n, int rc)
{
    atomic_store(&db_fault_rc, rc < 0 ? rc : SV_DB);
    atomic_store(&db_fault_countdown, after_n < 0 ? -1 : after_n);
}

bool
db_fault_pending(void)
{
    return atomic_load(&db_fault_countdown) >= 0;
}

/* Called at the top of every counted call: SV_OK, or the injected status. */
static int
db_fault_check(db_t *db, const char *what)
{
    int n = atomic_load_explicit(&db_fault_countdown, memory_order_relaxed);

    while (n >= 0) {
        /* n == 0: this call fails and disarms; n > 0: count it down. */
        int next = n == 0 ? -1 : n - 1;
        if (atomic_compare_exchange_weak(&db_fault_countdown, &n, next)) {
            if (n != 0)
                return SV_OK;
            int rc = atomic_load(&db_fault_rc);
            if (db)
                snprintf(db->err, sizeof(db->err), "injected fault in %s: %s", what,
                         status_text(rc));
            return rc;
        }
    }
    return SV_OK;
}

/* ---- helpers -------------------------------------------------------------- */

static void db_set_err(db_t *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
db_set_err(db_t *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->err, sizeof(db->err), fmt, ap);
    va_end(ap);
}

static void
db_err_copy(char *err, size_t errlen, const char *msg)
{
    if (err && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

/* ---- SQLite backend ------------------------------------------------------- */

#define DB_SQLITE_CONN(db) ((sqlite3 *)(db)->conn)
#define DB_SQLITE_STMT(st) ((sqlite3_stmt *)(st)->handle)

/* Maps a SQLite result code to a status, recording the message on failure. */
static int
db_sqlite_status(db_t *db, int src)
{
    switch (src & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
        return SV_OK;
    case SQLITE_ROW:
        return DB_ROW;
    default:
        break;
    }
    db_set_err(db, "%s", sqlite3_errmsg(DB_SQLITE_CONN(db)));
    switch (src) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return SV_EXISTS;
    case SQLITE_NOMEM:
        return SV_NO_MEMORY;
    default:
        break;
    }
    switch (src & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return SV_BUSY;
    case SQLITE_NOMEM:
        return SV_NO_MEMORY;
    default:
        return SV_DB;
    }
}

/* Runs a PRAGMA that returns one row and checks its text value, if expect != NULL. */
static int
db_sqlite_pragma(db_t *db, const char *sql, const char *expect)
{
    sqlite3_stmt *st = NULL;
    int rc = SV_DB, src;

    src = sqlite3_prepare_v2(DB_SQLITE_CONN(db), sql, -1, &st, NULL);
    if (src != SQLITE_OK) {
        rc = db_sqlite_status(db, src);
        goto out;
    }
    src = sqlite3_step(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = db_sqlite_status(db, src);
        goto out;
    }
    if (expect) {
        const char *got = src == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        if (got == NULL || strcmp(got, expect) != 0) {
            db_set_err(db, "%s: got %s, expected %s", sql, got ? got : "no row", expect);
            rc = SV_DB;
            goto out;
        }
    }
    rc = SV_OK;
out:
    sqlite3_finalize(st);
    return rc;
}

static int
db_sqlite_open(db_t *db, const char *path, char *err, size_t errlen)
{
    sqlite3 *conn = NULL;
    int rc = SV_DB, src;
    bool memory = strcmp(path, ":memory:") == 0;

    if (sqlite3_threadsafe() == 0) {
        snprintf(err, errlen, "SQLite was built without thread support");
        goto out;
    }
    /* NOMUTEX: a connection is used by one thread at a time (see db.h), so
     * SQLite's per-connection mutex would only cost. No URI interpretation:
     * the path is a file name. */
    src = sqlite3_open_v2(
        path, &conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", path,
                 conn ? sqlite3_errmsg(conn) : sqlite3_errstr(src));
        rc = src == SQLITE_NOMEM ? SV_NO_MEMORY : SV_DB;
        goto out;
    }
    db->conn = conn;
    sqlite3_extended_result_codes(conn, 1);
    /* The busy timeout first: switching to WAL takes a lock that another
     * process opening the same file at the same moment may hold. */
    sqlite3_busy_timeout(conn, DB_BUSY_TIMEOUT_MS);
    if ((rc = db_sqlite_pragma(db, "PRAGMA journal_mode=WAL", memory ? "memory" : "wal")) !=
            SV_OK ||
        (rc = db_sqlite_pragma(db, "PRAGMA foreign_keys=ON", NULL)) != SV_OK ||
        (rc = db_sqlite_pragma(db, "PRAGMA synchronous=NORMAL", NULL)) != SV_OK) {
        snprintf(err, errlen, "cannot set up database %s: %s", path, db->err);
        goto out;
    }
    conn = NULL; /* owned by db now */
    rc = SV_OK;
out:
    if (conn) {
        sqlite3_close(conn);
        db->conn = NULL;
    }
    return rc;
}

static void
db_sqlite_close(db_t *db)
{
    /* close_v2 so that a forgotten statement cannot make close fail; the
     * count check in db_close reports the bug. */
    sqlite3_close_v2(DB_SQLITE_CONN(db));
    db->conn = NULL;
}

static int
db_sqlite_set_busy_timeout(db_t *db, int ms)
{
    return db_sqlite_status(db, sqlite3_busy_timeout(DB_SQLITE_CONN(db), ms));
}

static int
db_sqlite_exec(db_t *db, const char *sql)
{
    return db_sqlite_status(db, sqlite3_exec(DB_SQLITE_CONN(db), sql, NULL, NULL, NULL));
}

static int
db_sqlite_prepare(db_t *db, const char *sql, db_stmt_t *st)
{
    sqlite3_stmt *h = NULL;
    const char *tail = NULL;
    int src;

    src = sqlite3_prepare_v2(DB_SQLITE_CONN(db), sql, -1, &h, &tail);
    if (src != SQLITE_OK)
        return db_sqlite_status(db, src);
    if (h == NULL) {
        db_set_err(db, "empty statement");
        return SV_DB;
    }
    while (tail && (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == ';'))
        tail++;
    if (tail && *tail != '\0') {
        /* A second statement would be silently ignored: refuse it. */
        sqlite3_finalize(h);
        db_set_err(db, "db_prepare takes one statement; found more after: %.40s", tail);
        return SV_DB;
    }
    st->handle = h;
    return SV_OK;
}

static int
db_sqlite_bind_i64(db_stmt_t *st, int idx, int64_t v)
{
    return db_sqlite_status(st->db, sqlite3_bind_int64(DB_SQLITE_STMT(st), idx, v));
}

static int
db_sqlite_bind_text(db_stmt_t *st, int idx, const char *p, size_t n)
{
    return db_sqlite_status(st->db, sqlite3_bind_text64(DB_SQLITE_STMT(st), idx, p, n,
                                                        SQLITE_TRANSIENT, SQLITE_UTF8));
}

static int
db_sqlite_bind_blob(db_stmt_t *st, int idx, const void *p, size_t n)
{
    /* A zero-length blob with p == NULL would bind NULL: use a valid pointer. */
    static const char empty[1];
    return db_sqlite_status(st->db, sqlite3_bind_blob64(DB_SQLITE_STMT(st), idx, p ? p : empty,
                                                        n, SQLITE_TRANSIENT));
}

static int
db_sqlite_bind_null(db_stmt_t *st, int idx)
{
    return db_sqlite_status(st->db, sqlite3_bind_null(DB_SQLITE_STMT(st), idx));
}

static int
db_sqlite_step(db_stmt_t *st)
{
    return db_sqlite_status(st->db, sqlite3_step(DB_SQLITE_STMT(st)));
}

static int
db_sqlite_column_count(db_stmt_t *st)
{
    return sqlite3_column_count(DB_SQLITE_STMT(st));
}

static int64_t
db_sqlite_column_i64(db_stmt_t *st, int col)
{
    return sqlite3_column_int64(DB_SQLITE_STMT(st), col);
}

static str_t
db_sqlite_column_text(db_stmt_t *st, int col)
{
    const unsigned char *p = sqlite3_column_text(DB_SQLITE_STMT(st), col);
    if (p == NULL)
        return STR_NULL;
    return str_make((const char *)p, (size_t)sqlite3_column_bytes(DB_SQLITE_STMT(st), col));
}

static str_t
db_sqlite_column_blob(db_stmt_t *st, int col)
{
    const void *p = sqlite3_column_blob(DB_SQLITE_STMT(st), col);
    size_t n = (size_t)sqlite3_column_bytes(DB_SQLITE_STMT(st), col);
    if (p == NULL)
        return n == 0 && !db_column_is_null(st, col) ? STR("") : STR_NULL;
    return str_make(p, n);
}

static bool
db_sqlite_column_is_null(db_stmt_t *st, int col)
{
    return sqlite3_column_type(DB_SQLITE_STMT(st), col) == SQLITE_NULL;
}

static int
db_sqlite_reset(db_stmt_t *st)
{
    /* sqlite3_reset repeats the last step's error; the reset itself has worked. */
    sqlite3_reset(DB_SQLITE_STMT(st));
    return db_sqlite_status(st->db, sqlite3_clear_bindings(DB_SQLITE_STMT(st)));
}

static void
db_sqlite_finalize(db_stmt_t *st)
{
    sqlite3_finalize(DB_SQLITE_STMT(st));
}

static bool
db_sqlite_in_tx(db_t *db)
{
    return sqlite3_get_autocommit(DB_SQLITE_CONN(db)) == 0;
}

static int64_t
db_sqlite_changes(db_t *db)
{
    return sqlite3_changes64(DB_SQLITE_CONN(db));
}

static const db_backend_t db_sqlite_backend = {
    .dialect = DB_SQLITE,
    .name = "sqlite",
    .open = db_sqlite_open,
    .close = db_sqlite_close,
    .set_busy_timeout = db_sqlite_set_busy_timeout,
    .exec = db_sqlite_exec,
    .prepare = db_sqlite_prepare,
    .bind_i64 = db_sqlite_bind_i64,
    .bind_text = db_sqlite_bind_text,
    .bind_blob = db_sqlite_bind_blob,
    .bind_null = db_sqlite_bind_null,
    .step = db_sqlite_step,
    .column_count = db_sqlite_column_count,
    .column_i64 = db_sqlite_column_i64,
    .column_text = db_sqlite_column_text,
    .column_blob = db_sqlite_column_blob,
    .column_is_null = db_sqlite_column_is_null,
    .reset = db_sqlite_reset,
    .finalize = db_sqlite_finalize,
    .in_tx = db_sqlite_in_tx,
    .changes = db_sqlite_changes,
    .sql_begin = "BEGIN IMMEDIATE",
};

/* ---- the interface -------------------------------------------------------- */

int
db_open(const char *database, const char *data_dir, db_t **out, char *err, size_t errlen)
{
    char path[4096];
    const db_backend_t *be = NULL;
    const char *target = NULL;
    db_t *db = NULL;
    int rc = SV_BAD_DATA, n;
    str_t name = str_from_cstr(database ? database : "");

    if (err && errlen > 0)
        err[0] = '\0';
    if (name.len == 0) {
        if (data_dir == NULL || data_dir[0] == '\0') {
            db_err_copy(err, errlen, "database: empty, and data_dir is not set");
            goto out;
        }
        n = snprintf(path, sizeof(path), "%s/streamverse.db", data_dir);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            db_err_copy(err, errlen, "data_dir: path too long");
            rc = SV_TOO_BIG;
            goto out;
        }
        be = &db_sqlite_backend;
        target = path;
    } else if (str_has_prefix(name, "sqlite:")) {
        target = database + strlen("sqlite:");
        if (target[0] == '\0') {
            db_err_copy(err, errlen, "database: \"sqlite:\" needs a file path");
            goto out;
        }
        be = &db_sqlite_backend;
    } else if (str_has_prefix(name, "postgres://") || str_has_prefix(name, "postgresql://")) {
        db_err_copy(err, errlen,
                    "database: PostgreSQL is not supported by this build yet; "
                    "use \"\" or \"sqlite:PATH\"");
        rc = SV_UNSUPPORTED;
        goto out;
    } else {
        db_err_copy(err, errlen,
                    "database: expected \"\", \"sqlite:PATH\" or \"postgres://...\"");
        goto out;
    }

    db = calloc(1, sizeof(*db));
    if (db == NULL) {
        db_err_copy(err, errlen, "out of memory");
        rc = SV_NO_MEMORY;
        goto out;
    }
    db->be = be;
    rc = be->open(db, target, err, errlen);
    if (rc != SV_OK)
        goto out;
    *out = db;
    db = NULL;
    rc = SV_OK;
out:
    free(db);
    return rc;
}

void
db_close(db_t *db)
{
    if (db == NULL)
        return;
    if (db->conn) {
        if (db->open_stmts != 0) {
            /* A caller bug; the backend still releases the connection when
             * the statements are finalized. */
            log_error("db", "db_close: %d statement(s) not finalized", db->open_stmts);
        }
        if (db->be->in_tx(db))
            db->be->exec(db, "ROLLBACK");
        db->be->close(db);
    }
    free(db);
}

db_dialect_t
db_dialect(const db_t *db)
{
    return db->be->dialect;
}

const char *
db_dialect_name(const db_t *db)
{
    return db->be->name;
}

int
db_set_busy_timeout(db_t *db, int ms)
{
    if (ms < 0)
        ms = 0;
    return db->be->set_busy_timeout(db, ms);
}

int
db_exec(db_t *db, const char *sql)
{
    int rc = db_fault_check(db, "db_exec");
    if (rc != SV_OK)
        return rc;
    return db->be->exec(db, sql);
}

int
db_prepare(db_t *db, const char *sql, db_stmt_t **out)
{
    db_stmt_t *st = NULL;
    int rc;

    rc = db_fault_check(db, "db_prepare");
    if (rc != SV_OK)
        goto out;
    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        db_set_err(db, "out of memory");
        rc = SV_NO_MEMORY;
        goto out;
    }
    st->db = db;
    rc = db->be->prepare(db, sql, st);
    if (rc != SV_OK)
        goto out;
    db->open_stmts++;
    *out = st;
    st = NULL;
out:
    free(st);
    return rc;
}

/* Remembers the first failed bind for the next db_step. */
static int
db_bind_result(db_stmt_t *st, int rc)
{
    if (rc != SV_OK && st->bind_rc == SV_OK)
        st->bind_rc = rc;
    return rc;
}

int
db_bind_i64(db_stmt_t *st, int idx, int64_t v)
{
    return db_bind_result(st, st->db->be->bind_i64(st, idx, v));
}

int
db_bind_text(db_stmt_t *st, int idx, str_t s)
{
    if (s.p == NULL)
        return db_bind_null(st, idx);
    return db_bind_result(st, st->db->be->bind_text(st, idx, s.p, s.len));
}

int
db_bind_cstr(db_stmt_t *st, int idx, const char *s)
{
    return db_bind_text(st, idx, str_from_cstr(s));
}

int
db_bind_null(db_stmt_t *st, int idx)
{
    return db_bind_result(st, st->db->be->bind_null(st, idx));
}

int
db_bind_blob(db_stmt_t *st, int idx, const void *p, size_t n)
{
    return db_bind_result(st, st->db->be->bind_blob(st, idx, p, n));
}

int
db_step(db_stmt_t *st)
{
    int rc;

    if (st->bind_rc != SV_OK)
        return st->bind_rc;
    rc = db_fault_check(st->db, "db_step");
    if (rc != SV_OK)
        return rc;
    return st->db->be->step(st);
}

int
db_column_count(db_stmt_t *st)
{
    return st->db->be->column_count(st);
}

int64_t
db_column_i64(db_stmt_t *st, int col)
{
    return st->db->be->column_i64(st, col);
}

str_t
db_column_text(db_stmt_t *st, int col)
{
    return st->db->be->column_text(st, col);
}

str_t
db_column_blob(db_stmt_t *st, int col)
{
    return st->db->be->column_blob(st, col);
}

bool
db_column_is_null(db_stmt_t *st, int col)
{
    return st->db->be->column_is_null(st, col);
}

int
db_reset(db_stmt_t *st)
{
    st->bind_rc = SV_OK;
    return st->db->be->reset(st);
}

void
db_finalize(db_stmt_t *st)
{
    if (st == NULL)
        return;
    st->db->be->finalize(st);
    st->db->open_stmts--;
    free(st);
}

int
db_tx_begin(db_t *db)
{
    int rc = db_fault_check(db, "db_tx_begin");
    if (rc != SV_OK)
        return rc;
    if (db->be->in_tx(db)) {
        db_set_err(db, "a transaction is already open (nesting is not supported)");
        return SV_CONFLICT;
    }
    return db->be->exec(db, db->be->sql_begin);
}

int
db_tx_commit(db_t *db)
{
    int rc = db_fault_check(db, "db_tx_commit");
    if (rc != SV_OK)
        return rc;
    if (!db->be->in_tx(db)) {
        db_set_err(db, "commit without a transaction");
        return SV_CONFLICT;
    }
    return db->be->exec(db, "COMMIT");
}

int
db_tx_rollback(db_t *db)
{
    if (!db->be->in_tx(db))
        return SV_OK;
    return db->be->exec(db, "ROLLBACK");
}

bool
db_in_tx(db_t *db)
{
    return db->be->in_tx(db);
}

int64_t
db_changes(db_t *db)
{
    return db->be->changes(db);
}

const char *
db_last_error(const db_t *db)
{
    return db->err;
}
