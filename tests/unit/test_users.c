/*
 * test_users.c: creating users (field checks with messages naming the
 * field, case-insensitive unique e-mail, Argon2id hashes), verifying
 * passwords, disabled accounts, counting.
 */
#include "accounts/users.h"

#include "base/status.h"
#include "store/migrate.h"
#include "test.h"
#include "tmpdir.h"

#include <sodium.h>
#include <string.h>

static const char *dir;
static char err[512];
static db_t *db;

/* The field an error message names: the text before ':'. */
static const char *
field_of(const char *msg)
{
    static char field[64];
    const char *colon = strchr(msg, ':');
    size_t n = colon ? (size_t)(colon - msg) : 0;
    if (n >= sizeof(field))
        n = sizeof(field) - 1;
    memcpy(field, msg, n);
    field[n] = '\0';
    return field;
}

/* users_check_email's verdict on e. */
static int
email_ok(const char *e)
{
    return users_check_email(e, err, sizeof(err));
}

TEST(email_shapes)
{
    CHECK_INT(email_ok("ann@example.com"), SV_OK);
    CHECK_INT(email_ok("Ann.Lee+tv@mail.example.co.uk"), SV_OK);
    CHECK_INT(email_ok("a@b.io"), SV_OK);
    CHECK_INT(email_ok("o'brien@x-y.example"), SV_OK);

    const char *bad[] = {
        "",
        "plain",
        "@example.com",
        "ann@",
        "ann@@x.com",
        "ann@x@y.com",
        "ann@localhost",
        "ann@.example.com",
        "ann@example..com",
        "ann@-x.com",
        "ann@x-.com",
        ".ann@x.com",
        "ann.@x.com",
        "a..b@x.com",
        "ann lee@x.com",
        "ann@exa mple.com",
        "ann@x.com ",
        "jos\xc3\xa9@x.com",
        "ann@ex_ample.com",
        "ann@x.com.",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (email_ok(bad[i]) != SV_BAD_DATA)
            printf("# accepted bad email \"%s\"\n", bad[i]);
        CHECK_STR(field_of(err), "email");
    }
    CHECK_INT(email_ok(NULL), SV_BAD_DATA);

    char long_local[80], long_total[300];
    memset(long_local, 'a', 65);
    snprintf(long_local + 65, sizeof(long_local) - 65, "@x.com");
    CHECK_INT(email_ok(long_local), SV_BAD_DATA);
    memset(long_total, 'a', 250);
    snprintf(long_total, sizeof(long_total), "a@%0250d.com", 0);
    CHECK_INT(email_ok(long_total), SV_BAD_DATA);
}

TEST(password_rules)
{
    CHECK_INT(users_check_password("12345678", err, sizeof(err)), SV_OK);
    CHECK_INT(users_check_password("1234567", err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(field_of(err), "password");
    CHECK(strstr(err, "8") != NULL);
    /* Eight characters of two bytes each: counted as characters. */
    CHECK_INT(users_check_password("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                                   err, sizeof(err)),
              SV_BAD_DATA); /* 7 characters, 14 bytes */
    CHECK_INT(
        users_check_password("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                             err, sizeof(err)),
        SV_OK);
    char huge[USERS_PASSWORD_MAX + 2];
    memset(huge, 'p', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    CHECK_INT(users_check_password(huge, err, sizeof(err)), SV_BAD_DATA);
    CHECK_INT(users_check_password(NULL, err, sizeof(err)), SV_BAD_DATA);
    CHECK(users_role_valid("reviewer"));
    CHECK(!users_role_valid("Admin"));
    CHECK(!users_role_valid(NULL));
}

TEST(create_rejects_each_bad_field_by_name)
{
    int64_t id = -1, n = -1;

    CHECK_INT(users_create(db, "not-an-email", "long enough", "viewer", &id, err, sizeof(err)),
              SV_BAD_DATA);
    CHECK_STR(field_of(err), "email");
    CHECK_INT(users_create(db, "ok@example.com", "short", "viewer", &id, err, sizeof(err)),
              SV_BAD_DATA);
    CHECK_STR(field_of(err), "password");
    CHECK_INT(
        users_create(db, "ok@example.com", "long enough", "superuser", &id, err, sizeof(err)),
        SV_BAD_DATA);
    CHECK_STR(field_of(err), "role");
    CHECK(strstr(err, "viewer, creator, reviewer, admin") != NULL);
    CHECK_INT(id, -1);
    CHECK_INT(users_count(db, &n), SV_OK);
    CHECK_INT(n, 0);
}

TEST(create_and_verify)
{
    int64_t id = 0, id2 = 0, n = 0;
    user_t u;
    db_stmt_t *st = NULL;

    CHECK_INT(
        users_create(db, "Ann@Example.com", "correct horse", "admin", &id, err, sizeof(err)),
        SV_OK);
    CHECK(id > 0);
    CHECK_STR(err, "");
    CHECK_INT(
        users_create(db, "bob@example.com", "battery staple", NULL, &id2, err, sizeof(err)),
        SV_OK);
    CHECK(id2 > id);
    CHECK_INT(users_count(db, &n), SV_OK);
    CHECK_INT(n, 2);

    /* The stored hash is Argon2id at the INTERACTIVE cost, never the password. */
    CHECK_INT(db_prepare(db, "SELECT password_hash, role FROM users WHERE id = ?", &st), SV_OK);
    db_bind_i64(st, 1, id);
    CHECK_INT(db_step(st), DB_ROW);
    str_t h = db_column_text(st, 0);
    CHECK(str_has_prefix(h, "$argon2id$v=19$m=65536,t=2,p=1$"));
    CHECK_INT(db_step(st), SV_OK);
    db_reset(st);
    db_bind_i64(st, 1, id2);
    CHECK_INT(db_step(st), DB_ROW);
    CHECK(str_eq_cstr(db_column_text(st, 1), "viewer")); /* NULL role means viewer */
    db_finalize(st);

    /* The same address in another case is the same user. */
    CHECK_INT(
        users_create(db, "ANN@example.COM", "another one", "viewer", &id2, err, sizeof(err)),
        SV_EXISTS);
    CHECK_STR(err, "email: already registered");

    memset(&u, 0, sizeof(u));
    CHECK_INT(users_verify_password(db, "ann@EXAMPLE.com", "correct horse", &u), SV_OK);
    CHECK_INT(u.id, id);
    CHECK_STR(u.email, "Ann@Example.com"); /* kept as typed */
    CHECK_STR(u.role, "admin");
    CHECK(u.created_at_ms > 0);
    CHECK(!u.disabled);
    CHECK_INT(users_verify_password(db, "Ann@Example.com", "correct horsE", NULL),
              SV_UNAUTHORIZED);
    CHECK_INT(users_verify_password(db, "nobody@example.com", "correct horse", NULL),
              SV_UNAUTHORIZED);
    CHECK_INT(users_verify_password(db, NULL, "x", NULL), SV_UNAUTHORIZED);

    /* A disabled account: the right password is forbidden, a wrong one unauthorized. */
    CHECK_INT(db_exec(db, "UPDATE users SET disabled = 1 WHERE email = 'bob@example.com'"),
              SV_OK);
    CHECK_INT(users_verify_password(db, "bob@example.com", "battery staple", NULL),
              SV_FORBIDDEN);
    CHECK_INT(users_verify_password(db, "bob@example.com", "wrong password", NULL),
              SV_UNAUTHORIZED);
}

TEST(a_weaker_hash_is_upgraded_at_login)
{
    char weak[crypto_pwhash_STRBYTES];
    int64_t id = 0;
    db_stmt_t *st = NULL;

    CHECK_INT(
        users_create(db, "cy@example.com", "old password", "creator", &id, err, sizeof(err)),
        SV_OK);
    CHECK_INT(crypto_pwhash_str_alg(weak, "old password", 12, crypto_pwhash_OPSLIMIT_MIN,
                                    crypto_pwhash_MEMLIMIT_MIN, crypto_pwhash_ALG_ARGON2ID13),
              0);
    CHECK_INT(db_prepare(db, "UPDATE users SET password_hash = ? WHERE id = ?", &st), SV_OK);
    db_bind_cstr(st, 1, weak);
    db_bind_i64(st, 2, id);
    CHECK_INT(db_step(st), SV_OK);
    db_finalize(st);
    st = NULL;

    CHECK_INT(users_verify_password(db, "cy@example.com", "old password", NULL), SV_OK);
    CHECK_INT(db_prepare(db, "SELECT password_hash FROM users WHERE id = ?", &st), SV_OK);
    db_bind_i64(st, 1, id);
    CHECK_INT(db_step(st), DB_ROW);
    CHECK(str_has_prefix(db_column_text(st, 0), "$argon2id$v=19$m=65536,t=2,p=1$"));
    db_finalize(st);
    CHECK_INT(users_verify_password(db, "cy@example.com", "old password", NULL), SV_OK);
}

TEST(database_failures_are_reported)
{
    int64_t id = -1;

    db_fault_inject(1, SV_DB); /* the insert's step */
    CHECK_INT(
        users_create(db, "dee@example.com", "long enough", "viewer", &id, err, sizeof(err)),
        SV_DB);
    db_fault_inject(-1, SV_DB);
    CHECK_STR(field_of(err), "database");
    CHECK_INT(id, -1);
    db_fault_inject(0, SV_BUSY);
    CHECK_INT(users_verify_password(db, "ann@example.com", "correct horse", NULL), SV_BUSY);
    db_fault_inject(-1, SV_DB);
}

int
main(void)
{
    int applied = 0;

    dir = tmpdir_make("users");
    if (dir == NULL || users_init() != SV_OK ||
        db_open("", dir, &db, err, sizeof(err)) != SV_OK ||
        migrate_apply(db, &applied, err, sizeof(err)) != SV_OK) {
        printf("# setup: %s\nnot ok 1 - setup\n1..1\n", err);
        db_close(db);
        tmpdir_remove();
        return 1;
    }
    RUN(email_shapes);
    RUN(password_rules);
    RUN(create_rejects_each_bad_field_by_name);
    RUN(create_and_verify);
    RUN(a_weaker_hash_is_upgraded_at_login);
    RUN(database_failures_are_reported);
    db_close(db);
    tmpdir_remove();
    return test_done();
}
