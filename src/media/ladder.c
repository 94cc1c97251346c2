/*
 * ladder.c: ABR ladder parsing and planning (pure arithmetic, no libav).
 */
#include "media/ladder.h"
#include "base/status.h"
#include "base/str.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int
ladder_codec_parse(const char *name, ladder_codec_t *out)
{
    if (strcmp(name, "h264") == 0)
        *out = LADDER_H264;
    else if (strcmp(name, "hevc") == 0)
        *out = LADDER_HEVC;
    else if (strcmp(name, "av1") == 0)
        *out = LADDER_AV1;
    else
        return SV_BAD_DATA;
    return SV_OK;
}

const char *
ladder_codec_name(ladder_codec_t c)
{
    return c == LADDER_HEVC ? "hevc" : c == LADDER_AV1 ? "av1" : "h264";
}

int
ladder_parse(const char *text, ladder_spec_t *out, char *err, size_t errlen)
{
    str_t s = str_from_cstr(text);
    size_t i = 0;
    unsigned k = 0;

    memset(out, 0, sizeof(*out));
    while (i <= s.len) {
        size_t end = i;
        while (end < s.len && s.p[end] != ',')
            end++;
        str_t item = str_trim(str_make(s.p + i, end - i));
        ptrdiff_t colon = str_find_char(item, 0, ':');
        uint64_t side, kbps;
        if (k == LADDER_MAX_RUNGS) {
            snprintf(err, errlen, "more than %d rungs", LADDER_MAX_RUNGS);
            return SV_BAD_DATA;
        }
        if (colon < 0 ||
            str_to_u64(str_trim(str_make(item.p, (size_t)colon)), &side) != SV_OK ||
            str_to_u64(str_trim(str_make(item.p + colon + 1, item.len - (size_t)colon - 1)),
                       &kbps) != SV_OK) {
            snprintf(err, errlen, "rung %u (\"%.*s\"): expected SHORT_SIDE:KBPS, e.g. 720:3000",
                     k + 1, (int)(item.len > 40 ? 40 : item.len), item.p);
            return SV_BAD_DATA;
        }
        if (side < 64 || side > 4320 || side % 2) {
            snprintf(err, errlen,
                     "rung %u: short side %llu is not an even number from 64 to 4320", k + 1,
                     (unsigned long long)side);
            return SV_BAD_DATA;
        }
        if (kbps < 50 || kbps > 200000) {
            snprintf(err, errlen, "rung %u: %llu kbit/s is not from 50 to 200000", k + 1,
                     (unsigned long long)kbps);
            return SV_BAD_DATA;
        }
        if (k > 0 && (int)side >= out->rungs[k - 1].short_side) {
            snprintf(err, errlen, "rung %u: short sides must go down (%llu after %d)", k + 1,
                     (unsigned long long)side, out->rungs[k - 1].short_side);
            return SV_BAD_DATA;
        }
        out->rungs[k].short_side = (int)side;
        out->rungs[k].kbps = (int)kbps;
        k++;
        i = end + 1;
    }
    out->n = k;
    return SV_OK;
}

/* Rounds to the nearest even number, at least 2. */
static int
ladder_even(double v)
{
    int e = (int)(v / 2.0 + 0.5) * 2;
    return e < 2 ? 2 : e;
}

/* The smallest H.264 level (Table A-1) whose frame size, macroblock rate and
 * bitrate (High profile: 1.25x the baseline cap) hold this rung. */
static int
ladder_h264_level(int w, int h, double fps, int64_t maxrate)
{
    static const struct {
        int level;
        long max_fs, max_mbps, max_kbps;
    } levels[] = {
        {30, 1620, 40500, 10000},    {31, 3600, 108000, 14000},   {32, 5120, 216000, 20000},
        {40, 8192, 245760, 20000},   {41, 8192, 245760, 50000},   {42, 8704, 522240, 50000},
        {50, 22080, 589824, 135000}, {51, 36864, 983040, 240000}, {52, 36864, 2073600, 240000},
    };
    long mbs = (long)((w + 15) / 16) * ((h + 15) / 16);
    double mbps = mbs * fps;
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        if (mbs <= levels[i].max_fs && mbps <= levels[i].max_mbps &&
            maxrate <= (int64_t)levels[i].max_kbps * 1250)
            return levels[i].level;
    }
    return 52;
}

/*
 * The output frame rate for a source's average rate. Cameras and phones
 * report averages such as 8957/300; a rung runs at a constant rate that
 * tracks can carry exactly, so a rate within 0.5% of a broadcast rate
 * becomes it, any other is rounded to 1/1000 fps, and rates above 60 are
 * capped at 60. Unknown rates become 25.
 */
void
ladder_snap_fps(int *num, int *den)
{
    static const int common[][2] = {{24000, 1001}, {24, 1}, {25, 1}, {30000, 1001},
                                    {30, 1},       {48, 1}, {50, 1}, {60000, 1001},
                                    {60, 1},       {15, 1}, {20, 1}, {12, 1}};
    double fps;

    if (*num <= 0 || *den <= 0) {
        *num = 25;
        *den = 1;
        return;
    }
    fps = (double)*num / *den;
    if (fps > 60.0) {
        *num = 60;
        *den = 1;
        return;
    }
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
        double c = (double)common[i][0] / common[i][1];
        if (fps > c * 0.995 && fps < c * 1.005) {
            *num = common[i][0];
            *den = common[i][1];
            return;
        }
    }
    long milli = lround(fps * 1000.0);
    if (milli < 1000)
        milli = 1000; /* at least 1 fps */
    long a = milli, b = 1000;
    while (b) { /* reduce by the greatest common divisor */
        long t = a % b;
        a = b;
        b = t;
    }
    *num = (int)(milli / a);
    *den = (int)(1000 / a);
}

int
ladder_plan(const ladder_spec_t *spec, ladder_codec_t codec, int width, int height, int sar_num,
            int sar_den, int fps_num, int fps_den, ladder_t *out)
{
    double sar = (sar_num > 0 && sar_den > 0) ? (double)sar_num / sar_den : 1.0;
    double dw, dh, fps;
    static const double efficiency[] = {1.0, 0.6, 0.5};

    memset(out, 0, sizeof(*out));
    out->codec = codec;
    if (width <= 0 || height <= 0)
        return SV_BAD_DATA;
    /* Display size with square pixels. */
    dw = width * sar;
    dh = height;
    bool portrait = dh > dw;
    double short_side = portrait ? dw : dh, long_side = portrait ? dh : dw;
    double aspect = long_side / short_side;

    ladder_snap_fps(&fps_num, &fps_den);
    fps = (double)fps_num / fps_den;

    for (unsigned i = 0; i < spec->n && out->n < LADDER_MAX_RUNGS; i++) {
        const ladder_spec_rung_t *sr = &spec->rungs[i];
        if (sr->short_side > short_side + 1.0)
            continue; /* never upscale */
        int s = ladder_even(sr->short_side), l = ladder_even(sr->short_side * aspect);
        ladder_rung_t *r = &out->rungs[out->n++];
        r->width = portrait ? s : l;
        r->height = portrait ? l : s;
        snprintf(r->name, sizeof(r->name), "%dp", sr->short_side);
        /* bitrate for this many pixels, against a 16:9 picture of the same short side */
        double ref_pixels = sr->short_side * (sr->short_side * 16.0 / 9.0);
        double scale = (double)r->width * r->height / ref_pixels;
        if (fps > 30.5)
            scale *= 1.5; /* high frame rates need more, not twice as much */
        r->bitrate = (int64_t)(sr->kbps * 1000.0 * scale * efficiency[codec]);
        r->maxrate = r->bitrate * 3 / 2;
        r->bufsize = r->bitrate * 2;
        r->fps_num = fps_num;
        r->fps_den = fps_den;
        r->h264_level =
            codec == LADDER_H264 ? ladder_h264_level(r->width, r->height, fps, r->maxrate) : 0;
    }
    if (out->n == 0) {
        /* Smaller than every rung: one rung at the source's own (display) size,
         * with the lowest rung's bitrate scaled down by pixels. */
        const ladder_spec_rung_t *low = &spec->rungs[spec->n ? spec->n - 1 : 0];
        ladder_rung_t *r = &out->rungs[out->n++];
        r->width = ladder_even(dw);
        r->height = ladder_even(dh);
        snprintf(r->name, sizeof(r->name), "%dp", ladder_even(short_side));
        double ref_pixels = low->short_side * (low->short_side * 16.0 / 9.0);
        double scale = spec->n ? (double)r->width * r->height / ref_pixels : 1.0;
        int kbps = spec->n ? low->kbps : 400;
        r->bitrate = (int64_t)(kbps * 1000.0 * (scale < 1.0 ? scale : 1.0) * efficiency[codec]);
        if (r->bitrate < 50000)
            r->bitrate = 50000;
        r->maxrate = r->bitrate * 3 / 2;
        r->bufsize = r->bitrate * 2;
        r->fps_num = fps_num;
        r->fps_den = fps_den;
        r->h264_level =
            codec == LADDER_H264 ? ladder_h264_level(r->width, r->height, fps, r->maxrate) : 0;
    }
    return SV_OK;
}
