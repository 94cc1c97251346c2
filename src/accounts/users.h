/*
 * users.h: user accounts: e-mail, password (Argon2id) and role.
 *
 * E-mail addresses are ASCII, unique ignoring case, and kept as typed.
 * Passwords are hashed with Argon2id (libsodium crypto_pwhash_str_alg) at
 * the INTERACTIVE cost: opslimit 2 passes, memlimit 64 MiB, about 0.1 s on
 * one core. MODERATE (3 passes, 256 MiB, ~0.7 s) was rejected: a login
 * endpoint hashing for a few concurrent users would need a GiB of memory and
 * be an easy memory DoS, while INTERACTIVE already exceeds the OWASP minimum
 * for Argon2id (19 MiB, 2 passes). The cost is encoded in each stored hash,
 * so raising it later re-hashes passwords at their owners' next login.
 * Each hash or verify holds 64 MiB for its duration: callers bound how many
 * run at once (the API's blocking worker pool does).
 *
 * All functions are thread-safe given one db_t per thread (db.h).
 */
#ifndef SV_USERS_H
#define SV_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

#define USERS_EMAIL_MAX 254     /* RFC 5321 path limit */
#define USERS_PASSWORD_MIN 8    /* characters (UTF-8 code points) */
#define USERS_PASSWORD_MAX 1024 /* bytes: a ceiling, not advice */
#define USERS_ROLE_MAX 16

typedef struct {
    int64_t id;
    char email[USERS_EMAIL_MAX + 1];
    char role[USERS_ROLE_MAX]; /* "viewer", "creator", "reviewer" or "admin" */
    int64_t created_at_ms;
    bool disabled;
} user_t;

/* Initialises libsodium once per process (any thread, any number of
 * calls). SV_OK or SV_ERROR. Called by the functions below as needed. */
int users_init(void);

/* true for "viewer", "creator", "reviewer", "admin". */
bool users_role_valid(const char *role);

/*
 * Shape checks, each SV_OK or SV_BAD_DATA with a message naming the field
 * ("email: ...", "password: ...", "role: ...") in err.
 * email: ASCII local@domain, at most 254 bytes, local part at most 64, a
 * domain of at least two dot-separated labels of letters, digits and '-'.
 * password: at least USERS_PASSWORD_MIN characters, at most
 * USERS_PASSWORD_MAX bytes.
 */
int users_check_email(const char *email, char *err, size_t errlen);
int users_check_password(const char *password, char *err, size_t errlen);

/*
 * Creates a user (role NULL means "viewer"). SV_OK with *id set;
 * SV_BAD_DATA (a field fails its check), SV_EXISTS (the e-mail, ignoring
 * case, is taken: "email: already registered"), SV_NO_MEMORY, or a database
 * status; err holds the message. Takes about 0.1 s (hashing).
 */
int users_create(db_t *db, const char *email, const char *password, const char *role,
                 int64_t *id, char *err, size_t errlen);

/*
 * Checks a password for the user with that e-mail (any case). SV_OK with
 * *out filled (out may be NULL) when it matches and the account is enabled;
 * SV_UNAUTHORIZED for an unknown e-mail or a wrong password (same time
 * either way, so the answer does not reveal which e-mails exist);
 * SV_FORBIDDEN for the right password of a disabled account; or a database
 * status. A hash made at an older cost is replaced on success.
 */
int users_verify_password(db_t *db, const char *email, const char *password, user_t *out);

/* Number of users, for first-run setup and metrics. */
int users_count(db_t *db, int64_t *out);

#endif
