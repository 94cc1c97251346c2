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
 *
 * Sidecars are read by a parser of our own (not libavformat's) so that a
 * refusal names the line and what is wrong with it. What it accepts:
 *  - the format is told by the content: "WEBVTT" (alone, or followed by a
 *    space or tab) on the first line is WebVTT, anything else is SubRip;
 *  - an optional UTF-8 BOM; lines end in LF, CRLF or CR; a line of spaces
 *    and tabs counts as blank;
 *  - SubRip: an optional cue number line, then "H:MM:SS,mmm --> H:MM:SS,mmm"
 *    ('.' also accepted; anything after the end time, such as X1:.. Y2:..
 *    coordinates, is dropped); a cue number line directly followed by a
 *    timing line starts a new cue even without a blank line before it;
 *  - WebVTT: hours may be left out ("MM:SS.mmm"); cue identifiers are kept;
 *    cue settings are kept when they are name:value with a name WebVTT
 *    defines (vertical, line, position, size, align); NOTE, STYLE and
 *    REGION blocks are dropped, and so are region settings and identifiers
 *    that start with NOTE, STYLE, REGION or WEBVTT, because libavformat's
 *    webvtt demuxer (FFmpeg 5.1), which may read our output, stops at the
 *    first STYLE or REGION block (every later cue is lost) and skips a cue
 *    whose identifier starts with NOTE or WEBVTT;
 *  - in both, a text line that contains "-->" starts the next cue;
 *  - text: <i> <b> <u> are kept (lower case), <font ...> and unknown tags
 *    are stripped, WebVTT's own <c> <v> <lang> <ruby> <rt> and timestamp
 *    tags are kept in WebVTT input, SubRip's {\an8}-style override blocks
 *    are stripped; a '<' that opens no tag, a '>' and a '&' that starts no
 *    character reference are escaped (&lt; &gt; &amp;); other control
 *    characters than tab are dropped; lines are trimmed and empty ones
 *    dropped;
 *  - cues whose end equals their start are dropped; a cue that ends before
 *    it starts is refused; overlapping cues are kept as they are, sorted by
 *    start (equal starts keep the input order).
 * Converting the output again gives the same bytes (fuzz_subtitles checks).
 */
#ifndef SV_SUBTITLES_H
#define SV_SUBTITLES_H

#include <stddef.h>

#include "base/buf.h"

/* Ceilings on a sidecar file and on the cues of one track. */
#define SUBTITLES_MAX_BYTES (16u << 20)
#define SUBTITLES_MAX_CUES 100000u

/* A sidecar file to WebVTT at out_path. SV_OK, SV_BAD_DATA (err: which line,
 * what was wrong), SV_TOO_BIG (larger than SUBTITLES_MAX_BYTES, or more than
 * SUBTITLES_MAX_CUES cues), SV_NOT_FOUND, SV_NO_MEMORY, SV_IO. */
int subtitles_convert_file(const char *in_path, const char *out_path, char *err, size_t errlen);

/*
 * The parser behind subtitles_convert_file, on len bytes of data (no NUL
 * needed): appends the WebVTT text to out, which the caller has initialised
 * and frees (its max bounds the output: SV_TOO_BIG past it). SV_OK,
 * SV_BAD_DATA ("line 14: timing \"00:01:02,000 -> 00:01:03\" is malformed
 * (...)", "invalid UTF-8 at byte 812 (line 30)"), SV_TOO_BIG, SV_NO_MEMORY;
 * err is always set on failure. On failure out may hold a partial output.
 */
int subtitles_convert_buffer(const char *data, size_t len, buf_t *out, char *err,
                             size_t errlen);

/*
 * Stream stream_index of a media file to WebVTT at out_path. Each decoded
 * subtitle becomes one cue, at the packet's time relative to the start of
 * the file (its start time when that is positive), lasting the packet's
 * duration (the decoder's end time when the packet has none; 5 s, cut at
 * the next cue, when neither is known). Italic, bold and underline ASS
 * overrides become <i> <b> <u>; other override blocks are dropped. SV_OK,
 * SV_UNSUPPORTED (bitmap or unknown codec), SV_NOT_FOUND (no such file or
 * stream), SV_BAD_DATA (not a subtitle stream, not media, undecodable),
 * SV_TOO_BIG, SV_NO_MEMORY, SV_IO.
 */
int subtitles_extract_stream(const char *media_path, int stream_index, const char *out_path,
                             char *err, size_t errlen);

#endif
