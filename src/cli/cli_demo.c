/*
 * cli_demo.c: `streamverse demo`, the library a newcomer sees at once.
 *
 * On a data directory without assets it makes a few short clips from
 * libavfilter sources (distinct pictures and tones) and queues their ingest
 * for the server's workers, so `make run` starts serving at once and the
 * clips become playable within seconds; with --recordings DIR it also
 * queues every media file under DIR (the real recordings the tests fetch
 * into build/test-media).
 */
#include "base/status.h"
#include "cli/cli.h"
#include "media/synth.h"
#include "store/db.h"
#include "vod/assets.h"
#include "vod/ingest.h"

#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *title;
    synth_clip_t clip;
} cli_demo_clip_t;

static const cli_demo_clip_t cli_demo_clips[] = {
    {"Test card", {"testsrc2", 1280, 720, 25, 20, 440}},
    {"Colour bars", {"smptehdbars", 1280, 720, 25, 12, 1000}},
    {"Mandelbrot zoom", {"mandelbrot", 640, 360, 25, 12, 660}},
    {"Game of life", {"life", 640, 360, 25, 12, 220}},
};

static db_t *cli_demo_db;
static const cli_t *cli_demo_cli;
static int cli_demo_queued;

static int
cli_demo_has_asset(void *arg, const asset_t *a)
{
    (void)a;
    *(int *)arg = 1;
    return SV_OK;
}

static int
cli_demo_queue(const char *path, const char *title, bool move)
{
    ingest_options_t opt;
    int64_t id;
    job_t job;
    char err[1024];
    memset(&opt, 0, sizeof(opt));
    opt.title = title;
    opt.move = move;
    int rc =
        ingest_submit(cli_demo_db, &cli_demo_cli->cfg, path, &opt, &id, &job, err, sizeof(err));
    if (rc != SV_OK) {
        fprintf(stderr, "streamverse: demo: %s: %s\n", path, err);
        return rc;
    }
    jobs_free(&job);
    printf("%lld\t%s\n", (long long)id, title);
    cli_demo_queued++;
    return SV_OK;
}

static int
cli_demo_recording(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    static const char *const exts[] = {".mp4", ".mov", ".mkv", ".webm", ".ogv", ".3gp", ".flv"};
    const char *dot = strrchr(path, '.');
    (void)sb;
    (void)ftw;
    if (flag != FTW_F || dot == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (strcasecmp(dot, exts[i]) == 0) {
            const char *base = strrchr(path, '/');
            cli_demo_queue(path, base ? base + 1 : path, false);
            break;
        }
    return 0;
}

int
cli_admin_demo(cli_t *cli)
{
    const char *recordings = cli_get(cli, "recordings");
    bool force = cli_get(cli, "force") != NULL;
    char path[CONFIG_STR_MAX + 64], err[512];
    int any = 0, status = 1;

    if (cli->npositional != 0) {
        fprintf(stderr, "usage: streamverse demo [--recordings DIR] [--force]\n");
        return 2;
    }
    if (cli_setup_logging(cli) || cli_prepare_data(cli) || cli_migrate(cli, true))
        return 1;
    if (db_open(cli->cfg.database, cli->cfg.data_dir, &cli_demo_db, err, sizeof(err)) !=
        SV_OK) {
        fprintf(stderr, "streamverse: %s\n", err);
        return 1;
    }
    cli_demo_cli = cli;
    if (assets_list(cli_demo_db, 0, 1, cli_demo_has_asset, &any) != SV_OK) {
        fprintf(stderr, "streamverse: cannot read the assets\n");
        goto out;
    }
    if (any && !force) {
        fprintf(stderr, "streamverse: demo: the library has assets already; nothing added "
                        "(--force adds the demo clips anyway)\n");
        status = 0;
        goto out;
    }
    for (size_t i = 0; i < sizeof(cli_demo_clips) / sizeof(cli_demo_clips[0]); i++) {
        const cli_demo_clip_t *c = &cli_demo_clips[i];
        snprintf(path, sizeof(path), "%s/tmp/demo-%zu.mp4", cli->cfg.data_dir, i + 1);
        if (synth_make_clip(path, &c->clip, err, sizeof(err)) != SV_OK) {
            fprintf(stderr, "streamverse: demo: %s: %s\n", c->title, err);
            continue;
        }
        if (cli_demo_queue(path, c->title, true) != SV_OK)
            remove(path);
    }
    if (recordings)
        nftw(recordings, cli_demo_recording, 16, FTW_PHYS);
    fprintf(stderr,
            "streamverse: demo: %d assets queued; `streamverse serve` transcodes them\n",
            cli_demo_queued);
    status = cli_demo_queued > 0 ? 0 : 1;
out:
    db_close(cli_demo_db);
    cli_demo_db = NULL;
    return status;
}
