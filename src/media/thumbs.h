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
 *
 * The layout depends only on the options and the duration: interval k
 * (from 0) covers [k * interval_ms, min((k + 1) * interval_ms, duration)),
 * has cue k, and its tile is number k % (cols * rows) of sheet
 * k / (cols * rows) + 1, row by row. Every sheet is cols*tile_w x
 * rows*tile_h, the last one too (its unused tiles are black), so a player
 * never meets sheets of two sizes. A tile shows the first picture presented
 * at or after the start of its interval; a picture that arrives after the
 * start of several intervals without one (sparse keyframes) fills them
 * all, and intervals after the last picture repeat it.
 *
 * The poster: from 10% of the duration on, pictures are examined at most
 * every 500 ms; the first whose luma is not nearly uniform (variance of
 * a subsampled tile-size picture at least 64, i.e. a standard deviation of
 * 8 levels out of 255) is the poster. When none is, it is the most varied
 * picture seen (pictures taken as tiles before the 10% mark included).
 * The poster is never wider than the display width (no upscaling).
 *
 * Pictures larger than 16384 on a side are refused. Not thread-safe: one
 * thread uses a thumbs_t at a time.
 */
#ifndef SV_THUMBS_H
#define SV_THUMBS_H

#include <stddef.h>
#include <stdint.h>

struct AVFrame;

typedef struct {
    int interval_ms;  /* one tile per interval (default 2000..10000 by duration); >= 100 */
    int tile_width;   /* default 160; 16..1024 */
    int cols, rows;   /* default 5 x 5; each 1..64 */
    int poster_width; /* default 1280; 16..16384 */
    int jpeg_quality; /* 2..31, libavcodec's mjpeg qscale; default 5 */
} thumbs_options_t;

typedef struct thumbs thumbs_t;

/* Defaults for an asset of duration_ms (interval: about 100 tiles, in whole
 * seconds from 2 to 10 s). */
void thumbs_options_default(thumbs_options_t *o, int64_t duration_ms);

/*
 * Starts a set for pictures of width x height with sample aspect ratio
 * sar_num:sar_den (0:0 = square) and duration_ms in all. SV_OK with *out,
 * SV_IO (out_dir unwritable: a temporary file is created in it here),
 * SV_BAD_DATA (options out of range, no size or duration, an aspect that
 * gives sheets over 16384 pixels), SV_TOO_BIG (a picture over 16384 on a
 * side, more than 100000 intervals), SV_UNSUPPORTED (no mjpeg encoder),
 * SV_NO_MEMORY; err says which. On failure nothing is left in out_dir.
 */
int thumbs_open(const char *out_dir, const thumbs_options_t *o, int width, int height,
                int sar_num, int sar_den, int64_t duration_ms, thumbs_t **out, char *err,
                size_t errlen);
/* Offers a decoded picture (any pixel format libswscale reads; its size may
 * differ from thumbs_open's, it is scaled to the same tiles) presented at
 * pts_ms from the start. Cheap for frames it does not keep (three
 * comparisons). The frame is only read during the call. SV_OK,
 * SV_NO_MEMORY, SV_IO, SV_BAD_DATA (a picture over 16384 on a side or in a
 * format libswscale does not read); after a failure every later call
 * returns the same status and thumbs_error() says what happened. */
int thumbs_push(thumbs_t *t, const struct AVFrame *frame, int64_t pts_ms);
/* What the last failure of thumbs_push was; "" when none. Lives as long as t. */
const char *thumbs_error(const thumbs_t *t);
/* Writes what is left (the last sheet, thumbs.vtt, the poster if none was
 * chosen yet: the best picture seen), renames every file into place
 * (thumbs.vtt last) and frees t, whatever the result. SV_OK; SV_BAD_DATA
 * when no picture was pushed; SV_IO; or the failure of an earlier
 * thumbs_push. On failure the temporary files are removed. */
int thumbs_finish(thumbs_t *t, char *err, size_t errlen);
/* Frees t without finishing; temporary files are removed. t may be NULL. */
void thumbs_abort(thumbs_t *t);

/*
 * The whole job from a file: decodes keyframes of stream video_stream (< 0:
 * the file's main video stream) near every interval, seeking when the next
 * interval is more than two intervals ahead. duration_ms <= 0 takes the
 * file's duration; o NULL takes thumbs_options_default(). Times are counted
 * from the stream's start time. SV_OK, SV_BAD_DATA (not media, no such video
 * stream, no decodable picture), SV_NOT_FOUND, SV_TOO_BIG (over 16384 on a
 * side), SV_UNSUPPORTED (no decoder), SV_NO_MEMORY, SV_IO; err says which.
 */
int thumbs_make_from_file(const char *source, int video_stream, int64_t duration_ms,
                          const char *out_dir, const thumbs_options_t *o, char *err,
                          size_t errlen);

#endif
