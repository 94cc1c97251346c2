/*
 * users.c: user accounts over the `users` table (migration 1).
 */
#include "accounts/users.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "base/str.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define USERS_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE /* 2 passes */
#define USERS_MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE /* 64 MiB */

static const char *const users_roles[] = {"viewer", "creator", "reviewer", "admin"};

static pthread_once_t users_once = PTHREAD_ONCE_INIT;
static int users_sodium_rc = -1;

static pthread_once_t users_dummy_once = PTHREAD_ONCE_INIT;
static char users_dummy_hash[crypto_pwhash_STRBYTES];

static void
users_init_once(void)
{
    users_sodium_rc = sodium_init(); /* 0, or 1 if someone else did it */
}

int
users_init(void)
{
    pthread_once(&users_once, users_init_once);
    return users_sodium_rc < 0 ? SV_ERROR : SV_OK;
}

/* A hash of a random password, verified against when the e-mail is unknown
 * so that the answer takes as long as for a known one. */
static void
users_dummy_init(void)
{
    unsigned char pw[16];

    randombytes_buf(pw, sizeof(pw));
    if (crypto_pwhash_str_alg(users_dummy_hash, (const char *)pw, sizeof(pw), USERS_OPSLIMIT,
                              USERS_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) != 0)
        users_dummy_hash[0] = '\0';
}

bool
users_role_valid(const char *role)
{
    if (role == NULL)
        return false;
    for (size_t i = 0; i < sizeof(users_roles) / sizeof(users_roles[0]); i++) {
        if (strcmp(role, users_roles[i]) == 0)
            return true;
    }
    return false;
}

static bool
users_is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5322 dot-atom text characters, besides letters and digits. */
static bool
users_is_atext(char c)
{
    return users_is_alnum(c) || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

int
users_check_email(const char *email, char *err, size_t errlen)
{
    const char *at, *p, *label;
    size_t n, local_len;
    int labels = 0;

    if (email == NULL || email[0] == '\0') {
        snprintf(err, errlen, "email: required");
        return SV_BAD_DATA;
    }
    n = strlen(email);
    if (n > USERS_EMAIL_MAX) {
        snprintf(err, errlen, "email: longer than %d characters", USERS_EMAIL_MAX);
        return SV_BAD_DATA;
    }
    at = strchr(email, '@');
    if (at == NULL || strchr(at + 1, '@') != NULL) {
        snprintf(err, errlen, "email: must contain exactly one '@', as in name@example.com");
        return SV_BAD_DATA;
    }
    local_len = (size_t)(at - email);
    if (local_len == 0 || local_len > 64) {
        snprintf(err, errlen, "email: the part before '@' must be 1 to 64 characters");
        return SV_BAD_DATA;
    }
    for (p = email; p < at; p++) {
        if (*p == '.') {
            if (p == email || p + 1 == at || p[1] == '.') {
                snprintf(err, errlen, "email: misplaced '.' before '@'");
                return SV_BAD_DATA;
            }
        } else if (!users_is_atext(*p)) {
            snprintf(err, errlen,
                     "email: only ASCII letters, digits and !#$%%&'*+/=?^_`{|}~.- "
                     "may come before '@'");
            return SV_BAD_DATA;
        }
    }
    /* Domain: labels of letters, digits and '-', not at either end of a label. */
    label = at + 1;
    for (p = at + 1;; p++) {
        if (*p == '.' || *p == '\0') {
            size_t len = (size_t)(p - label);
            if (len == 0 || len > 63 || label[0] == '-' || p[-1] == '-') {
                snprintf(err, errlen, "email: the domain after '@' is not a valid host name");
                return SV_BAD_DATA;
            }
            labels++;
            if (*p == '\0')
                break;
            label = p + 1;
        } else if (!users_is_alnum(*p) && *p != '-') {
            snprintf(err, errlen,
                     "email: the domain may hold only ASCII letters, digits, '-' and '.'");
            return SV_BAD_DATA;
        }
    }
    if (labels < 2) {
        snprintf(err, errlen, "email: the domain needs a dot, as in example.com");
        return SV_BAD_DATA;
    }
    return SV_OK;
}

int
users_check_password(const char *password, char *err, size_t errlen)
{
    size_t n, chars = 0;

    if (password == NULL) {
        snprintf(err, errlen, "password: required");
        return SV_BAD_DATA;
    }
    n = strlen(password);
    if (n > USERS_PASSWORD_MAX) {
        snprintf(err, errlen, "password: longer than %d bytes", USERS_PASSWORD_MAX);
        return SV_BAD_DATA;
    }
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)password[i] & 0xC0) != 0x80)
            chars++; /* count UTF-8 sequence starts, not bytes */
    }
    if (chars < USERS_PASSWORD_MIN) {
        snprintf(err, errlen, "password: must be at least %d characters", USERS_PASSWORD_MIN);
        return SV_BAD_DATA;
    }
    return SV_OK;
}

/* Argon2id hash of password into out. SV_OK, SV_NO_MEMORY, SV_ERROR. */
static int
users_hash(const char *password, char out[crypto_pwhash_STRBYTES])
{
    if (users_init() != SV_OK)
        return SV_ERROR;
    /* Fails only when the 64 MiB cannot be allocated. */
    if (crypto_pwhash_str_alg(out, password, strlen(password), USERS_OPSLIMIT, USERS_MEMLIMIT,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return SV_NO_MEMORY;
    return SV_OK;
}

int
users_create(db_t *db, const char *email, const char *password, const char *role, int64_t *id,
             char *err, size_t errlen)
{
    char hash[crypto_pwhash_STRBYTES];
    db_stmt_t *st = NULL;
    int rc;

    if (err && errlen > 0)
        err[0] = '\0';
    if (role == NULL)
        role = "viewer";
    rc = users_check_email(email, err, errlen);
    if (rc != SV_OK)
        goto out;
    rc = users_check_password(password, err, errlen);
    if (rc != SV_OK)
        goto out;
    if (!users_role_valid(role)) {
        snprintf(err, errlen, "role: must be one of viewer, creator, reviewer, admin");
        rc = SV_BAD_DATA;
        goto out;
    }
    /* Hash before touching the database: no lock is held for the 0.1 s. */
    rc = users_hash(password, hash);
    if (rc != SV_OK) {
        snprintf(err, errlen, "password: cannot hash: %s", status_text(rc));
        goto out;
    }
    rc = db_prepare(db,
                    "INSERT INTO users (email, password_hash, role, created_at_ms, disabled)"
                    " VALUES (?, ?, ?, ?, 0) RETURNING id",
                    &st);
    if (rc != SV_OK)
        goto db_error;
    db_bind_cstr(st, 1, email);
    db_bind_cstr(st, 2, hash);
    db_bind_cstr(st, 3, role);
    db_bind_i64(st, 4, clock_wall_ms());
    rc = db_step(st);
    if (rc == SV_EXISTS) {
        snprintf(err, errlen, "email: already registered");
        goto out;
    }
    if (rc != DB_ROW) {
        if (rc == SV_OK)
            rc = SV_DB;
        goto db_error;
    }
    *id = db_column_i64(st, 0);
    rc = SV_OK;
    goto out;
db_error:
    snprintf(err, errlen, "database: %s", db_last_error(db));
out:
    sodium_memzero(hash, sizeof(hash));
    db_finalize(st);
    return rc;
}

/* Replaces the stored hash of user id with one at the current cost (best effort). */
static void
users_rehash(db_t *db, int64_t id, const char *password)
{
    char hash[crypto_pwhash_STRBYTES];
    db_stmt_t *st = NULL;

    if (users_hash(password, hash) != SV_OK)
        goto out;
    if (db_prepare(db, "UPDATE users SET password_hash = ? WHERE id = ?", &st) != SV_OK)
        goto out;
    db_bind_cstr(st, 1, hash);
    db_bind_i64(st, 2, id);
    (void)db_step(st);
out:
    sodium_memzero(hash, sizeof(hash));
    db_finalize(st);
}

int
users_verify_password(db_t *db, const char *email, const char *password, user_t *out)
{
    char hash[crypto_pwhash_STRBYTES];
    db_stmt_t *st = NULL;
    user_t u;
    bool found = false, rehash = false;
    int rc;

    memset(&u, 0, sizeof(u));
    hash[0] = '\0';
    rc = users_init();
    if (rc != SV_OK)
        goto out;
    if (email == NULL || password == NULL || strlen(password) > USERS_PASSWORD_MAX ||
        strlen(email) > USERS_EMAIL_MAX) {
        rc = SV_UNAUTHORIZED;
        goto out;
    }
    rc = db_prepare(db,
                    "SELECT id, email, password_hash, role, created_at_ms, disabled FROM users"
                    " WHERE lower(email) = lower(?)",
                    &st);
    if (rc != SV_OK)
        goto out;
    db_bind_cstr(st, 1, email);
    rc = db_step(st);
    if (rc == DB_ROW) {
        found = true;
        u.id = db_column_i64(st, 0);
        str_copy_cstr(u.email, sizeof(u.email), db_column_text(st, 1));
        str_copy_cstr(hash, sizeof(hash), db_column_text(st, 2));
        str_copy_cstr(u.role, sizeof(u.role), db_column_text(st, 3));
        u.created_at_ms = db_column_i64(st, 4);
        u.disabled = db_column_i64(st, 5) != 0;
    } else if (rc != SV_OK) {
        goto out;
    }
    db_finalize(st);
    st = NULL;

    if (!found) {
        pthread_once(&users_dummy_once, users_dummy_init);
        if (users_dummy_hash[0] &&
            crypto_pwhash_str_verify(users_dummy_hash, password, strlen(password)) == 0)
            log_error("users", "a random password matched"); /* cannot happen */
        rc = SV_UNAUTHORIZED;
        goto out;
    }
    if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0) {
        rc = SV_UNAUTHORIZED;
        goto out;
    }
    if (u.disabled) {
        rc = SV_FORBIDDEN;
        goto out;
    }
    rehash = crypto_pwhash_str_needs_rehash(hash, USERS_OPSLIMIT, USERS_MEMLIMIT) != 0;
    if (rehash)
        users_rehash(db, u.id, password);
    if (out)
        *out = u;
    rc = SV_OK;
out:
    sodium_memzero(hash, sizeof(hash));
    db_finalize(st);
    return rc;
}

int
users_count(db_t *db, int64_t *out)
{
    db_stmt_t *st = NULL;
    int rc;

    rc = db_prepare(db, "SELECT COUNT(*) FROM users", &st);
    if (rc != SV_OK)
        goto out;
    rc = db_step(st);
    if (rc != DB_ROW) {
        if (rc == SV_OK)
            rc = SV_DB;
        goto out;
    }
    *out = db_column_i64(st, 0);
    rc = SV_OK;
out:
    db_finalize(st);
    return rc;
}
