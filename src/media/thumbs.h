/*
 * thumbs.h: the poster image and the thumbnail sprite sheets of an asset.
 *
 * Frames are pushed as they are decoded (the transcoder's decoded pictures,
 * so the source is decoded once), or read from a file by decoding only
 * keyframes near each interval (the --no-transcode path). Out of them come,
 * in out_dir:
 *   poster.jpg      one representative picture (the first frame after 10%
 *                   of the duration that is not nearly uniform, e.g. black),
 *                   at most poster_width wide, display aspect kept;
 *   thumbs-<n>.jpg  sprite sheets (n from 1) of cols x rows tiles, each tile
 *                   tile_width wide (height from the display aspect, even);
 *   thumbs.vtt      a WebVTT track, one cue per interval, whose text is
 *                   "thumbs-<n>.jpg#xywh=x,y,w,h" (the scrubbing convention
 *                   players and JW/Video.js plugins read).
 * All files are written to a temporary name and renamed when complete.
 */
#ifndef SV_THUMBS_H
#define SV_THUMBS_H

#include <stddef.h>
#include <stdint.h>

struct AVFrame;

typedef struct {
    int interval_ms;  /* one tile per interval (default 2000..10000 by duration) */
    int tile_width;   /* default 160 */
    int cols, rows;   /* default 5 x 5 */
    int poster_width; /* default 1280 */
    int jpeg_quality; /* 2..31, libavcodec's mjpeg qscale; default 5 */
} thumbs_options_t;

typedef struct thumbs thumbs_t;

/* Defaults for an asset of duration_ms (interval: about 100 tiles, 2 to 10 s). */
void thumbs_options_default(thumbs_options_t *o, int64_t duration_ms);

/*
 * Starts a set for pictures of width x height with sample aspect ratio
 * sar_num:sar_den (0:0 = square) and duration_ms in all. SV_OK with *out,
 * SV_IO (out_dir unwritable), SV_NO_MEMORY.
 */
int thumbs_open(const char *out_dir, const thumbs_options_t *o, int width, int height,
                int sar_num, int sar_den, int64_t duration_ms, thumbs_t **out, char *err,
                size_t errlen);
/* Offers a decoded picture (any pixel format libswscale reads) presented at
 * pts_ms. Cheap for frames it does not keep. SV_OK, SV_NO_MEMORY, SV_IO. */
int thumbs_push(thumbs_t *t, const struct AVFrame *frame, int64_t pts_ms);
/* Writes what is left (the last sheet, thumbs.vtt, the poster if none was
 * chosen yet: the best picture seen) and frees t. SV_OK or SV_IO. */
int thumbs_finish(thumbs_t *t, char *err, size_t errlen);
/* Frees t without finishing; temporary files are removed. */
void thumbs_abort(thumbs_t *t);

/*
 * The whole job from a file: decodes keyframes of stream video_stream near
 * every interval. SV_OK, SV_BAD_DATA (no decodable picture), SV_IO.
 */
int thumbs_make_from_file(const char *source, int video_stream, int64_t duration_ms,
                          const char *out_dir, const thumbs_options_t *o, char *err,
                          size_t errlen);

#endif
