/*
 * assets.h: media assets. An asset is one source (uploaded or ingested from
 * a file) and everything made from it. Its row records where the source is,
 * what probing found, and where the ingest job stands:
 *   queued -> probing -> probed -> transcoding -> packaging -> ready
 *   (any step) -> failed, with the reason.
 * Sources live in data_dir/sources/<id>/, outside the served media tree.
 */
#ifndef SV_ASSETS_H
#define SV_ASSETS_H

#include <jansson.h>
#include <stdint.h>

#include "store/db.h"

typedef enum {
    ASSET_QUEUED = 0,
    ASSET_PROBING,
    ASSET_PROBED,
    ASSET_TRANSCODING,
    ASSET_PACKAGING,
    ASSET_READY,
    ASSET_FAILED,
} asset_state_t;

#define ASSET_TITLE_MAX 256
#define ASSET_NAME_MAX 256
#define ASSET_PATH_MAX 1280 /* a data_dir (CONFIG_STR_MAX) plus what goes under it */

/* A copy of one row; probe, plan, result, options and error are malloc'd: assets_free(). */
typedef struct {
    int64_t id;
    char title[ASSET_TITLE_MAX];
    asset_state_t state;
    char source_name[ASSET_NAME_MAX]; /* the name it was given, for people */
    char source_path[ASSET_PATH_MAX];
    int64_t source_size;
    char *options; /* JSON object */
    char *probe;   /* JSON object, NULL until probed */
    char *plan;    /* JSON object: the renditions to make, NULL until probed */
    char *result;  /* JSON object: what packaging made, NULL until it has */
    int64_t duration_ms;
    char *error; /* NULL unless failed */
    int64_t job_id;
    int64_t created_at_ms, updated_at_ms;
} asset_t;

const char *assets_state_name(asset_state_t s);

/* Inserts a queued asset. title and source_name are checked (1..255 bytes of
 * UTF-8 without control characters). SV_OK with *id, SV_BAD_DATA, SV_DB. */
int assets_create(db_t *db, const char *title, const char *source_name, const char *source_path,
                  int64_t source_size, const char *options_json, int64_t *id, char *err,
                  size_t errlen);
int assets_set_source(db_t *db, int64_t id, const char *source_path, int64_t source_size);
int assets_set_job(db_t *db, int64_t id, int64_t job_id);
/* Sets the state; error is stored for ASSET_FAILED and cleared otherwise. */
int assets_set_state(db_t *db, int64_t id, asset_state_t state, const char *error);
int assets_set_probe(db_t *db, int64_t id, const char *probe_json, int64_t duration_ms);
int assets_set_plan(db_t *db, int64_t id, const char *plan_json);
int assets_set_options(db_t *db, int64_t id, const char *options_json);
int assets_set_result(db_t *db, int64_t id, const char *result_json);

int assets_get(db_t *db, int64_t id, asset_t *out); /* SV_NOT_FOUND */
void assets_free(asset_t *a);
typedef int (*assets_list_fn)(void *arg, const asset_t *a);
/* Ascending ids after after_id, at most limit (1..1000). */
int assets_list(db_t *db, int64_t after_id, int limit, assets_list_fn fn, void *arg);

/* The API representation (a new reference). NULL on out-of-memory. */
json_t *assets_to_json(const asset_t *a);

/* data_dir/sources/<id> into out. SV_OK or SV_TOO_BIG. */
int assets_source_dir(const char *data_dir, int64_t id, char *out, size_t cap);

#endif
