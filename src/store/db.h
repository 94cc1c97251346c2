/*
 * db.h: the one database interface of StreamVerse.
 *
 * SQLite implements it today; PostgreSQL (libpq) will implement it behind the
 * same functions and the same tests. Only src/store/db.c includes sqlite3.h
 * (and later libpq-fe.h); everything above talks to db_t.
 *
 * Portable SQL. Callers write SQL that both SQLite >= 3.40 and PostgreSQL 15
 * accept: INTEGER/BIGINT, TEXT, RETURNING, ON CONFLICT ... DO ..., CASE,
 * COALESCE, partial and expression indexes, LIMIT. Placeholders are plain `?`
 * (never ?NNN, :name or $n); a PostgreSQL backend rewrites them to $1..$n.
 * Booleans are stored as INTEGER 0/1, times as UTC epoch milliseconds, money
 * as integer minor units. Where the dialects truly differ (DDL for generated
 * keys, FOR UPDATE SKIP LOCKED), the caller picks its string by db_dialect().
 *
 * Threads. A db_t is one connection and belongs to one thread at a time: open
 * one per thread (the job runner does), never share one between threads that
 * run concurrently. A db_t may be handed to another thread when the first has
 * stopped using it. Statements belong to their db_t and follow the same rule.
 *
 * Status. Every call returns SV_OK (0) or a negative SV_* status; db_step
 * also returns DB_ROW (positive) when a row is ready. Database errors map to:
 * SV_BUSY (a lock was not obtained within the busy timeout), SV_EXISTS (a
 * UNIQUE or PRIMARY KEY constraint), SV_DB (anything else, including other
 * constraints). The message of the last failure is in db_last_error().
 */
#ifndef SV_DB_H
#define SV_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/str.h"

typedef struct db db_t;
typedef struct db_stmt db_stmt_t;

typedef enum {
    DB_SQLITE = 1,
    DB_POSTGRES = 2,
} db_dialect_t;

/* db_step: a row is ready to be read with the db_column_* getters. */
#define DB_ROW 1

/* Default time a statement waits for a lock before failing with SV_BUSY. */
#define DB_BUSY_TIMEOUT_MS 5000

/*
 * Opens a connection.
 *   database ""                  SQLite file <data_dir>/streamverse.db
 *   database "sqlite:PATH"       SQLite file PATH (":memory:" is private to the connection)
 *   database "postgres://..."    SV_UNSUPPORTED for now (the PostgreSQL backend
 *   or "postgresql://..."        slots in behind the same interface)
 * The directory must exist; the file is created if missing. SQLite
 * connections run in WAL mode (":memory:" keeps its memory journal) with
 * foreign_keys=ON, synchronous=NORMAL and a busy timeout of DB_BUSY_TIMEOUT_MS.
 * On success *out owns the connection (db_close it); otherwise a message is
 * in err and SV_BAD_DATA (bad name), SV_TOO_BIG (path too long),
 * SV_UNSUPPORTED, SV_NO_MEMORY or SV_DB is returned. Thread-safe.
 */
int db_open(const char *database, const char *data_dir, db_t **out, char *err, size_t errlen);

/* Closes the connection, rolling back an open transaction. Every statement
 * must have been finalized first. NULL is accepted. */
void db_close(db_t *db);

db_dialect_t db_dialect(const db_t *db);

/* "sqlite" or "postgres". */
const char *db_dialect_name(const db_t *db);

/* Picks the SQL for this connection's dialect (for the few places they differ). */
static inline const char *
db_sql_for(const db_t *db, const char *sqlite_sql, const char *pg_sql)
{
    return db_dialect(db) == DB_POSTGRES ? pg_sql : sqlite_sql;
}

/* Lock wait before SV_BUSY, in milliseconds (>= 0). SV_OK or SV_DB. */
int db_set_busy_timeout(db_t *db, int ms);

/*
 * Runs SQL without parameters and without result rows; it may hold several
 * statements separated by ';' (migrations use that). SV_OK or an error.
 */
int db_exec(db_t *db, const char *sql);

/*
 * Compiles one statement. On success *out owns it until db_finalize().
 * SV_DB for SQL the database rejects (message in db_last_error), SV_NO_MEMORY.
 */
int db_prepare(db_t *db, const char *sql, db_stmt_t **out);

/*
 * Binding, idx from 1 in placeholder order. Text and blob bytes are copied,
 * so they need not outlive the call. A bind that fails (bad index, no memory)
 * is also remembered by the statement and returned by the next db_step, so a
 * caller may bind several values and check once at the step.
 */
int db_bind_i64(db_stmt_t *st, int idx, int64_t v);
/* s.p == NULL binds NULL; an empty non-NULL string binds ''. */
int db_bind_text(db_stmt_t *st, int idx, str_t s);
/* NULL binds NULL. */
int db_bind_cstr(db_stmt_t *st, int idx, const char *s);
int db_bind_null(db_stmt_t *st, int idx);
int db_bind_blob(db_stmt_t *st, int idx, const void *p, size_t n);

/*
 * Runs the statement to its next row: DB_ROW when a row is ready, SV_OK when
 * it has finished, a negative status on failure (then db_reset or finalize it).
 * For INSERT/UPDATE/DELETE ... RETURNING every change is made by the first step.
 */
int db_step(db_stmt_t *st);

/*
 * Column getters for the current row, col from 0. Values are converted as the
 * database does (NULL reads as 0 / STR_NULL). Text and blob bytes stay valid
 * until the next db_step, db_reset or db_finalize of this statement; text is
 * NUL-terminated and has p != NULL unless the value is NULL.
 */
int db_column_count(db_stmt_t *st);
int64_t db_column_i64(db_stmt_t *st, int col);
str_t db_column_text(db_stmt_t *st, int col);
str_t db_column_blob(db_stmt_t *st, int col);
bool db_column_is_null(db_stmt_t *st, int col);

/* Makes the statement ready to run again and clears its bindings (to NULL). */
int db_reset(db_stmt_t *st);

/* Frees the statement. NULL is accepted. */
void db_finalize(db_stmt_t *st);

/*
 * Transactions. db_tx_begin starts a write transaction: BEGIN IMMEDIATE on
 * SQLite, so writers queue for the lock (up to the busy timeout) at BEGIN
 * instead of deadlocking when a reader upgrades; BEGIN on PostgreSQL.
 * Nesting is refused with SV_CONFLICT. After any failure inside the
 * transaction, including a failed db_tx_commit, call db_tx_rollback.
 * db_tx_rollback is harmless when no transaction is open (returns SV_OK).
 */
int db_tx_begin(db_t *db);
int db_tx_commit(db_t *db);
int db_tx_rollback(db_t *db);
bool db_in_tx(db_t *db);

/* Rows changed by the last INSERT, UPDATE or DELETE that finished. */
int64_t db_changes(db_t *db);

/* Message of the last failure on this connection ("" if none). Valid until
 * the next call on db. */
const char *db_last_error(const db_t *db);

/*
 * Fault injection for tests (STYLE rule 18), compiled in every build.
 * After after_n more counted calls succeed, the next one fails with rc
 * (a negative SV_* status, e.g. SV_DB or SV_BUSY) without reaching the
 * database; then injection disarms itself. Counted calls are db_exec,
 * db_prepare, db_step, db_tx_begin and db_tx_commit, on any connection and
 * any thread (db_tx_rollback, db_close, binds and getters never fail by
 * injection, so cleanup paths stay reliable). after_n < 0 disarms.
 * Costs one relaxed atomic load per counted call when disarmed.
 */
void db_fault_inject(int after_n, int rc);
/* true while an armed fault has not fired yet. */
bool db_fault_pending(void);

#endif
