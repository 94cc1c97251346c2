/*
 * transcode.h: a source file into CMAF renditions, cut at the same instants.
 *
 * transcode_run() reads the source once. Video is decoded once, brought to
 * a constant frame rate (the ladder's, duplicating or dropping frames as the
 * source's timestamps say), deinterlaced when the source is interlaced, and
 * handed by reference to one thread per rung, which scales it (libswscale)
 * and encodes it; all rungs force an IDR at the first frame of every
 * segment, so every rendition's fragments begin at the same presentation
 * times. Audio streams are decoded, resampled to 48 kHz stereo, aligned to
 * the asset's timeline (silence before a late start, trimmed before an
 * early one) and encoded to AAC-LC on the reading thread; their fragments
 * are cut at the first AAC frame at or after each segment boundary.
 *
 * With remux set, nothing is decoded: the source's H.264/HEVC and AAC
 * packets are copied into the tracks and cut at the first keyframe at or
 * after each boundary (transcode_can_remux() says whether a source allows
 * it).
 *
 * Each rendition goes to out_dir/<name>/track.mp4 with its index
 * out_dir/<name>/track.idx (cmaf.h). Fragments appear as they are made, so
 * a reader can serve the first segments while later ones are encoding.
 */
#ifndef SV_TRANSCODE_H
#define SV_TRANSCODE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/ladder.h"

struct thumbs;

#define TRANSCODE_MAX_AUDIO 8

typedef struct {
    int source_stream; /* index of the audio stream in the source */
    char name[32];     /* rendition name, e.g. "audio-eng" */
    char language[8];  /* ISO 639-2 ("und") */
    int64_t bitrate;   /* bits/s (AAC-LC stereo; 128000 by default) */
} transcode_audio_t;

/* What a rendition is, known once its encoder is open: for the manifests. */
typedef struct {
    char name[32];
    bool video;
    char codecs[64]; /* RFC 6381 */
    int width, height, fps_num, fps_den;
    char video_range[8]; /* "SDR", "PQ", "HLG" */
    int channels, sample_rate;
    char language[8];
    int64_t bitrate; /* planned average, bits/s */
} transcode_track_info_t;

typedef struct {
    const char *source;
    const char *out_dir;
    int video_stream;       /* -1: no video */
    const ladder_t *ladder; /* the video rungs (ignored without video) */
    /* H.264 rungs added, tone-mapped to SDR, when the source is HDR (PQ or
     * HLG) and the ladder is HEVC or AV1: the fallback for players without
     * HDR. Their names must differ from the ladder's. NULL: none. */
    const ladder_t *sdr_ladder;
    unsigned naudio;
    transcode_audio_t audio[TRANSCODE_MAX_AUDIO];
    int64_t segment_ms;        /* target segment duration */
    const char *preset;        /* encoder speed preset, e.g. "veryfast" (x264/x265) */
    bool remux;                /* copy the source's packets (see above) */
    int64_t max_decode_errors; /* more damaged packets/frames than this fail the job */
    int threads;               /* encoder threads per rung; 0 = the encoder decides */
    struct thumbs *thumbs;     /* offered every decoded picture when set */
    /* Called once every track is open and before the first fragment is
     * written (to publish the description). Non-SV_OK stops the run. */
    int (*on_tracks)(void *arg, const transcode_track_info_t *tracks, unsigned n);
    /* Called about twice a second: media time done, total, and the speed
     * (media seconds per wall second). */
    void (*on_progress)(void *arg, int64_t done_ms, int64_t total_ms, double speed);
    void *arg;
    const atomic_bool *cancel; /* set from another thread to stop (SV_UNAVAILABLE) */
} transcode_job_t;

typedef struct {
    int64_t duration_ms;           /* of the longest track */
    int64_t decode_errors;         /* damaged packets or frames tolerated */
    int64_t frames_in, frames_out; /* decoded source pictures, pictures per rung */
    double speed;                  /* media seconds per wall second over the run */
} transcode_result_t;

/*
 * Runs the job to the end. SV_OK with *res; otherwise err names what failed
 * (which stream, which step, what libav said): SV_BAD_DATA (undecodable
 * source, too many decode errors), SV_UNSUPPORTED (no encoder for the
 * codec), SV_IO, SV_NO_MEMORY, SV_UNAVAILABLE (cancelled). On failure the
 * files written so far are left for the caller to remove.
 */
int transcode_run(const transcode_job_t *job, transcode_result_t *res, char *err,
                  size_t errlen);

/*
 * Whether the source can be packaged without re-encoding: its video (if
 * any) is H.264 or HEVC with a configuration record, its audio is AAC, and
 * no gap between keyframes exceeds twice the segment duration. SV_OK, or
 * SV_UNSUPPORTED with the reason in err.
 */
int transcode_can_remux(const char *source, int video_stream, int64_t segment_ms, char *err,
                        size_t errlen);

/* The track timescale for a frame rate: 90000 when frames land on whole
 * ticks of it, else the rate's numerator (24000 for 24000/1001). */
uint32_t transcode_video_timescale(int fps_num, int fps_den);

#endif
