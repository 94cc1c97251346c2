/*
 * config.h: the effective configuration of a StreamVerse process.
 *
 * Sources, later ones winning: built-in defaults, the config file, the
 * environment (STREAMVERSE_<KEY> with the key upper-cased), command-line flags.
 *
 * File format: one "key = value" per line; '#' starts a comment (outside
 * quotes); blank lines are ignored; a value may be double-quoted (then
 * \" \\ \n \t escapes apply). Sizes take k, m, g, t suffixes (powers of
 * 1024); durations take ms, s, m, h suffixes (a bare number is seconds).
 * Text values may not contain control characters other than tab (no CR or LF
 * can reach a path, a header or a log). An unknown key, a bad value or a
 * repeated key is an error that names the file, the line and the key.
 *
 * The key table in config.c is the single source of names, defaults, help
 * text and types; config_print() writes a documented file from it.
 */
#ifndef SV_CONFIG_H
#define SV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define CONFIG_STR_MAX 1024

typedef struct config {
    /* process */
    char data_dir[CONFIG_STR_MAX];   /* data_dir: database, media, logs, temp */
    char database[CONFIG_STR_MAX];   /* database: "" = SQLite in data_dir */
    char log_level[16];              /* log_level */
    char log_format[16];             /* log_format */
    char access_log[CONFIG_STR_MAX]; /* access_log: "" (default path), "off", "stderr", path */
    char web_root[CONFIG_STR_MAX];   /* web_root: the web app's files, served at / */

    /* HTTP server */
    char listen[256]; /* listen: HOST:PORT */
    int64_t workers;  /* workers: event loops, 0 = one per core */
    int64_t http_max_connections;
    int64_t http_max_header_bytes;
    int64_t http_max_headers;
    int64_t http_max_body_bytes;
    int64_t http_max_upload_bytes;
    int64_t http_body_memory_bytes;
    int64_t http_output_max_bytes;
    int64_t http_header_timeout_ms;
    int64_t http_body_timeout_ms;
    int64_t http_send_timeout_ms;
    int64_t http_keepalive_timeout_ms;
    int64_t http_keepalive_requests;
    int64_t http_shutdown_timeout_ms;
    int64_t http_file_cache_valid_ms; /* how long an open file is reused; 0: no cache */
    char cors_allow_origin[256];

    /* outbound HTTP client */
    int64_t http_client_timeout_ms;
    int64_t http_client_connect_timeout_ms;

    /* API */
    int64_t api_workers; /* threads for handlers that block (database) */
    int64_t api_page_default;
    int64_t api_page_max;
    int64_t json_max_depth;

    /* media ingest */
    int64_t media_max_width;
    int64_t media_max_height;
    int64_t media_max_duration_ms;
    int64_t media_probe_timeout_ms;
    char video_ladder[256]; /* video_ladder: "1080:5000,720:3000,..." */
    char video_codec[16];   /* video_codec: h264, hevc, av1 */
    char video_preset[16];  /* video_preset: x264 preset name */
    int64_t segment_duration_ms;
    int64_t media_max_decode_errors;

    /* job queue */
    int64_t job_workers;
    int64_t job_lease_ms;
    int64_t job_max_attempts;
    int64_t job_backoff_base_ms;
    int64_t job_backoff_max_ms;
    int64_t job_poll_ms;
} config_t;

/* Fills every field with its built-in default. */
void config_defaults(config_t *c);

/*
 * Parses config text (origin names it in errors, e.g. the file path; NULL
 * for "config") over the values already in c. Lines are at most 4096 bytes.
 * SV_OK, or SV_BAD_DATA with "origin:line: key: what is wrong" in err.
 * On failure c may hold values from lines before the bad one.
 * err may be NULL; a message longer than errlen is truncated.
 */
int config_parse(config_t *c, const char *text, size_t len, const char *origin, char *err,
                 size_t errlen);

/* Reads and parses a file. SV_NOT_FOUND / SV_IO / SV_TOO_BIG (over 1 MiB) / SV_BAD_DATA. */
int config_load_file(config_t *c, const char *path, char *err, size_t errlen);

/*
 * Applies STREAMVERSE_* variables from envp (NULL-terminated, e.g. environ);
 * values are taken literally (no quotes, no escapes). Unknown STREAMVERSE_
 * names are errors, except the few that are not config keys (see
 * config_env_reserved in config.c). SV_OK, or SV_BAD_DATA with
 * "environment: NAME: what is wrong" in err.
 */
int config_apply_env(config_t *c, char *const *envp, char *err, size_t errlen);

/*
 * Sets one key from text, as a flag would (the value is literal). SV_OK,
 * SV_NOT_FOUND for an unknown key, SV_BAD_DATA; err gets "key: what is wrong".
 */
int config_set(config_t *c, const char *key, const char *value, char *err, size_t errlen);

/*
 * Rules that span keys: api_page_default <= api_page_max and job_backoff_base
 * <= job_backoff_max. Call once after every source has been applied (a later
 * source may repair what an earlier one set). SV_OK, or SV_BAD_DATA with
 * "key: what is wrong" in err.
 */
int config_validate(const config_t *c, char *err, size_t errlen);

/*
 * Appends the whole configuration to out as a config file, each key preceded
 * by its help and default as comments. Parsing the result gives back c
 * (for any c built by these functions). SV_OK, or the buf_t error, and then
 * out is as it was before the call.
 */
int config_print(const config_t *c, buf_t *out);

/*
 * Parse helpers, shared with flags: "64k" -> 65536, "1500ms"/"2s"/"5m" -> ms.
 * No sign, no spaces. SV_OK, SV_BAD_DATA, or SV_TOO_BIG past INT64_MAX;
 * *out is written only on success. Range checks are the caller's.
 */
int config_parse_size(const char *s, int64_t *out);
int config_parse_duration_ms(const char *s, int64_t *out);

#endif
