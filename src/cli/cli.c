/*
 * cli.c: option parsing and the set-up every subcommand shares.
 */
#include "cli/cli.h"
#include "base/log.h"
#include "base/status.h"
#include "media/ladder.h"
#include "store/db.h"
#include "store/migrate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void
cli_option(cli_t *cli, const char *name, bool takes_value)
{
    if (cli->nextra < CLI_MAX_EXTRA)
        cli->extra[cli->nextra++] = (cli_option_t){.name = name, .takes_value = takes_value};
}

const char *
cli_get(const cli_t *cli, const char *name)
{
    for (unsigned i = 0; i < cli->nextra; i++) {
        if (strcmp(cli->extra[i].name, name) == 0)
            return cli->extra[i].value;
    }
    return NULL;
}

const char *const *
cli_get_all(const cli_t *cli, const char *name, unsigned *n)
{
    for (unsigned i = 0; i < cli->nextra; i++) {
        if (strcmp(cli->extra[i].name, name) == 0) {
            *n = cli->extra[i].nvalues;
            return cli->extra[i].values;
        }
    }
    *n = 0;
    return NULL;
}

static cli_option_t *
cli_find_extra(cli_t *cli, const char *name, size_t len)
{
    for (unsigned i = 0; i < cli->nextra; i++) {
        if (strlen(cli->extra[i].name) == len && strncmp(cli->extra[i].name, name, len) == 0)
            return &cli->extra[i];
    }
    return NULL;
}

int
cli_parse(cli_t *cli, int argc, char **argv, char **envp)
{
    char err[512];
    int i;

    config_defaults(&cli->cfg);
    /* --config is applied first, wherever it stands. */
    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            cli->config_path = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            cli->config_path = argv[i] + 9;
    }
    if (cli->config_path &&
        config_load_file(&cli->cfg, cli->config_path, err, sizeof(err)) != SV_OK) {
        fprintf(stderr, "streamverse: %s\n", err);
        return 2;
    }
    if (config_apply_env(&cli->cfg, envp, err, sizeof(err)) != SV_OK) {
        fprintf(stderr, "streamverse: %s\n", err);
        return 2;
    }
    for (i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli->help = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (cli->npositional == CLI_MAX_POSITIONAL) {
                fprintf(stderr, "streamverse: too many arguments\n");
                return 2;
            }
            cli->positional[cli->npositional++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const char *value = eq ? eq + 1 : NULL;
        cli_option_t *opt = cli_find_extra(cli, name, nlen);
        if (opt && !opt->takes_value) {
            opt->value = "1";
            continue;
        }
        if (value == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "streamverse: option --%.*s needs a value\n", (int)nlen, name);
                return 2;
            }
            value = argv[++i];
        }
        if (opt) {
            if (opt->nvalues == CLI_MAX_REPEAT) {
                fprintf(stderr, "streamverse: --%s given more than %d times\n", opt->name,
                        CLI_MAX_REPEAT);
                return 2;
            }
            opt->value = value;
            opt->values[opt->nvalues++] = value;
            continue;
        }
        if (nlen == 6 && strncmp(name, "config", 6) == 0)
            continue; /* applied above */
        char key[128];
        if (nlen >= sizeof(key)) {
            fprintf(stderr, "streamverse: unknown option --%.*s\n", (int)nlen, name);
            return 2;
        }
        for (size_t k = 0; k < nlen; k++)
            key[k] = name[k] == '-' ? '_' : name[k];
        key[nlen] = '\0';
        if (strcmp(key, "data") == 0)
            snprintf(key, sizeof(key), "data_dir");
        int rc = config_set(&cli->cfg, key, value, err, sizeof(err));
        if (rc == SV_NOT_FOUND) {
            fprintf(stderr, "streamverse: unknown option --%.*s (see --help)\n", (int)nlen,
                    name);
            return 2;
        }
        if (rc != SV_OK) {
            fprintf(stderr, "streamverse: --%.*s: %s\n", (int)nlen, name, err);
            return 2;
        }
    }
    if (config_validate(&cli->cfg, err, sizeof(err)) != SV_OK) {
        fprintf(stderr, "streamverse: %s\n", err);
        return 2;
    }
    /* Settings whose syntax belongs to a module above base are checked here,
     * so a bad one stops every command at start with the key named. */
    ladder_spec_t ladder;
    char lerr[200];
    if (ladder_parse(cli->cfg.video_ladder, &ladder, lerr, sizeof(lerr)) != SV_OK) {
        fprintf(stderr, "streamverse: video_ladder: %s\n", lerr);
        return 2;
    }
    return 0;
}

int
cli_setup_logging(const cli_t *cli)
{
    log_level_t level;
    if (log_level_parse(cli->cfg.log_level, &level) != SV_OK ||
        log_set_format(cli->cfg.log_format) != SV_OK) {
        fprintf(stderr, "streamverse: bad log_level or log_format\n");
        return 2;
    }
    log_set_level(level);
    return 0;
}

static int
cli_mkdir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    fprintf(stderr, "streamverse: cannot create %s: %s\n", path, strerror(errno));
    return 1;
}

int
cli_prepare_data(const cli_t *cli)
{
    static const char *const sub[] = {"media", "tmp", "logs"};
    char path[CONFIG_STR_MAX + 16];

    if (cli_mkdir(cli->cfg.data_dir))
        return 1;
    for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", cli->cfg.data_dir, sub[i]);
        if (cli_mkdir(path))
            return 1;
    }
    return 0;
}

int
cli_migrate(const cli_t *cli, bool quiet)
{
    char err[512];
    db_t *db = NULL;
    int applied = 0, status = 1;

    if (db_open(cli->cfg.database, cli->cfg.data_dir, &db, err, sizeof(err)) != SV_OK) {
        fprintf(stderr, "streamverse: cannot open the database: %s\n", err);
        goto out;
    }
    if (migrate_apply(db, &applied, err, sizeof(err)) != SV_OK) {
        fprintf(stderr, "streamverse: migration failed: %s\n", err);
        goto out;
    }
    if (applied > 0 || !quiet)
        log_info("store", "schema at version %d (%d migration%s applied)",
                 migrate_latest_version(), applied, applied == 1 ? "" : "s");
    status = 0;
out:
    db_close(db);
    return status;
}
