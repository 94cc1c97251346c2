/*
 * migrate.h: versioned schema migrations.
 *
 * The schema is an ordered list of migrations compiled into the binary, each
 * {version, name, SQL for SQLite, SQL for PostgreSQL}. Applied versions are
 * recorded in the table schema_migrations (version, name, applied_at_ms).
 * Migrations are append-only: a released migration is never edited; a change
 * is a new migration with the next version.
 */
#ifndef SV_MIGRATE_H
#define SV_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

#define MIGRATE_NAME_MAX 64

/* One line of migrate_status(). */
typedef struct {
    int version;
    char name[MIGRATE_NAME_MAX];
    bool applied;
    /* false for a version applied by a newer StreamVerse that this binary
     * does not know (then migrate_apply refuses to run). */
    bool known;
    int64_t applied_at_ms; /* UTC epoch ms; 0 when pending */
} migrate_entry_t;

/* Highest version this binary knows. */
int migrate_latest_version(void);

/* Number of migrations this binary knows. */
size_t migrate_known_count(void);

/*
 * Applies every pending migration in version order, each in its own
 * transaction together with its schema_migrations row, so a failure leaves
 * the database at the last fully applied version. Idempotent: with nothing
 * pending it changes nothing and *applied_count is 0. Safe against a second
 * process migrating at the same time (the write transaction serialises them
 * and each re-checks its version inside it).
 * SV_OK with *applied_count set; SV_CONFLICT if the database holds a version
 * newer than this binary knows; a database status otherwise. On failure err
 * names the migration and the database's message; *applied_count is untouched.
 */
int migrate_apply(db_t *db, int *applied_count, char *err, size_t errlen);

/*
 * Lists every known migration (applied or pending) and every applied version
 * unknown to this binary, ordered by version, into out[0..*count). Read-only:
 * works on a database that was never migrated. SV_OK, SV_TOO_BIG if more than
 * cap entries are needed (migrate_known_count() plus a few is enough in
 * practice), or a database status with a message in err. On failure out may
 * hold partial entries and *count is untouched.
 */
int migrate_status(db_t *db, migrate_entry_t *out, size_t cap, size_t *count, char *err,
                   size_t errlen);

#endif
