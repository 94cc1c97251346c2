/*
 * hls.h: HLS playlists (RFC 8216, version 7) written from a presentation.
 *
 * URIs are relative, so the same text works behind any CDN prefix:
 *   master:           <rendition>/index.m3u8, <rendition>/iframes.m3u8
 *   media playlist:   init.mp4 (EXT-X-MAP), 1.m4s, 2.m4s ... (numbered from 1)
 *   subtitles:        subtitles.vtt (one segment spanning the whole asset)
 * A presentation that is not complete yet gives EVENT playlists without
 * EXT-X-ENDLIST (playable while it is being made); a complete one gives VOD
 * playlists with EXT-X-ENDLIST.
 *
 * Each writer appends to out and returns SV_OK, SV_NO_MEMORY / SV_TOO_BIG
 * (out's ceiling), or SV_NOT_FOUND (no such rendition / nothing to list);
 * on failure out is left as it was.
 *
 * Media playlists: EXT-X-MEDIA-SEQUENCE is 1, so a segment's sequence
 * number is the number in its URI (and DASH's $Number$, startNumber 1).
 * EXT-X-TARGETDURATION is the longest EXTINF rounded to the nearest integer
 * (RFC 8216 4.3.3.1: 4.5 s gives 5, 4.4 s gives 4), at least 1; while the
 * asset is being made, at least the planned segment duration too. EXTINF
 * is printed from timescale units with integer arithmetic, 6 decimals
 * rounded to the microsecond. EXT-X-INDEPENDENT-SEGMENTS is written only
 * when every video fragment starts with a keyframe. Labels are quoted
 * strings: a '"' in one is written as '\''; a NAME repeated in a group gets
 * " (<rendition>)" added.
 */
#ifndef SV_HLS_H
#define SV_HLS_H

#include "base/buf.h"
#include "media/presentation.h"

/*
 * The master playlist: EXT-X-MEDIA for every audio rendition (GROUP-ID
 * "audio") and subtitle rendition (GROUP-ID "subs"), one EXT-X-STREAM-INF
 * per video rendition, highest first (BANDWIDTH = the video's measured peak
 * plus the largest audio peak; AVERAGE-BANDWIDTH likewise with averages;
 * CODECS, RESOLUTION, FRAME-RATE, VIDEO-RANGE, AUDIO, SUBTITLES,
 * CLOSED-CAPTIONS=NONE), and one EXT-X-I-FRAME-STREAM-INF per video
 * rendition that has an I-frame yet. Audio-only presentations get one
 * EXT-X-STREAM-INF per audio rendition instead (no audio group). In the
 * audio group exactly one rendition is DEFAULT=YES: the first marked
 * default, else the first; a subtitle is DEFAULT=YES only when marked.
 * SV_NOT_FOUND when there is no video or audio rendition.
 */
int hls_write_master(const presentation_t *p, buf_t *out);

/* The media playlist of one video or audio rendition, or of a subtitle
 * rendition (one segment, subtitles.vtt, as long as the presentation, its
 * target rounded up). A track without fragments yet gives a playlist
 * without segments (EVENT: the player reloads it). */
int hls_write_media_playlist(const presentation_t *p, const pres_rendition_t *r, buf_t *out);

/* The I-frame playlist of a video rendition: one entry per fragment that
 * starts with a keyframe, with EXT-X-BYTERANGE:<iframe size>@0 of that
 * fragment's segment URI and an EXTINF that runs to the next I-frame (or
 * the end). SV_NOT_FOUND for a rendition that is not video. */
int hls_write_iframe_playlist(const presentation_t *p, const pres_rendition_t *r, buf_t *out);

#endif
