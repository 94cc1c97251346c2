/*
 * dash.h: the DASH MPD (ISO/IEC 23009-1) written from a presentation.
 *
 * Profiles urn:mpeg:dash:profile:isoff-live:2011 and
 * urn:mpeg:dash:profile:cmaf:2019. One Period; one AdaptationSet per media
 * type and language (video; audio per language; text per language), with
 * segmentAlignment="true" and startWithSAP="1" for video and audio; per
 * Representation a SegmentTemplate (timescale of the track,
 * initialization="<rendition>/init.mp4", media="<rendition>/$Number$.m4s",
 * startNumber 1) with a SegmentTimeline from the index (S@t, @d, @r for
 * runs of equal durations). Exact @codecs, @bandwidth (the measured peak),
 * @width, @height, @frameRate, @sar, @audioSamplingRate and
 * AudioChannelConfiguration. Subtitles are a text/vtt Representation with a
 * BaseURL of <rendition>/subtitles.vtt.
 *
 * A complete presentation gives type="static" with
 * mediaPresentationDuration; an incomplete one type="dynamic" with
 * availabilityStartTime (created_ms), publishTime (now_ms),
 * minimumUpdatePeriod (the segment duration) and the fragments so far, so a
 * player can start while the asset is being made.
 *
 * Details: maxSegmentDuration is the longest fragment; minBufferTime is
 * twice and suggestedPresentationDelay three times the segment duration.
 * The dynamic MPD has no timeShiftBufferDepth (absent means infinite: every
 * segment made so far stays available) and a UTCTiming
 * urn:mpeg:dash:utc:direct:2014 holding now_ms, so players need no outside
 * time server. A video or audio rendition without fragments yet is left
 * out (a SegmentTimeline needs one S). The default audio's set (the first
 * marked default, else the first) has Role "main"; text sets have Role
 * "subtitle" and a nominal bandwidth. Labels and languages are
 * XML-escaped. SV_OK, SV_NO_MEMORY / SV_TOO_BIG (out unchanged), or
 * SV_NOT_FOUND when there is no video or audio to list.
 */
#ifndef SV_DASH_H
#define SV_DASH_H

#include <stdint.h>

#include "base/buf.h"
#include "media/presentation.h"

int dash_write_mpd(const presentation_t *p, int64_t now_ms, buf_t *out);

#endif
