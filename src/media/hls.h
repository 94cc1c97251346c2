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
 * (out's ceiling), or SV_NOT_FOUND (no such rendition / nothing to list).
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
 * rendition. Audio-only presentations get one EXT-X-STREAM-INF per audio
 * rendition instead.
 */
int hls_write_master(const presentation_t *p, buf_t *out);

/* The media playlist of one video or audio rendition, or of a subtitle rendition. */
int hls_write_media_playlist(const presentation_t *p, const pres_rendition_t *r, buf_t *out);

/* The I-frame playlist of a video rendition: one entry per fragment, with
 * EXT-X-BYTERANGE:<iframe size>@0 of that fragment's segment URI. */
int hls_write_iframe_playlist(const presentation_t *p, const pres_rendition_t *r, buf_t *out);

#endif
