/*
 * cli_serve.c: `streamverse serve` (everything in one process) and
 * `streamverse worker` (job workers only), and the built-in job kinds.
 */
#include "cli/cli.h"
#include "api/api.h"
#include "base/clock.h"
#include "base/jsonx.h"
#include "base/log.h"
#include "base/status.h"
#include "net/http_server.h"
#include "net/router.h"
#include "store/jobrunner.h"
#include "vod/ingest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- built-in job kinds ---- */

/*
 * "tmp.cleanup": removes files in data_dir/tmp older than payload
 * {"max_age_seconds": N} (default one day): request bodies spooled by a
 * process that died before it could remove them.
 */
static int
cli_job_tmp_cleanup(jobrunner_ctx_t *ctx, const job_t *job)
{
    const config_t *cfg = jobrunner_arg(ctx);
    char dir[CONFIG_STR_MAX + 8], err[128];
    json_t *payload = NULL;
    int64_t max_age = 86400;
    unsigned removed = 0;
    DIR *d;

    if (jsonx_parse(str_make(job->payload, job->payload_len), 8, &payload, err, sizeof(err)) ==
            SV_OK &&
        json_is_integer(json_object_get(payload, "max_age_seconds")))
        max_age = json_integer_value(json_object_get(payload, "max_age_seconds"));
    json_decref(payload);
    if (max_age < 0) {
        jobrunner_set_error(ctx, false, "max_age_seconds must not be negative");
        return SV_BAD_DATA;
    }
    snprintf(dir, sizeof(dir), "%s/tmp", cfg->data_dir);
    d = opendir(dir);
    if (d == NULL) {
        jobrunner_set_error(ctx, true, "cannot open %s: %s", dir, strerror(errno));
        return SV_IO;
    }
    time_t cutoff = time(NULL) - (time_t)max_age;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode) && st.st_mtime <= cutoff &&
            unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    char msg[64];
    snprintf(msg, sizeof(msg), "removed %u file%s", removed, removed == 1 ? "" : "s");
    jobrunner_progress(ctx, 1000, msg);
    log_info("jobs", "tmp.cleanup: %s from %s", msg, dir);
    return SV_OK;
}

static int
cli_start_jobs(cli_t *cli, jobrunner_t **out)
{
    jobrunner_settings_t js;
    char err[256];

    snprintf(err, sizeof(err), "out of memory");
    jobrunner_settings_from_config(&js, &cli->cfg);
    if (jobrunner_create(&js, out, err, sizeof(err)) != SV_OK) {
        fprintf(stderr, "streamverse: cannot start job workers: %s\n", err);
        return 1;
    }
    /* On failure *out stays set: the caller destroys it. */
    if (jobrunner_register(*out, "tmp.cleanup", cli_job_tmp_cleanup, &cli->cfg) != SV_OK ||
        ingest_register(*out, &cli->cfg) != SV_OK ||
        jobrunner_start(*out, err, sizeof(err)) != SV_OK) {
        fprintf(stderr, "streamverse: cannot start job workers: %s\n", err);
        return 1;
    }
    return 0;
}

/* Blocks the signals we wait for (before any thread starts, so every thread
 * inherits the mask) and ignores SIGPIPE (sendfile to a closed socket). */
static void
cli_block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int
cli_wait_for_stop(sigset_t *set)
{
    int sig = 0;
    for (;;) {
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_info("main", "SIGHUP: configuration reload is not supported yet; ignored");
            continue;
        }
        return sig;
    }
}

static int
cli_open_access_log(const cli_t *cli)
{
    const char *a = cli->cfg.access_log;
    char path[CONFIG_STR_MAX + 32];

    if (strcmp(a, "off") == 0)
        return -1;
    if (strcmp(a, "stderr") == 0)
        return 2;
    if (strcmp(a, "stdout") == 0)
        return 1;
    if (a[0] == '\0')
        snprintf(path, sizeof(path), "%s/logs/access.log", cli->cfg.data_dir);
    else
        snprintf(path, sizeof(path), "%s", a);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        log_warn("main", "cannot open access log %s: %s; access log off", path,
                 strerror(errno));
    return fd;
}

int
cli_serve_main(cli_t *cli)
{
    const config_t *cfg = &cli->cfg;
    http_server_config_t hc;
    http_server_t *srv = NULL;
    jobrunner_t *jobs = NULL;
    router_t *rt = NULL;
    api_t *api = NULL;
    char err[512], tmp_dir[CONFIG_STR_MAX + 8];
    sigset_t sigs;
    int status = 1, access_fd = -1;

    if (cli_setup_logging(cli) || cli_prepare_data(cli) || cli_migrate(cli, true))
        goto out;
    cli_block_signals(&sigs);

    snprintf(tmp_dir, sizeof(tmp_dir), "%s/tmp", cfg->data_dir);
    access_fd = cli_open_access_log(cli);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    memset(&hc, 0, sizeof(hc));
    hc.listen = cfg->listen;
    hc.loops = cfg->workers > 0 ? (unsigned)cfg->workers : (unsigned)(ncpu > 0 ? ncpu : 1);
    hc.blocking_threads = (unsigned)cfg->api_workers;
    hc.max_connections = (uint64_t)cfg->http_max_connections;
    hc.max_header_bytes = (uint32_t)cfg->http_max_header_bytes;
    hc.max_headers = (uint32_t)cfg->http_max_headers;
    hc.max_body_bytes = (uint64_t)cfg->http_max_body_bytes;
    hc.max_upload_bytes = (uint64_t)cfg->http_max_upload_bytes;
    hc.body_memory_bytes = (uint64_t)cfg->http_body_memory_bytes;
    hc.output_max_bytes = (uint64_t)cfg->http_output_max_bytes;
    hc.header_timeout_ms = (uint64_t)cfg->http_header_timeout_ms;
    hc.body_timeout_ms = (uint64_t)cfg->http_body_timeout_ms;
    hc.send_timeout_ms = (uint64_t)cfg->http_send_timeout_ms;
    hc.keepalive_timeout_ms = (uint64_t)cfg->http_keepalive_timeout_ms;
    hc.keepalive_requests = (uint64_t)cfg->http_keepalive_requests;
    hc.shutdown_timeout_ms = (uint64_t)cfg->http_shutdown_timeout_ms;
    hc.cors_allow_origin = cfg->cors_allow_origin;
    hc.tmp_dir = tmp_dir;
    hc.access_log_fd = access_fd;

    api = api_create(cfg, cfg->web_root);
    rt = router_create();
    if (api == NULL || rt == NULL || api_routes_add(api, rt) != SV_OK) {
        fprintf(stderr, "streamverse: cannot set up routes\n");
        goto out;
    }
    if (http_server_create(&hc, rt, &srv, err, sizeof(err)) != SV_OK) {
        fprintf(stderr, "streamverse: %s\n", err);
        goto out;
    }
    api_set_server(api, srv);
    if (cli_start_jobs(cli, &jobs))
        goto out;
    if (http_server_start(srv) != SV_OK) {
        fprintf(stderr, "streamverse: cannot start the HTTP server\n");
        goto out;
    }
    char host[256];
    snprintf(host, sizeof(host), "%s", cfg->listen);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    log_info("main", "serving on %s:%d with %u event loops, %lld job workers, data in %s", host,
             http_server_port(srv), hc.loops, (long long)cfg->job_workers, cfg->data_dir);
    printf("StreamVerse is running at http://%s:%d/\n",
           host[0] && strcmp(host, "0.0.0.0") != 0 ? host : "127.0.0.1", http_server_port(srv));
    fflush(stdout);

    int sig = cli_wait_for_stop(&sigs);
    log_info("main", "%s: stopping (finishing requests in flight, at most %lld ms)",
             strsignal(sig), (long long)cfg->http_shutdown_timeout_ms);
    http_server_shutdown(srv);
    jobrunner_stop(jobs, JOBRUNNER_ABANDON);
    log_info("main", "stopped");
    status = 0;
out:
    if (jobs)
        jobrunner_destroy(jobs);
    http_server_destroy(srv);
    router_destroy(rt);
    api_destroy(api);
    if (access_fd > 2)
        close(access_fd);
    return status;
}

int
cli_worker_main(cli_t *cli)
{
    jobrunner_t *jobs = NULL;
    sigset_t sigs;
    int status = 1;

    if (cli_setup_logging(cli) || cli_prepare_data(cli) || cli_migrate(cli, true))
        return 1;
    cli_block_signals(&sigs);
    if (cli_start_jobs(cli, &jobs))
        goto out;
    log_info("main", "worker running %lld job threads on %s", (long long)cli->cfg.job_workers,
             cli->cfg.database[0] ? cli->cfg.database : cli->cfg.data_dir);
    int sig = cli_wait_for_stop(&sigs);
    log_info("main", "%s: stopping workers", strsignal(sig));
    jobrunner_stop(jobs, JOBRUNNER_ABANDON);
    status = 0;
out:
    if (jobs)
        jobrunner_destroy(jobs);
    return status;
}
