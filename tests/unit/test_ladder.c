/*
 * test_ladder.c: ladder specifications and the rungs planned for sources of
 * every shape: landscape, cinema scope, anamorphic, portrait, tiny, odd
 * sizes, high frame rates, and the codec efficiencies.
 */
#include "test.h"

#include "base/status.h"
#include "media/ladder.h"

static const char *def = "1080:5000,720:3000,480:1400,360:800,240:400";

static ladder_t
plan(int w, int h, int sn, int sd, int fn, int fd, ladder_codec_t c)
{
    ladder_spec_t spec;
    char err[128];
    ladder_t l;
    ladder_parse(def, &spec, err, sizeof(err));
    CHECK_INT(ladder_plan(&spec, c, w, h, sn, sd, fn, fd, &l), SV_OK);
    return l;
}

TEST(parse_default_and_errors)
{
    ladder_spec_t s;
    char err[128];
    CHECK_INT(ladder_parse(def, &s, err, sizeof(err)), SV_OK);
    CHECK_INT(s.n, 5);
    CHECK_INT(s.rungs[1].short_side, 720);
    CHECK_INT(s.rungs[1].kbps, 3000);
    CHECK_INT(ladder_parse(" 720 : 3000 , 360:800 ", &s, err, sizeof(err)), SV_OK);
    CHECK_INT(s.n, 2);
    CHECK_INT(ladder_parse("720x3000", &s, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "rung 1 (\"720x3000\"): expected SHORT_SIDE:KBPS, e.g. 720:3000");
    CHECK_INT(ladder_parse("720:3000,1080:5000", &s, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "rung 2: short sides must go down (1080 after 720)");
    CHECK_INT(ladder_parse("721:3000", &s, err, sizeof(err)), SV_BAD_DATA);
    CHECK_INT(ladder_parse("720:10", &s, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "rung 1: 10 kbit/s is not from 50 to 200000");
    CHECK_INT(ladder_parse("", &s, err, sizeof(err)), SV_BAD_DATA);
    CHECK_INT(ladder_parse("720:3000,", &s, err, sizeof(err)), SV_BAD_DATA);
}

TEST(full_hd_source_gets_every_rung_at_16_9)
{
    ladder_t l = plan(1920, 1080, 1, 1, 25, 1, LADDER_H264);
    CHECK_INT(l.n, 5);
    CHECK_STR(l.rungs[0].name, "1080p");
    CHECK_INT(l.rungs[0].width, 1920);
    CHECK_INT(l.rungs[1].width, 1280);
    CHECK_INT(l.rungs[1].height, 720);
    CHECK_INT(l.rungs[2].width, 854);
    CHECK_INT(l.rungs[4].width, 426);
    CHECK_INT(l.rungs[4].height, 240);
    CHECK_INT(l.rungs[1].bitrate, 3000000);
    CHECK_INT(l.rungs[1].maxrate, 4500000);
    CHECK_INT(l.rungs[1].bufsize, 6000000);
    CHECK_INT(l.rungs[0].h264_level, 40);
    CHECK_INT(l.rungs[1].h264_level, 31);
}

TEST(never_upscales)
{
    ladder_t l = plan(1280, 720, 1, 1, 30, 1, LADDER_H264);
    CHECK_INT(l.n, 4);
    CHECK_STR(l.rungs[0].name, "720p");
    l = plan(640, 360, 1, 1, 25, 1, LADDER_H264);
    CHECK_INT(l.n, 2);
    CHECK_STR(l.rungs[0].name, "360p");
}

TEST(tiny_source_gets_one_rung_of_its_own_size)
{
    ladder_t l = plan(160, 120, 1, 1, 25, 1, LADDER_H264);
    CHECK_INT(l.n, 1);
    CHECK_INT(l.rungs[0].width, 160);
    CHECK_INT(l.rungs[0].height, 120);
    CHECK_STR(l.rungs[0].name, "120p");
    CHECK(l.rungs[0].bitrate > 0 && l.rungs[0].bitrate <= 400000);
}

TEST(cinema_scope_keeps_its_aspect_and_pays_for_fewer_pixels)
{
    ladder_t l = plan(1920, 800, 1, 1, 24, 1, LADDER_H264); /* 2.4:1 */
    CHECK_STR(l.rungs[0].name, "720p"); /* its short side is 800 */
    CHECK_INT(l.rungs[0].height, 720);
    CHECK_INT(l.rungs[0].width, 1728);
    CHECK(l.rungs[0].bitrate > 3000000); /* wider than 16:9 at 720: more pixels */
}

TEST(anamorphic_sar_is_resolved_to_square_pixels)
{
    /* DVD PAL 16:9: 720x576 with SAR 64:45 displays as 1024x576 */
    ladder_t l = plan(720, 576, 64, 45, 25, 1, LADDER_H264);
    CHECK_STR(l.rungs[0].name, "480p");
    CHECK_INT(l.rungs[0].height, 480);
    CHECK_INT(l.rungs[0].width, 854);
}

TEST(portrait_ladders_on_its_short_side)
{
    ladder_t l = plan(1080, 1920, 1, 1, 30, 1, LADDER_H264);
    CHECK_INT(l.n, 5);
    CHECK_STR(l.rungs[0].name, "1080p");
    CHECK_INT(l.rungs[0].width, 1080);
    CHECK_INT(l.rungs[0].height, 1920);
    CHECK_INT(l.rungs[1].width, 720);
    CHECK_INT(l.rungs[1].height, 1280);
}

TEST(dimensions_are_even)
{
    ladder_t l = plan(641, 361, 1, 1, 25, 1, LADDER_H264);
    for (unsigned i = 0; i < l.n; i++) {
        CHECK_INT(l.rungs[i].width % 2, 0);
        CHECK_INT(l.rungs[i].height % 2, 0);
    }
    l = plan(333, 177, 1, 1, 25, 1, LADDER_H264);
    CHECK_INT(l.rungs[0].width % 2, 0);
    CHECK_INT(l.rungs[0].height % 2, 0);
}

TEST(frame_rate_is_kept_capped_and_high_rates_cost_more)
{
    ladder_t l30 = plan(1920, 1080, 1, 1, 30000, 1001, LADDER_H264);
    CHECK_INT(l30.rungs[0].fps_num, 30000);
    CHECK_INT(l30.rungs[0].fps_den, 1001);
    ladder_t l60 = plan(1920, 1080, 1, 1, 60, 1, LADDER_H264);
    CHECK(l60.rungs[0].bitrate > l30.rungs[0].bitrate);
    CHECK_INT(l60.rungs[0].h264_level, 42);
    ladder_t l120 = plan(1920, 1080, 1, 1, 120, 1, LADDER_H264);
    CHECK_INT(l120.rungs[0].fps_num, 60);
}

TEST(frame_rates_snap_to_exact_constant_rates)
{
    int n, d;
    n = 8957, d = 300; /* a phone's 29.857 average */
    ladder_snap_fps(&n, &d);
    CHECK_INT(n, 30000);
    CHECK_INT(d, 1001);
    n = 2997, d = 125; /* 23.976 */
    ladder_snap_fps(&n, &d);
    CHECK_INT(n, 24000);
    CHECK_INT(d, 1001);
    n = 25, d = 1;
    ladder_snap_fps(&n, &d);
    CHECK_INT(n, 25);
    CHECK_INT(d, 1);
    n = 1753, d = 100; /* 17.53: no broadcast rate near, kept to 1/1000 */
    ladder_snap_fps(&n, &d);
    CHECK_INT(n, 1753);
    CHECK_INT(d, 100);
    n = 0, d = 0;
    ladder_snap_fps(&n, &d);
    CHECK_INT(n, 25);
    n = 1, d = 10; /* 0.1 fps: at least 1 */
    ladder_snap_fps(&n, &d);
    CHECK_INT(n, 1);
    CHECK_INT(d, 1);
    ladder_t l = plan(1280, 720, 1, 1, 8957, 300, LADDER_H264);
    CHECK_INT(l.rungs[0].fps_num, 30000);
}

TEST(hevc_and_av1_need_fewer_bits)
{
    ladder_t h = plan(1920, 1080, 1, 1, 25, 1, LADDER_H264);
    ladder_t e = plan(1920, 1080, 1, 1, 25, 1, LADDER_HEVC);
    ladder_t a = plan(1920, 1080, 1, 1, 25, 1, LADDER_AV1);
    CHECK_INT(e.rungs[0].bitrate, 3000000);
    CHECK_INT(a.rungs[0].bitrate, 2500000);
    CHECK(h.rungs[0].bitrate > e.rungs[0].bitrate);
    CHECK_INT(e.rungs[0].h264_level, 0);
    ladder_codec_t c;
    CHECK_INT(ladder_codec_parse("hevc", &c), SV_OK);
    CHECK_INT(c, LADDER_HEVC);
    CHECK_INT(ladder_codec_parse("vp9", &c), SV_BAD_DATA);
}

TEST(no_picture_is_refused)
{
    ladder_spec_t spec;
    char err[64];
    ladder_t l;
    ladder_parse(def, &spec, err, sizeof(err));
    CHECK_INT(ladder_plan(&spec, LADDER_H264, 0, 1080, 1, 1, 25, 1, &l), SV_BAD_DATA);
}

int
main(void)
{
    RUN(parse_default_and_errors);
    RUN(full_hd_source_gets_every_rung_at_16_9);
    RUN(never_upscales);
    RUN(tiny_source_gets_one_rung_of_its_own_size);
    RUN(cinema_scope_keeps_its_aspect_and_pays_for_fewer_pixels);
    RUN(anamorphic_sar_is_resolved_to_square_pixels);
    RUN(portrait_ladders_on_its_short_side);
    RUN(dimensions_are_even);
    RUN(frame_rate_is_kept_capped_and_high_rates_cost_more);
    RUN(frame_rates_snap_to_exact_constant_rates);
    RUN(hevc_and_av1_need_fewer_bits);
    RUN(no_picture_is_refused);
    return test_done();
}
