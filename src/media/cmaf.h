/*
 * cmaf.h: CMAF track files and their fragment index.
 *
 * A rendition is one fragmented MP4 file, the track file:
 *   ftyp moov                      the init segment (byte 0 .. init_size)
 *   moof mdat   moof mdat   ...    one fragment per segment
 * with one track (track_ID 1), a continuous tfdt, default-base-is-moof and
 * trun data offsets, and no edit list: decode times are shifted so that the
 * first sample's composition time equals the presentation time the caller
 * gave, with signed composition offsets (trun version 1) for B-frames.
 *
 * Beside it, the fragment index (little-endian, fixed records):
 *   header (CMAF_INDEX_HEADER_SIZE bytes)
 *     0  magic "SVCMAFI1"
 *     8  u32 version (1)          12 u32 header size (64)
 *     16 u32 timescale            20 u32 entry size (32)
 *     24 u64 init size            32 u32 flags (CMAF_INDEX_COMPLETE)
 *     36 u32 reserved (0)         40 i64 total duration (timescale units,
 *                                        valid once complete)
 *     48 16 reserved bytes (0)
 *   entries (CMAF_INDEX_ENTRY_SIZE bytes each), one per fragment in order
 *     0  i64 start: earliest presentation time in the fragment (timescale)
 *     8  u32 duration: the sum of its sample durations (timescale)
 *     12 u32 flags (CMAF_FRAG_INDEPENDENT: starts with a sync sample)
 *     16 u64 offset of its moof in the track file
 *     24 u32 size: moof + mdat bytes
 *     28 u32 iframe size: bytes from offset to the end of the first sample
 *        (moof, mdat header, first sample), for I-frame playlists; 0 for audio
 *
 * The writer appends a fragment's bytes to the track file before its index
 * entry, so a reader on the same machine that sees an entry can serve it: an
 * asset is playable while later segments are still being made. The
 * complete flag is set last.
 */
#ifndef SV_CMAF_H
#define SV_CMAF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMAF_INDEX_MAGIC "SVCMAFI1"
#define CMAF_INDEX_VERSION 1
#define CMAF_INDEX_HEADER_SIZE 64
#define CMAF_INDEX_ENTRY_SIZE 32
#define CMAF_INDEX_COMPLETE 0x1u
#define CMAF_FRAG_INDEPENDENT 0x1u

typedef enum { CMAF_VIDEO = 1, CMAF_AUDIO = 2 } cmaf_kind_t;

/* What the init segment says about the track. */
typedef struct {
    cmaf_kind_t kind;
    uint32_t timescale;    /* video: e.g. 90000 or 24000; audio: the sample rate */
    char fourcc[5];        /* sample entry: "avc1", "hvc1", "av01", "mp4a" */
    const uint8_t *config; /* the codec configuration record: the body of the
                            * avcC / hvcC / av1C box, or the AudioSpecificConfig
                            * for mp4a (placed in esds); borrowed until open returns */
    size_t config_len;
    char language[4];                  /* ISO 639-2/T ("eng"), "und" when unknown */
    uint32_t avg_bitrate, max_bitrate; /* btrt box; 0 when unknown */
    /* video */
    int width, height;    /* coded picture, pixels */
    int sar_num, sar_den; /* pasp when not 1:1 (0:0 = square) */
    /* colr nclx when colour_primaries is set (ISO/IEC 23091-2 code points,
     * the same numbers as libavutil's AVColorPrimaries etc.); 0 = none */
    int colour_primaries, transfer_characteristics, matrix_coefficients;
    bool full_range;
    bool has_mdcv;                 /* mdcv: SMPTE ST 2086 mastering display colour volume */
    uint16_t mdcv_primaries[3][2]; /* G, B, R x, y in 0.00002 units (as in the box) */
    uint16_t mdcv_white[2];
    uint32_t mdcv_max_lum, mdcv_min_lum; /* 0.0001 cd/m2 */
    bool has_clli;                       /* clli: content light level */
    uint16_t max_cll, max_fall;
    /* audio */
    int channels, sample_rate;
} cmaf_track_t;

typedef struct {
    int64_t dts;         /* decode time, timescale units, increasing */
    int64_t pts;         /* presentation time (>= 0 for the first sample) */
    uint32_t duration;   /* timescale units, > 0 */
    bool keyframe;       /* a sync sample (IDR / random access point) */
    const uint8_t *data; /* as stored in mdat: length-prefixed NAL units for
                          * AVC/HEVC (see bitstream.h), OBUs for AV1, raw AAC */
    size_t size;
} cmaf_sample_t;

typedef struct cmaf_writer cmaf_writer_t;

/*
 * Creates track_path and index_path (both must not exist), writes the init
 * segment and the index header. SV_OK with *out, else SV_IO / SV_EXISTS /
 * SV_BAD_DATA (a track description it cannot write) with err filled.
 */
int cmaf_writer_open(const char *track_path, const char *index_path, const cmaf_track_t *track,
                     cmaf_writer_t **out, char *err, size_t errlen);
/* Queues a sample in the current fragment (its bytes are copied).
 * SV_NO_MEMORY, or SV_BAD_DATA when dts goes backwards or duration is 0. */
int cmaf_writer_add(cmaf_writer_t *w, const cmaf_sample_t *s);
/* Number of samples queued in the current fragment. */
size_t cmaf_writer_pending(const cmaf_writer_t *w);
/*
 * Writes the queued samples as one fragment (moof+mdat) and then its index
 * entry. Does nothing when no sample is queued. SV_OK or SV_IO (err filled).
 */
int cmaf_writer_cut(cmaf_writer_t *w, char *err, size_t errlen);
/*
 * Cuts what is queued, marks the index complete, syncs both files to disk
 * and closes them. SV_OK or SV_IO. Always frees w.
 */
int cmaf_writer_finish(cmaf_writer_t *w, char *err, size_t errlen);
/* Closes without completing (after a failure); the caller removes the files. */
void cmaf_writer_abort(cmaf_writer_t *w);

/* ---- reading the index ---- */

typedef struct {
    int64_t start;
    uint32_t duration;
    uint32_t flags;
    uint64_t offset;
    uint32_t size;
    uint32_t iframe_size;
} cmaf_index_entry_t;

typedef struct {
    uint32_t timescale;
    uint64_t init_size;
    bool complete;
    int64_t total_duration; /* sum of entry durations */
    size_t nentries;
    cmaf_index_entry_t *entries; /* malloc'd: cmaf_index_free() */
} cmaf_index_t;

/*
 * Parses an index held in memory (len bytes). A trailing partial entry (a
 * writer in the middle of appending) is ignored. Every entry is checked:
 * offsets increase and do not overlap, the first starts at init_size,
 * starts are contiguous (each = previous start + previous duration).
 * SV_OK, SV_BAD_DATA with err saying which field of which entry is wrong,
 * SV_NO_MEMORY.
 */
int cmaf_index_parse(const uint8_t *data, size_t len, cmaf_index_t *out, char *err,
                     size_t errlen);
/* Reads and parses a file: SV_NOT_FOUND, SV_IO, or as cmaf_index_parse(). */
int cmaf_index_load(const char *path, cmaf_index_t *out, char *err, size_t errlen);
void cmaf_index_free(cmaf_index_t *ix);

/*
 * Bandwidth of the track from its index, in bits/s: average = all fragment
 * bytes over the total duration; peak = the largest fragment's bytes over its
 * duration (the measured peak HLS asks for in BANDWIDTH).
 */
void cmaf_index_bandwidth(const cmaf_index_t *ix, uint64_t *avg_bps, uint64_t *peak_bps);

#endif
