/*
 * ingest.c: placing sources and the asset.ingest job.
 */
#include "vod/ingest.h"
#include "base/jsonx.h"
#include "base/log.h"
#include "base/status.h"
#include "media/ladder.h"
#include "media/probe.h"
#include "store/jobs.h"
#include "vod/assets.h"
#include "vod/origin.h"
#include "vod/package.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- files ---- */

static int
ingest_mkdir(const char *path)
{
    return mkdir(path, 0755) == 0 || errno == EEXIST ? SV_OK : SV_IO;
}

static int
ingest_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Removes a directory tree if it exists. */
static void
ingest_remove_tree(const char *path)
{
    nftw(path, ingest_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Copies src to dst (created, not existing) with copy_file_range. */
static int
ingest_copy(const char *src, const char *dst, char *err, size_t errlen)
{
    int in = -1, out = -1, rc = SV_IO;
    struct stat sb;

    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0 || fstat(in, &sb) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", src, strerror(errno));
        goto out;
    }
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        snprintf(err, errlen, "cannot create %s: %s", dst, strerror(errno));
        goto out;
    }
    off_t left = sb.st_size;
    while (left > 0) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "copying %s: %s", src,
                     n < 0 ? strerror(errno) : "short file");
            goto out;
        }
        left -= n;
    }
    rc = SV_OK;
out:
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0 && rc == SV_OK) {
        snprintf(err, errlen, "writing %s: %s", dst, strerror(errno));
        rc = SV_IO;
    }
    if (rc != SV_OK && out >= 0)
        unlink(dst);
    return rc;
}

/* "source" plus the source's extension when it is short and plain (it helps
 * libavformat guess the container), into out. */
static void
ingest_source_file_name(const char *source, char *out, size_t cap)
{
    const char *base = strrchr(source, '/');
    const char *dot = strrchr(base ? base + 1 : source, '.');
    size_t n = dot ? strlen(dot + 1) : 0;
    bool plain = n > 0 && n <= 8;
    for (size_t i = 0; plain && i < n; i++) {
        char c = dot[1 + i];
        plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }
    snprintf(out, cap, plain ? "source.%s" : "source", plain ? dot + 1 : "");
}

/* "srt" or "vtt" from a sidecar's name (any case), else NULL. */
static const char *
ingest_subtitle_ext(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && strcasecmp(dot, ".srt") == 0)
        return "srt";
    if (dot && strcasecmp(dot, ".vtt") == 0)
        return "vtt";
    return NULL;
}

int
ingest_submit(db_t *db, const config_t *cfg, const char *source, const ingest_options_t *opt,
              int64_t *asset_id, job_t *job, char *err, size_t errlen)
{
    char dir[ASSET_PATH_MAX], dest[ASSET_PATH_MAX], fname[32], payload[64];
    json_t *options = NULL;
    char *options_text = NULL;
    ladder_codec_t codec;
    const char *base = strrchr(source, '/');
    const char *name = base ? base + 1 : source;
    struct stat sb;
    int64_t id = 0, jid = 0;
    int rc;

    if (stat(source, &sb) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", source, strerror(errno));
        return errno == ENOENT ? SV_NOT_FOUND : SV_IO;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", source);
        return SV_BAD_DATA;
    }
    if (opt->video_codec && ladder_codec_parse(opt->video_codec, &codec) != SV_OK) {
        snprintf(err, errlen, "video codec \"%s\" is not h264, hevc or av1", opt->video_codec);
        return SV_BAD_DATA;
    }
    if (opt->nsubtitles > sizeof(opt->subtitles) / sizeof(opt->subtitles[0])) {
        snprintf(err, errlen, "at most 8 subtitle files");
        return SV_TOO_BIG;
    }
    for (unsigned i = 0; i < opt->nsubtitles; i++) {
        const char *ext = ingest_subtitle_ext(opt->subtitles[i].path);
        if (ext == NULL) {
            snprintf(err, errlen, "subtitles %s: the name must end in .srt or .vtt",
                     opt->subtitles[i].path);
            return SV_BAD_DATA;
        }
        if (stat(opt->subtitles[i].path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            snprintf(err, errlen, "subtitles %s: not a readable file", opt->subtitles[i].path);
            return SV_NOT_FOUND;
        }
    }
    if (stat(source, &sb) != 0) /* again: sb is the source's from here on */
        return SV_IO;
    options = json_pack("{s:b}", "no_transcode", opt->no_transcode);
    if (options && opt->video_codec)
        json_object_set_new(options, "video_codec", json_string(opt->video_codec));
    options_text = options ? json_dumps(options, JSON_COMPACT) : NULL;
    if (options_text == NULL) {
        json_decref(options);
        snprintf(err, errlen, "out of memory");
        return SV_NO_MEMORY;
    }
    rc = assets_create(db,
                       opt->title         ? opt->title
                       : opt->source_name ? opt->source_name
                                          : name,
                       opt->source_name ? opt->source_name : name, "", (int64_t)sb.st_size,
                       options_text, &id, err, errlen);
    free(options_text);
    options_text = NULL;
    if (rc != SV_OK) {
        json_decref(options);
        return rc;
    }

    /* Place the source: data_dir/sources/<id>/source.<ext>. */
    if (snprintf(dir, sizeof(dir), "%s/sources", cfg->data_dir) < (int)sizeof(dir))
        ingest_mkdir(dir);
    if ((rc = assets_source_dir(cfg->data_dir, id, dir, sizeof(dir))) != SV_OK ||
        (rc = ingest_mkdir(dir)) != SV_OK) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        goto fail;
    }
    /* The declared name carries the extension (an upload's spool file has none). */
    ingest_source_file_name(opt->source_name ? opt->source_name : name, fname, sizeof(fname));
    if (snprintf(dest, sizeof(dest), "%s/%s", dir, fname) >= (int)sizeof(dest)) {
        snprintf(err, errlen, "data directory path too long");
        rc = SV_TOO_BIG;
        goto fail;
    }
    if (opt->move && rename(source, dest) == 0) {
        rc = SV_OK;
    } else if (link(source, dest) == 0) {
        rc = SV_OK;
    } else {
        rc = ingest_copy(source, dest, err, errlen);
        if (rc != SV_OK)
            goto fail;
    }
    /* Sidecar subtitles beside the source: sub-<n>.<ext>, recorded in the options. */
    if (opt->nsubtitles) {
        json_t *subs = json_array();
        json_object_set_new(options, "subtitles", subs);
        for (unsigned i = 0; i < opt->nsubtitles; i++) {
            char sdest[ASSET_PATH_MAX + 32];
            const char *lang = opt->subtitles[i].language;
            snprintf(sdest, sizeof(sdest), "%s/sub-%u.%s", dir, i + 1,
                     ingest_subtitle_ext(opt->subtitles[i].path));
            if ((rc = ingest_copy(opt->subtitles[i].path, sdest, err, errlen)) != SV_OK)
                goto fail;
            json_array_append_new(subs, json_pack("{s:s,s:s}", "path", sdest, "language",
                                                  lang && lang[0] ? lang : "und"));
        }
        options_text = json_dumps(options, JSON_COMPACT);
        if (options_text == NULL || (rc = assets_set_options(db, id, options_text)) != SV_OK) {
            rc = options_text ? rc : SV_NO_MEMORY;
            goto dbfail;
        }
    }
    if ((rc = assets_set_source(db, id, dest, (int64_t)sb.st_size)) != SV_OK)
        goto dbfail;
    snprintf(payload, sizeof(payload), "{\"asset_id\":%lld}", (long long)id);
    memset(job, 0, sizeof(*job));
    if (opt->run_here)
        rc = jobs_enqueue_claimed(db, INGEST_JOB_KIND, payload, 0, (int)cfg->job_max_attempts,
                                  opt->run_here, cfg->job_lease_ms, job);
    else
        rc = jobs_enqueue(db, INGEST_JOB_KIND, payload, 0, (int)cfg->job_max_attempts, 0, &jid);
    if (rc != SV_OK)
        goto dbfail;
    if (opt->run_here)
        jid = job->id;
    else
        job->id = jid;
    if ((rc = assets_set_job(db, id, jid)) != SV_OK) {
        jobs_free(job);
        goto dbfail;
    }
    *asset_id = id;
    json_decref(options);
    free(options_text);
    return SV_OK;

dbfail:
    snprintf(err, errlen, "cannot record the asset: %s (%s)", status_text(rc),
             db_last_error(db));
fail:
    ingest_remove_tree(dir);
    assets_set_state(db, id, ASSET_FAILED, err);
    json_decref(options);
    free(options_text);
    return rc;
}

/* ---- the plan ---- */

/* The stream the ladder is made from: the default video stream, else the first. */
static const probe_stream_t *
ingest_main_video(const probe_t *p)
{
    const probe_stream_t *first = NULL;
    for (unsigned i = 0; i < p->nstreams; i++) {
        const probe_stream_t *s = &p->streams[i];
        if (s->kind != PROBE_VIDEO || !s->decodable)
            continue;
        if (s->is_default)
            return s;
        if (first == NULL)
            first = s;
    }
    return first;
}

/*
 * The renditions this source will become: the video ladder planned from its
 * main video stream, and one AAC-LC stereo rendition per audio language (the
 * first stream of each language; streams without a language count as one).
 * A new JSON object, or NULL (err says why).
 */
static json_t *
ingest_plan(const config_t *cfg, const probe_t *p, char *err, size_t errlen)
{
    ladder_spec_t spec;
    ladder_codec_t codec;
    ladder_t *ladder = NULL;
    json_t *plan = NULL, *video = NULL, *audio = NULL;
    const probe_stream_t *v = ingest_main_video(p);
    int rc;

    if (ladder_parse(cfg->video_ladder, &spec, err, errlen) != SV_OK ||
        ladder_codec_parse(cfg->video_codec, &codec) != SV_OK)
        return NULL;
    plan = json_object();
    video = json_array();
    audio = json_array();
    ladder = calloc(1, sizeof(*ladder));
    if (plan == NULL || video == NULL || audio == NULL || ladder == NULL)
        goto nomem;
    if (v) {
        rc = ladder_plan(&spec, codec, v->width, v->height, v->sar_num, v->sar_den, v->fps_num,
                         v->fps_den, ladder);
        if (rc != SV_OK) {
            snprintf(err, errlen, "stream #%d: no ladder for %dx%d", v->index, v->width,
                     v->height);
            goto fail;
        }
        for (unsigned i = 0; i < ladder->n; i++) {
            const ladder_rung_t *r = &ladder->rungs[i];
            json_t *o =
                json_pack("{s:s,s:i,s:i,s:I,s:I,s:I,s:o}", "name", r->name, "width", r->width,
                          "height", r->height, "bitrate", (json_int_t)r->bitrate, "maxrate",
                          (json_int_t)r->maxrate, "bufsize", (json_int_t)r->bufsize,
                          "frame_rate", json_sprintf("%d/%d", r->fps_num, r->fps_den));
            if (o == NULL || json_array_append_new(video, o) != 0)
                goto nomem;
            if (r->h264_level)
                json_object_set_new(
                    o, "level", json_sprintf("%d.%d", r->h264_level / 10, r->h264_level % 10));
        }
        json_object_set_new(plan, "source_video_stream", json_integer(v->index));
    }
    for (unsigned i = 0; i < p->nstreams; i++) {
        const probe_stream_t *s = &p->streams[i];
        bool seen = false;
        if (s->kind != PROBE_AUDIO || !s->decodable)
            continue;
        for (unsigned k = 0; k < i; k++) {
            const probe_stream_t *t = &p->streams[k];
            if (t->kind == PROBE_AUDIO && t->decodable && strcmp(t->language, s->language) == 0)
                seen = true;
        }
        if (seen)
            continue;
        json_t *o = json_pack("{s:i,s:s,s:s,s:i,s:i,s:i}", "source_stream", s->index,
                              "language", s->language[0] ? s->language : "und", "codec", "aac",
                              "channels", 2, "sample_rate", 48000, "bitrate", 128000);
        if (o == NULL || json_array_append_new(audio, o) != 0)
            goto nomem;
    }
    json_object_set_new(plan, "codec", json_string(ladder_codec_name(codec)));
    json_object_set_new(plan, "video", video);
    json_object_set_new(plan, "audio", audio);
    free(ladder);
    return plan;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    free(ladder);
    json_decref(video);
    json_decref(audio);
    json_decref(plan);
    return NULL;
}

/* ---- the job ---- */

static void
ingest_remove_output(const config_t *cfg, int64_t id)
{
    char out[ASSET_PATH_MAX];
    if (origin_asset_dir(cfg->data_dir, id, out, sizeof(out)) == SV_OK)
        ingest_remove_tree(out);
}

typedef struct {
    jobrunner_ctx_t *ctx;
    atomic_bool stop;
} ingest_progress_t;

static void
ingest_on_progress(void *arg, int permille, const char *msg)
{
    ingest_progress_t *ip = arg;
    jobrunner_progress(ip->ctx, permille, msg);
    if (jobrunner_should_stop(ip->ctx))
        atomic_store(&ip->stop, true);
}

/* The sidecars recorded in the asset's options: [{"path":..,"language":..}]. */
static void
ingest_sidecars(const json_t *options, package_job_t *pj)
{
    const json_t *subs = json_object_get(options, "subtitles"), *s;
    size_t i;
    json_array_foreach(subs, i, s)
    {
        const char *path = json_string_value(json_object_get(s, "path"));
        const char *lang = json_string_value(json_object_get(s, "language"));
        if (path == NULL || pj->nsidecars >= PACKAGE_MAX_SIDECARS)
            continue;
        pj->sidecars[pj->nsidecars].path = path;
        pj->sidecars[pj->nsidecars].language = lang ? lang : "und";
        pj->sidecars[pj->nsidecars].label = NULL;
        pj->nsidecars++;
    }
}

/* Transcodes and packages a probed asset; records the result; state ready. */
static int
ingest_package(jobrunner_ctx_t *ctx, db_t *db, const config_t *cfg, const asset_t *a,
               const probe_t *probe, char *err, size_t errlen)
{
    package_job_t pj;
    package_result_t res;
    ingest_progress_t ip;
    json_t *options = NULL, *result = NULL;
    char *text = NULL, e[64];
    int rc;

    memset(&pj, 0, sizeof(pj));
    ip.ctx = ctx;
    atomic_init(&ip.stop, false);
    if (a->options)
        jsonx_parse(str_from_cstr(a->options), 8, &options, e, sizeof(e));
    pj.cfg = cfg;
    pj.asset_id = a->id;
    pj.source = a->source_path;
    pj.probe = probe;
    pj.no_transcode = json_is_true(json_object_get(options, "no_transcode"));
    pj.video_codec = json_string_value(json_object_get(options, "video_codec"));
    ingest_sidecars(options, &pj);
    pj.on_progress = ingest_on_progress;
    pj.arg = &ip;
    pj.cancel = &ip.stop;
    assets_set_state(db, a->id, pj.no_transcode ? ASSET_PACKAGING : ASSET_TRANSCODING, NULL);
    rc = package_asset(&pj, &res, err, errlen);
    json_decref(options);
    if (rc != SV_OK)
        return rc;
    result = json_pack("{s:f,s:f,s:b,s:I,s:i,s:f,s:s*}", "duration", res.duration_ms / 1000.0,
                       "speed", res.speed, "remuxed", res.remuxed, "decode_errors",
                       (json_int_t)res.decode_errors, "renditions", (int)res.nrenditions,
                       "first_playable", res.first_playable_ms / 1000.0, "note",
                       res.note[0] ? res.note : NULL);
    text = result ? json_dumps(result, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(result);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory");
        return SV_NO_MEMORY;
    }
    if ((rc = assets_set_result(db, a->id, text)) != SV_OK ||
        (rc = assets_set_state(db, a->id, ASSET_READY, NULL)) != SV_OK) {
        snprintf(err, errlen, "recording the result: %s (%s)", status_text(rc),
                 db_last_error(db));
        free(text);
        return SV_DB;
    }
    log_info("ingest", "asset %lld ready: %s", (long long)a->id, text);
    free(text);
    jobrunner_progress(ctx, 1000, "ready");
    return SV_OK;
}

typedef struct {
    const config_t *cfg;
} ingest_ctx_t;

static int
ingest_fail(jobrunner_ctx_t *ctx, db_t *db, const config_t *cfg, int64_t id, int rc,
            const char *reason)
{
    /* Whatever this job made for the asset goes; the source stays for a retry
     * or a look. */
    ingest_remove_output(cfg, id);
    /* Bad input does not get better by trying again; I/O and time may. */
    bool retry = rc == SV_IO || rc == SV_TIMEOUT || rc == SV_BUSY || rc == SV_NO_MEMORY;
    assets_set_state(db, id, ASSET_FAILED, reason);
    jobrunner_set_error(ctx, retry, "%s", reason);
    log_info("ingest", "asset %lld failed: %s", (long long)id, reason);
    return rc;
}

static int
ingest_job(jobrunner_ctx_t *ctx, const job_t *job)
{
    const config_t *cfg = jobrunner_arg(ctx);
    db_t *db = jobrunner_db(ctx);
    json_t *payload = NULL, *pj = NULL, *plan = NULL;
    probe_limits_t limits;
    probe_t *probe = NULL;
    asset_t a;
    char err[512], msg[128];
    char *probe_text = NULL, *plan_text = NULL;
    int64_t id;
    int rc;

    memset(&a, 0, sizeof(a));
    if (jsonx_parse(str_make(job->payload, job->payload_len), 8, &payload, err, sizeof(err)) !=
            SV_OK ||
        !json_is_integer(json_object_get(payload, "asset_id"))) {
        json_decref(payload);
        jobrunner_set_error(ctx, false, "payload must be {\"asset_id\": N}");
        return SV_BAD_DATA;
    }
    id = json_integer_value(json_object_get(payload, "asset_id"));
    json_decref(payload);
    rc = assets_get(db, id, &a);
    if (rc != SV_OK) {
        jobrunner_set_error(ctx, rc != SV_NOT_FOUND, "asset %lld: %s", (long long)id,
                            status_text(rc));
        return rc;
    }

    assets_set_state(db, id, ASSET_PROBING, NULL);
    jobrunner_progress(ctx, 10, "probing the source");
    limits.max_width = (int)cfg->media_max_width;
    limits.max_height = (int)cfg->media_max_height;
    limits.max_duration_ms = cfg->media_max_duration_ms;
    limits.timeout_ms = (uint64_t)cfg->media_probe_timeout_ms;
    probe = calloc(1, sizeof(*probe)); /* large: not on the stack */
    if (probe == NULL) {
        rc = ingest_fail(ctx, db, cfg, id, SV_NO_MEMORY, "out of memory");
        goto out;
    }
    rc = probe_file(a.source_path, &limits, probe, err, sizeof(err));
    if (rc == SV_OK)
        rc = probe_check(probe, &limits, err, sizeof(err));
    if (rc != SV_OK) {
        rc = ingest_fail(ctx, db, cfg, id, rc, err);
        goto out;
    }
    pj = probe_to_json(probe);
    probe_text = pj ? json_dumps(pj, JSON_COMPACT) : NULL;
    if (probe_text == NULL) {
        rc = ingest_fail(ctx, db, cfg, id, SV_NO_MEMORY, "out of memory");
        goto out;
    }
    plan = ingest_plan(cfg, probe, err, sizeof(err));
    plan_text = plan ? json_dumps(plan, JSON_COMPACT) : NULL;
    if (plan_text == NULL) {
        rc = ingest_fail(ctx, db, cfg, id, plan ? SV_NO_MEMORY : SV_BAD_DATA,
                         plan ? "out of memory" : err);
        goto out;
    }
    if ((rc = assets_set_probe(db, id, probe_text, probe->duration_ms)) != SV_OK ||
        (rc = assets_set_plan(db, id, plan_text)) != SV_OK ||
        (rc = assets_set_state(db, id, ASSET_PROBED, NULL)) != SV_OK) {
        jobrunner_set_error(ctx, true, "recording the probe: %s (%s)", status_text(rc),
                            db_last_error(db));
        goto out;
    }
    snprintf(msg, sizeof(msg), "probed: %u stream%s, %lld.%03lld s", probe->nstreams,
             probe->nstreams == 1 ? "" : "s", (long long)(probe->duration_ms / 1000),
             (long long)(probe->duration_ms % 1000));
    jobrunner_progress(ctx, 100, msg);
    log_info("ingest", "asset %lld %s", (long long)id, msg);

    rc = ingest_package(ctx, db, cfg, &a, probe, err, sizeof(err));
    if (rc != SV_OK) {
        if (rc == SV_UNAVAILABLE) {
            /* stopped (shutdown or lost lease): another attempt starts over */
            ingest_remove_output(cfg, id);
            jobrunner_set_error(ctx, true, "%s", err);
        } else {
            rc = ingest_fail(ctx, db, cfg, id, rc, err);
        }
        goto out;
    }
out:
    free(probe_text);
    free(plan_text);
    json_decref(plan);
    json_decref(pj);
    free(probe);
    assets_free(&a);
    return rc;
}

int
ingest_register(jobrunner_t *jr, const config_t *cfg)
{
    return jobrunner_register(jr, INGEST_JOB_KIND, ingest_job, (void *)cfg);
}
