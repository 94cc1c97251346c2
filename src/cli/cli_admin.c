/*
 * cli_admin.c: operator subcommands: migrate, user, config, job.
 */
#include "cli/cli.h"
#include "accounts/users.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/jsonx.h"
#include "base/status.h"
#include "store/db.h"
#include "store/jobs.h"
#include "store/jobrunner.h"
#include "store/migrate.h"
#include "vod/assets.h"
#include "vod/ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static int
cli_open_db(const cli_t *cli, db_t **db)
{
    char err[512];
    if (cli_prepare_data(cli))
        return 1;
    if (db_open(cli->cfg.database, cli->cfg.data_dir, db, err, sizeof(err)) != SV_OK) {
        fprintf(stderr, "streamverse: cannot open the database: %s\n", err);
        return 1;
    }
    return 0;
}

int
cli_admin_migrate(cli_t *cli)
{
    migrate_entry_t entries[256];
    size_t n = 0;
    char err[512];
    db_t *db = NULL;
    int status = 1;

    if (cli_setup_logging(cli))
        return 2;
    if (cli_get(cli, "status") == NULL)
        return cli_prepare_data(cli) || cli_migrate(cli, false);
    if (cli_open_db(cli, &db))
        return 1;
    if (migrate_status(db, entries, sizeof(entries) / sizeof(entries[0]), &n, err,
                       sizeof(err)) != SV_OK) {
        fprintf(stderr, "streamverse: %s\n", err);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char when[CLOCK_ISO_LEN + 1] = "-";
        if (entries[i].applied_at_ms > 0)
            clock_iso8601(entries[i].applied_at_ms, when);
        printf("%4d  %-8s %-24s %s\n", entries[i].version,
               !entries[i].known    ? "unknown"
               : entries[i].applied ? "applied"
                                    : "pending",
               when, entries[i].name);
    }
    status = 0;
out:
    db_close(db);
    return status;
}

/* Reads a password: from the terminal without echo, or the first line of stdin. */
static int
cli_read_password(char *out, size_t cap)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO);

    if (tty) {
        fprintf(stderr, "Password: ");
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    char *got = fgets(out, (int)cap, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fprintf(stderr, "\n");
    }
    if (got == NULL)
        return 1;
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

int
cli_admin_user(cli_t *cli)
{
    const char *email, *role = cli_get(cli, "role"), *pw_flag = cli_get(cli, "password");
    char password[1024], err[512];
    db_t *db = NULL;
    int64_t id;
    int status = 1;

    if (cli->npositional != 2 || strcmp(cli->positional[0], "create") != 0) {
        fprintf(stderr, "usage: streamverse user create EMAIL --role ROLE [--password P]\n");
        return 2;
    }
    email = cli->positional[1];
    if (role == NULL) {
        fprintf(stderr, "streamverse: --role is required (viewer, creator, reviewer, admin)\n");
        return 2;
    }
    if (cli_setup_logging(cli) || cli_prepare_data(cli) || cli_migrate(cli, true))
        return 1;
    if (pw_flag) {
        snprintf(password, sizeof(password), "%s", pw_flag);
    } else if (cli_read_password(password, sizeof(password))) {
        fprintf(stderr, "streamverse: no password given (stdin was empty)\n");
        return 2;
    }
    if (cli_open_db(cli, &db))
        goto out;
    int rc = users_create(db, email, password, role, &id, err, sizeof(err));
    if (rc != SV_OK) {
        fprintf(stderr, "streamverse: cannot create user: %s\n", err);
        status = rc == SV_BAD_DATA || rc == SV_EXISTS ? 2 : 1;
        goto out;
    }
    printf("created user %lld <%s> with role %s\n", (long long)id, email, role);
    status = 0;
out:
    memset(password, 0, sizeof(password));
    db_close(db);
    return status;
}

int
cli_admin_config(cli_t *cli)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    if (config_print(&cli->cfg, &b) != SV_OK) {
        fprintf(stderr, "streamverse: cannot print the configuration\n");
        buf_free(&b);
        return 1;
    }
    fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
    return 0;
}

int
cli_admin_job(cli_t *cli)
{
    const char *payload = cli_get(cli, "payload");
    char err[512];
    db_t *db = NULL;
    int64_t id;
    int status = 1;

    if (cli->npositional != 2 || strcmp(cli->positional[0], "enqueue") != 0) {
        fprintf(stderr, "usage: streamverse job enqueue KIND [--payload JSON]\n");
        return 2;
    }
    if (payload) {
        json_t *v = NULL;
        if (jsonx_parse(str_from_cstr(payload), 32, &v, err, sizeof(err)) != SV_OK) {
            fprintf(stderr, "streamverse: --payload: %s\n", err);
            return 2;
        }
        json_decref(v);
    }
    if (cli_setup_logging(cli) || cli_prepare_data(cli) || cli_migrate(cli, true))
        return 1;
    if (cli_open_db(cli, &db))
        return 1;
    int rc = jobs_enqueue(db, cli->positional[1], payload ? payload : "{}", 0,
                          (int)cli->cfg.job_max_attempts, 0, &id);
    if (rc != SV_OK) {
        fprintf(stderr, "streamverse: cannot queue the job: %s (%s)\n", status_text(rc),
                db_last_error(db));
        goto out;
    }
    printf("%lld\n", (long long)id);
    status = 0;
out:
    db_close(db);
    return status;
}

/* Progress on a terminal: one line, rewritten in place. */
static void
cli_ingest_progress(void *arg, const job_t *job, int permille, const char *msg)
{
    (void)arg;
    (void)job;
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "\r\033[K[%3d%%] %s", permille / 10, msg ? msg : "");
    else
        fprintf(stderr, "[%3d%%] %s\n", permille / 10, msg ? msg : "");
}

int
cli_admin_ingest(cli_t *cli)
{
    ingest_options_t opt = {
        .title = cli_get(cli, "title"),
        .no_transcode = cli_get(cli, "no-transcode") != NULL,
    };
    bool queue_only = cli_get(cli, "queue") != NULL;
    jobrunner_settings_t js;
    jobrunner_t *jr = NULL;
    job_state_t state = JOB_QUEUED;
    char err[1024];
    db_t *db = NULL;
    int64_t asset_id = 0;
    job_t job;
    char worker[96], host[64] = "cli";
    asset_t a;
    int status = 1, rc;

    memset(&a, 0, sizeof(a));
    memset(&job, 0, sizeof(job));
    if (cli->npositional != 1) {
        fprintf(stderr,
                "usage: streamverse ingest FILE [--title T] [--no-transcode] [--codec C]"
                " [--subtitle LANG=FILE] [--queue]\n");
        return 2;
    }
    opt.video_codec = cli_get(cli, "codec");
    unsigned nsubs;
    const char *const *subs = cli_get_all(cli, "subtitle", &nsubs);
    static char sub_langs[CLI_MAX_REPEAT][8];
    for (unsigned i = 0; i < nsubs; i++) {
        const char *eq = strchr(subs[i], '=');
        size_t ll = eq ? (size_t)(eq - subs[i]) : 0;
        if (eq == NULL || ll < 2 || ll > 3 || eq[1] == '\0') {
            fprintf(stderr, "streamverse: --subtitle wants LANG=FILE with a 2 or 3 letter "
                            "language, e.g. eng=movie.srt\n");
            return 2;
        }
        snprintf(sub_langs[i], sizeof(sub_langs[i]), "%.*s", (int)ll, subs[i]);
        opt.subtitles[i].language = sub_langs[i];
        opt.subtitles[i].path = eq + 1;
    }
    opt.nsubtitles = nsubs;
    if (cli_setup_logging(cli) || cli_prepare_data(cli) || cli_migrate(cli, true))
        return 1;
    if (cli_open_db(cli, &db))
        return 1;
    /* Without --queue this process runs the job: it is queued already
     * claimed, so a running server's workers leave it to us. */
    gethostname(host, sizeof(host) - 1);
    snprintf(worker, sizeof(worker), "%s:%d/ingest", host, (int)getpid());
    opt.run_here = queue_only ? NULL : worker;
    rc = ingest_submit(db, &cli->cfg, cli->positional[0], &opt, &asset_id, &job, err,
                       sizeof(err));
    if (rc != SV_OK) {
        fprintf(stderr, "streamverse: cannot ingest %s: %s\n", cli->positional[0], err);
        status = rc == SV_NOT_FOUND || rc == SV_BAD_DATA ? 2 : 1;
        goto out;
    }
    if (!queue_only) {
        /* Run the job here, so ingest works with no server running. */
        jobrunner_settings_from_config(&js, &cli->cfg);
        js.threads = 0;
        if (jobrunner_create(&js, &jr, err, sizeof(err)) != SV_OK ||
            ingest_register(jr, &cli->cfg) != SV_OK) {
            fprintf(stderr, "streamverse: %s\n", err);
            goto out;
        }
        jobrunner_set_observer(jr, cli_ingest_progress, NULL);
        rc = jobrunner_run_claimed(jr, &job, &state, err, sizeof(err));
        if (isatty(STDERR_FILENO))
            fputc('\n', stderr);
        if (rc != SV_OK) {
            fprintf(stderr, "streamverse: %s\n", err);
            goto out;
        }
        if (assets_get(db, asset_id, &a) == SV_OK && a.state == ASSET_FAILED) {
            fprintf(stderr, "streamverse: asset %lld failed: %s\n", (long long)asset_id,
                    a.error ? a.error : "unknown reason");
            printf("%lld\n", (long long)asset_id);
            goto out;
        }
    }
    printf("%lld\n", (long long)asset_id);
    status = 0;
out:
    assets_free(&a);
    jobs_free(&job);
    if (jr)
        jobrunner_destroy(jr);
    db_close(db);
    return status;
}

/* streamverse asset url ID [--base URL] */
int
cli_admin_asset(cli_t *cli)
{
    const char *base = cli_get(cli, "base");
    db_t *db = NULL;
    asset_t a;
    char *end = NULL;
    long long id;
    int status = 1;

    memset(&a, 0, sizeof(a));
    if (cli->npositional != 2 || strcmp(cli->positional[0], "url") != 0) {
        fprintf(stderr, "usage: streamverse asset url ID [--base http://HOST:PORT]\n");
        return 2;
    }
    errno = 0;
    id = strtoll(cli->positional[1], &end, 10);
    if (errno || end == cli->positional[1] || *end != '\0' || id <= 0) {
        fprintf(stderr, "streamverse: \"%s\" is not an asset id\n", cli->positional[1]);
        return 2;
    }
    if (base) {
        size_t n = strlen(base);
        if ((strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) ||
            n > 512) {
            fprintf(stderr, "streamverse: --base must be an http:// or https:// URL\n");
            return 2;
        }
    }
    if (cli_setup_logging(cli) || cli_migrate(cli, true) || cli_open_db(cli, &db))
        return 1;
    int rc = assets_get(db, id, &a);
    if (rc == SV_NOT_FOUND) {
        fprintf(stderr, "streamverse: no asset %lld\n", id);
        goto out;
    }
    if (rc != SV_OK) {
        fprintf(stderr, "streamverse: cannot read asset %lld: %s\n", id, status_text(rc));
        goto out;
    }
    if (a.state == ASSET_FAILED) {
        fprintf(stderr, "streamverse: asset %lld failed: %s\n", id, a.error ? a.error : "");
        goto out;
    }
    if (a.state != ASSET_READY && a.state != ASSET_TRANSCODING && a.state != ASSET_PACKAGING)
        fprintf(stderr, "streamverse: asset %lld is %s: not playable yet\n", id,
                assets_state_name(a.state));
    size_t bl = base ? strlen(base) : 0;
    while (bl > 0 && base[bl - 1] == '/')
        bl--; /* "http://h:p/" and "http://h:p" give the same URLs */
    printf("%.*s/vod/%lld/master.m3u8\n", (int)bl, base ? base : "", id);
    printf("%.*s/vod/%lld/manifest.mpd\n", (int)bl, base ? base : "", id);
    status = 0;
out:
    assets_free(&a);
    db_close(db);
    return status;
}
