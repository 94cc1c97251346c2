/*
 * cli.h: what every subcommand shares: option parsing into the effective
 * configuration, the data directory, logging, and built-in job handlers.
 *
 * Options: any configuration key is a flag, "--http-max-body-bytes 2m" or
 * "--http_max_body_bytes=2m"; --data is data_dir; --config FILE loads a
 * config file (before the environment and the other flags, whatever its
 * position). A subcommand declares its own extra options and positionals.
 */
#ifndef SV_CLI_H
#define SV_CLI_H

#include <stdbool.h>

#include "base/config.h"

#define CLI_MAX_POSITIONAL 8
#define CLI_MAX_EXTRA 8

#define CLI_MAX_REPEAT 8

typedef struct {
    const char *name; /* without "--" */
    bool takes_value;
    const char *value; /* set by cli_parse (flags without a value: "1"); the last one */
    const char *values[CLI_MAX_REPEAT]; /* every value, for options given several times */
    unsigned nvalues;
} cli_option_t;

typedef struct {
    config_t cfg;
    const char *config_path;
    cli_option_t extra[CLI_MAX_EXTRA];
    unsigned nextra;
    const char *positional[CLI_MAX_POSITIONAL];
    unsigned npositional;
    bool help;
} cli_t;

/* Declares a subcommand option before cli_parse. */
void cli_option(cli_t *cli, const char *name, bool takes_value);
/* Value of a declared option after cli_parse, or NULL. */
const char *cli_get(const cli_t *cli, const char *name);
/* Every value of a repeatable option, in order; *n of them. */
const char *const *cli_get_all(const cli_t *cli, const char *name, unsigned *n);

/*
 * Parses argv (after the subcommand name) and builds the effective
 * configuration: defaults < --config file < STREAMVERSE_* < flags.
 * Prints a clear message to stderr and returns 2 on a usage error.
 */
int cli_parse(cli_t *cli, int argc, char **argv, char **envp);

/* Applies log_level/log_format. 0 or 2. */
int cli_setup_logging(const cli_t *cli);
/* Creates data_dir and its media/, tmp/ and logs/ folders. 0 or 1. */
int cli_prepare_data(const cli_t *cli);
/* Opens the database and applies pending migrations, then closes it. 0 or 1. */
int cli_migrate(const cli_t *cli, bool quiet);

/* Subcommands. Each returns the process exit status. */
int cli_serve_main(cli_t *cli);
int cli_worker_main(cli_t *cli);
int cli_admin_migrate(cli_t *cli);
int cli_admin_user(cli_t *cli);
int cli_admin_config(cli_t *cli);
int cli_admin_job(cli_t *cli);
int cli_admin_ingest(cli_t *cli);
int cli_admin_asset(cli_t *cli);
int cli_admin_demo(cli_t *cli);

#endif
