/*
 * main.c: `streamverse <subcommand> [options]`. Parses, then hands over.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#ifndef SV_VERSION
#define SV_VERSION "0.1.0"
#endif

extern char **environ;

typedef struct {
    const char *name;
    int (*run)(cli_t *cli);
    const char *usage;
    const char *help;
    const char *options[CLI_MAX_EXTRA][2]; /* name, "v" if it takes a value */
} cli_command_t;

static const char cli_common_help[] =
    "Common options:\n"
    "  --data DIR          data directory: database, media, logs (default ./data)\n"
    "  --config FILE       configuration file (see `streamverse config`)\n"
    "  --KEY VALUE         any configuration key, e.g. --log-level debug\n"
    "  --help              this help\n"
    "Configuration: defaults < --config file < STREAMVERSE_<KEY> environment < flags.\n";

static const cli_command_t cli_commands[] = {
    {"serve",
     cli_serve_main,
     "streamverse serve [--listen HOST:PORT] [--workers N] [options]",
     "Runs the whole platform in one process: HTTP (API, media, web app), job workers.\n"
     "  --listen HOST:PORT  address to listen on (default 127.0.0.1:8080)\n"
     "  --workers N         event-loop threads (default 0: one per core)\n"
     "  --job-workers N     job worker threads (default 2)\n"
     "SIGTERM or SIGINT stop it gracefully: it stops accepting, finishes the requests\n"
     "in flight (at most http_shutdown_timeout), then exits.\n",
     {{0}}},
    {"worker",
     cli_worker_main,
     "streamverse worker [--job-workers N] [options]",
     "Runs job workers only, against the configured database.\n",
     {{0}}},
    {"migrate",
     cli_admin_migrate,
     "streamverse migrate [--status]",
     "Applies pending database migrations (serve also does on start).\n"
     "  --status            list migrations and whether each is applied\n",
     {{"status", ""}}},
    {"user",
     cli_admin_user,
     "streamverse user create EMAIL --role ROLE [--password P]",
     "Creates a user. ROLE is viewer, creator, reviewer or admin. Without --password\n"
     "the password is read from the terminal (no echo) or the first line of stdin.\n",
     {{"role", "v"}, {"password", "v"}}},
    {"config",
     cli_admin_config,
     "streamverse config [options]",
     "Prints the effective configuration as a config file, every key with its help\n"
     "and default.\n",
     {{0}}},
    {"ingest",
     cli_admin_ingest,
     "streamverse ingest FILE [--title T] [--no-transcode] [--codec C] [--subtitle LANG=FILE]"
     " [--queue]",
     "Creates an asset from a media file and runs its ingest job in this process, with\n"
     "progress on the terminal; prints the asset id as its last line. The source is\n"
     "probed and checked (a file that is not media, is truncated, has no decodable\n"
     "stream, or is too large fails with the reason), then transcoded to the ABR ladder\n"
     "and packaged as CMAF for HLS and DASH; it can be played from its first segments.\n"
     "  --title T           the asset's title (default: the file name)\n"
     "  --no-transcode      package the source as is (H.264/HEVC + AAC mezzanines with\n"
     "                      regular keyframes; others are transcoded, with the reason)\n"
     "  --codec C           video codec of this asset's ladder: h264, hevc or av1\n"
     "  --subtitle LANG=FILE  a sidecar .srt or .vtt in language LANG (repeatable)\n"
     "  --queue             only queue the job, for the workers of a running server\n",
     {{"title", "v"}, {"no-transcode", ""}, {"queue", ""}, {"codec", "v"}, {"subtitle", "v"}}},
    {"asset",
     cli_admin_asset,
     "streamverse asset url ID [--base http://HOST:PORT]",
     "Prints where an asset plays: its HLS master playlist and its DASH MPD, one per\n"
     "line, as URL paths (absolute URLs with --base).\n",
     {{"base", "v"}}},
    {"demo",
     cli_admin_demo,
     "streamverse demo [--recordings DIR] [--force]",
     "Seeds a demo library when there is none: a few short clips made from libavfilter\n"
     "sources (distinct pictures and tones), queued for the workers of `streamverse\n"
     "serve`, which make them playable within seconds. `make run` does this first.\n"
     "  --recordings DIR    also queue every media file under DIR (e.g. build/test-media)\n"
     "  --force             add the clips even when the library has assets\n",
     {{"recordings", "v"}, {"force", ""}}},
    {"job",
     cli_admin_job,
     "streamverse job enqueue KIND [--payload JSON]",
     "Queues a job for the workers and prints its id. Built-in kinds: tmp.cleanup\n"
     "(payload {\"max_age_seconds\": N}).\n",
     {{"payload", "v"}}},
};

#define CLI_NCOMMANDS (sizeof(cli_commands) / sizeof(cli_commands[0]))

static void
cli_usage(FILE *f)
{
    fprintf(f,
            "StreamVerse %s: a streaming TV platform in one binary.\n\n"
            "usage: streamverse <command> [options]\n\ncommands:\n",
            SV_VERSION);
    for (size_t i = 0; i < CLI_NCOMMANDS; i++)
        fprintf(f, "  %s\n", cli_commands[i].usage);
    fprintf(f, "\n`streamverse <command> --help` describes each.\n\n%s", cli_common_help);
}

int
main(int argc, char **argv)
{
    static cli_t cli; /* config_t is large: not on the stack */

    if (argc < 2) {
        cli_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("streamverse %s\n", SV_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        cli_usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < CLI_NCOMMANDS; i++) {
        const cli_command_t *c = &cli_commands[i];
        if (strcmp(argv[1], c->name) != 0)
            continue;
        for (size_t k = 0; k < CLI_MAX_EXTRA && c->options[k][0]; k++)
            cli_option(&cli, c->options[k][0], c->options[k][1][0] == 'v');
        int rc = cli_parse(&cli, argc - 2, argv + 2, environ);
        if (rc != 0)
            return rc;
        if (cli.help) {
            printf("usage: %s\n\n%s\n%s", c->usage, c->help, cli_common_help);
            return 0;
        }
        return c->run(&cli);
    }
    fprintf(stderr, "streamverse: unknown command '%s'\n\n", argv[1]);
    cli_usage(stderr);
    return 2;
}
