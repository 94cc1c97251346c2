/*
 * probe.h: what a media file holds, read with libavformat.
 *
 * probe_file() opens a file, reads its streams (decoding a few frames as
 * libavformat needs to), and fills a probe_t with the container, the
 * duration and, per stream, codec, picture, colour/HDR and audio facts.
 * probe_check() applies the ingest rules and says precisely what is wrong
 * (which stream, which check, what was found). No libav type appears here:
 * only media/ includes libav headers.
 */
#ifndef SV_PROBE_H
#define SV_PROBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define PROBE_MAX_STREAMS 64
#define PROBE_NAME 32
#define PROBE_TEXT 128

typedef enum {
    PROBE_VIDEO = 0,
    PROBE_AUDIO,
    PROBE_SUBTITLE,
    PROBE_DATA,
    PROBE_ATTACHMENT,
    PROBE_OTHER,
} probe_kind_t;

typedef struct {
    int index;
    probe_kind_t kind;
    char codec[PROBE_NAME];   /* "h264", "aac", "subrip" ... */
    char profile[PROBE_NAME]; /* "High", "LC", "" */
    int level;                /* codec level, -99 when unknown */
    bool decodable;           /* a decoder exists in this build */
    int64_t bit_rate;         /* bits/s, 0 when unknown */
    int64_t duration_ms;      /* 0 when unknown */
    char language[8];         /* ISO 639 from the container, "" when none */
    char title[PROBE_TEXT];
    bool is_default;
    /* video */
    int width, height;
    int sar_num, sar_den; /* sample aspect ratio, 0/1 when unknown */
    int fps_num, fps_den; /* average frame rate, 0/1 when unknown */
    char pix_fmt[PROBE_NAME];
    char field_order[16]; /* "progressive", "tt", "bb", "tb", "bt", "unknown" */
    char color_primaries[PROBE_NAME];
    char color_transfer[PROBE_NAME];
    char color_space[PROBE_NAME];
    char color_range[16];
    bool hdr10; /* PQ transfer (smpte2084) with BT.2020 primaries */
    bool hlg;   /* arib-std-b67 transfer */
    bool has_mastering_display;
    bool has_content_light;
    int max_cll, max_fall; /* cd/m2, when has_content_light */
    /* audio */
    int channels;
    int sample_rate;
    char channel_layout[64];
} probe_stream_t;

typedef struct {
    char container[PROBE_TEXT]; /* libavformat's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
    char container_long[PROBE_TEXT];
    int64_t duration_ms; /* 0 when unknown */
    int64_t start_ms;
    int64_t bit_rate;
    int64_t size_bytes;
    unsigned nstreams;
    probe_stream_t streams[PROBE_MAX_STREAMS];
} probe_t;

typedef struct {
    int max_width, max_height; /* larger pictures are refused */
    int64_t max_duration_ms;   /* longer files are refused (0: no limit) */
    uint64_t timeout_ms;       /* opening and reading the streams, at most */
} probe_limits_t;

/*
 * Reads path. SV_OK with *out filled; SV_BAD_DATA when the file is not
 * media libavformat can read (err says what libavformat reported, e.g.
 * "moov atom not found"), SV_NOT_FOUND, SV_TIMEOUT, SV_NO_MEMORY.
 */
int probe_file(const char *path, const probe_limits_t *limits, probe_t *out, char *err,
               size_t errlen);

/*
 * The ingest rules: at least one audio or video stream with a decoder; every
 * video stream with a picture size within the limits; a duration above zero
 * and within the limit. SV_OK, or SV_BAD_DATA / SV_TOO_BIG / SV_UNSUPPORTED
 * with "stream #1 (video, h264): 20000x20000 is larger than 8192x8192" style
 * messages in err.
 */
int probe_check(const probe_t *p, const probe_limits_t *limits, char *err, size_t errlen);

/* The probe as a new JSON object (json_decref it); NULL on out-of-memory. */
json_t *probe_to_json(const probe_t *p);

const char *probe_kind_name(probe_kind_t k);

/* Routes libav's log lines into the project's log (debug level), once per process. */
void probe_init_logging(void);

#endif
