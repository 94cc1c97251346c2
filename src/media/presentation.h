/*
 * presentation.h: what one packaged asset offers a player, as the HLS and
 * DASH writers need it.
 *
 * A packaged asset is a directory (data_dir/media/vod/<id>/):
 *   asset.json            the description below, written by the packager
 *   <rendition>/track.mp4 the CMAF track file (video and audio renditions)
 *   <rendition>/track.idx its fragment index (cmaf.h)
 *   <rendition>/subtitles.vtt   (subtitle renditions: one WebVTT file)
 *
 * asset.json:
 *   { "version": 1, "asset_id": 12, "created_ms": 1764000000000,
 *     "segment_duration_ms": 4000,
 *     "renditions": [
 *       { "name": "720p", "kind": "video", "codecs": "avc1.64001F",
 *         "width": 1280, "height": 720, "sar": "1:1", "frame_rate": "30000/1001",
 *         "video_range": "SDR", "bitrate": 3000000 },
 *       { "name": "audio-eng", "kind": "audio", "codecs": "mp4a.40.2",
 *         "language": "eng", "label": "English", "channels": 2,
 *         "sample_rate": 48000, "default": true, "bitrate": 128000 },
 *       { "name": "sub-fra", "kind": "subtitle", "language": "fra",
 *         "label": "Français", "default": false } ] }
 * "bitrate" is the planned average, used for BANDWIDTH only until the track
 * has fragments to measure. Rendition names are [a-z0-9_-]{1,31}: they are
 * URL path components.
 *
 * Every field is checked (the file is ours, but it is data): "sar" (default
 * "1:1") is "N:D", "frame_rate" is "N/D" or "N", "video_range" (default
 * "SDR") is SDR, PQ or HLG, "codecs" is 1 to 63 of [A-Za-z0-9._-],
 * "language" (default "und") is 1 to 15 of [A-Za-z0-9-], "label" (default:
 * the rendition name) is 1 to 63 bytes without control characters (C0, DEL
 * or C1, which playlists may not carry); sizes, rates and bitrates are
 * positive integers with ceilings; unknown keys are ignored.
 */
#ifndef SV_PRESENTATION_H
#define SV_PRESENTATION_H

#include <stdbool.h>
#include <stdint.h>

#include "media/cmaf.h"

#define PRES_NAME_MAX 32
#define PRES_MAX_RENDITIONS 32

typedef enum { PRES_VIDEO = 0, PRES_AUDIO, PRES_SUBTITLE } pres_kind_t;

typedef struct {
    pres_kind_t kind;
    char name[PRES_NAME_MAX];
    char codecs[64];
    char language[16]; /* as given; "und" when none */
    char label[64];    /* for people (HLS NAME, DASH Label) */
    bool is_default;
    /* video */
    int width, height;
    int sar_num, sar_den;
    int fps_num, fps_den;
    char video_range[8]; /* "SDR", "PQ", "HLG" */
    /* audio */
    int channels, sample_rate;
    uint64_t planned_bps;
    /* measured from the index (video, audio); planned_bps until it has entries */
    uint64_t avg_bps, peak_bps;
    cmaf_index_t index; /* loaded for video and audio; empty for subtitles */
} pres_rendition_t;

typedef struct {
    int64_t asset_id;
    int64_t created_ms; /* when packaging began: the dynamic MPD's availabilityStartTime */
    int64_t segment_duration_ms; /* the target */
    bool complete;               /* every track index is complete: VOD playlists, static MPD */
    /* The end of the longest track (its first start plus its duration, so
     * the duration itself when tracks start at 0), in ms rounded to nearest;
     * so far, while incomplete. */
    int64_t duration_ms;
    unsigned n;
    pres_rendition_t r[PRES_MAX_RENDITIONS];
} presentation_t;

/*
 * Loads dir/asset.json and the index of every video and audio rendition.
 * SV_OK; SV_NOT_FOUND when there is no asset.json, or when a listed video
 * or audio rendition has no track.idx yet (err names it); SV_BAD_DATA (err
 * says which field of which rendition) for a description or index that does
 * not parse or check, or one without any video or audio rendition; SV_IO;
 * SV_NO_MEMORY. *out is written only on success; presentation_free() then
 * releases the indexes. err is always filled on failure; a value that
 * fails a check is not quoted back (only jansson's syntax errors quote a
 * token).
 */
int presentation_load(const char *dir, presentation_t *out, char *err, size_t errlen);
void presentation_free(presentation_t *p);

/* The rendition named name, or NULL. */
const pres_rendition_t *presentation_find(const presentation_t *p, const char *name);

/* True when there is a video or audio rendition and every one has at least
 * min_fragments entries. */
bool presentation_playable(const presentation_t *p, size_t min_fragments);

#endif
