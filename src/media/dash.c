/*
 * dash.c: the DASH MPD (ISO/IEC 23009-1, DASH-IF IOP, CMAF profile)
 * computed from a presentation.
 *
 * Segment addressing is the same as HLS: <rendition>/init.mp4 and
 * <rendition>/<n>.m4s numbered from 1, so both manifests name the same
 * cached objects. Times in a SegmentTimeline are the track's own timescale
 * units (the fragments' tfdt); no presentationTimeOffset is written, so the
 * media timeline is the period timeline, as the HLS playlists assume.
 */
#include "media/dash.h"
#include "base/clock.h"
#include "base/status.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define DASH_TRY(expr)                                                                         \
    do {                                                                                       \
        if ((rc = (expr)) != SV_OK)                                                            \
            goto done;                                                                         \
    } while (0)

/* A text Representation must have @bandwidth; one WebVTT file has no
 * measured rate here, and a nominal 1 kbit/s never sways adaptation. */
#define DASH_TEXT_BANDWIDTH 1000

/* Escapes data for an XML attribute value or element text. Control
 * characters were refused when the presentation was loaded. */
static int
dash_append_xml(buf_t *b, const char *s)
{
    int rc = SV_OK;
    for (; rc == SV_OK && *s; s++) {
        switch (*s) {
        case '&':
            rc = buf_append_cstr(b, "&amp;");
            break;
        case '<':
            rc = buf_append_cstr(b, "&lt;");
            break;
        case '>':
            rc = buf_append_cstr(b, "&gt;");
            break;
        case '"':
            rc = buf_append_cstr(b, "&quot;");
            break;
        case '\'':
            rc = buf_append_cstr(b, "&apos;");
            break;
        default:
            rc = buf_append_char(b, *s);
            break;
        }
    }
    return rc;
}

/* xs:duration with milliseconds: "PT18.300S". */
static int
dash_append_duration(buf_t *b, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    return buf_appendf(b, "PT%" PRId64 ".%03" PRId64 "S", ms / 1000, ms % 1000);
}

/* A frame rate as DASH writes it: "25" or "30000/1001". */
static int
dash_append_rate(buf_t *b, int num, int den)
{
    return den == 1 ? buf_appendf(b, "%d", num) : buf_appendf(b, "%d/%d", num, den);
}

static uint64_t
dash_gcd(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The longest fragment of any track in ms, rounded up (0 when none). */
static int64_t
dash_max_segment_ms(const presentation_t *p)
{
    int64_t top = 0;
    for (unsigned i = 0; i < p->n; i++) {
        const cmaf_index_t *ix = &p->r[i].index;
        if (p->r[i].kind == PRES_SUBTITLE)
            continue;
        for (size_t k = 0; k < ix->nentries; k++) {
            int64_t ms =
                ((int64_t)ix->entries[k].duration * 1000 + ix->timescale - 1) / ix->timescale;
            if (ms > top)
                top = ms;
        }
    }
    return top;
}

/* <S t d r>: the first with @t, then runs of equal @d folded into @r; a
 * start that does not follow its predecessor (never, from a checked index)
 * gets its own @t. */
static int
dash_write_timeline(buf_t *out, const cmaf_index_t *ix)
{
    int rc = SV_OK;
    size_t i = 0;

    DASH_TRY(buf_append_cstr(out, "          <SegmentTimeline>\n"));
    while (i < ix->nentries) {
        const cmaf_index_entry_t *e = &ix->entries[i];
        size_t run = 1;
        while (i + run < ix->nentries && ix->entries[i + run].duration == e->duration &&
               ix->entries[i + run].start ==
                   ix->entries[i + run - 1].start + ix->entries[i + run - 1].duration)
            run++;
        DASH_TRY(buf_append_cstr(out, "            <S"));
        if (i == 0 || e->start != ix->entries[i - 1].start + ix->entries[i - 1].duration)
            DASH_TRY(buf_appendf(out, " t=\"%" PRId64 "\"", e->start));
        DASH_TRY(buf_appendf(out, " d=\"%" PRIu32 "\"", e->duration));
        if (run > 1)
            DASH_TRY(buf_appendf(out, " r=\"%zu\"", run - 1));
        DASH_TRY(buf_append_cstr(out, "/>\n"));
        i += run;
    }
    DASH_TRY(buf_append_cstr(out, "          </SegmentTimeline>\n"));
done:
    return rc;
}

static int
dash_write_template(buf_t *out, const pres_rendition_t *r)
{
    int rc = SV_OK;
    DASH_TRY(buf_appendf(out,
                         "        <SegmentTemplate timescale=\"%" PRIu32
                         "\" initialization=\"%s/init.mp4\" media=\"%s/$Number$.m4s\""
                         " startNumber=\"1\">\n",
                         r->index.timescale, r->name, r->name));
    DASH_TRY(dash_write_timeline(out, &r->index));
    DASH_TRY(buf_append_cstr(out, "        </SegmentTemplate>\n"));
done:
    return rc;
}

/* Renditions of one kind, by measured peak, highest first (stable). A
 * track with no fragment yet is left out: a SegmentTimeline needs an S. */
static unsigned
dash_select(const presentation_t *p, pres_kind_t kind, const pres_rendition_t **out)
{
    unsigned n = 0;
    for (unsigned i = 0; i < p->n; i++) {
        if (p->r[i].kind != kind || (kind != PRES_SUBTITLE && p->r[i].index.nentries == 0))
            continue;
        unsigned k = n++;
        while (k > 0 && out[k - 1]->peak_bps < p->r[i].peak_bps) {
            out[k] = out[k - 1];
            k--;
        }
        out[k] = &p->r[i];
    }
    return n;
}

/*
 * @par, the picture aspect ratio of the set, from its largest picture, when
 * every Representation shows the same shape within 1% (ladder rungs are
 * rounded to even sizes: 854x480 is 427:240, not 16:9); otherwise omitted.
 */
static bool
dash_par(const pres_rendition_t **v, unsigned n, uint64_t *pw, uint64_t *ph)
{
    const pres_rendition_t *top = v[0];
    for (unsigned i = 1; i < n; i++)
        if ((uint64_t)v[i]->width * (uint64_t)v[i]->height >
            (uint64_t)top->width * (uint64_t)top->height)
            top = v[i];
    uint64_t w = (uint64_t)top->width * (uint64_t)top->sar_num;
    uint64_t h = (uint64_t)top->height * (uint64_t)top->sar_den;
    for (unsigned i = 0; i < n; i++) {
        uint64_t wi = (uint64_t)v[i]->width * (uint64_t)v[i]->sar_num;
        uint64_t hi = (uint64_t)v[i]->height * (uint64_t)v[i]->sar_den;
        uint64_t a = wi * h, b = w * hi; /* compare wi/hi with w/h */
        if ((a > b ? a - b : b - a) * 100 > b)
            return false;
    }
    uint64_t g = dash_gcd(w, h);
    *pw = w / g;
    *ph = h / g;
    return true;
}

/* Same codec family (the sample entry, "avc1", "hvc1", "av01") and range. */
static bool
dash_same_video_set(const pres_rendition_t *a, const pres_rendition_t *b)
{
    return strncmp(a->codecs, b->codecs, 4) == 0 && strcmp(a->video_range, b->video_range) == 0;
}

static int
dash_write_video(buf_t *out, const pres_rendition_t **v, unsigned n, unsigned set_id)
{
    int max_w = 0, max_h = 0, fps_num = v[0]->fps_num, fps_den = v[0]->fps_den;
    uint64_t pw, ph;
    int rc = SV_OK;

    for (unsigned i = 0; i < n; i++) {
        if (v[i]->width > max_w)
            max_w = v[i]->width;
        if (v[i]->height > max_h)
            max_h = v[i]->height;
        if ((uint64_t)v[i]->fps_num * (uint64_t)fps_den >
            (uint64_t)fps_num * (uint64_t)v[i]->fps_den) {
            fps_num = v[i]->fps_num;
            fps_den = v[i]->fps_den;
        }
    }
    DASH_TRY(
        buf_appendf(out,
                    "    <AdaptationSet id=\"%u\" contentType=\"video\" mimeType=\"video/mp4\""
                    " segmentAlignment=\"true\" startWithSAP=\"1\" maxWidth=\"%d\""
                    " maxHeight=\"%d\" maxFrameRate=\"",
                    set_id, max_w, max_h));
    DASH_TRY(dash_append_rate(out, fps_num, fps_den));
    DASH_TRY(buf_append_char(out, '"'));
    if (dash_par(v, n, &pw, &ph))
        DASH_TRY(buf_appendf(out, " par=\"%" PRIu64 ":%" PRIu64 "\"", pw, ph));
    DASH_TRY(buf_append_cstr(out, ">\n"));
    if (strcmp(v[0]->video_range, "PQ") == 0 || strcmp(v[0]->video_range, "HLG") == 0) {
        /* HDR (DASH-IF IOP, ISO/IEC 23001-8 code points): BT.2020 primaries
         * and matrix, PQ (16) or HLG (18) transfer. The transfer is essential:
         * a player that cannot show it must not pick this set. */
        DASH_TRY(buf_appendf(
            out,
            "      <EssentialProperty "
            "schemeIdUri=\"urn:mpeg:mpegB:cicp:TransferCharacteristics\""
            " value=\"%d\"/>\n"
            "      <SupplementalProperty schemeIdUri=\"urn:mpeg:mpegB:cicp:ColourPrimaries\""
            " value=\"9\"/>\n"
            "      <SupplementalProperty schemeIdUri=\"urn:mpeg:mpegB:cicp:MatrixCoefficients\""
            " value=\"9\"/>\n",
            strcmp(v[0]->video_range, "PQ") == 0 ? 16 : 18));
    }
    for (unsigned i = 0; i < n; i++) {
        const pres_rendition_t *r = v[i];
        DASH_TRY(buf_appendf(out,
                             "      <Representation id=\"%s\" bandwidth=\"%" PRIu64
                             "\" codecs=\"%s\" width=\"%d\" height=\"%d\" frameRate=\"",
                             r->name, r->peak_bps, r->codecs, r->width, r->height));
        DASH_TRY(dash_append_rate(out, r->fps_num, r->fps_den));
        DASH_TRY(buf_appendf(out, "\" sar=\"%d:%d\">\n", r->sar_num, r->sar_den));
        DASH_TRY(dash_write_template(out, r));
        DASH_TRY(buf_append_cstr(out, "      </Representation>\n"));
    }
    DASH_TRY(buf_append_cstr(out, "    </AdaptationSet>\n"));
done:
    return rc;
}

/* The opening of an audio or text set: attributes, Label, Role. In the
 * schema, Label (common to sets and Representations) precedes Role. */
static int
dash_write_set_head(buf_t *out, unsigned set_id, bool audio, const pres_rendition_t *first,
                    const char *role)
{
    int rc = SV_OK;
    DASH_TRY(buf_appendf(
        out, "    <AdaptationSet id=\"%u\" contentType=\"%s\" mimeType=\"%s\" lang=\"", set_id,
        audio ? "audio" : "text", audio ? "audio/mp4" : "text/vtt"));
    DASH_TRY(dash_append_xml(out, first->language));
    DASH_TRY(buf_append_char(out, '"'));
    if (audio)
        DASH_TRY(buf_append_cstr(out, " segmentAlignment=\"true\" startWithSAP=\"1\""));
    DASH_TRY(buf_append_cstr(out, ">\n      <Label>"));
    DASH_TRY(dash_append_xml(out, first->label));
    DASH_TRY(buf_append_cstr(out, "</Label>\n"));
    if (role != NULL)
        DASH_TRY(buf_appendf(
            out, "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"%s\"/>\n", role));
done:
    return rc;
}

/* One set per language, in order of first appearance; the set holding the
 * default audio (the first marked, else the first) has Role "main". */
static int
dash_write_languages(buf_t *out, const pres_rendition_t **list, unsigned n, bool audio,
                     unsigned *set_id)
{
    const pres_rendition_t *def = NULL;
    bool done_lang[PRES_MAX_RENDITIONS] = {false};
    int rc = SV_OK;

    for (unsigned i = 0; i < n && def == NULL; i++)
        if (list[i]->is_default)
            def = list[i];
    if (def == NULL && audio && n > 0)
        def = list[0];
    for (unsigned i = 0; i < n; i++) {
        if (done_lang[i])
            continue;
        bool main = def != NULL && strcmp(def->language, list[i]->language) == 0;
        DASH_TRY(dash_write_set_head(out, (*set_id)++, audio, list[i],
                                     audio ? (main ? "main" : NULL) : "subtitle"));
        for (unsigned k = i; k < n; k++) {
            const pres_rendition_t *r = list[k];
            if (strcmp(r->language, list[i]->language) != 0)
                continue;
            done_lang[k] = true;
            if (!audio) {
                DASH_TRY(buf_appendf(out,
                                     "      <Representation id=\"%s\" bandwidth=\"%d\">\n"
                                     "        <BaseURL>%s/subtitles.vtt</BaseURL>\n"
                                     "      </Representation>\n",
                                     r->name, DASH_TEXT_BANDWIDTH, r->name));
                continue;
            }
            DASH_TRY(buf_appendf(out,
                                 "      <Representation id=\"%s\" bandwidth=\"%" PRIu64
                                 "\" codecs=\"%s\" audioSamplingRate=\"%d\">\n"
                                 "        <AudioChannelConfiguration schemeIdUri="
                                 "\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\""
                                 " value=\"%d\"/>\n",
                                 r->name, r->peak_bps, r->codecs, r->sample_rate, r->channels));
            DASH_TRY(dash_write_template(out, r));
            DASH_TRY(buf_append_cstr(out, "      </Representation>\n"));
        }
        DASH_TRY(buf_append_cstr(out, "    </AdaptationSet>\n"));
    }
done:
    return rc;
}

static int
dash_write_body(const presentation_t *p, int64_t now_ms, buf_t *out)
{
    const pres_rendition_t *video[PRES_MAX_RENDITIONS], *audio[PRES_MAX_RENDITIONS],
        *subs[PRES_MAX_RENDITIONS];
    unsigned nv = dash_select(p, PRES_VIDEO, video);
    unsigned na = dash_select(p, PRES_AUDIO, audio);
    unsigned ns = dash_select(p, PRES_SUBTITLE, subs);
    int64_t seg_ms = dash_max_segment_ms(p);
    unsigned set_id = 0;
    char when[CLOCK_ISO_LEN + 1];
    int rc = SV_OK;

    if (nv == 0 && na == 0)
        return SV_NOT_FOUND;
    if (seg_ms == 0)
        seg_ms = p->segment_duration_ms;
    DASH_TRY(buf_append_cstr(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                  "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\""
                                  " profiles=\"urn:mpeg:dash:profile:isoff-live:2011,"
                                  "urn:mpeg:dash:profile:cmaf:2019\""));
    if (p->complete) {
        DASH_TRY(buf_append_cstr(out, " type=\"static\" mediaPresentationDuration=\""));
        DASH_TRY(dash_append_duration(out, p->duration_ms));
    } else {
        /*
         * A presentation being made is a live one that began at created_ms.
         * No timeShiftBufferDepth: absent means infinite (ISO/IEC 23009-1
         * 5.3.1.2), and every segment made so far stays available, as the
         * asset will keep them all. A player joins near the live edge;
         * seeking back to 0 is allowed.
         */
        DASH_TRY(buf_append_cstr(out, " type=\"dynamic\" availabilityStartTime=\""));
        clock_iso8601(p->created_ms, when);
        DASH_TRY(buf_append_cstr(out, when));
        DASH_TRY(buf_append_cstr(out, "\" publishTime=\""));
        clock_iso8601(now_ms, when);
        DASH_TRY(buf_append_cstr(out, when));
        DASH_TRY(buf_append_cstr(out, "\" minimumUpdatePeriod=\""));
        DASH_TRY(dash_append_duration(out, p->segment_duration_ms));
        DASH_TRY(buf_append_cstr(out, "\" suggestedPresentationDelay=\""));
        DASH_TRY(dash_append_duration(out, 3 * p->segment_duration_ms));
    }
    DASH_TRY(buf_append_cstr(out, "\" maxSegmentDuration=\""));
    DASH_TRY(dash_append_duration(out, seg_ms));
    DASH_TRY(buf_append_cstr(out, "\" minBufferTime=\""));
    DASH_TRY(dash_append_duration(out, 2 * p->segment_duration_ms));
    DASH_TRY(buf_append_cstr(out, "\">\n  <Period id=\"0\" start=\"PT0S\">\n"));

    /* One video set per codec family and range: a player switches only
     * within a set, and cannot switch from HEVC PQ to H.264 SDR seamlessly. */
    for (unsigned i = 0; i < nv; i++) {
        const pres_rendition_t *set[PRES_MAX_RENDITIONS] = {NULL};
        unsigned n = 0;
        bool first = true;
        for (unsigned k = 0; k < i && first; k++)
            first = !dash_same_video_set(video[k], video[i]);
        if (!first)
            continue;
        for (unsigned k = i; k < nv; k++)
            if (dash_same_video_set(video[k], video[i]))
                set[n++] = video[k];
        DASH_TRY(dash_write_video(out, set, n, set_id++));
    }
    DASH_TRY(dash_write_languages(out, audio, na, true, &set_id));
    DASH_TRY(dash_write_languages(out, subs, ns, false, &set_id));
    DASH_TRY(buf_append_cstr(out, "  </Period>\n"));
    if (!p->complete) {
        /* Players must agree with us on the clock to find the live edge. The
         * time is in the MPD itself (made on request), so no player goes to
         * a third-party time server, which dash.js does by default. */
        clock_iso8601(now_ms, when);
        DASH_TRY(buf_appendf(out,
                             "  <UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:direct:2014\""
                             " value=\"%s\"/>\n",
                             when));
    }
    DASH_TRY(buf_append_cstr(out, "</MPD>\n"));
done:
    return rc;
}

int
dash_write_mpd(const presentation_t *p, int64_t now_ms, buf_t *out)
{
    size_t mark = out->len;
    int rc = dash_write_body(p, now_ms, out);
    if (rc != SV_OK) {
        out->len = mark;
        if (out->data != NULL)
            out->data[mark] = '\0';
    }
    return rc;
}
