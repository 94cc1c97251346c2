/*
 * ingest.h: a source becomes an asset.
 *
 * ingest_submit() records the asset, places the source under
 * data_dir/sources/<id>/ (moved, hard-linked, or copied), and queues an
 * "asset.ingest" job. The job (ingest_register() installs its handler)
 * probes the source and applies the ingest rules, then transcodes and
 * packages it (package.h) into data_dir/media/vod/<id>/, where the origin
 * serves it; the asset is playable from its first segments and "ready" at
 * the end. A source that fails leaves the asset failed with the reason and
 * removes whatever output the job had made.
 */
#ifndef SV_INGEST_H
#define SV_INGEST_H

#include <stdbool.h>
#include <stdint.h>

#include "base/config.h"
#include "store/db.h"
#include "store/jobrunner.h"
#include "store/jobs.h"

#define INGEST_JOB_KIND "asset.ingest"

typedef struct {
    const char *title;       /* NULL: the source's file name */
    const char *source_name; /* NULL: the source's file name */
    bool no_transcode;       /* package as is (mezzanine workflow) */
    const char *video_codec; /* "h264", "hevc", "av1"; NULL: the configured one */
    unsigned nsubtitles;     /* sidecar subtitle files, copied beside the source */
    struct {
        const char *path;
        const char *language; /* ISO 639-2, or NULL ("und") */
    } subtitles[8];
    bool move; /* rename the source into place (an upload spooled on the same disk) */
    /* A worker name: queue the job already claimed by the caller, who runs
     * it (jobs_enqueue_claimed). NULL: queue it for the workers. */
    const char *run_here;
} ingest_options_t;

/* SV_OK with *asset_id and *job (its id; with opt->run_here, the whole
 * claimed job to run: jobs_free it after); otherwise err says why (and no
 * asset is left behind half made: it is marked failed with the reason). */
int ingest_submit(db_t *db, const config_t *cfg, const char *source,
                  const ingest_options_t *opt, int64_t *asset_id, job_t *job, char *err,
                  size_t errlen);

/* Registers the asset.ingest handler; cfg must outlive the runner. */
int ingest_register(jobrunner_t *jr, const config_t *cfg);

#endif
