/*
 * package.h: a probed source becomes a packaged asset.
 *
 * package_asset() makes data_dir/media/vod/<id>/ (presentation.h describes
 * its layout): the video ladder and one AAC rendition per audio language,
 * transcoded in one pass (or the source's own packets with no_transcode,
 * when transcode_can_remux() allows it; otherwise it transcodes and says
 * why in the result's note), the subtitles as WebVTT (text streams of the
 * source and sidecar files), the poster and the thumbnail sprites. asset.json
 * is written as soon as every track is open, so the origin can serve the
 * first segments while later ones are made.
 */
#ifndef SV_PACKAGE_H
#define SV_PACKAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/config.h"
#include "media/probe.h"

#define PACKAGE_MAX_SIDECARS 16

typedef struct {
    const char *path;     /* .srt or .vtt */
    const char *language; /* ISO 639-2 ("eng"), or "und" */
    const char *label;    /* NULL: from the language */
} package_sidecar_t;

typedef struct {
    const config_t *cfg;
    int64_t asset_id;
    const char *source;
    const probe_t *probe;
    bool no_transcode;
    const char *video_codec; /* "h264", "hevc", "av1"; NULL: the configured one */
    unsigned nsidecars;
    package_sidecar_t sidecars[PACKAGE_MAX_SIDECARS];
    /* progress in per mille of the whole job, with a line for people */
    void (*on_progress)(void *arg, int permille, const char *msg);
    void *arg;
    const atomic_bool *cancel;
} package_job_t;

typedef struct {
    int64_t duration_ms;
    double speed; /* media seconds per wall second */
    bool remuxed;
    int64_t decode_errors;
    unsigned nrenditions;
    uint64_t first_playable_ms; /* from the start of the job to the first
                                 * playable manifest (every track has a segment) */
    char note[512];             /* what people should know (a fallback, skipped subtitles) */
} package_result_t;

/* SV_OK with *res; otherwise err says what failed and the caller removes
 * the directory (ingest does). */
int package_asset(const package_job_t *job, package_result_t *res, char *err, size_t errlen);

/* A language's name for people ("eng" -> "English"); the code itself when unknown. */
const char *package_language_label(const char *code);

#endif
