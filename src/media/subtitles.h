/*
 * subtitles.h: subtitles to WebVTT.
 *
 * Players get every subtitle as one WebVTT file per language, whatever the
 * source gave: a sidecar file (SubRip .srt or WebVTT .vtt, UTF-8 or UTF-8
 * with BOM; other encodings are refused with a reason), or a text subtitle
 * stream inside the media (subrip, mov_text, ass/ssa, webvtt). Styling
 * beyond what WebVTT carries (ASS positioning, fonts) is dropped; the text,
 * line breaks and timings are kept. Cues are written in time order with
 * well-formed "HH:MM:SS.mmm --> HH:MM:SS.mmm" timings; empty cues are
 * dropped. Bitmap subtitles (dvd_subtitle, hdmv_pgs) are SV_UNSUPPORTED.
 * The output is written to a temporary name and renamed when complete.
 */
#ifndef SV_SUBTITLES_H
#define SV_SUBTITLES_H

#include <stddef.h>

/* A sidecar file to WebVTT at out_path. SV_OK, SV_BAD_DATA (err: which line,
 * what was wrong), SV_NOT_FOUND, SV_IO. */
int subtitles_convert_file(const char *in_path, const char *out_path, char *err, size_t errlen);

/* Stream stream_index of a media file to WebVTT at out_path. SV_OK,
 * SV_UNSUPPORTED (bitmap or unknown codec), SV_BAD_DATA, SV_IO. */
int subtitles_extract_stream(const char *media_path, int stream_index, const char *out_path,
                             char *err, size_t errlen);

#endif
