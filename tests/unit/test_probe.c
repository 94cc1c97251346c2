/*
 * test_probe.c: probing real files made by ffmpeg at test time (never
 * committed): what is read from them, and the precise reasons bad files
 * are refused with (not media, empty, truncated, damaged moov, no audio or
 * video, too large, zero duration).
 */
#include "test.h"
#include "tmpdir.h"
#include "fixture.h"

#include "base/status.h"
#include "media/probe.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const probe_limits_t limits = {8192, 8192, 0, 20000};

static int
probe_name(const char *name, probe_t *p, char *err)
{
    return probe_file(path_of(name), &limits, p, err, 256);
}

TEST(av_clip_streams_and_facts)
{
    probe_t p;
    char err[256] = "";
    CHECK_INT(ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=2 "
                     "-f lavfi -i sine=frequency=440:sample_rate=48000:duration=2 "
                     "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -ac 2 "
                     "-metadata:s:a:0 language=eng av.mp4"),
              0);
    CHECK_INT(probe_name("av.mp4", &p, err), SV_OK);
    CHECK(strstr(p.container, "mp4") != NULL);
    CHECK(p.duration_ms >= 1900 && p.duration_ms <= 2100);
    CHECK_INT(p.nstreams, 2);
    const probe_stream_t *v = &p.streams[0], *a = &p.streams[1];
    CHECK_INT(v->kind, PROBE_VIDEO);
    CHECK_STR(v->codec, "h264");
    CHECK(v->decodable);
    CHECK_INT(v->width, 320);
    CHECK_INT(v->height, 240);
    CHECK_INT(v->fps_num / v->fps_den, 25);
    CHECK_STR(v->pix_fmt, "yuv420p");
    CHECK_STR(v->field_order, "progressive");
    CHECK(!v->hdr10);
    CHECK_INT(a->kind, PROBE_AUDIO);
    CHECK_STR(a->codec, "aac");
    CHECK_STR(a->profile, "LC");
    CHECK_INT(a->channels, 2);
    CHECK_INT(a->sample_rate, 48000);
    CHECK_STR(a->language, "eng");
    CHECK_INT(probe_check(&p, &limits, err, sizeof(err)), SV_OK);

    json_t *j = probe_to_json(&p);
    CHECK(j != NULL);
    CHECK_INT(json_array_size(json_object_get(j, "streams")), 2);
    CHECK_STR(json_string_value(
                  json_object_get(json_array_get(json_object_get(j, "streams"), 0), "type")),
              "video");
    json_decref(j);
}

TEST(audio_only_and_video_only_are_valid)
{
    probe_t p;
    char err[256] = "";
    CHECK_INT(ffmpeg("-f lavfi -i sine=duration=1 -c:a aac audio.m4a"), 0);
    CHECK_INT(probe_name("audio.m4a", &p, err), SV_OK);
    CHECK_INT(probe_check(&p, &limits, err, sizeof(err)), SV_OK);
    CHECK_INT(
        ffmpeg("-f lavfi -i testsrc=duration=1:size=160x120 -c:v libx264 -preset ultrafast "
               "video.mp4"),
        0);
    CHECK_INT(probe_name("video.mp4", &p, err), SV_OK);
    CHECK_INT(probe_check(&p, &limits, err, sizeof(err)), SV_OK);
}

TEST(several_audio_languages_and_a_subtitle_stream)
{
    probe_t p;
    char err[256] = "";
    FILE *f = fopen(path_of("subs.srt"), "w");
    fputs("1\n00:00:00,000 --> 00:00:01,000\nHello\n", f);
    fclose(f);
    CHECK_INT(ffmpeg("-f lavfi -i testsrc=duration=1:size=160x120 -f lavfi -i sine=duration=1 "
                     "-f lavfi -i sine=frequency=880:duration=1 -i subs.srt "
                     "-map 0 -map 1 -map 2 -map 3 -c:v libx264 -preset ultrafast -c:a aac "
                     "-c:s mov_text -metadata:s:a:0 language=eng -metadata:s:a:1 language=fra "
                     "-metadata:s:s:0 language=deu multi.mp4"),
              0);
    CHECK_INT(probe_name("multi.mp4", &p, err), SV_OK);
    CHECK_INT(p.nstreams, 4);
    CHECK_STR(p.streams[1].language, "eng");
    CHECK_STR(p.streams[2].language, "fra");
    CHECK_INT(p.streams[3].kind, PROBE_SUBTITLE);
    CHECK_STR(p.streams[3].codec, "mov_text");
    CHECK_STR(p.streams[3].language, "deu");
}

TEST(hdr10_hevc_is_recognised)
{
    probe_t p;
    char err[256] = "";
    CHECK_INT(
        ffmpeg("-f lavfi -i testsrc2=duration=1:size=320x180 -c:v libx265 -preset ultrafast "
               "-x265-params log-level=error -pix_fmt yuv420p10le -color_primaries bt2020 "
               "-color_trc smpte2084 -colorspace bt2020nc -tag:v hvc1 hdr.mp4"),
        0);
    CHECK_INT(probe_name("hdr.mp4", &p, err), SV_OK);
    CHECK_STR(p.streams[0].codec, "hevc");
    CHECK_STR(p.streams[0].pix_fmt, "yuv420p10le");
    CHECK_STR(p.streams[0].color_transfer, "smpte2084");
    CHECK_STR(p.streams[0].color_primaries, "bt2020");
    CHECK(p.streams[0].hdr10);
}

TEST(text_file_named_mp4_is_not_media)
{
    probe_t p;
    char err[256] = "";
    FILE *f = fopen(path_of("text.mp4"), "w");
    fputs("this is not a video, just words in a file\n", f);
    fclose(f);
    CHECK_INT(probe_name("text.mp4", &p, err), SV_BAD_DATA);
    CHECK(strstr(err, "not a media file") != NULL);
    printf("# text.mp4: %s\n", err);
}

TEST(empty_file_says_so)
{
    probe_t p;
    char err[256] = "";
    close(open(path_of("empty.mp4"), O_CREAT | O_WRONLY | O_TRUNC, 0644));
    CHECK_INT(probe_name("empty.mp4", &p, err), SV_BAD_DATA);
    CHECK_STR(err, "the file is empty (0 bytes)");
    CHECK_INT(probe_name("missing.mp4", &p, err), SV_NOT_FOUND);
}

TEST(truncated_mp4_names_the_missing_moov)
{
    probe_t p;
    char err[256] = "", cmd[1024];
    /* moov at the end (no faststart), then keep only the first half. */
    CHECK_INT(
        ffmpeg("-f lavfi -i testsrc=duration=2:size=160x120 -c:v libx264 -preset ultrafast "
               "whole.mp4"),
        0);
    struct stat sb;
    stat(path_of("whole.mp4"), &sb);
    snprintf(cmd, sizeof(cmd), "head -c %lld '%s' > '%s'", (long long)sb.st_size / 2,
             path_of("whole.mp4"), path_of("trunc.mp4"));
    CHECK_INT(system(cmd), 0);
    CHECK_INT(probe_name("trunc.mp4", &p, err), SV_BAD_DATA);
    CHECK(strstr(err, "moov atom not found") != NULL);
    printf("# trunc.mp4: %s\n", err);
}

TEST(damaged_moov_is_refused_with_a_reason)
{
    probe_t p;
    char err[256] = "";
    CHECK_INT(
        ffmpeg("-f lavfi -i testsrc=duration=2:size=160x120 -c:v libx264 -preset ultrafast "
               "-movflags +faststart damaged.mp4"),
        0);
    /* Overwrite the inside of moov (it starts near the front with faststart). */
    int fd = open(path_of("damaged.mp4"), O_RDWR);
    char junk[400];
    memset(junk, 0xff, sizeof(junk));
    CHECK_INT(pwrite(fd, junk, sizeof(junk), 40), (int)sizeof(junk));
    close(fd);
    int rc = probe_name("damaged.mp4", &p, err);
    if (rc == SV_OK)
        rc = probe_check(&p, &limits, err, sizeof(err));
    CHECK(rc != SV_OK);
    CHECK(err[0] != '\0');
    printf("# damaged.mp4: %s\n", err);
}

TEST(rules_name_the_stream_the_check_and_the_value)
{
    probe_t p;
    char err[256] = "";
    probe_limits_t small = {100, 100, 0, 20000};
    CHECK_INT(probe_name("av.mp4", &p, err), SV_OK);
    CHECK_INT(probe_check(&p, &small, err, sizeof(err)), SV_TOO_BIG);
    CHECK_STR(err, "stream #0 (video, h264): 320x240 is larger than 100x100");
    probe_limits_t shortest = {8192, 8192, 1000, 20000};
    CHECK_INT(probe_check(&p, &shortest, err, sizeof(err)), SV_TOO_BIG);
    CHECK(strstr(err, "longer than the 1 s limit") != NULL);

    probe_t none = p;
    none.nstreams = 0;
    CHECK_INT(probe_check(&none, &limits, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "no audio or video stream (the file has 0 streams)");
    probe_t zero = p;
    zero.duration_ms = 0;
    CHECK_INT(probe_check(&zero, &limits, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "duration is 0: nothing to play");
    probe_t nodec = p;
    nodec.streams[1].decodable = false;
    CHECK_INT(probe_check(&nodec, &limits, err, sizeof(err)), SV_UNSUPPORTED);
    CHECK_STR(err, "stream #1 (audio, aac): no decoder for this codec");
}

TEST(subtitles_only_have_no_audio_or_video)
{
    probe_t p;
    char err[256] = "";
    CHECK_INT(probe_name("subs.srt", &p, err), SV_OK);
    CHECK_INT(probe_check(&p, &limits, err, sizeof(err)), SV_BAD_DATA);
    CHECK_STR(err, "no audio or video stream (the file has 1 stream)");
}

int
main(void)
{
    dir = tmpdir_make("probe");
    if (dir == NULL)
        return 1;
    RUN(av_clip_streams_and_facts);
    RUN(audio_only_and_video_only_are_valid);
    RUN(several_audio_languages_and_a_subtitle_stream);
    RUN(hdr10_hevc_is_recognised);
    RUN(text_file_named_mp4_is_not_media);
    RUN(empty_file_says_so);
    RUN(truncated_mp4_names_the_missing_moov);
    RUN(damaged_moov_is_refused_with_a_reason);
    RUN(rules_name_the_stream_the_check_and_the_value);
    RUN(subtitles_only_have_no_audio_or_video);
    tmpdir_remove();
    return test_done();
}
