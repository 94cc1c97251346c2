/*
 * hls.c: HLS master, media and I-frame playlists (RFC 8216 / 8216bis,
 * version 7) computed from a presentation.
 *
 * Durations are printed from timescale units with integer arithmetic, so a
 * playlist never shows float drift (192512 / 48000 is "4.010667", always).
 * Every writer restores out to its length on entry when it fails, so a
 * caller never sees half a playlist.
 */
#include "media/hls.h"
#include "base/status.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define HLS_TRY(expr)                                                                          \
    do {                                                                                       \
        if ((rc = (expr)) != SV_OK)                                                            \
            goto done;                                                                         \
    } while (0)

static void
hls_truncate(buf_t *b, size_t len)
{
    b->len = len;
    if (b->data != NULL)
        b->data[len] = '\0';
}

/* units / timescale seconds with 6 decimals, rounded to the nearest microsecond. */
static int
hls_append_seconds(buf_t *b, uint64_t units, uint32_t timescale)
{
    uint64_t whole = units / timescale, rem = units % timescale;
    uint64_t us = (rem * 2000000 + timescale) / (2 * (uint64_t)timescale);
    if (us == 1000000) {
        whole++;
        us = 0;
    }
    return buf_appendf(b, "%" PRIu64 ".%06" PRIu64, whole, us);
}

/* units / timescale rounded to the nearest integer (halves up), at least 1. */
static uint64_t
hls_round_seconds(uint64_t units, uint32_t timescale)
{
    uint64_t s = (units * 2 + timescale) / (2 * (uint64_t)timescale);
    return s < 1 ? 1 : s;
}

/*
 * A quoted-string may not hold '"', CR or LF (RFC 8216 4.2). Labels are
 * checked for control characters when loaded; a '"' in one (a title such as
 * Director's "cut") is written as '\'' rather than refusing the asset.
 */
static int
hls_append_quoted(buf_t *b, const char *s)
{
    int rc = buf_append_char(b, '"');
    for (; rc == SV_OK && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        rc = buf_append_char(b, ch == '"' ? '\'' : ch < 0x20 ? ' ' : (char)ch);
    }
    return rc == SV_OK ? buf_append_char(b, '"') : rc;
}

/* True when every fragment of every video track starts with a sync sample. */
static bool
hls_video_independent(const pres_rendition_t *r)
{
    for (size_t i = 0; i < r->index.nentries; i++)
        if (!(r->index.entries[i].flags & CMAF_FRAG_INDEPENDENT))
            return false;
    return true;
}

/*
 * The I-frames of a video track: fragments that start with a sync sample and
 * say how many bytes that sample ends at. An I-frame's duration (its EXTINF
 * in an I-frame playlist) runs to the next I-frame, or to the end of the
 * track for the last one (RFC 8216 4.3.3.6).
 */
static bool
hls_is_iframe(const cmaf_index_entry_t *e)
{
    return (e->flags & CMAF_FRAG_INDEPENDENT) && e->iframe_size > 0 &&
           e->iframe_size <= e->size;
}

static uint64_t
hls_iframe_span(const cmaf_index_t *ix, size_t i)
{
    const cmaf_index_entry_t *last = &ix->entries[ix->nentries - 1];
    for (size_t k = i + 1; k < ix->nentries; k++)
        if (hls_is_iframe(&ix->entries[k]))
            return (uint64_t)(ix->entries[k].start - ix->entries[i].start);
    return (uint64_t)(last->start + last->duration - ix->entries[i].start);
}

/* bits/s of n bytes over units / timescale seconds, rounded up. */
static uint64_t
hls_bps(uint64_t bytes, uint64_t units, uint32_t timescale)
{
    if (units == 0)
        return 0;
    return (bytes * 8 * timescale + units - 1) / units;
}

/* I-frame bandwidth: peak over I-frames of their bytes over their span; average
 * of all I-frame bytes over the spans. false when there is no I-frame yet. */
static bool
hls_iframe_bandwidth(const pres_rendition_t *r, uint64_t *avg, uint64_t *peak)
{
    const cmaf_index_t *ix = &r->index;
    uint64_t bytes = 0, units = 0, top = 0;
    bool any = false;

    for (size_t i = 0; i < ix->nentries; i++) {
        if (!hls_is_iframe(&ix->entries[i]))
            continue;
        uint64_t span = hls_iframe_span(ix, i);
        uint64_t bps = hls_bps(ix->entries[i].iframe_size, span, ix->timescale);
        if (bps > top)
            top = bps;
        bytes += ix->entries[i].iframe_size;
        units += span;
        any = true;
    }
    *avg = hls_bps(bytes, units, ix->timescale);
    *peak = top;
    return any;
}

/* Frame rate with 3 decimals, rounded: 30000/1001 is "29.970". */
static int
hls_append_frame_rate(buf_t *b, int num, int den)
{
    uint64_t milli = ((uint64_t)num * 2000 + (uint64_t)den) / (2 * (uint64_t)den);
    return buf_appendf(b, "%" PRIu64 ".%03" PRIu64, milli / 1000, milli % 1000);
}

/* Renditions of one kind, in asset.json order or by peak bandwidth (highest first, stable). */
static unsigned
hls_select(const presentation_t *p, pres_kind_t kind, bool by_peak,
           const pres_rendition_t **out)
{
    unsigned n = 0;
    for (unsigned i = 0; i < p->n; i++) {
        if (p->r[i].kind != kind)
            continue;
        unsigned k = n++;
        while (by_peak && k > 0 && out[k - 1]->peak_bps < p->r[i].peak_bps) {
            out[k] = out[k - 1];
            k--;
        }
        out[k] = &p->r[i];
    }
    return n;
}

/* The rendition that plays when a viewer has chosen nothing: the first
 * marked default, else (for audio, which must have one) the first. */
static const pres_rendition_t *
hls_default_of(const pres_rendition_t **list, unsigned n, bool fallback_first)
{
    for (unsigned i = 0; i < n; i++)
        if (list[i]->is_default)
            return list[i];
    return fallback_first && n > 0 ? list[0] : NULL;
}

/* NAME must be unique within its group (RFC 8216 4.3.4.1.1): a label seen
 * earlier in the group gets the rendition name added. */
static int
hls_append_media_name(buf_t *b, const pres_rendition_t **list, unsigned i)
{
    char name[PRES_NAME_MAX + sizeof(list[i]->label) + 4];
    for (unsigned k = 0; k < i; k++) {
        if (strcmp(list[k]->label, list[i]->label) == 0) {
            snprintf(name, sizeof(name), "%s (%s)", list[i]->label, list[i]->name);
            return hls_append_quoted(b, name);
        }
    }
    return hls_append_quoted(b, list[i]->label);
}

static int
hls_write_media_tags(buf_t *out, const pres_rendition_t **list, unsigned n, bool audio)
{
    const pres_rendition_t *def = hls_default_of(list, n, audio);
    int rc = SV_OK;

    for (unsigned i = 0; i < n; i++) {
        const pres_rendition_t *r = list[i];
        HLS_TRY(buf_appendf(out, "#EXT-X-MEDIA:TYPE=%s,GROUP-ID=\"%s\",LANGUAGE=",
                            audio ? "AUDIO" : "SUBTITLES", audio ? "audio" : "subs"));
        HLS_TRY(hls_append_quoted(out, r->language));
        HLS_TRY(buf_append_cstr(out, ",NAME="));
        HLS_TRY(hls_append_media_name(out, list, i));
        HLS_TRY(buf_appendf(out, ",DEFAULT=%s,AUTOSELECT=YES", r == def ? "YES" : "NO"));
        if (audio)
            HLS_TRY(buf_appendf(out, ",CHANNELS=\"%d\"", r->channels));
        HLS_TRY(buf_appendf(out, ",URI=\"%s/index.m3u8\"\n", r->name));
    }
done:
    return rc;
}

static int
hls_write_master_body(const presentation_t *p, buf_t *out)
{
    const pres_rendition_t *video[PRES_MAX_RENDITIONS], *audio[PRES_MAX_RENDITIONS],
        *subs[PRES_MAX_RENDITIONS];
    unsigned nv = hls_select(p, PRES_VIDEO, true, video);
    unsigned na = hls_select(p, PRES_AUDIO, nv == 0, audio);
    unsigned ns = hls_select(p, PRES_SUBTITLE, false, subs);
    uint64_t audio_peak = 0, audio_avg = 0;
    char audio_codecs[PRES_MAX_RENDITIONS * sizeof(audio[0]->codecs)] = "";
    size_t acl = 0;
    bool independent = true;
    int rc = SV_OK;

    if (nv == 0 && na == 0)
        return SV_NOT_FOUND;
    for (unsigned i = 0; i < na; i++) {
        if (audio[i]->peak_bps > audio_peak)
            audio_peak = audio[i]->peak_bps;
        if (audio[i]->avg_bps > audio_avg)
            audio_avg = audio[i]->avg_bps;
        /* the group's distinct codecs, in order: "mp4a.40.2,ec-3" */
        bool seen = false;
        for (unsigned k = 0; k < i && !seen; k++)
            seen = strcmp(audio[k]->codecs, audio[i]->codecs) == 0;
        /* codecs < 64 bytes each: 32 of them and their commas always fit */
        if (!seen)
            acl += (size_t)snprintf(audio_codecs + acl, sizeof(audio_codecs) - acl, "%s%s",
                                    acl ? "," : "", audio[i]->codecs);
    }
    for (unsigned i = 0; i < nv; i++)
        independent = independent && hls_video_independent(video[i]);

    HLS_TRY(buf_append_cstr(out, "#EXTM3U\n#EXT-X-VERSION:7\n"));
    if (independent)
        HLS_TRY(buf_append_cstr(out, "#EXT-X-INDEPENDENT-SEGMENTS\n"));
    if (nv > 0)
        HLS_TRY(hls_write_media_tags(out, audio, na, true));
    HLS_TRY(hls_write_media_tags(out, subs, ns, false));

    if (nv == 0) {
        /* Audio only: each audio rendition is a variant of its own. */
        for (unsigned i = 0; i < na; i++) {
            HLS_TRY(buf_appendf(out,
                                "#EXT-X-STREAM-INF:BANDWIDTH=%" PRIu64
                                ",AVERAGE-BANDWIDTH=%" PRIu64 ",CODECS=\"%s\"",
                                audio[i]->peak_bps, audio[i]->avg_bps, audio[i]->codecs));
            if (ns > 0)
                HLS_TRY(buf_append_cstr(out, ",SUBTITLES=\"subs\""));
            HLS_TRY(buf_appendf(out, "\n%s/index.m3u8\n", audio[i]->name));
        }
        goto done;
    }

    for (unsigned i = 0; i < nv; i++) {
        const pres_rendition_t *v = video[i];
        HLS_TRY(buf_appendf(out,
                            "#EXT-X-STREAM-INF:BANDWIDTH=%" PRIu64 ",AVERAGE-BANDWIDTH=%" PRIu64
                            ",CODECS=\"%s%s%s\",RESOLUTION=%dx%d,FRAME-RATE=",
                            v->peak_bps + audio_peak, v->avg_bps + audio_avg, v->codecs,
                            acl ? "," : "", audio_codecs, v->width, v->height));
        HLS_TRY(hls_append_frame_rate(out, v->fps_num, v->fps_den));
        HLS_TRY(buf_appendf(out, ",VIDEO-RANGE=%s", v->video_range));
        if (na > 0)
            HLS_TRY(buf_append_cstr(out, ",AUDIO=\"audio\""));
        if (ns > 0)
            HLS_TRY(buf_append_cstr(out, ",SUBTITLES=\"subs\""));
        HLS_TRY(buf_appendf(out, ",CLOSED-CAPTIONS=NONE\n%s/index.m3u8\n", v->name));
    }
    for (unsigned i = 0; i < nv; i++) {
        const pres_rendition_t *v = video[i];
        uint64_t avg, peak;
        if (!hls_iframe_bandwidth(v, &avg, &peak))
            continue; /* nothing to list yet; it appears with the first I-frame */
        HLS_TRY(buf_appendf(
            out,
            "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=%" PRIu64 ",AVERAGE-BANDWIDTH=%" PRIu64
            ",CODECS=\"%s\",RESOLUTION=%dx%d,VIDEO-RANGE=%s,"
            "URI=\"%s/iframes.m3u8\"\n",
            peak, avg, v->codecs, v->width, v->height, v->video_range, v->name));
    }
done:
    return rc;
}

int
hls_write_master(const presentation_t *p, buf_t *out)
{
    size_t mark = out->len;
    int rc = hls_write_master_body(p, out);
    if (rc != SV_OK)
        hls_truncate(out, mark);
    return rc;
}

/*
 * EXT-X-TARGETDURATION: every EXTINF rounded to the nearest integer must be
 * at most the target (RFC 8216 4.3.3.1), so the target is the longest
 * duration rounded to nearest (4.5 s gives 5, 4.4 s gives 4), at least 1.
 * While the asset is being made the target is also at least the planned
 * segment duration, so the first playlists of an EVENT already carry the
 * value later ones will (RFC 8216 6.2.1 says it must not change); a
 * fragment longer than planned still raises it.
 */
static uint64_t
hls_target(const presentation_t *p, uint64_t longest, uint32_t timescale)
{
    uint64_t t = longest > 0 ? hls_round_seconds(longest, timescale) : 1;
    if (!p->complete) {
        uint64_t planned = ((uint64_t)p->segment_duration_ms + 500) / 1000;
        if (planned > t)
            t = planned;
    }
    return t;
}

static int
hls_write_header(const presentation_t *p, buf_t *out, uint64_t target, bool iframes,
                 bool independent)
{
    int rc = SV_OK;
    /* EXT-X-MEDIA-SEQUENCE is 1 so that a segment's sequence number is the
     * number in its URI (1.m4s) and in the DASH $Number$ (startNumber 1). */
    HLS_TRY(buf_appendf(out,
                        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:%" PRIu64
                        "\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:%s\n",
                        target, p->complete ? "VOD" : "EVENT"));
    if (iframes)
        HLS_TRY(buf_append_cstr(out, "#EXT-X-I-FRAMES-ONLY\n"));
    else if (independent)
        HLS_TRY(buf_append_cstr(out, "#EXT-X-INDEPENDENT-SEGMENTS\n"));
done:
    return rc;
}

/* One WebVTT file spanning the presentation. While the asset is being made
 * its duration grows with each reload. */
static int
hls_write_subtitle_playlist(const presentation_t *p, const pres_rendition_t *r, buf_t *out)
{
    uint64_t ms = p->duration_ms > 0 ? (uint64_t)p->duration_ms : 0;
    uint64_t target = (ms + 999) / 1000; /* rounded up: at least its EXTINF rounded */
    int rc = SV_OK;

    HLS_TRY(hls_write_header(p, out, target < 1 ? 1 : target, false, false));
    if (ms > 0)
        HLS_TRY(buf_appendf(out, "#EXTINF:%" PRIu64 ".%03" PRIu64 "000,\nsubtitles.vtt\n",
                            ms / 1000, ms % 1000));
    if (p->complete)
        HLS_TRY(buf_append_cstr(out, "#EXT-X-ENDLIST\n"));
done:
    return rc;
}

static int
hls_write_media_body(const presentation_t *p, const pres_rendition_t *r, buf_t *out)
{
    const cmaf_index_t *ix = &r->index;
    uint64_t longest = 0;
    int rc = SV_OK;

    if (r->kind == PRES_SUBTITLE)
        return hls_write_subtitle_playlist(p, r, out);
    for (size_t i = 0; i < ix->nentries; i++)
        if (ix->entries[i].duration > longest)
            longest = ix->entries[i].duration;
    /* Audio fragments are all sync samples whatever their flags say. */
    HLS_TRY(hls_write_header(p, out, hls_target(p, longest, ix->timescale), false,
                             r->kind == PRES_AUDIO || hls_video_independent(r)));
    HLS_TRY(buf_append_cstr(out, "#EXT-X-MAP:URI=\"init.mp4\"\n"));
    for (size_t i = 0; i < ix->nentries; i++) {
        HLS_TRY(buf_append_cstr(out, "#EXTINF:"));
        HLS_TRY(hls_append_seconds(out, ix->entries[i].duration, ix->timescale));
        HLS_TRY(buf_appendf(out, ",\n%zu.m4s\n", i + 1));
    }
    if (p->complete)
        HLS_TRY(buf_append_cstr(out, "#EXT-X-ENDLIST\n"));
done:
    return rc;
}

int
hls_write_media_playlist(const presentation_t *p, const pres_rendition_t *r, buf_t *out)
{
    size_t mark = out->len;
    int rc = hls_write_media_body(p, r, out);
    if (rc != SV_OK)
        hls_truncate(out, mark);
    return rc;
}

static int
hls_write_iframe_body(const presentation_t *p, const pres_rendition_t *r, buf_t *out)
{
    const cmaf_index_t *ix = &r->index;
    uint64_t longest = 0;
    int rc = SV_OK;

    if (r->kind != PRES_VIDEO)
        return SV_NOT_FOUND;
    for (size_t i = 0; i < ix->nentries; i++) {
        if (hls_is_iframe(&ix->entries[i])) {
            uint64_t span = hls_iframe_span(ix, i);
            if (span > longest)
                longest = span;
        }
    }
    HLS_TRY(hls_write_header(p, out, hls_target(p, longest, ix->timescale), true, false));
    HLS_TRY(buf_append_cstr(out, "#EXT-X-MAP:URI=\"init.mp4\"\n"));
    for (size_t i = 0; i < ix->nentries; i++) {
        if (!hls_is_iframe(&ix->entries[i]))
            continue;
        HLS_TRY(buf_append_cstr(out, "#EXTINF:"));
        HLS_TRY(hls_append_seconds(out, hls_iframe_span(ix, i), ix->timescale));
        HLS_TRY(buf_appendf(out, ",\n#EXT-X-BYTERANGE:%" PRIu32 "@0\n%zu.m4s\n",
                            ix->entries[i].iframe_size, i + 1));
    }
    if (p->complete)
        HLS_TRY(buf_append_cstr(out, "#EXT-X-ENDLIST\n"));
done:
    return rc;
}

int
hls_write_iframe_playlist(const presentation_t *p, const pres_rendition_t *r, buf_t *out)
{
    size_t mark = out->len;
    int rc = hls_write_iframe_body(p, r, out);
    if (rc != SV_OK)
        hls_truncate(out, mark);
    return rc;
}
