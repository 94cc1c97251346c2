/*
 * ladder.h: the ABR ladder for a source.
 *
 * A ladder specification lists rungs by their short side and video bitrate
 * for a 16:9 picture of that size: "1080:5000,720:3000,480:1400,360:800,240:400"
 * (kbit/s, H.264). ladder_plan() turns it into the rungs for one source:
 *  - never upscales: rungs taller (on the short side) than the source are
 *    dropped; a source smaller than every rung gets one rung of its own size;
 *  - keeps the display aspect ratio, square pixels out (a non-square SAR is
 *    resolved), even dimensions for 4:2:0;
 *  - portrait sources ladder on their short side too (1080x1920 -> 1080p rung);
 *  - scales each bitrate by the rung's pixels against the 16:9 reference,
 *    then by the codec's efficiency (HEVC 0.6, AV1 0.5 of H.264);
 *  - sets peak rate and buffer (1.5x and 2x the average, capped VBR) and an
 *    H.264 level that fits the picture and rate.
 * Frame rate stays the source's, made constant and exact by ladder_snap_fps().
 */
#ifndef SV_LADDER_H
#define SV_LADDER_H

#include <stddef.h>
#include <stdint.h>

#define LADDER_MAX_RUNGS 12

typedef enum { LADDER_H264 = 0, LADDER_HEVC, LADDER_AV1 } ladder_codec_t;

typedef struct {
    int short_side; /* 1080, 720 ... */
    int kbps;       /* for a 16:9 picture, H.264 */
} ladder_spec_rung_t;

typedef struct {
    unsigned n;
    ladder_spec_rung_t rungs[LADDER_MAX_RUNGS]; /* descending short side */
} ladder_spec_t;

typedef struct {
    char name[16]; /* "720p" (by the short side) */
    int width, height;
    int64_t bitrate; /* bits/s average */
    int64_t maxrate; /* bits/s peak */
    int64_t bufsize; /* bits */
    int fps_num, fps_den;
    int h264_level; /* 30 = 3.0 ... (H.264 only; 0 otherwise) */
} ladder_rung_t;

typedef struct {
    ladder_codec_t codec;
    unsigned n;
    ladder_rung_t rungs[LADDER_MAX_RUNGS]; /* highest first */
} ladder_t;

/*
 * Parses a specification. Rungs must have short sides from 64 to 4320 (even),
 * bitrates from 50 to 200000 kbit/s, and be strictly descending. SV_OK, or
 * SV_BAD_DATA with "rung 2 (\"720x3000\"): ..." in err.
 */
int ladder_parse(const char *text, ladder_spec_t *out, char *err, size_t errlen);

/* "h264", "hevc", "av1". SV_OK or SV_BAD_DATA. */
int ladder_codec_parse(const char *name, ladder_codec_t *out);
const char *ladder_codec_name(ladder_codec_t c);

/*
 * The rungs for a source of width x height pixels with sample aspect ratio
 * sar_num:sar_den (0:0 or 0:1 = square) at fps_num/fps_den. SV_OK, or
 * SV_BAD_DATA for a source without a picture size.
 */
int ladder_plan(const ladder_spec_t *spec, ladder_codec_t codec, int width, int height,
                int sar_num, int sar_den, int fps_num, int fps_den, ladder_t *out);

/* A source's average frame rate as the constant rate rungs run at: within
 * 0.5% of a broadcast rate (24000/1001, 25, 30000/1001 ...) it becomes
 * that rate; others round to 1/1000 fps; capped at 60; unknown -> 25. */
void ladder_snap_fps(int *num, int *den);

#endif
